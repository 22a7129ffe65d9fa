#include "messagechannel.h"

#include <utility>

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
    connect(socket, &QTcpSocket::disconnected, this, [this] {
        releaseBudgets();
        Q_EMIT disconnected();
    });
    connect(socket, &QTcpSocket::bytesWritten, this, [this](qint64) {
        m_lastOutput.restart();
        accountOutput();
        Q_EMIT bytesWritten(bytesToWrite());
    });
    connect(&m_watchdog, &QTimer::timeout, this, &MessageChannel::checkTimeouts);
    m_lastInput.start();
    m_lastOutput.start();
}

MessageChannel::~MessageChannel()
{
    releaseBudgets();
}

// Here and in account(): the count is ours before give() runs, as give() may call back
// (released() lets held connections, this one among them, read or send at once).
void MessageChannel::releaseBudgets()
{
    if (ByteBudget *budget = std::exchange(m_budget, nullptr))
        budget->give(std::exchange(m_accounted, 0));
    m_accounted = 0;
    if (ByteBudget *budget = std::exchange(m_replyBudget, nullptr))
        budget->give(std::exchange(m_outputAccounted, 0));
    m_outputAccounted = 0;
}

void MessageChannel::setTimeouts(int headerMs, int frameMs, int idleMs)
{
    m_headerTimeoutMs = headerMs;
    m_frameTimeoutMs = frameMs;
    m_idleTimeoutMs = idleMs;
    int shortest = 0;
    for (const int t : { headerMs, frameMs, idleMs }) {
        if (t > 0)
            shortest = shortest ? qMin(shortest, t) : t;
    }
    m_lastInput.restart();
    m_lastOutput.restart();
    if (shortest == 0)
        return m_watchdog.stop();
    // A quarter of the shortest: a timeout is seen at most a quarter late.
    m_watchdog.start(qBound(10, shortest / 4, 1000));
}

void MessageChannel::setPaused(bool paused)
{
    if (paused == m_paused)
        return;
    m_paused = paused;
    if (!paused) {
        // What arrived meanwhile, or already sits in the reader, is read on at once.
        m_lastInput.restart();
        if (m_frameStart.isValid())
            m_frameStart.restart();
        QMetaObject::invokeMethod(this, &MessageChannel::onReadyRead, Qt::QueuedConnection);
    }
}

void MessageChannel::setReplyBudget(ByteBudget *budget)
{
    Q_ASSERT(!m_replyBudget);
    m_replyBudget = budget;
    accountOutput();
}

void MessageChannel::accountOutput()
{
    if (!m_replyBudget)
        return;
    const qint64 change = bytesToWrite() - m_outputAccounted;
    m_outputAccounted += change;
    if (change > 0)
        m_replyBudget->take(change);
    else if (change < 0)
        m_replyBudget->give(-change);
}

void MessageChannel::setBufferBudget(ByteBudget *budget, qint64 share)
{
    Q_ASSERT(!m_budget);
    m_budget = budget;
    m_budgetShare = share;
    m_budget->take(m_accounted);
    connect(budget, &ByteBudget::released, this, [this] {
        if (m_waitingForBudget) {
            m_waitingForBudget = false;
            onReadyRead();
        }
    });
}

void MessageChannel::account()
{
    const qint64 change = m_reader.bufferedBytes() + (m_socket ? m_socket->bytesAvailable() : 0) - m_accounted;
    m_accounted += change;
    if (m_budget) {
        if (change > 0)
            m_budget->take(change);
        else if (change < 0)
            m_budget->give(-change);
    }
}

void MessageChannel::failWith(const char *code, const QString &reason)
{
    m_failed = true;
    m_watchdog.stop();
    qCWarning(lcProtocol) << "protocol error from" << peerDescription() << ":" << reason;
    sendError(0, QLatin1String(code), reason);
    Q_EMIT protocolError(reason);
    if (m_socket) {
        m_socket->flush();
        m_socket->disconnectFromHost();
    }
    account();
}

