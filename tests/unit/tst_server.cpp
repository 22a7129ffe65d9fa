#include "accountstore.h"
#include "blockcodec.h"
#include "blockstore.h"
#include "messagechannel.h"
#include "sqlitemetadatastore.h"
#include "syncserver.h"

#include <QCborArray>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>
#include <QtEndian>

using namespace filesync;
using namespace filesync::protocol;

namespace {

RelativePath P(const char *p)
{
    return *RelativePath::fromString(QString::fromUtf8(p));
}

// A hand-driven client over a real socket: every message explicit, to probe the server.
class RawClient
{
public:
    explicit RawClient(quint16 port)
    {
        auto *socket = new QTcpSocket;
        socket->connectToHost(QHostAddress::LocalHost, port);
        m_channel = std::make_unique<MessageChannel>(socket);
        QObject::connect(m_channel.get(), &MessageChannel::messageReceived, m_channel.get(),
            [this](const Envelope &e) { m_inbox << e; });
        socket->waitForConnected(5000);
    }

    // Sends and waits (bounded) for the reply with the same id.
    Envelope call(MessageType type, const QCborMap &body)
    {
        const quint64 id = m_nextId++;
        m_channel->send(type, id, body);
        return waitFor(
            [id](const Envelope &e) { return e.id == id || (e.id == 0 && e.type == MessageType::ErrorReply); });
    }
    template<typename B> Envelope call(MessageType type, const B &body) { return call(type, body.toCbor()); }

    Envelope waitFor(const std::function<bool(const Envelope &)> &match, int timeoutMs = 5000)
    {
        QDeadlineTimer deadline(timeoutMs);
        while (!deadline.hasExpired()) {
            for (int i = 0; i < m_inbox.size(); ++i) {
                if (match(m_inbox.at(i)))
                    return m_inbox.takeAt(i);
            }
            QTest::qWait(5);
        }
        return Envelope { MessageType::Ok, quint64(-1), {} };
    }
    bool sawAdvanced(quint64 head, int timeoutMs = 2000)
    {
        return waitFor(
                   [head](const Envelope &e) {
                       return e.type == MessageType::Advanced && Advanced::fromCbor(e.body)->head == head;
                   },
                   timeoutMs)
                   .type
            == MessageType::Advanced;
    }
    QString login(const QString &account = QString())
    {
        call(MessageType::Hello, Hello { kMajorVersion, kMinorVersion, QStringLiteral("test") });
        const Envelope reply = account.isEmpty()
            ? call(MessageType::CreateAccount, CreateAccount { QStringLiteral("t") })
            : call(MessageType::Login, Login { account, QStringLiteral("t") });
        if (reply.type != MessageType::LoginOk)
            return {};
        return account.isEmpty() ? LoginOk::fromCbor(reply.body)->account : account;
    }
    bool putBlock(const QByteArray &data)
    {
        return call(MessageType::PutBlock,
                   BlockPayload { ContentHash::of(data), BlockCodec::Raw, quint32(data.size()), data })
                   .type
            == MessageType::Ok;
    }
    CommitReply commit(const QList<CommitOp> &ops)
    {
        const Envelope e = call(MessageType::Commit, Commit { ops });
        auto reply = CommitReply::fromCbor(e.body);
        return reply ? *reply : CommitReply {};
    }
    Changes changes(quint64 since, quint32 limit = kMaxEntriesPerChanges)
    {
        return *Changes::fromCbor(call(MessageType::GetChanges, GetChanges { since, limit }).body);
    }
    bool isConnected() const { return m_channel->isConnected(); }
    MessageChannel &channel() { return *m_channel; }

private:
    std::unique_ptr<MessageChannel> m_channel;
    QList<Envelope> m_inbox;
    quint64 m_nextId = 1;
};

CommitOp put(const char *path, const QByteArray &data, quint64 base = 0)
{
    CommitOp op;
    op.path = P(path);
    op.baseVersion = base;
    op.size = data.size();
    if (!data.isEmpty())
        op.blocks = { BlockRef { ContentHash::of(data), quint32(data.size()) } };
    return op;
}

CommitOp dirOp(CommitOpKind kind, const char *path, quint64 base = 0)
{
    CommitOp op;
    op.op = kind;
    op.kind = EntryKind::Directory;
    op.path = P(path);
    op.baseVersion = base;
    return op;
}

CommitOp del(const char *path, quint64 base)
{
    CommitOp op;
    op.op = CommitOpKind::Delete;
    op.path = P(path);
    op.baseVersion = base;
    return op;
}

CommitOp move(const char *from, const char *to, quint64 base, EntryKind kind = EntryKind::File)
{
    CommitOp op;
    op.op = CommitOpKind::Move;
    op.from = P(from);
    op.path = P(to);
    op.kind = kind;
    op.baseVersion = base;
    return op;
}

} // namespace

