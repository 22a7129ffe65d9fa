#include "reconciler.h"

#include <QHash>
#include <QSet>

#include <algorithm>
#include <vector>

namespace filesync {

using protocol::EntryKind;
using protocol::FileEntry;

namespace {

enum class Side { None, Unchanged, New, Modified, Deleted };

bool sameContent(const JournalEntry &j, const FileEntry &r)
{
    return j.kind == r.kind && (j.isDir() || j.blocks == r.blocks);
}

bool sameContent(const LocalEntry &l, const FileEntry &r)
{
    return l.kind == r.kind && (l.isDir() || l.blocks == r.blocks);
}

bool sameContent(const LocalEntry &l, const JournalEntry &j)
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
bool provenAnew(const LocalEntry &l, const JournalEntry &j)
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

    SyncPlan run()
    {
        collectUnreadable();
        detectLocalMoves();
        detectRemoteMoves();
        markUnmoved();
        dropMovesInsideDeferred();
        QSet<RelativePath> paths;
        for (auto it = m_local.cbegin(); it != m_local.cend(); ++it)
            paths.insert(it.key());
        for (auto it = m_journal.cbegin(); it != m_journal.cend(); ++it)
            paths.insert(it.key());
        for (auto it = m_remote.cbegin(); it != m_remote.cend(); ++it)
            paths.insert(it.key());
        QList<RelativePath> sorted(paths.cbegin(), paths.cend());
        paths = {}; // the set and the list are 5 MB at 100,000 paths: not both while deciding
        std::sort(sorted.begin(), sorted.end());
        m_actions.reserve(sorted.size()); // about one action per path: no growth slack
        for (const RelativePath &p : sorted) {
            if (isUnder(m_deferred, p)) {
                // Decided once the server has moved the folder: its changes are read again.
                if (m_remote.contains(p))
                    m_holdCursor = true;
            } else if (!isSkipped(p)) {
                decide(p);
            } else if (isUnreadable(p) && remoteTouches(p)) {
                m_holdCursor = true;
            }
        }
        // Each left the feed when a move took it, before the paths above were listed.
        for (const RelativePath &p : std::as_const(m_givenBack)) {
            if (!std::binary_search(sorted.cbegin(), sorted.cend(), p) && !isUnder(m_deferred, p) && !isSkipped(p))
                decide(p);
        }
        sorted = {};
        return order();
    }

private:
    static bool isUnder(const QList<RelativePath> &roots, const RelativePath &p)
    {
        for (const RelativePath &s : roots) {
            if (s == p || s.isAncestorOf(p))
                return true;
        }
        return false;
    }
    bool isUnreadable(const RelativePath &p) const { return isUnder(m_unreadable, p); }
    bool isSkipped(const RelativePath &p) const { return isUnder(m_unreadable, p) || isUnder(m_setAside, p); }

    void collectUnreadable()
    {
        for (auto it = m_local.cbegin(); it != m_local.cend(); ++it) {
            if (it->unreadable)
                m_unreadable << it.key();
        }
    }

    // Work here under `p` that a replacement of the folder `p` would destroy: anything
    // new or changed since the journal.
    bool hasLocalWorkUnder(const RelativePath &p) const
    {
        for (const SyncAction &m : m_moves) {
            if (m.type == ActionType::MoveRemote && p.isAncestorOf(m.path))
                return true; // moved in here (its journal entries already rebased)
        }
        for (const RelativePath &k : keysAtOrUnder(m_local, p)) {
            const LocalEntry &l = *m_local.constFind(k);
            const auto j = m_journal.constFind(k);
            // As decide() sees it: a chmod is a change too (uploaded, and refused for good
            // under a file the server put where the folder was).
            if (k != p && (j == m_journal.cend() || !((j->statMatches(l) || sameContent(l, *j)) && sameMode(l, *j))))
                return true;
        }
        return false;
    }

    // Something under the folder `p` is new or changed on the server since the journal.
    bool remoteWorkUnder(const RelativePath &p) const
    {
        for (auto [it, end] = RelativePath::subtreeRun(m_remote, p); it != end; ++it) {
            if (it.key() == p || it->deleted)
                continue;
            const auto j = m_journal.constFind(it.key());
            if (j == m_journal.cend() || j->version != it->version)
                return true;
        }
        return false;
    }

