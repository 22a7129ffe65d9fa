// What one account can make the server hold or spend (docs/operations.md, "Budgets"):
// each attack is run against the real SyncServer over real sockets, and the test checks
// that the server refuses or closes, that its counters stay within the budget, and that
// another account is served meanwhile.
#include "clientsession.h"
#include "rawclient.h"
#include "syncserver.h"

#include <QCborArray>
#include <QDeadlineTimer>
#include <QRandomGenerator>
#include <QScopeGuard>
#include <QTemporaryDir>
#include <QTest>
#include <QTimer>
#include <QtEndian>

#include <algorithm>
#include <csignal>
#include <sys/resource.h>
#include <unistd.h>

using namespace filesync;
using namespace filesync::protocol;
using namespace filesync::servertest;

namespace {

QStringList g_logLines;
QtMessageHandler g_previousHandler = nullptr;
void collectLog(QtMsgType type, const QMessageLogContext &context, const QString &message)
{
    g_logLines << message;
    g_previousHandler(type, context, message);
}

QByteArray frame(const QByteArray &payload)
{
    QByteArray bytes(4, Qt::Uninitialized);
    qToBigEndian(quint32(payload.size()), bytes.data());
    return bytes + payload;
}

// A block of zeros: a few hundred bytes with zstd, kMaxBlockSize decoded.
BlockPayload zeroBlock()
{
    const QByteArray zeros(int(kMaxBlockSize), '\0');
    const EncodedBlock encoded = encodeBlock(zeros);
    return BlockPayload { ContentHash::of(zeros), encoded.codec, quint32(zeros.size()), encoded.data };
}

// The reason of the Error{code} that ends a connection, or empty.
QString closedWith(RawClient &c, const char *code, int timeoutMs = 10000)
{
    const Envelope e = c.waitFor([](const Envelope &e) { return e.type == MessageType::ErrorReply; }, timeoutMs);
    if (c.errorCode(e) != QLatin1String(code))
        return QString();
    if (!QTest::qWaitFor([&c] { return !c.isConnected(); }, timeoutMs))
        return QString();
    return ErrorReply::fromCbor(e.body)->message;
}

} // namespace

class tst_ServerBudgets : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void init();
    void cleanup();
    void uploadDecodingPastTheRequestBudgetIsRefused();
    void pipelinedUploadsDecodeWithinBudget();
    void unreadRepliesStopReadingThenClose();
    void unreadRepliesOfAllConnectionsAreBounded();
    void spentReceiveBudgetHoldsBackOnlyBigHolders_data();
    void spentReceiveBudgetHoldsBackOnlyBigHolders();
    void handshakeFramesAreCapped_data();
    void handshakeFramesAreCapped();
    void deepOrManyContainersAreRefusedUndecoded_data();
    void deepOrManyContainersAreRefusedUndecoded();
    void stalledFramesAndSilentConnectionsAreClosed();
    void acceptBacksOffWhenOutOfDescriptors();
    void loginWorksWhenNothingCanBeWritten();
    void commitsWriteABoundedNumberOfRows();

private:
    void restart(const ServerBudgets &budgets);
    // Another account, logged in before the attack: its Ping answered within `ms`.
    bool otherServed(int ms = 5000);

    std::unique_ptr<QTemporaryDir> m_dir;
    std::unique_ptr<SyncServer> m_server;
    std::unique_ptr<RawClient> m_other;
    QTimer m_keepAlive; // m_other pings as our clients do when quiet
};

void tst_ServerBudgets::init()
{
    restart(ServerBudgets {});
}

void tst_ServerBudgets::cleanup()
{
    m_keepAlive.stop();
    m_other.reset();
    m_server.reset();
}

