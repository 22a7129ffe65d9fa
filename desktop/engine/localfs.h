#pragma once

#include "localentry.h"
#include "relativepath.h"

#include <QByteArray>
#include <QHash>
#include <QString>

#include <sys/types.h>

#include <atomic>
#include <cerrno>
#include <memory>
#include <optional>
#include <utility>

namespace filesync {
class EnginePools;
} // namespace filesync

namespace filesync::localfs {

// The one way the engine reaches an entry of the sync root (see docs/architecture.md,
// "Safety rules"): every folder on the way is resolved beneath the root, never through a
// link or a special file (openat2 RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS, or an O_NOFOLLOW
// walk from the root's descriptor where the kernel lacks openat2), and the entry itself
// is reached by *at() calls on that folder's descriptor without following it. A link in
// the synced folder (skipped by the scan) can then never make a write land outside it.

// errno of a path refused because a link or special file is where a folder is expected.
constexpr int kInTheWay = ELOOP;

// An open descriptor, closed when dropped.
class Fd
{
public:
    Fd() = default;
    explicit Fd(int fd)
        : m_fd(fd)
    { }
    Fd(Fd &&other) noexcept
        : m_fd(std::exchange(other.m_fd, -1))
    { }
    Fd &operator=(Fd &&other) noexcept;
    Fd(const Fd &) = delete;
    Fd &operator=(const Fd &) = delete;
    ~Fd() { reset(); }
    int get() const { return m_fd; }
    bool valid() const { return m_fd >= 0; }
    int release() { return std::exchange(m_fd, -1); }
    void reset();

private:
    int m_fd = -1;
};

// A folder beneath the sync root, open, or why not.
class Dir
{
public:
    Dir() = default;
    Dir(Fd fd, int error, QString blocker)
        : m_fd(std::move(fd))
        , m_error(error)
        , m_blocker(std::move(blocker))
    { }
    bool ok() const { return m_fd.valid(); }
    explicit operator bool() const { return ok(); }
    int fd() const { return m_fd.get(); }
    int release() { return m_fd.release(); } // the descriptor, now the caller's to close
    // When !ok(): ENOENT (a folder on the way, or the root, is missing), kInTheWay (a
    // link or special file on the way, named by blocker()), or another errno.
    int error() const { return m_error; }
    bool inTheWay() const { return !ok() && m_error == kInTheWay; }
    const QString &blocker() const { return m_blocker; } // relative to the root
    // When !ok(): why, in one sentence a user can read.
    QString problem() const;

private:
    Fd m_fd;
    int m_error = 0;
    QString m_blocker;
};

// Opens the folder `relative` ("a/b", '/'-separated, no "." or ".." components; empty:
// the root) beneath `root`. `forReading`: a descriptor that can be listed and fsync'ed;
// otherwise O_PATH (enough for *at() calls, and needs no read permission).
Dir openDir(const QString &root, const QString &relative, bool forReading = false);
// The same from the root already open: for a pass over many folders.
Dir openDir(const Dir &root, const QString &relative, bool forReading = false);

// The same, creating the missing folders on the way (0755), one level at a time and only
// while `root` itself is there: a sync root that vanished (an unmounted drive, a folder
// moved away) is never re-created by us.
Dir makeDirs(const QString &root, const QString &relative);
inline Dir makeDirs(const QString &root, const RelativePath &dir)
{
    return makeDirs(root, dir.toString());
}

// An entry beneath the sync root: its folder (see Dir) and its name there. Every step of
// the engine that writes, renames, deletes, changes or reads a local file goes through
// one. Nothing here follows a link, at the entry itself either.
class Location
{
public:
    // `relative`: a RelativePath's text, or a path inside the metadata folder.
    static Location at(const QString &root, const QString &relative);
    static Location at(const QString &root, const RelativePath &path) { return at(root, path.toString()); }
    // The same from the root already open (openDir(root, {})): one system call less per
    // path for a batch; an open root is the same folder even if it is moved meanwhile.
    static Location at(const Dir &root, const QString &relative);
    static Location at(const Dir &root, const RelativePath &path) { return at(root, path.toString()); }
    static Location makingFolders(const Dir &root, const QString &relative);
    static Location makingFolders(const Dir &root, const RelativePath &path)
    {
        return makingFolders(root, path.toString());
    }
    // The same, making the folders on the way (makeDirs).
    static Location makingFolders(const QString &root, const QString &relative);
    static Location makingFolders(const QString &root, const RelativePath &path)
    {
        return makingFolders(root, path.toString());
    }
    // The entry `relative`'s last name directly inside `folder`, already open (the temp
    // folder, a FolderCache's folder): no system call. `folder` must outlive it.
    static Location inOpen(const Dir &folder, const QString &relative);

    bool ok() const { return dir().ok(); }
    // Its folder is there, or is missing (ENOENT) or a plain file (ENOTDIR): either
    // way nothing is at the path. False for a link in the way or another error.
    bool folderKnown() const { return ok() || dir().error() == ENOENT || dir().error() == ENOTDIR; }
    const Dir &dir() const { return m_shared ? *m_shared : m_dir; }
    bool inTheWay() const { return dir().inTheWay(); }
    const QByteArray &name() const { return m_name; }
    const QString &relative() const { return m_relative; }

