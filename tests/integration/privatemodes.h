#pragma once

// Test helpers for the modes of private data (privatefiles.h): what under a folder is
// open to others, and making a folder look like one written before that rule.
#include <QDirIterator>
#include <QFile>
#include <QStringList>

#include <sys/stat.h>

namespace filesync::privatetest {

inline mode_t modeOf(const QString &path)
{
    struct stat st;
    return ::lstat(QFile::encodeName(path).constData(), &st) == 0 ? st.st_mode : 0;
}

// `root` and everything under it whose mode is not 0700 (folders) or 0600 (files), as
// "path mode" lines; empty when all are private.
inline QStringList notPrivate(const QString &root)
{
    QStringList out;
    const auto check = [&out](const QString &path) {
        const mode_t mode = modeOf(path);
        const mode_t want = S_ISDIR(mode) ? 0700 : 0600;
        if (!S_ISLNK(mode) && (mode & 07777) != want)
            out << path + u' ' + QString::number(mode & 07777, 8);
    };
    check(root);
    QDirIterator it(
        root, QDir::AllEntries | QDir::Hidden | QDir::System | QDir::NoDotAndDotDot, QDirIterator::Subdirectories);
    while (it.hasNext())
        check(it.next());
    return out;
}

// Everything under `root` (and itself) 0755 / 0644, with the SQLite side files of
// `databases` present, as an older build under umask 022 left them.
inline void makeOpen(const QString &root, const QStringList &databases = {})
{
    for (const QString &db : databases) {
        for (const char *suffix : { "-wal", "-shm" }) {
            QFile side(db + QLatin1String(suffix));
            if (!side.exists())
                (void)side.open(QIODevice::WriteOnly);
        }
    }
    ::chmod(QFile::encodeName(root).constData(), 0755);
    QDirIterator it(
        root, QDir::AllEntries | QDir::Hidden | QDir::System | QDir::NoDotAndDotDot, QDirIterator::Subdirectories);
    while (it.hasNext()) {
        const QString path = it.next();
        ::chmod(QFile::encodeName(path).constData(), it.fileInfo().isDir() ? 0755 : 0644);
    }
}

} // namespace filesync::privatetest