class tst_Server : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void init();
    void cleanup();

    void handshakeErrors_data();
    void handshakeErrors();
    void accountsAndLogin();
    void failedLoginsAreRateLimited();
    void optimisticCommits();
    void directoriesDeleteOnlyWhenEmpty();
    void movesAreOneOperation();
    void blocksCannotBeClaimedByHash();
    void changesCollapseAndPage();
    void advancedGoesToTheAccountOnly();
    void restartKeepsEverything();
    void hostileFramesChangeNothing();
    void statsAndMetrics();

private:
    std::unique_ptr<QTemporaryDir> m_dir;
    std::unique_ptr<SyncServer> m_server;
};

void tst_Server::init()
{
    m_dir = std::make_unique<QTemporaryDir>();
    m_server = std::make_unique<SyncServer>(
        ServerConfig { m_dir->path(), QHostAddress::LocalHost, 0, QStringLiteral("127.0.0.1:0") });
    QVERIFY(m_server->start().ok());
}

void tst_Server::cleanup()
{
    m_server.reset();
    m_dir.reset();
}

void tst_Server::handshakeErrors_data()
{
    QTest::addColumn<int>("type");
    QTest::addColumn<QCborMap>("body");
    QTest::addColumn<QString>("code");
    QTest::newRow("request before hello")
        << int(MessageType::GetChanges) << GetChanges { 0, 10 }.toCbor() << QStringLiteral("not-authenticated");
    QTest::newRow("wrong magic") << int(MessageType::Hello)
                                 << QCborMap { { QStringLiteral("magic"), QStringLiteral("HTTP") },
                                        { QStringLiteral("major"), 1 }, { QStringLiteral("minor"), 0 } }
                                 << QStringLiteral("bad-request");
    QTest::newRow("other major version") << int(MessageType::Hello) << Hello { 2, 0, QStringLiteral("future") }.toCbor()
                                         << QStringLiteral("protocol-version");
}

void tst_Server::handshakeErrors()
{
    QFETCH(int, type);
    QFETCH(QCborMap, body);
    QFETCH(QString, code);
    RawClient c(m_server->port());
    const Envelope reply = c.call(MessageType(type), body);
    QCOMPARE(reply.type, MessageType::ErrorReply);
    const auto error = *ErrorReply::fromCbor(reply.body);
    QCOMPARE(error.code, code);
    QVERIFY(!error.message.isEmpty());
    QTRY_VERIFY(!c.isConnected());
}

void tst_Server::accountsAndLogin()
{
    RawClient a(m_server->port());
    const QString id = a.login();
    QCOMPARE(id.size(), 32);
    RawClient b(m_server->port());
    QCOMPARE(b.login(id), id);
    RawClient c(m_server->port());
    c.call(MessageType::Hello, Hello { kMajorVersion, kMinorVersion, {} });
    const Envelope wrong = c.call(MessageType::Login, Login { QString(32, u'a'), QStringLiteral("x") });
    QCOMPARE(ErrorReply::fromCbor(wrong.body)->code, QStringLiteral("unknown-account"));
    QVERIFY(c.isConnected()); // it may still create an account
    const Envelope created = c.call(MessageType::CreateAccount, CreateAccount {});
    QCOMPARE(created.type, MessageType::LoginOk);
    // Only a hash of the ID is stored.
    QFile db(m_dir->path() + QStringLiteral("/metadata.db"));
    QVERIFY(db.open(QIODevice::ReadOnly));
    QVERIFY(!db.readAll().contains(id.toLatin1()));
}

