#include "journal.h"

#include <QCborArray>
#include <QCborMap>
#include <QCborValue>

namespace filesync {

using namespace protocol;

namespace {
const QString kLandingKey = QStringLiteral("landing"); // downloads being renamed into place

QCborMap toCbor(const RelativePath &path, const JournalEntry &e)
{
    QCborMap m;
    m.insert(QStringLiteral("p"), path.toString());
    m.insert(QStringLiteral("s"), e.size);
    m.insert(QStringLiteral("m"), e.mtimeNs);
    m.insert(QStringLiteral("i"), qint64(e.inode));
    m.insert(QStringLiteral("o"), qint64(e.mode));
    m.insert(QStringLiteral("v"), qint64(e.version));
    m.insert(QStringLiteral("b"), packBlockList(e.blocks));
    m.insert(QStringLiteral("c"), e.ctimeNs);
    m.insert(QStringLiteral("k"), e.blockChecks);
    m.insert(QStringLiteral("r"), e.readAfterCtime);
    return m;
}

std::optional<std::pair<RelativePath, JournalEntry>> fromCbor(const QCborMap &m)
{
    const auto path = RelativePath::fromString(m.value(QStringLiteral("p")).toString());
    if (!path)
        return std::nullopt;
    JournalEntry e;
    e.size = m.value(QStringLiteral("s")).toInteger();
    e.mtimeNs = m.value(QStringLiteral("m")).toInteger();
    e.inode = quint64(m.value(QStringLiteral("i")).toInteger());
    e.mode = quint32(m.value(QStringLiteral("o")).toInteger());
    e.version = quint64(m.value(QStringLiteral("v")).toInteger());
    e.blocks = unpackBlockList(m.value(QStringLiteral("b")).toByteArray());
    e.ctimeNs = m.value(QStringLiteral("c")).toInteger();
    e.blockChecks = m.value(QStringLiteral("k")).toByteArray();
    e.readAfterCtime = m.value(QStringLiteral("r")).toBool();
    return std::pair { *path, e };
}
} // namespace

void Journal::setLanding(const Landing &files)
{
    if (files.isEmpty()) {
        if (!value(kLandingKey).isEmpty())
            removeValue(kLandingKey);
        return;
    }
    QCborArray list;
    for (const auto &[path, e] : files)
        list.append(toCbor(path, e));
    setValue(kLandingKey, QString::fromLatin1(list.toCborValue().toCbor().toBase64()));
}

Journal::Landing Journal::landing() const
{
    Landing files;
    const QString stored = value(kLandingKey);
    if (stored.isEmpty())
        return files;
    for (const QCborValue &v : QCborValue::fromCbor(QByteArray::fromBase64(stored.toLatin1())).toArray()) {
        if (const auto file = fromCbor(v.toMap()))
            files.append(*file);
    }
    return files;
}

// A file at its path with the very stat it had in the temp folder (a rename keeps inode,
// size, time and mode) is that download; anything else there is left to the next scan.
void Journal::adoptLanded()
{
    const Landing files = landing();
    if (files.isEmpty())
        return;
    begin();
    for (const auto &[path, e] : files) {
        const auto now = localfs::Location::at(m_folder, path).stat();
        if (now && !now->isDir() && e.statMatches(*now) && now->mode == e.mode)
            put(path, e);
    }
    setLanding({});
    commit();
}

} // namespace filesync
