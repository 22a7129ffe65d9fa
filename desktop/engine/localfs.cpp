#include "localfs.h"

#include <QFile>

#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <fcntl.h>
#include <unistd.h>

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

} // namespace filesync::localfs