void tst_ServerBudgets::restart(const ServerBudgets &budgets)
{
    m_keepAlive.stop();
    m_other.reset();
    m_server.reset();
    m_dir = std::make_unique<QTemporaryDir>();
    m_server = std::make_unique<SyncServer>(ServerConfig { m_dir->path(), QHostAddress::LocalHost, 0, {}, budgets });
    QVERIFY(m_server->start().ok());
    m_other = std::make_unique<RawClient>(m_server->port());
    QVERIFY(!m_other->login().isEmpty());
    m_keepAlive.disconnect();
    connect(&m_keepAlive, &QTimer::timeout, this, [this] { m_other->send(MessageType::Ping, QCborMap()); });
    m_keepAlive.start(qMin(1000, budgets.idleTimeoutMs / 4));
}

bool tst_ServerBudgets::otherServed(int ms)
{
    const quint64 id = m_other->send(MessageType::Ping, QCborMap());
    return m_other->waitFor([id](const Envelope &e) { return e.id == id; }, ms).type == MessageType::Pong;
}

// (a) Blocks whose headers declare more than a request may decode to are refused before
// one is decoded, however few bytes they take on the wire.
void tst_ServerBudgets::uploadDecodingPastTheRequestBudgetIsRefused()
{
    RawClient attacker(m_server->port());
    QVERIFY(!attacker.login().isEmpty());
    const BlockPayload block = zeroBlock();
    QCOMPARE(block.codec, BlockCodec::Zstd);
    QVERIFY(block.data.size() < 4096);
    BlockBatch batch;
    for (int i = 0; i < 64; ++i)
        batch.blocks.append(block);
    attacker.send(batch.toEnvelope(MessageType::PutBlocks, 0));
    const QString reason = closedWith(attacker, errors::kBadRequest);
    QVERIFY2(reason.contains(QStringLiteral("decode to at most")), qPrintable(reason));
    QCOMPARE(m_server->peakDecodedBytes(), 0);
    QVERIFY(otherServed());
}

// (a) Many requests each within the request budget are decoded a connection's budget at a
// time, and all connections' within the server's: every one is served in the end.
void tst_ServerBudgets::pipelinedUploadsDecodeWithinBudget()
{
    ServerBudgets budgets;
    budgets.decodedBytesPerConnection = kMaxBlockSize;
    budgets.decodedBytes = kMaxBlockSize + kMaxBlockSize / 2;
    restart(budgets);
    const BlockPayload block = zeroBlock();
    RawClient a(m_server->port());
    RawClient b(m_server->port());
    QVERIFY(!a.login().isEmpty());
    QVERIFY(!b.login().isEmpty());
    QList<quint64> ids;
    for (int i = 0; i < 12; ++i) {
        ids << a.send(block.toEnvelope(MessageType::PutBlock, 0));
        ids << b.send(block.toEnvelope(MessageType::PutBlock, 0));
    }
    QVERIFY(otherServed(20000));
    for (int i = 0; i < ids.size(); ++i) {
        RawClient &c = i % 2 ? b : a;
        const quint64 id = ids.at(i);
        QCOMPARE(c.waitFor([id](const Envelope &e) { return e.id == id; }, 30000).type, MessageType::Ok);
    }
    QVERIFY(m_server->peakDecodedBytes() >= kMaxBlockSize);
    QVERIFY2(m_server->peakDecodedBytes() <= budgets.decodedBytes,
        qPrintable(QString::number(m_server->peakDecodedBytes())));
}