    bool remoteTouches(const RelativePath &p) const
    {
        auto r = m_remote.constFind(p);
        if (r == m_remote.cend())
            return false;
        auto j = m_journal.constFind(p);
        return j == m_journal.cend() || j->version != r->version;
    }

    // The folder that held p when last synced is still that folder (not one made since in
    // its place, after it was renamed away here).
    bool parentStillThere(const RelativePath &p) const
    {
        const auto j = m_journal.constFind(p.parent());
        return j != m_journal.cend() && stillThere(p.parent(), *j);
    }

    // The entry the journal knows at p is on the disk there still. A path that holds
    // another inode now had its entry renamed away and a new one made in its place.
    bool stillThere(const RelativePath &p, const JournalEntry &j) const
    {
        const auto l = m_local.constFind(p);
        return l != m_local.cend() && (l->unreadable || l->inode == j.inode);
    }

    // A path gone from the disk (or taken by a new entry) and a new one with the same inode (and, for a file, the
    // same size and mtime) is a move: one server op instead of a delete and an upload.
    void detectLocalMoves()
    {
        QHash<quint64, RelativePath> newByInode;
        for (auto it = m_local.cbegin(); it != m_local.cend(); ++it) {
            if (!m_journal.contains(it.key()) && !it->unreadable && !remoteTouches(it.key()))
                newByInode.insert(it->inode, it.key());
        }
        if (newByInode.isEmpty())
            return;
        // Where the server moved an entry along with its folder, by its old path.
        QHash<RelativePath, RelativePath> movedTo;
        for (const FileEntry &r : m_remote) {
            if (!r.deleted && r.movedFrom)
                movedTo.insert(*r.movedFrom, r.path);
        }
        const QList<RelativePath> known = m_journal.keys();
        for (const RelativePath &p : known) {
            if (!m_journal.contains(p) || isSkipped(p))
                continue;
            const JournalEntry j = m_journal.value(p);
            if (stillThere(p, j))
                continue;
            // A folder that is still a plain folder on the server moves whatever its new
            // version: the server moves what it holds under it now.
            const auto r = m_remote.constFind(p);
            const bool liveFolder
                = r != m_remote.cend() && !r->deleted && !r->movedFrom && j.isDir() && r->kind == EntryKind::Directory;
            // Moved there along with its folder (by another computer) as it was here, and
            // moved out of that folder here: ours moves it on from its new name there. (A
            // move there of the entry itself, or here of its folder, is another rename of
            // the same entry: the server's came first and wins, see detectRemoteMoves.)
            RelativePath source = p;
            const FileEntry *there = nullptr;
            if (r != m_remote.cend() && r->deleted && parentStillThere(p)) {
                const auto to = movedTo.constFind(p);
                const auto up = movedTo.constFind(p.parent());
                const auto t = to == movedTo.cend() || up == movedTo.cend() || *up != to->parent()
                    ? m_remote.cend()
                    : m_remote.constFind(*to);
                if (t != m_remote.cend() && t->kind == j.kind
                    && (j.isDir() || (t->blocks == j.blocks && sameMode(*t, j))) && !m_journal.contains(t->path)
                    && !m_local.contains(t->path)) {
                    source = t->path;
                    there = &*t;
                }
            }
            if (remoteTouches(p) && !liveFolder && !there)
                continue;
            const auto found = newByInode.constFind(j.inode);
            if (found == newByInode.cend())
                continue;
            const RelativePath q = *found;
            const LocalEntry l = m_local.value(q);
            // A chmod on the way is no plain move (the server's move keeps the mode): a
            // delete and an upload, as for a touched file.
            if (l.kind != j.kind || (!j.isDir() && (l.size != j.size || l.mtimeNs != j.mtimeNs)) || !sameMode(l, j))
                continue;
            if (p.isAncestorOf(q) || q.isAncestorOf(p) || !m_local.contains(q) || source.isAncestorOf(q))
                continue;
            SyncAction a;
            a.type = ActionType::MoveRemote;
            a.path = q;
            a.from = source;
            a.kind = j.kind;
            a.base = there ? there->version : liveFolder ? r->version : j.version;
            a.local = l;
            m_moves << a;
            newByInode.remove(j.inode);
            rebase(m_journal, p, q);
            // A feed read from before our cursor lists the source as we last synced it:
            // that is what moves, not something to download again. So is the entry the
            // server moved along with its folder.
            if (r != m_remote.cend() && !r->deleted && !j.isDir() && r->version == j.version)
                m_remote.remove(p);
            if (there) {
                // Known now as the server's entry there (not one its folder's move left
                // behind, see markUnmoved).
                m_taken.insert(q, Taken { p, j.version, *there });
                m_journal[q].version = there->version;
                if (!j.isDir())
                    m_remote.remove(source);
            }
        }
        deferFolderMoves();
    }