    // lstat of the entry itself: nullopt when it is not there (or its folder is not:
    // see ok()). A link or special file shows as a file; isLinkOrSpecial() tells.
    std::optional<LocalEntry> stat() const;
    bool isLinkOrSpecial() const;
    // openat() of the entry with O_NOFOLLOW | O_CLOEXEC added: -1 (errno set) when its
    // folder could not be opened or the entry is a link (ELOOP).
    Fd open(int flags, mode_t mode = 0) const;
    bool removeFile() const; // unlinkat: a file, or a link itself (never its target)
    bool removeDir() const; // an empty folder
    bool makeDir(mode_t mode = 0755) const;

private:
    friend class FolderCache;
    // The entry `relative`'s last name inside the already opened `parent`.
    static Location in(Dir parent, const QString &relative);

    Dir m_dir;
    const Dir *m_shared = nullptr; // not owned: the folder, when it is someone else's (inOpen)
    QByteArray m_name;
    QString m_relative;
};

// The folders of one pass over many paths beneath an open root (the installs of a batch
// of downloads, a step of upload reads), each resolved beneath the root (as Location::at
// does) the first time a path in it is asked for, then reused: one openat2 a folder
// rather than one a path. Held only for the pass, never across passes (a folder moved
// meanwhile is found where it is by the next one). The Locations it gives must not
// outlive it, nor it `root`. A folder that could not be opened is not kept.
class FolderCache
{
public:
    explicit FolderCache(const Dir &root);
    // The root opened when the first path is asked for, and held as long as this.
    explicit FolderCache(QString root);
    ~FolderCache();
    FolderCache(const FolderCache &) = delete;
    FolderCache &operator=(const FolderCache &) = delete;

    Location at(const QString &relative) { return locate(relative, false); }
    Location at(const RelativePath &path) { return at(path.toString()); }
    Location makingFolders(const QString &relative) { return locate(relative, true); }
    Location makingFolders(const RelativePath &path) { return makingFolders(path.toString()); }

private:
    Location locate(const QString &relative, bool create);

    const Dir *m_root = nullptr;
    QString m_rootPath; // to open it as m_ownRoot (when m_root is not given)
    Dir m_ownRoot;
    QHash<QString, std::shared_ptr<const Dir>> m_folders; // by path relative to the root
};

// Renames only if nothing is at `to` (renameat2 RENAME_NOREPLACE; where the file system
// lacks it, linkat + unlinkat, which refuses an existing target too). False with errno
// set when it did not happen (either folder not open: its error()).
bool renameNoReplace(const Location &from, const Location &to);
// Renames over whatever file is at `to` (renameat).
bool renameReplacing(const Location &from, const Location &to);

// For tests: resolve by the O_NOFOLLOW walk even where openat2 works.
void setWalkOnlyForTests(bool walkOnly);

// The few file-system steps where POSIX gives guarantees QFile does not: renames that
// never replace what is at the target, and fsync of a directory. Any thread.

// Makes a rename or creation inside `dir` (an open folder) durable.
void syncDirectory(const Dir &dir);

// The stat of an open file, as the scanner would record it (no blocks).
std::optional<LocalEntry> statFd(int fd);

// Copies `length` bytes at `fromOffset` of `from` to `toOffset` of `to`: copy_file_range(2)
// (inside the kernel, no user-space buffer; a reflink where the file system shares
// extents), read/write where the kernel cannot. Never moves either file offset. Starts
// write-back of what it wrote every `writeBackEvery` bytes (0: never) so a later fdatasync
// has little left to wait for. `cancel` (may be null) is checked between steps. False
// when not every byte was copied (a source shorter than expected, an I/O error).
bool copyRange(int from, qint64 fromOffset, int to, qint64 toOffset, qint64 length, qint64 writeBackEvery,
    const std::atomic_bool *cancel);

// Starts write-back of the file's dirty pages in [offset, offset + length) (length 0: to
// the end) without waiting for it: sync_file_range(SYNC_FILE_RANGE_WRITE). Durability
// still needs fdatasync; this only makes that one short.
void startWriteBack(int fd, qint64 offset, qint64 length);

// A temp file's write-back is started every this many bytes written, so that the sync
// before its rename finds little left to flush (this machine has room for gigabytes
// of dirty pages: without it the whole file waited for that sync).
constexpr qint64 kWriteBackBytes = 8 * 1024 * 1024;

// Write-back of a temp file written by the engine thread, started on the writeBack
// pool (it may block on a busy disk); for the Downloader's and the Prefetcher's temp files.
void startWriteBackOnPool(EnginePools &pools, int fd);

// CLOCK_REALTIME in nanoseconds: the clock file times are stamped from (coarsely), for
// JournalEntry::readClearlyAfter.
qint64 realtimeNs();

} // namespace filesync::localfs