// (b) A peer that asks far more than it reads is not read any further (its requests wait
// in the kernel, not decoded in the server), then closed when its replies do not move.
void tst_ServerBudgets::unreadRepliesStopReadingThenClose()
{
    ServerBudgets budgets;
    budgets.idleTimeoutMs = 5000; // longer than the owner's upload takes on a loaded host
    restart(budgets);
    QByteArray big(int(kMaxBlockSize), Qt::Uninitialized); // incompressible: stored and sent raw
    QRandomGenerator(7).fillRange(reinterpret_cast<quint32 *>(big.data()), big.size() / 4);
    RawClient owner(m_server->port());
    const QString id = owner.login();
    QVERIFY(owner.putBlock(big));

    QTcpSocket greedy;
    greedy.setReadBufferSize(64 * 1024);
    greedy.connectToHost(QHostAddress::LocalHost, m_server->port());
    QVERIFY(greedy.waitForConnected(5000));
    quint64 nextId = 1;
    greedy.write(encodeFrame({ MessageType::Hello, nextId++, Hello {}.toCbor() }));
    greedy.write(encodeFrame({ MessageType::Login, nextId++, Login { id, {} }.toCbor() }));
    for (int i = 0; i < 8; ++i) // 128 MiB of replies
        greedy.write(encodeFrame({ MessageType::GetBlock, nextId++, GetBlock { ContentHash::of(big) }.toCbor() }));
    // 40 requests of 900 KB each behind them.
    QCborMap padded = GetChanges { 0, 10 }.toCbor();
    padded.insert(QLatin1String("pad"), QByteArray(900 * 1024, 'p'));
    for (int i = 0; i < 40; ++i)
        greedy.write(encodeFrame({ MessageType::GetChanges, nextId++, padded }));

    // The owner is served while the greedy peer waits; the greedy one is cut off with a
    // reason once its replies stop moving, most of its requests never read.
    QVERIFY(owner.call(MessageType::Ping, QCborMap()).type == MessageType::Pong);
    QVERIFY(otherServed());
    g_logLines.clear();
    g_previousHandler = qInstallMessageHandler(collectLog);
    const bool closed = QTest::qWaitFor([&] { return greedy.state() == QAbstractSocket::UnconnectedState; }, 30000);
    qInstallMessageHandler(g_previousHandler);
    QVERIFY(closed);
    QVERIFY2(
        g_logLines.filter(QStringLiteral("replies were not read")).size() == 1, qPrintable(g_logLines.join(u'\n')));
    const QByteArray metrics = m_server->metricsText();
    const qsizetype at = metrics.indexOf("\nfilesync_bytes_received_total ") + 32;
    const qint64 received = metrics.mid(at, metrics.indexOf('\n', at) - at).toLongLong();
    QVERIFY2(received < kMaxBlockSize + 10 * 1024 * 1024, // of more than 50 MiB sent
        qPrintable(QString::number(received)));
    // The owner's block frame, and a socket's read buffer and a read on each connection.
    QVERIFY2(m_server->peakBufferedBytes() <= kMaxBlockFrame + 3 * (ClientSession::kLoggedInReadBuffer + 256 * 1024),
        qPrintable(QString::number(m_server->peakBufferedBytes())));
    QVERIFY(otherServed());
}

// (b) Replies left unread on many connections: their sum is bounded by the server's
// budget. Once it is spent, a connection holding more than its share of it is not read
// any further, while one that reads its replies (the owner) and another account are
// served; past the overdraft, the connections holding the most are closed.
void tst_ServerBudgets::unreadRepliesOfAllConnectionsAreBounded()
{
    ServerBudgets budgets;
    budgets.replyBytes = 48 * 1024 * 1024;
    budgets.overdraftBytes = 16 * 1024 * 1024;
    restart(budgets);
    QByteArray big(int(kMaxBlockSize), Qt::Uninitialized); // incompressible: stored and sent raw
    QRandomGenerator(7).fillRange(reinterpret_cast<quint32 *>(big.data()), big.size() / 4);
    const QByteArray small = big.left(256 * 1024) + "small";
    RawClient owner(m_server->port());
    const QString id = owner.login();
    QVERIFY(owner.putBlock(big));
    QVERIFY(owner.putBlock(small));

    g_logLines.clear();
    g_previousHandler = qInstallMessageHandler(collectLog);
    auto restoreHandler = qScopeGuard([] { qInstallMessageHandler(g_previousHandler); });
    std::vector<std::unique_ptr<QTcpSocket>> greedy;
    for (int i = 0; i < 4; ++i) {
        auto &g = greedy.emplace_back(std::make_unique<QTcpSocket>());
        g->setReadBufferSize(64 * 1024);
        g->connectToHost(QHostAddress::LocalHost, m_server->port());
        QVERIFY(g->waitForConnected(5000));
        quint64 nextId = 1;
        g->write(encodeFrame({ MessageType::Hello, nextId++, Hello {}.toCbor() }));
        g->write(encodeFrame({ MessageType::Login, nextId++, Login { id, {} }.toCbor() }));
        for (int j = 0; j < 8; ++j) // 128 MiB of replies each
            g->write(encodeFrame({ MessageType::GetBlock, nextId++, GetBlock { ContentHash::of(big) }.toCbor() }));
    }
    const auto closed = [&greedy] {
        return std::count_if(greedy.cbegin(), greedy.cend(),
            [](const auto &g) { return g->state() == QAbstractSocket::UnconnectedState; });
    };
    QTRY_VERIFY_WITH_TIMEOUT(closed() >= 1, 20000);
    // The owner reads what it asks for: served while the others' replies wait.
    for (int i = 0; i < 5; ++i) {
        const Envelope reply = owner.call(MessageType::GetBlock, GetBlock { ContentHash::of(small) });
        QCOMPARE(reply.type, MessageType::BlockData);
    }
    QVERIFY(otherServed());
    restoreHandler.dismiss();
    qInstallMessageHandler(g_previousHandler);
    QVERIFY2(g_logLines.filter(QStringLiteral("of replies not read while all connections hold")).size() >= 1,
        qPrintable(g_logLines.join(u'\n')));
    // The budget, its overdraft, and what was answered in the pass that crossed it.
    QVERIFY2(m_server->peakReplyBytes() <= budgets.replyBytes + budgets.overdraftBytes + 2 * kMaxBlockFrame,
        qPrintable(QString::number(m_server->peakReplyBytes())));
    QVERIFY(owner.isConnected());
}