void tst_Server::failedLoginsAreRateLimited()
{
    QString code;
    for (int i = 0; i < AccountStore::kMaxFailures + 1; ++i) {
        RawClient c(m_server->port());
        c.call(MessageType::Hello, Hello { kMajorVersion, kMinorVersion, {} });
        code = ErrorReply::fromCbor(c.call(MessageType::Login, Login { QString(32, u'b'), {} }).body)->code;
    }
    QCOMPARE(code, QStringLiteral("rate-limited"));
}

void tst_Server::optimisticCommits()
{
    RawClient c(m_server->port());
    QVERIFY(!c.login().isEmpty());
    QVERIFY(c.putBlock("one"));
    QVERIFY(c.putBlock("two"));
    CommitReply r = c.commit({ put("a.txt", "one") });
    QCOMPARE(r.results.first().status, CommitStatus::Applied);
    const quint64 v1 = r.results.first().version;
    QCOMPARE(r.head, v1);

    // Creating again (base 0) or editing with a stale base: conflict, nothing overwritten.
    r = c.commit({ put("a.txt", "two", 0), put("a.txt", "two", v1 + 100) });
    QCOMPARE(r.results.at(0).status, CommitStatus::Conflict);
    QCOMPARE(r.results.at(0).currentVersion, v1);
    QCOMPARE(r.results.at(1).status, CommitStatus::Conflict);
    QCOMPARE(c.changes(0).entries.first().blocks.first().hash, ContentHash::of("one"));

    // With the right base it applies; parents are created implicitly.
    r = c.commit({ put("a.txt", "two", v1), put("deep/er/b.txt", "one") });
    QCOMPARE(r.results.at(0).status, CommitStatus::Applied);
    QCOMPARE(r.results.at(1).status, CommitStatus::Applied);
    const Changes all = c.changes(0);
    QStringList paths;
    for (const FileEntry &e : all.entries)
        paths << e.path.toString();
    QCOMPARE(paths,
        (QStringList { QStringLiteral("a.txt"), QStringLiteral("deep"), QStringLiteral("deep/er"),
            QStringLiteral("deep/er/b.txt") }));

    // A file cannot be a parent; an unknown block is refused.
    r = c.commit({ put("a.txt/inside", "one"), put("c.txt", "never uploaded") });
    QCOMPARE(r.results.at(0).status, CommitStatus::Rejected);
    QCOMPARE(r.results.at(1).status, CommitStatus::Rejected);
    QVERIFY(r.results.at(1).reason.contains(QStringLiteral("missing block")));

    // Delete, then re-create over the tombstone with its version or 0.
    const quint64 v2 = c.changes(0).entries.first().version;
    r = c.commit({ del("a.txt", v2) });
    QCOMPARE(r.results.first().status, CommitStatus::Applied);
    const quint64 tomb = r.results.first().version;
    QVERIFY(c.changes(tomb - 1).entries.first().deleted);
    r = c.commit({ put("a.txt", "one", tomb) });
    QCOMPARE(r.results.first().status, CommitStatus::Applied);
}

void tst_Server::directoriesDeleteOnlyWhenEmpty()
{
    RawClient c(m_server->port());
    c.login();
    QVERIFY(c.putBlock("x"));
    CommitReply r = c.commit({ dirOp(CommitOpKind::Put, "d"), put("d/f", "x") });
    const quint64 dirVersion = r.results.at(0).version;
    const quint64 fileVersion = r.results.at(1).version;
    r = c.commit({ dirOp(CommitOpKind::Delete, "d", dirVersion) });
    QCOMPARE(r.results.first().status, CommitStatus::Conflict); // not empty: an edit wins
    r = c.commit({ del("d/f", fileVersion), dirOp(CommitOpKind::Delete, "d", dirVersion) });
    QCOMPARE(r.results.at(0).status, CommitStatus::Applied);
    QCOMPARE(r.results.at(1).status, CommitStatus::Applied);
}

