#include "scanner.h"

#include "chunker.h"

#include <QDateTime>
#include <QFile>

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace filesync {

using protocol::EntryKind;

namespace {

LocalEntry fromStat(const struct stat &st)
{
    LocalEntry e;
    e.kind = S_ISDIR(st.st_mode) ? EntryKind::Directory : EntryKind::File;
    e.size = e.kind == EntryKind::File ? qint64(st.st_size) : 0;
    e.mtimeNs = qint64(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
    e.inode = quint64(st.st_ino);
    e.mode = quint32(st.st_mode & 07777);
    return e;
}

struct Walker
{
    const JournalState &journal;
    Scanner::Result &result;
    qint64 nowNs;
    const std::atomic_bool *cancel;
    bool warnedSpecial = false;

    void walk(const QByteArray &absDir, const RelativePath &relDir)
    {
        DIR *dir = ::opendir(absDir.constData());
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
            if (::fstatat(::dirfd(dir), entry->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
                continue; // vanished between readdir and stat: not there
            if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode)) {
                if (!warnedSpecial)
                    result.warnings << QStringLiteral("skipped %1 and other links or special files: only files "
                                                      "and folders are synced")
                                           .arg(relText);
                warnedSpecial = true;
                continue;
            }
            LocalEntry local = fromStat(st);
            if (local.isDir()) {
                result.snapshot.insert(*rel, local);
                subdirs.append({ absPath, *rel });
                continue;
            }
            const auto known = journal.constFind(*rel);
            const bool racy = nowNs - local.mtimeNs < Scanner::kRacyWindowNs;
            if (known != journal.cend() && known->statMatches(local) && !racy) {
                local.blocks = known->blocks;
            } else if (local.size > 0) {
                // The journal's version lends its block sizes (sticky chunking).
                const Chunker::Previous previous = known != journal.cend()
                    ? Chunker::Previous { known->size, qint64(known->blocks.size()) }
                    : Chunker::Previous {};
                auto blocks = Chunker::chunkFile(QFile::decodeName(absPath), cancel, previous);
                if (!blocks) {
                    local.unreadable = true;
                    result.warnings << QStringLiteral("cannot read %1: %2").arg(relText, blocks.errorMessage());
                } else {
                    local.blocks = *blocks;
                    ++result.hashedFiles;
                    result.hashedBytes += local.size;
                }
                // It may have changed while we read it: describe what we hashed or nothing.
                struct stat after;
                if (::stat(absPath.constData(), &after) != 0 || fromStat(after).size != local.size
                    || fromStat(after).mtimeNs != local.mtimeNs)
                    local.unreadable = true;
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

} // namespace

Scanner::Result Scanner::scan(const QString &root, const JournalState &journal, const std::atomic_bool *cancel)
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
    Walker walker { journal, result, QDateTime::currentMSecsSinceEpoch() * 1'000'000, cancel };
    walker.walk(absRoot, RelativePath());
    if (cancel && cancel->load())
        result.cancelled = true;
    return result;
}

std::optional<LocalEntry> Scanner::stat(const QString &absolutePath)
{
    struct stat st;
    if (::lstat(QFile::encodeName(absolutePath).constData(), &st) != 0)
        return std::nullopt;
    return fromStat(st);
}

} // namespace filesync
