// The relay through the real SyncServer over real sockets: an Announce reaches the
// account's other sessions only, and a GetBlock{wait} is parked until the block is
// uploaded (bounded in count and time, dropped with its session).
#include "blockrelay.h"
#include "rawclient.h"
#include "syncserver.h"

#include <QTemporaryDir>
#include <QTest>

using namespace filesync;
using namespace filesync::protocol;
using namespace filesync::servertest;

namespace {

QByteArray bytes(char fill, int size = 1000)
{
    return QByteArray(size, fill);
}

Announce announceOf(const char *path, const QList<QByteArray> &blocks)
{
    Announce a;
    a.path = P(path);
    for (const QByteArray &b : blocks)
        a.blocks.append(BlockRef { ContentHash::of(b), quint32(b.size()) });
    a.size = totalSize(a.blocks);
    return a;
}

bool isAnnounced(const Envelope &e)
{
    return e.type == MessageType::Announced;
}

// Everything the server sent this client before it answered a Ping sent now (the server
// answers in order, so a push it made earlier is in the inbox by then).
QList<Envelope> drained(RawClient &c)
{
    const quint64 ping = c.send(MessageType::Ping, QCborMap());
    (void)c.waitFor([ping](const Envelope &e) { return e.id == ping && e.type == MessageType::Pong; });
    return c.takeInbox();
}

} // namespace

class tst_ServerRelay : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void init();
    void cleanup();

    void announceReachesOtherSessionsOnly();
    void parkedGetBlockIsServedWhenUploaded();
    void parkedGetBlocksAreBounded();
    void hostileAnnouncesAreErrors_data();
    void hostileAnnouncesAreErrors();

private:
    std::unique_ptr<QTemporaryDir> m_dir;
    std::unique_ptr<SyncServer> m_server;
};

void tst_ServerRelay::init()
{
    m_dir = std::make_unique<QTemporaryDir>();
    m_server = std::make_unique<SyncServer>(ServerConfig { m_dir->path(), QHostAddress::LocalHost, 0, {}, {} });
    QVERIFY(m_server->start().ok());
}

void tst_ServerRelay::cleanup()
{
    m_server.reset();
    m_dir.reset();
}

void tst_ServerRelay::announceReachesOtherSessionsOnly()
{
    RawClient a(m_server->port());
    const QString account = a.login(QString(), QStringLiteral("laptop"));
    QVERIFY(!account.isEmpty());
    RawClient b(m_server->port());
    QCOMPARE(b.login(account), account);
    RawClient stranger(m_server->port());
    QVERIFY(!stranger.login().isEmpty()); // another account

    const Announce announce = announceOf("big.bin", { bytes('a'), bytes('b') });
    QCOMPARE(a.call(MessageType::Announce, announce).type, MessageType::Ok);

    const Envelope relayed = b.waitFor(isAnnounced);
    QCOMPARE(relayed.type, MessageType::Announced);
    QCOMPARE(relayed.id, quint64(0));
    const auto got = Announce::fromCbor(relayed.body);
    QVERIFY(got.ok());
    QCOMPARE(got->path, announce.path);
    QCOMPARE(got->blocks, announce.blocks);
    QCOMPARE(got->origin, QStringLiteral("laptop"));
    QCOMPARE(m_server->relay()->announcesRelayed(), quint64(1));

    // Not to another account, or the announcer itself.
    for (RawClient *c : { &stranger, &a }) {
        const QList<Envelope> inbox = drained(*c);
        QVERIFY(std::none_of(inbox.cbegin(), inbox.cend(), isAnnounced));
    }
    // Nothing was committed: the account's feed is as empty as before.
    QCOMPARE(b.changes(0).entries.size(), 0);
}

