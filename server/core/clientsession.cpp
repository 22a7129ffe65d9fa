#include "clientsession.h"

#include "accountstore.h"
#include "blockrelay.h"
#include "blockstore.h"
#include "changefeed.h"

#include <QSet>
#include <QThreadPool>
#include <QTimer>

#include <utility>

namespace filesync {

using namespace protocol;

namespace {
QString softwareName()
{
    return QStringLiteral("filesync-server " FILESYNC_VERSION);
}
std::function<void()> s_beforePoolVerifyForTests;
} // namespace

void ClientSession::setBeforePoolVerifyForTests(std::function<void()> hook)
{
    s_beforePoolVerifyForTests = std::move(hook);
}

ClientSession::ClientSession(QTcpSocket *socket, ServerContext &context, QObject *parent)
    : QObject(parent)
    , m_context(context)
    , m_channel(new MessageChannel(socket, this))
{
    connect(m_channel, &MessageChannel::messageReceived, this, &ClientSession::onMessage);
    connect(m_channel, &MessageChannel::disconnected, this, &ClientSession::onDisconnected);
    // The channel has answered a malformed frame with an Error and is closing.
    connect(m_channel, &MessageChannel::protocolError, this, &ClientSession::close);
    connect(m_channel, &MessageChannel::bytesWritten, this, [this](qint64 pending) {
        if (m_held && pending < kOutputLowWater)
            drainQueue();
    });
    // Another session's decoded blocks stored, or replies read: a request held for the
    // budget may go on.
    for (ByteBudget *budget : { &m_context.decoded, &m_context.replies }) {
        connect(budget, &ByteBudget::released, this, [this] {
            if (m_held)
                drainQueue();
        });
    }
    socket->setReadBufferSize(kSocketReadBuffer);
    m_channel->setBufferBudget(&m_context.buffered, kFairShare);
    m_channel->setReplyBudget(&m_context.replies);
    // Until login only the handshake's small frames are read, and nothing else is decoded.
    m_channel->setHandshakeOnly(true);
    qCDebug(lcServer) << "connection from" << m_channel->peerDescription();
    // A connection that does not log in soon only holds a file descriptor.
    QTimer::singleShot(m_context.loginTimeoutMs, this, [this] {
        if (m_stage == Stage::AwaitHello || m_stage == Stage::AwaitLogin)
            fail(0, errors::kNotAuthenticated, QStringLiteral("no login within %1 ms").arg(m_context.loginTimeoutMs));
    });
}

ClientSession::~ClientSession()
{
    leaveServer();
}

// Gives back what the session holds of the server's shared state, once: when it ends,
// so that its deferred deletion, which may come after the server has stopped and freed
// that state, touches none of it; or when the server deletes it while it runs.
void ClientSession::leaveServer()
{
    if (std::exchange(m_leftServer, true))
        return;
    // Late hashing results find nothing to apply; their bytes are the pool's to free.
    m_verifying.clear();
    m_context.decoded.give(std::exchange(m_verifyingBytes, 0));
    if (m_subscribed) {
        m_context.feed.unsubscribe(m_account, this);
        m_subscribed = false;
    }
    m_context.relay.leave(this);
}

void ClientSession::close()
{
    m_stage = Stage::Closing;
    m_channel->closeGracefully();
    // A peer that never reads would keep a graceful close pending forever.
    QTimer::singleShot(kCloseTimeoutMs, this, [this] { m_channel->abort(); });
}

void ClientSession::shed(const QString &reason)
{
    qCWarning(lcServer) << "closing" << m_channel->peerDescription() << ":" << reason;
    m_stage = Stage::Closing;
    m_channel->abort();
}

void ClientSession::onDisconnected()
{
    leaveServer();
    m_stage = Stage::Closing;
    Q_EMIT finished();
}

void ClientSession::notifyAdvanced(quint64 head)
{
    if (m_stage == Stage::Ready)
        m_channel->send(MessageType::Advanced, 0, Advanced { head });
}

void ClientSession::fail(quint64 id, const char *code, const QString &message)
{
    // A client of ours never sends a bad request: one is a defect there, or an attack.
    if (qstrcmp(code, errors::kBadRequest) == 0)
        qCWarning(lcServer) << "refused a bad request from" << m_channel->peerDescription() << ":" << message;
    else
        qCInfo(lcServer) << "closing" << m_channel->peerDescription() << ":" << message;
    m_channel->sendError(id, QLatin1String(code), message);
    close();
}

void ClientSession::reply(quint64 id, const char *code, const QString &message)
{
    m_channel->sendError(id, QLatin1String(code), message);
}

qint64 ClientSession::declaredBytes(const Envelope &envelope)
{
    if (envelope.type == MessageType::PutBlock)
        return qMax<qint64>(envelope.body.value(QLatin1String("size")).toInteger(), 0);
    qint64 sum = 0;
    const QCborArray items = envelope.body.value(QLatin1String("blocks")).toArray();
    for (const QCborValue &item : items)
        sum += qMax<qint64>(item.toArray().at(2).toInteger(), 0);
    return sum;
}

// Whether a request may be served now rather than wait: not while its replies would pile
// up (on this connection, or past all connections' budget while this one holds more than
// its share), nor behind the PutBlocks being hashed, except a further PutBlock(s) whose
// blocks fit this connection's and the server's decoding budgets.
bool ClientSession::mayDispatch(const Envelope &envelope) const
{
    if (m_channel->bytesToWrite() >= kOutputHighWater)
        return false;
    if (m_context.replies.exhausted() && m_channel->bytesToWrite() >= kFairShare)
        return false;
    if (!isUpload(envelope.type))
        return m_verifying.empty();
    const qint64 declared = declaredBytes(envelope);
    if (!m_verifying.empty() && m_verifyingBytes + declared > m_context.budgets.decodedBytesPerConnection)
        return false;
    return m_context.decoded.fits(declared);
}

void ClientSession::onMessage(const Envelope &envelope)
{
    if (m_stage == Stage::Closing)
        return;
    if (isUpload(envelope.type) && m_stage == Stage::Ready && declaredBytes(envelope) > kMaxDecodedPerRequest)
        return fail(envelope.id, errors::kBadRequest,
            QStringLiteral("the blocks of one request may decode to at most %1 bytes").arg(kMaxDecodedPerRequest));
    Q_ASSERT(!m_held); // the channel is paused while one is held
    if (mayDispatch(envelope))
        return dispatch(envelope);
    hold(envelope);
}

// The peer asks faster than it reads, or its blocks wait for a budget: this request waits,
// and so does everything after it, unread.
void ClientSession::hold(const Envelope &envelope)
{
    m_held = envelope;
    m_channel->setPaused(true);
}

void ClientSession::drainQueue()
{
    if (!m_held || m_stage == Stage::Closing || !mayDispatch(*m_held))
        return;
    const Envelope next = *std::exchange(m_held, std::nullopt);
    m_channel->setPaused(false);
    dispatch(next);
}

void ClientSession::dispatch(const Envelope &envelope)
{
    if (m_stage == Stage::Closing)
        return;
    const MessageType type = envelope.type;
    if (!isUpload(type))
        flushProofs();
    if (type == MessageType::Ping) {
        m_channel->send(MessageType::Pong, envelope.id, QCborMap());
        return;
    }
    switch (m_stage) {
    case Stage::AwaitHello:
        if (type != MessageType::Hello)
            return fail(envelope.id, errors::kNotAuthenticated, QStringLiteral("the first message must be Hello"));
        return onHello(envelope);
    case Stage::AwaitLogin:
        if (type == MessageType::Login)
            return onLogin(envelope);
        if (type == MessageType::CreateAccount)
            return onCreateAccount(envelope);
        return fail(envelope.id, errors::kNotAuthenticated, QStringLiteral("log in first"));
    case Stage::Ready:
        break;
    case Stage::Closing:
        return;
    }
    switch (type) {
    case MessageType::GetChanges:
        return onGetChanges(envelope);
    case MessageType::QueryBlocks:
        return onQueryBlocks(envelope);
    case MessageType::PutBlock:
        return onPutBlock(envelope);
    case MessageType::GetBlock:
        return onGetBlock(envelope);
    case MessageType::PutBlocks:
        return onPutBlock(envelope);
    case MessageType::GetBlocks:
        return onGetBlocks(envelope);
    case MessageType::Commit:
        return onCommit(envelope);
    case MessageType::GetStats:
        return onGetStats(envelope);
    case MessageType::Announce:
        return onAnnounce(envelope);
    case MessageType::Pong:
        return;
    default:
        break;
    }
    fail(envelope.id, errors::kBadRequest, QStringLiteral("unexpected message %1").arg(typeName(type)));
}

void ClientSession::onHello(const Envelope &envelope)
{
    auto hello = Hello::fromCbor(envelope.body);
    if (!hello)
        return fail(envelope.id, errors::kBadRequest, hello.errorMessage());
    if (hello->version != kProtocolVersion) {
        return fail(envelope.id, errors::kProtocolVersion,
            QStringLiteral("the client speaks protocol version %1, this server only version %2: update the older one")
                .arg(hello->version)
                .arg(kProtocolVersion));
    }
    m_stage = Stage::AwaitLogin;
    m_channel->send(MessageType::Welcome, envelope.id, Welcome { kProtocolVersion, softwareName() });
}

void ClientSession::onLogin(const Envelope &envelope)
{
    auto login = Login::fromCbor(envelope.body);
    if (!login)
        return fail(envelope.id, errors::kBadRequest, login.errorMessage());
    m_sessionName = login->session;
    const auto verification = m_context.accounts.verify(login->account, m_channel->socket()->peerAddress());
    switch (verification.verdict) {
    case AccountStore::Verdict::Ok:
        return loggedIn(envelope.id, verification.key, QString());
    case AccountStore::Verdict::Unknown:
        return reply(envelope.id, errors::kUnknownAccount, QStringLiteral("this server has no such account"));
    case AccountStore::Verdict::RateLimited:
        return refuseLogin(envelope.id, verification.refusal, false);
    case AccountStore::Verdict::Failed:
        return fail(envelope.id, errors::kInternal, verification.error);
    }
}

// Says which limit refused the login (or the account creation) and for how long, so
// that the client waits that long instead of taking the ID for unknown; then closes, as
// fail() does.
void ClientSession::refuseLogin(quint64 id, const LoginLimiter::Refusal &refusal, bool creating)
{
    QString what;
    switch (refusal.scope) {
    case LoginLimiter::Scope::Account:
        what = QStringLiteral("too many failed logins with this account ID from this address");
        break;
    case LoginLimiter::Scope::Address:
        what = creating ? QStringLiteral("too many accounts created from this address")
                        : QStringLiteral("too many failed logins from this address");
        break;
    case LoginLimiter::Scope::Global:
    case LoginLimiter::Scope::None:
        what = QStringLiteral("too many failed logins on this server");
        break;
    }
    const QString message = QStringLiteral("%1; try again in %2 s").arg(what).arg(refusal.retryAfterSeconds);
    qCInfo(lcServer) << "closing" << m_channel->peerDescription() << ":" << message;
    m_channel->send(MessageType::ErrorReply, id,
        ErrorReply { QLatin1String(errors::kRateLimited), message, LoginLimiter::scopeName(refusal.scope),
            quint32(refusal.retryAfterSeconds) });
    close();
}

void ClientSession::onCreateAccount(const Envelope &envelope)
{
    auto request = CreateAccount::fromCbor(envelope.body);
    if (!request)
        return fail(envelope.id, errors::kBadRequest, request.errorMessage());
    m_sessionName = request->session;
    const auto created = m_context.accounts.create(m_channel->socket()->peerAddress());
    switch (created.verdict) {
    case AccountStore::Verdict::Ok:
        break;
    case AccountStore::Verdict::RateLimited:
        return refuseLogin(envelope.id, created.refusal, true);
    case AccountStore::Verdict::Unknown:
    case AccountStore::Verdict::Failed:
        return fail(envelope.id, errors::kInternal, created.error);
    }
    qCInfo(lcServer) << "account" << created.key << "created for" << m_channel->peerDescription();
    loggedIn(envelope.id, created.key, created.id.toString());
}

void ClientSession::loggedIn(quint64 id, AccountKey account, const QString &createdId)
{
    // Nothing is written: a login works on a full disk (and costs no row).
    auto head = m_context.metadata.head(account);
    if (!head)
        return fail(id, errors::kInternal, QStringLiteral("the server's database failed"));
    m_account = account;
    m_sessionId = m_context.nextSessionId++;
    m_stage = Stage::Ready;
    m_channel->setHandshakeOnly(false);
    if (QTcpSocket *socket = m_channel->socket())
        socket->setReadBufferSize(kLoggedInReadBuffer);
    m_channel->setTimeouts(
        m_context.budgets.headerTimeoutMs, m_context.budgets.frameTimeoutMs, m_context.budgets.idleTimeoutMs);
    m_context.feed.subscribe(account, this);
    m_subscribed = true;
    m_context.relay.join(account, this);
    qCInfo(lcServer) << "session" << m_sessionId << "(" << m_sessionName << ") of account" << account << "from"
                     << m_channel->peerDescription();
    m_channel->send(MessageType::LoginOk, id, LoginOk { createdId, quint64(m_sessionId), *head });
}

void ClientSession::onGetChanges(const Envelope &envelope)
{
    auto request = GetChanges::fromCbor(envelope.body);
    if (!request)
        return fail(envelope.id, errors::kBadRequest, request.errorMessage());
    auto changes = m_context.metadata.changesSince(m_account, request->since, int(request->limit), kMetadataBudget);
    if (!changes)
        return reply(envelope.id, errors::kInternal, changes.errorMessage());
    m_channel->send(MessageType::Changes, envelope.id, *changes);
}

void ClientSession::onQueryBlocks(const Envelope &envelope)
{
    auto request = QueryBlocks::fromCbor(envelope.body);
    if (!request)
        return fail(envelope.id, errors::kBadRequest, request.errorMessage());
    auto unproven = m_context.metadata.unprovenBlocks(m_account, request->hashes);
    if (!unproven)
        return reply(envelope.id, errors::kInternal, unproven.errorMessage());
    // A block the account proved but the store lost must be uploaded again too.
    QList<ContentHash> missing = *unproven;
    // A set: a QList::contains per hash was quadratic (4,096 hashes a query).
    QSet<ContentHash> listed(unproven->cbegin(), unproven->cend());
    for (const ContentHash &h : request->hashes) {
        if (!listed.contains(h) && !m_context.blocks.has(h)) {
            missing.append(h);
            listed.insert(h);
        }
    }
    m_channel->send(MessageType::QueryBlocksReply, envelope.id, QueryBlocksReply { missing });
}

namespace {
// Every block of a PutBlock(s), each decoded and checked against its hash; the first that
// fails fails them all (the request is refused whole, and nothing of it is stored).
Result<std::vector<VerifiedBlock>> verifyAll(const QList<BlockPayload> &payloads)
{
    std::vector<VerifiedBlock> verified;
    verified.reserve(size_t(payloads.size()));
    for (const BlockPayload &payload : payloads) {
        auto block = verifyBlock(payload);
        if (!block)
            return block.error();
        verified.push_back(std::move(block).value());
    }
    return verified;
}
} // namespace

bool ClientSession::isUpload(MessageType type)
{
    return type == MessageType::PutBlock || type == MessageType::PutBlocks;
}

// PutBlock, and PutBlocks (several blocks, one Ok for all of them).
void ClientSession::onPutBlock(const Envelope &envelope)
{
    QList<BlockPayload> payloads;
    if (envelope.type == MessageType::PutBlocks) {
        auto batch = BlockBatch::fromEnvelope(envelope);
        if (!batch) {
            flushProofs();
            return fail(envelope.id, errors::kBadRequest, batch.errorMessage());
        }
        payloads = std::move(batch->blocks);
    } else {
        auto payload = BlockPayload::fromEnvelope(envelope);
        if (!payload) {
            flushProofs();
            return fail(envelope.id, errors::kBadRequest, payload.errorMessage());
        }
        payloads.append(std::move(payload).value());
    }
    // Decoded in full by verifyAll() below (each block checked against its header's size
    // before it is): counted before, against both decoding budgets.
    qint64 bytes = 0;
    for (const BlockPayload &p : std::as_const(payloads))
        bytes += p.rawSize;
    m_context.decoded.take(bytes);
    // Verified whether or not the server already holds the block: only the bytes prove
    // that this account has the content. Hashed once, on the pool: the store takes the
    // verified block as it is.
    const quint64 sequence = m_verifyingFirst + m_verifying.size();
    m_verifying.push_back({ envelope.id, bytes, std::nullopt });
    m_verifyingBytes += bytes;
    // Small blocks cost less to hash than to hand to another thread.
    if (bytes < kPoolVerifyFromBytes)
        return onVerified(sequence, verifyAll(payloads));
    m_context.verifyPool.start([this, sequence, payloads = std::move(payloads), replyTo = m_replyTo.handle(),
                                   hook = s_beforePoolVerifyForTests] {
        if (hook)
            hook();
        auto blocks = verifyAll(payloads);
        // Runs on the event thread, and only while this session exists.
        replyTo.post([this, sequence, blocks = std::move(blocks)] { onVerified(sequence, blocks); });
    });
}

void ClientSession::onVerified(quint64 sequence, Result<std::vector<VerifiedBlock>> blocks)
{
    if (sequence < m_verifyingFirst || sequence - m_verifyingFirst >= m_verifying.size())
        return;
    m_verifying[size_t(sequence - m_verifyingFirst)].blocks = std::move(blocks);
    storeVerified();
}

// The checked PutBlocks at the head of the line, in request order: stored, their proofs
// batched; then whatever waited behind them. Not re-entered: a small PutBlock dispatched
// from the queue is checked at once and picked up by the pass under way (a recursion per
// queued request otherwise).
void ClientSession::storeVerified()
{
    if (m_storing)
        return;
    m_storing = true;
    for (;;) {
        while (!m_verifying.empty() && m_verifying.front().blocks && m_stage != Stage::Closing) {
            Verifying next = std::move(m_verifying.front());
            m_verifying.pop_front();
            ++m_verifyingFirst;
            m_verifyingBytes -= next.bytes;
            m_context.decoded.give(next.bytes);
            const Result<std::vector<VerifiedBlock>> &blocks = *next.blocks;
            if (!blocks) {
                flushProofs();
                fail(next.id, errors::kBadRequest, blocks.errorMessage());
                break;
            }
            // Stored unless it is there already (put() looks). A store that fails part of
            // a PutBlocks answers it with an error: the blocks stored before are only
            // unproven bytes (QueryBlocks still lists them), never a commit's.
            Result<void> stored;
            for (const VerifiedBlock &block : *blocks) {
                stored = m_context.blocks.put(block);
                if (!stored)
                    break;
            }
            if (!stored) {
                flushProofs();
                reply(next.id, errors::kInternal, stored.errorMessage());
                continue;
            }
            for (const VerifiedBlock &block : *blocks)
                m_proofs.append(block.hash());
            m_proofIds.append(next.id);
            if (m_proofs.size() >= kMaxProofBatch)
                flushProofs();
            else if (m_proofIds.size() == 1) // the rest of this pass's PutBlock(s) join the batch
                QTimer::singleShot(0, this, &ClientSession::flushProofs);
        }
        if (m_stage == Stage::Closing) {
            m_verifying.clear(); // late results find nothing to apply
            m_context.decoded.give(std::exchange(m_verifyingBytes, 0));
            break;
        }
        drainQueue();
        if (m_verifying.empty() || !m_verifying.front().blocks)
            break;
    }
    m_storing = false;
}

void ClientSession::flushProofs()
{
    if (m_proofIds.isEmpty() || m_stage == Stage::Closing)
        return;
    const QList<quint64> ids = std::exchange(m_proofIds, {});
    const QList<ContentHash> hashes = std::exchange(m_proofs, {});
    const auto recorded = m_context.metadata.recordProvenBlocks(m_account, hashes);
    for (const quint64 id : ids) {
        if (recorded)
            m_channel->send(MessageType::Ok, id, QCborMap());
        else
            reply(id, errors::kInternal, recorded.errorMessage());
    }
    // Proven for the account now: other sessions' prefetches waiting for them are served.
    if (recorded)
        m_context.relay.arrived(m_account, hashes);
}

void ClientSession::onGetBlock(const Envelope &envelope)
{
    auto request = GetBlock::fromCbor(envelope.body);
    if (!request)
        return fail(envelope.id, errors::kBadRequest, request.errorMessage());
    auto allowed = m_context.metadata.isProvenBlock(m_account, request->hash);
    if (!allowed)
        return reply(envelope.id, errors::kInternal, allowed.errorMessage());
    const bool wait = request->wait;
    if (!*allowed && wait) {
        // A prefetch of an announced file, ahead of its upload: answered when one of the
        // account's sessions has uploaded (and so proven) the block, or not-yet.
        if (!m_context.relay.park(m_account, this, envelope.id, request->hash))
            reply(envelope.id, errors::kNotYet, QStringLiteral("too many blocks waited for"));
        return;
    }
    if (!*allowed)
        return reply(envelope.id, errors::kNotFound, QStringLiteral("no such block in this account"));
    sendBlock(envelope.id, request->hash, wait);
}

// The blocks of many small files in one reply, in request order; hashes the account
// may not read are listed as missing, and those past the reply's byte budget as later.
void ClientSession::onGetBlocks(const Envelope &envelope)
{
    auto request = GetBlocks::fromCbor(envelope.body);
    if (!request)
        return fail(envelope.id, errors::kBadRequest, request.errorMessage());
    BlockBatch batch;
    qint64 bytes = 0;
    for (const ContentHash &hash : request->hashes) {
        if (bytes >= m_context.batchReplyBudget) {
            batch.later.append(hash);
            continue;
        }
        auto allowed = m_context.metadata.isProvenBlock(m_account, hash);
        if (!allowed)
            return reply(envelope.id, errors::kInternal, allowed.errorMessage());
        if (!*allowed) {
            batch.missing.append(hash);
            continue;
        }
        auto block = m_context.blocks.get(hash);
        if (!block) { // as for GetBlock: not-found
            batch.missing.append(hash);
            continue;
        }
        bytes += block->data.size();
        batch.blocks.append(BlockPayload { hash, block->codec, block->rawSize, block->data });
    }
    m_context.blocksServed += quint64(batch.blocks.size());
    m_channel->sendEnvelope(batch.toEnvelope(MessageType::BlocksData, envelope.id));
}

void ClientSession::sendBlock(quint64 id, const ContentHash &hash, bool wait)
{
    auto block = m_context.blocks.get(hash);
    if (!block)
        return reply(id, errors::kNotFound, block.errorMessage());
    ++(wait ? m_context.waitBlocksServed : m_context.blocksServed);
    m_channel->send(MessageType::BlockData, id, BlockPayload { hash, block->codec, block->rawSize, block->data });
}

void ClientSession::serveParked(quint64 id, const ContentHash &hash)
{
    if (m_stage == Stage::Ready)
        sendBlock(id, hash, true); // proven by the upload that woke it
}

void ClientSession::expireParked(quint64 id)
{
    if (m_stage == Stage::Ready)
        reply(id, errors::kNotYet, QStringLiteral("the block was not uploaded in time"));
}

void ClientSession::onAnnounce(const Envelope &envelope)
{
    auto announce = Announce::fromCbor(envelope.body);
    if (!announce)
        return fail(envelope.id, errors::kBadRequest, announce.errorMessage());
    Announce relayed = *announce;
    relayed.origin = m_sessionName;
    m_context.relay.announce(m_account, this, relayed);
    m_channel->send(MessageType::Ok, envelope.id, QCborMap());
}

bool ClientSession::sendAnnounced(const Announce &announce)
{
    if (m_stage != Stage::Ready || m_channel->bytesToWrite() >= kOutputHighWater
        || (m_context.replies.exhausted() && m_channel->bytesToWrite() >= kFairShare))
        return false;
    m_channel->send(MessageType::Announced, 0, announce);
    return true;
}

void ClientSession::onCommit(const Envelope &envelope)
{
    auto request = Commit::fromCbor(envelope.body);
    if (!request)
        return fail(envelope.id, errors::kBadRequest, request.errorMessage());
    // Blocks the ops reference must be on disk before the commit that names them is.
    if (auto synced = m_context.blocks.sync(); !synced)
        return reply(envelope.id, errors::kInternal, synced.errorMessage());
    auto before = m_context.metadata.head(m_account);
    if (!before)
        return reply(envelope.id, errors::kInternal, before.errorMessage());
    auto result = m_context.metadata.commit(
        m_account, m_sessionName, request->ops, [this](const ContentHash &h) { return m_context.blocks.has(h); });
    if (!result)
        return reply(envelope.id, errors::kInternal, result.errorMessage());
    ++m_context.commits;
    m_channel->send(MessageType::CommitReply, envelope.id, *result);
    if (result->head != *before)
        m_context.feed.publish(m_account, result->head);
}

void ClientSession::onGetStats(const Envelope &envelope)
{
    Stats stats;
    stats.bytesIn = bytesIn();
    stats.bytesOut = bytesOut();
    stats.serverBytesIn = m_context.closedBytesIn + m_context.liveBytesIn();
    stats.serverBytesOut = m_context.closedBytesOut + m_context.liveBytesOut();
    stats.sessions = quint64(m_context.sessionCount());
    m_channel->send(MessageType::Stats, envelope.id, stats);
}

} // namespace filesync
