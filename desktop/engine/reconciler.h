#pragma once

#include "syncplan.h"

#include <QDateTime>
#include <QHash>

namespace filesync {

// What is known of the feed beyond `remote` (docs/architecture.md, "Concurrent folder
// moves").
struct FeedFacts
{
    // `remote` holds every change up to the server's head, not a slice of the feed:
    // a folder moved there has all its entries in it.
    bool complete = true;
    // Folders the server moved (path -> the folder's version) listed by earlier
    // slices of this read of the feed, each of which was applied whole: every entry
    // they moved is in the journal at a version above the folder's now.
    QHash<RelativePath, quint64> movedEarlier;
};

// Decides what to do: a pure function of the disk (snapshot), the journal (the state at
// the last sync) and the server's changes since then. No I/O, no clock of its own, so
// its truth table is a data-driven unit test. Rules (docs/architecture.md):
// - both sides changed to different content: keep both (theirs at the path, ours as a
//   conflict copy named after this session and `now`);
// - an edit wins over a delete, in both directions;
// - a local delete happens only for a server tombstone of a path unchanged here;
// - unreadable paths (and everything under an unreadable folder) are left alone;
// - content, not version numbers, decides whether a side really changed.
class Reconciler
{
public:
    using Feed = FeedFacts;

    static SyncPlan reconcile(const LocalSnapshot &local, const JournalState &journal, const RemoteChanges &remote,
        const QString &sessionName, const QDateTime &now, const Feed &feed = Feed());

    // True when the disk holds exactly what the journal says, path by path (same kind,
    // stat, mode and blocks, nothing unreadable), and the server changed nothing: then
    // reconcile() has nothing to decide and its plan is empty. One walk over both maps,
    // so a rescan of an unchanged tree does not reconcile every entry.
    static bool isInSync(const LocalSnapshot &local, const JournalState &journal, const RemoteChanges &remote);

    // "name (conflict from SESSION YYYY-MM-DD HHMMSS).ext", in the same folder;
    // `taken` tells whether a candidate already exists (then " 2", " 3", ... are added).
    static RelativePath conflictName(const RelativePath &path, const QString &sessionName, const QDateTime &now,
        const std::function<bool(const RelativePath &)> &taken);
};

} // namespace filesync