void tst_ServerRelay::parkedGetBlockIsServedWhenUploaded()
{
    RawClient a(m_server->port());
    const QString account = a.login();
    RawClient b(m_server->port());
    QCOMPARE(b.login(account), account);
    const QByteArray data = bytes('x', 4000);

    // Without `wait`: not-found.
    QCOMPARE(b.errorCode(b.call(MessageType::GetBlock, GetBlock { ContentHash::of(data), false })),
        QLatin1String(errors::kNotFound));
    // With it: parked (a later Ping is answered first) ...
    const quint64 waiting = b.send(MessageType::GetBlock, GetBlock { ContentHash::of(data), true }.toCbor());
    QList<Envelope> early = drained(b);
    QVERIFY(std::none_of(early.cbegin(), early.cend(), [waiting](const Envelope &e) { return e.id == waiting; }));
    QCOMPARE(m_server->relay()->parkedCount(), 1);

    // ... until another session of the account uploads the block.
    QVERIFY(a.putBlock(data));
    const Envelope served = b.waitFor([waiting](const Envelope &e) { return e.id == waiting; });
    QCOMPARE(served.type, MessageType::BlockData);
    auto payload = BlockPayload::fromEnvelope(served);
    QVERIFY(payload.ok());
    QCOMPARE(*decodeAndVerify(*payload), data);
    QCOMPARE(m_server->relay()->parkedCount(), 0);
    QCOMPARE(m_server->waitBlocksServed(), quint64(1));
    QCOMPARE(m_server->blocksServed(), quint64(0));

    // An upload by another account does not serve it (nor prove it for this one).
    RawClient other(m_server->port());
    QVERIFY(!other.login().isEmpty());
    const QByteArray secret = bytes('s', 3000);
    const quint64 parked = b.send(MessageType::GetBlock, GetBlock { ContentHash::of(secret), true }.toCbor());
    QVERIFY(other.putBlock(secret));
    early = drained(b);
    QVERIFY(std::none_of(early.cbegin(), early.cend(), [parked](const Envelope &e) { return e.id == parked; }));
    QCOMPARE(m_server->relay()->parkedCount(), 1);
}

void tst_ServerRelay::parkedGetBlocksAreBounded()
{
    RawClient a(m_server->port());
    const QString account = a.login();
    m_server->relay()->setParkTimeout(200);

    // A wait runs out: not-yet.
    {
        RawClient b(m_server->port());
        QCOMPARE(b.login(account), account);
        const Envelope reply = b.call(MessageType::GetBlock, GetBlock { ContentHash::of("never"), true });
        QCOMPARE(b.errorCode(reply), QLatin1String(errors::kNotYet));
        QVERIFY(b.isConnected());
    }
    // At most kMaxParkedPerSession at once; the next is answered not-yet at once.
    m_server->relay()->setParkTimeout(60 * 1000);
    auto b = std::make_unique<RawClient>(m_server->port());
    QCOMPARE(b->login(account), account);
    for (int i = 0; i < BlockRelay::kMaxParkedPerSession; ++i)
        b->send(MessageType::GetBlock, GetBlock { ContentHash::of(QByteArray::number(i)), true }.toCbor());
    const Envelope over = b->call(MessageType::GetBlock, GetBlock { ContentHash::of("one more"), true });
    QCOMPARE(b->errorCode(over), QLatin1String(errors::kNotYet));
    QCOMPARE(m_server->relay()->parkedCount(), BlockRelay::kMaxParkedPerSession);
    // A session that ends takes its parked requests with it.
    b.reset();
    QTRY_COMPARE(m_server->relay()->parkedCount(), 0);
}

void tst_ServerRelay::hostileAnnouncesAreErrors_data()
{
    QTest::addColumn<QCborMap>("body");
    const QCborArray one { QCborArray { ContentHash::of("abc").bytes(), 3 } };
    QTest::newRow("dot-dot path") << QCborMap { { QStringLiteral("path"), QStringLiteral("../x") },
        { QStringLiteral("size"), 3 }, { QStringLiteral("blocks"), one } };
    QTest::newRow("our metadata dir") << QCborMap { { QStringLiteral("path"), QStringLiteral(".filesync/tmp/x") },
        { QStringLiteral("size"), 3 }, { QStringLiteral("blocks"), one } };
    QTest::newRow("size lies") << QCborMap { { QStringLiteral("path"), QStringLiteral("x") },
        { QStringLiteral("size"), 1 << 30 }, { QStringLiteral("blocks"), one } };
    QCborArray huge;
    for (int i = 0; i <= kMaxBlocksPerEntry; ++i)
        huge.append(QCborArray { ContentHash::of("abc").bytes(), 3 });
    QTest::newRow("too many blocks") << QCborMap { { QStringLiteral("path"), QStringLiteral("x") },
        { QStringLiteral("size"), qint64(3) * huge.size() }, { QStringLiteral("blocks"), huge } };
}

void tst_ServerRelay::hostileAnnouncesAreErrors()
{
    QFETCH(QCborMap, body);
    RawClient a(m_server->port());
    const QString account = a.login();
    RawClient b(m_server->port());
    QCOMPARE(b.login(account), account);
    const Envelope reply = a.call(MessageType::Announce, body);
    QCOMPARE(a.errorCode(reply), QLatin1String(errors::kBadRequest));
    QTRY_VERIFY(!a.isConnected());
    const QList<Envelope> inbox = drained(b);
    QVERIFY(std::none_of(inbox.cbegin(), inbox.cend(), isAnnounced));
    QCOMPARE(m_server->relay()->announcesRelayed(), quint64(0));
}

QTEST_GUILESS_MAIN(tst_ServerRelay)
#include "tst_server_relay.moc"
