#include "synctestmacros.h"
#include "testcluster.h"
#include "testtree.h"

#include <QDir>
#include <QFile>
#include <QSignalSpy>
#include <QTest>

using namespace filesync;
using namespace filesync::test;

// Changes found by partial cycles: after the first (full) cycle, a watcher-triggered
// cycle scans only the folders inotify reported and a push-triggered one only where the
// server's changes land. Intervals are an hour, so nothing here is rescued by the
// safety-net full scan; every change must arrive, and nothing outside the scanned
// folders may be taken for deleted.
class tst_PartialCycles : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void init();
    void cleanup();

    void subtreeDelete();
    void moveBetweenFolders();
    void newFolderFilledQuickly();
    void folderRecreatedWithNewContent();
    void remoteChangesByPush();
    void fullScanAfterRestartFindsWhatNoWatcherSaw();

private:
    // Two computers on one account, in sync over a tree of a few folders.
    void startPair();
    std::unique_ptr<TestServer> m_server;
    std::unique_ptr<TestClient> m_a;
    std::unique_ptr<TestClient> m_b;
};

void tst_PartialCycles::init()
{
    m_server = std::make_unique<TestServer>();
    QVERIFY(m_server->start());
}

void tst_PartialCycles::cleanup()
{
    m_a.reset();
    m_b.reset();
    m_server.reset();
}

void tst_PartialCycles::startPair()
{
    m_a = std::make_unique<TestClient>(QStringLiteral("alpha"), m_server->port());
    for (int d = 0; d < 4; ++d) {
        for (int f = 0; f < 5; ++f)
            writeFile(m_a->root(), QStringLiteral("dir%1/f%2.txt").arg(d).arg(f), QByteArray::number(d * 10 + f));
    }
    writeFile(m_a->root(), QStringLiteral("dir0/sub/deep/x.txt"), "deep");
    writeFile(m_a->root(), QStringLiteral("top.txt"), "top");
    m_b = std::make_unique<TestClient>(QStringLiteral("beta"), m_server->port());
    QVERIFY(startInSync(*m_a, *m_b));
    // Idle after the first, full, cycles: from here on, cycles are partial.
    QTRY_COMPARE_WITH_TIMEOUT(m_a->engine()->state(), EngineState::Idle, 15000);
    QTRY_COMPARE_WITH_TIMEOUT(m_b->engine()->state(), EngineState::Idle, 15000);
}

void tst_PartialCycles::subtreeDelete()
{
    startPair();
    if (QTest::currentTestFailed())
        return;
    QVERIFY(QDir(m_a->root() + QStringLiteral("/dir0/sub")).removeRecursively());
    QTRY_TREES_EQUAL(m_a->root(), m_b->root());
    QVERIFY(!exists(m_b->root(), QStringLiteral("dir0/sub")));
    QVERIFY(exists(m_b->root(), QStringLiteral("dir0/f1.txt")));
    QVERIFY(exists(m_b->root(), QStringLiteral("dir3/f4.txt")));

    // A whole top-level folder, from the other side.
    QVERIFY(QDir(m_b->root() + QStringLiteral("/dir1")).removeRecursively());
    QTRY_TREES_EQUAL(m_b->root(), m_a->root());
    QVERIFY(!exists(m_a->root(), QStringLiteral("dir1")));
    QVERIFY(exists(m_a->root(), QStringLiteral("dir2/f0.txt")));
}

void tst_PartialCycles::moveBetweenFolders()
{
    startPair();
    if (QTest::currentTestFailed())
        return;
    QVERIFY(QDir(m_a->root()).rename(QStringLiteral("dir1/f2.txt"), QStringLiteral("dir2/moved.txt")));
    QTRY_TREES_EQUAL(m_a->root(), m_b->root());
    QCOMPARE(readFile(m_b->root(), QStringLiteral("dir2/moved.txt")), QByteArray("12"));
    // Both folders were scanned, so it was seen as one move, not an upload and a delete.
    QVERIFY(m_a->completed(QStringLiteral("dir2/moved.txt"), QStringLiteral("moved")));
    QVERIFY(!m_a->completed(QStringLiteral("dir2/moved.txt"), QStringLiteral("uploaded")));

    // A folder with content into another folder.
    QVERIFY(QDir(m_b->root()).rename(QStringLiteral("dir0/sub"), QStringLiteral("dir3/sub")));
    QTRY_TREES_EQUAL(m_b->root(), m_a->root());
    QCOMPARE(readFile(m_a->root(), QStringLiteral("dir3/sub/deep/x.txt")), QByteArray("deep"));
    QVERIFY(!exists(m_a->root(), QStringLiteral("dir0/sub")));
}

