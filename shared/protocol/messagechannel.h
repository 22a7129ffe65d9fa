#pragma once

#include "framereader.h"
#include "messages.h"

#include <QLoggingCategory>
#include <QObject>
#include <QPointer>
#include <QTcpSocket>

Q_DECLARE_LOGGING_CATEGORY(lcProtocol)

namespace filesync::protocol {

// One framed, CBOR-speaking connection over a TCP (or TLS) socket. Used by both the
// server's ClientSession and the client's ServerConnection, so framing, caps and byte
// counting exist once. Lives in the thread of its socket; it takes ownership of it.
// A protocol violation by the peer emits protocolError() and aborts the socket.
class MessageChannel : public QObject
{
    Q_OBJECT
public:
    explicit MessageChannel(QTcpSocket *socket, QObject *parent = nullptr);
    ~MessageChannel() override;

    template<typename Body> void send(MessageType type, quint64 id, const Body &body)
    {
        sendEnvelope(Envelope { type, id, body.toCbor() });
    }
    void send(MessageType type, quint64 id, const QCborMap &body) { sendEnvelope(Envelope { type, id, body, {} }); }
    void send(MessageType type, quint64 id, const BlockPayload &block) { sendEnvelope(block.toEnvelope(type, id)); }
    void sendEnvelope(const Envelope &envelope);
    void sendError(quint64 id, const QString &code, const QString &message);

    // Closes after everything queued has been written.
    void closeGracefully();
    void abort();

    QTcpSocket *socket() const { return m_socket; }
    bool isConnected() const;
    quint64 bytesIn() const { return m_bytesIn; }
    quint64 bytesOut() const { return m_bytesOut; }
    qint64 bytesToWrite() const;
    QString peerDescription() const;

Q_SIGNALS:
    void messageReceived(const filesync::protocol::Envelope &envelope);
    void protocolError(const QString &reason);
    void bytesWritten(qint64 pending); // bytes still queued after a write completed
    void disconnected();

private:
    void onReadyRead();

    QPointer<QTcpSocket> m_socket;
    FrameReader m_reader;
    quint64 m_bytesIn = 0;
    quint64 m_bytesOut = 0;
    bool m_failed = false;
};

} // namespace filesync::protocol