void tst_ServerBudgets::spentReceiveBudgetHoldsBackOnlyBigHolders_data()
{
    QTest::addColumn<qint64>("overdraft");
    QTest::addColumn<bool>("shed");
    QTest::newRow("spent: big holders wait") << qint64(64 * 1024 * 1024) << false;
    QTest::newRow("overdrawn: big holders closed") << qint64(1024 * 1024) << true;
}

// (d) Bytes received and not taken, all connections: once their budget is spent, the
// connections that hold more than their share read nothing more, but one that holds
// little (another account's Ping) is still read and served; past the overdraft the
// biggest holders are closed.
void tst_ServerBudgets::spentReceiveBudgetHoldsBackOnlyBigHolders()
{
    QFETCH(qint64, overdraft);
    QFETCH(bool, shed);
    ServerBudgets budgets;
    budgets.bufferedBytes = 8 * 1024 * 1024;
    budgets.overdraftBytes = overdraft;
    restart(budgets);
    g_logLines.clear();
    g_previousHandler = qInstallMessageHandler(collectLog);
    auto restoreHandler = qScopeGuard([] { qInstallMessageHandler(g_previousHandler); });
    std::vector<std::unique_ptr<RawClient>> holders;
    QByteArray bigFrame(4, Qt::Uninitialized);
    qToBigEndian(quint32(kMaxBlockFrame), bigFrame.data());
    for (int i = 0; i < 6; ++i) { // 4 MiB each of a block frame that never ends
        auto &c = holders.emplace_back(std::make_unique<RawClient>(m_server->port()));
        QVERIFY(!c->login().isEmpty());
        c->channel().socket()->write(bigFrame + QByteArray("\x83\x0a\x01", 3) + QByteArray(4 * 1024 * 1024, 'x'));
    }
    QTRY_VERIFY_WITH_TIMEOUT(m_server->peakBufferedBytes() >= budgets.bufferedBytes, 10000);
    QVERIFY(otherServed());
    QVERIFY(otherServed());
    const auto closed = [&holders] {
        return std::count_if(holders.cbegin(), holders.cend(), [](const auto &c) { return !c->isConnected(); });
    };
    if (shed)
        QTRY_VERIFY_WITH_TIMEOUT(closed() >= 1, 10000);
    else
        QCOMPARE(closed(), 0);
    restoreHandler.dismiss();
    qInstallMessageHandler(g_previousHandler);
    QCOMPARE(g_logLines.filter(QStringLiteral("of requests not taken")).isEmpty(), !shed);
    QVERIFY2(m_server->peakBufferedBytes()
            <= budgets.bufferedBytes + overdraft + 6 * (ClientSession::kFairShare + 256 * 1024),
        qPrintable(QString::number(m_server->peakBufferedBytes())));
}