void tst_Server::movesAreOneOperation()
{
    RawClient c(m_server->port());
    c.login();
    QVERIFY(c.putBlock("x"));
    CommitReply r = c.commit({ put("a/1", "x"), put("a/sub/2", "x"), put("file", "x") });
    const quint64 head = r.head;
    const Changes before = c.changes(0);
    quint64 aVersion = 0, fileVersion = 0;
    for (const FileEntry &e : before.entries) {
        if (e.path == P("a"))
            aVersion = e.version;
        if (e.path == P("file"))
            fileVersion = e.version;
    }
    r = c.commit({ move("a", "b/renamed", aVersion, EntryKind::Directory), move("file", "b/renamed/1", fileVersion) });
    QCOMPARE(r.results.at(0).status, CommitStatus::Applied);
    QCOMPARE(r.results.at(1).status, CommitStatus::Conflict); // the target is live now
    QMap<QString, FileEntry> after;
    for (const FileEntry &e : c.changes(head).entries)
        after.insert(e.path.toString(), e);
    QVERIFY(after.value(QStringLiteral("a")).deleted);
    QVERIFY(after.value(QStringLiteral("a/sub/2")).deleted);
    QCOMPARE(after.value(QStringLiteral("b/renamed/sub/2")).movedFrom, P("a/sub/2"));
    QCOMPARE(after.value(QStringLiteral("b/renamed")).movedFrom, P("a"));
    QVERIFY(!after.value(QStringLiteral("b")).deleted);
    // A stale move is a conflict.
    r = c.commit({ move("b/renamed/1", "elsewhere", 1) });
    QCOMPARE(r.results.first().status, CommitStatus::Conflict);
}

void tst_Server::blocksCannotBeClaimedByHash()
{
    RawClient owner(m_server->port());
    owner.login();
    QVERIFY(owner.putBlock("secret payroll"));
    QCOMPARE(owner.commit({ put("pay.txt", "secret payroll") }).results.first().status, CommitStatus::Applied);

    RawClient thief(m_server->port());
    thief.login(); // another account
    const ContentHash h = ContentHash::of("secret payroll");
    const auto missing = QueryBlocksReply::fromCbor(thief.call(MessageType::QueryBlocks, QueryBlocks { { h } }).body);
    QCOMPARE(missing->missing, QList<ContentHash> { h }); // must upload the bytes to use it
    QCOMPARE(thief.commit({ put("stolen.txt", "secret payroll") }).results.first().status, CommitStatus::Rejected);
    const Envelope got = thief.call(MessageType::GetBlock, GetBlock { h });
    QCOMPARE(ErrorReply::fromCbor(got.body)->code, QStringLiteral("not-found"));

    // Whoever really has the bytes may use them (stored once, deduplicated).
    QVERIFY(thief.putBlock("secret payroll"));
    QCOMPARE(thief.commit({ put("mine.txt", "secret payroll") }).results.first().status, CommitStatus::Applied);
    const Envelope data = owner.call(MessageType::GetBlock, GetBlock { h });
    QCOMPARE(*decodeAndVerify(*BlockPayload::fromCbor(data.body)), QByteArray("secret payroll"));
    // A block whose bytes do not match its hash is refused and the connection closed.
    const Envelope bad
        = thief.call(MessageType::PutBlock, BlockPayload { ContentHash::of("a"), BlockCodec::Raw, 1, "b" });
    QCOMPARE(bad.type, MessageType::ErrorReply);
    QTRY_VERIFY(!thief.isConnected());
}

void tst_Server::changesCollapseAndPage()
{
    RawClient c(m_server->port());
    c.login();
    QVERIFY(c.putBlock("v"));
    quint64 version = 0;
    for (int i = 0; i < 5; ++i) // one path changed five times appears once
        version = c.commit({ put("same", i % 2 ? "" : "v", version) }).results.first().version;
    for (int i = 0; i < 30; ++i)
        c.commit({ put(qPrintable(QStringLiteral("f%1").arg(i)), "v") });
    const Changes all = c.changes(0);
    QCOMPARE(all.entries.size(), 31);
    QVERIFY(!all.more);
    quint64 since = 0;
    int pages = 0, total = 0;
    for (;;) {
        const Changes page = c.changes(since, 7);
        total += int(page.entries.size());
        ++pages;
        if (!page.more)
            break;
        since = page.next;
    }
    QCOMPARE(total, 31);
    QCOMPARE(pages, 5);
}

