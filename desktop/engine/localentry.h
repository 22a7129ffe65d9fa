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
    qint64 size = 0;
    qint64 mtimeNs = 0; // nanoseconds: the protocol carries milliseconds
    quint64 inode = 0;
    quint32 mode = 0;
    QList<protocol::BlockRef> blocks;
    // Could not be read (permissions, vanished while hashed): the reconciler leaves this
    // path, and for a directory everything under it, alone this cycle. Never a delete.
    bool unreadable = false;

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

    bool isDir() const { return kind == protocol::EntryKind::Directory; }
    // Same stat as on disk: unchanged without hashing.
    bool statMatches(const LocalEntry &l) const
    {
        return kind == l.kind && (isDir() || (size == l.size && mtimeNs == l.mtimeNs && inode == l.inode));
    }
};

inline JournalEntry journalEntryFor(const LocalEntry &l, quint64 version)
{
    return JournalEntry { l.kind, l.size, l.mtimeNs, l.inode, l.mode, version, l.blocks };
}

// Sorted by path, so a parent always comes before its children.
using LocalSnapshot = QMap<RelativePath, LocalEntry>;
using JournalState = QMap<RelativePath, JournalEntry>;
using RemoteChanges = QMap<RelativePath, protocol::FileEntry>;

} // namespace filesync