void tst_ServerBudgets::handshakeFramesAreCapped_data()
{
    QTest::addColumn<bool>("hello");
    QTest::addColumn<QByteArray>("bytes");
    QTest::addColumn<QString>("reason");
    QTest::addColumn<QString>("code");
    QByteArray blockHeader(4, Qt::Uninitialized);
    qToBigEndian(quint32(kMaxBlockFrame), blockHeader.data());
    // A PutBlocks body of 8 million empty arrays would follow.
    QTest::newRow("block frame before Hello")
        << false << blockHeader + QByteArray("\x83\x18\x18\x01", 4) + QByteArray(200 * 1024, '\x80')
        << QStringLiteral("before login exceeds") << QStringLiteral("bad-request");
    QTest::newRow("block frame after Hello")
        << true << blockHeader + QByteArray("\x83\x18\x18\x01", 4) + QByteArray(200 * 1024, '\x80')
        << QStringLiteral("before login exceeds") << QStringLiteral("bad-request");
    QTest::newRow("small Commit before login") << true << encodeFrame({ MessageType::Commit, 5, Commit {}.toCbor() })
                                               << QStringLiteral("log in first") << QStringLiteral("not-authenticated");
    QCborMap bigHello = Hello { kProtocolVersion, {} }.toCbor();
    bigHello.insert(QLatin1String("pad"), QByteArray(int(kMaxHandshakeFrame), 'x'));
    QTest::newRow("oversized Hello") << false << encodeFrame({ MessageType::Hello, 1, bigHello })
                                     << QStringLiteral("before login exceeds") << QStringLiteral("bad-request");
}

// (c) Before login only the handshake's small frames are read: anything else is refused
// from its length prefix and type, never decoded.
void tst_ServerBudgets::handshakeFramesAreCapped()
{
    QFETCH(bool, hello);
    QFETCH(QByteArray, bytes);
    QFETCH(QString, reason);
    QFETCH(QString, code);
    RawClient c(m_server->port());
    if (hello)
        QCOMPARE(c.call(MessageType::Hello, Hello { kProtocolVersion, {} }).type, MessageType::Welcome);
    c.channel().socket()->write(bytes);
    const QString message = closedWith(c, qPrintable(code));
    QVERIFY2(message.contains(reason), qPrintable(message));
    QVERIFY2(m_server->peakBufferedBytes() <= ClientSession::kSocketReadBuffer + 256 * 1024 + kMaxHandshakeFrame,
        qPrintable(QString::number(m_server->peakBufferedBytes())));
    QVERIFY(otherServed());
}

void tst_ServerBudgets::deepOrManyContainersAreRefusedUndecoded_data()
{
    QTest::addColumn<QByteArray>("payload");
    QTest::addColumn<QString>("reason");
    // [PutBlocks, 1, {"blocks": [[[[...]]]]}]: nested a million deep.
    const QByteArray head = QByteArray("\x83\x18\x18\x01\xa1\x66", 6) + "blocks";
    QTest::newRow("deep block frame") << head + QByteArray(1000 * 1000, '\x81') + '\x80' << QStringLiteral("nest");
    // [PutBlocks, 1, {"blocks": [[], [], ...]}]: 2 million empty arrays.
    QByteArray count(5, '\x9a');
    qToBigEndian(quint32(2000 * 1000), count.data() + 1);
    QTest::newRow("wide block frame") << head + count + QByteArray(2000 * 1000, '\x80')
                                      << QStringLiteral("arrays and maps");
    // [GetChanges, 1, {"x": [[], [], ...]}]: a metadata frame of 900,000 empty arrays.
    qToBigEndian(quint32(900 * 1000), count.data() + 1);
    QTest::newRow("wide metadata frame") << QByteArray("\x83\x06\x01\xa1\x61x", 6) + count
            + QByteArray(900 * 1000, '\x80')
                                         << QStringLiteral("arrays and maps");
}

