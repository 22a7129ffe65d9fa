#pragma once

#include "blockcodec.h"
#include "loginlimiter.h"
#include "messagechannel.h"
#include "metadatastore.h"
#include "replyto.h"
#include "serverbudgets.h"
#include "serverlogging.h"

#include <QObject>

#include <deque>
#include <functional>
#include <optional>

class QThreadPool;

namespace filesync {

class AccountStore;
class BlockRelay;
class BlockStore;
class ChangeFeed;

// What every session shares; owned by SyncServer, which outlives its sessions.
struct ServerContext
{
    MetadataStore &metadata;
    BlockStore &blocks;
    AccountStore &accounts;
    ChangeFeed &feed;
    BlockRelay &relay;
    QThreadPool &verifyPool; // hashes uploaded blocks; SyncServer's, which waits for it in stop()
    protocol::ByteBudget &buffered; // bytes received and not yet taken, all connections
    protocol::ByteBudget &decoded; // uploaded blocks decoded and not yet stored, all connections
    protocol::ByteBudget &replies; // replies queued and not read yet, all connections
    const ServerBudgets &budgets;
    quint64 closedBytesIn = 0; // bytes of sessions that have ended
    quint64 closedBytesOut = 0;
    quint64 commits = 0; // Commit requests served since start
    std::function<quint64()> liveBytesIn; // sums over connected sessions
    std::function<quint64()> liveBytesOut;
    std::function<int()> sessionCount;
    int loginTimeoutMs = 30 * 1000; // a connection must log in within this time
    quint64 blocksServed = 0; // blocks sent for GetBlock (without `wait`) and GetBlocks
    quint64 waitBlocksServed = 0; // GetBlock{wait} answered with BlockData (prefetches)
    qint64 batchReplyBudget = protocol::kBatchReplyBudget; // block bytes in one BlocksData
    qint64 nextSessionId = 1; // session ids: unique while the server runs
};

// One connected computer: the handshake, then its requests, each verb a method, answered
// in order. Nothing but Hello, Login, CreateAccount and Ping is accepted before login; a
// malformed or unexpected message gets an Error and closes the connection, having
// changed nothing. A request that cannot be served yet (replies pile up unread: more than
// kOutputHighWater queued, or kFairShare while all connections' replies are past their
// budget; or its blocks would decode past a budget) is held, and the channel reads
// nothing more until it is served: the rest waits in the kernel, not here.
// Lives on the server's event thread; owned by SyncServer (deleted after it disconnects).
class ClientSession : public QObject
{
    Q_OBJECT
public:
    static constexpr qint64 kOutputHighWater = 48 * 1024 * 1024;
    static constexpr qint64 kOutputLowWater = 16 * 1024 * 1024;
    // While the server's budget of buffered bytes or of unread replies is spent, what a
    // connection may still hold of it and go on: one that reads its replies, or sends a
    // small request, is not held back by the others.
    static constexpr qint64 kFairShare = 2 * 1024 * 1024 + 256 * 1024;
    // A server socket's read buffer (the channel's reader holds the frame under way):
    // before login, where frames are tiny; then room for a few whole batches of blocks
    // (PutBlocks of up to about kBatchBytes), so that each arrives in one pass and the
    // proofs of pipelined uploads are recorded together.
    static constexpr qint64 kSocketReadBuffer = 1024 * 1024;
    static constexpr qint64 kLoggedInReadBuffer = 4 * protocol::kBatchBytes;
    static constexpr int kCloseTimeoutMs = 10 * 1000;
    static constexpr int kMaxProofBatch = 1024; // uploaded blocks recorded in one transaction
    static constexpr qint64 kPoolVerifyFromBytes = 32 * 1024; // smaller ones: on the event thread

    ClientSession(QTcpSocket *socket, ServerContext &context, QObject *parent = nullptr);
    ~ClientSession() override;

    // For tests: called on the verify pool before each upload is hashed there (a slow
    // machine). Not thread-safe: set it while no upload is hashed.
    static void setBeforePoolVerifyForTests(std::function<void()> hook);

