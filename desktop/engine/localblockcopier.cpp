#include "localblockcopier.h"

#include "chunker.h"
#include "enginelogging.h"
#include "journal.h"
#include "localfs.h"

#include <QElapsedTimer>

#include <algorithm>
#include <fcntl.h>
#include <unistd.h>
#include <vector>

namespace filesync {

using namespace protocol;

LocalBlockCopier::LocalBlockCopier(const QString &root, EnginePools &pools)
    : m_root(root)
    , m_pools(pools)
{ }

void LocalBlockCopier::index(const JournalState &sources, const QSet<ContentHash> &wanted)
{
    m_localSources.clear();
    m_knownChecks.clear();
    for (auto it = wanted.isEmpty() ? sources.cend() : sources.cbegin(); it != sources.cend(); ++it) {
        qint64 offset = 0;
        QString path;
        std::shared_ptr<const JournalEntry> recorded;
        std::vector<quint64> checks; // the entry's, when valid: a block's check is its bytes'
        for (qsizetype i = 0; i < it->blocks.size(); ++i) {
            const BlockRef &b = it->blocks.at(i);
            if (wanted.contains(b.hash)) {
                if (path.isEmpty()) {
                    path = it.key().toString();
                    recorded = std::make_shared<const JournalEntry>(*it);
                    if (!it->blockChecks.isEmpty())
                        checks = Chunker::unpackChecks(it->blocks, it->blockChecks);
                }
                m_localSources.insert(b.hash, { path, offset, recorded });
                if (!checks.empty())
                    m_knownChecks.insert(b.hash, checks[size_t(i)]);
            }
            offset += b.size;
        }
    }
}

void LocalBlockCopier::add(
    const RelativePath &path, const QList<BlockRef> &blocks, const std::shared_ptr<const JournalEntry> &recorded)
{
    qint64 offset = 0;
    for (const BlockRef &b : blocks) {
        m_localSources.insert(b.hash, { path.toString(), offset, recorded });
        offset += b.size;
    }
}

std::optional<quint64> LocalBlockCopier::checkOf(const ContentHash &hash) const
{
    const auto check = m_knownChecks.constFind(hash);
    return check != m_knownChecks.cend() ? std::optional<quint64>(*check) : std::optional<quint64>();
}

QFuture<QSet<ContentHash>> LocalBlockCopier::start(
    const QList<QPair<BlockRef, QList<Target>>> &blocks, const std::shared_ptr<std::atomic_bool> &cancel) const
{
    QList<LocalSource> copies;
    QHash<const JournalEntry *, qsizetype> sourceIndex; // recorded stat -> its place in `copies`
    for (const auto &[b, targets] : blocks) {
        const LocalBlock source = m_localSources.value(b.hash);
        auto index = sourceIndex.constFind(source.recorded.get());
        if (index == sourceIndex.cend()) {
            copies.append({ source.path, source.recorded, {} });
            index = sourceIndex.insert(source.recorded.get(), copies.size() - 1);
        }
        copies[*index].copies.append({ b, source.offset, targets });
    }
    return m_pools.run(
        m_pools.work(), [root = m_root, copies, cancel] { return copyLocalBlocks(root, copies, cancel.get()); });
}

namespace {
std::function<void(const QString &)> s_duringProvenCopyForTests;

int openTarget(const QString &root, QHash<QString, int> &targets, const QString &path)
{
    auto it = targets.constFind(path);
    if (it == targets.cend()) {
        // No O_CREAT: a temp file the engine already removed (abort) stays gone.
        it = targets.insert(path, Journal::tempFile(root, path).open(O_WRONLY).release());
    }
    return *it;
}

// Whether the open source still has the stat recorded for it, in a way that proves its
// bytes unchanged since: statProvesUnchanged (size, mtime, inode and ctime as recorded,
// and a recorded mtime that differs from its ctime, as a download leaves it). Not the
// scanner's weaker rule for old mtimes: a rewrite in the same clock tick as the recorded
// stat leaves mtime == ctime unchanged, and copied bytes would land in another file.
bool provenUnchanged(int fd, const JournalEntry &recorded)
{
    const auto now = localfs::statFd(fd);
    return now && !now->isDir() && recorded.statProvesUnchanged(*now);
}
} // namespace

QSet<ContentHash> LocalBlockCopier::copyLocalBlocks(
    const QString &root, const QList<LocalSource> &sources, const std::atomic_bool *cancel)
{
    QSet<ContentHash> written;
    QHash<QString, int> targets; // open temp files, by path
    QElapsedTimer timer;
    timer.start();
    for (const LocalSource &source : sources) {
        if (cancel->load(std::memory_order_relaxed))
            break;
        // Beneath the root, never through a link: a link's target is not ours to read.
        const int fd = localfs::Location::at(root, source.path).open(O_RDONLY).release();
        if (fd < 0)
            continue; // gone: the server has its blocks
        // Read in order, mostly: a source not in the page cache was read in small steps
        // without this (a cold 1 GiB copy: 3.5-6.4 s, with it 1.4-1.8 s here).
        ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
        QList<bool> ok(source.copies.size(), true);
        // A source whose stat proves it unchanged since the journal recorded its blocks is
        // copied without being read here (the old version of a big file being patched);
        // any other is read and re-hashed block by block.
        if (!source.recorded || !copyProven(root, fd, source, targets, ok, cancel))
            copyVerified(root, fd, source, targets, ok, cancel);
        ::close(fd);
        for (qsizetype i = 0; i < source.copies.size(); ++i) {
            if (ok.at(i))
                written.insert(source.copies.at(i).block.hash);
        }
    }
    for (const int fd : std::as_const(targets)) {
        if (fd >= 0)
            ::close(fd);
    }
    qCDebug(lcDownload) << "copied" << written.size() << "blocks from" << sources.size() << "local files in"
                        << timer.elapsed() << "ms";
    return written;
}

// Kernel-side copies of the source's blocks, contiguous runs (in source and target) in
// one step each. False, with nothing claimed, when the stat does not prove the source
// unchanged before the copy (the caller verifies instead). If it moved during the copy,
// the bytes written may be wrong: every block of the source is then reported not written,
// and the server's copy of each is written over the same range before the file is closed.
bool LocalBlockCopier::copyProven(const QString &root, int fd, const LocalSource &source, QHash<QString, int> &targets,
    QList<bool> &ok, const std::atomic_bool *cancel)
{
    if (!provenUnchanged(fd, *source.recorded))
        return false;
    if (s_duringProvenCopyForTests)
        s_duringProvenCopyForTests(root + u'/' + source.path);
    struct Piece
    {
        const QString *target;
        qint64 targetOffset;
        qint64 sourceOffset;
        qint64 size;
        qsizetype copy;
    };
    std::vector<Piece> pieces;
    for (qsizetype i = 0; i < source.copies.size(); ++i) {
        const LocalCopy &c = source.copies.at(i);
        for (const auto &t : c.targets)
            pieces.push_back({ &t.first, t.second, c.sourceOffset, qint64(c.block.size), i });
    }
    std::sort(pieces.begin(), pieces.end(), [](const Piece &a, const Piece &b) {
        return *a.target != *b.target ? *a.target < *b.target : a.targetOffset < b.targetOffset;
    });
    QList<qsizetype> run; // the copies in the run being gathered
    for (size_t i = 0; i < pieces.size();) {
        const Piece &first = pieces[i];
        qint64 size = 0;
        run.clear();
        size_t j = i;
        for (; j < pieces.size() && *pieces[j].target == *first.target
             && pieces[j].targetOffset == first.targetOffset + size
             && pieces[j].sourceOffset == first.sourceOffset + size;
             ++j) {
            size += pieces[j].size;
            run.append(pieces[j].copy);
        }
        const int to = openTarget(root, targets, *first.target);
        if (to < 0
            || !localfs::copyRange(
                fd, first.sourceOffset, to, first.targetOffset, size, localfs::kWriteBackBytes, cancel)) {
            for (const qsizetype c : std::as_const(run))
                ok[c] = false;
        }
        i = j;
    }
    // Written while we copied (or replaced and rewritten: the descriptor still names the
    // old inode, whose bytes nobody writes, so that is harmless, and the stat says so).
    if (!provenUnchanged(fd, *source.recorded)) {
        qCInfo(lcDownload) << "changed while its blocks were copied; fetching them instead:" << source.path;
        ok.fill(false);
    }
    return true;
}

// Each block read from the source and re-hashed: only bytes with the right hash are
// written into the temp files.
void LocalBlockCopier::copyVerified(const QString &root, int fd, const LocalSource &source,
    QHash<QString, int> &targets, QList<bool> &ok, const std::atomic_bool *cancel)
{
    QByteArray raw;
    for (qsizetype i = 0; i < source.copies.size(); ++i) {
        if (cancel->load(std::memory_order_relaxed)) {
            ok.fill(false, source.copies.size());
            return;
        }
        const LocalCopy &copy = source.copies.at(i);
        raw.resize(qsizetype(copy.block.size));
        if (::pread(fd, raw.data(), size_t(raw.size()), off_t(copy.sourceOffset)) != raw.size()
            || ContentHash::of(raw) != copy.block.hash) {
            ok[i] = false;
            continue;
        }
        for (const auto &[path, offset] : copy.targets) {
            const int to = openTarget(root, targets, path);
            if (to < 0 || ::pwrite(to, raw.constData(), size_t(raw.size()), off_t(offset)) != raw.size())
                ok[i] = false;
            else if ((offset + raw.size()) / localfs::kWriteBackBytes != offset / localfs::kWriteBackBytes)
                localfs::startWriteBack(to, 0, 0);
        }
    }
}

void LocalBlockCopier::setDuringProvenCopyForTests(std::function<void(const QString &)> hook)
{
    s_duringProvenCopyForTests = std::move(hook);
}

} // namespace filesync
