#include "synctestmacros.h"
#include "testcluster.h"
#include "testtree.h"

#include <QDir>
#include <QFile>
#include <QSignalSpy>
#include <QTest>

using namespace filesync;
using namespace filesync::test;

// Computers that were off, servers that restart, accounts that must not meet, and
// folders that vanish: nothing is lost, nothing duplicated, nothing deleted by an error.
class tst_Resilience : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void init();
    void cleanup();

    void offlineComputerCatchesUpAndMerges();
    void editWinsOverDelete();
    void restartedClientResumesItsAccount();
    void serverRestartIsSurvived();
    void accountsAreIsolated();
    void unknownIdCreatesANewAccount();
    void folderOfAnotherAccountIsRefused();
    void vanishedRootStopsWithoutDeleting();

private:
    std::unique_ptr<TestServer> m_server;
};

void tst_Resilience::init()
{
    m_server = std::make_unique<TestServer>();
    QVERIFY(m_server->start());
}

void tst_Resilience::cleanup()
{
    m_server.reset();
}

void tst_Resilience::offlineComputerCatchesUpAndMerges()
{
    TestClient a(QStringLiteral("alpha"), m_server->port());
    for (const char *name : { "f1.txt", "f2.txt", "f3.txt", "keep.txt" })
        writeFile(a.root(), QString::fromLatin1(name), QByteArray("original ") + name);
    TestClient b(QStringLiteral("beta"), m_server->port());
    QVERIFY(startInSync(a, b));

    b.stop(); // the laptop goes to sleep
    writeFile(a.root(), QStringLiteral("f1.txt"), "A edited f1");
    writeFile(a.root(), QStringLiteral("new-on-a.txt"), "A was here");
    QVERIFY(QFile::remove(a.root() + QStringLiteral("/f3.txt")));
    QTRY_VERIFY(a.completed(QStringLiteral("f1.txt"), QStringLiteral("uploaded")));
    QTRY_VERIFY(a.completed(QStringLiteral("new-on-a.txt"), QStringLiteral("uploaded")));
    QTRY_VERIFY(a.completed(QStringLiteral("f3.txt"), QStringLiteral("deleted")));

    writeFile(b.root(), QStringLiteral("f1.txt"), "B edited f1 differently");
    writeFile(b.root(), QStringLiteral("f2.txt"), "B edited f2");
    writeFile(b.root(), QStringLiteral("new-on-b/b.txt"), "B was here");

    QVERIFY(b.start()); // no ID: the folder remembers its account
    QCOMPARE(b.accountId(), a.accountId());
    QTRY_TREES_EQUAL(a.root(), b.root());

    QCOMPARE(readFile(b.root(), QStringLiteral("f1.txt")), QByteArray("A edited f1"));
    const QStringList copies = conflictCopies(b.root());
    QCOMPARE(copies.size(), 1);
    QVERIFY2(copies.first().startsWith(QStringLiteral("f1 (conflict from beta ")), qPrintable(copies.first()));
    QCOMPARE(readFile(b.root(), copies.first()), QByteArray("B edited f1 differently"));
    QCOMPARE(readFile(a.root(), QStringLiteral("f2.txt")), QByteArray("B edited f2"));
    QVERIFY(!exists(b.root(), QStringLiteral("f3.txt")));
    QCOMPARE(readFile(b.root(), QStringLiteral("new-on-a.txt")), QByteArray("A was here"));
    QCOMPARE(readFile(a.root(), QStringLiteral("new-on-b/b.txt")), QByteArray("B was here"));
    QCOMPARE(readFile(a.root(), QStringLiteral("keep.txt")), QByteArray("original keep.txt"));
}

void tst_Resilience::editWinsOverDelete()
{
    TestClient a(QStringLiteral("alpha"), m_server->port());
    writeFile(a.root(), QStringLiteral("report.txt"), "draft");
    writeFile(a.root(), QStringLiteral("folder/inside.txt"), "inside");
    TestClient b(QStringLiteral("beta"), m_server->port());
    QVERIFY(startInSync(a, b));

    b.stop();
    // A deletes a file and a folder; B, offline, edits the file and adds to the folder.
    QVERIFY(QFile::remove(a.root() + QStringLiteral("/report.txt")));
    QVERIFY(QDir(a.root() + QStringLiteral("/folder")).removeRecursively());
    QTRY_VERIFY(a.completed(QStringLiteral("report.txt"), QStringLiteral("deleted")));
    QTRY_VERIFY(a.completed(QStringLiteral("folder"), QStringLiteral("deleted")));
    writeFile(b.root(), QStringLiteral("report.txt"), "final version");
    writeFile(b.root(), QStringLiteral("folder/new.txt"), "added offline");

    QVERIFY(b.start());
    QTRY_TREES_EQUAL(a.root(), b.root());
    QCOMPARE(readFile(a.root(), QStringLiteral("report.txt")), QByteArray("final version"));
    QCOMPARE(readFile(a.root(), QStringLiteral("folder/new.txt")), QByteArray("added offline"));
    // The unchanged file in the deleted folder goes: only the edit survives.
    QVERIFY(!exists(b.root(), QStringLiteral("folder/inside.txt")));
}

