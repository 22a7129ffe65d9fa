#include "localfs.h"

#include <QFile>

#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <ctime>
#include <fcntl.h>
#include <unistd.h>

#include <memory>

namespace filesync::localfs {

bool renameNoReplace(const QString &from, const QString &to)
{
    const QByteArray f = QFile::encodeName(from), t = QFile::encodeName(to);
    if (::renameat2(AT_FDCWD, f.constData(), AT_FDCWD, t.constData(), RENAME_NOREPLACE) == 0)
        return true;
    if (errno != EINVAL && errno != ENOSYS)
        return false;
    // A file system without RENAME_NOREPLACE: link(2) fails with EEXIST just the same.
    // Directories cannot be hard-linked, so they are left where they are.
    if (::link(f.constData(), t.constData()) != 0)
        return false;
    ::unlink(f.constData());
    return true;
}

namespace {
bool isDirectory(const QByteArray &path)
{
    struct stat st;
    return ::lstat(path.constData(), &st) == 0 && S_ISDIR(st.st_mode);
}
} // namespace

bool makeDirs(const QString &root, const RelativePath &dir)
{
    QByteArray path = QFile::encodeName(root);
    if (!isDirectory(path))
        return false;
    const QStringList parts = dir.toString().split(u'/', Qt::SkipEmptyParts);
    for (const QString &part : parts) {
        path += '/' + QFile::encodeName(part);
        if (::mkdir(path.constData(), 0755) != 0 && !(errno == EEXIST && isDirectory(path)))
            return false;
    }
    return true;
}

void syncDirectory(const QString &dir)
{
    const int fd = ::open(QFile::encodeName(dir).constData(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return;
    ::fsync(fd);
    ::close(fd);
}

std::optional<LocalEntry> statFd(int fd)
{
    struct stat st;
    if (::fstat(fd, &st) != 0)
        return std::nullopt;
    LocalEntry e;
    e.kind = S_ISDIR(st.st_mode) ? protocol::EntryKind::Directory : protocol::EntryKind::File;
    e.size = e.kind == protocol::EntryKind::File ? qint64(st.st_size) : 0;
    e.mtimeNs = qint64(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
    e.inode = quint64(st.st_ino);
    e.mode = quint32(st.st_mode & 07777);
    e.ctimeNs = qint64(st.st_ctim.tv_sec) * 1'000'000'000 + st.st_ctim.tv_nsec;
    return e;
}

void startWriteBack(int fd, qint64 offset, qint64 length)
{
    ::sync_file_range(fd, off_t(offset), off_t(length), SYNC_FILE_RANGE_WRITE);
}

qint64 realtimeNs()
{
    timespec ts {};
    ::clock_gettime(CLOCK_REALTIME, &ts);
    return qint64(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

namespace {
// Steps of at most this size: a cancel is seen within one step.
constexpr qint64 kCopyStep = 8 * 1024 * 1024;

bool copyByReadWrite(int from, qint64 fromOffset, int to, qint64 toOffset, qint64 length)
{
    constexpr qint64 kBuffer = 1024 * 1024;
    const auto buffer = std::make_unique<char[]>(size_t(qMin(length, kBuffer)));
    while (length > 0) {
        const ssize_t n = ::pread(from, buffer.get(), size_t(qMin(length, kBuffer)), off_t(fromOffset));
        if (n <= 0) {
            if (n < 0 && errno == EINTR)
                continue;
            return false;
        }
        if (::pwrite(to, buffer.get(), size_t(n), off_t(toOffset)) != n)
            return false;
        fromOffset += n;
        toOffset += n;
        length -= n;
    }
    return true;
}
} // namespace

bool copyRange(int from, qint64 fromOffset, int to, qint64 toOffset, qint64 length, qint64 writeBackEvery,
    const std::atomic_bool *cancel)
{
    bool kernelCopy = true;
    qint64 unflushedFrom = toOffset;
    while (length > 0) {
        if (cancel && cancel->load(std::memory_order_relaxed))
            return false;
        const qint64 step = qMin(length, kCopyStep);
        qint64 done = 0;
        if (kernelCopy) {
            loff_t in = fromOffset, out = toOffset;
            const ssize_t n = ::copy_file_range(from, &in, to, &out, size_t(step), 0);
            if (n > 0) {
                done = n;
            } else if (n == 0) {
                return false; // the source ends early
            } else if (errno == EINTR) {
                continue;
            } else if (errno == EXDEV || errno == ENOSYS || errno == EINVAL || errno == EOPNOTSUPP || errno == EBADF) {
                kernelCopy = false; // an older kernel or a file system that cannot: plain copy
                continue;
            } else {
                return false;
            }
        } else {
            if (!copyByReadWrite(from, fromOffset, to, toOffset, step))
                return false;
            done = step;
        }
        fromOffset += done;
        toOffset += done;
        length -= done;
        if (writeBackEvery > 0 && toOffset - unflushedFrom >= writeBackEvery) {
            startWriteBack(to, unflushedFrom, toOffset - unflushedFrom);
            unflushedFrom = toOffset;
        }
    }
    return true;
}

} // namespace filesync::localfs