void MessageChannel::checkTimeouts()
{
    if (m_failed || !m_socket)
        return;
    const bool stalledOutput = bytesToWrite() > 0;
    if (m_idleTimeoutMs > 0 && stalledOutput && m_lastOutput.hasExpired(m_idleTimeoutMs))
        return failWith(
            errors::kTimeout, QStringLiteral("replies were not read for %1 ms").arg(m_lastOutput.elapsed()));
    // While paused, or with a whole frame not taken yet, the wait is ours, not the peer's.
    if (m_paused || m_reader.hasCompleteFrame() || m_waitingForBudget)
        return;
    if (m_idleTimeoutMs > 0 && !stalledOutput && m_lastInput.hasExpired(m_idleTimeoutMs))
        return failWith(errors::kTimeout, QStringLiteral("nothing received for %1 ms").arg(m_lastInput.elapsed()));
    if (!m_frameStart.isValid())
        return;
    if (m_headerTimeoutMs > 0 && !m_reader.headerComplete() && m_frameStart.hasExpired(m_headerTimeoutMs))
        return failWith(
            errors::kTimeout, QStringLiteral("a frame's header did not arrive within %1 ms").arg(m_headerTimeoutMs));
    if (m_frameTimeoutMs > 0 && m_frameStart.hasExpired(m_frameTimeoutMs))
        return failWith(errors::kTimeout, QStringLiteral("a frame did not arrive within %1 ms").arg(m_frameTimeoutMs));
}

void MessageChannel::sendEnvelope(const Envelope &envelope)
{
    if (!isConnected())
        return;
    const QByteArray frame = encodeFrame(envelope);
    m_bytesOut += quint64(frame.size());
    if (m_socket->bytesToWrite() == 0)
        m_lastOutput.restart(); // the output's stall clock starts with its first waiting byte
    m_socket->write(frame);
    accountOutput();
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
    m_failed = true;
    m_watchdog.stop();
    releaseBudgets(); // what was queued and buffered is dropped with the socket
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

void MessageChannel::resume()
{
    m_resumeQueued = false;
    onReadyRead();
}

void MessageChannel::onReadyRead()
{
    if (m_failed || !m_socket || m_paused)
        return;
    // Take every complete message, one at a time (a slot may pause or close the channel,
    // so check after each one), then read a bounded chunk more, while the budget allows.
    // A pass ends after a few messages or milliseconds of work: the rest waits one turn of
    // the event loop, so that a peer with many requests queued (each reply a 16 MiB block)
    // does not keep every other connection waiting.
    QElapsedTimer pass;
    pass.start();
    int taken = 0;
    for (;;) {
        while (!m_paused) {
            if (taken == kMessagesPerPass || (taken > 0 && pass.hasExpired(kPassMs))) {
                if (!std::exchange(m_resumeQueued, true))
                    QMetaObject::invokeMethod(this, &MessageChannel::resume, Qt::QueuedConnection);
                break;
            }
            auto envelope = m_reader.take();
            if (!envelope)
                break;
            ++taken;
            m_frameStart.invalidate(); // the next frame's clock starts with its first byte
            Q_EMIT messageReceived(*envelope);
            if (m_failed || !m_socket)
                return;
        }
        if (m_resumeQueued)
            break;
        if (m_reader.hasError())
            return failWith(m_reader.errorCode(), m_reader.error());
        if (m_paused || m_socket->bytesAvailable() <= 0)
            break;
        if (m_budget && m_budget->exhausted() && m_accounted >= m_budgetShare) {
            m_waitingForBudget = true; // resumed by the budget's released()
            break;
        }
        qint64 got = 0;
        const bool ok = m_reader.feedFrom(m_socket, qMin<qint64>(m_socket->bytesAvailable(), 256 * 1024), got);
        m_bytesIn += quint64(got);
        if (got > 0)
            m_lastInput.restart();
        account();
        if (!ok)
            return failWith(m_reader.errorCode(), m_reader.error());
        if (got == 0)
            break; // nothing came (a read error shows as a disconnect)
    }
    // A frame is under way while some of it is buffered.
    if (m_reader.bufferedBytes() == 0)
        m_frameStart.invalidate();
    else if (!m_frameStart.isValid())
        m_frameStart.start();
    account();
}

} // namespace filesync::protocol
