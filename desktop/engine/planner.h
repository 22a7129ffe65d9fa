#pragma once

// The Reconciler's planner (reconciler.cpp, planner.cpp, plannermoves.cpp): not part of
// the engine's interface.
#include "reconciler.h"

#include <QHash>
#include <QSet>

namespace filesync::planning {

using protocol::EntryKind;
using protocol::FileEntry;

enum class Side { None, Unchanged, New, Modified, Deleted };

inline bool sameContent(const JournalEntry &j, const FileEntry &r)
{
    return j.kind == r.kind && (j.isDir() || j.blocks == r.blocks);
}

inline bool sameContent(const LocalEntry &l, const FileEntry &r)
{
    return l.kind == r.kind && (l.isDir() || l.blocks == r.blocks);
}

inline bool sameContent(const LocalEntry &l, const JournalEntry &j)
{
    return l.kind == j.kind && (l.isDir() || l.blocks == j.blocks);
}

// A file's permission bits are part of what is synced: a chmod here is a change to
// upload, one there a change to apply. A folder's mode is not synced.
template<typename A, typename B> bool sameMode(const A &a, const B &b)
{
    return a.kind == protocol::EntryKind::Directory || syncedMode(a.mode) == syncedMode(b.mode);
}

// The scan read an unchanged file again (the racy rule) and this time clearly after its
// last change: recorded, its stat is trusted from now on. Unrecorded, every partial
// cycle that lists its folder reads it again until the racy window is past (while a big
// tree is written, thousands of files hashed again by several cycles).
inline bool provenAnew(const LocalEntry &l, const JournalEntry &j)
{
    return l.readAfterCtime && !j.readAfterCtime && l.ctimeNs == j.ctimeNs && l.blocks == j.blocks;
}

// The keys at or under `root`: one run in path order.
template<typename Map> QList<RelativePath> keysAtOrUnder(const Map &map, const RelativePath &root)
{
    QList<RelativePath> keys;
    for (auto [it, end] = RelativePath::subtreeRun(map, root); it != end; ++it)
        keys << it.key();
    return keys;
}

// Rebases every key at or under `from` to `to`.
template<typename Map> void rebase(Map &map, const RelativePath &from, const RelativePath &to)
{
    const QList<RelativePath> keys = keysAtOrUnder(map, from);
    for (const RelativePath &k : keys)
        map.insert(k.rebased(from, to), map.take(k));
}

// One Reconciler::reconcile() call: run() collects the unreadable paths, detects the moves
// of both sides, then decides each path and orders the plan. Pure (no I/O); lives for one call.
class Planner
{
public:
    Planner(const LocalSnapshot &l, const JournalState &j, const RemoteChanges &r, const QString &session,
        const QDateTime &now, const Reconciler::Feed &feed)
        : m_local(l)
        , m_journal(j)
        , m_remote(r)
        , m_session(session)
        , m_now(now)
        , m_feed(feed)
    { }

    SyncPlan run();

private:
    static bool isUnder(const QList<RelativePath> &roots, const RelativePath &p);
    bool isUnreadable(const RelativePath &p) const { return isUnder(m_unreadable, p); }
    bool isSkipped(const RelativePath &p) const { return isUnder(m_unreadable, p) || isUnder(m_setAside, p); }

    void collectUnreadable();
    bool hasLocalWorkUnder(const RelativePath &p) const;
    bool remoteWorkUnder(const RelativePath &p) const;
    bool remoteTouches(const RelativePath &p) const;
    bool parentStillThere(const RelativePath &p) const;
    bool stillThere(const RelativePath &p, const JournalEntry &j) const;

    // Moves (plannermoves.cpp).
    void detectLocalMoves();
    void deferFolderMoves();
    void detectRemoteMoves();
    void undoMovesInto(const RelativePath &folder, const RelativePath &to);
    void mergeNewInto(const RelativePath &from, const FileEntry &r, const JournalEntry &j);
    void carryMovesAlong(const RelativePath &folder, const RelativePath &to);
    void markUnmoved();
    bool movedInFromOutside(const RelativePath &k, const RelativePath &folder) const;
    void dropMovesInsideDeferred();
    void dropMovesInto(const RelativePath &p);

    // Decisions and their order (planner.cpp).
    bool remoteTouchesAlive(const RelativePath &p) const;
    void add(ActionType type, const RelativePath &p, EntryKind kind);
    void addUpload(const RelativePath &p, quint64 base);
    void addRecord(const RelativePath &p, quint64 version);
    void addConflict(const RelativePath &p);
    void decide(const RelativePath &p);
    SyncPlan order();

    LocalSnapshot m_local;
    JournalState m_journal;
    RemoteChanges m_remote; // shared with the caller's unless markUnmoved() adds to it
    QString m_session;
    QDateTime m_now;
    const Reconciler::Feed &m_feed;
    // Sources and targets of folders moved here whose move waits for the server's answer.
    QList<RelativePath> m_deferred;
    QSet<RelativePath> m_deferredMoves; // their targets
    QList<RelativePath> m_unreadable; // left alone this cycle
    QList<RelativePath> m_setAside; // folders moved to a conflict copy, content and all
    // Moves from the server's entry where another computer's folder move took it: the
    // journal's path and version, and that entry, by the move's target.
    struct Taken
    {
        RelativePath path;
        quint64 version = 0;
        FileEntry there;
    };
    QHash<RelativePath, Taken> m_taken;
    QList<RelativePath> m_givenBack; // server entries such a move took and gave back
    QSet<RelativePath> m_missingFolders;
    QList<SyncAction> m_moves;
    QList<SyncAction> m_actions;
    bool m_followUp = false;
    bool m_holdCursor = false;
};

} // namespace filesync::planning