    // What is inside a folder moved here waits for the server's answer: the journal learns
    // the move only once it is applied, and the server moves what it holds then (changes
    // made there meanwhile included), which the next cycle reads. Found again from the
    // moves planned whenever they change, so that nothing waits for a move the plan no
    // longer makes (it would hold the cursor for good, with nothing to do).
    void deferFolderMoves()
    {
        m_deferred.clear();
        m_deferredMoves.clear();
        for (const SyncAction &m : std::as_const(m_moves)) {
            if (m.type == ActionType::MoveRemote && m.kind == EntryKind::Directory) {
                m_deferred << m.from << m.path;
                m_deferredMoves << m.path;
            }
        }
    }

    // Server entries that say "moved from X": rename here when X is still as we left it.
    void detectRemoteMoves()
    {
        QList<FileEntry> moved;
        for (const FileEntry &r : m_remote) {
            if (!r.deleted && r.movedFrom)
                moved << r;
        }
        if (moved.isEmpty())
            return; // the usual case: no index of the new paths (two lookups each) is needed
        // A folder before what was inside it: its rename carries the content along.
        std::sort(moved.begin(), moved.end(), [](const FileEntry &a, const FileEntry &b) {
            const qsizetype da = a.movedFrom->toString().count(u'/'), db = b.movedFrom->toString().count(u'/');
            return da != db ? da < db : a.version < b.version;
        });
        QHash<quint64, RelativePath> newByInode; // for sources this computer renamed too
        for (auto it = m_local.cbegin(); it != m_local.cend(); ++it) {
            if (!m_journal.contains(it.key()) && !it->unreadable && !m_remote.contains(it.key()))
                newByInode.insert(it->inode, it.key());
        }
        for (const FileEntry &r : moved) {
            const RelativePath &from = *r.movedFrom;
            const auto j = m_journal.constFind(from);
            if (j == m_journal.cend())
                continue;
            if (m_local.contains(r.path) || m_journal.contains(r.path)) {
                mergeNewInto(from, r, *j);
                continue;
            }
            // Moved here as well, to another name: the server's move came first and wins,
            // ours follows it (what was added under our name goes along).
            RelativePath source = from;
            if (!stillThere(from, *j) && !isUnder(m_deferred, from)) {
                const auto renamed = newByInode.constFind(j->inode);
                if (renamed == newByInode.cend() || isSkipped(*renamed) || renamed->isAncestorOf(r.path)
                    || r.path.isAncestorOf(*renamed))
                    continue;
                source = *renamed;
            }
            const auto l = m_local.constFind(source);
            if (l == m_local.cend() || !j->statMatches(*l) || !sameContent(*j, r) || isSkipped(from)
                || remoteTouchesAlive(from))
                continue;
            undoMovesInto(source, r.path);
            SyncAction a;
            a.type = ActionType::MoveLocal;
            a.path = r.path;
            a.from = source;
            if (source != from)
                a.journalFrom = from;
            a.kind = r.kind;
            a.local = *l;
            m_moves << a;
            newByInode.remove(j->inode);
            rebase(m_journal, from, r.path);
            rebase(m_local, source, r.path);
            carryMovesAlong(source, r.path);
        }
        deferFolderMoves(); // targets carried along to the server's names
    }

    // This computer moved a folder into `folder` while the server moved `folder` to `to`,
    // into that very folder: done both ways, each would be inside the other. The server's
    // move came first and wins: ours is undone here (the folder goes back to the name the
    // server still has it at), then the server's is followed. What was added here in
    // either goes along and is uploaded at its new path.
    void undoMovesInto(const RelativePath &folder, const RelativePath &to)
    {
        for (qsizetype i = 0; i < m_moves.size(); ++i) {
            const SyncAction m = m_moves.at(i);
            if (m.type != ActionType::MoveRemote || !folder.isAncestorOf(m.path)
                || !(m.from == to || m.from.isAncestorOf(to)))
                continue;
            m_moves.removeAt(i--);
            rebase(m_journal, m.path, m.from);
            rebase(m_local, m.path, m.from);
            for (SyncAction &inside : m_moves) {
                if (inside.type == ActionType::MoveRemote && m.path.isAncestorOf(inside.path))
                    inside.path = inside.path.rebased(m.path, m.from);
            }
            SyncAction back;
            back.type = ActionType::MoveLocal;
            back.path = m.from;
            back.from = m.path;
            back.journalFrom = m.from; // the journal never moved it
            back.kind = m.kind;
            back.local = m_local.value(m.from);
            m_moves << back;
        }
        deferFolderMoves();
    }

