#include "syncserver.h"

#include "accountstore.h"
#include "blockrelay.h"
#include "blockstore.h"
#include "changefeed.h"
#include "clientsession.h"
#include "metricsendpoint.h"
#include "privatefiles.h"
#include "sqlitemetadatastore.h"

#include <QDir>
#include <QSocketNotifier>
#include <QTcpServer>
#include <QTcpSocket>
#include <QTimer>

#include <algorithm>
#include <cerrno>
#include <sys/socket.h>
#include <unistd.h>

namespace filesync {

SyncServer::SyncServer(const ServerConfig &config, QObject *parent)
    : QObject(parent)
    , m_config(config)
{
    m_verifyPool.setMaxThreadCount(2);
    m_verifyPool.setExpiryTimeout(5000);
}

SyncServer::~SyncServer()
{
    stop();
}

Result<void> SyncServer::start()
{
    Q_ASSERT(!m_listener);
    // Every account's files and the hashes of their IDs: the owner's alone (each store
    // fixes what it keeps inside).
    if (!privatefiles::makeDir(m_config.dataDir))
        return makeError(QStringLiteral("cannot create the data directory %1").arg(m_config.dataDir));
    m_metadata = std::make_unique<SqliteMetadataStore>(m_config.dataDir + QStringLiteral("/metadata.db"));
    if (auto opened = m_metadata->open(); !opened)
        return opened;
    m_blocks = std::make_unique<LocalBlockStore>(m_config.dataDir + QStringLiteral("/blocks"));
    if (auto opened = m_blocks->open(); !opened)
        return opened;
    m_accounts = std::make_unique<AccountStore>(*m_metadata, m_config.loginLimits);
    m_feed = std::make_unique<ChangeFeed>();
    m_relay = std::make_unique<BlockRelay>();
    m_buffered = std::make_unique<protocol::ByteBudget>(m_config.budgets.bufferedBytes);
    m_decoded = std::make_unique<protocol::ByteBudget>(m_config.budgets.decodedBytes);
    m_replies = std::make_unique<protocol::ByteBudget>(m_config.budgets.replyBytes);
    // Connections that hold little go on while these are spent (ClientSession::kFairShare):
    // past the overdraft the biggest holders are closed. Later, so that a holder is not
    // closed in the middle of its own request.
    for (const bool replies : { false, true }) {
        protocol::ByteBudget *budget = replies ? m_replies.get() : m_buffered.get();
        budget->setOverdraft(m_config.budgets.overdraftBytes);
        connect(
            budget, &protocol::ByteBudget::overdrawnBy, this, [this, replies] { shed(replies); }, Qt::QueuedConnection);
    }
    m_context = std::make_unique<ServerContext>(ServerContext { *m_metadata, *m_blocks, *m_accounts, *m_feed, *m_relay,
        m_verifyPool, *m_buffered, *m_decoded, *m_replies, m_config.budgets, 0, 0, 0, {}, {}, {}, m_loginTimeoutMs });
    m_context->batchReplyBudget = m_batchReplyBudget;
    m_context->liveBytesIn = [this] {
        quint64 sum = 0;
        for (ClientSession *s : std::as_const(m_sessions))
            sum += s->bytesIn();
        return sum;
    };
    m_context->liveBytesOut = [this] {
        quint64 sum = 0;
        for (ClientSession *s : std::as_const(m_sessions))
            sum += s->bytesOut();
        return sum;
    };
    m_context->sessionCount = [this] { return int(m_sessions.size()); };

    m_listener = new QTcpServer(this);
    m_listener->setMaxPendingConnections(1024);
    if (!m_listener->listen(m_config.listenAddress, m_config.port)) {
        const QString reason = m_listener->errorString();
        stop();
        return makeError(QStringLiteral("cannot listen on %1:%2: %3")
                             .arg(m_config.listenAddress.toString())
                             .arg(m_config.port)
                             .arg(reason));
    }
    // QTcpServer retries a failed accept() at once for ever when the process is out of file
    // descriptors (it takes EMFILE for a temporary error): its notifier stays off, ours
    // accepts and can back off.
    m_listener->pauseAccepting();
    m_acceptNotifier = new QSocketNotifier(m_listener->socketDescriptor(), QSocketNotifier::Read, m_listener);
    connect(m_acceptNotifier, &QSocketNotifier::activated, this, &SyncServer::onAcceptReady);
    if (!m_config.metricsListen.isEmpty()) {
        m_metrics = new MetricsEndpoint([this] { return metricsText(); }, this);
        if (auto listening = m_metrics->listen(m_config.metricsListen); !listening) {
            stop();
            return listening;
        }
    }
    qCInfo(lcServer) << "serving" << m_config.dataDir << "on" << address().toString() << port();
    return {};
}

void SyncServer::stop()
{
    if (m_listener) {
        delete m_acceptNotifier;
        m_acceptNotifier = nullptr;
        m_listener->close();
        delete m_listener;
        m_listener = nullptr;
    }
    delete m_metrics;
    m_metrics = nullptr;
    const QSet<ClientSession *> sessions = std::exchange(m_sessions, {});
    for (ClientSession *s : sessions) {
        s->disconnect(this);
        delete s; // aborts its socket
    }
    if (!sessions.isEmpty())
        Q_EMIT sessionCountChanged(0);
    // Their results would reach nobody: queued ones are dropped, running ones waited for.
    m_verifyPool.clear();
    m_verifyPool.waitForDone();
    m_context.reset();
    m_relay.reset();
    m_feed.reset();
    m_accounts.reset();
    if (m_blocks) {
        if (auto synced = m_blocks->sync(); !synced)
            qCWarning(lcServer) << synced.errorMessage();
    }
    m_blocks.reset();
    if (m_metadata)
        m_metadata->close();
    m_metadata.reset();
}

void SyncServer::setBatchReplyBudget(qint64 bytes)
{
    m_batchReplyBudget = bytes;
    if (m_context)
        m_context->batchReplyBudget = bytes;
}

quint16 SyncServer::port() const
{
    return m_listener ? m_listener->serverPort() : 0;
}

QHostAddress SyncServer::address() const
{
    return m_listener ? m_listener->serverAddress() : QHostAddress();
}

void SyncServer::setLoginTimeout(int milliseconds)
{
    m_loginTimeoutMs = milliseconds;
    if (m_context)
        m_context->loginTimeoutMs = milliseconds;
}

qint64 SyncServer::peakBufferedBytes() const
{
    return m_buffered ? m_buffered->peak() : 0;
}

qint64 SyncServer::peakDecodedBytes() const
{
    return m_decoded ? m_decoded->peak() : 0;
}

qint64 SyncServer::peakReplyBytes() const
{
    return m_replies ? m_replies->peak() : 0;
}

void SyncServer::shed(bool replies)
{
    protocol::ByteBudget *budget = replies ? m_replies.get() : m_buffered.get();
    if (!budget || !budget->overdrawn())
        return; // given back meanwhile
    const auto held
        = [replies](const ClientSession *s) { return replies ? s->unreadReplyBytes() : s->bufferedBytes(); };
    QList<ClientSession *> biggest(m_sessions.cbegin(), m_sessions.cend());
    std::sort(biggest.begin(), biggest.end(),
        [&held](const ClientSession *a, const ClientSession *b) { return held(a) > held(b); });
    for (ClientSession *s : std::as_const(biggest)) {
        if (budget->used() < budget->limit() || held(s) == 0)
            break;
        const qint64 mib = 1024 * 1024;
        s->shed(QStringLiteral("it holds %1 MiB of %2 while all connections hold %3 MiB (their budget: %4 MiB)")
                    .arg(held(s) / mib)
                    .arg(replies ? QStringLiteral("replies not read") : QStringLiteral("requests not taken"))
                    .arg(budget->used() / mib)
                    .arg(budget->limit() / mib));
    }
}

quint64 SyncServer::blocksServed() const
{
    return m_context ? m_context->blocksServed : 0;
}

quint64 SyncServer::waitBlocksServed() const
{
    return m_context ? m_context->waitBlocksServed : 0;
}

int SyncServer::sessionCount() const
{
    return int(m_sessions.size());
}

quint16 SyncServer::metricsPort() const
{
    return m_metrics ? m_metrics->port() : 0;
}

// Out of file descriptors (or memory), accept() fails at once every time it is tried:
// accepting pauses for a while instead, and the episode is logged once.
void SyncServer::onAcceptReady()
{
    for (int accepted = 0; m_acceptNotifier && accepted < 256; ++accepted) {
        const int fd = ::accept4(int(m_listener->socketDescriptor()), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd >= 0) {
            if (m_acceptStarved) {
                m_acceptStarved = false;
                qCInfo(lcServer) << "accepting connections again";
            }
            auto *socket = new QTcpSocket;
            if (!socket->setSocketDescriptor(fd)) {
                ::close(fd);
                delete socket;
                continue;
            }
            addSession(socket);
            continue;
        }
        const int error = errno;
        if (error == EINTR || error == ECONNABORTED)
            continue;
        if (error == EAGAIN || error == EWOULDBLOCK)
            return;
        if (!m_acceptStarved)
            qCWarning(lcServer) << "cannot accept connections:" << qt_error_string(error) << "- trying again every"
                                << m_config.budgets.acceptBackoffMs << "ms";
        m_acceptStarved = true;
        m_acceptNotifier->setEnabled(false);
        QTimer::singleShot(m_config.budgets.acceptBackoffMs, m_acceptNotifier,
            [notifier = m_acceptNotifier] { notifier->setEnabled(true); });
        return;
    }
}

void SyncServer::addSession(QTcpSocket *socket)
{
    auto *session = new ClientSession(socket, *m_context, this);
    m_sessions.insert(session);
    connect(session, &ClientSession::finished, this, [this, session] {
        if (!m_sessions.remove(session))
            return;
        m_context->closedBytesIn += session->bytesIn();
        m_context->closedBytesOut += session->bytesOut();
        session->deleteLater();
        Q_EMIT sessionCountChanged(int(m_sessions.size()));
    });
    Q_EMIT sessionCountChanged(int(m_sessions.size()));
}

QByteArray SyncServer::metricsText() const
{
    QByteArray out;
    auto metric = [&out](const char *name, const char *type, const char *help, quint64 value) {
        out += "# HELP " + QByteArray(name) + ' ' + help + "\n# TYPE " + name + ' ' + type + '\n' + name + ' '
            + QByteArray::number(value) + '\n';
    };
    if (!m_context)
        return out;
    metric("filesync_bytes_received_total", "counter", "Bytes received from all sessions since start.",
        m_context->closedBytesIn + m_context->liveBytesIn());
    metric("filesync_bytes_sent_total", "counter", "Bytes sent to all sessions since start.",
        m_context->closedBytesOut + m_context->liveBytesOut());
    metric("filesync_sessions_connected", "gauge", "Sessions connected now.", quint64(m_sessions.size()));
    metric("filesync_commits_total", "counter", "Commit requests served since start.", m_context->commits);
    auto accounts = m_metadata->accountCount();
    metric("filesync_accounts_total", "gauge", "Accounts on this server.", accounts ? quint64(*accounts) : 0);
    out += "# HELP filesync_session_bytes_received_total Bytes received per connected session.\n"
           "# TYPE filesync_session_bytes_received_total counter\n";
    for (ClientSession *s : m_sessions) {
        if (s->isLoggedIn()) // a label per session id; connections not logged in count in the totals only
            out += "filesync_session_bytes_received_total{session=\"" + QByteArray::number(s->sessionId()) + "\"} "
                + QByteArray::number(s->bytesIn()) + '\n';
    }
    out += "# HELP filesync_session_bytes_sent_total Bytes sent per connected session.\n"
           "# TYPE filesync_session_bytes_sent_total counter\n";
    for (ClientSession *s : m_sessions) {
        if (s->isLoggedIn())
            out += "filesync_session_bytes_sent_total{session=\"" + QByteArray::number(s->sessionId()) + "\"} "
                + QByteArray::number(s->bytesOut()) + '\n';
    }
    return out;
}

} // namespace filesync