void tst_PartialCycles::newFolderFilledQuickly()
{
    startPair();
    if (QTest::currentTestFailed())
        return;
    // Written as fast as possible: some files land before the new folders' watches exist.
    for (int i = 0; i < 30; ++i) {
        writeFile(m_a->root(), QStringLiteral("fresh/f%1.txt").arg(i), QByteArray::number(i));
        writeFile(m_a->root(), QStringLiteral("fresh/inner/most/g%1.txt").arg(i), QByteArray::number(-i));
    }
    QTRY_TREES_EQUAL(m_a->root(), m_b->root());
    // And more once the watches are there, in the new subfolders.
    writeFile(m_a->root(), QStringLiteral("fresh/inner/late.txt"), "late");
    QTRY_TREES_EQUAL(m_a->root(), m_b->root());
    QCOMPARE(readFile(m_b->root(), QStringLiteral("fresh/inner/most/g29.txt")), QByteArray("-29"));
}

void tst_PartialCycles::folderRecreatedWithNewContent()
{
    startPair();
    if (QTest::currentTestFailed())
        return;
    QVERIFY(QDir(m_a->root() + QStringLiteral("/dir2")).removeRecursively());
    writeFile(m_a->root(), QStringLiteral("dir2/new/n.txt"), "new content");
    writeFile(m_a->root(), QStringLiteral("dir2/f0.txt"), "replaced");
    QTRY_TREES_EQUAL(m_a->root(), m_b->root());
    QVERIFY(!exists(m_b->root(), QStringLiteral("dir2/f1.txt")));
    QCOMPARE(readFile(m_b->root(), QStringLiteral("dir2/f0.txt")), QByteArray("replaced"));
}

void tst_PartialCycles::remoteChangesByPush()
{
    startPair();
    if (QTest::currentTestFailed())
        return;
    // Each change is made on B; A learns of it only through the server's push, and its
    // cycle scans only where the change lands.
    writeFile(m_b->root(), QStringLiteral("dir3/f1.txt"), "edited on B");
    QTRY_TREES_EQUAL(m_b->root(), m_a->root());
    QVERIFY(QDir(m_b->root()).rename(QStringLiteral("dir2"), QStringLiteral("renamed")));
    QTRY_TREES_EQUAL(m_b->root(), m_a->root());
    QVERIFY(m_a->completed(QStringLiteral("renamed"), QStringLiteral("moved")));
    QVERIFY(QDir(m_b->root() + QStringLiteral("/dir0")).removeRecursively());
    QTRY_TREES_EQUAL(m_b->root(), m_a->root());
    writeFile(m_b->root(), QStringLiteral("brand/new/tree.txt"), "tree");
    QTRY_TREES_EQUAL(m_b->root(), m_a->root());

    // A remote delete of a folder in which A has new work keeps the work.
    writeFile(m_a->root(), QStringLiteral("renamed/mine.txt"), "A's work");
    QTRY_VERIFY(m_a->completed(QStringLiteral("renamed/mine.txt"), QStringLiteral("uploaded")));
    QTRY_TREES_EQUAL(m_a->root(), m_b->root());
    QVERIFY(exists(m_a->root(), QStringLiteral("top.txt")));
    QVERIFY(exists(m_a->root(), QStringLiteral("dir3/f4.txt")));
}

void tst_PartialCycles::fullScanAfterRestartFindsWhatNoWatcherSaw()
{
    startPair();
    if (QTest::currentTestFailed())
        return;
    // No engine watches A while these happen.
    m_a->stop();
    writeFile(m_a->root(), QStringLiteral("dir1/offline.txt"), "written while stopped");
    QVERIFY(QFile::remove(m_a->root() + QStringLiteral("/dir3/f0.txt")));
    writeFile(m_a->root(), QStringLiteral("dir2/f3.txt"), "edited while stopped");
    QVERIFY(m_a->start(m_a->accountId()));
    QTRY_TREES_EQUAL(m_a->root(), m_b->root());
    QCOMPARE(readFile(m_b->root(), QStringLiteral("dir1/offline.txt")), QByteArray("written while stopped"));
    QVERIFY(!exists(m_b->root(), QStringLiteral("dir3/f0.txt")));

    // syncNow() is a full scan too: B's engine finds an edit its watcher reported long
    // ago (taken by an earlier cycle) just as well as a new one.
    QSignalSpy cycles(m_b->engine(), &SyncEngine::cycleFinished);
    m_b->engine()->syncNow();
    QTRY_VERIFY(cycles.size() >= 1);
    QTRY_TREES_EQUAL(m_a->root(), m_b->root());
}

QTEST_GUILESS_MAIN(tst_PartialCycles)
#include "tst_partialcycles.moc"
