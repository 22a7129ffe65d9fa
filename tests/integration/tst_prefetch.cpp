// Prefetch between real engines through the real server core on 127.0.0.1: a computer
// fetches an announced file while the other still uploads it and adopts that temp file
// when the commit lands; an announce that never commits, or commits other content,
// leaves nothing behind.
#include "blockrelay.h"
#include "enginepools.h"
#include "journal.h"
#include "prefetcher.h"
#include "rawclient.h"
#include "serverconnection.h"
#include "synctestmacros.h"
#include "testcluster.h"
#include "testtree.h"

#include <QDir>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>

using namespace filesync;
using namespace filesync::test;
using namespace filesync::protocol;

namespace {

QStringList tempFiles(const QString &root)
{
    return QDir(Journal::metadataDir(root) + QStringLiteral("/tmp")).entryList(QDir::Files | QDir::Hidden);
}

BlockRef refOf(const QByteArray &data)
{
    return BlockRef { ContentHash::of(data), quint32(data.size()) };
}

} // namespace

class tst_Prefetch : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void init();
    void cleanup();

    void prefetchIsAdoptedAtTheCommit();
    void announcesThatDoNotCommitLeaveNothing();
    void prefetchesAreBoundedAndExpire();

private:
    bool startServer();
    std::unique_ptr<QTemporaryDir> m_dir;
    std::unique_ptr<SyncServer> m_server;
};

void tst_Prefetch::init()
{
    m_dir = std::make_unique<QTemporaryDir>();
}

void tst_Prefetch::cleanup()
{
    m_server.reset();
    m_dir.reset();
}

bool tst_Prefetch::startServer()
{
    m_server = std::make_unique<SyncServer>(ServerConfig { m_dir->path(), QHostAddress::LocalHost, 0, {}, {} });
    return m_server->start().ok();
}

void tst_Prefetch::prefetchIsAdoptedAtTheCommit()
{
    QVERIFY(startServer());
    TestClient a(QStringLiteral("alpha"), m_server->port());
    QVERIFY(a.start());
    QTRY_COMPARE_WITH_TIMEOUT(a.engine()->state(), EngineState::Idle, 60000);
    TestClient b(QStringLiteral("beta"), m_server->port());
    QVERIFY(b.start(a.accountId()));
    QTRY_COMPARE_WITH_TIMEOUT(b.engine()->state(), EngineState::Idle, 60000);
    const quint64 plainBefore = m_server->blocksServed();

    // Big enough to be announced, small enough that B asks for all of it at once: its
    // download finds every block in the adopted temp file, or on its way into it.
    writeFile(a.root(), QStringLiteral("video/big.bin"), randomBytes(24 * 1024 * 1024 + 123, 11));
    QTRY_TREES_EQUAL_WITH_TIMEOUT(a.root(), b.root(), 60000);
    QCOMPARE(m_server->relay()->announcesRelayed(), quint64(1));
    QVERIFY(m_server->waitBlocksServed() > 0);
    // Without the prefetch B fetches each of the file's blocks (about 384) after the commit.
    // With it, none: B asked for every block at the announce (the file fits the
    // Prefetcher's window) and the Downloader waits for the replies still on their way
    // when the commit lands instead of asking again (up to 39 blocks were fetched twice
    // on a loaded CI machine before it did).
    QCOMPARE(m_server->blocksServed() - plainBefore, quint64(0));
    QTRY_COMPARE(tempFiles(b.root()), QStringList());
}

void tst_Prefetch::announcesThatDoNotCommitLeaveNothing()
{
    QVERIFY(startServer());
    TestClient b(QStringLiteral("beta"), m_server->port());
    QVERIFY(b.start());
    QTRY_COMPARE_WITH_TIMEOUT(b.engine()->state(), EngineState::Idle, 60000);
    // Another computer of the account, driven by hand.
    servertest::RawClient a(m_server->port());
    QCOMPARE(a.login(b.accountId(), QStringLiteral("alpha")), b.accountId());

    // Announced, half uploaded, then committed with other content: B's temp file is
    // dropped and the committed version lands.
    const QByteArray first = randomBytes(5 * 1024 * 1024, 1), second = randomBytes(5 * 1024 * 1024, 2);
    const Announce announce { servertest::P("movie.bin"), first.size() + second.size(), { refOf(first), refOf(second) },
        {} };
    QCOMPARE(a.call(MessageType::Announce, announce).type, MessageType::Ok);
    QVERIFY(a.putBlock(first));
    QTRY_COMPARE(tempFiles(b.root()).size(), 1); // B prefetches into .filesync/tmp only
    QVERIFY(!exists(b.root(), QStringLiteral("movie.bin")));
    const QByteArray other = randomBytes(300 * 1024, 3);
    QVERIFY(a.putBlock(other));
    CommitOp put;
    put.path = servertest::P("movie.bin");
    put.size = other.size();
    put.blocks = { refOf(other) };
    QCOMPARE(a.commit({ put }).results.value(0).status, CommitStatus::Applied);
    QTRY_COMPARE_WITH_TIMEOUT(readFile(b.root(), QStringLiteral("movie.bin")), other, 30000);
    QTRY_COMPARE(tempFiles(b.root()), QStringList());

    // Announced and never committed: nothing at the final path, and the temp file goes
    // with the connection that fetched it.
    const Announce ghost { servertest::P("ghost.bin"), first.size() + second.size(), { refOf(second), refOf(first) },
        {} };
    QCOMPARE(a.call(MessageType::Announce, ghost).type, MessageType::Ok);
    QTRY_COMPARE(tempFiles(b.root()).size(), 1); // `first` is on the server already
    QTRY_VERIFY(m_server->relay()->parkedCount() > 0); // B waits for `second`
    b.stop();
    QTRY_COMPARE(tempFiles(b.root()), QStringList());
    QVERIFY(!exists(b.root(), QStringLiteral("ghost.bin")));
    QTRY_COMPARE(m_server->relay()->parkedCount(), 0); // B's waits went with its session
}

