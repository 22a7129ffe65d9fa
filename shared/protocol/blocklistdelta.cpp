#include "messages.h"

#include <QHash>

// BlockListDelta (declared with the rest of the schema in messages.h): building a delta
// on the client, checking and expanding it on the server.
namespace filesync::protocol {

namespace {

ContentHash digestOf(const QList<BlockRef> &blocks)
{
    return ContentHash::of(packBlockList(blocks));
}

Error deltaError(const QString &what)
{
    return makeError(QStringLiteral("bad block delta: %1").arg(what));
}

} // namespace

BlockListDelta BlockListDelta::between(const QList<BlockRef> &base, const QList<BlockRef> &target)
{
    // Every index of each block of the base, ascending, so a run can start at the first
    // occurrence at or after the end of the previous run.
    QHash<ContentHash, QList<qsizetype>> where;
    for (qsizetype j = 0; j < base.size(); ++j)
        where[base.at(j).hash].append(j);
    BlockListDelta delta;
    qsizetype nextBase = 0;
    for (qsizetype i = 0; i < target.size();) {
        qsizetype start = -1;
        const auto found = where.constFind(target.at(i).hash);
        if (found != where.cend()) {
            const auto at = std::lower_bound(found->cbegin(), found->cend(), nextBase);
            if (at != found->cend() && base.at(*at) == target.at(i))
                start = *at;
        }
        if (start < 0) {
            delta.items.append(Item { 0, 0, target.at(i) });
            ++i;
            continue;
        }
        qsizetype length = 1;
        while (i + length < target.size() && start + length < base.size()
            && base.at(start + length) == target.at(i + length))
            ++length;
        delta.items.append(Item { quint32(start), quint32(length), BlockRef {} });
        nextBase = start + length;
        i += length;
    }
    delta.digest = digestOf(target);
    return delta;
}

qint64 BlockListDelta::keptBlocks() const
{
    qint64 kept = 0;
    for (const Item &item : items)
        kept += item.keepCount;
    return kept;
}

QList<BlockRef> BlockListDelta::newRefs() const
{
    QList<BlockRef> refs;
    for (const Item &item : items) {
        if (item.keepCount == 0)
            refs.append(item.ref);
    }
    return refs;
}

Result<void> BlockListDelta::validate() const
{
    if (items.size() > kMaxBlocksPerEntry)
        return deltaError(QStringLiteral("too many items"));
    if (digest.isNull())
        return deltaError(QStringLiteral("no digest"));
    // In 64 bits: a hostile keepFrom + keepCount must not wrap around.
    qint64 total = 0;
    qint64 nextBase = 0;
    for (const Item &item : items) {
        if (item.keepCount == 0) {
            if (item.ref.hash.isNull() || item.ref.size == 0 || item.ref.size > kMaxBlockSize)
                return deltaError(QStringLiteral("a new block without a valid hash and size"));
            ++total;
        } else {
            if (qint64(item.keepFrom) < nextBase)
                return deltaError(QStringLiteral("runs overlap or are out of order"));
            nextBase = qint64(item.keepFrom) + item.keepCount;
            total += item.keepCount;
        }
        if (total > kMaxBlocksPerEntry)
            return deltaError(QStringLiteral("the list would have more than %1 blocks").arg(kMaxBlocksPerEntry));
    }
    return {};
}

Result<QList<BlockRef>> BlockListDelta::applyTo(const QList<BlockRef> &base) const
{
    if (auto valid = validate(); !valid)
        return valid.error();
    QList<BlockRef> out;
    out.reserve(items.size() + keptBlocks()); // bounded by validate()
    for (const Item &item : items) {
        if (item.keepCount == 0) {
            out.append(item.ref);
            continue;
        }
        if (qint64(item.keepFrom) + item.keepCount > base.size())
            return deltaError(QStringLiteral("keeps blocks %1..%2 of a base of %3")
                                  .arg(item.keepFrom)
                                  .arg(qint64(item.keepFrom) + item.keepCount - 1)
                                  .arg(base.size()));
        out.append(base.mid(item.keepFrom, item.keepCount));
    }
    if (digestOf(out) != digest)
        return deltaError(QStringLiteral("the expanded list does not match its digest (the base differs)"));
    return out;
}

QCborArray BlockListDelta::toCbor() const
{
    QCborArray a;
    for (const Item &item : items) {
        if (item.keepCount == 0)
            a.append(QCborArray { item.ref.hash.bytes(), qint64(item.ref.size) });
        else
            a.append(QCborArray { qint64(item.keepFrom), qint64(item.keepCount) });
    }
    return a;
}

Result<BlockListDelta> BlockListDelta::fromCbor(const QCborValue &itemsValue, const QCborValue &digestValue)
{
    if (!itemsValue.isArray())
        return deltaError(QStringLiteral("'delta' must be an array"));
    const QCborArray array = itemsValue.toArray();
    if (array.size() > kMaxBlocksPerEntry)
        return deltaError(QStringLiteral("too many items"));
    if (!digestValue.isByteArray())
        return deltaError(QStringLiteral("'digest' must be a byte string"));
    auto digest = ContentHash::fromBytes(digestValue.toByteArray());
    if (!digest)
        return deltaError(digest.errorMessage());
    BlockListDelta delta;
    delta.digest = *digest;
    delta.items.reserve(array.size());
    for (const QCborValue &v : array) {
        const QCborArray pair = v.toArray();
        if (!v.isArray() || pair.size() != 2 || !pair.at(1).isInteger())
            return deltaError(QStringLiteral("items must be [hash, size] or [from, count]"));
        const qint64 second = pair.at(1).toInteger();
        if (pair.at(0).isByteArray()) {
            auto hash = ContentHash::fromBytes(pair.at(0).toByteArray());
            if (!hash)
                return deltaError(hash.errorMessage());
            if (second <= 0 || second > kMaxBlockSize)
                return deltaError(QStringLiteral("a block size out of range"));
            delta.items.append(Item { 0, 0, BlockRef { *hash, quint32(second) } });
        } else if (pair.at(0).isInteger()) {
            const qint64 from = pair.at(0).toInteger();
            if (from < 0 || from >= kMaxBlocksPerEntry || second <= 0 || second > kMaxBlocksPerEntry)
                return deltaError(QStringLiteral("a run out of range"));
            delta.items.append(Item { quint32(from), quint32(second), BlockRef {} });
        } else {
            return deltaError(QStringLiteral("items must be [hash, size] or [from, count]"));
        }
    }
    if (auto valid = delta.validate(); !valid)
        return valid.error();
    return delta;
}

} // namespace filesync::protocol
