#pragma once

#include "bytebudget.h"
#include "loginlimiter.h"
#include "protocol.h"
#include "result.h"
#include "serverbudgets.h"

#include <QHostAddress>
#include <QObject>
#include <QSet>
#include <QThreadPool>

#include <memory>

class QSocketNotifier;
class QTcpServer;
class QTcpSocket;

namespace filesync {

class AccountStore;
class BlockRelay;
class BlockStore;
class ChangeFeed;
class ClientSession;
class MetadataStore;
class MetricsEndpoint;
struct ServerContext;

struct ServerConfig
{
    QString dataDir; // metadata.db and blocks/ live here
    QHostAddress listenAddress = QHostAddress::Any;
    quint16 port = 0; // 0: pick a free one
    QString metricsListen; // "ADDR:PORT" for the Prometheus endpoint, or empty
    ServerBudgets budgets;
    LoginLimits loginLimits {}; // failed logins (tests make them small)
};

// The FileSync server: accepts connections, owns the stores, the change feed, one
// ClientSession per connection and the one worker pool (uploaded blocks hashed off the
// event thread). Event-driven on the thread that created it; owned by main() or a test.
class SyncServer : public QObject
{
    Q_OBJECT
public:
    explicit SyncServer(const ServerConfig &config, QObject *parent = nullptr);
    ~SyncServer() override;

    Result<void> start(); // opens the stores, then listens
    void stop(); // closes every session and the stores
    quint16 port() const;
    QHostAddress address() const;
    int sessionCount() const;
    quint16 metricsPort() const;
    // How long a new connection may take to log in (default 30 s); short in tests.
    void setLoginTimeout(int milliseconds);
    QByteArray metricsText() const; // Prometheus text format
    // For tests: the block bytes one BlocksData may hold, from now on.
    void setBatchReplyBudget(qint64 bytes);
    // GetBlocks answered with data since start: plain ones, and prefetches (`wait`).
    quint64 blocksServed() const;
    quint64 waitBlocksServed() const;
    BlockRelay *relay() const { return m_relay.get(); }
    // The most bytes all connections held at once since start: received and not yet taken
    // (a partial frame, a socket's read buffer), and uploaded blocks decoded.
    qint64 peakBufferedBytes() const;
    qint64 peakDecodedBytes() const;
    // The most bytes of replies all connections had queued unread at once since start.
    qint64 peakReplyBytes() const;

Q_SIGNALS:
    void sessionCountChanged(int count);

private:
    void onAcceptReady(); // accepts what the kernel has queued, or backs off
    void addSession(QTcpSocket *socket);
    // Over a budget (unread replies, or else bytes received) by more than its overdraft:
    // closes the connections that hold the most of it, most first, until it is back under
    // its limit.
    void shed(bool replies);

    ServerConfig m_config;
    std::unique_ptr<MetadataStore> m_metadata;
    std::unique_ptr<BlockStore> m_blocks;
    std::unique_ptr<AccountStore> m_accounts;
    std::unique_ptr<ChangeFeed> m_feed;
    std::unique_ptr<BlockRelay> m_relay;
    std::unique_ptr<protocol::ByteBudget> m_buffered;
    std::unique_ptr<protocol::ByteBudget> m_decoded;
    std::unique_ptr<protocol::ByteBudget> m_replies;
    std::unique_ptr<ServerContext> m_context;
    // Two threads (the machines this targets have two cores); stop() drops the queued
    // jobs of the sessions it closed and waits for those running.
    QThreadPool m_verifyPool;
    QTcpServer *m_listener = nullptr; // binds and listens; accept() is ours (onAcceptReady)
    QSocketNotifier *m_acceptNotifier = nullptr;
    MetricsEndpoint *m_metrics = nullptr;
    QSet<ClientSession *> m_sessions;
    bool m_acceptStarved = false; // accept() failed for want of descriptors; logged once
    int m_loginTimeoutMs = 30 * 1000;
    qint64 m_batchReplyBudget = protocol::kBatchReplyBudget;
};

} // namespace filesync
