// The messages about blocks: queries, block frames, GetBlock(s), Announce.
#include "messages.h"

#include "messagefields.h"

#include <QCborStreamReader>
#include <QCborStreamWriter>

namespace filesync::protocol {

using namespace fields;

// ---- blocks ----

namespace {
QCborArray hashesToCbor(const QList<ContentHash> &hashes)
{
    QCborArray a;
    for (const ContentHash &h : hashes)
        a.append(h.bytes());
    return a;
}

Result<QList<ContentHash>> hashesFromCbor(
    const QCborMap &m, const char *field, qsizetype maxItems = kMaxHashesPerQuery, bool required = true)
{
    TRY(array, readArray(m, field, maxItems, required));
    QList<ContentHash> hashes;
    hashes.reserve(array->size());
    for (const QCborValue &v : *array) {
        if (!v.isByteArray())
            return fieldError(field, "must hold byte strings");
        TRY(hash, ContentHash::fromBytes(v.toByteArray()));
        hashes.append(*hash);
    }
    return hashes;
}
} // namespace

QCborMap QueryBlocks::toCbor() const
{
    return QCborMap { { QLatin1String("hashes"), hashesToCbor(hashes) } };
}

Result<QueryBlocks> QueryBlocks::fromCbor(const QCborMap &m)
{
    TRY(hashes, hashesFromCbor(m, "hashes"));
    return QueryBlocks { *hashes };
}

QCborMap QueryBlocksReply::toCbor() const
{
    return QCborMap { { QLatin1String("missing"), hashesToCbor(missing) } };
}

Result<QueryBlocksReply> QueryBlocksReply::fromCbor(const QCborMap &m)
{
    TRY(hashes, hashesFromCbor(m, "missing"));
    return QueryBlocksReply { *hashes };
}

QCborMap BlockPayload::headerCbor() const
{
    return QCborMap { { QLatin1String("hash"), hash.bytes() }, { QLatin1String("codec"), qint64(codec) },
        { QLatin1String("size"), qint64(rawSize) } };
}

QCborMap BlockPayload::toCbor() const
{
    QCborMap m = headerCbor();
    m.insert(QLatin1String("data"), data);
    return m;
}

Envelope BlockPayload::toEnvelope(MessageType type, quint64 id) const
{
    // Never null: a null Envelope::data means "not a block frame".
    return Envelope { type, id, headerCbor(), data.isNull() ? QByteArray("") : data };
}

Result<BlockPayload> BlockPayload::fromEnvelope(const Envelope &e)
{
    const QCborMap &m = e.body;
    TRY(hash, readHash(m, "hash"));
    TRY(codec, readUInt(m, "codec"));
    if (*codec > 1)
        return fieldError("codec", "must be 0 (raw) or 1 (zstd)");
    TRY(size, readUInt(m, "size"));
    if (*size == 0 || *size > quint64(kMaxBlockSize))
        return fieldError("size", "is out of range");
    const bool beside = !e.data.isNull() && !m.contains(QLatin1String("data"));
    Result<QByteArray> data = beside ? Result<QByteArray>(e.data) : readBytes(m, "data");
    if (!data)
        return data.error();
    if (BlockCodec(*codec) == BlockCodec::Raw && quint64(data->size()) != *size)
        return fieldError("data", "does not have the announced size");
    return BlockPayload { *hash, BlockCodec(*codec), quint32(*size), *data };
}

qint64 BlockBatch::dataBytes() const
{
    qint64 total = 0;
    for (const BlockPayload &b : blocks)
        total += b.data.size();
    return total;
}

Envelope BlockBatch::toEnvelope(MessageType type, quint64 id) const
{
    QCborArray items;
    QByteArray data;
    data.reserve(dataBytes());
    for (const BlockPayload &b : blocks) {
        items.append(QCborArray { b.hash.bytes(), qint64(b.codec), qint64(b.rawSize), qint64(b.data.size()) });
        data.append(b.data);
    }
    QCborMap body { { QLatin1String("blocks"), items } };
    if (!missing.isEmpty())
        body.insert(QLatin1String("missing"), hashesToCbor(missing));
    if (!later.isEmpty())
        body.insert(QLatin1String("later"), hashesToCbor(later));
    // Never null: a null Envelope::data means "not a block frame".
    return Envelope { type, id, body, data.isNull() ? QByteArray("") : data };
}

Result<BlockBatch> BlockBatch::fromEnvelope(const Envelope &e)
{
    const QCborMap &m = e.body;
    TRY(items, readArray(m, "blocks", kMaxBlocksPerBatch));
    const bool beside = !e.data.isNull() && !m.contains(QLatin1String("data"));
    Result<QByteArray> data = beside ? Result<QByteArray>(e.data) : readBytes(m, "data");
    if (!data)
        return data.error();
    BlockBatch batch;
    batch.blocks.reserve(items->size());
    qint64 at = 0;
    for (const QCborValue &item : *items) {
        const QCborArray f = item.toArray();
        if (!item.isArray() || f.size() != 4 || !f.at(0).isByteArray() || !f.at(1).isInteger() || !f.at(2).isInteger()
            || !f.at(3).isInteger())
            return fieldError("blocks", "must hold [hash, codec, size, length] items");
        TRY(hash, ContentHash::fromBytes(f.at(0).toByteArray()));
        const qint64 codec = f.at(1).toInteger();
        const qint64 size = f.at(2).toInteger();
        const qint64 length = f.at(3).toInteger();
        if (codec < 0 || codec > 1)
            return fieldError("blocks", "has a codec other than 0 (raw) or 1 (zstd)");
        if (size <= 0 || size > kMaxBlockSize)
            return fieldError("blocks", "has a block size out of range");
        if (length < 0 || length > data->size() - at)
            return fieldError("blocks", "has lengths beyond the data");
        if (BlockCodec(codec) == BlockCodec::Raw && length != size)
            return fieldError("blocks", "has a raw block whose length is not its size");
        batch.blocks.append(BlockPayload { *hash, BlockCodec(codec), quint32(size), data->mid(at, length) });
        at += length;
    }
    if (at != data->size())
        return fieldError("data", "holds more bytes than the blocks' lengths");
    TRY(missing, hashesFromCbor(m, "missing", kMaxBlocksPerBatch, false));
    TRY(later, hashesFromCbor(m, "later", kMaxBlocksPerBatch, false));
    batch.missing = *missing;
    batch.later = *later;
    if (e.type == MessageType::PutBlocks
        && (batch.blocks.isEmpty() || !batch.missing.isEmpty() || !batch.later.isEmpty()))
        return fieldError("blocks", "of a PutBlocks must hold 1 or more blocks and nothing else");
    return batch;
}

QCborMap GetBlocks::toCbor() const
{
    return QCborMap { { QLatin1String("hashes"), hashesToCbor(hashes) } };
}

Result<GetBlocks> GetBlocks::fromCbor(const QCborMap &m)
{
    TRY(hashes, hashesFromCbor(m, "hashes", kMaxBlocksPerBatch));
    if (hashes->isEmpty())
        return fieldError("hashes", "is empty");
    return GetBlocks { *hashes };
}

QCborMap GetBlock::toCbor() const
{
    QCborMap m { { QLatin1String("hash"), hash.bytes() } };
    if (wait)
        m.insert(QLatin1String("wait"), true);
    return m;
}

Result<GetBlock> GetBlock::fromCbor(const QCborMap &m)
{
    TRY(hash, readHash(m, "hash"));
    TRY(wait, readBool(m, "wait"));
    return GetBlock { *hash, *wait };
}

// ---- announce ----

QCborMap Announce::toCbor() const
{
    QCborMap m;
    m.insert(QLatin1String("path"), path.toString());
    m.insert(QLatin1String("size"), size);
    m.insert(QLatin1String("blocks"), blocksToCbor(blocks));
    if (!origin.isEmpty())
        m.insert(QLatin1String("origin"), origin);
    return m;
}

Result<Announce> Announce::fromCbor(const QCborMap &m)
{
    TRY(path, readPath(m, "path"));
    TRY(size, readInt(m, "size"));
    TRY(blocks, blocksFromCbor(m, "blocks"));
    TRY(origin, readText(m, "origin", false, 256));
    if (blocks->isEmpty())
        return fieldError("blocks", "must not be empty");
    if (auto c = checkContent(EntryKind::File, *size, *blocks); !c)
        return c.error();
    return Announce { *path, *size, *blocks, *origin };
}

} // namespace filesync::protocol
