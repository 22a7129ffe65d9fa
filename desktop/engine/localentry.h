#pragma once

#include "messages.h"
#include "relativepath.h"

#include <QHash>
#include <QMap>

namespace filesync {

// What the disk holds at a path, as the scanner saw it. `blocks` is known when the file
// was hashed or when its stat matched the journal (then the journal's blocks are reused).
struct LocalEntry
{
    protocol::EntryKind kind = protocol::EntryKind::File;
    // Could not be read (permissions, vanished while hashed): the reconciler leaves this
    // path, and for a directory everything under it, alone this cycle. Never a delete.
    bool unreadable = false;
    // `blocks` were read clearly after `ctimeNs` (JournalEntry::statProvenByRead): the
    // scanner took CLOCK_REALTIME before the stat, hashed the file, found the stat (ctime
    // included) unchanged after the read, and ctimeNs < that time - kReadMarginNs; or it
    // kept the journal's blocks and flag for the same ctime. False when unknown.
    bool readAfterCtime = false;
    quint32 mode = 0; // next to the three above: 16 bytes less per entry (snapshot and plan)
    qint64 size = 0;
    qint64 mtimeNs = 0; // nanoseconds: the protocol carries milliseconds
    quint64 inode = 0;
    QList<protocol::BlockRef> blocks;
    qint64 ctimeNs = 0; // inode change time (ns); 0 when unknown
    // Chunker::Chunked::checks of `blocks` (per-block XXH3), when the scan made them or
    // kept the journal's: lets the next scan re-chunk only what changed. Empty: unknown.
    QByteArray blockChecks = {};
    bool isDir() const { return kind == protocol::EntryKind::Directory; }
};

// What the journal remembers of a path: its state at the last sync, and the server
// version it had then.
struct JournalEntry
{
    protocol::EntryKind kind = protocol::EntryKind::File;
    qint64 size = 0;
    qint64 mtimeNs = 0;
    quint64 inode = 0;
    quint32 mode = 0;
    quint64 version = 0;
    QList<protocol::BlockRef> blocks;
    qint64 ctimeNs = 0; // as stat saw it when recorded; 0 when unknown (older journals, remote-only)
    QByteArray blockChecks = {}; // LocalEntry::blockChecks as recorded; empty when unknown
    bool readAfterCtime = false; // LocalEntry::readAfterCtime as recorded; false when unknown (schema < 4)

    // How far a file timestamp may lag the real-time clock: the kernel stamps files from
    // a coarse clock that is up to one tick (1-10 ms) behind CLOCK_REALTIME. 100 ms is
    // ten times the worst tick, and also covers file systems with 10 ms timestamps.
    static constexpr qint64 kReadMarginNs = 100'000'000;

    bool isDir() const { return kind == protocol::EntryKind::Directory; }
    // Same stat as on disk: unchanged without hashing.
    bool statMatches(const LocalEntry &l) const
    {
        return kind == l.kind && (isDir() || (size == l.size && mtimeNs == l.mtimeNs && inode == l.inode));
    }
    // A matching stat can be trusted even with a recent mtime (the scanner's racy rule)
    // when it cannot hide a rewrite: every write or truncate sets mtime and ctime to the
    // same "now", and setting mtime explicitly (utimensat) sets ctime to "now" as well.
    // So a recorded stat whose mtime differs from its ctime (a downloaded file: its mtime
    // came from the other computer, its ctime is when it was installed here) can only be
    // reproduced after a change by an explicit mtime reset that lands in the very clock
    // tick of the recorded ctime. Plain editor writes always leave mtime == ctime, so
    // they stay under the racy rule.
    bool statProvesUnchanged(const LocalEntry &l) const
    {
        return statMatches(l) && ctimeNs != 0 && l.ctimeNs == ctimeNs && mtimeNs != ctimeNs;
    }
    // A matching stat can also be trusted when its blocks were read clearly after its
    // last change (git's real racy rule, against the read instead of "now"). Every write,
    // truncate, rename or explicit mtime set stamps ctime with the kernel's coarse "now":
    // for any change after the scanner's clock reading (taken before the stat it hashed
    // under) at least that reading minus one tick. A recorded ctime older than the
    // reading minus kReadMarginNs (readAfterCtime) can therefore only still be there if
    // nothing changed the file since (a change during the read already made it
    // unreadable: its stat is compared before and after).
    bool statProvenByRead(const LocalEntry &l) const
    {
        return readAfterCtime && statMatches(l) && ctimeNs != 0 && l.ctimeNs == ctimeNs;
    }
    // Whether a stat with `ctimeNs`, hashed after a clock reading of `readStartNs`
    // (CLOCK_REALTIME ns, taken before that stat), was read clearly after its last
    // change. Whole-second timestamps (ext3, FAT, some network mounts) have no bound
    // of one tick: a ctime with no sub-second part never qualifies, it stays under the
    // racy rule.
    static bool readClearlyAfter(qint64 ctimeNs, qint64 readStartNs)
    {
        return ctimeNs > 0 && ctimeNs % 1'000'000'000 != 0 && ctimeNs < readStartNs - kReadMarginNs;
    }
};

// The part of a mode that is synced: the permission bits (the Downloader installs these;
// set-id and sticky bits from another computer are not ours).
inline quint32 syncedMode(quint32 mode)
{
    return mode & 0777;
}

inline JournalEntry journalEntryFor(const LocalEntry &l, quint64 version)
{
    return JournalEntry { l.kind, l.size, l.mtimeNs, l.inode, l.mode, version, l.blocks, l.ctimeNs, l.blockChecks,
        l.readAfterCtime };
}

// Sorted by path, so a parent always comes before its children.
using LocalSnapshot = QMap<RelativePath, LocalEntry>;
using JournalState = QMap<RelativePath, JournalEntry>;
using RemoteChanges = QMap<RelativePath, protocol::FileEntry>;

} // namespace filesync
