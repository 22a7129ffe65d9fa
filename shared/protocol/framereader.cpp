#include "framereader.h"

#include <QtEndian>

namespace filesync::protocol {

bool FrameReader::feed(const QByteArray &bytes)
{
    if (hasError())
        return false;
    m_buffer.append(bytes);
    return parse();
}

std::optional<Envelope> FrameReader::take()
{
    if (m_ready.isEmpty())
        return std::nullopt;
    return m_ready.takeFirst();
}

bool FrameReader::parse()
{
    qsizetype offset = 0;
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
        // The payload is a CBOR array [type, id, body] whose first byte is the array
        // header and whose second is the type (types are < 24, so one byte).
        if (m_buffer.size() - offset < 6)
            break;
        const quint8 type = quint8(m_buffer.at(offset + 5));
        if (qint64(length) > kMaxMetadataFrame && !isBlockFrameType(type)) {
            m_error = QStringLiteral("frame of %1 bytes exceeds the %2-byte metadata cap")
                          .arg(length)
                          .arg(kMaxMetadataFrame);
            break;
        }
        if (m_buffer.size() - offset - 4 < qsizetype(length))
            break;
        auto decoded = decodeMessage(m_buffer.mid(offset + 4, length));
        if (!decoded) {
            m_error = decoded.errorMessage();
            break;
        }
        m_ready.append(std::move(decoded).value());
        offset += 4 + qsizetype(length);
    }
    if (hasError()) {
        m_buffer.clear();
        return false;
    }
    m_buffer.remove(0, offset);
    return true;
}

} // namespace filesync::protocol
