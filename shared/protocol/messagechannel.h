#pragma once

#include "bytebudget.h"
#include "framereader.h"
#include "messages.h"

#include <QElapsedTimer>
#include <QLoggingCategory>
#include <QObject>
#include <QPointer>
#include <QTcpSocket>
#include <QTimer>

Q_DECLARE_LOGGING_CATEGORY(lcProtocol)

namespace filesync::protocol {

// One framed, CBOR-speaking connection over a TCP (or TLS) socket. Used by both the
// server's ClientSession and the client's ServerConnection, so framing, caps and byte
// counting exist once. Lives in the thread of its socket; it takes ownership of it.
// A protocol violation by the peer emits protocolError() and aborts the socket.
// A server's channel is also bounded (setTimeouts, setBufferBudget, setPaused): it stops
// reading rather than hold what its owner cannot take, and closes a peer that stalls.
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

    // Timeouts (0: none), checked while the channel reads: the length and type of a frame
    // must arrive within `headerMs` of its first byte, all of it within `frameMs`; some
    // byte must arrive every `idleMs`, and replies waiting to be written must move on
    // within `idleMs` too. Beyond one: an Error{timeout} and the connection closes.
    void setTimeouts(int headerMs, int frameMs, int idleMs);
    // See FrameReader::setHandshakeOnly.
    void setHandshakeOnly(bool on) { m_reader.setHandshakeOnly(on); }
    // Paused, the channel reads nothing more from its socket and emits no message: what
    // the peer sends waits in the kernel, and TCP slows the peer down.
    void setPaused(bool paused);
    bool isPaused() const { return m_paused; }
    // Bytes buffered here (a partial frame, and the socket's read buffer) count against
    // `budget`; while it is spent the channel reads nothing more, unless it holds less
    // than `share` (a connection that holds little is not held back by the others). Not
    // owned.
    void setBufferBudget(ByteBudget *budget, qint64 share);
    qint64 bufferedBytes() const { return m_accounted; }
    // Bytes queued to be written (replies the peer has not read yet) count against
    // `budget`. Not owned.
    void setReplyBudget(ByteBudget *budget);

    // One pass of reading handles at most this many messages, or this long.
    static constexpr int kMessagesPerPass = 64;
    static constexpr qint64 kPassMs = 10;

Q_SIGNALS:
    void messageReceived(const filesync::protocol::Envelope &envelope);
    void protocolError(const QString &reason);
    void bytesWritten(qint64 pending); // bytes still queued after a write completed
    void disconnected();

private:
    void onReadyRead();
    void resume(); // the rest of a pass that ended early
    void failWith(const char *code, const QString &reason);
    void account(); // brings m_accounted (and the budget) up to what is held now
    void accountOutput(); // the same for m_outputAccounted and the reply budget
    void releaseBudgets(); // gives back everything: the connection is gone
    void checkTimeouts();

    QPointer<QTcpSocket> m_socket;
    FrameReader m_reader;
    quint64 m_bytesIn = 0;
    quint64 m_bytesOut = 0;
    bool m_failed = false;
    bool m_paused = false;
    bool m_resumeQueued = false;
    QPointer<ByteBudget> m_budget;
    qint64 m_budgetShare = 0;
    bool m_waitingForBudget = false;
    qint64 m_accounted = 0;
    QPointer<ByteBudget> m_replyBudget;
    qint64 m_outputAccounted = 0;
    int m_headerTimeoutMs = 0;
    int m_frameTimeoutMs = 0;
    int m_idleTimeoutMs = 0;
    QTimer m_watchdog;
    QElapsedTimer m_lastInput; // since the last byte read
    QElapsedTimer m_frameStart; // since the first byte of the frame under way (invalid: none)
    QElapsedTimer m_lastOutput; // since written bytes last moved on
};

} // namespace filesync::protocol
