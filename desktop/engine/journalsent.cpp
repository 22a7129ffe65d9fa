// The Journal's record of the Commit in flight (setSent, sent, sentMoves, clearSent): its
// puts and moves, kept until the answer comes, so that an unanswered commit is recognised
// in the feed later (SyncCycle::adoptSent).
#include "journal.h"

#include <QCborArray>
#include <QCborMap>
#include <QCborValue>

namespace filesync {

using namespace protocol;

namespace {

const QString kSentKey = QStringLiteral("sent-ops"); // the puts and moves of the Commit in flight

QCborMap sentToCbor(const RelativePath &path, const JournalEntry &e)
{
    QCborMap m;
    m.insert(QStringLiteral("p"), path.toString());
    m.insert(QStringLiteral("k"), int(e.kind));
    m.insert(QStringLiteral("s"), e.size);
    m.insert(QStringLiteral("m"), e.mtimeNs);
    m.insert(QStringLiteral("i"), qint64(e.inode));
    m.insert(QStringLiteral("o"), qint64(e.mode));
    m.insert(QStringLiteral("c"), e.ctimeNs);
    m.insert(QStringLiteral("r"), e.readAfterCtime);
    m.insert(QStringLiteral("d"), blockListDigest(e.blocks).bytes());
    return m;
}

// False for an item that is not ours to trust: that op is then simply not recognised.
bool sentFromCbor(const QCborMap &m, RelativePath *path, JournalEntry *e)
{
    const auto p = RelativePath::fromString(m.value(QStringLiteral("p")).toString());
    const auto digest = ContentHash::fromBytes(m.value(QStringLiteral("d")).toByteArray());
    if (!p || !digest)
        return false;
    *path = *p;
    e->kind = EntryKind(m.value(QStringLiteral("k")).toInteger());
    e->size = m.value(QStringLiteral("s")).toInteger();
    e->mtimeNs = m.value(QStringLiteral("m")).toInteger();
    e->inode = quint64(m.value(QStringLiteral("i")).toInteger());
    e->mode = quint32(m.value(QStringLiteral("o")).toInteger());
    e->ctimeNs = m.value(QStringLiteral("c")).toInteger();
    e->readAfterCtime = m.value(QStringLiteral("r")).toBool();
    e->blocks = { BlockRef { *digest, 0 } };
    return true;
}

} // namespace

void Journal::setSent(const SentPuts &puts, const SentMoves &moves, quint64 knownHead)
{
    QCborArray list;
    for (const auto &[path, e] : puts)
        list.append(sentToCbor(path, e));
    for (const SentMove &move : moves) {
        QCborMap m = sentToCbor(move.to, move.entry);
        m.insert(QStringLiteral("f"), move.from.toString()); // a move's source
        list.append(m);
    }
    QCborMap stored;
    stored.insert(QStringLiteral("h"), qint64(knownHead));
    stored.insert(QStringLiteral("ops"), list);
    setValue(kSentKey, QString::fromLatin1(stored.toCborValue().toCbor().toBase64()));
}

QCborMap Journal::sentRecord() const
{
    const QString stored = value(kSentKey);
    return stored.isEmpty() ? QCborMap() : QCborValue::fromCbor(QByteArray::fromBase64(stored.toLatin1())).toMap();
}

QCborArray Journal::sentList() const
{
    return sentRecord().value(QStringLiteral("ops")).toArray();
}

quint64 Journal::sentKnownHead() const
{
    return quint64(sentRecord().value(QStringLiteral("h")).toInteger());
}

Journal::SentPuts Journal::sent() const
{
    SentPuts puts;
    for (const QCborValue &v : sentList()) {
        const QCborMap m = v.toMap();
        RelativePath path;
        JournalEntry e;
        if (!m.contains(QStringLiteral("f")) && sentFromCbor(m, &path, &e))
            puts.append({ path, e });
    }
    return puts;
}

Journal::SentMoves Journal::sentMoves() const
{
    SentMoves moves;
    for (const QCborValue &v : sentList()) {
        const QCborMap m = v.toMap();
        if (!m.contains(QStringLiteral("f")))
            continue;
        SentMove move;
        const auto from = RelativePath::fromString(m.value(QStringLiteral("f")).toString());
        if (from && sentFromCbor(m, &move.to, &move.entry)) {
            move.from = *from;
            moves.append(move);
        }
    }
    return moves;
}

void Journal::clearSent()
{
    if (!value(kSentKey).isEmpty())
        removeValue(kSentKey);
}

} // namespace filesync
