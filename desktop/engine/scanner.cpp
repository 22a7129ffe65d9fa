#include "scanner.h"

#include "chunker.h"
#include "localfs.h"

#include <QDateTime>
#include <QElapsedTimer>
#include <QFile>

#include <cerrno>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace filesync {

using protocol::EntryKind;

namespace {

std::function<void(const QString &)> s_beforeSmallReadForTests;

LocalEntry fromStat(const struct stat &st)
{
    LocalEntry e;
    e.kind = S_ISDIR(st.st_mode) ? EntryKind::Directory : EntryKind::File;
    e.size = e.kind == EntryKind::File ? qint64(st.st_size) : 0;
    e.mtimeNs = qint64(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
    e.inode = quint64(st.st_ino);
    e.mode = quint32(st.st_mode & 07777);
    e.ctimeNs = qint64(st.st_ctim.tv_sec) * 1'000'000'000 + st.st_ctim.tv_nsec;
    return e;
}

// Whether `p` or one of its ancestors is in `set`.
bool selfOrAncestorIn(const QSet<RelativePath> &set, RelativePath p)
{
    for (;; p = p.parent()) {
        if (set.contains(p))
            return true;
        if (p.isRoot())
            return false;
    }
}

struct Walker
{
    const localfs::Dir &root; // opened once for the scan
    const JournalState &journal;
    Scanner::Result &result;
    qint64 nowNs;
    const std::atomic_bool *cancel;
    QThreadPool *hashing;
    bool warnedSpecial = false;
    // Folders walked whole in a partial scan (everything under them is in scope).
    QSet<RelativePath> walkedRoots;
    QByteArray buffer; // hashWhole's, reused from file to file

    // A file no bigger than the chunker's minimum block is one block whatever its bytes
    // (Chunker cuts nothing at or below minSize, and keeps no checks under
    // kChecksFromBlocks blocks): read in one step through the folder's descriptor and
    // hashed, without the chunker's device, buffers and pipeline, and its stat taken
    // again on the same descriptor (most files of a tree are this small). False when it cannot be
    // opened: the chunker's path then says why. `local` is the stat taken before the
    // open; what was read is described only if the open file still has that stat after
    // the read, else the entry is unreadable (changed while read: the next scan looks
    // again, as the watcher reports the write).
    bool hashWhole(int dirFd, const QByteArray &absPath, const char *name, const QString &relText, LocalEntry &local)
    {
        if (s_beforeSmallReadForTests)
            s_beforeSmallReadForTests(QFile::decodeName(absPath));
        const int fd = ::openat(dirFd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
        if (fd < 0)
            return false;
        buffer.resize(local.size); // one read: a file that grew or shrank shows in the stat after
        qint64 done = 0;
        while (done < buffer.size()) {
            const ssize_t n = ::read(fd, buffer.data() + done, size_t(buffer.size() - done));
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                break;
            done += n;
        }
        struct stat st;
        const bool statted = ::fstat(fd, &st) == 0;
        ::close(fd);
        const LocalEntry after = statted ? fromStat(st) : LocalEntry {};
        const bool same = statted && S_ISREG(st.st_mode) && after.inode == local.inode && after.size == local.size
            && after.mtimeNs == local.mtimeNs && after.ctimeNs == local.ctimeNs;
        if (done != local.size || !same) {
            // Being written (files of a tree still being created): silent, as when the
            // chunker's path finds the stat moved; a size that lies is worth a warning.
            if (same)
                result.warnings << QStringLiteral("cannot read %1: the file changed while it was read").arg(relText);
            local.unreadable = true;
            return true;
        }
        local.blocks
            = { protocol::BlockRef { ContentHash::of(QByteArrayView(buffer.constData(), done)), quint32(done) } };
        ++result.hashedFiles;
        result.hashedBytes += done;
        return true;
    }

    // The file `name` of the open folder, never a link's target.
    Result<Chunker::Chunked> chunkEntry(
        int dirFd, const char *name, const QString &relText, const Chunker::Previous &previous)
    {
        const int fd = ::openat(dirFd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
        QFile file;
        if (fd < 0 || !file.open(fd, QIODevice::ReadOnly, QFileDevice::AutoCloseHandle)) {
            const QString reason = QString::fromLocal8Bit(strerror(fd < 0 ? errno : EBADF));
            if (fd >= 0)
                ::close(fd);
            return makeError(QStringLiteral("cannot read %1: %2").arg(relText, reason));
        }
        return Chunker::chunkIncremental(file, file.size(), cancel, previous, hashing);
    }

    // `recursive`: walk every subfolder; otherwise (a partial scan's listing) only those
    // the journal does not know as folders: new ones, whose content nobody has seen.
    void walk(const QByteArray &absDir, const RelativePath &relDir, bool recursive = true)
    {
        // Beneath the root, never through a link: a folder replaced by a link since its
        // parent was listed is not read (what is outside the root is not ours to upload).
        const int dirFd = localfs::openDir(root, relDir.toString(), true).release();
        DIR *dir = dirFd >= 0 ? ::fdopendir(dirFd) : nullptr;
        if (!dir && dirFd >= 0)
            ::close(dirFd);
        if (!dir) {
            if (!relDir.isRoot()) {
                result.snapshot[relDir].unreadable = true;
                result.warnings << QStringLiteral("cannot read the folder %1: it is left alone").arg(relDir.toString());
            }
            return;
        }
        QList<QPair<QByteArray, RelativePath>> subdirs;
        while (dirent *entry = ::readdir(dir)) {
            if (cancel && cancel->load(std::memory_order_relaxed)) {
                result.cancelled = true;
                break;
            }
            const QByteArray name(entry->d_name);
            if (name == "." || name == "..")
                continue;
            const QString decoded = QFile::decodeName(name);
            if (relDir.isRoot() && decoded == RelativePath::kMetadataDirName)
                continue;
            const QByteArray absPath = absDir + '/' + name;
            const QString relText = relDir.isRoot() ? decoded : relDir.toString() + u'/' + decoded;
            auto rel = RelativePath::fromString(relText);
            if (!rel || QFile::encodeName(decoded) != name) {
                result.warnings << QStringLiteral("skipped %1: %2")
                                       .arg(relText,
                                           rel ? QStringLiteral("the name is not valid UTF-8") : rel.errorMessage());
                continue;
            }
            struct stat st;
            // Before the stat: any change after it stamps a ctime no older than this
            // minus one clock tick (JournalEntry::statProvenByRead).
            const qint64 readStartNs = localfs::realtimeNs();
            if (::fstatat(::dirfd(dir), entry->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
                continue; // vanished between readdir and stat: not there
            ++result.visited;
            if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode)) {
                // A synced file or folder replaced by a link (say, a folder moved to
                // another disk with a link left in its place) is no delete: the path and
                // what was under it are left alone, here and on the server.
                if (const auto known = journal.constFind(*rel); known != journal.cend()) {
                    LocalEntry held;
                    held.kind = known->kind;
                    held.unreadable = true;
                    result.snapshot.insert(*rel, held);
                    result.warnings << QStringLiteral("%1 is now a link or special file: it is left alone, and "
                                                      "nothing under it is deleted anywhere")
                                           .arg(relText);
                    continue;
                }
                if (!warnedSpecial)
                    result.warnings << QStringLiteral("skipped %1 and other links or special files: only files "
                                                      "and folders are synced")
                                           .arg(relText);
                warnedSpecial = true;
                continue;
            }
            LocalEntry local = fromStat(st);
            const auto known = journal.constFind(*rel);
            if (local.isDir()) {
                result.snapshot.insert(*rel, local);
                if (recursive || known == journal.cend() || !known->isDir()) {
                    if (!recursive)
                        walkedRoots.insert(*rel);
                    subdirs.append({ absPath, *rel });
                }
                continue;
            }
            const bool racy = nowNs - local.mtimeNs < Scanner::kRacyWindowNs;
            if (known != journal.cend() && known->statMatches(local)
                && (!racy || known->statProvesUnchanged(local) || known->statProvenByRead(local))) {
                local.blocks = known->blocks;
                local.blockChecks = known->blockChecks;
                // The blocks are still those read then; the flag holds for the ctime it was for.
                local.readAfterCtime = known->readAfterCtime && known->ctimeNs == local.ctimeNs;
            } else if (local.size > 0) {
                // The journal's version lends its block sizes (sticky chunking) and, with
                // its checks, its unchanged blocks (only the changed regions are cut).
                const Chunker::Previous previous = known != journal.cend()
                    ? Chunker::Previous { known->size, qint64(known->blocks.size()), known->blocks, known->blockChecks }
                    : Chunker::Previous {};
                if (previous.checks.isEmpty() && local.size <= Chunker::paramsFor(local.size, previous).minSize
                    && hashWhole(::dirfd(dir), absPath, entry->d_name, relText, local)) {
                    if (!local.unreadable) // its stat, ctime included, held across the read
                        local.readAfterCtime = JournalEntry::readClearlyAfter(local.ctimeNs, readStartNs);
                    result.snapshot.insert(*rel, local);
                    continue;
                }
                auto chunked = chunkEntry(::dirfd(dir), entry->d_name, relText, previous);
                if (!chunked) {
                    local.unreadable = true;
                    result.warnings << QStringLiteral("cannot read %1: %2").arg(relText, chunked.errorMessage());
                } else {
                    local.blocks = chunked->blocks;
                    local.blockChecks = chunked->checks;
                    ++result.hashedFiles;
                    result.hashedBytes += local.size - chunked->reusedBytes;
                    result.reusedBytes += chunked->reusedBytes;
                }
                // It may have changed while we read it: describe what we hashed or nothing.
                struct stat after;
                if (::fstatat(::dirfd(dir), entry->d_name, &after, AT_SYMLINK_NOFOLLOW) != 0
                    || fromStat(after).size != local.size || fromStat(after).mtimeNs != local.mtimeNs)
                    local.unreadable = true;
                else if (!local.unreadable && fromStat(after).ctimeNs == local.ctimeNs
                    && fromStat(after).inode == local.inode)
                    local.readAfterCtime
                        = JournalEntry::readClearlyAfter(local.ctimeNs, readStartNs); // no change since
            }
            result.snapshot.insert(*rel, local);
        }
        ::closedir(dir);
        for (const auto &[abs, rel] : subdirs) {
            if (!result.cancelled)
                walk(abs, rel);
        }
    }
};

void scanPart(const QByteArray &absRoot, const JournalState &journal, const ScanScope &scope, Walker &walker)
{
    // Stat'ed beneath the root: a folder behind a link is no folder of ours.
    const auto statBeneath = [&](const RelativePath &p) { return localfs::Location::at(walker.root, p).stat(); };
    Scanner::Result &result = walker.result;
    const auto absolute
        = [&](const RelativePath &p) { return p.isRoot() ? absRoot : absRoot + '/' + QFile::encodeName(p.toString()); };
    const auto knownDir = [&](const RelativePath &p) {
        const auto it = journal.constFind(p);
        return p.isRoot() || (it != journal.cend() && it->isDir());
    };
    // A folder the journal does not know, or that is no folder on disk any more, is
    // looked at from its parent instead: the parent's listing walks a new folder whole
    // and shows a vanished one gone (with its journal subtree).
    QSet<RelativePath> trees, dirs;
    const auto place = [&](RelativePath p, bool tree) {
        while (!p.isRoot() && (!knownDir(p) || !statBeneath(p).value_or(LocalEntry {}).isDir())) {
            p = p.parent();
            tree = false;
        }
        (tree ? trees : dirs).insert(p);
    };
    for (const RelativePath &t : scope.trees)
        place(t, true);
    for (const RelativePath &d : scope.dirs)
        place(d, false);
    if (trees.contains(RelativePath()))
        return walker.walk(absRoot, RelativePath());

    QSet<RelativePath> listed;
    const auto ownEntry = [&](const RelativePath &p) {
        const auto own = p.isRoot() ? std::nullopt : statBeneath(p);
        if (own) {
            result.snapshot.insert(p, *own);
            ++result.visited;
        }
    };
    for (const RelativePath &t : std::as_const(trees)) {
        if (!t.isRoot() && selfOrAncestorIn(trees, t.parent()))
            continue; // inside another tree
        ownEntry(t);
        walker.walkedRoots.insert(t);
        walker.walk(absolute(t), t);
    }
    for (const RelativePath &d : std::as_const(dirs)) {
        if (selfOrAncestorIn(trees, d))
            continue;
        ownEntry(d);
        listed.insert(d);
        walker.walk(absolute(d), d, false);
    }
    if (result.cancelled)
        return;

    // The journal's side of the scope. A subtree is one run of keys in path order.
    const auto collectTree = [&](const RelativePath &base) {
        for (auto [it, end] = RelativePath::subtreeRun(journal, base); it != end; ++it)
            result.scopedJournal.insert(it.key(), *it);
    };
    // Under a listed folder: the folder, its direct children, and everything under a
    // child folder the listing found gone (or no longer a folder). The subtree of a child
    // folder that is still there is skipped whole: out of this listing's scope (it has
    // its own entry in `listed` if it was reported too). Skipping matters: the root's
    // subtree is the whole journal.
    const auto collectListed = [&](const RelativePath &base) {
        auto [it, end] = RelativePath::subtreeRun(journal, base);
        while (it != end) {
            const RelativePath &p = it.key();
            result.scopedJournal.insert(p, *it);
            if (p != base && p.parent() == base && it->isDir()) {
                const auto seen = result.snapshot.constFind(p);
                if (seen != result.snapshot.cend() && seen->isDir()) {
                    it = RelativePath::subtreeEnd(journal, p); // past its content, on to its next sibling
                    continue;
                }
            }
            ++it;
        }
    };
    result.partial = true;
    for (const RelativePath &d : std::as_const(listed))
        collectListed(d);
    for (const RelativePath &t : std::as_const(walker.walkedRoots))
        collectTree(t);
}

} // namespace

Scanner::Result Scanner::scan(const QString &root, const JournalState &journal, const ScanScope &scope,
    const std::atomic_bool *cancel, QThreadPool *hashing)
{
    Result result;
    struct stat st;
    const QByteArray absRoot = QFile::encodeName(root);
    if (::stat(absRoot.constData(), &st) != 0 || !S_ISDIR(st.st_mode)) {
        result.fatal = QStringLiteral("the folder %1 is missing; syncing stopped so nothing is deleted").arg(root);
        return result;
    }
    if (::access(absRoot.constData(), R_OK | W_OK | X_OK) != 0) {
        result.fatal = QStringLiteral("the folder %1 cannot be read and written").arg(root);
        return result;
    }
    QElapsedTimer timer;
    timer.start();
    const localfs::Dir rootDir = localfs::openDir(root, QString());
    Walker walker { rootDir, journal, result, QDateTime::currentMSecsSinceEpoch() * 1'000'000, cancel, hashing, false,
        {}, {} };
    if (!scope.full)
        scanPart(absRoot, journal, scope, walker);
    else
        walker.walk(absRoot, RelativePath());
    if (cancel && cancel->load())
        result.cancelled = true;
    result.elapsedMs = timer.elapsed();
    return result;
}

void Scanner::setBeforeSmallReadForTests(std::function<void(const QString &)> hook)
{
    s_beforeSmallReadForTests = std::move(hook);
}

std::optional<LocalEntry> Scanner::stat(const QString &absolutePath)
{
    struct stat st;
    if (::lstat(QFile::encodeName(absolutePath).constData(), &st) != 0)
        return std::nullopt;
    return fromStat(st);
}

} // namespace filesync
