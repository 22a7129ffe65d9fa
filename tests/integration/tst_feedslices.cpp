#include "journal.h"
#include "synctestmacros.h"
#include "testcluster.h"
#include "testtree.h"

#include <QDir>
#include <QSignalSpy>
#include <QSqlDatabase>
#include <QSqlQuery>
#include <QTest>

using namespace filesync;
using namespace filesync::test;

namespace {

constexpr int kCap = 8; // remote entries per cycle: a few files' worth, so feeds here span many slices

} // namespace

// A client far behind the server reads the change feed in slices of about
// EngineConfig::maxChangesPerCycle entries, one cycle each: the cursor moves per applied
// slice, and what a slice boundary could split (a folder and its files, a move's
// tombstone and its target, a conflict) still ends right, with nothing lost.
class tst_FeedSlices : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void init();
    void cleanup();

    void feedLargerThanASliceEndsInSync();
    void moveSplitAcrossSlices();
    void conflictAndLocalWorkInASlicedFeed();
    void bigDeleteIsTombstonesOnly();
    void readAheadOfAFeedThatMovesOn();

private:
    void startA();
    void startB(bool waitInSync = true);
    void startBoth(); // A, then B in sync with it
    // Every cursor B's journal held after one of its cycles, in order.
    QList<quint64> m_cursors;
    int m_readAheadCycles = 0; // B's cycles that began with entries read ahead
    int m_maxRemote = 0; // the most remote entries one of B's cycles took
    std::unique_ptr<TestServer> m_server;
    std::unique_ptr<TestClient> m_a;
    std::unique_ptr<TestClient> m_b;
};

void tst_FeedSlices::init()
{
    m_cursors.clear();
    m_readAheadCycles = 0;
    m_maxRemote = 0;
    m_server = std::make_unique<TestServer>();
    QVERIFY(m_server->start());
    m_a = std::make_unique<TestClient>(QStringLiteral("alpha"), m_server->port());
    m_b = std::make_unique<TestClient>(QStringLiteral("beta"), m_server->port());
    m_b->config().maxChangesPerCycle = kCap;
}

void tst_FeedSlices::cleanup()
{
    m_a.reset();
    m_b.reset();
    m_server.reset();
}

void tst_FeedSlices::startA()
{
    QVERIFY(m_a->start());
    QTRY_COMPARE_WITH_TIMEOUT(m_a->engine()->state(), EngineState::Idle, 15000);
}

void tst_FeedSlices::startBoth()
{
    startA();
    if (QTest::currentTestFailed())
        return;
    startB();
}

void tst_FeedSlices::startB(bool waitInSync)
{
    QVERIFY(m_b->start(m_a->accountId()));
    connect(m_b->engine(), &SyncEngine::cycleFinished, this, [this] {
        const quint64 c = storedCursor(m_b->root());
        if (c != (m_cursors.isEmpty() ? 0 : m_cursors.last()))
            m_cursors << c;
        if (m_b->engine()->lastCycle().readAhead > 0)
            ++m_readAheadCycles;
        m_maxRemote = qMax(m_maxRemote, m_b->engine()->lastCycle().remoteEntries);
    });
    if (waitInSync) {
        QTRY_TREES_EQUAL_WITH_TIMEOUT(m_a->root(), m_b->root(), 30000);
        QTRY_COMPARE_WITH_TIMEOUT(m_b->engine()->state(), EngineState::Idle, 15000);
    }
}

