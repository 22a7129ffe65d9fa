#include "messages.h"

#include "messagefields.h"

#include <QBuffer>
#include <QCborArray>
#include <QCborStreamReader>
#include <QCborStreamWriter>
#include <QCborValue>
#include <QtEndian>

namespace filesync::protocol {

using namespace fields;

bool isKnownType(quint64 type)
{
    return type >= 1 && type <= kLastMessageType;
}

bool isBlockFrameType(quint64 type)
{
    return type == quint64(MessageType::PutBlock) || type == quint64(MessageType::BlockData)
        || type == quint64(MessageType::PutBlocks) || type == quint64(MessageType::BlocksData);
}

std::optional<quint64> peekType(QByteArrayView p)
{
    if (p.size() < 2 || quint8(p.at(0)) != 0x83)
        return std::nullopt;
    const quint8 first = quint8(p.at(1));
    if (first < 24)
        return first;
    if (first == 24 && p.size() >= 3)
        return quint8(p.at(2));
    return std::nullopt;
}

QString typeName(MessageType type)
{
    switch (type) {
    case MessageType::Hello:
        return QStringLiteral("Hello");
    case MessageType::Welcome:
        return QStringLiteral("Welcome");
    case MessageType::Login:
        return QStringLiteral("Login");
    case MessageType::CreateAccount:
        return QStringLiteral("CreateAccount");
    case MessageType::LoginOk:
        return QStringLiteral("LoginOk");
    case MessageType::GetChanges:
        return QStringLiteral("GetChanges");
    case MessageType::Changes:
        return QStringLiteral("Changes");
    case MessageType::QueryBlocks:
        return QStringLiteral("QueryBlocks");
    case MessageType::QueryBlocksReply:
        return QStringLiteral("QueryBlocksReply");
    case MessageType::PutBlock:
        return QStringLiteral("PutBlock");
    case MessageType::GetBlock:
        return QStringLiteral("GetBlock");
    case MessageType::BlockData:
        return QStringLiteral("BlockData");
    case MessageType::Commit:
        return QStringLiteral("Commit");
    case MessageType::CommitReply:
        return QStringLiteral("CommitReply");
    case MessageType::Advanced:
        return QStringLiteral("Advanced");
    case MessageType::GetStats:
        return QStringLiteral("GetStats");
    case MessageType::Stats:
        return QStringLiteral("Stats");
    case MessageType::Ok:
        return QStringLiteral("Ok");
    case MessageType::ErrorReply:
        return QStringLiteral("Error");
    case MessageType::Ping:
        return QStringLiteral("Ping");
    case MessageType::Pong:
        return QStringLiteral("Pong");
    case MessageType::Announce:
        return QStringLiteral("Announce");
    case MessageType::Announced:
        return QStringLiteral("Announced");
    case MessageType::PutBlocks:
        return QStringLiteral("PutBlocks");
    case MessageType::GetBlocks:
        return QStringLiteral("GetBlocks");
    case MessageType::BlocksData:
        return QStringLiteral("BlocksData");
    }
    return QStringLiteral("Unknown");
}

QByteArray encodeFrame(const Envelope &envelope)
{
    // The CBOR goes straight after a placeholder for the length prefix: one buffer, no
    // copy of the payload into the frame (a block frame is up to 16 MiB).
    // (QCborStreamWriter(QByteArray *) writes from the array's start in Qt 6.4, so the
    // writer gets a buffer opened for appending.)
    QByteArray frame(4, Qt::Uninitialized);
    if (!envelope.data.isNull())
        frame.reserve(4 + 128 + envelope.data.size());
    {
        QBuffer buffer(&frame);
        buffer.open(QIODevice::WriteOnly | QIODevice::Append);
        QCborStreamWriter writer(&buffer);
        if (envelope.data.isNull()) {
            QCborArray { qint64(envelope.type), u(envelope.id), envelope.body }.toCborValue().toCbor(writer);
        } else {
            // The same bytes as a body holding "data" as its last entry.
            writer.startArray(3);
            writer.append(qint64(envelope.type));
            writer.append(quint64(envelope.id));
            writer.startMap(quint64(envelope.body.size()) + 1);
            for (auto it = envelope.body.constBegin(); it != envelope.body.constEnd(); ++it) {
                it.key().toCbor(writer);
                it.value().toCbor(writer);
            }
            writer.append(QLatin1String("data"));
            writer.appendByteString(envelope.data.constData(), envelope.data.size());
            writer.endMap();
            writer.endArray();
        }
    }
    qToBigEndian(quint32(frame.size() - 4), frame.data());
    return frame;
}

namespace {
Error shapeError()
{
    return makeError(QStringLiteral("a message must be a CBOR array [type, id, body]"));
}

Error cborError(QCborStreamReader &reader)
{
    return makeError(QStringLiteral("malformed CBOR: %1").arg(reader.lastError().toString()));
}

// PutBlock and BlockData: read with a stream reader so that the block's bytes are copied
// once, into Envelope::data; the other entries of the body go into the map as usual.
Result<Envelope> decodeBlockMessage(const QByteArray &payload)
{
    QCborStreamReader reader(payload);
    if (!reader.isArray() || !reader.isLengthKnown() || reader.length() != 3 || !reader.enterContainer())
        return reader.lastError() != QCborError::NoError ? cborError(reader) : shapeError();
    if (!reader.isUnsignedInteger())
        return shapeError();
    Envelope envelope;
    envelope.type = MessageType(reader.toUnsignedInteger());
    reader.next();
    if (reader.isNegativeInteger())
        return makeError(QStringLiteral("negative request id"));
    if (!reader.isUnsignedInteger())
        return reader.lastError() != QCborError::NoError ? cborError(reader) : shapeError();
    envelope.id = reader.toUnsignedInteger();
    reader.next();
    if (!reader.isMap() || !reader.enterContainer())
        return reader.lastError() != QCborError::NoError ? cborError(reader) : shapeError();
    while (reader.lastError() == QCborError::NoError && reader.hasNext()) {
        const QCborValue key = QCborValue::fromCbor(reader);
        if (reader.lastError() != QCborError::NoError)
            break;
        if (key == QCborValue(QLatin1String("data")) && reader.isByteArray() && envelope.data.isNull()) {
            auto chunk = reader.readByteArray();
            QByteArray data = chunk.status == QCborStreamReader::Ok ? std::move(chunk.data) : QByteArray("");
            while (chunk.status == QCborStreamReader::Ok) {
                chunk = reader.readByteArray();
                if (chunk.status == QCborStreamReader::Ok)
                    data += chunk.data; // a chunked string, which we never send
            }
            if (chunk.status == QCborStreamReader::Error)
                break;
            envelope.data = std::move(data);
        } else {
            const QCborValue value = QCborValue::fromCbor(reader);
            if (reader.lastError() != QCborError::NoError)
                break;
            envelope.body.insert(key, value);
        }
    }
    if (reader.lastError() != QCborError::NoError)
        return cborError(reader);
    if (!reader.leaveContainer() || !reader.leaveContainer())
        return cborError(reader);
    if (reader.currentOffset() != payload.size())
        return makeError(QStringLiteral("trailing bytes after the message"));
    return envelope;
}

// Walks the CBOR without building values: refuses a payload of more containers than
// `maxContainers` or nested deeper than kMaxNesting (strings are skipped, not copied).
Result<void> checkShape(const QByteArray &payload, qint64 maxContainers)
{
    QCborStreamReader reader(payload);
    qint64 containers = 0;
    qint64 depth = 0;
    do {
        if (depth > 0 && !reader.hasNext()) {
            if (!reader.leaveContainer())
                break;
            --depth;
        } else if (reader.isArray() || reader.isMap()) {
            if (++containers > maxContainers)
                return makeError(QStringLiteral("a message of %1 bytes may hold at most %2 arrays and maps")
                                     .arg(payload.size())
                                     .arg(maxContainers));
            if (++depth > kMaxNesting)
                return makeError(QStringLiteral("a message may nest at most %1 deep").arg(kMaxNesting));
            if (!reader.enterContainer())
                break;
        } else if (!reader.next()) {
            break;
        }
    } while (depth > 0 && reader.lastError() == QCborError::NoError);
    if (reader.lastError() != QCborError::NoError)
        return cborError(reader);
    return {};
}
} // namespace

Result<Envelope> decodeMessage(const QByteArray &payload)
{
    const auto peeked = peekType(payload);
    const bool blockFrame = peeked && isBlockFrameType(*peeked);
    if (auto shape = checkShape(payload,
            blockFrame ? kMaxBlocksPerBatch + kMaxContainersBase / 64 : kMaxContainersBase + payload.size() / 8);
        !shape)
        return shape.error();
    if (blockFrame)
        return decodeBlockMessage(payload);
    QCborParserError parseError;
    const QCborValue value = QCborValue::fromCbor(payload, &parseError);
    if (parseError.error != QCborError::NoError)
        return makeError(QStringLiteral("malformed CBOR: %1").arg(parseError.errorString()));
    if (parseError.offset != payload.size())
        return makeError(QStringLiteral("trailing bytes after the message"));
    if (!value.isArray())
        return shapeError();
    const QCborArray array = value.toArray();
    if (array.size() != 3 || !array.at(0).isInteger() || !array.at(1).isInteger() || !array.at(2).isMap())
        return shapeError();
    const qint64 type = array.at(0).toInteger();
    if (!isKnownType(quint64(type)))
        return makeError(QStringLiteral("unknown message type %1").arg(type));
    if (array.at(1).toInteger() < 0)
        return makeError(QStringLiteral("negative request id"));
    if (!isBlockFrameType(quint64(type)) && payload.size() > kMaxMetadataFrame)
        return makeError(QStringLiteral("message too large"));
    return Envelope { MessageType(type), quint64(array.at(1).toInteger()), array.at(2).toMap(), {} };
}

qint64 totalSize(const QList<BlockRef> &blocks)
{
    qint64 total = 0;
    for (const BlockRef &b : blocks)
        total += b.size;
    return total;
}

QByteArray packBlockList(const QList<BlockRef> &blocks)
{
    QByteArray out;
    out.reserve(blocks.size() * (ContentHash::kSize + 4));
    for (const BlockRef &b : blocks) {
        out.append(b.hash.view());
        char size[4];
        qToBigEndian(b.size, size);
        out.append(size, 4);
    }
    return out;
}

QList<BlockRef> unpackBlockList(const QByteArray &packed)
{
    constexpr qsizetype record = ContentHash::kSize + 4;
    QList<BlockRef> blocks;
    blocks.reserve(packed.size() / record);
    for (qsizetype at = 0; at + record <= packed.size(); at += record)
        blocks.append(BlockRef { *ContentHash::fromBytes(QByteArrayView(packed).sliced(at, ContentHash::kSize)),
            qFromBigEndian<quint32>(packed.constData() + at + ContentHash::kSize) });
    return blocks;
}

ContentHash blockListDigest(const QList<BlockRef> &blocks)
{
    return ContentHash::of(packBlockList(blocks));
}

// ---- FileEntry ----

QCborMap FileEntry::toCbor() const
{
    QCborMap m;
    m.insert(QLatin1String("path"), path.toString());
    m.insert(QLatin1String("kind"), qint64(kind));
    if (deleted)
        m.insert(QLatin1String("del"), true);
    m.insert(QLatin1String("size"), size);
    m.insert(QLatin1String("mtime"), mtimeMs);
    m.insert(QLatin1String("mode"), qint64(mode));
    if (!blocks.isEmpty())
        m.insert(QLatin1String("blocks"), blocksToCbor(blocks));
    m.insert(QLatin1String("ver"), u(version));
    m.insert(QLatin1String("origin"), origin);
    if (movedFrom)
        m.insert(QLatin1String("from"), movedFrom->toString());
    if (removedContent)
        m.insert(QLatin1String("was"), removedContent->bytes());
    return m;
}

Result<FileEntry> FileEntry::fromCbor(const QCborMap &m)
{
    FileEntry e;
    TRY(path, readPath(m, "path"));
    TRY(kind, readKind(m));
    TRY(del, readBool(m, "del"));
    TRY(size, readInt(m, "size"));
    TRY(mtime, readInt(m, "mtime"));
    TRY(mode, readU32(m, "mode"));
    TRY(blocks, blocksFromCbor(m, "blocks"));
    TRY(ver, readUInt(m, "ver"));
    TRY(origin, readText(m, "origin", false, 256));
    e.path = *path;
    e.kind = *kind;
    e.deleted = *del;
    e.size = *size;
    e.mtimeMs = *mtime;
    e.mode = *mode;
    e.blocks = *blocks;
    e.version = *ver;
    e.origin = *origin;
    if (m.contains(QLatin1String("from"))) {
        TRY(from, readPath(m, "from"));
        e.movedFrom = *from;
    }
    if (m.contains(QLatin1String("was"))) {
        TRY(was, readHash(m, "was"));
        if (!e.deleted || e.kind != EntryKind::File)
            return fieldError("was", "belongs to a file's tombstone only");
        e.removedContent = *was;
    }
    if (!e.deleted) {
        if (auto c = checkContent(e.kind, e.size, e.blocks); !c)
            return c.error();
    }
    return e;
}

// ---- CommitOp ----

QCborMap CommitOp::toCbor() const
{
    QCborMap m;
    m.insert(QLatin1String("op"), qint64(op));
    m.insert(QLatin1String("path"), path.toString());
    if (from)
        m.insert(QLatin1String("from"), from->toString());
    m.insert(QLatin1String("kind"), qint64(kind));
    m.insert(QLatin1String("base"), u(baseVersion));
    if (op == CommitOpKind::Put) {
        m.insert(QLatin1String("size"), size);
        m.insert(QLatin1String("mtime"), mtimeMs);
        m.insert(QLatin1String("mode"), qint64(mode));
        if (delta) {
            m.insert(QLatin1String("delta"), delta->toCbor());
            m.insert(QLatin1String("digest"), delta->digest.bytes());
        } else if (!blocks.isEmpty()) {
            m.insert(QLatin1String("blocks"), blocksToCbor(blocks));
        }
    }
    return m;
}

Result<CommitOp> CommitOp::fromCbor(const QCborMap &m)
{
    CommitOp o;
    TRY(op, readUInt(m, "op"));
    if (*op > 2)
        return fieldError("op", "must be 0 (put), 1 (delete) or 2 (move)");
    o.op = CommitOpKind(*op);
    TRY(path, readPath(m, "path"));
    o.path = *path;
    TRY(kind, readKind(m));
    o.kind = *kind;
    TRY(base, readUInt(m, "base"));
    o.baseVersion = *base;
    if (o.op == CommitOpKind::Move) {
        TRY(from, readPath(m, "from"));
        if (*from == o.path || from->isAncestorOf(o.path))
            return makeError(QStringLiteral("cannot move a path into itself"));
        o.from = *from;
    }
    if (o.op == CommitOpKind::Put) {
        TRY(size, readInt(m, "size"));
        TRY(mtime, readInt(m, "mtime"));
        TRY(mode, readU32(m, "mode"));
        TRY(blocks, blocksFromCbor(m, "blocks"));
        o.size = *size;
        o.mtimeMs = *mtime;
        o.mode = *mode;
        o.blocks = *blocks;
        if (m.contains(QLatin1String("delta"))) {
            // The size is checked once the server has expanded the delta against its base.
            if (o.kind != EntryKind::File || !o.blocks.isEmpty() || o.baseVersion == 0)
                return makeError(
                    QStringLiteral("a block delta belongs to a put of a file with a base, without 'blocks'"));
            TRY(delta, BlockListDelta::fromCbor(m.value(QLatin1String("delta")), m.value(QLatin1String("digest"))));
            if (o.size < 0)
                return makeError(QStringLiteral("negative size"));
            o.delta = *delta;
        } else if (auto c = checkContent(o.kind, o.size, o.blocks); !c) {
            return c.error();
        }
    }
    return o;
}

// ---- CommitResult ----

QCborMap CommitResult::toCbor() const
{
    QCborMap m;
    m.insert(QLatin1String("status"), qint64(status));
    if (version)
        m.insert(QLatin1String("ver"), u(version));
    if (currentVersion)
        m.insert(QLatin1String("cur"), u(currentVersion));
    if (!reason.isEmpty())
        m.insert(QLatin1String("reason"), reason);
    return m;
}

Result<CommitResult> CommitResult::fromCbor(const QCborMap &m)
{
    CommitResult r;
    TRY(status, readUInt(m, "status"));
    if (*status > 2)
        return fieldError("status", "is out of range");
    TRY(ver, readUInt(m, "ver", false));
    TRY(cur, readUInt(m, "cur", false));
    TRY(reason, readText(m, "reason", false));
    r.status = CommitStatus(*status);
    r.version = *ver;
    r.currentVersion = *cur;
    r.reason = *reason;
    return r;
}

// ---- handshake and login ----

QCborMap Hello::toCbor() const
{
    return QCborMap { { QLatin1String("magic"), QLatin1String(kMagic) }, { QLatin1String("version"), qint64(version) },
        { QLatin1String("software"), software } };
}

Result<Hello> Hello::fromCbor(const QCborMap &m)
{
    TRY(magic, readText(m, "magic", true, 16));
    if (*magic != QLatin1String(kMagic))
        return makeError(QStringLiteral("not a FileSync client (bad magic)"));
    TRY(version, readU32(m, "version"));
    TRY(software, readText(m, "software", false, 256));
    return Hello { *version, *software };
}

QCborMap Welcome::toCbor() const
{
    return QCborMap { { QLatin1String("version"), qint64(version) }, { QLatin1String("software"), software } };
}

Result<Welcome> Welcome::fromCbor(const QCborMap &m)
{
    TRY(version, readU32(m, "version"));
    TRY(software, readText(m, "software", false, 256));
    return Welcome { *version, *software };
}

QCborMap Login::toCbor() const
{
    return QCborMap { { QLatin1String("account"), account }, { QLatin1String("session"), session } };
}

Result<Login> Login::fromCbor(const QCborMap &m)
{
    TRY(account, readText(m, "account", true, 128));
    TRY(session, readText(m, "session", false, 128));
    return Login { *account, *session };
}

QCborMap CreateAccount::toCbor() const
{
    return QCborMap { { QLatin1String("session"), session } };
}

Result<CreateAccount> CreateAccount::fromCbor(const QCborMap &m)
{
    TRY(session, readText(m, "session", false, 128));
    return CreateAccount { *session };
}

QCborMap LoginOk::toCbor() const
{
    QCborMap m { { QLatin1String("session"), u(sessionId) }, { QLatin1String("head"), u(head) } };
    if (!account.isEmpty())
        m.insert(QLatin1String("account"), account);
    return m;
}

Result<LoginOk> LoginOk::fromCbor(const QCborMap &m)
{
    TRY(account, readText(m, "account", false, 128));
    TRY(session, readUInt(m, "session"));
    TRY(head, readUInt(m, "head"));
    return LoginOk { *account, *session, *head };
}

// ---- changes ----

QCborMap GetChanges::toCbor() const
{
    return QCborMap { { QLatin1String("since"), u(since) }, { QLatin1String("limit"), qint64(limit) } };
}

Result<GetChanges> GetChanges::fromCbor(const QCborMap &m)
{
    TRY(since, readUInt(m, "since"));
    TRY(limit, readUInt(m, "limit", false, kMaxEntriesPerChanges));
    return GetChanges { *since, quint32(qBound<quint64>(1, *limit, kMaxEntriesPerChanges)) };
}

QCborMap Changes::toCbor() const
{
    QCborArray a;
    for (const FileEntry &e : entries)
        a.append(e.toCbor());
    return QCborMap { { QLatin1String("entries"), a }, { QLatin1String("head"), u(head) },
        { QLatin1String("next"), u(next) }, { QLatin1String("more"), more } };
}

Result<Changes> Changes::fromCbor(const QCborMap &m)
{
    Changes c;
    TRY(array, readArray(m, "entries", kMaxEntriesPerChanges));
    for (const QCborValue &v : *array) {
        if (!v.isMap())
            return fieldError("entries", "must hold maps");
        TRY(entry, FileEntry::fromCbor(v.toMap()));
        c.entries.append(*entry);
    }
    TRY(head, readUInt(m, "head"));
    TRY(next, readUInt(m, "next"));
    TRY(more, readBool(m, "more"));
    c.head = *head;
    c.next = *next;
    c.more = *more;
    return c;
}

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

// ---- commit ----

QCborMap Commit::toCbor() const
{
    QCborArray a;
    for (const CommitOp &op : ops)
        a.append(op.toCbor());
    return QCborMap { { QLatin1String("ops"), a } };
}

Result<Commit> Commit::fromCbor(const QCborMap &m)
{
    Commit c;
    TRY(array, readArray(m, "ops", kMaxOpsPerCommit));
    for (const QCborValue &v : *array) {
        if (!v.isMap())
            return fieldError("ops", "must hold maps");
        TRY(op, CommitOp::fromCbor(v.toMap()));
        c.ops.append(*op);
    }
    return c;
}

QCborMap CommitReply::toCbor() const
{
    QCborArray a;
    for (const CommitResult &r : results)
        a.append(r.toCbor());
    return QCborMap { { QLatin1String("results"), a }, { QLatin1String("head"), u(head) },
        { QLatin1String("prev"), u(prev) } };
}

Result<CommitReply> CommitReply::fromCbor(const QCborMap &m)
{
    CommitReply c;
    TRY(array, readArray(m, "results", kMaxOpsPerCommit));
    for (const QCborValue &v : *array) {
        if (!v.isMap())
            return fieldError("results", "must hold maps");
        TRY(r, CommitResult::fromCbor(v.toMap()));
        c.results.append(*r);
    }
    TRY(head, readUInt(m, "head"));
    c.head = *head;
    TRY(prev, readUInt(m, "prev"));
    if (*prev > *head)
        return fieldError("prev", "is past the head");
    c.prev = *prev;
    return c;
}

QCborMap Advanced::toCbor() const
{
    return QCborMap { { QLatin1String("head"), u(head) } };
}

Result<Advanced> Advanced::fromCbor(const QCborMap &m)
{
    TRY(head, readUInt(m, "head"));
    return Advanced { *head };
}

QCborMap Stats::toCbor() const
{
    return QCborMap { { QLatin1String("in"), u(bytesIn) }, { QLatin1String("out"), u(bytesOut) },
        { QLatin1String("serverIn"), u(serverBytesIn) }, { QLatin1String("serverOut"), u(serverBytesOut) },
        { QLatin1String("sessions"), u(sessions) } };
}

Result<Stats> Stats::fromCbor(const QCborMap &m)
{
    TRY(in, readUInt(m, "in"));
    TRY(out, readUInt(m, "out"));
    TRY(sin, readUInt(m, "serverIn"));
    TRY(sout, readUInt(m, "serverOut"));
    TRY(sessions, readUInt(m, "sessions"));
    return Stats { *in, *out, *sin, *sout, *sessions };
}

QCborMap ErrorReply::toCbor() const
{
    QCborMap m { { QLatin1String("code"), code }, { QLatin1String("message"), message } };
    if (!scope.isEmpty())
        m.insert(QLatin1String("scope"), scope);
    if (retryAfter > 0)
        m.insert(QLatin1String("retryAfter"), qint64(retryAfter));
    return m;
}

Result<ErrorReply> ErrorReply::fromCbor(const QCborMap &m)
{
    TRY(code, readText(m, "code", true, 64));
    TRY(message, readText(m, "message", false, 1024));
    TRY(scope, readText(m, "scope", false, 16));
    TRY(retryAfter, readU32(m, "retryAfter", false));
    return ErrorReply { *code, *message, *scope, *retryAfter };
}

} // namespace filesync::protocol