// (c) After login too, a frame is decoded only if its CBOR holds few enough containers,
// nested shallowly enough: a pass over it says so before any value is built.
void tst_ServerBudgets::deepOrManyContainersAreRefusedUndecoded()
{
    QFETCH(QByteArray, payload);
    QFETCH(QString, reason);
    RawClient c(m_server->port());
    QVERIFY(!c.login().isEmpty());
    c.channel().socket()->write(frame(payload));
    const QString message = closedWith(c, errors::kBadRequest);
    QVERIFY2(message.contains(reason), qPrintable(message));
    QVERIFY(otherServed());
}

// (d) After login: a frame's header and the whole frame must arrive in time, and a
// connection must say something every so often; a client that pings stays.
void tst_ServerBudgets::stalledFramesAndSilentConnectionsAreClosed()
{
    ServerBudgets budgets;
    budgets.headerTimeoutMs = 300;
    budgets.frameTimeoutMs = 600;
    budgets.idleTimeoutMs = 900;
    restart(budgets);
    RawClient header(m_server->port());
    RawClient partial(m_server->port());
    RawClient silent(m_server->port());
    RawClient pinger(m_server->port());
    for (RawClient *c : { &header, &partial, &silent, &pinger })
        QVERIFY(!c->login().isEmpty());
    header.channel().socket()->write(QByteArray("\x00\x01", 2));
    QByteArray bigFrame(4, Qt::Uninitialized);
    qToBigEndian(quint32(kMaxBlockFrame), bigFrame.data());
    partial.channel().socket()->write(bigFrame + QByteArray("\x83\x0a\x01", 3) + QByteArray(64 * 1024, 'x'));

    QDeadlineTimer pinging(3 * budgets.idleTimeoutMs);
    while (!pinging.hasExpired()) { // a healthy client's keep-alive, much faster than the timeout
        QCOMPARE(pinger.call(MessageType::Ping, QCborMap()).type, MessageType::Pong);
        QTest::qWait(budgets.idleTimeoutMs / 4);
    }
    QVERIFY(pinger.isConnected());
    QVERIFY(otherServed());
    QString m = closedWith(header, errors::kTimeout);
    QVERIFY2(m.contains(QStringLiteral("header")), qPrintable(m));
    m = closedWith(partial, errors::kTimeout);
    QVERIFY2(m.contains(QStringLiteral("a frame did not arrive")), qPrintable(m));
    m = closedWith(silent, errors::kTimeout);
    QVERIFY2(m.contains(QStringLiteral("nothing received")), qPrintable(m));
    QTRY_COMPARE(m_server->sessionCount(), 2); // m_other (pinged above) and pinger
}

// (f) Out of file descriptors, accept() is paused and retried after a while (one log
// line), not retried at once for ever; the connections waiting get in once it can.
void tst_ServerBudgets::acceptBacksOffWhenOutOfDescriptors()
{
    ServerBudgets budgets;
    budgets.acceptBackoffMs = 100;
    restart(budgets);
    rlimit original {};
    QCOMPARE(getrlimit(RLIMIT_NOFILE, &original), 0);
    // Clients connect (the kernel completes the handshake) before the server accepts.
    std::vector<std::unique_ptr<QTcpSocket>> clients;
    for (int i = 0; i < 5; ++i) {
        clients.push_back(std::make_unique<QTcpSocket>());
        clients.back()->connectToHost(QHostAddress::LocalHost, m_server->port());
        QVERIFY(clients.back()->waitForConnected(5000));
    }
    // The lowest descriptor free now is the last one the process may open.
    const int probe = ::dup(0);
    QVERIFY(probe >= 0);
    ::close(probe);
    rlimit tight = original;
    tight.rlim_cur = rlim_t(probe);
    QCOMPARE(setrlimit(RLIMIT_NOFILE, &tight), 0);
    g_logLines.clear();
    g_previousHandler = qInstallMessageHandler(collectLog);
    const auto logged = [] {
        return std::count_if(g_logLines.cbegin(), g_logLines.cend(),
            [](const QString &l) { return l.contains(QStringLiteral("cannot accept")); });
    };
    const bool starved = QTest::qWaitFor([&] { return logged() > 0; }, 5000);
    QTest::qWait(10 * budgets.acceptBackoffMs); // several back-offs: still one line
    const auto lines = logged();
    setrlimit(RLIMIT_NOFILE, &original);
    qInstallMessageHandler(g_previousHandler);
    QVERIFY(starved);
    QCOMPARE(lines, 1);
    QTRY_COMPARE_WITH_TIMEOUT(m_server->sessionCount(), 1 + int(clients.size()), 10000);
    QVERIFY(otherServed());
}

