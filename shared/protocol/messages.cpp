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

} // namespace filesync::protocol
