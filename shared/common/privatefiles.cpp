#include "privatefiles.h"

#include "logging.h"

#include <QDir>
#include <QFile>

#include <cerrno>
#include <cstring>

#include <fcntl.h>
#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

namespace filesync::privatefiles {

namespace {
void warnMode(const QByteArray &path, int error)
{
    qCWarning(lcCommon).noquote() << "cannot make" << QFile::decodeName(path)
                                  << "private to its owner:" << QString::fromLocal8Bit(std::strerror(error));
}

void setMode(const QString &path, mode_t mode)
{
    struct stat st;
    const QByteArray native = QFile::encodeName(path);
    if (::lstat(native.constData(), &st) != 0) {
        if (errno != ENOENT)
            warnMode(native, errno);
        return;
    }
    if (!S_ISLNK(st.st_mode) && (st.st_mode & 07777) != mode && ::chmod(native.constData(), mode) != 0)
        warnMode(native, errno);
}

int fixEntry(const char *path, const struct stat *st, int type, struct FTW *)
{
    mode_t mode = 0;
    if (type == FTW_D || type == FTW_DNR)
        mode = kDirMode;
    else if (type == FTW_F)
        mode = kFileMode;
    else
        return 0; // symbolic links and whatever else are left alone
    if ((st->st_mode & 07777) != mode && ::chmod(path, mode) != 0)
        warnMode(QByteArray(path), errno);
    return 0; // go on: fix what can be fixed
}
} // namespace

Result<void> makeDir(const QString &path)
{
    if (!QDir().mkpath(path))
        return makeError(QStringLiteral("cannot create %1").arg(QDir::toNativeSeparators(path)));
    setMode(path, kDirMode);
    return {};
}

Result<void> touchFile(const QString &path)
{
    const int fd = ::open(QFile::encodeName(path).constData(), O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, kFileMode);
    if (fd < 0)
        return makeError(QStringLiteral("cannot create %1: %2")
                             .arg(QDir::toNativeSeparators(path), QString::fromLocal8Bit(std::strerror(errno))));
    ::close(fd);
    setMode(path, kFileMode);
    return {};
}

void fixFile(const QString &path)
{
    setMode(path, kFileMode);
}

Result<void> prepareDatabase(const QString &path)
{
    if (auto created = touchFile(path); !created)
        return created;
    for (const char *suffix : { "-wal", "-shm", "-journal" })
        fixFile(path + QLatin1String(suffix));
    return {};
}

void fixTree(const QString &dir)
{
    const QByteArray native = QFile::encodeName(dir);
    if (::nftw(native.constData(), fixEntry, 64, FTW_PHYS) != 0)
        warnMode(native, errno);
}

bool isPrivateDir(const QString &path)
{
    struct stat st;
    return ::lstat(QFile::encodeName(path).constData(), &st) == 0 && S_ISDIR(st.st_mode)
        && (st.st_mode & 07777) == kDirMode;
}

} // namespace filesync::privatefiles