    // The server moved the folder `from` to where this computer made a folder of its own:
    // the two merge. What the server moved comes in its own entries; what is new here
    // under `from` goes along (left behind, it made `from` again on the server).
    void mergeNewInto(const RelativePath &from, const FileEntry &r, const JournalEntry &j)
    {
        const auto target = m_local.constFind(r.path);
        const auto source = m_local.constFind(from);
        if (r.kind != EntryKind::Directory || !j.isDir() || m_journal.contains(r.path) || target == m_local.cend()
            || !target->isDir() || source == m_local.cend() || !source->isDir() || isSkipped(from)
            || remoteTouchesAlive(from))
            return;
        QList<RelativePath> fresh;
        for (const RelativePath &k : keysAtOrUnder(m_local, from)) {
            if (k == from || m_journal.contains(k) || (!fresh.isEmpty() && fresh.last().isAncestorOf(k)))
                continue;
            const RelativePath to = k.rebased(from, r.path);
            if (m_local.contains(to) || remoteTouchesAlive(to) || isSkipped(k))
                continue;
            fresh << k;
        }
        for (const RelativePath &k : std::as_const(fresh)) {
            SyncAction a;
            a.type = ActionType::MoveLocal;
            a.path = k.rebased(from, r.path);
            a.from = k;
            a.local = m_local.value(k);
            a.kind = a.local->kind;
            m_moves << a;
            rebase(m_local, k, a.path);
        }
    }

    // A folder moved here to follow the server: what this computer moved into it just now
    // goes along, to the server's name (also when our own rename of it lost to the server's).
    void carryMovesAlong(const RelativePath &folder, const RelativePath &to)
    {
        for (auto m = m_moves.begin(); m != m_moves.end();) {
            if (m->type != ActionType::MoveRemote || !folder.isAncestorOf(m->path)) {
                ++m;
                continue;
            }
            const RelativePath there = m->path.rebased(folder, to);
            // The journal entry is at our old target, or already moved with the folder.
            const RelativePath at = m_journal.contains(m->path) ? m->path : there;
            const auto r = m_remote.constFind(there);
            if (r != m_remote.cend() && !r->deleted) {
                // Taken there on the server: no move. Our file is new at that path (a
                // conflict with the server's, both kept), its old name a delete.
                rebase(m_journal, at, m->from);
                m = m_moves.erase(m);
                continue;
            }
            // A tombstone there is another entry's history, never our move's (the server
            // has not seen it): compared with our entry's version, it read as a delete of it.
            if (r != m_remote.cend())
                m_remote.remove(there);
            rebase(m_journal, at, there);
            m->path = there;
            ++m;
        }
    }

    // A folder the server moved holds, right after the move, exactly what the server had
    // under its source then: every entry of it is in the feed, at its new path, unless
    // changed again later (then also in the feed). An entry the journal carries under the
    // new path from before the move (from our own move, or renamed here just now) that the
    // feed does not list was gone from the server when it moved the folder: deleted, or
    // moved elsewhere, meanwhile. It is treated as deleted there (version 0: nothing is at
    // that path on the server, so a change here is uploaded as new). Only on a complete
    // feed: a slice may end between the folder and its content. A folder moved in an
    // earlier slice of this read counts too: those slices brought every entry it moved to
    // a newer version in the journal.
    void markUnmoved()
    {
        if (!m_feed.complete)
            return;
        QHash<RelativePath, quint64> movedFolders = m_feed.movedEarlier;
        for (const FileEntry &r : std::as_const(m_remote)) {
            if (!r.deleted && r.movedFrom && r.kind == EntryKind::Directory)
                movedFolders.insert(r.path, r.version);
        }
        QList<FileEntry> gone;
        for (auto folder = movedFolders.cbegin(); folder != movedFolders.cend(); ++folder) {
            const auto dir = m_journal.constFind(folder.key());
            if (dir == m_journal.cend() || !dir->isDir())
                continue; // gone or replaced since
            for (const RelativePath &k : keysAtOrUnder(m_journal, folder.key())) {
                const JournalEntry &j = *m_journal.constFind(k);
                if (k == folder.key() || j.version >= folder.value() || m_remote.contains(k)
                    || movedInFromOutside(k, folder.key()))
                    continue;
                FileEntry tombstone;
                tombstone.path = k;
                tombstone.kind = j.kind;
                tombstone.deleted = true;
                tombstone.version = 0;
                gone << tombstone;
            }
        }
        for (const FileEntry &t : std::as_const(gone))
            m_remote.insert(t.path, t);
    }