// The Prefetcher on its own over a real connection: which announces it takes, and an
// unclaimed one's temp file removed after its keep time.
void tst_Prefetch::prefetchesAreBoundedAndExpire()
{
    QVERIFY(startServer());
    QTemporaryDir folder;
    Journal journal(folder.path());
    QVERIFY(journal.open());
    ServerConnection connection(QStringLiteral("127.0.0.1"), m_server->port());
    QSignalSpy ready(&connection, &ServerConnection::ready);
    connection.open();
    QVERIFY(ready.wait(10000));
    QString account;
    connection.createAccount(QStringLiteral("beta"), [&account](const Reply<LoginOk> &r) {
        if (r)
            account = r->account;
    });
    QTRY_VERIFY(!account.isEmpty());
    EnginePools pools;
    Prefetcher prefetcher(folder.path(), journal, connection, pools);
    QSignalSpy announced(&connection, &ServerConnection::announced);
    servertest::RawClient a(m_server->port());
    QCOMPARE(a.login(account, QStringLiteral("alpha")), account);

    const QByteArray block = randomBytes(9 * 1024 * 1024, 7);
    const auto announce = [&](const char *path, const QByteArray &data) {
        const Announce one { servertest::P(path), data.size(), { refOf(data) }, {} };
        QCOMPARE(a.call(MessageType::Announce, one).type, MessageType::Ok);
    };
    // Under kMinBytes: not worth it, ignored.
    announce("small.bin", randomBytes(64 * 1024, 8));
    QTRY_COMPARE(announced.size(), 1);
    QCOMPARE(prefetcher.activeFiles(), 0);
    QCOMPARE(tempFiles(folder.path()), QStringList());
    // At most kMaxFiles at once.
    for (int i = 0; i <= Prefetcher::kMaxFiles; ++i)
        announce(qPrintable(QStringLiteral("big-%1.bin").arg(i)), randomBytes(9 * 1024 * 1024, quint32(20 + i)));
    QTRY_COMPARE(announced.size(), 2 + Prefetcher::kMaxFiles);
    QCOMPARE(prefetcher.activeFiles(), Prefetcher::kMaxFiles);
    QCOMPARE(tempFiles(folder.path()).size(), Prefetcher::kMaxFiles);
    // A file that is not there at take() time is not adopted.
    QVERIFY(!prefetcher.take(servertest::P("small.bin"), { refOf(block) }));
    // Nobody claims them: all dropped after the keep time, temp files and all.
    prefetcher.setKeepMs(100);
    QTRY_COMPARE(prefetcher.activeFiles(), 0);
    QCOMPARE(tempFiles(folder.path()), QStringList());

    // One whose block arrives is written, verified, and adopted whole.
    announce("movie.bin", block);
    QTRY_COMPARE(prefetcher.activeFiles(), 1);
    prefetcher.setKeepMs(Prefetcher::kKeepMs);
    QVERIFY(a.putBlock(block));
    QTRY_COMPARE(prefetcher.blocksFetched(), quint64(1));
    const auto taken = prefetcher.take(servertest::P("movie.bin"), { refOf(block) });
    QVERIFY(taken);
    QCOMPARE(taken->written, QList<bool> { true });
    QFile temp(taken->tempPath);
    QVERIFY(temp.open(QIODevice::ReadOnly));
    QCOMPARE(temp.readAll(), block);
    QCOMPARE(prefetcher.activeFiles(), 0);
    QVERIFY(temp.remove()); // the taker's now
}

QTEST_GUILESS_MAIN(tst_Prefetch)
#include "tst_prefetch.moc"
