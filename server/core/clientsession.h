#pragma once

#include "messagechannel.h"
#include "metadatastore.h"

#include <QObject>

Q_DECLARE_LOGGING_CATEGORY(lcServer)

namespace filesync {

class AccountStore;
class BlockStore;
class ChangeFeed;

// What every session shares; owned by SyncServer, which outlives its sessions.
struct ServerContext
{
    MetadataStore &metadata;
    BlockStore &blocks;
    AccountStore &accounts;
    ChangeFeed &feed;
    quint64 closedBytesIn = 0; // bytes of sessions that have ended
    quint64 closedBytesOut = 0;
    quint64 commits = 0;
    std::function<quint64()> liveBytesIn; // sums over connected sessions
    std::function<quint64()> liveBytesOut;
    std::function<int()> sessionCount;
};

// One connected computer: the handshake, then its requests, each verb a method. Nothing
// but Hello, Login, CreateAccount and Ping is accepted before login; any malformed or
// unexpected message closes the connection with an Error, having changed nothing. Lives
// on the server's event thread; owned by SyncServer (deleted after it disconnects).
class ClientSession : public QObject
{
    Q_OBJECT
public:
    ClientSession(QTcpSocket *socket, ServerContext &context, QObject *parent = nullptr);
    ~ClientSession() override;

    void notifyAdvanced(quint64 head);
    void close();
    quint64 bytesIn() const { return m_channel->bytesIn(); }
    quint64 bytesOut() const { return m_channel->bytesOut(); }
    qint64 sessionId() const { return m_sessionId; }

Q_SIGNALS:
    void finished(); // disconnected; safe to deleteLater()

private:
    enum class Stage { AwaitHello, AwaitLogin, Ready, Closing };

    void onMessage(const protocol::Envelope &envelope);
    void onHello(const protocol::Envelope &envelope);
    void onLogin(const protocol::Envelope &envelope);
    void onCreateAccount(const protocol::Envelope &envelope);
    void onGetChanges(const protocol::Envelope &envelope);
    void onQueryBlocks(const protocol::Envelope &envelope);
    void onPutBlock(const protocol::Envelope &envelope);
    void onGetBlock(const protocol::Envelope &envelope);
    void onCommit(const protocol::Envelope &envelope);
    void onGetStats(const protocol::Envelope &envelope);
    void loggedIn(quint64 id, AccountKey account, const QString &createdId);
    void fail(quint64 id, const char *code, const QString &message); // error reply + close
    void reply(quint64 id, const char *code, const QString &message); // error reply, stay open
    void onDisconnected();

    ServerContext &m_context;
    protocol::MessageChannel *m_channel;
    Stage m_stage = Stage::AwaitHello;
    AccountKey m_account = 0;
    qint64 m_sessionId = 0;
    QString m_sessionName;
    bool m_subscribed = false;
};

} // namespace filesync