    void notifyAdvanced(quint64 head);
    void close();
    // Closes at once, dropping what is queued: the server is over a budget and this
    // connection holds the most of it.
    void shed(const QString &reason);
    qint64 unreadReplyBytes() const { return m_channel->bytesToWrite(); }
    qint64 bufferedBytes() const { return m_channel->bufferedBytes(); }
    quint64 bytesIn() const { return m_channel->bytesIn(); }
    quint64 bytesOut() const { return m_channel->bytesOut(); }
    qint64 sessionId() const { return m_sessionId; } // 0 until logged in
    bool isLoggedIn() const { return m_stage == Stage::Ready; }

    // BlockRelay: another session's Announce, false when it was not sent
    // (this session's output is backed up: an announce is only a hint); a parked GetBlock
    // whose block arrived, or whose wait ran out.
    bool sendAnnounced(const protocol::Announce &announce);
    void serveParked(quint64 id, const ContentHash &hash);
    void expireParked(quint64 id);

Q_SIGNALS:
    void finished(); // disconnected; safe to deleteLater()

private:
    enum class Stage { AwaitHello, AwaitLogin, Ready, Closing };

    void onMessage(const protocol::Envelope &envelope);
    void drainQueue();
    void hold(const protocol::Envelope &envelope);
    void dispatch(const protocol::Envelope &envelope);
    void onHello(const protocol::Envelope &envelope);
    void onLogin(const protocol::Envelope &envelope);
    void refuseLogin(quint64 id, const LoginLimiter::Refusal &refusal, bool creating);
    void onCreateAccount(const protocol::Envelope &envelope);
    void onGetChanges(const protocol::Envelope &envelope);
    void onQueryBlocks(const protocol::Envelope &envelope);
    bool mayDispatch(const protocol::Envelope &envelope) const;
    // What an upload's blocks decode to, as their headers declare (checked when decoded).
    static qint64 declaredBytes(const protocol::Envelope &envelope);
    static bool isUpload(protocol::MessageType type); // PutBlock or PutBlocks
    void onPutBlock(const protocol::Envelope &envelope);
    void onVerified(quint64 sequence, Result<std::vector<protocol::VerifiedBlock>> blocks);
    void storeVerified();
    void flushProofs();
    void onGetBlock(const protocol::Envelope &envelope);
    void onGetBlocks(const protocol::Envelope &envelope);
    void sendBlock(quint64 id, const ContentHash &hash, bool wait);
    void onAnnounce(const protocol::Envelope &envelope);
    void onCommit(const protocol::Envelope &envelope);
    void onGetStats(const protocol::Envelope &envelope);
    void loggedIn(quint64 id, AccountKey account, const QString &createdId);
    void fail(quint64 id, const char *code, const QString &message); // error reply + close
    void reply(quint64 id, const char *code, const QString &message); // error reply, stay open
    void onDisconnected();
    void leaveServer();

    ServerContext &m_context;
    protocol::MessageChannel *m_channel;
    Stage m_stage = Stage::AwaitHello;
    AccountKey m_account = 0;
    qint64 m_sessionId = 0;
    QString m_sessionName;
    bool m_subscribed = false;
    bool m_leftServer = false; // leaveServer() done: the server's state is not touched again
    // Blocks stored for PutBlocks whose Ok waits for their proof to be recorded: one
    // database transaction per batch (at most kMaxProofBatch, or what arrived in one pass
    // of the event loop), written before any other request is served, so replies stay in
    // order and a Commit or QueryBlocks always sees them.
    QList<ContentHash> m_proofs;
    QList<quint64> m_proofIds;
    // The request that waits for the output to drain or a decoding budget, while the
    // channel is paused.
    std::optional<protocol::Envelope> m_held;
    // PutBlock(s) whose SHA-256 runs on the pool (the event thread reads on meanwhile: it
    // was the bottleneck of a big upload), stored and answered in request order once
    // checked; any other request is held until they are.
    struct Verifying
    {
        quint64 id = 0;
        qint64 bytes = 0; // decoded, as declared
        // Set when the hashes are checked: every block of the request, or why not.
        std::optional<Result<std::vector<protocol::VerifiedBlock>>> blocks;
    };
    std::deque<Verifying> m_verifying;
    quint64 m_verifyingFirst = 0; // sequence number of m_verifying.front()
    qint64 m_verifyingBytes = 0; // decoded, as declared; counted in ServerContext::decoded too
    bool m_storing = false; // storeVerified() under way
    ReplyTo m_replyTo { this }; // declared last, destroyed first: no job reports to a dead session
};

} // namespace filesync
