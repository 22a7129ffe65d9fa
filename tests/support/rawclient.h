#pragma once

// A hand-driven protocol client over a real socket and builders for commit ops: how the
// tests that probe a server by hand (tst_server*, tst_engine, tst_prefetch) talk to it.
#include "blockcodec.h"
#include "messagechannel.h"

#include <QDeadlineTimer>
#include <QTest>
#include <utility>

#include <functional>
#include <memory>

namespace filesync::servertest {

using namespace filesync::protocol;

inline RelativePath P(const char *p)
{
    return *RelativePath::fromString(QString::fromUtf8(p));
}

// Every message explicit, to probe the server; replies are collected in an inbox.
class RawClient
{
public:
    explicit RawClient(quint16 port, const QHostAddress &from = QHostAddress(),
        const QHostAddress &to = QHostAddress(QHostAddress::LocalHost))
    {
        auto *socket = new QTcpSocket;
        if (!from.isNull())
            socket->bind(from);
        socket->connectToHost(to, port);
        m_channel = std::make_unique<MessageChannel>(socket);
        QObject::connect(m_channel.get(), &MessageChannel::messageReceived, m_channel.get(),
            [this](const Envelope &e) { m_inbox << e; });
        socket->waitForConnected(5000);
    }

    // Sends and waits (bounded) for the reply with the same id, or a fatal error (id 0).
    Envelope call(MessageType type, const QCborMap &body)
    {
        const quint64 id = m_nextId++;
        m_channel->send(type, id, body);
        return waitFor(
            [id](const Envelope &e) { return e.id == id || (e.id == 0 && e.type == MessageType::ErrorReply); });
    }
    template<typename B> Envelope call(MessageType type, const B &body) { return call(type, body.toCbor()); }

    // The first message matching, taken out of the inbox; an Ok with id -1 on time-out.
    Envelope waitFor(const std::function<bool(const Envelope &)> &match, int timeoutMs = 5000)
    {
        std::optional<Envelope> found;
        (void)QTest::qWaitFor(
            [&] {
                for (int i = 0; i < m_inbox.size(); ++i) {
                    if (match(m_inbox.at(i))) {
                        found = m_inbox.takeAt(i);
                        return true;
                    }
                }
                return false;
            },
            timeoutMs);
        return found ? *found : Envelope { MessageType::Ok, quint64(-1), {} };
    }
    bool sawAdvanced(quint64 head, int timeoutMs = 2000)
    {
        const auto isAdvanced = [head](const Envelope &e) {
            return e.type == MessageType::Advanced && Advanced::fromCbor(e.body)->head == head;
        };
        return waitFor(isAdvanced, timeoutMs).type == MessageType::Advanced;
    }
    // Hello, then CreateAccount (no account given) or Login; the account ID, or empty.
    QString login(const QString &account = QString(), const QString &session = QStringLiteral("t"))
    {
        call(MessageType::Hello, Hello { kProtocolVersion, QStringLiteral("test") });
        const Envelope reply = account.isEmpty() ? call(MessageType::CreateAccount, CreateAccount { session })
                                                 : call(MessageType::Login, Login { account, session });
        if (reply.type != MessageType::LoginOk)
            return {};
        const auto ok = LoginOk::fromCbor(reply.body);
        m_sessionId = ok->sessionId;
        return account.isEmpty() ? ok->account : account;
    }
    bool putBlock(const QByteArray &data, BlockCodec codec = BlockCodec::Raw)
    {
        const QByteArray wire = codec == BlockCodec::Raw ? data : encodeBlock(data, 1).data;
        const BlockPayload payload { ContentHash::of(data), codec, quint32(data.size()), wire };
        return call(MessageType::PutBlock, payload).type == MessageType::Ok;
    }
    CommitReply commit(const QList<CommitOp> &ops)
    {
        auto reply = CommitReply::fromCbor(call(MessageType::Commit, Commit { ops }).body);
        return reply ? *reply : CommitReply {};
    }
    Changes changes(quint64 since, quint32 limit = kMaxEntriesPerChanges)
    {
        auto changes = Changes::fromCbor(call(MessageType::GetChanges, GetChanges { since, limit }).body);
        return changes ? *changes : Changes {};
    }
    QString errorCode(const Envelope &e) const
    {
        auto error = ErrorReply::fromCbor(e.body);
        return e.type == MessageType::ErrorReply && error ? error->code : QString();
    }
    bool isConnected() const { return m_channel->isConnected(); }
    quint64 sessionId() const { return m_sessionId; }
    MessageChannel &channel() { return *m_channel; }
    // Sends without waiting (pipelining); the replies arrive in the inbox.
    quint64 send(MessageType type, const QCborMap &body)
    {
        const quint64 id = m_nextId++;
        m_channel->send(type, id, body);
        return id;
    }
    quint64 send(Envelope envelope) // a block frame, its bytes beside the body
    {
        envelope.id = m_nextId++;
        m_channel->sendEnvelope(envelope);
        return envelope.id;
    }
    QList<Envelope> takeInbox() { return std::exchange(m_inbox, {}); }

private:
    std::unique_ptr<MessageChannel> m_channel;
    QList<Envelope> m_inbox;
    quint64 m_nextId = 1;
    quint64 m_sessionId = 0;
};

inline CommitOp put(const char *path, const QByteArray &data, quint64 base = 0)
{
    CommitOp op;
    op.path = P(path);
    op.baseVersion = base;
    op.size = data.size();
    if (!data.isEmpty())
        op.blocks = { BlockRef { ContentHash::of(data), quint32(data.size()) } };
    return op;
}

inline CommitOp dirOp(CommitOpKind kind, const char *path, quint64 base = 0)
{
    CommitOp op;
    op.op = kind;
    op.kind = EntryKind::Directory;
    op.path = P(path);
    op.baseVersion = base;
    return op;
}

inline CommitOp del(const char *path, quint64 base)
{
    CommitOp op;
    op.op = CommitOpKind::Delete;
    op.path = P(path);
    op.baseVersion = base;
    return op;
}

inline CommitOp move(const char *from, const char *to, quint64 base, EntryKind kind = EntryKind::File)
{
    CommitOp op;
    op.op = CommitOpKind::Move;
    op.from = P(from);
    op.path = P(to);
    op.kind = kind;
    op.baseVersion = base;
    return op;
}

} // namespace filesync::servertest
