#include "localfs.h"

#include "enginepools.h"

#include <QFile>
#include <QStringList>

#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <unistd.h>

#include <memory>

namespace filesync::localfs {

namespace {

std::atomic_bool s_walkOnly = false;
std::atomic_bool s_noOpenat2 = false; // the kernel (or a seccomp filter) refused it once

Fd openRoot(const QString &root, int flags)
{
    return Fd(::open(QFile::encodeName(root).constData(), flags | O_DIRECTORY | O_CLOEXEC));
}

// The errno of a step that met something other than a folder on the way.
bool metNonFolder(int error)
{
    return error == ELOOP || error == ENOTDIR;
}

LocalEntry fromStat(const struct stat &st)
{
    LocalEntry e;
    e.kind = S_ISDIR(st.st_mode) ? protocol::EntryKind::Directory : protocol::EntryKind::File;
    e.size = e.kind == protocol::EntryKind::File ? qint64(st.st_size) : 0;
    e.mtimeNs = qint64(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
    e.inode = quint64(st.st_ino);
    e.mode = quint32(st.st_mode & 07777);
    e.ctimeNs = qint64(st.st_ctim.tv_sec) * 1'000'000'000 + st.st_ctim.tv_nsec;
    return e;
}

struct Walked
{
    Fd fd;
    int error = 0;
    QString blocker;
};

// From the root's descriptor one component at a time, never through a link
// (O_NOFOLLOW, and each step checked to be a folder). `create`: missing folders are made.
// The last one is opened with `flags`. Also tells, after openat2 refused, which entry
// was in the way.
Walked walk(int rootFd, const QStringList &parts, int flags, bool create)
{
    Walked w;
    w.fd = Fd(::fcntl(rootFd, F_DUPFD_CLOEXEC, 0));
    if (!w.fd.valid()) {
        w.error = errno;
        return w;
    }
    for (qsizetype i = 0; i < parts.size(); ++i) {
        const QByteArray name = QFile::encodeName(parts.at(i));
        const int stepFlags = (i + 1 == parts.size() ? flags : O_PATH) | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
        int next = ::openat(w.fd.get(), name.constData(), stepFlags);
        if (next < 0 && errno == ENOENT && create) {
            if (::mkdirat(w.fd.get(), name.constData(), 0755) != 0 && errno != EEXIST) {
                w.error = errno;
                w.fd.reset();
                return w;
            }
            next = ::openat(w.fd.get(), name.constData(), stepFlags);
        }
        struct stat st;
        if (next >= 0 && (::fstat(next, &st) != 0 || !S_ISDIR(st.st_mode))) {
            ::close(next); // an O_PATH open of a link itself: not a folder
            next = -1;
            errno = ELOOP;
        }
        if (next < 0) {
            w.error = errno;
            if (metNonFolder(w.error) && ::fstatat(w.fd.get(), name.constData(), &st, AT_SYMLINK_NOFOLLOW) == 0
                && !S_ISDIR(st.st_mode)) {
                // A plain file is just not a folder (ENOTDIR, as before); a link or a
                // special file is in the way, and named.
                w.error = S_ISREG(st.st_mode) ? ENOTDIR : kInTheWay;
                if (w.error == kInTheWay)
                    w.blocker = QStringList(parts.mid(0, i + 1)).join(u'/');
            }
            w.fd.reset();
            return w;
        }
        w.fd = Fd(next);
    }
    return w;
}

// `rootFd`: the root, open (or -1 with errno set).
Dir resolve(int rootFd, const QString &relative, bool forReading, bool create)
{
    const int flags = forReading ? O_RDONLY : O_PATH;
    Walked w;
    if (rootFd < 0) {
        w.error = errno;
    } else if (relative.isEmpty() && forReading) {
        w.fd = Fd(::openat(rootFd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        w.error = w.fd.valid() ? 0 : errno;
    } else if (relative.isEmpty()) {
        w.fd = Fd(::fcntl(rootFd, F_DUPFD_CLOEXEC, 0));
        w.error = w.fd.valid() ? 0 : errno;
    } else {
        int fd = -1;
        int error = ENOSYS;
        if (!s_walkOnly.load(std::memory_order_relaxed) && !s_noOpenat2.load(std::memory_order_relaxed)) {
            open_how how {};
            how.flags = quint64(flags | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
            const QByteArray path = QFile::encodeName(relative);
            // EAGAIN: a rename elsewhere raced the lookup; the walk answers if it persists.
            for (int tries = 0; tries < 8; ++tries) {
                fd = int(::syscall(SYS_openat2, rootFd, path.constData(), &how, sizeof how));
                if (fd >= 0 || (errno != EAGAIN && errno != EINTR))
                    break;
            }
            error = fd < 0 ? errno : 0;
            if (error == ENOSYS || error == EPERM)
                s_noOpenat2 = true; // missing, or filtered out (seccomp): the walk from now on
        }
        if (fd >= 0) {
            w.fd = Fd(fd);
        } else if (error == ENOENT && !create) {
            w.error = ENOENT; // the common answer (a new file's folder), no second look
        } else {
            // The walk has the last word: it names what was in the way, makes what is
            // missing, and stands in where openat2 is missing or filtered out.
            w = walk(rootFd, relative.split(u'/', Qt::SkipEmptyParts), flags, create);
        }
    }
    return Dir(std::move(w.fd), w.error, w.blocker);
}

Dir resolve(const QString &root, const QString &relative, bool forReading, bool create)
{
    const Fd rootFd = openRoot(root, O_PATH);
    return resolve(rootFd.get(), relative, forReading, create);
}

int baseFd(const Dir &base)
{
    if (!base.ok())
        errno = base.error();
    return base.fd();
}

} // namespace

Fd &Fd::operator=(Fd &&other) noexcept
{
    if (this != &other) {
        reset();
        m_fd = std::exchange(other.m_fd, -1);
    }
    return *this;
}

void Fd::reset()
{
    if (m_fd >= 0)
        ::close(m_fd);
    m_fd = -1;
}

QString Dir::problem() const
{
    if (ok())
        return {};
    if (m_error == kInTheWay)
        return QStringLiteral("%1 is a link or special file, which is never followed").arg(m_blocker);
    if (m_error == ENOTDIR)
        return QStringLiteral("a file is where a folder is expected");
    return QString::fromLocal8Bit(strerror(m_error));
}

Dir openDir(const QString &root, const QString &relative, bool forReading)
{
    return resolve(root, relative, forReading, false);
}

Dir makeDirs(const QString &root, const QString &relative)
{
    return resolve(root, relative, false, true);
}

Dir openDir(const Dir &root, const QString &relative, bool forReading)
{
    return resolve(baseFd(root), relative, forReading, false);
}

void setWalkOnlyForTests(bool walkOnly)
{
    s_walkOnly = walkOnly;
}

namespace {
QString parentOf(const QString &relative)
{
    const qsizetype slash = relative.lastIndexOf(u'/');
    return slash < 0 ? QString() : relative.left(slash);
}
} // namespace

Location Location::in(Dir parent, const QString &relative)
{
    Location l;
    l.m_dir = std::move(parent);
    l.m_name = QFile::encodeName(relative.mid(relative.lastIndexOf(u'/') + 1));
    l.m_relative = relative;
    return l;
}

Location Location::inOpen(const Dir &folder, const QString &relative)
{
    Location l = in(Dir(), relative);
    l.m_shared = &folder;
    return l;
}

Location Location::at(const Dir &root, const QString &relative)
{
    return in(resolve(baseFd(root), parentOf(relative), false, false), relative);
}

Location Location::makingFolders(const Dir &root, const QString &relative)
{
    return in(resolve(baseFd(root), parentOf(relative), false, true), relative);
}

Location Location::at(const QString &root, const QString &relative)
{
    return in(openDir(root, parentOf(relative)), relative);
}

Location Location::makingFolders(const QString &root, const QString &relative)
{
    return in(makeDirs(root, parentOf(relative)), relative);
}

FolderCache::FolderCache(const Dir &root)
    : m_root(&root)
{ }

FolderCache::FolderCache(QString root)
    : m_rootPath(std::move(root))
{ }

FolderCache::~FolderCache() = default;

Location FolderCache::locate(const QString &relative, bool create)
{
    if (!m_root) {
        m_ownRoot = openDir(m_rootPath, QString());
        m_root = &m_ownRoot;
    }
    const QString parent = parentOf(relative);
    if (parent.isEmpty())
        return Location::inOpen(*m_root, relative);
    if (const auto kept = m_folders.constFind(parent); kept != m_folders.cend())
        return Location::inOpen(**kept, relative);
    Dir dir = resolve(baseFd(*m_root), parent, false, create);
    if (!dir.ok())
        return Location::in(std::move(dir), relative); // not kept: resolved again when asked again
    const auto kept = m_folders.insert(parent, std::make_shared<const Dir>(std::move(dir)));
    return Location::inOpen(**kept, relative);
}

std::optional<LocalEntry> Location::stat() const
{
    struct stat st;
    if (!ok() || ::fstatat(dir().fd(), m_name.constData(), &st, AT_SYMLINK_NOFOLLOW) != 0)
        return std::nullopt;
    return fromStat(st);
}

bool Location::isLinkOrSpecial() const
{
    struct stat st;
    return ok() && ::fstatat(dir().fd(), m_name.constData(), &st, AT_SYMLINK_NOFOLLOW) == 0 && !S_ISDIR(st.st_mode)
        && !S_ISREG(st.st_mode);
}

Fd Location::open(int flags, mode_t mode) const
{
    if (!ok()) {
        errno = dir().error();
        return Fd();
    }
    return Fd(::openat(dir().fd(), m_name.constData(), flags | O_NOFOLLOW | O_CLOEXEC, mode));
}

bool Location::removeFile() const
{
    return ok() && ::unlinkat(dir().fd(), m_name.constData(), 0) == 0;
}

bool Location::removeDir() const
{
    return ok() && ::unlinkat(dir().fd(), m_name.constData(), AT_REMOVEDIR) == 0;
}

bool Location::makeDir(mode_t mode) const
{
    return ok() && ::mkdirat(dir().fd(), m_name.constData(), mode) == 0;
}

bool renameNoReplace(const Location &from, const Location &to)
{
    if (!from.ok() || !to.ok()) {
        errno = !from.ok() ? from.dir().error() : to.dir().error();
        return false;
    }
    const int fromDir = from.dir().fd(), toDir = to.dir().fd();
    if (::renameat2(fromDir, from.name().constData(), toDir, to.name().constData(), RENAME_NOREPLACE) == 0)
        return true;
    if (errno != EINVAL && errno != ENOSYS)
        return false;
    // A file system without RENAME_NOREPLACE: linkat(2) fails with EEXIST just the same.
    // Directories cannot be hard-linked, so they are left where they are.
    if (::linkat(fromDir, from.name().constData(), toDir, to.name().constData(), 0) != 0)
        return false;
    ::unlinkat(fromDir, from.name().constData(), 0);
    return true;
}

bool renameReplacing(const Location &from, const Location &to)
{
    if (!from.ok() || !to.ok()) {
        errno = !from.ok() ? from.dir().error() : to.dir().error();
        return false;
    }
    return ::renameat(from.dir().fd(), from.name().constData(), to.dir().fd(), to.name().constData()) == 0;
}

void syncDirectory(const Dir &dir)
{
    if (dir.ok())
        ::fsync(dir.fd());
}

std::optional<LocalEntry> statFd(int fd)
{
    struct stat st;
    if (::fstat(fd, &st) != 0)
        return std::nullopt;
    return fromStat(st);
}

void startWriteBack(int fd, qint64 offset, qint64 length)
{
    ::sync_file_range(fd, off_t(offset), off_t(length), SYNC_FILE_RANGE_WRITE);
}

// Write-back starts for temp files written on the engine thread, and the release of big
// replaced files, go to their own pool: both may block on the disk, and neither the
// engine thread nor the pool the copies and syncs share should wait.
void startWriteBackOnPool(EnginePools &pools, int fd)
{
    // A descriptor of its own: the file may be closed (or failed) before the job runs.
    const int own = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (own < 0)
        return; // only an optimisation: the sync before the rename flushes all of it
    pools.start(pools.writeBack(), [own] {
        startWriteBack(own, 0, 0);
        ::close(own);
    });
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
