#include "serverconnection.h"

#include "enginelogging.h"

#include <QTcpSocket>

namespace filesync {

using namespace protocol;

ServerConnection::ServerConnection(const QString &host, quint16 port, int keepAliveMs, QObject *parent)
    : QObject(parent)
    , m_host(host)
    , m_port(port)
{
    m_connectTimeout.setSingleShot(true);
    m_connectTimeout.setInterval(10000);
    connect(&m_connectTimeout, &QTimer::timeout, this, [this] { fail(QStringLiteral("connection timed out")); });
    m_keepAlive.setInterval(qMax(100, keepAliveMs));
    connect(&m_keepAlive, &QTimer::timeout, this, &ServerConnection::onKeepAlive);
}

void ServerConnection::onKeepAlive()
{
    if (!m_channel)
        return;
    const quint64 in = m_channel->bytesIn();
    const quint64 out = m_channel->bytesOut();
    const bool heard = in != m_bytesInAtLastTick;
    const bool spoke = out != m_bytesOutAtLastTick;
    m_bytesInAtLastTick = in;
    m_bytesOutAtLastTick = out;
    if (heard)
        m_quietTicks = 0;
    else if (++m_quietTicks >= 3)
        return fail(QStringLiteral("the server stopped answering"));
    // The server closes a connection that sends nothing for its idle timeout (well above
    // this interval), even one that only listens to pushes.
    if (heard && spoke)
        return;
    // Asks for a few bytes back: its Pong (or anything else) proves the peer alive.
    request(MessageType::Ping, QCborMap(), [](const Envelope &) {});
}

ServerConnection::~ServerConnection()
{
    m_pending.clear(); // nobody is left to answer
}

void ServerConnection::open()
{
    Q_ASSERT(!m_channel);
    auto *socket = new QTcpSocket;
    socket->setSocketOption(QAbstractSocket::KeepAliveOption, 1);
    m_channel = new MessageChannel(socket, this);
    connect(m_channel, &MessageChannel::messageReceived, this, &ServerConnection::onMessage);
    connect(m_channel, &MessageChannel::protocolError, this, &ServerConnection::fail);
    connect(m_channel, &MessageChannel::disconnected, this,
        [this] { fail(QStringLiteral("the server closed the connection")); });
    connect(m_channel, &MessageChannel::bytesWritten, this, [this](qint64 pending) {
        if (pending == 0)
            Q_EMIT writeQueueDrained();
    });
    connect(socket, &QTcpSocket::errorOccurred, this,
        [this, socket](QAbstractSocket::SocketError) { fail(socket->errorString()); });
    connect(socket, &QTcpSocket::connected, this, [this] {
        m_channel->send(
            MessageType::Hello, m_nextId++, Hello { kProtocolVersion, QStringLiteral("filesync " FILESYNC_VERSION) });
    });
    m_connectTimeout.start();
    socket->connectToHost(m_host, m_port);
}

void ServerConnection::close()
{
    m_connectTimeout.stop();
    m_keepAlive.stop();
    if (!m_channel)
        return;
    MessageChannel *channel = std::exchange(m_channel, nullptr);
    channel->disconnect(this);
    channel->socket()->disconnect(this);
    channel->abort();
    channel->deleteLater();
    m_ready = false;
    const auto pending = std::exchange(m_pending, {});
    const Envelope error { MessageType::ErrorReply, 0,
        ErrorReply { QLatin1String(kDisconnected), QStringLiteral("disconnected") }.toCbor() };
    for (const ReplyHandler &handler : pending)
        handler(error);
}

void ServerConnection::fail(const QString &reason)
{
    if (!m_channel)
        return;
    qCInfo(lcEngine) << "connection to" << m_host << m_port << "lost:" << reason;
    close();
    Q_EMIT closed(reason);
}

quint64 ServerConnection::request(MessageType type, const QCborMap &body, ReplyHandler handler)
{
    return request(Envelope { type, 0, body, {} }, std::move(handler));
}

quint64 ServerConnection::request(const Envelope &message, ReplyHandler handler)
{
    const quint64 id = m_nextId++;
    if (!m_channel || !m_channel->isConnected()) {
        handler(Envelope { MessageType::ErrorReply, id,
            ErrorReply { QLatin1String(kDisconnected), QStringLiteral("not connected") }.toCbor(), {} });
        return id;
    }
    m_pending.insert(id, std::move(handler));
    Envelope numbered = message;
    numbered.id = id;
    m_channel->sendEnvelope(numbered);
    return id;
}

void ServerConnection::login(const QString &account, const QString &session, Handler<LoginOk> handler)
{
    call(MessageType::Login, Login { account, session }.toCbor(), MessageType::LoginOk, std::move(handler));
}

void ServerConnection::createAccount(const QString &session, Handler<LoginOk> handler)
{
    call(MessageType::CreateAccount, CreateAccount { session }.toCbor(), MessageType::LoginOk, std::move(handler));
}

void ServerConnection::getChanges(quint64 since, Handler<Changes> handler)
{
    getChanges(since, kMaxEntriesPerChanges, std::move(handler));
}

void ServerConnection::getChanges(quint64 since, int limit, Handler<Changes> handler)
{
    const auto pageLimit = quint32(qBound(1, limit, kMaxEntriesPerChanges));
    call(MessageType::GetChanges, GetChanges { since, pageLimit }.toCbor(), MessageType::Changes, std::move(handler));
}

void ServerConnection::queryBlocks(const QList<ContentHash> &hashes, Handler<QueryBlocksReply> handler)
{
    call(MessageType::QueryBlocks, QueryBlocks { hashes }.toCbor(), MessageType::QueryBlocksReply, std::move(handler));
}

void ServerConnection::putBlock(const BlockPayload &block, Handler<Done> handler)
{
    call(block.toEnvelope(MessageType::PutBlock, 0), MessageType::Ok, std::move(handler));
}

void ServerConnection::getBlock(const ContentHash &hash, Handler<BlockPayload> handler, bool wait)
{
    call(MessageType::GetBlock, GetBlock { hash, wait }.toCbor(), MessageType::BlockData, std::move(handler));
}

void ServerConnection::putBlocks(const BlockBatch &blocks, Handler<Done> handler)
{
    call(blocks.toEnvelope(MessageType::PutBlocks, 0), MessageType::Ok, std::move(handler));
}

void ServerConnection::getBlocks(const QList<ContentHash> &hashes, Handler<BlockBatch> handler)
{
    call(MessageType::GetBlocks, GetBlocks { hashes }.toCbor(), MessageType::BlocksData, std::move(handler));
}

void ServerConnection::announce(const Announce &announce, Handler<Done> handler)
{
    call(MessageType::Announce, announce.toCbor(), MessageType::Ok, std::move(handler));
}

void ServerConnection::commit(const QList<CommitOp> &ops, Handler<CommitReply> handler)
{
    call(MessageType::Commit, Commit { ops }.toCbor(), MessageType::CommitReply,
        Handler<CommitReply>([this, handler = std::move(handler)](const Reply<CommitReply> &reply) {
            if (reply)
                m_ownHead = qMax(m_ownHead, reply->head);
            handler(reply);
        }));
}

qint64 ServerConnection::bytesToWrite() const
{
    return m_channel ? m_channel->bytesToWrite() : 0;
}

quint64 ServerConnection::bytesIn() const
{
    return m_channel ? m_channel->bytesIn() : 0;
}

quint64 ServerConnection::bytesOut() const
{
    return m_channel ? m_channel->bytesOut() : 0;
}

QString ServerConnection::errorText(const Envelope &reply)
{
    if (reply.type == MessageType::ErrorReply) {
        auto error = ErrorReply::fromCbor(reply.body);
        return error ? error->message : error.errorMessage();
    }
    return QStringLiteral("unexpected reply %1").arg(typeName(reply.type));
}

QString ServerConnection::errorCode(const Envelope &reply)
{
    if (reply.type != MessageType::ErrorReply)
        return QString();
    auto error = ErrorReply::fromCbor(reply.body);
    return error ? error->code : QString();
}

void ServerConnection::onMessage(const Envelope &envelope)
{
    if (!m_ready) {
        if (envelope.type == MessageType::Welcome) {
            auto welcome = Welcome::fromCbor(envelope.body);
            if (!welcome)
                return fail(welcome.errorMessage());
            if (welcome->version != kProtocolVersion) {
                const QString reason
                    = QStringLiteral("the server speaks protocol version %1, this client only version %2")
                          .arg(welcome->version)
                          .arg(kProtocolVersion);
                close();
                Q_EMIT incompatible(reason);
                return;
            }
            m_ready = true;
            m_connectTimeout.stop();
            m_bytesInAtLastTick = m_channel->bytesIn();
            m_quietTicks = 0;
            m_keepAlive.start();
            Q_EMIT ready();
            return;
        }
        if (envelope.type == MessageType::ErrorReply
            && errorCode(envelope) == QLatin1String(errors::kProtocolVersion)) {
            const QString reason = errorText(envelope);
            close();
            Q_EMIT incompatible(reason);
            return;
        }
        if (envelope.type == MessageType::ErrorReply)
            return fail(errorText(envelope));
        return fail(QStringLiteral("unexpected %1 before the handshake").arg(typeName(envelope.type)));
    }
    if (envelope.id == 0) {
        if (envelope.type == MessageType::Advanced) {
            if (auto push = Advanced::fromCbor(envelope.body))
                Q_EMIT advanced(push->head);
            return;
        }
        if (envelope.type == MessageType::Announced) {
            auto push = Announce::fromCbor(envelope.body);
            if (!push)
                return fail(QStringLiteral("bad Announced from the server: %1").arg(push.errorMessage()));
            Q_EMIT announced(*push);
            return;
        }
        if (envelope.type == MessageType::ErrorReply)
            return fail(errorText(envelope));
        return;
    }
    const auto handler = m_pending.take(envelope.id);
    if (!handler)
        return fail(QStringLiteral("a reply to no request (id %1)").arg(envelope.id));
    handler(envelope);
}

} // namespace filesync
