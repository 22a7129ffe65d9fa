#include "messagechannel.h"

Q_LOGGING_CATEGORY(lcProtocol, "filesync.protocol", QtInfoMsg)

namespace filesync::protocol {

MessageChannel::MessageChannel(QTcpSocket *socket, QObject *parent)
    : QObject(parent)
    , m_socket(socket)
{
    Q_ASSERT(socket);
    socket->setParent(this);
    socket->setReadBufferSize(kSocketReadBuffer);
    socket->setSocketOption(QAbstractSocket::LowDelayOption, 1);
    connect(socket, &QTcpSocket::readyRead, this, &MessageChannel::onReadyRead);
    connect(socket, &QTcpSocket::disconnected, this, &MessageChannel::disconnected);
    connect(socket, &QTcpSocket::bytesWritten, this, [this](qint64) { Q_EMIT bytesWritten(bytesToWrite()); });
}

MessageChannel::~MessageChannel() = default;

void MessageChannel::sendEnvelope(const Envelope &envelope)
{
    if (!isConnected())
        return;
    const QByteArray frame = encodeFrame(envelope);
    m_bytesOut += quint64(frame.size());
    m_socket->write(frame);
}

void MessageChannel::sendError(quint64 id, const QString &code, const QString &message)
{
    send(MessageType::ErrorReply, id, ErrorReply { code, message });
}

void MessageChannel::closeGracefully()
{
    if (m_socket)
        m_socket->disconnectFromHost();
}

void MessageChannel::abort()
{
    if (m_socket)
        m_socket->abort();
}

bool MessageChannel::isConnected() const
{
    return m_socket && m_socket->state() == QAbstractSocket::ConnectedState;
}

qint64 MessageChannel::bytesToWrite() const
{
    return m_socket ? m_socket->bytesToWrite() : 0;
}

QString MessageChannel::peerDescription() const
{
    if (!m_socket)
        return QStringLiteral("(closed)");
    return QStringLiteral("%1:%2").arg(m_socket->peerAddress().toString()).arg(m_socket->peerPort());
}

void MessageChannel::onReadyRead()
{
    if (m_failed || !m_socket)
        return;
    // Read what the socket has, a bounded chunk at a time, and dispatch every complete
    // message. A slot may close the channel, so check after each one.
    while (m_socket && m_socket->bytesAvailable() > 0 && !m_failed) {
        qint64 got = 0;
        const bool ok = m_reader.feedFrom(m_socket, qMin<qint64>(m_socket->bytesAvailable(), 256 * 1024), got);
        m_bytesIn += quint64(got);
        if (!ok) {
            m_failed = true;
            const QString reason = m_reader.error();
            qCWarning(lcProtocol) << "protocol error from" << peerDescription() << ":" << reason;
            sendError(0, QLatin1String(errors::kBadRequest), reason);
            Q_EMIT protocolError(reason);
            if (m_socket) {
                m_socket->flush();
                m_socket->disconnectFromHost();
            }
            return;
        }
        if (got == 0)
            break; // nothing came (a read error shows as a disconnect)
        while (auto envelope = m_reader.take()) {
            Q_EMIT messageReceived(*envelope);
            if (m_failed || !m_socket)
                return;
        }
    }
}

} // namespace filesync::protocol
