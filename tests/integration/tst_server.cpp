// The real SyncServer over real sockets on 127.0.0.1: handshake, accounts, push, stats,
// restarts and hostile peers. Commit rules are in tst_server_commits.cpp.
#include "accountstore.h"
#include "blockstore.h"
#include "clientsession.h"
#include "framereader.h"
#include "privatemodes.h"
#include "rawclient.h"
#include "syncserver.h"

#include <QCborArray>
#include <QDir>
#include <QDirIterator>
#include <QRandomGenerator>
#include <QScopeGuard>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>
#include <QThread>
#include <QtEndian>

#include <atomic>

using namespace filesync;
using namespace filesync::protocol;
using namespace filesync::servertest;

Q_DECLARE_METATYPE(filesync::LoginLimits)

namespace {

QStringList g_logLines;
void collectLog(QtMsgType, const QMessageLogContext &, const QString &message)
{
    g_logLines << message;
}

QByteArray lengthPrefix(quint32 length)
{
    QByteArray bytes(4, Qt::Uninitialized);
    qToBigEndian(length, bytes.data());
    return bytes;
}

QByteArray randomBlock(qsizetype size)
{
    QByteArray bytes(size, Qt::Uninitialized);
    for (char &b : bytes)
        b = char(QRandomGenerator::global()->generate());
    return bytes;
}

// Stored blocks: the records of the packs (a .fsp pack starts with its 16-byte file
// header, then records of a 45-byte header, magic "FSP1", then its data).
int blockFiles(const QString &dataDir)
{
    int count = 0;
    QDirIterator it(dataDir + QStringLiteral("/blocks"), QDir::Files, QDirIterator::Subdirectories);
    while (it.hasNext()) {
        const QString path = it.next();
        if (!path.endsWith(QStringLiteral(".fsp")))
            continue;
        QFile pack(path);
        if (!pack.open(QIODevice::ReadOnly))
            continue;
        const QByteArray bytes = pack.readAll();
        for (qsizetype at = LocalBlockStore::kPackFileHeaderSize;
             at + LocalBlockStore::kPackHeaderSize <= bytes.size() && bytes.mid(at, 4) == "FSP1"; ++count)
            at += LocalBlockStore::kPackHeaderSize + qFromBigEndian<quint32>(bytes.constData() + at + 41);
    }
    return count;
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
    void pingBeforeLogin();
    void loginTimeout();
    void accountsAndLogin();
    void idsNeverLogged();
    void dataIsPrivateWhateverTheUmask();
    void rightIdLogsInWhileAnotherIsGuessed();
    void failedLoginsAreLimited_data();
    void failedLoginsAreLimited();
    void limitsRefill();
    void accountCreationIsLimitedPerAddress();
    void ipv6AddressesCountPerPrefix_data();
    void ipv6AddressesCountPerPrefix();
    void advancedGoesToTheAccountOnly();
    void sessionCountFollowsConnections();
    void sessionEndingAsTheServerStopsTouchesNothingOfIt();
    void stoppedServerLeavesNoHashingRunning();
    void restartKeepsEverything();
    void hostileFramesChangeNothing_data();
    void hostileFramesChangeNothing();
    void pipelinedUploadsAreAnsweredInOrder_data();
    void pipelinedUploadsAreAnsweredInOrder();
    void statsAndMetrics();
    void batchedBlocksUpAndDown_data();
    void batchedBlocksUpAndDown();
    void hostileBatchStoresNothing_data();
    void hostileBatchStoresNothing();

private:
    std::unique_ptr<QTemporaryDir> m_dir;
    std::unique_ptr<SyncServer> m_server;
};

void tst_Server::init()
{
    m_dir = std::make_unique<QTemporaryDir>();
    m_server = std::make_unique<SyncServer>(
        ServerConfig { m_dir->path(), QHostAddress::LocalHost, 0, QStringLiteral("127.0.0.1:0"), {} });
    QVERIFY(m_server->start().ok());
}

void tst_Server::cleanup()
{
    m_server.reset();
    m_dir.reset();
}

void tst_Server::handshakeErrors_data()
{
    QTest::addColumn<bool>("hello"); // send a good Hello first
    QTest::addColumn<int>("type");
    QTest::addColumn<QCborMap>("body");
    QTest::addColumn<QString>("code");
    const QCborMap wrongMagic { { QStringLiteral("magic"), QStringLiteral("HTTP") }, { QStringLiteral("version"), 1 } };
    QTest::newRow("request before hello") << false << int(MessageType::GetChanges) << GetChanges { 0, 10 }.toCbor()
                                          << QStringLiteral("not-authenticated");
    QTest::newRow("login before hello") << false << int(MessageType::Login) << Login { QString(32, u'a'), {} }.toCbor()
                                        << QStringLiteral("not-authenticated");
    QTest::newRow("wrong magic") << false << int(MessageType::Hello) << wrongMagic << QStringLiteral("bad-request");
    QTest::newRow("a newer version") << false << int(MessageType::Hello)
                                     << Hello { 2, QStringLiteral("future") }.toCbor()
                                     << QStringLiteral("protocol-version");
    QTest::newRow("version 0") << false << int(MessageType::Hello) << Hello { 0, QStringLiteral("past") }.toCbor()
                               << QStringLiteral("protocol-version");
    QTest::newRow("commit before login") << true << int(MessageType::Commit) << Commit {}.toCbor()
                                         << QStringLiteral("not-authenticated");
    QTest::newRow("second hello") << true << int(MessageType::Hello) << Hello { kProtocolVersion, {} }.toCbor()
                                  << QStringLiteral("not-authenticated");
    QTest::newRow("server message from a client")
        << true << int(MessageType::Welcome) << Welcome { 1, {} }.toCbor() << QStringLiteral("not-authenticated");
}

void tst_Server::handshakeErrors()
{
    QFETCH(bool, hello);
    QFETCH(int, type);
    QFETCH(QCborMap, body);
    QFETCH(QString, code);
    RawClient c(m_server->port());
    if (hello)
        QCOMPARE(c.call(MessageType::Hello, Hello { kProtocolVersion, {} }).type, MessageType::Welcome);
    const Envelope reply = c.call(MessageType(type), body);
    QCOMPARE(c.errorCode(reply), code);
    const QString message = ErrorReply::fromCbor(reply.body)->message;
    QVERIFY(message.size() > 10);
    if (code == QLatin1String("protocol-version")) { // names both versions
        const auto said = Hello::fromCbor(body);
        QVERIFY2(message.contains(QStringLiteral("version %1").arg(kProtocolVersion))
                && message.contains(QStringLiteral("version %1").arg(said->version)),
            qPrintable(message));
    }
    QTRY_VERIFY(!c.isConnected());
}

void tst_Server::pingBeforeLogin()
{
    RawClient c(m_server->port());
    QCOMPARE(c.call(MessageType::Ping, QCborMap()).type, MessageType::Pong);
    QCOMPARE(c.call(MessageType::Hello, Hello { kProtocolVersion, {} }).type, MessageType::Welcome);
    QCOMPARE(c.call(MessageType::Ping, QCborMap()).type, MessageType::Pong);
    QVERIFY(c.isConnected());
}

void tst_Server::loginTimeout()
{
    m_server->setLoginTimeout(200);
    RawClient idle(m_server->port());
    RawClient active(m_server->port());
    QVERIFY(!active.login().isEmpty());
    const Envelope e = idle.waitFor([](const Envelope &e) { return e.type == MessageType::ErrorReply; });
    QCOMPARE(idle.errorCode(e), QStringLiteral("not-authenticated"));
    QTRY_VERIFY(!idle.isConnected());
    QVERIFY(active.isConnected());
    QCOMPARE(active.call(MessageType::Ping, QCborMap()).type, MessageType::Pong);
}

void tst_Server::accountsAndLogin()
{
    RawClient a(m_server->port());
    const QString id = a.login();
    QCOMPARE(id.size(), AccountId::kChars);
    QVERIFY(AccountId::parse(id).ok());
    RawClient b(m_server->port());
    QCOMPARE(b.login(id.toUpper()), id.toUpper()); // parsing forgives case, as users type it
    QVERIFY(b.sessionId() != a.sessionId());

    RawClient c(m_server->port());
    c.call(MessageType::Hello, Hello { kProtocolVersion, {} });
    const QString unknown = AccountId::generate().toString();
    QCOMPARE(c.errorCode(c.call(MessageType::Login, Login { unknown, QStringLiteral("x") })),
        QStringLiteral("unknown-account"));
    QCOMPARE(c.errorCode(c.call(MessageType::Login, Login { QStringLiteral("not an id!"), {} })),
        QStringLiteral("unknown-account"));
    QVERIFY(c.isConnected()); // it may still create an account
    QCOMPARE(c.call(MessageType::CreateAccount, CreateAccount {}).type, MessageType::LoginOk);

    // Only a hash of the ID is stored.
    m_server->stop();
    QFile db(m_dir->path() + QStringLiteral("/metadata.db"));
    QVERIFY(db.open(QIODevice::ReadOnly));
    const QByteArray bytes = db.readAll();
    QVERIFY(!bytes.contains(id.toLatin1()));
    QVERIFY(bytes.contains(AccountId::parse(id)->hash()));
}

void tst_Server::idsNeverLogged()
{
    QLoggingCategory::setFilterRules(QStringLiteral("filesync.*=true"));
    g_logLines.clear();
    const QtMessageHandler previous = qInstallMessageHandler(collectLog);
    QString id;
    {
        RawClient a(m_server->port());
        id = a.login();
        RawClient b(m_server->port());
        b.login(id);
        RawClient c(m_server->port());
        c.login(AccountId::generate().toString()); // unknown
        QVERIFY(a.putBlock("x"));
        a.commit({ put("f", "x") });
    }
    QTRY_COMPARE(m_server->sessionCount(), 0);
    qInstallMessageHandler(previous);
    QLoggingCategory::setFilterRules(QString());
    QVERIFY(!g_logLines.isEmpty());
    for (const QString &line : std::as_const(g_logLines))
        QVERIFY2(!line.contains(id, Qt::CaseInsensitive), qPrintable(line));
}

// The data (every account's files, the hashes of their IDs) is the owner's alone under a
// umask that would let others read it, and a store left open by an older build is fixed
// at start.
void tst_Server::dataIsPrivateWhateverTheUmask()
{
    const mode_t umask = ::umask(022);
    const auto restore = qScopeGuard([umask] { ::umask(umask); });
    const QString data = m_dir->path() + QStringLiteral("/private");
    const QString db = data + QStringLiteral("/metadata.db");
    const auto run = [&] {
        SyncServer server(ServerConfig { data, QHostAddress::LocalHost, 0, {}, {} });
        QVERIFY(server.start().ok());
        RawClient c(server.port());
        QVERIFY(!c.login().isEmpty());
        QVERIFY(c.putBlock("secret"));
        QVERIFY(c.putBlock(QByteArray(100000, 'k'))); // stored compressed
        QCOMPARE(c.commit({ put("f", "secret") }).results.size(), 1);
        QVERIFY(QFileInfo::exists(db + QStringLiteral("-wal")));
        QVERIFY(QFileInfo::exists(db + QStringLiteral("-shm")));
        QCOMPARE(privatetest::notPrivate(data), QStringList());
    };
    run();
    if (QTest::currentTestFailed())
        return;
    QVERIFY(!QDir(data + QStringLiteral("/blocks/packs")).entryList(QDir::Files).isEmpty()); // a pack

    privatetest::makeOpen(data, { db });
    QVERIFY(!privatetest::notPrivate(data).isEmpty());
    run();
}

namespace {
// One connection's login from `from`: the refusal, or an ErrorReply with code "ok".
ErrorReply tryLogin(quint16 port, const QString &id, const char *from = "127.0.0.1")
{
    RawClient c(port, QHostAddress(QString::fromLatin1(from)));
    c.call(MessageType::Hello, Hello { kProtocolVersion, {} });
    const Envelope reply = c.call(MessageType::Login, Login { id, {} });
    if (reply.type == MessageType::LoginOk)
        return ErrorReply { QStringLiteral("ok"), {}, {}, 0 };
    auto error = ErrorReply::fromCbor(reply.body);
    return reply.type == MessageType::ErrorReply && error ? *error
                                                          : ErrorReply { QStringLiteral("no reply"), {}, {}, 0 };
}

QString newAccount(quint16 port)
{
    RawClient owner(port);
    return owner.login();
}
} // namespace

// One address guessing (or a client stuck with a stale ID) does not lock out the right ID
// from the same address: the limits are per attempted ID first.
void tst_Server::rightIdLogsInWhileAnotherIsGuessed()
{
    const QString id = newAccount(m_server->port());
    const QString stale = AccountId::generate().toString();
    QStringList codes;
    for (int i = 0; i < 8; ++i)
        codes << tryLogin(m_server->port(), stale).code;
    for (int i = 0; i < 8; ++i)
        codes << tryLogin(m_server->port(), AccountId::generate().toString()).code;
    QCOMPARE(codes.count(QStringLiteral("unknown-account")), 5 + 8);
    QCOMPARE(codes.count(QStringLiteral("rate-limited")), 3);
    QCOMPARE(tryLogin(m_server->port(), id).code, QStringLiteral("ok"));
}

void tst_Server::failedLoginsAreLimited_data()
{
    QTest::addColumn<LoginLimits>("limits");
    QTest::addColumn<QString>("scope");
    QTest::addColumn<bool>("sameId"); // the attacker repeats one ID, or tries new ones
    QTest::addColumn<QStringList>("from"); // the attacker's addresses, in turn
    QTest::addColumn<int>("allowed"); // failures answered unknown-account before the limit
    QTest::addColumn<bool>("rightIdFromAttacker"); // whether the right ID still logs in from there

    const int minute = 60 * 1000;
    QTest::newRow("one ID") << LoginLimits { { 3, minute }, { 100, minute }, { 1000, minute } }
                            << QStringLiteral("account") << true << QStringList { QStringLiteral("127.0.0.1") } << 3
                            << true;
    QTest::newRow("one address") << LoginLimits { { 3, minute }, { 5, minute }, { 1000, minute } }
                                 << QStringLiteral("address") << false << QStringList { QStringLiteral("127.0.0.1") }
                                 << 5 << false;
    QTest::newRow("everybody") << LoginLimits { { 3, minute }, { 5, minute }, { 4, minute } }
                               << QStringLiteral("global") << false
                               << QStringList { QStringLiteral("127.0.0.2"), QStringLiteral("127.0.0.3") } << 4
                               << false;
}

void tst_Server::failedLoginsAreLimited()
{
    QFETCH(LoginLimits, limits);
    QFETCH(QString, scope);
    QFETCH(bool, sameId);
    QFETCH(QStringList, from);
    QFETCH(int, allowed);
    QFETCH(bool, rightIdFromAttacker);

    // All IPv4 loopback addresses, so that several peer addresses exist.
    ServerConfig config { m_dir->path() + QStringLiteral("/rl"), QHostAddress::AnyIPv4, 0, {}, {} };
    config.loginLimits = limits;
    SyncServer server(config);
    QVERIFY(server.start().ok());
    const QString id = newAccount(server.port());

    const QString wrong = AccountId::generate().toString();
    for (int i = 0; i < allowed; ++i) {
        const QString attempt = sameId ? wrong : AccountId::generate().toString();
        QCOMPARE(tryLogin(server.port(), attempt, qPrintable(from.at(i % from.size()))).code,
            QStringLiteral("unknown-account"));
    }
    // Refused without a lookup, saying which limit and for how long; the connection closes.
    RawClient c(server.port(), QHostAddress(from.first()));
    c.call(MessageType::Hello, Hello { kProtocolVersion, {} });
    const auto refusal = ErrorReply::fromCbor(c.call(MessageType::Login, Login { wrong, {} }).body);
    QVERIFY(refusal.ok());
    QCOMPARE(refusal->code, QStringLiteral("rate-limited"));
    QCOMPARE(refusal->scope, scope);
    QVERIFY2(refusal->retryAfter >= 1 && refusal->retryAfter <= 60, qPrintable(QString::number(refusal->retryAfter)));
    QVERIFY2(refusal->message.contains(QStringLiteral("%1 s").arg(refusal->retryAfter)), qPrintable(refusal->message));
    QTRY_VERIFY(!c.isConnected());

    const ErrorReply right = tryLogin(server.port(), id, qPrintable(from.first()));
    QCOMPARE(right.code, rightIdFromAttacker ? QStringLiteral("ok") : QStringLiteral("rate-limited"));
    // An address that has not failed is never refused for the others' failures.
    QCOMPARE(tryLogin(server.port(), id, "127.0.0.9").code, QStringLiteral("ok"));
}

void tst_Server::limitsRefill()
{
    ServerConfig config { m_dir->path() + QStringLiteral("/refill"), QHostAddress::LocalHost, 0, {}, {} };
    config.loginLimits = LoginLimits { { 2, 300 }, { 100, 300 }, { 1000, 300 } };
    SyncServer server(config);
    QVERIFY(server.start().ok());
    const QString wrong = AccountId::generate().toString();
    QCOMPARE(tryLogin(server.port(), wrong).code, QStringLiteral("unknown-account"));
    QCOMPARE(tryLogin(server.port(), wrong).code, QStringLiteral("unknown-account"));
    QCOMPARE(tryLogin(server.port(), wrong).code, QStringLiteral("rate-limited"));
    // Once refilled, the ID is looked up again (kept once seen: QTRY evaluates twice).
    bool lookedUp = false;
    QTRY_VERIFY(lookedUp || (lookedUp = tryLogin(server.port(), wrong).code == QStringLiteral("unknown-account")));
}

// Creating an account writes a row before any login: one address may create a burst of
// them, then one per refill; the refusal says so, with scope and retryAfter, creates
// nothing and closes. Other addresses, and logins from the same one, are not affected.
void tst_Server::accountCreationIsLimitedPerAddress()
{
    ServerConfig config { m_dir->path() + QStringLiteral("/create"), QHostAddress::AnyIPv4, 0, {}, {} };
    config.loginLimits.creationsPerAddress = { 3, 60 * 1000 };
    SyncServer server(config);
    QVERIFY(server.start().ok());
    const auto accounts = [&server] {
        const QByteArray metrics = server.metricsText();
        const qsizetype at = metrics.indexOf("\nfilesync_accounts_total ") + 25;
        return metrics.mid(at, metrics.indexOf('\n', at) - at).toInt();
    };
    QString id;
    for (int i = 0; i < 3; ++i) {
        RawClient c(server.port());
        id = c.login();
        QVERIFY(!id.isEmpty());
    }
    QCOMPARE(accounts(), 3);

    RawClient c(server.port());
    QCOMPARE(c.call(MessageType::Hello, Hello { kProtocolVersion, {} }).type, MessageType::Welcome);
    const Envelope reply = c.call(MessageType::CreateAccount, CreateAccount { QStringLiteral("x") });
    const auto refusal = ErrorReply::fromCbor(reply.body);
    QCOMPARE(reply.type, MessageType::ErrorReply);
    QVERIFY(refusal.ok());
    QCOMPARE(refusal->code, QStringLiteral("rate-limited"));
    QCOMPARE(refusal->scope, QStringLiteral("address"));
    QVERIFY2(refusal->retryAfter >= 1 && refusal->retryAfter <= 60, qPrintable(QString::number(refusal->retryAfter)));
    QVERIFY2(
        refusal->message.contains(QStringLiteral("accounts created from this address")), qPrintable(refusal->message));
    QVERIFY2(refusal->message.contains(QStringLiteral("%1 s").arg(refusal->retryAfter)), qPrintable(refusal->message));
    QTRY_VERIFY(!c.isConnected());
    QCOMPARE(accounts(), 3);

    QCOMPARE(tryLogin(server.port(), id).code, QStringLiteral("ok"));
    RawClient elsewhere(server.port(), QHostAddress(QStringLiteral("127.0.0.2")));
    QVERIFY(!elsewhere.login().isEmpty());
    QCOMPARE(accounts(), 4);
}

void tst_Server::ipv6AddressesCountPerPrefix_data()
{
    QTest::addColumn<QString>("address");
    QTest::addColumn<QString>("key");
    QTest::newRow("IPv4") << QStringLiteral("192.0.2.7") << QStringLiteral("192.0.2.7");
    QTest::newRow("IPv4-mapped") << QStringLiteral("::ffff:192.0.2.7") << QStringLiteral("192.0.2.7");
    QTest::newRow("IPv6 host") << QStringLiteral("2001:db8:1:2:aaaa:bbbb:cccc:dddd")
                               << QStringLiteral("2001:db8:1:2::/64");
    QTest::newRow("IPv6 neighbour") << QStringLiteral("2001:db8:1:2::1") << QStringLiteral("2001:db8:1:2::/64");
    QTest::newRow("IPv6 loopback") << QStringLiteral("::1") << QStringLiteral("::/64");
}

void tst_Server::ipv6AddressesCountPerPrefix()
{
    QFETCH(QString, address);
    QFETCH(QString, key);
    QCOMPARE(LoginLimiter::addressKey(QHostAddress(address)), key);
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
    QVERIFY(r.head > 0);
    QVERIFY(a2.sawAdvanced(r.head));
    QVERIFY(a.sawAdvanced(r.head)); // the committer too
    // A commit that changes nothing (a conflict) does not advance anybody.
    const CommitReply stale = a.commit({ put("p", "p", 0) });
    QCOMPARE(stale.results.first().status, CommitStatus::Conflict);
    QCOMPARE(stale.head, r.head);
    // The other account hears nothing; its own commit reaches it, not the first account.
    QVERIFY(other.putBlock("q"));
    const CommitReply mine = other.commit({ put("q", "q") });
    QVERIFY(other.sawAdvanced(mine.head));
    QCOMPARE(a2.waitFor([](const Envelope &e) { return e.type == MessageType::Advanced; }, 200).id, quint64(-1));
}

void tst_Server::sessionCountFollowsConnections()
{
    QSignalSpy spy(m_server.get(), &SyncServer::sessionCountChanged);
    auto a = std::make_unique<RawClient>(m_server->port());
    auto b = std::make_unique<RawClient>(m_server->port());
    QTRY_COMPARE(m_server->sessionCount(), 2);
    a.reset();
    QTRY_COMPARE(m_server->sessionCount(), 1);
    QCOMPARE(spy.last().first().toInt(), 1);
    b.reset();
    QTRY_COMPARE(m_server->sessionCount(), 0);
}

// A session that ends in the same pass of the event loop as the server stops (a SIGTERM
// handled right after a disconnect) is deleted later, by deleteLater or with the server,
// when the change feed, the relay and the budgets it used are gone: it must touch none of
// them then (an AddressSanitizer build sees it; a plain one may read freed memory quietly).
void tst_Server::sessionEndingAsTheServerStopsTouchesNothingOfIt()
{
    for (const bool destroy : { false, true }) {
        auto server = std::make_unique<SyncServer>(
            ServerConfig { m_dir->path() + QStringLiteral("/stop"), QHostAddress::LocalHost, 0, {}, {} });
        QVERIFY(server->start().ok());
        auto c = std::make_unique<RawClient>(server->port());
        QVERIFY(!c->login().isEmpty()); // subscribed to the feed, joined the relay
        bool stopped = false;
        connect(server.get(), &SyncServer::sessionCountChanged, this, [&](int count) {
            if (count == 0 && !std::exchange(stopped, true))
                server->stop();
        });
        c.reset();
        QDeadlineTimer deadline(10000);
        while (!stopped && !deadline.hasExpired()) // events only: the ended session is not deleted yet
            QCoreApplication::processEvents(QEventLoop::WaitForMoreEvents, 50);
        QVERIFY(stopped);
        if (destroy)
            server.reset();
        QCoreApplication::sendPostedEvents(nullptr, QEvent::DeferredDelete);
        server.reset();
    }
}

// A server stopped while an upload is hashed on its pool waits for that job: nothing of
// the stopped server runs on afterwards.
void tst_Server::stoppedServerLeavesNoHashingRunning()
{
    std::atomic_int entered { 0 };
    std::atomic_bool inFirst { false };
    ClientSession::setBeforePoolVerifyForTests([&] {
        if (entered++ > 0)
            return;
        inFirst = true;
        QThread::msleep(200); // the slow machine, not a synchronisation: nothing waits for it but the server
        inFirst = false;
    });
    const auto restore = qScopeGuard([] { ClientSession::setBeforePoolVerifyForTests({}); });
    RawClient c(m_server->port());
    c.login();
    const QByteArray data = randomBlock(40 * 1024);
    QVERIFY(data.size() >= ClientSession::kPoolVerifyFromBytes);
    c.send(MessageType::PutBlock,
        BlockPayload { ContentHash::of(data), BlockCodec::Raw, quint32(data.size()), data }.toCbor());
    QTRY_VERIFY_WITH_TIMEOUT(entered > 0, 10000);
    m_server->stop();
    QVERIFY(!inFirst);
}

void tst_Server::restartKeepsEverything()
{
    QString id;
    quint64 head = 0;
    {
        RawClient c(m_server->port());
        id = c.login();
        QVERIFY(c.putBlock("kept"));
        QVERIFY(c.putBlock(QByteArray(100000, 'k'))); // stored compressed
        head = c.commit({ put("kept.txt", "kept"), put("dir/big", QByteArray(100000, 'k')) }).head;
    }
    QCOMPARE(blockFiles(m_dir->path()), 2);
    const quint16 port = m_server->port();
    m_server->stop();
    QCOMPARE(m_server->port(), quint16(0));
    m_server = std::make_unique<SyncServer>(ServerConfig { m_dir->path(), QHostAddress::LocalHost, port, {}, {} });
    QVERIFY(m_server->start().ok());
    RawClient c(m_server->port());
    QCOMPARE(c.login(id), id);
    const Changes all = c.changes(0);
    QCOMPARE(all.head, head);
    QCOMPARE(all.entries.size(), 3);
    for (const FileEntry &e : all.entries) {
        if (e.kind == EntryKind::Directory)
            continue;
        const Envelope data = c.call(MessageType::GetBlock, GetBlock { e.blocks.first().hash });
        QCOMPARE(decodeAndVerify(*BlockPayload::fromEnvelope(data))->size(), e.size);
    }
    // The sequence goes on from where it was.
    QVERIFY(c.putBlock("more"));
    QCOMPARE(c.commit({ put("more", "more") }).head, head + 1);
}

void tst_Server::hostileFramesChangeNothing_data()
{
    QTest::addColumn<QByteArray>("attack");
    auto commitOf = [](const QCborArray &ops) {
        return encodeFrame({ MessageType::Commit, 9, QCborMap { { QStringLiteral("ops"), ops } } });
    };
    auto putOp = [](const QString &path) {
        return QCborMap { { QStringLiteral("op"), 0 }, { QStringLiteral("path"), path }, { QStringLiteral("kind"), 1 },
            { QStringLiteral("base"), 0 }, { QStringLiteral("size"), 0 }, { QStringLiteral("mtime"), 0 },
            { QStringLiteral("mode"), 0 } };
    };
    QTest::newRow("4 GiB announced") << lengthPrefix(0xffffffffu);
    QTest::newRow("over the block cap") << lengthPrefix(quint32(kMaxBlockFrame + 1)) + QByteArray(64, '\0');
    QTest::newRow("metadata over 1 MiB") << lengthPrefix(2 * 1024 * 1024) + QByteArray("\x83\x0d", 2);
    QTest::newRow("empty frame") << lengthPrefix(0);
    QTest::newRow("not CBOR") << lengthPrefix(3) + QByteArray("\xff\xff\xff", 3);
    QTest::newRow("unknown type") << lengthPrefix(5) + QByteArray("\x83\x18\x1b\x01\xa0", 5);
    QTest::newRow("wrong shape") << lengthPrefix(2) + QByteArray("\x81\x01", 2);
    QTest::newRow("dot-dot path") << commitOf({ putOp(QStringLiteral("../../etc/passwd")) });
    QTest::newRow("absolute path") << commitOf({ putOp(QStringLiteral("/etc/passwd")) });
    QTest::newRow("our metadata dir") << commitOf({ putOp(QStringLiteral(".filesync/journal.db")) });
    QTest::newRow("a good op, then a bad one")
        << commitOf({ putOp(QStringLiteral("fine")), putOp(QStringLiteral("a/\u0001")) });
    QCborMap moveIntoItself = putOp(QStringLiteral("a/b"));
    moveIntoItself.insert(QStringLiteral("op"), 2);
    moveIntoItself.insert(QStringLiteral("from"), QStringLiteral("a"));
    QTest::newRow("move into itself") << commitOf({ moveIntoItself });
    QTest::newRow("text where a number belongs")
        << encodeFrame({ MessageType::GetChanges, 9, QCborMap { { QStringLiteral("since"), QStringLiteral("0") } } });
    QTest::newRow("block with a wrong hash") << encodeFrame(
        { MessageType::PutBlock, 9, BlockPayload { ContentHash::of("a"), BlockCodec::Raw, 1, "b" }.toCbor() });
    // A well-formed zstd frame whose content is not what the hash names.
    const QByteArray zeros(4096, '\0');
    QTest::newRow("zstd block with a wrong hash") << encodeFrame({ MessageType::PutBlock, 9,
        BlockPayload { ContentHash::of("aaaa"), BlockCodec::Zstd, quint32(zeros.size()), encodeBlock(zeros).data }
            .toCbor() });
    QTest::newRow("zstd garbage") << encodeFrame(
        { MessageType::PutBlock, 9, BlockPayload { ContentHash::of("aaaa"), BlockCodec::Zstd, 4, "zzzz" }.toCbor() });
}

void tst_Server::hostileFramesChangeNothing()
{
    QFETCH(QByteArray, attack);
    RawClient good(m_server->port());
    const QString id = good.login();
    const quint64 head = good.changes(0).head;
    RawClient evil(m_server->port());
    QVERIFY(!evil.login(id).isEmpty());
    evil.channel().socket()->write(attack);
    const Envelope reply = evil.waitFor([](const Envelope &e) { return e.type == MessageType::ErrorReply; });
    QCOMPARE(evil.errorCode(reply), QStringLiteral("bad-request"));
    QTRY_VERIFY(!evil.isConnected());
    const Changes after = good.changes(0);
    QCOMPARE(after.head, head);
    QVERIFY(after.entries.isEmpty());
    QCOMPARE(blockFiles(m_dir->path()), 0);
    QCOMPARE(good.call(MessageType::Ping, QCborMap()).type, MessageType::Pong); // the server lives on
}

void tst_Server::pipelinedUploadsAreAnsweredInOrder_data()
{
    QTest::addColumn<int>("bigEvery"); // every Nth block hashed on the server's pool (0: none)
    QTest::newRow("small blocks, hashed on the event thread") << 0;
    // 188 blocks of 40 KiB (7.5 MB): more than ClientSession::kMaxVerifyingBytes, so later
    // PutBlocks may wait behind the ones being hashed; small ones finish before big ones.
    QTest::newRow("every 8th block hashed on the pool") << 8;
}

// Many PutBlocks in one go (their proofs are recorded in batches), a QueryBlocks and a
// Commit behind them, then a forged block and one more good one: every reply comes in
// request order, the query and the commit already see the blocks, the forged one stores
// nothing and closes, the one after it is never stored.
void tst_Server::pipelinedUploadsAreAnsweredInOrder()
{
    QFETCH(int, bigEvery);
    RawClient c(m_server->port());
    c.login();
    QList<ContentHash> hashes;
    QList<quint64> ids;
    QList<CommitOp> ops;
    for (int i = 0; i < 1500; ++i) { // beyond one proof batch
        const bool big = bigEvery > 0 && i % bigEvery == 0;
        const QByteArray data = big ? randomBlock(40 * 1024) : QByteArray::number(i).repeated(10 + i % 50);
        QVERIFY(!big || data.size() >= ClientSession::kPoolVerifyFromBytes);
        hashes << ContentHash::of(data);
        ids << c.send(MessageType::PutBlock,
            BlockPayload { hashes.last(), BlockCodec::Raw, quint32(data.size()), data }.toCbor());
        if (i % 100 == 0)
            ops << put(QByteArray("f" + QByteArray::number(i)).constData(), data);
    }
    ids << c.send(MessageType::QueryBlocks, QueryBlocks { hashes.mid(0, kMaxHashesPerQuery) }.toCbor());
    ids << c.send(MessageType::Commit, Commit { ops }.toCbor());
    // The forged block is as big as the pool's: its error comes from there.
    const QByteArray forgedData = randomBlock(bigEvery > 0 ? 40 * 1024 : 1);
    const quint64 forged = c.send(MessageType::PutBlock,
        BlockPayload { ContentHash::of("a"), BlockCodec::Raw, quint32(forgedData.size()), forgedData }.toCbor());
    const QByteArray after = randomBlock(40 * 1024);
    c.send(MessageType::PutBlock,
        BlockPayload { ContentHash::of(after), BlockCodec::Raw, quint32(after.size()), after }.toCbor());
    // The test's client and the server share one thread, which QTest::qWaitFor() lets
    // sleep 10 ms between passes: megabytes take seconds here.
    const Envelope error = c.waitFor([forged](const Envelope &e) { return e.id == forged; }, 30000);
    QCOMPARE(c.errorCode(error), QStringLiteral("bad-request"));
    QTRY_VERIFY(!c.isConnected());
    QList<Envelope> replies = c.takeInbox();
    replies.removeIf([](const Envelope &e) { return e.type == MessageType::Advanced; }); // the commit's push
    QCOMPARE(replies.size(), ids.size());
    for (int i = 0; i < ids.size(); ++i) {
        QCOMPARE(replies.at(i).id, ids.at(i));
        if (i < hashes.size())
            QCOMPARE(replies.at(i).type, MessageType::Ok);
    }
    QCOMPARE(QueryBlocksReply::fromCbor(replies.at(hashes.size()).body)->missing.size(), 0);
    const auto committed = CommitReply::fromCbor(replies.at(ids.size() - 1).body);
    QVERIFY(committed);
    QCOMPARE(committed->results.size(), ops.size());
    for (const CommitResult &r : committed->results)
        QCOMPARE(r.status, CommitStatus::Applied);
    QCOMPARE(blockFiles(m_dir->path()), hashes.size()); // neither the forged one nor the one after it
}

void tst_Server::batchedBlocksUpAndDown_data()
{
    QTest::addColumn<int>("blockSize");
    QTest::newRow("checked on the event thread") << 40; // under kPoolVerifyFromBytes in all
    QTest::newRow("checked on the pool") << 3000;
}

// A PutBlocks of many blocks (some zstd) is answered with one Ok as soon as
// they are stored and proven, with no later request needed to flush their proofs; they
// count for QueryBlocks and Commit like single PutBlocks. A GetBlocks is answered in
// request order, hashes the account may not read (unknown, or another account's) listed
// as missing; past the reply's byte budget the rest is listed as later.
void tst_Server::batchedBlocksUpAndDown()
{
    QFETCH(int, blockSize);
    RawClient a(m_server->port());
    const QString account = a.login();
    BlockBatch batch;
    QList<QByteArray> datas;
    QList<CommitOp> ops;
    for (int i = 0; i < 300; ++i) {
        // Every third compressible (zstd on the wire, from 128 bytes), the rest random.
        const QByteArray data = i % 3 == 0 ? QByteArray::number(i).repeated(200) : randomBlock(blockSize + i % 7);
        const EncodedBlock encoded = encodeBlock(data);
        batch.blocks.append(BlockPayload { ContentHash::of(data), encoded.codec, quint32(data.size()), encoded.data });
        datas << data;
        ops << put(QByteArray("d/f" + QByteArray::number(i)).constData(), data);
    }
    QVERIFY(batch.blocks.first().codec == BlockCodec::Zstd);
    QCOMPARE(batch.dataBytes() >= ClientSession::kPoolVerifyFromBytes, blockSize > 100);
    const quint64 id = a.send(batch.toEnvelope(MessageType::PutBlocks, 0));
    const Envelope ok = a.waitFor([id](const Envelope &e) { return e.id == id; });
    QCOMPARE(ok.type, MessageType::Ok);
    QCOMPARE(blockFiles(m_dir->path()), 300);
    QList<ContentHash> hashes;
    for (const BlockPayload &b : std::as_const(batch.blocks))
        hashes << b.hash;
    QCOMPARE(
        QueryBlocksReply::fromCbor(a.call(MessageType::QueryBlocks, QueryBlocks { hashes }).body)->missing.size(), 0);
    const CommitReply committed = a.commit(ops);
    QCOMPARE(committed.results.size(), ops.size());
    for (const CommitResult &r : committed.results)
        QCOMPARE(r.status, CommitStatus::Applied);

    RawClient stranger(m_server->port());
    QVERIFY(!stranger.login().isEmpty());
    const QByteArray theirs = randomBlock(100);
    QVERIFY(stranger.putBlock(theirs));

    RawClient b(m_server->port());
    QCOMPARE(b.login(account), account);
    const quint64 servedBefore = m_server->blocksServed();
    const QList<ContentHash> asked { hashes[5], ContentHash::of("nobody's"), hashes[0], ContentHash::of(theirs),
        hashes[299] };
    const Envelope reply = b.call(MessageType::GetBlocks, GetBlocks { asked });
    QCOMPARE(reply.type, MessageType::BlocksData);
    auto got = BlockBatch::fromEnvelope(reply);
    QVERIFY2(got, qPrintable(got.errorMessage()));
    QCOMPARE(got->blocks.size(), 3);
    const QList<int> expected { 5, 0, 299 };
    for (int i = 0; i < 3; ++i) {
        QCOMPARE(got->blocks[i].hash, hashes[expected[i]]);
        QCOMPARE(*decodeAndVerify(got->blocks[i]), datas[expected[i]]);
    }
    QCOMPARE(got->missing, (QList<ContentHash> { ContentHash::of("nobody's"), ContentHash::of(theirs) }));
    QVERIFY(got->later.isEmpty());
    QCOMPARE(m_server->blocksServed(), servedBefore + 3);

    // Five 1 MiB blocks against a 4 MiB budget: the last is left for another request.
    BlockBatch bigOnes;
    QList<ContentHash> bigHashes;
    for (int i = 0; i < 5; ++i) {
        const QByteArray data = randomBlock(1024 * 1024);
        bigOnes.blocks.append(BlockPayload { ContentHash::of(data), BlockCodec::Raw, quint32(data.size()), data });
        bigHashes << ContentHash::of(data);
    }
    const quint64 bigId = a.send(bigOnes.toEnvelope(MessageType::PutBlocks, 0));
    QCOMPARE(a.waitFor([bigId](const Envelope &e) { return e.id == bigId; }, 20000).type, MessageType::Ok);
    got = BlockBatch::fromEnvelope(a.call(MessageType::GetBlocks, GetBlocks { bigHashes }));
    QVERIFY2(got, qPrintable(got.errorMessage()));
    QCOMPARE(got->blocks.size(), 4);
    QCOMPARE(got->later, QList<ContentHash> { bigHashes[4] });
    QVERIFY(got->missing.isEmpty());
    QVERIFY(a.isConnected() && b.isConnected());
}

void tst_Server::hostileBatchStoresNothing_data()
{
    QTest::addColumn<int>("blockSize");
    QTest::addColumn<QString>("lie");
    for (const int size : { 1000, 40 * 1024 }) {
        const QString where
            = size < ClientSession::kPoolVerifyFromBytes ? QStringLiteral(", event thread") : QStringLiteral(", pool");
        QTest::newRow(qPrintable(QStringLiteral("a wrong hash") + where)) << size << QStringLiteral("hash");
        QTest::newRow(qPrintable(QStringLiteral("zstd that does not decode") + where))
            << size << QStringLiteral("zstd");
        QTest::newRow(qPrintable(QStringLiteral("a wrong raw size") + where)) << size << QStringLiteral("size");
    }
}

// One bad block among good ones: the whole PutBlocks is refused (bad-request, the
// connection closed) and none of its blocks is stored or proven, nor anything after it.
void tst_Server::hostileBatchStoresNothing()
{
    QFETCH(int, blockSize);
    QFETCH(QString, lie);
    RawClient c(m_server->port());
    const QString account = c.login();
    BlockBatch batch;
    for (int i = 0; i < 5; ++i) {
        const QByteArray data = randomBlock(blockSize);
        batch.blocks.append(BlockPayload { ContentHash::of(data), BlockCodec::Raw, quint32(data.size()), data });
    }
    BlockPayload &bad = batch.blocks[3];
    if (lie == QStringLiteral("hash"))
        bad.hash = ContentHash::of("something else");
    else if (lie == QStringLiteral("zstd"))
        bad.codec = BlockCodec::Zstd;
    else
        bad.rawSize += 1; // raw: the decoder refuses the length
    const quint64 id = c.send(batch.toEnvelope(MessageType::PutBlocks, 0));
    const QByteArray after = randomBlock(200);
    c.send(BlockPayload { ContentHash::of(after), BlockCodec::Raw, quint32(after.size()), after }.toEnvelope(
        MessageType::PutBlock, 0));
    const Envelope error = c.waitFor([id](const Envelope &e) { return e.id == id || e.id == 0; }, 10000);
    QCOMPARE(c.errorCode(error), QStringLiteral("bad-request"));
    QTRY_VERIFY(!c.isConnected());
    QCOMPARE(blockFiles(m_dir->path()), 0);
    RawClient again(m_server->port());
    QCOMPARE(again.login(account), account);
    QList<ContentHash> hashes { ContentHash::of(after) };
    for (const BlockPayload &b : std::as_const(batch.blocks))
        hashes << b.hash;
    QCOMPARE(
        QueryBlocksReply::fromCbor(again.call(MessageType::QueryBlocks, QueryBlocks { hashes }).body)->missing.size(),
        hashes.size());
}

void tst_Server::statsAndMetrics()
{
    RawClient c(m_server->port());
    c.login();
    RawClient anonymous(m_server->port()); // connected, not logged in
    QVERIFY(c.putBlock(QByteArray(5000, 'z')));
    QTRY_COMPARE(m_server->sessionCount(), 2);
    const auto stats = Stats::fromCbor(c.call(MessageType::GetStats, QCborMap()).body);
    QVERIFY(stats.ok());
    QVERIFY(stats->bytesIn > 100);
    QVERIFY(stats->bytesOut > 0);
    QVERIFY(stats->serverBytesIn >= stats->bytesIn);
    QCOMPARE(stats->sessions, 2u);

    QVERIFY(m_server->metricsPort() != 0);
    auto scrape = [this](const QByteArray &request) {
        QTcpSocket http;
        http.connectToHost(QHostAddress::LocalHost, m_server->metricsPort());
        http.waitForConnected(5000);
        http.write(request);
        QByteArray response;
        (void)QTest::qWaitFor([&] {
            response += http.readAll();
            return http.state() == QAbstractSocket::UnconnectedState;
        });
        return response + http.readAll();
    };
    const QByteArray text = scrape("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
    QVERIFY(text.startsWith("HTTP/1.0 200 OK"));
    QVERIFY(text.contains("filesync_sessions_connected 2\n"));
    QVERIFY(text.contains("filesync_accounts_total 1\n"));
    QVERIFY(text.contains("filesync_commits_total 0\n"));
    QVERIFY(text.contains("\nfilesync_bytes_received_total "));
    QVERIFY(text.contains("\nfilesync_bytes_sent_total "));
    const QByteArray label = "{session=\"" + QByteArray::number(c.sessionId()) + "\"} ";
    QVERIFY(text.contains("filesync_session_bytes_received_total" + label));
    QVERIFY(text.contains("filesync_session_bytes_sent_total" + label));
    QVERIFY(!text.contains("{session=\"0\"}")); // connections not logged in have no series
    QVERIFY(scrape("GET / HTTP/1.0\r\n\r\n").startsWith("HTTP/1.0 404"));
    QVERIFY(scrape("POST /metrics HTTP/1.0\r\n\r\n").startsWith("HTTP/1.0 404"));
}

QTEST_GUILESS_MAIN(tst_Server)
#include "tst_server.moc"