void tst_FeedSlices::feedLargerThanASliceEndsInSync()
{
    // 6 folders of 10 files: 66 entries in the feed, more than 8 slices' worth.
    for (int d = 0; d < 6; ++d) {
        for (int f = 0; f < 10; ++f)
            writeFile(m_a->root(), QStringLiteral("d%1/f%2.txt").arg(d).arg(f), QByteArray::number(d * 100 + f));
    }
    startBoth();
    if (QTest::currentTestFailed())
        return;
    QCOMPARE(readFile(m_b->root(), QStringLiteral("d5/f9.txt")), QByteArray("509"));
    // The cursor moved once per slice, a slice at a time: never by more than one slice's
    // versions (one version per entry here: A was idle), and never backwards.
    QVERIFY2(m_cursors.size() >= 66 / kCap, qPrintable(QStringLiteral("cursors: %1").arg(m_cursors.size())));
    quint64 previous = 0;
    for (const quint64 c : std::as_const(m_cursors)) {
        QVERIFY2(c > previous && c - previous <= quint64(kCap),
            qPrintable(QStringLiteral("cursor %1 after %2").arg(c).arg(previous)));
        previous = c;
    }
    // Where a restart resumes: the end, so nothing is read (or done) again.
    QCOMPARE(storedCursor(m_b->root()), storedCursor(m_a->root()));
    // Each slice after the first was read while the one before it downloaded, and what
    // was read ahead never made a cycle bigger than a slice (pages of kCap here).
    QVERIFY2(m_readAheadCycles >= 66 / kCap - 1, qPrintable(QString::number(m_readAheadCycles)));
    QVERIFY2(m_maxRemote <= kCap, qPrintable(QString::number(m_maxRemote)));
}

void tst_FeedSlices::moveSplitAcrossSlices()
{
    for (int f = 0; f < 12; ++f)
        writeFile(m_a->root(), QStringLiteral("src/f%1.txt").arg(f), QByteArray::number(f) + " moved along");
    writeFile(m_a->root(), QStringLiteral("dst/keep.txt"), "keep");
    writeFile(m_a->root(), QStringLiteral("a/one.txt"), "one");
    startBoth();
    if (QTest::currentTestFailed())
        return;
    m_b->stop();
    // B is away while A commits, in this order: 7 new files in a known folder (versions
    // 1-7 of what B will read), then a folder move (the source's tombstone at 8, the target at 9, then
    // a tombstone and a target per file) and a file move. The first slice's page ends at
    // the folder's tombstone: cut there, B would delete the folder (it still holds its
    // files, so it would stay, unknown, and be uploaded again) instead of renaming it.
    for (int f = 0; f < 7; ++f)
        writeFile(m_a->root(), QStringLiteral("dst/n%1.txt").arg(f), QByteArray::number(f));
    QTRY_VERIFY(m_a->completed(QStringLiteral("dst/n6.txt"), QStringLiteral("uploaded")));
    QTRY_COMPARE_WITH_TIMEOUT(m_a->engine()->state(), EngineState::Idle, 15000);
    QVERIFY(QDir(m_a->root()).rename(QStringLiteral("src"), QStringLiteral("dst/src")));
    QTRY_VERIFY(m_a->completed(QStringLiteral("dst/src"), QStringLiteral("moved")));
    QTRY_COMPARE_WITH_TIMEOUT(m_a->engine()->state(), EngineState::Idle, 15000);
    QVERIFY(QDir(m_a->root()).rename(QStringLiteral("a/one.txt"), QStringLiteral("dst/one.txt")));
    QTRY_VERIFY(m_a->completed(QStringLiteral("dst/one.txt"), QStringLiteral("moved")));
    QTRY_COMPARE_WITH_TIMEOUT(m_a->engine()->state(), EngineState::Idle, 15000);

    startB();
    if (QTest::currentTestFailed())
        return;
    // Renamed here, not deleted and fetched again; the source is gone on both sides.
    QVERIFY(m_b->completed(QStringLiteral("dst/src"), QStringLiteral("moved")));
    for (int f = 0; f < 12; ++f) {
        const QString path = QStringLiteral("dst/src/f%1.txt").arg(f);
        QCOMPARE(readFile(m_b->root(), path), QByteArray::number(f) + " moved along");
        QVERIFY2(!m_b->completed(path, QStringLiteral("downloaded")), qPrintable(path));
    }
    QCOMPARE(readFile(m_b->root(), QStringLiteral("dst/one.txt")), QByteArray("one"));
    QVERIFY(!exists(m_b->root(), QStringLiteral("src")));
    QVERIFY(!exists(m_a->root(), QStringLiteral("src")));
    QVERIFY(!exists(m_b->root(), QStringLiteral("a/one.txt")));
    QVERIFY(m_cursors.size() >= 3);
    QTRY_TREES_EQUAL(m_a->root(), m_b->root());
}

