#include "framereader.h"

#include <QtEndian>

namespace filesync::protocol {

namespace {
bool isHandshakeType(quint64 type)
{
    return type == quint64(MessageType::Hello) || type == quint64(MessageType::Login)
        || type == quint64(MessageType::CreateAccount) || type == quint64(MessageType::Ping);
}
} // namespace

bool FrameReader::feed(const QByteArray &bytes)
{
    if (hasError())
        return false;
    compact();
    m_buffer.append(bytes);
    return parse();
}

bool FrameReader::feedFrom(QIODevice *device, qint64 max, qint64 &got)
{
    got = 0;
    if (hasError())
        return false;
    compact();
    const qsizetype had = m_buffer.size();
    m_buffer.resize(had + qsizetype(max));
    got = qMax<qint64>(device->read(m_buffer.data() + had, max), 0);
    m_buffer.resize(had + qsizetype(got));
    return parse();
}

void FrameReader::compact()
{
    // Only the unparsed tail moves; the allocation is kept for the next read.
    if (m_start == 0)
        return;
    m_buffer.remove(0, m_start);
    m_start = 0;
}

std::optional<Envelope> FrameReader::take()
{
    if (!m_ready)
        parse();
    return std::exchange(m_ready, std::nullopt);
}

bool FrameReader::headerComplete() const
{
    const qsizetype arrived = bufferedBytes() - 4;
    if (arrived < 2)
        return false;
    return peekType(QByteArrayView(m_buffer).sliced(m_start + 4, qMin<qsizetype>(arrived, 3))) || arrived >= 3;
}

bool FrameReader::hasCompleteFrame() const
{
    return bufferedBytes() >= 4
        && bufferedBytes() - 4 >= qsizetype(qFromBigEndian<quint32>(m_buffer.constData() + m_start));
}

bool FrameReader::parse()
{
    if (hasError())
        return false;
    if (m_ready)
        return true;
    const qsizetype offset = m_start;
    const qsizetype available = m_buffer.size() - offset;
    if (available < 4)
        return true;
    const quint32 length = qFromBigEndian<quint32>(m_buffer.constData() + offset);
    const qint64 cap = m_handshakeOnly ? kMaxHandshakeFrame : kMaxBlockFrame;
    if (length < 3) {
        m_error = QStringLiteral("frame too short");
    } else if (qint64(length) > cap) {
        m_error = m_handshakeOnly
            ? QStringLiteral("frame of %1 bytes before login exceeds the %2-byte cap").arg(length).arg(cap)
            : QStringLiteral("frame of %1 bytes exceeds the %2-byte cap").arg(length).arg(cap);
    } else if (available - 4 >= 2) {
        // The payload is a CBOR array [type, id, body]: its first two bytes say the type,
        // or its first three from type 24 on (every frame has at least three).
        const auto type = peekType(QByteArrayView(m_buffer).sliced(offset + 4, qMin<qsizetype>(available - 4, 3)));
        if (!type && available - 4 < 3)
            return true;
        if (m_handshakeOnly && !(type && isHandshakeType(*type))) {
            m_errorCode = errors::kNotAuthenticated;
            m_error = type ? QStringLiteral("log in first (got message type %1)").arg(*type)
                           : QStringLiteral("a message must be a CBOR array [type, id, body]");
        } else if (qint64(length) > kMaxMetadataFrame && !(type && isBlockFrameType(*type))) {
            m_error = QStringLiteral("frame of %1 bytes exceeds the %2-byte metadata cap")
                          .arg(length)
                          .arg(kMaxMetadataFrame);
        } else if (available - 4 >= qsizetype(length)) {
            // decodeMessage copies what it keeps (QCborValue owns its strings), so the
            // payload is read in place rather than copied out of the buffer first.
            auto decoded = decodeMessage(QByteArray::fromRawData(m_buffer.constData() + offset + 4, qsizetype(length)));
            if (!decoded) {
                m_error = decoded.errorMessage();
            } else {
                m_ready = std::move(decoded).value();
                m_start = offset + 4 + qsizetype(length);
            }
        }
    }
    if (hasError()) {
        m_buffer.clear();
        m_start = 0;
        return false;
    }
    if (m_start == m_buffer.size()) {
        m_buffer.resize(0); // all parsed: nothing to move at the next read
        m_start = 0;
    }
    return true;
}

} // namespace filesync::protocol
