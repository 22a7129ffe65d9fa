#pragma once

#include "localentry.h"

#include <QList>
#include <QSet>
#include <QString>

namespace filesync {

enum class ActionType : quint8 {
    MoveRemote, // the user moved `from` to `path` here: one server op, no re-upload
    DeleteRemote, // the user deleted `path` here
    Upload, // new or changed here: blocks the server lacks, then a commit (`base` version)
    MoveLocal, // moved on another computer: rename here
    ConflictCopy, // changed on both sides: our version moves aside to `conflictCopy`
    DeleteLocal, // deleted elsewhere and unchanged here
    Download, // new or changed elsewhere (files and folders)
    Record, // both sides agree: only the journal learns the new state
    Forget, // gone on both sides: drop the journal entry
};

QString actionName(ActionType type);

// What the server holds at an action's path: the fields of protocol::FileEntry that the
// propagator uses. The change's origin and move source are the reconciler's business and
// stay out of the plan (56 bytes and an origin string less per action; a plan holds one
// action per changed file). Converts from a FileEntry, so `a.remote = entry` works.
struct RemoteState
{
    RelativePath path;
    protocol::EntryKind kind = protocol::EntryKind::File;
    bool deleted = false;
    quint32 mode = 0;
    qint64 size = 0;
    qint64 mtimeMs = 0;
    QList<protocol::BlockRef> blocks;
    quint64 version = 0;

    RemoteState() = default;
    RemoteState(const protocol::FileEntry &e) // NOLINT(google-explicit-constructor): as before, a.remote = entry
        : path(e.path)
        , kind(e.kind)
        , deleted(e.deleted)
        , mode(e.mode)
        , size(e.size)
        , mtimeMs(e.mtimeMs)
        , blocks(e.blocks)
        , version(e.version)
    { }
};

// One step of a sync: what to do with one path, and what the reconciler knew when it
// decided, so the propagator can check nothing moved underneath before acting.
// A plan holds one of these per changed file (and the Downloader or Uploader the same
// ones later, moved): the small fields share the first word.
struct SyncAction
{
    ActionType type = ActionType::Record;
    protocol::EntryKind kind = protocol::EntryKind::File;
    RelativePath path;
    RelativePath from; // MoveRemote, MoveLocal
    // MoveLocal: the journal's name of the source when this computer renamed it too (then
    // `from` is where it is on disk); empty: `from`.
    RelativePath journalFrom;
    RelativePath conflictCopy; // ConflictCopy
    quint64 base = 0; // remote ops: the version we change
    std::optional<LocalEntry> local; // the disk as scanned (absent: nothing there)
    RemoteState remote; // Download, Record: the server's state
    quint64 version = 0; // Record: the version to remember
};

// The reconciler's answer: data the engine executes and the UI and logs can show.
struct SyncPlan
{
    QList<SyncAction> actions;
    bool needsFollowUp = false; // e.g. after conflict copies: rescan and sync again
    // A path the server changed was left alone (unreadable here, or busy): the feed
    // cursor must not move past it, or that change would never be seen again.
    bool holdCursor = false;
    // Folders the journal knows that the scan found gone: the plan may make them again (for
    // the server's new content in them). Any other known folder gone by the time a file
    // goes into it was renamed or deleted here meanwhile, and is not made again.
    QSet<RelativePath> missingFolders;

    bool isEmpty() const { return actions.isEmpty(); }
    int count(ActionType type) const;
    QString describe() const; // one line per action, for logs and tests
};

} // namespace filesync