void tst_FeedSlices::conflictAndLocalWorkInASlicedFeed()
{
    writeFile(m_a->root(), QStringLiteral("shared.txt"), "base");
    startBoth();
    if (QTest::currentTestFailed())
        return;
    m_b->stop();
    // While B is away: A makes a feed of many slices, with an edit of shared.txt in the
    // middle of it; B edits shared.txt too and adds work of its own.
    for (int f = 0; f < 20; ++f)
        writeFile(m_a->root(), QStringLiteral("early/e%1.txt").arg(f), QByteArray::number(f));
    QTRY_VERIFY(m_a->completed(QStringLiteral("early/e19.txt"), QStringLiteral("uploaded")));
    writeFile(m_a->root(), QStringLiteral("shared.txt"), "A's edit");
    QTRY_VERIFY(m_a->completed(QStringLiteral("shared.txt"), QStringLiteral("uploaded")));
    for (int f = 0; f < 20; ++f)
        writeFile(m_a->root(), QStringLiteral("late/l%1.txt").arg(f), QByteArray::number(-f));
    QTRY_VERIFY(m_a->completed(QStringLiteral("late/l19.txt"), QStringLiteral("uploaded")));
    QTRY_COMPARE_WITH_TIMEOUT(m_a->engine()->state(), EngineState::Idle, 15000);
    writeFile(m_b->root(), QStringLiteral("shared.txt"), "B's edit");
    for (int f = 0; f < 10; ++f)
        writeFile(m_b->root(), QStringLiteral("mine/m%1.txt").arg(f), QByteArray::number(f * 7));

    startB(false);
    if (QTest::currentTestFailed())
        return;
    QTRY_TREES_EQUAL_WITH_TIMEOUT(m_a->root(), m_b->root(), 30000);
    // Both edits kept: A's at the path, B's as a conflict copy, on both sides.
    QCOMPARE(readFile(m_b->root(), QStringLiteral("shared.txt")), QByteArray("A's edit"));
    const QStringList copies = conflictCopies(m_b->root());
    QCOMPARE(copies.size(), 1);
    QCOMPARE(readFile(m_a->root(), copies.first()), QByteArray("B's edit"));
    QCOMPARE(readFile(m_a->root(), QStringLiteral("mine/m9.txt")), QByteArray::number(63));
    QCOMPARE(readFile(m_b->root(), QStringLiteral("late/l19.txt")), QByteArray::number(-19));
    QVERIFY2(m_maxRemote <= kCap, qPrintable(QString::number(m_maxRemote)));
    // Everything applied in the end: B's cursor reaches the head (A's, after B's uploads).
    QTRY_COMPARE_WITH_TIMEOUT(m_b->engine()->state(), EngineState::Idle, 15000);
    QTRY_COMPARE_WITH_TIMEOUT(m_a->engine()->state(), EngineState::Idle, 15000);
    QTRY_COMPARE(storedCursor(m_b->root()), storedCursor(m_a->root()));
    // The cursor moved slice by slice up to the held path (checked once every cycle has
    // ended: the trees can be equal before the last cycles record their cursors).
    QVERIFY2(m_cursors.size() >= 3, qPrintable(QStringLiteral("cursors: %1").arg(m_cursors.size())));
}

