#pragma once

#include "messagechannel.h"

#include <QHash>
#include <QObject>
#include <QTimer>

#include <functional>
#include <type_traits>

namespace filesync {

class Prefetcher;

// The answer to one request: the expected reply, or an error code ("disconnected",
// "unknown-account", ... or "bad-reply") and a sentence for a human.
template<typename T> struct Reply
{
    std::optional<T> value;
    QString code;
    QString message;
    QString scope {}; // rate-limited: which limit ("account", "address", "global")
    int retryAfterSeconds = 0; // rate-limited: when to try again

    explicit operator bool() const { return value.has_value(); }
    const T &operator*() const { return *value; }
    const T *operator->() const { return &*value; }
};

// PutBlock is answered with an empty Ok.
struct Done
{
    static Result<Done> fromCbor(const QCborMap &) { return Done {}; }
};

// The client's side of one connection: TCP connect, the versioned handshake, then
// requests with ids, many in flight at once; each reply goes to the handler given with
// its request. When the connection drops, every pending handler gets an Error envelope
// with code "disconnected", so no caller waits forever. Pushes (Advanced) are signals.
// Engine thread; owned by SyncEngine.
class ServerConnection : public QObject
{
    Q_OBJECT
public:
    using ReplyHandler = std::function<void(const protocol::Envelope &reply)>;
    static constexpr char kDisconnected[] = "disconnected";

    // `keepAliveMs`: a quiet connection is pinged this often, and one that has said
    // nothing for three such periods while we wait for it is given up (a half-open TCP
    // connection would otherwise wait for the kernel's two-hour keepalive).
    ServerConnection(const QString &host, quint16 port, int keepAliveMs = 15000, QObject *parent = nullptr);
    ~ServerConnection() override;

    void open(); // connect + Hello; emits ready() or closed()
    void close();
    bool isReady() const { return m_ready; }
    // The engine's prefetcher for announced files, which lives as long as this
    // connection (it fetches over it); the Downloader adopts its temp files. May be null.
    Prefetcher *prefetcher() const { return m_prefetcher; }
    void setPrefetcher(Prefetcher *prefetcher) { m_prefetcher = prefetcher; }

    template<typename T> using Handler = std::function<void(const Reply<T> &)>;

    // One method per verb of docs/protocol.md; many may be in flight at once.
    void login(const QString &account, const QString &session, Handler<protocol::LoginOk> handler);
    void createAccount(const QString &session, Handler<protocol::LoginOk> handler);
    void getChanges(quint64 since, Handler<protocol::Changes> handler);
    // At most `limit` entries in the page (the server may give fewer; capped by the protocol's maximum).
    void getChanges(quint64 since, int limit, Handler<protocol::Changes> handler);
    void queryBlocks(const QList<ContentHash> &hashes, Handler<protocol::QueryBlocksReply> handler);
    void putBlock(const protocol::BlockPayload &block, Handler<Done> handler);
    // `wait`: a block the account does not hold yet is answered once it is
    // uploaded (or "not-yet" after a bounded wait) instead of "not-found".
    void getBlock(const ContentHash &hash, Handler<protocol::BlockPayload> handler, bool wait = false);
    // Several blocks in one request each way.
    // The reply to getBlocks holds the blocks found, in request order, and lists the
    // hashes the account does not hold (missing) and those left for another request (later).
    void putBlocks(const protocol::BlockBatch &blocks, Handler<Done> handler);
    void getBlocks(const QList<ContentHash> &hashes, Handler<protocol::BlockBatch> handler);
    // The file's blocks are about to be uploaded (see docs/protocol.md).
    void announce(const protocol::Announce &announce, Handler<Done> handler);
    void commit(const QList<protocol::CommitOp> &ops, Handler<protocol::CommitReply> handler);

    // The raw form under the verbs, for anything else.
    quint64 request(protocol::MessageType type, const QCborMap &body, ReplyHandler handler);
    quint64 request(const protocol::Envelope &message, ReplyHandler handler); // its id is set here
    template<typename Body> quint64 request(protocol::MessageType type, const Body &body, ReplyHandler handler)
    {
        return request(type, body.toCbor(), std::move(handler));
    }
    int pendingRequests() const { return int(m_pending.size()); }
    // The head our last commit on this connection left (0 before one): an Advanced push
    // for it is the echo of our own commit (the server answers, then pushes).
    quint64 ownHead() const { return m_ownHead; }
    qint64 bytesToWrite() const;
    quint64 bytesIn() const;
    quint64 bytesOut() const;

    // The reason in an Error reply, or a description of an unexpected reply type.
    static QString errorText(const protocol::Envelope &reply);
    static QString errorCode(const protocol::Envelope &reply);

Q_SIGNALS:
    void ready(); // handshake done: log in next
    void closed(const QString &reason);
    // The server speaks another protocol version: retrying will not help.
    void incompatible(const QString &reason);
    void advanced(quint64 head);
    // Another session of the account is uploading this file.
    void announced(const filesync::protocol::Announce &announce);
    void writeQueueDrained();

private:
    template<typename T> static Result<T> parse(const protocol::Envelope &e)
    {
        if constexpr (std::is_same_v<T, protocol::BlockPayload>)
            return protocol::BlockPayload::fromEnvelope(e); // its bytes beside the body
        else if constexpr (std::is_same_v<T, protocol::BlockBatch>)
            return protocol::BlockBatch::fromEnvelope(e);
        else
            return T::fromCbor(e.body);
    }

    template<typename T>
    void call(protocol::MessageType type, const QCborMap &body, protocol::MessageType expected, Handler<T> handler)
    {
        call(protocol::Envelope { type, 0, body, {} }, expected, std::move(handler));
    }

    template<typename T>
    void call(const protocol::Envelope &message, protocol::MessageType expected, Handler<T> handler)
    {
        request(message, [expected, handler = std::move(handler)](const protocol::Envelope &e) {
            Reply<T> reply;
            if (e.type == expected) {
                if (auto parsed = parse<T>(e))
                    reply.value = std::move(parsed).value();
                else
                    reply = Reply<T> { std::nullopt, QStringLiteral("bad-reply"), parsed.errorMessage() };
            } else {
                reply = Reply<T> { std::nullopt, errorCode(e), errorText(e) };
                if (reply.code.isEmpty())
                    reply.code = QStringLiteral("bad-reply");
                if (auto error = protocol::ErrorReply::fromCbor(e.body);
                    error && e.type == protocol::MessageType::ErrorReply) {
                    reply.scope = error->scope;
                    reply.retryAfterSeconds = int(qMin<quint32>(error->retryAfter, 24 * 3600));
                }
            }
            handler(reply);
        });
    }

    void onMessage(const protocol::Envelope &envelope);
    void fail(const QString &reason);
    void onKeepAlive();

    QString m_host;
    quint16 m_port;
    protocol::MessageChannel *m_channel = nullptr;
    QHash<quint64, ReplyHandler> m_pending;
    quint64 m_nextId = 1;
    bool m_ready = false;
    Prefetcher *m_prefetcher = nullptr;
    quint64 m_ownHead = 0;
    QTimer m_connectTimeout;
    QTimer m_keepAlive;
    quint64 m_bytesInAtLastTick = 0;
    quint64 m_bytesOutAtLastTick = 0;
    int m_quietTicks = 0;
};

} // namespace filesync