void tst_Resilience::restartedClientResumesItsAccount()
{
    TestClient a(QStringLiteral("alpha"), m_server->port());
    writeFile(a.root(), QStringLiteral("x.txt"), "x");
    QVERIFY(a.start());
    QVERIFY(a.accountCreated());
    const QString id = a.accountId();
    QTRY_COMPARE_WITH_TIMEOUT(a.engine()->state(), EngineState::Idle, 10000);
    a.stop();
    QVERIFY(a.start());
    QCOMPARE(a.accountId(), id);
    QVERIFY(!a.accountCreated());
    QTRY_COMPARE_WITH_TIMEOUT(a.engine()->state(), EngineState::Idle, 10000);
    QVERIFY(conflictCopies(a.root()).isEmpty());
    QCOMPARE(treeState(a.root()).size(), 1);
}

void tst_Resilience::serverRestartIsSurvived()
{
    TestClient a(QStringLiteral("alpha"), m_server->port());
    writeFile(a.root(), QStringLiteral("before.txt"), "before");
    TestClient b(QStringLiteral("beta"), m_server->port());
    QVERIFY(startInSync(a, b));

    m_server->stop();
    QTRY_COMPARE_WITH_TIMEOUT(a.engine()->state(), EngineState::Offline, 10000);
    writeFile(a.root(), QStringLiteral("while-down.txt"), "written while the server was down");
    QVERIFY(m_server->start());
    QTRY_TREES_EQUAL_WITH_TIMEOUT(a.root(), b.root(), 20000);
    QCOMPARE(readFile(b.root(), QStringLiteral("while-down.txt")), QByteArray("written while the server was down"));

    writeFile(b.root(), QStringLiteral("after.txt"), "after");
    QTRY_TREES_EQUAL(a.root(), b.root());
    QVERIFY(conflictCopies(a.root()).isEmpty());
    QCOMPARE(treeState(a.root()).size(), 3);
}

void tst_Resilience::accountsAreIsolated()
{
    TestClient one(QStringLiteral("one"), m_server->port());
    writeFile(one.root(), QStringLiteral("secret-of-one.txt"), "one");
    QVERIFY(one.start());
    TestClient two(QStringLiteral("two"), m_server->port());
    writeFile(two.root(), QStringLiteral("secret-of-two.txt"), "two");
    QVERIFY(two.start());
    QVERIFY(one.accountId() != two.accountId());

    TestClient oneAgain(QStringLiteral("one-b"), m_server->port());
    QVERIFY(oneAgain.start(one.accountId()));
    QTRY_TREES_EQUAL(one.root(), oneAgain.root());
    writeFile(two.root(), QStringLiteral("later-two.txt"), "two again");
    writeFile(one.root(), QStringLiteral("later-one.txt"), "one again");
    QTRY_TREES_EQUAL(one.root(), oneAgain.root());
    QTRY_VERIFY(two.completed(QStringLiteral("later-two.txt"), QStringLiteral("uploaded")));
    QVERIFY(!exists(oneAgain.root(), QStringLiteral("secret-of-two.txt")));
    QVERIFY(!exists(oneAgain.root(), QStringLiteral("later-two.txt")));
    QVERIFY(!exists(two.root(), QStringLiteral("secret-of-one.txt")));
    QVERIFY(!exists(two.root(), QStringLiteral("later-one.txt")));
    QCOMPARE(treeState(two.root()).size(), 2);
}

void tst_Resilience::unknownIdCreatesANewAccount()
{
    const QString unknown = QStringLiteral("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
    TestClient a(QStringLiteral("alpha"), m_server->port());
    QVERIFY(a.start(unknown));
    QVERIFY(a.accountCreated());
    QVERIFY(a.accountId() != unknown);
}

void tst_Resilience::folderOfAnotherAccountIsRefused()
{
    TestClient a(QStringLiteral("alpha"), m_server->port());
    writeFile(a.root(), QStringLiteral("mine.txt"), "mine");
    QVERIFY(a.start());
    a.stop();
    TestClient other(QStringLiteral("other"), m_server->port());
    QVERIFY(other.start());
    // The folder belongs to A's account: starting it with another ID must not mix them.
    QVERIFY(!a.start(other.accountId()));
    QVERIFY(!a.lastFatalError().isEmpty());
    QCOMPARE(readFile(a.root(), QStringLiteral("mine.txt")), QByteArray("mine"));
}

void tst_Resilience::vanishedRootStopsWithoutDeleting()
{
    TestClient a(QStringLiteral("alpha"), m_server->port());
    for (int i = 0; i < 10; ++i)
        writeFile(a.root(), QStringLiteral("file%1.txt").arg(i), QByteArray::number(i));
    TestClient b(QStringLiteral("beta"), m_server->port());
    QVERIFY(startInSync(a, b));

    // The drive is unmounted (or the folder moved away) under a running client.
    const QString moved = a.root() + QStringLiteral(".moved");
    QVERIFY(QDir().rename(a.root(), moved));
    a.engine()->syncNow();
    QTRY_COMPARE_WITH_TIMEOUT(a.engine()->state(), EngineState::Error, 10000);
    QVERIFY(!a.engine()->errorMessage().isEmpty());

    QSignalSpy cycles(b.engine(), &SyncEngine::cycleFinished);
    b.engine()->syncNow();
    QTRY_VERIFY(!cycles.isEmpty());
    QCOMPARE(treeState(b.root()).size(), 10);
    a.stop();
    QVERIFY(QDir().rename(moved, a.root()));
}

QTEST_GUILESS_MAIN(tst_Resilience)
#include "tst_resilience.moc"