// (g) Logging in writes nothing: it works when the database cannot be written (a full
// disk), while a commit says why it fails.
void tst_ServerBudgets::loginWorksWhenNothingCanBeWritten()
{
    const QString id = m_other->login(); // an account made while writes work
    RawClient first(m_server->port());
    const QString account = first.login();
    QVERIFY(!account.isEmpty());
    std::signal(SIGXFSZ, SIG_IGN); // a write past the limit fails with EFBIG instead
    rlimit original {};
    QCOMPARE(getrlimit(RLIMIT_FSIZE, &original), 0);
    rlimit full = original;
    full.rlim_cur = 1;
    QCOMPARE(setrlimit(RLIMIT_FSIZE, &full), 0);
    RawClient later(m_server->port());
    const QString loggedIn = later.login(account);
    CommitReply reply;
    const Envelope commit = later.call(MessageType::Commit, Commit { { dirOp(CommitOpKind::Put, "d") } });
    setrlimit(RLIMIT_FSIZE, &original);
    QCOMPARE(loggedIn, account);
    QCOMPARE(later.errorCode(commit), QLatin1String(errors::kInternal));
    QVERIFY(later.isConnected());
    QCOMPARE(later.commit({ dirOp(CommitOpKind::Put, "d") }).results.first().status, CommitStatus::Applied);
}

// (e) A Commit writes at most kMaxRowsPerCommit rows: a folder move past it is Rejected
// (and changes nothing) unless it is the commit's first op; the ops after it go on.
void tst_ServerBudgets::commitsWriteABoundedNumberOfRows()
{
    RawClient c(m_server->port());
    QVERIFY(!c.login().isEmpty());
    const int files = int(kMaxRowsPerCommit * 3 / 10); // one move of them: 60 % of the budget
    QList<CommitOp> ops;
    for (int i = 0; i < files; ++i) {
        ops.append(put(qPrintable(QStringLiteral("big/f%1").arg(i)), QByteArray()));
        if (ops.size() == kMaxOpsPerCommit || i == files - 1) {
            const CommitReply reply = c.commit(std::exchange(ops, {}));
            QVERIFY(!reply.results.isEmpty());
            QCOMPARE(reply.results.last().status, CommitStatus::Applied);
        }
    }
    const Changes first = c.changes(0, 1);
    const quint64 bigVersion = first.entries.first().version; // "big" itself, made first
    // The first move writes big's tombstone, then b1: b1 is at head + 2.
    const CommitReply reply = c.commit({ move("big", "b1", bigVersion, EntryKind::Directory),
        move("b1", "b2", first.head + 2, EntryKind::Directory), put("small", QByteArray()) });
    QCOMPARE(reply.results.size(), 3);
    QCOMPARE(reply.results.at(0).status, CommitStatus::Applied); // first: past the budget alone
    QCOMPARE(reply.results.at(1).status, CommitStatus::Rejected);
    QVERIFY2(reply.results.at(1).reason.contains(QStringLiteral("commit of its own")),
        qPrintable(reply.results.at(1).reason));
    QCOMPARE(reply.results.at(2).status, CommitStatus::Applied);
    QVERIFY(otherServed());
    // Alone, the same move is applied.
    const CommitReply alone = c.commit({ move("b1", "b2", reply.results.at(0).version, EntryKind::Directory) });
    QCOMPARE(alone.results.first().status, CommitStatus::Applied);
}

QTEST_GUILESS_MAIN(tst_ServerBudgets)
#include "tst_server_budgets.moc"