    // The journal holds `k` under `folder` because this computer moved it in from outside
    // just now (rebased above): it was never under the folder the server moved.
    bool movedInFromOutside(const RelativePath &k, const RelativePath &folder) const
    {
        for (const SyncAction &m : m_moves) {
            if (m.type == ActionType::MoveRemote && (m.path == k || m.path.isAncestorOf(k))
                && folder.isAncestorOf(m.path) && m.from != folder && !folder.isAncestorOf(m.from))
                return true;
        }
        return false;
    }

    // A move into or out of a folder whose own move waits for the server waits with it.
    void dropMovesInsideDeferred()
    {
        if (m_deferred.isEmpty())
            return;
        m_moves.removeIf([this](const SyncAction &a) {
            if (a.type == ActionType::MoveRemote && a.kind == EntryKind::Directory && m_deferredMoves.contains(a.path))
                return false;
            return isUnder(m_deferred, a.path) || isUnder(m_deferred, a.from);
        });
    }

    // The folder `p` goes aside as a conflict copy: what this computer moved into it is
    // not moved on the server (into the file there: refused), but found again by the next
    // cycle, under the copy's name.
    // A move from the server's entry there (see detectLocalMoves) gives that entry back: it
    // is no longer ours to move, and it is downloaded where the server has it.
    void dropMovesInto(const RelativePath &p)
    {
        m_moves.removeIf([&](const SyncAction &m) {
            if (m.type != ActionType::MoveRemote || !p.isAncestorOf(m.path))
                return false;
            const auto taken = m_taken.constFind(m.path);
            if (taken == m_taken.cend()) {
                rebase(m_journal, m.path, m.from);
                return true;
            }
            rebase(m_journal, m.path, taken->path);
            m_journal[taken->path].version = taken->version;
            if (!m_remote.contains(taken->there.path)) {
                m_remote.insert(taken->there.path, taken->there);
                m_givenBack << taken->there.path;
            }
            return true;
        });
    }

    // The source of a remote move must be gone on the server (a tombstone or nothing).
    bool remoteTouchesAlive(const RelativePath &p) const
    {
        auto r = m_remote.constFind(p);
        return r != m_remote.cend() && !r->deleted;
    }

    void add(ActionType type, const RelativePath &p, EntryKind kind)
    {
        SyncAction a;
        a.type = type;
        a.path = p;
        a.kind = kind;
        if (m_local.contains(p))
            a.local = m_local.value(p);
        if (m_remote.contains(p))
            a.remote = m_remote.value(p);
        m_actions << a;
    }

    void addUpload(const RelativePath &p, quint64 base)
    {
        add(ActionType::Upload, p, m_local.value(p).kind);
        m_actions.last().base = base;
    }

    void addRecord(const RelativePath &p, quint64 version)
    {
        add(ActionType::Record, p, m_local.value(p).kind);
        m_actions.last().version = version;
    }

    void addConflict(const RelativePath &p)
    {
        const LocalEntry l = m_local.value(p);
        add(ActionType::ConflictCopy, p, l.kind);
        m_actions.last().conflictCopy = Reconciler::conflictName(
            p, m_session, m_now, [this](const RelativePath &c) { return m_local.contains(c) || m_remote.contains(c); });
        if (l.isDir())
            m_setAside << p; // its content moves with it; the next cycle uploads the copy
        add(ActionType::Download, p, m_remote.value(p).kind);
        m_actions.last().local.reset(); // by then our version is aside: the path is free
        m_followUp = true;
    }

