#include "framereader.h"

#include <QtEndian>

namespace filesync::protocol {

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
    // Only the unparsed tail (at most one partial frame) moves; the allocation is kept
    // for the next read.
    if (m_start == 0)
        return;
    m_buffer.remove(0, m_start);
    m_start = 0;
}

std::optional<Envelope> FrameReader::take()
{
    if (m_ready.isEmpty())
        return std::nullopt;
    return m_ready.takeFirst();
}

bool FrameReader::parse()
{
    qsizetype offset = m_start;
    while (m_buffer.size() - offset >= 4) {
        const quint32 length = qFromBigEndian<quint32>(m_buffer.constData() + offset);
        if (length < 3) {
            m_error = QStringLiteral("frame too short");
            break;
        }
        if (qint64(length) > kMaxBlockFrame) {
            m_error = QStringLiteral("frame of %1 bytes exceeds the %2-byte cap").arg(length).arg(kMaxBlockFrame);
            break;
        }
        // The payload is a CBOR array [type, id, body]: its first two bytes say the type,
        // or its first three from type 24 on (every frame has at least three).
        const qsizetype arrived = m_buffer.size() - offset - 4;
        if (arrived < 2)
            break;
        const auto type = peekType(QByteArrayView(m_buffer).sliced(offset + 4, qMin<qsizetype>(arrived, 3)));
        if (!type && arrived < 3)
            break;
        if (qint64(length) > kMaxMetadataFrame && !(type && isBlockFrameType(*type))) {
            m_error = QStringLiteral("frame of %1 bytes exceeds the %2-byte metadata cap")
                          .arg(length)
                          .arg(kMaxMetadataFrame);
            break;
        }
        if (m_buffer.size() - offset - 4 < qsizetype(length))
            break;
        // decodeMessage copies what it keeps (QCborValue owns its strings), so the
        // payload is read in place rather than copied out of the buffer first.
        auto decoded = decodeMessage(QByteArray::fromRawData(m_buffer.constData() + offset + 4, qsizetype(length)));
        if (!decoded) {
            m_error = decoded.errorMessage();
            break;
        }
        m_ready.append(std::move(decoded).value());
        offset += 4 + qsizetype(length);
    }
    if (hasError()) {
        m_buffer.clear();
        m_start = 0;
        return false;
    }
    m_start = offset;
    if (m_start == m_buffer.size()) {
        m_buffer.resize(0); // all parsed: nothing to move at the next read
        m_start = 0;
    }
    return true;
}

} // namespace filesync::protocol