void tst_Server::advancedGoesToTheAccountOnly()
{
    RawClient a(m_server->port());
    const QString id = a.login();
    RawClient a2(m_server->port());
    a2.login(id);
    RawClient other(m_server->port());
    other.login();
    QVERIFY(a.putBlock("p"));
    const CommitReply r = a.commit({ put("p", "p") });
    QVERIFY(a2.sawAdvanced(r.head));
    QVERIFY(a.sawAdvanced(r.head));
    QVERIFY(!other.sawAdvanced(r.head, 300));
}

void tst_Server::restartKeepsEverything()
{
    QString id;
    {
        RawClient c(m_server->port());
        id = c.login();
        QVERIFY(c.putBlock("kept"));
        c.commit({ put("kept.txt", "kept") });
    }
    const quint16 port = m_server->port();
    m_server->stop();
    m_server = std::make_unique<SyncServer>(ServerConfig { m_dir->path(), QHostAddress::LocalHost, port, {} });
    QVERIFY(m_server->start().ok());
    RawClient c(m_server->port());
    QCOMPARE(c.login(id), id);
    const Changes all = c.changes(0);
    QCOMPARE(all.entries.size(), 1);
    const Envelope data = c.call(MessageType::GetBlock, GetBlock { all.entries.first().blocks.first().hash });
    QCOMPARE(*decodeAndVerify(*BlockPayload::fromCbor(data.body)), QByteArray("kept"));
}

void tst_Server::hostileFramesChangeNothing()
{
    RawClient good(m_server->port());
    const QString id = good.login();
    const quint64 head = good.changes(0).head;
    const QList<QByteArray> attacks = {
        QByteArray("\xff\xff\xff\xff", 4), // 4 GiB announced
        QByteArray("\x00\x00\x00\x03\xff\xff\xff", 7), // not CBOR
        encodeFrame({ MessageType::Commit, 9,
            QCborMap { { QStringLiteral("ops"),
                QCborArray { QCborMap { { QStringLiteral("op"), 1 },
                    { QStringLiteral("path"), QStringLiteral("../../etc/passwd") },
                    { QStringLiteral("base"), 0 } } } } } }),
    };
    for (const QByteArray &attack : attacks) {
        RawClient evil(m_server->port());
        QVERIFY(!evil.login(id).isEmpty());
        evil.channel().socket()->write(attack);
        const Envelope reply = evil.waitFor([](const Envelope &e) { return e.type == MessageType::ErrorReply; });
        QCOMPARE(ErrorReply::fromCbor(reply.body)->code, QStringLiteral("bad-request"));
        QTRY_VERIFY(!evil.isConnected());
    }
    QCOMPARE(good.changes(0).head, head);
    QVERIFY(good.changes(0).entries.isEmpty());
}

void tst_Server::statsAndMetrics()
{
    RawClient c(m_server->port());
    c.login();
    QVERIFY(c.putBlock(QByteArray(5000, 'z')));
    const auto stats = Stats::fromCbor(c.call(MessageType::GetStats, QCborMap()).body);
    QVERIFY(stats.ok());
    QVERIFY(stats->bytesIn > 100); // the block was compressed, still over 100 bytes of frames
    QCOMPARE(stats->sessions, 1u);
    const QByteArray text = m_server->metricsText();
    QVERIFY(text.contains("filesync_sessions_connected 1\n"));
    QVERIFY(text.contains("filesync_accounts_total 1\n"));
    QVERIFY(m_server->metricsPort() != 0);
    QTcpSocket http;
    http.connectToHost(QHostAddress::LocalHost, m_server->metricsPort());
    QVERIFY(http.waitForConnected(5000));
    http.write("GET /metrics HTTP/1.0\r\n\r\n");
    QByteArray response;
    QTRY_VERIFY((response += http.readAll()).contains("filesync_bytes_received_total"));
    QVERIFY(response.startsWith("HTTP/1.0 200 OK"));
}

QTEST_GUILESS_MAIN(tst_Server)
#include "tst_server.moc"