    void decide(const RelativePath &p)
    {
        const bool hasL = m_local.contains(p), hasJ = m_journal.contains(p), hasR = m_remote.contains(p);
        const LocalEntry l = m_local.value(p);
        const JournalEntry j = m_journal.value(p);
        const FileEntry r = m_remote.value(p);
        if (hasJ && !hasL && j.isDir())
            m_missingFolders.insert(p);

        Side local = Side::None;
        if (hasL && !hasJ)
            local = Side::New;
        else if (!hasL && hasJ)
            local = Side::Deleted;
        else if (hasL && hasJ)
            local = (j.statMatches(l) || sameContent(l, j)) && sameMode(l, j) ? Side::Unchanged : Side::Modified;

        Side remote = Side::Unchanged;
        if (hasR) {
            if (r.deleted)
                remote = !hasJ ? Side::None : (j.version == r.version ? Side::Unchanged : Side::Deleted);
            else if (!hasJ)
                remote = Side::New;
            else
                remote = (j.version == r.version || (sameContent(j, r) && sameMode(j, r))) ? Side::Unchanged
                                                                                           : Side::Modified;
        } else if (!hasJ) {
            remote = Side::None;
        }
        // The version to build on: the server's when it told us one.
        const quint64 base = hasR ? r.version : j.version;
        const bool versionMoved = hasR && hasJ && !r.deleted && r.version != j.version;

        switch (local) {
        case Side::None:
            if (remote == Side::New)
                add(ActionType::Download, p, r.kind);
            else if (hasJ)
                add(ActionType::Forget, p, j.kind);
            break;
        case Side::Unchanged:
            if (remote == Side::Modified && l.isDir() && r.kind == EntryKind::File && hasLocalWorkUnder(p)) {
                addConflict(p); // a file replaced the folder there; new work here stays
                dropMovesInto(p);
            } else if (remote == Side::Modified)
                add(ActionType::Download, p, r.kind); // also a type change of an unchanged path
            else if (remote == Side::Deleted)
                add(ActionType::DeleteLocal, p, l.kind);
            else if (versionMoved || !j.statMatches(l) || l.mode != j.mode || provenAnew(l, j))
                addRecord(p, base);
            break;
        case Side::New:
            if (remote == Side::New) {
                if (sameContent(l, r) && !sameMode(l, r))
                    addUpload(p, r.version); // the same bytes: our mode goes on top of theirs
                else if (sameContent(l, r))
                    addRecord(p, r.version);
                else if (l.isDir() && r.kind == EntryKind::Directory)
                    addRecord(p, r.version);
                else
                    addConflict(p);
            } else {
                addUpload(p, hasR ? r.version : 0); // over a tombstone, or brand new
            }
            break;
        case Side::Modified:
            if (remote == Side::Modified) {
                if (sameContent(l, r) && !sameMode(l, r))
                    addUpload(p, r.version); // the same bytes: our mode goes on top of theirs
                else if (sameContent(l, r))
                    addRecord(p, r.version);
                else
                    addConflict(p);
            } else if (hasJ && j.isDir() && !l.isDir() && remote != Side::Deleted && remoteWorkUnder(p)) {
                // The folder became a file here while the server got new work inside it
                // (the server refuses the file over it, for ever): the file goes aside and
                // the folder comes back with that work, at the server's version (deleted and
                // made again there meanwhile, it has a newer one than the journal's).
                addConflict(p);
                SyncAction &restore = m_actions.last();
                restore.kind = EntryKind::Directory;
                restore.remote.path = p;
                restore.remote.kind = EntryKind::Directory;
                restore.remote.version = base;
            } else {
                addUpload(p, base); // remote unchanged, or deleted: an edit wins
            }
            break;
        case Side::Deleted:
            if (remote == Side::Modified || remote == Side::New)
                add(ActionType::Download, p, r.kind); // an edit wins over our delete
            else if (remote == Side::Deleted || (hasR && r.deleted))
                add(ActionType::Forget, p, j.kind);
            else {
                add(ActionType::DeleteRemote, p, j.kind);
                m_actions.last().base = base;
            }
            break;
        }
    }

