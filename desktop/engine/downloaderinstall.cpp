// The Downloader's assembled files: given their time and mode, made durable (DurableBatch),
// renamed into place, and recorded in the journal.
#include "downloader.h"

#include "chunker.h"
#include "enginelogging.h"
#include "journal.h"
#include "localfs.h"

#include <QSet>

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace filesync {

using namespace protocol;

void Downloader::recordLanded()
{
    // Files already renamed into place hold what the plan wanted. Recorded now (once
    // their directory entries are durable), a stop, pause or lost connection between a
    // rename and its batch's sync never leaves a synced file the journal does not know,
    // which the next cycle would have to take for new here (and, edited meanwhile, for a
    // conflict). At most one batch of directories is synced, on this thread.
    const QList<quint64> landed = m_batch.renames();
    if (landed.isEmpty() || !m_journal.isOpen())
        return;
    if (!m_batch.syncRenamesNow())
        return; // not known to be durable: the next cycle finds them as they are
    record(filesOf(landed));
}

// A file's entry: its stat, and the server's blocks and version.
JournalEntry Downloader::entryFor(const File &file, const LocalEntry &stat)
{
    LocalEntry l = stat;
    l.blocks = file.action.remote.blocks;
    l.blockChecks = file.checksKnown ? Chunker::checksFor(l.blocks, file.checks) : QByteArray();
    return journalEntryFor(l, file.action.remote.version);
}

// Files whose rename is durable, each with its stat right after the rename.
void Downloader::record(const QList<File *> &files, const QList<File *> &landing)
{
    m_journal.begin();
    for (const File *f : files)
        m_journal.put(f->action.path, entryFor(*f, *f->landed));
    Journal::Landing next;
    for (const File *f : landing) {
        if (f->assembledStat)
            next.append({ f->action.path, entryFor(*f, *f->assembledStat) });
    }
    m_journal.setLanding(next);
    m_journal.commit();
}

// Every block is in: the file gets its time and mode, and waits for the next sync.
void Downloader::assembled(File &file)
{
    const SyncAction &a = file.action;
    // Permission bits only: set-id and sticky bits from another computer are not ours.
    ::fchmod(file.fd, mode_t(a.remote.mode ? (a.remote.mode & 0777) : 0644));
    const qint64 ms = a.remote.mtimeMs;
    const timespec times[2]
        = { { time_t(ms / 1000), long((ms % 1000) * 1000000) }, { time_t(ms / 1000), long((ms % 1000) * 1000000) } };
    ::futimens(file.fd, times);
    file.assembledStat = localfs::statFd(file.fd);
    ::close(file.fd);
    file.fd = -1;
    file.assembledMs = file.since.elapsed();
    --m_assembling;
    m_batch.addFile(file.id, file.tempPath);
    m_batch.start();
}

QList<Downloader::File *> Downloader::filesOf(const QList<quint64> &ids) const
{
    QList<File *> files;
    files.reserve(ids.size());
    for (const quint64 id : ids)
        files.append(m_files.at(id).get()); // held until recorded or given up, after its batch
    return files;
}

void Downloader::onSynced(bool ok, const QList<quint64> &syncedIds, const QList<quint64> &renamedIds)
{
    const QList<File *> synced = filesOf(syncedIds);
    const QList<File *> renamed = filesOf(renamedIds);
    if (!ok) {
        qCWarning(lcDownload) << "cannot make downloaded files durable";
        for (File *f : synced) {
            failFile(*f, QStringLiteral("cannot make it durable"));
            release(*f);
        }
        // At their final path, but not known to be durable there: not recorded, so the
        // next cycle finds them as they are (identical to the server's: just recorded).
        for (File *f : renamed) {
            m_complete = false;
            Q_EMIT fileSkipped(f->action, QStringLiteral("cannot make it durable"));
            release(*f);
        }
    } else {
        Q_EMIT batchSynced(int(synced.size()), int(renamed.size()));
        // The files about to be renamed are noted first: a crash after a rename and
        // before its record leaves nothing the next start does not know as ours.
        if (!renamed.isEmpty() || !synced.isEmpty())
            record(renamed, synced);
        const int generation = m_generation;
        for (File *f : renamed) {
            const SyncAction action = f->action;
            release(*f);
            Q_EMIT fileDone(action);
            if (generation != m_generation)
                return; // a handler aborted us
        }
        // The batch's folders resolved once each, for this pass only.
        localfs::FolderCache folders(m_rootDir);
        for (File *f : synced)
            install(*f, folders);
    }
    m_batch.start(); // the new renames' entries, and whatever was assembled meanwhile
    admit();
    pump();
    checkDone();
}

// The file's bytes are durable: it replaces what the plan saw at its path. Reached
// beneath the root: a link on the way or at the path is reported, never followed.
void Downloader::install(File &file, localfs::FolderCache &folders)
{
    const SyncAction &a = file.action;
    auto skip = [this, &file](const QString &reason) {
        failFile(file, reason);
        release(file);
    };
    auto inTheWay = [&](const QString &problem) {
        Q_EMIT warning(tr("%1 is left alone: %2").arg(a.path.toString(), problem));
        skip(QStringLiteral("a link or special file is in the way"));
    };
    const auto linkAt = [&a] {
        return QStringLiteral("%1 is a link or special file, which is never followed").arg(a.path.toString());
    };
    localfs::Location at = folders.at(a.path);
    if (at.inTheWay())
        return inTheWay(at.dir().problem());
    // The path must still hold what the plan saw (nothing, or the unchanged old entry):
    // anything else is the user's new work, which we never overwrite.
    // A new file's path is not stat'ed first: RENAME_NOREPLACE below refuses anything that
    // is there (EEXIST), which is exactly the case the check would have refused.
    const auto now = a.local ? at.stat() : std::nullopt;
    // Not even the link itself is replaced: it is the user's, and the scan skips it.
    if (now && at.isLinkOrSpecial())
        return inTheWay(linkAt());
    bool unchanged = !now.has_value();
    if (a.local && now && now->kind == a.local->kind)
        unchanged = a.local->isDir()
            || (now->size == a.local->size && now->mtimeNs == a.local->mtimeNs && now->inode == a.local->inode);
    if (!unchanged)
        return skip(QStringLiteral("changed on this computer meanwhile"));
    const localfs::Location temp = tempFile(file);
    // A file replaces a folder (changed into a file elsewhere) only once the folder is
    // empty: its unchanged content was deleted first, anything new in it stays.
    if (now && now->isDir() && !at.removeDir())
        return skip(QStringLiteral("the folder there is not empty"));
    // A big old version is held open over its replacement: the last reference to it,
    // which frees its blocks (0.4 s for 1 GiB here, inside rename(2) otherwise), is then
    // dropped on the pool, after the new version is already in place.
    const int old
        = now && !now->isDir() && now->size >= kReleaseOnPoolBytes ? at.open(O_RDONLY | O_NONBLOCK).release() : -1;
    // Over an unchanged old file: an atomic replace. Onto a free path: never over
    // something that appeared there since the check.
    bool renamed = now && !now->isDir() ? localfs::renameReplacing(temp, at) : localfs::renameNoReplace(temp, at);
    int error = renamed ? 0 : errno;
    // Its folder is made only when the rename says it is missing (ENOENT): checking and
    // making every level for every file costs 5 system calls per file. A folder the
    // journal knows that the scan saw and that is gone now was renamed or deleted here
    // meanwhile: made again, it stood twice after a rename (and what other computers
    // deleted in it came back from here); the next cycle places the file. One the scan
    // already missed is made: the plan brings it back for the server's new content.
    if (!renamed && !now && error == ENOENT) {
        if (const RelativePath known = m_journal.knownFolderAbove(a.path);
            !known.isRoot() && !m_missingFolders.contains(known) && !folders.at(known).stat())
            return skip(QStringLiteral("its folder was renamed or deleted on this computer meanwhile"));
        at = folders.makingFolders(a.path);
        if (at.inTheWay())
            return inTheWay(at.dir().problem()); // nothing was there: `old` is not open
        if (!at.ok())
            return skip(QStringLiteral("cannot create its folder"));
        renamed = localfs::renameNoReplace(temp, at);
        error = renamed ? 0 : errno;
    }
    if (old >= 0)
        m_pools.start(m_pools.writeBack(), [old] { ::close(old); });
    if (!renamed && !now && error == EEXIST)
        return at.isLinkOrSpecial() ? inTheWay(linkAt()) : skip(QStringLiteral("changed on this computer meanwhile"));
    if (!renamed)
        return skip(QStringLiteral("cannot move into place: %1").arg(QString::fromLocal8Bit(strerror(error))));
    file.landed = at.stat();
    qCDebug(lcDownload) << "installed" << a.path.toString() << "(" << a.remote.size << "bytes): assembled after"
                        << file.assembledMs << "ms, in place after" << file.since.elapsed() << "ms";
    if (!file.landed) {
        // Gone again at once (removed by the user): nothing to record.
        m_complete = false;
        Q_EMIT fileSkipped(a, QStringLiteral("removed on this computer meanwhile"));
        return release(file);
    }
    // Its stat right after the rename proves it unchanged later just as a journal entry
    // would: blocks copied from it need not be re-read while this stat holds.
    const auto recorded = std::make_shared<const JournalEntry>(journalEntryFor(*file.landed, a.remote.version));
    m_copier.add(a.path, a.remote.blocks, recorded);
    m_batch.addRenamed(file.id, a.path); // recorded once the next sync made its directory entry durable
}

} // namespace filesync