void tst_FeedSlices::bigDeleteIsTombstonesOnly()
{
    for (int f = 0; f < 40; ++f)
        writeFile(m_a->root(), QStringLiteral("big/f%1.txt").arg(f), QByteArray::number(f));
    writeFile(m_a->root(), QStringLiteral("big/inner/x.txt"), "x");
    writeFile(m_a->root(), QStringLiteral("stays.txt"), "stays");
    startBoth();
    if (QTest::currentTestFailed())
        return;
    m_b->stop();
    // 44 tombstones and nothing live after them: more than four slices' worth, so the
    // slice cannot end after a live entry and ends after the last file's tombstone.
    QVERIFY(QDir(m_a->root() + QStringLiteral("/big")).removeRecursively());
    QTRY_VERIFY(m_a->completed(QStringLiteral("big"), QStringLiteral("deleted")));
    QTRY_COMPARE_WITH_TIMEOUT(m_a->engine()->state(), EngineState::Idle, 15000);
    const quint64 before = m_cursors.last();
    m_cursors.clear();

    startB();
    if (QTest::currentTestFailed())
        return;
    QVERIFY(!exists(m_b->root(), QStringLiteral("big")));
    QCOMPARE(readFile(m_b->root(), QStringLiteral("stays.txt")), QByteArray("stays"));
    // At least two cycles (a cut of at most 4 × 8 entries, then the rest), each moving
    // the cursor on; the end is the head.
    QVERIFY2(m_cursors.size() >= 2, qPrintable(QStringLiteral("cursors: %1").arg(m_cursors.size())));
    QVERIFY(m_cursors.first() > before && m_cursors.first() - before <= quint64(4 * kCap));
    QCOMPARE(storedCursor(m_b->root()), storedCursor(m_a->root()));
}

// B reads the next slice of the feed while it downloads the current one, and A keeps
// rewriting the same files meanwhile: what B read ahead goes stale (a path read at one
// version changes again before B's next cycle takes it). B must still end with A's last
// bytes of every file, no conflict copies, and the head as its cursor.
void tst_FeedSlices::readAheadOfAFeedThatMovesOn()
{
    constexpr int kFiles = 40, kRounds = 4;
    for (int f = 0; f < kFiles; ++f)
        writeFile(m_a->root(), QStringLiteral("live/f%1.txt").arg(f), "round 0");
    startBoth();
    if (QTest::currentTestFailed())
        return;
    m_b->stop();
    // Far behind when it comes back: one round's worth of the feed is five slices.
    // A round's marker is written last: the cycle that uploads it has seen the round.
    auto rewrite = [this](int round) {
        for (int f = 0; f < kFiles; ++f)
            writeFile(m_a->root(), QStringLiteral("live/f%1.txt").arg(f), "round " + QByteArray::number(round));
        const QString marker = QStringLiteral("live/round%1.txt").arg(round);
        writeFile(m_a->root(), marker, "done");
        QTRY_VERIFY_WITH_TIMEOUT(m_a->completed(marker, QStringLiteral("uploaded")), 15000);
    };
    rewrite(1);
    m_readAheadCycles = 0;
    startB(false);
    for (int round = 2; round <= kRounds; ++round) {
        QTRY_VERIFY_WITH_TIMEOUT(m_readAheadCycles > 0 || m_b->engine()->state() == EngineState::Idle, 15000);
        rewrite(round);
        if (QTest::currentTestFailed())
            return;
    }
    QTRY_TREES_EQUAL_WITH_TIMEOUT(m_a->root(), m_b->root(), 30000);
    QTRY_COMPARE_WITH_TIMEOUT(m_b->engine()->state(), EngineState::Idle, 15000);
    for (int f = 0; f < kFiles; ++f)
        QCOMPARE(readFile(m_b->root(), QStringLiteral("live/f%1.txt").arg(f)), "round " + QByteArray::number(kRounds));
    QCOMPARE(m_b->conflictCount(), 0);
    QVERIFY(m_readAheadCycles > 0);
    QTRY_COMPARE(storedCursor(m_b->root()), storedCursor(m_a->root()));
}

QTEST_GUILESS_MAIN(tst_FeedSlices)
#include "tst_feedslices.moc"