    // Moves first, then local work (deletes deepest first, downloads shallowest first),
    // then remote work (deletes deepest first, uploads shallowest first).
    // The actions are sorted where they are and the list becomes the plan: no second list.
    // Lists of actions per type, a sorted copy beside the decided list, and
    // stable_sort's buffer of half the actions were each in turn the client's memory
    // peak with 100,000 files (tests/bench/profile.md). So the order is found on a list of indexes
    // (4 bytes an action) and the actions are moved into it in place, one cycle at a time.
    SyncPlan order()
    {
        SyncPlan plan;
        plan.needsFollowUp = m_followUp || !m_moves.isEmpty();
        plan.holdCursor = m_holdCursor;
        plan.missingFolders = std::move(m_missingFolders);
        auto rank = [](ActionType t) {
            switch (t) {
            case ActionType::MoveRemote:
            case ActionType::MoveLocal:
                return -1; // only from m_moves, in the order they were found
            case ActionType::ConflictCopy:
                return 0;
            case ActionType::DeleteLocal:
                return 1;
            case ActionType::Download:
                return 2;
            case ActionType::DeleteRemote:
                return 3;
            case ActionType::Upload:
                return 4;
            case ActionType::Record:
                return 5;
            case ActionType::Forget:
                return 6;
            }
            return 7;
        };
        auto deepestFirst = [](ActionType t) { return t == ActionType::DeleteLocal || t == ActionType::DeleteRemote; };
        // Same order as before: by phase, deletes deepest first, the rest as decided (stable).
        for (SyncAction &a : m_moves)
            m_actions.append(std::move(a));
        m_moves.clear();
        SyncAction *actions = m_actions.data();
        std::vector<int> order(size_t(m_actions.size()));
        for (size_t i = 0; i < order.size(); ++i)
            order[i] = int(i);
        std::stable_sort(order.begin(), order.end(), [&](int x, int y) {
            const SyncAction &a = actions[x];
            const SyncAction &b = actions[y];
            const int ra = rank(a.type), rb = rank(b.type);
            if (ra != rb)
                return ra < rb;
            return deepestFirst(a.type) && b.path < a.path;
        });
        // Position k takes the action at order[k]: each cycle of the permutation is walked
        // once, with one action aside.
        for (int start = 0; start < int(order.size()); ++start) {
            if (order[size_t(start)] == start)
                continue;
            SyncAction aside = std::move(actions[start]);
            int k = start;
            for (;;) {
                const int from = order[size_t(k)];
                order[size_t(k)] = k;
                if (from == start) {
                    actions[k] = std::move(aside);
                    break;
                }
                actions[k] = std::move(actions[from]);
                k = from;
            }
        }
        plan.actions = std::move(m_actions);
        m_actions.clear();
        return plan;
    }

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

} // namespace

SyncPlan Reconciler::reconcile(const LocalSnapshot &local, const JournalState &journal, const RemoteChanges &remote,
    const QString &sessionName, const QDateTime &now, const Feed &feed)
{
    return Planner(local, journal, remote, sessionName, now, feed).run();
}

RelativePath Reconciler::conflictName(const RelativePath &path, const QString &sessionName, const QDateTime &now,
    const std::function<bool(const RelativePath &)> &taken)
{
    const QString name = path.fileName();
    const qsizetype dot = name.lastIndexOf(u'.');
    const QString stem = dot > 0 ? name.left(dot) : name;
    const QString ext = dot > 0 ? name.mid(dot) : QString();
    QString session = sessionName;
    session.replace(u'/', u'_');
    const QString stamp = now.toString(QStringLiteral("yyyy-MM-dd HHmmss"));
    for (int n = 1;; ++n) {
        const QString suffix = n == 1 ? QString() : QStringLiteral(" %1").arg(n);
        QString candidate = QStringLiteral("%1 (conflict from %2 %3%4)%5").arg(stem, session, stamp, suffix, ext);
        if (candidate.toUtf8().size() > RelativePath::kMaxComponentBytes)
            candidate = QStringLiteral("conflict %1%2%3").arg(stamp, suffix, ext);
        auto result = RelativePath::fromString(
            path.parent().isRoot() ? candidate : path.parent().toString() + u'/' + candidate);
        if (result && !taken(*result))
            return *result;
        if (n > 1000)
            return path; // unreachable in practice
    }
}

bool Reconciler::isInSync(const LocalSnapshot &local, const JournalState &journal, const RemoteChanges &remote)
{
    if (!remote.isEmpty() || local.size() != journal.size())
        return false;
    auto j = journal.cbegin();
    for (auto l = local.cbegin(); l != local.cend(); ++l, ++j) {
        if (l.key() != j.key() || l->unreadable || l->kind != j->kind || l->mode != j->mode)
            return false;
        if (!l->isDir()
            && (l->size != j->size || l->mtimeNs != j->mtimeNs || l->inode != j->inode || l->blocks != j->blocks
                || provenAnew(*l, *j)))
            return false;
    }
    return true;
}

} // namespace filesync
