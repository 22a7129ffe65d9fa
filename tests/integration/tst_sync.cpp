#include "chunker.h"
#include "journal.h"
#include "synctestmacros.h"
#include "testcluster.h"
#include "testtree.h"

#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QFileInfo>
#include <QSet>
#include <QSignalSpy>
#include <QSqlDatabase>
#include <QSqlQuery>
#include <QTest>

#include <fcntl.h>
#include <sys/stat.h>

using namespace filesync;
using namespace filesync::test;

// Sync between real engines through the real server core, on 127.0.0.1, in real folders.
// Intervals are an hour, so everything that arrives fast arrived through the watcher and
// the server's push, not the safety-net scan.
class tst_Sync : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void init();
    void cleanup();

    void initialUploadAndPull();
    void joinMergesBothFolders();
    void liveChangesReachEveryComputer();
    void directoryOperations();
    void ownDownloadsDoNotEchoBack();
    void pullThousandFiles();
    void pullThousandsOfSmallFiles();
    void uploadCommitsBeforeItsLastBlock();
    void largeFileEditedInTheMiddle();
    void editOfABigFileSendsOnlyTheChangedBlocks();
    void modeChangesSyncBothWays();
    void touchedOfflineDeletedElsewhere();
    void unansweredUploadThenDeleted();
    void unansweredMoveThenDeleted_data();
    void unansweredMoveThenDeleted();
    void unansweredMoveThenRenamedAgain();
    void unansweredUploadRemovedThere_data();
    void unansweredUploadRemovedThere();
    void unansweredMoveThenDeletedThere();
    void unappliedUploadOverAnOlderTombstone();
    void folderBecameAFileWhileFilledElsewhere();
    void folderBecameAFileWhileMadeAgainElsewhere();
    void pathBlockedHereIsReported();

private:
    // startInSync(a, b), then A, once idle, stops: the computer that is offline, or that
    // stopped before an answer, while B goes on.
    static bool startInSyncThenStopA(TestClient &a, TestClient &b);
    std::unique_ptr<TestServer> m_server;
};

void tst_Sync::init()
{
    m_server = std::make_unique<TestServer>();
    QVERIFY(m_server->start());
}

void tst_Sync::cleanup()
{
    m_server.reset();
}

bool tst_Sync::startInSyncThenStopA(TestClient &a, TestClient &b)
{
    if (!startInSync(a, b))
        return false;
    if (!waitUntil([&a] { return a.engine()->state() == EngineState::Idle; }, 5000)) {
        qWarning("A never went idle");
        return false;
    }
    a.stop();
    return true;
}

void tst_Sync::initialUploadAndPull()
{
    TestClient a(QStringLiteral("alpha"), m_server->port());
    writeFile(a.root(), QStringLiteral("a/b/c/deep.txt"), "deep");
    makeDir(a.root(), QStringLiteral("empty"));
    makeDir(a.root(), QStringLiteral("nested/empty/too"));
    writeFile(a.root(), QStringLiteral("zero.bin"), QByteArray());
    writeFile(a.root(), QStringLiteral("\u00dcn\u00efc\u00f6d\u00e9/\u05e9\u05dc\u05d5\u05dd.txt"), "shalom");
    writeFile(a.root(), QStringLiteral("\u65e5\u672c\u8a9e \u30d5\u30a1\u30a4\u30eb.txt"), "nihongo");
    writeFile(a.root(), QStringLiteral("with spaces/and (parens).md"), "# hi\n");
    writeFile(a.root(), QStringLiteral(".hidden"), "dotfile");
    writeFile(a.root(), QStringLiteral("big.bin"), randomBytes(5 * 1024 * 1024 + 17, 1));
    const TreeState original = treeState(a.root());

    QVERIFY(a.start());
    QVERIFY(a.accountCreated());
    QCOMPARE(a.accountId().size(), 32);

    TestClient b(QStringLiteral("beta"), m_server->port());
    QVERIFY(b.start(a.accountId()));
    QVERIFY(!b.accountCreated());
    QCOMPARE(b.accountId(), a.accountId());
    QTRY_TREES_EQUAL(a.root(), b.root());
    QCOMPARE(treeState(b.root()), original);

    TestClient c(QStringLiteral("gamma"), m_server->port());
    QVERIFY(c.start(a.accountId()));
    QTRY_TREES_EQUAL(a.root(), c.root());
    QCOMPARE(treeState(a.root()), original); // nothing changed on the first computer
}

void tst_Sync::joinMergesBothFolders()
{
    TestClient a(QStringLiteral("alpha"), m_server->port());
    writeFile(a.root(), QStringLiteral("only-a.txt"), "A");
    writeFile(a.root(), QStringLiteral("same.txt"), "identical");
    writeFile(a.root(), QStringLiteral("docs/clash.txt"), "from A");
    QVERIFY(a.start());
    QTRY_COMPARE_WITH_TIMEOUT(a.engine()->state(), EngineState::Idle, 15000);

    TestClient b(QStringLiteral("beta"), m_server->port());
    writeFile(b.root(), QStringLiteral("only-b.txt"), "B");
    writeFile(b.root(), QStringLiteral("same.txt"), "identical");
    writeFile(b.root(), QStringLiteral("docs/clash.txt"), "from B");
    QVERIFY(b.start(a.accountId()));
    QTRY_TREES_EQUAL(a.root(), b.root());

    QCOMPARE(readFile(a.root(), QStringLiteral("only-a.txt")), QByteArray("A"));
    QCOMPARE(readFile(a.root(), QStringLiteral("only-b.txt")), QByteArray("B"));
    QCOMPARE(readFile(a.root(), QStringLiteral("same.txt")), QByteArray("identical"));
    // The server's version stays at the path; the joining computer's is kept beside it.
    QCOMPARE(readFile(a.root(), QStringLiteral("docs/clash.txt")), QByteArray("from A"));
    const QStringList copies = conflictCopies(a.root());
    QCOMPARE(copies.size(), 1);
    QVERIFY2(copies.first().startsWith(QStringLiteral("docs/clash (conflict from beta ")), qPrintable(copies.first()));
    QVERIFY(copies.first().endsWith(QStringLiteral(").txt")));
    QCOMPARE(readFile(a.root(), copies.first()), QByteArray("from B"));
    QVERIFY(b.conflictCount() >= 1);
}

void tst_Sync::liveChangesReachEveryComputer()
{
    TestClient a(QStringLiteral("alpha"), m_server->port());
    TestClient b(QStringLiteral("beta"), m_server->port());
    QVERIFY(startInSync(a, b));
    TestClient c(QStringLiteral("gamma"), m_server->port());
    QVERIFY(c.start(a.accountId()));
    TestClient *clients[] = { &a, &b, &c };
    // Compared with the computer where the change happened, so the wait is real.
    auto allEqual = [&](const TestClient *origin) {
        for (const TestClient *other : clients) {
            if (other != origin)
                QTRY_TREES_EQUAL(origin->root(), other->root());
        }
    };

    // Each step happens on a different computer and must reach the two others.
    struct Step
    {
        const char *what;
        std::function<void(const QString &root)> apply;
    };
    const QList<Step> steps = {
        { "create", [](const QString &r) { writeFile(r, QStringLiteral("notes.txt"), "v1"); } },
        { "modify", [](const QString &r) { writeFile(r, QStringLiteral("notes.txt"), "version two"); } },
        { "truncate", [](const QString &r) { writeFile(r, QStringLiteral("notes.txt"), QByteArray()); } },
        { "grow", [](const QString &r) { writeFile(r, QStringLiteral("notes.txt"), randomBytes(700000, 3)); } },
        { "rename",
            [](const QString &r) {
                QVERIFY(QDir(r).rename(QStringLiteral("notes.txt"), QStringLiteral("renamed.txt")));
            } },
        { "mkdir", [](const QString &r) { makeDir(r, QStringLiteral("archive/2026")); } },
        { "move into folder",
            [](const QString &r) {
                QVERIFY(QDir(r).rename(QStringLiteral("renamed.txt"), QStringLiteral("archive/2026/renamed.txt")));
            } },
        { "create more", [](const QString &r) { writeFile(r, QStringLiteral("archive/readme.md"), "hello"); } },
        { "delete", [](const QString &r) { QVERIFY(QFile::remove(r + QStringLiteral("/archive/readme.md"))); } },
    };
    int i = 0;
    for (const Step &step : steps) {
        qInfo("step: %s on %s", step.what, qPrintable(clients[i % 3]->config().sessionName));
        step.apply(clients[i % 3]->root());
        allEqual(clients[i % 3]);
        if (QTest::currentTestFailed())
            return;
        ++i;
    }
    QVERIFY(exists(b.root(), QStringLiteral("archive/2026/renamed.txt")));
    QVERIFY(!exists(c.root(), QStringLiteral("notes.txt")));
    QVERIFY(!exists(c.root(), QStringLiteral("archive/readme.md")));
    QVERIFY(conflictCopies(a.root()).isEmpty());
}

void tst_Sync::directoryOperations()
{
    TestClient a(QStringLiteral("alpha"), m_server->port());
    TestClient b(QStringLiteral("beta"), m_server->port());
    QVERIFY(startInSync(a, b));

    for (int i = 0; i < 20; ++i)
        writeFile(a.root(), QStringLiteral("project/src/file%1.cpp").arg(i), QByteArray::number(i).repeated(100));
    makeDir(a.root(), QStringLiteral("project/empty"));
    QTRY_TREES_EQUAL(a.root(), b.root());

    // Rename a folder with contents on B.
    QVERIFY(QDir(b.root()).rename(QStringLiteral("project"), QStringLiteral("project-renamed")));
    QTRY_TREES_EQUAL(a.root(), b.root());
    QVERIFY(exists(a.root(), QStringLiteral("project-renamed/src/file7.cpp")));
    QVERIFY(!exists(a.root(), QStringLiteral("project")));

    // Move it into another folder on A.
    makeDir(a.root(), QStringLiteral("work"));
    QTRY_TREES_EQUAL(a.root(), b.root());
    QVERIFY(QDir(a.root()).rename(QStringLiteral("project-renamed"), QStringLiteral("work/project")));
    QTRY_TREES_EQUAL(a.root(), b.root());
    QVERIFY(exists(b.root(), QStringLiteral("work/project/empty")));

    // Delete it with its contents on B.
    QVERIFY(QDir(b.root() + QStringLiteral("/work/project")).removeRecursively());
    QTRY_TREES_EQUAL(a.root(), b.root());
    QVERIFY(!exists(a.root(), QStringLiteral("work/project")));
    QVERIFY(exists(a.root(), QStringLiteral("work")));
}

void tst_Sync::ownDownloadsDoNotEchoBack()
{
    TestClient a(QStringLiteral("alpha"), m_server->port());
    TestClient b(QStringLiteral("beta"), m_server->port());
    QVERIFY(startInSync(a, b));
    QSignalSpy bItems(b.engine(), &SyncEngine::itemCompleted);

    for (int i = 0; i < 5; ++i)
        writeFile(a.root(), QStringLiteral("dir/f%1").arg(i), QByteArray::number(i));
    QTRY_TREES_EQUAL(a.root(), b.root());
    // Let B run a full scan of what it wrote: it must find nothing to upload.
    QSignalSpy cycles(b.engine(), &SyncEngine::cycleFinished);
    b.engine()->syncNow();
    QTRY_VERIFY(cycles.size() >= 1);
    for (const QList<QVariant> &args : bItems) {
        const auto item = args.first().value<SyncItem>();
        QVERIFY2(item.direction != ItemDirection::Up, qPrintable(item.path.toString()));
    }
}

void tst_Sync::pullThousandFiles()
{
    TestClient a(QStringLiteral("alpha"), m_server->port());
    for (int i = 0; i < 1000; ++i)
        writeFile(a.root(), QStringLiteral("d%1/file%2.txt").arg(i % 20).arg(i), randomBytes(1024 + i, quint32(i)));
    QElapsedTimer timer;
    timer.start();
    QVERIFY(a.start());
    QTRY_COMPARE_WITH_TIMEOUT(a.engine()->state(), EngineState::Idle, 60000);
    const qint64 uploadMs = timer.elapsed();

    TestClient b(QStringLiteral("beta"), m_server->port());
    timer.restart();
    QVERIFY(b.start(a.accountId()));
    QTRY_TREES_EQUAL_WITH_TIMEOUT(a.root(), b.root(), 60000);
    // A figure for the notes, not an assertion: benchmarks live in tests/bench.
    qInfo("1,000 files: upload %lld ms, pull %lld ms", uploadMs, timer.elapsed());
}

// Several thousand small files: more than the downloader keeps in hand at once, so it
// works through the plan in bounded steps and syncs them in batches. Everything lands,
// and the journal knows every file (B's own rescan finds nothing to upload).
void tst_Sync::pullThousandsOfSmallFiles()
{
    TestClient a(QStringLiteral("alpha"), m_server->port());
    for (int i = 0; i < 5000; ++i)
        writeFile(
            a.root(), QStringLiteral("d%1/s%2").arg(i % 100).arg(i), randomBytes(16 + (i * 53) % 497, quint32(i)));
    QVERIFY(a.start());
    QTRY_COMPARE_WITH_TIMEOUT(a.engine()->state(), EngineState::Idle, 120000);

    TestClient b(QStringLiteral("beta"), m_server->port());
    QVERIFY(b.start(a.accountId()));
    QTRY_TREES_EQUAL_WITH_TIMEOUT(a.root(), b.root(), 120000);
    QTRY_COMPARE_WITH_TIMEOUT(b.engine()->state(), EngineState::Idle, 60000);
    QCOMPARE(b.completed(QStringLiteral("d7/s4907"), QStringLiteral("downloaded")), true);
    QSignalSpy uploads(b.engine(), &SyncEngine::itemCompleted);
    QSignalSpy cycles(b.engine(), &SyncEngine::cycleFinished);
    b.engine()->syncNow();
    QTRY_VERIFY(cycles.size() >= 1);
    for (const QList<QVariant> &args : uploads) {
        const auto item = args.first().value<SyncItem>();
        QVERIFY2(item.direction != ItemDirection::Up, qPrintable(item.path.toString()));
    }
    QDir tmp(b.root() + QStringLiteral("/.filesync/tmp"));
    QCOMPARE(tmp.entryList(QDir::Files).size(), 0);
}

// The uploader commits ops whose blocks are acknowledged while later blocks are still
// under way (one Commit at a time, from 256 ops on), so the other computers start early:
// 700 new files, fewer than one batch's 2,000, still take more than one Commit. B,
// connected all along, ends identical.
void tst_Sync::uploadCommitsBeforeItsLastBlock()
{
    TestClient a(QStringLiteral("alpha"), m_server->port());
    QVERIFY(a.start());
    QTRY_COMPARE_WITH_TIMEOUT(a.engine()->state(), EngineState::Idle, 60000);
    TestClient b(QStringLiteral("beta"), m_server->port());
    QVERIFY(b.start(a.accountId()));
    QTRY_COMPARE_WITH_TIMEOUT(b.engine()->state(), EngineState::Idle, 60000);
    const auto commits = [this] {
        const QByteArray text = m_server->server()->metricsText();
        const QByteArray name("\nfilesync_commits_total ");
        const qsizetype at = text.indexOf(name);
        bool ok = false;
        const qint64 value = text.mid(at + name.size()).split('\n').first().toLongLong(&ok);
        return at < 0 || !ok ? -1 : value;
    };
    const qint64 before = commits();
    QVERIFY(before >= 0);
    for (int i = 0; i < 700; ++i)
        writeFile(a.root(), QStringLiteral("e%1/f%2").arg(i % 7).arg(i), randomBytes(1000 + i, quint32(7000 + i)));
    a.engine()->syncNow();
    QTRY_TREES_EQUAL_WITH_TIMEOUT(a.root(), b.root(), 60000);
    QVERIFY2(commits() - before >= 2, qPrintable(QString::number(commits() - before)));
}

void tst_Sync::largeFileEditedInTheMiddle()
{
    TestClient a(QStringLiteral("alpha"), m_server->port());
    QByteArray data = randomBytes(24 * 1024 * 1024, 9);
    writeFile(a.root(), QStringLiteral("video.bin"), data);
    TestClient b(QStringLiteral("beta"), m_server->port());
    QVERIFY(startInSync(a, b, 30000));

    data.insert(data.size() / 2, "one inserted line\n");
    data.replace(1000, 5000, randomBytes(5000, 10));
    writeFile(a.root(), QStringLiteral("video.bin"), data);
    QTRY_TREES_EQUAL_WITH_TIMEOUT(a.root(), b.root(), 30000);
    QCOMPARE(readFile(b.root(), QStringLiteral("video.bin")), data);
}

namespace {
// Bytes (received + sent) of the server's live session that received the most.
quint64 busiestSessionBytes(const SyncServer &server)
{
    QMap<QByteArray, quint64> in, out;
    for (const QByteArray &line : server.metricsText().split('\n')) {
        const qsizetype brace = line.indexOf("{session=\"");
        if (brace < 0 || line.startsWith('#'))
            continue;
        const QByteArray id = line.mid(brace, line.indexOf('}') - brace);
        const quint64 value = line.mid(line.lastIndexOf(' ') + 1).toULongLong();
        (line.startsWith("filesync_session_bytes_received_total") ? in : out)[id] = value;
    }
    QByteArray busiest;
    for (auto it = in.cbegin(); it != in.cend(); ++it) {
        if (busiest.isEmpty() || it.value() > in.value(busiest))
            busiest = it.key();
    }
    return in.value(busiest) + out.value(busiest);
}

qint64 bytesNotIn(const QList<protocol::BlockRef> &before, const QList<protocol::BlockRef> &after)
{
    QSet<ContentHash> have;
    for (const auto &b : before)
        have.insert(b.hash);
    qint64 bytes = 0;
    for (const auto &b : after)
        bytes += have.contains(b.hash) ? 0 : b.size;
    return bytes;
}
} // namespace

void tst_Sync::editOfABigFileSendsOnlyTheChangedBlocks()
{
    // 48 MiB, about 600 blocks: a full block list is about 24 KB, and an edit used to
    // send it three times (the query, the commit, and our own entry read back).
    QByteArray data = randomBytes(48 * 1024 * 1024, 21);
    TestClient a(QStringLiteral("alpha"), m_server->port());
    writeFile(a.root(), QStringLiteral("big.bin"), data);
    QVERIFY(a.start());
    QTRY_VERIFY_WITH_TIMEOUT(a.completed(QStringLiteral("big.bin"), QStringLiteral("uploaded")), 30000);
    // A new session for the edit, so that its counters hold the edit alone.
    a.stop();
    QVERIFY(a.start());

    const auto before = Chunker::chunkBytes(data);
    data.replace(data.size() / 2, 256 * 1024, randomBytes(256 * 1024, 22)); // same size, in place
    writeFile(a.root(), QStringLiteral("big.bin"), data);
    const qint64 changed = bytesNotIn(before, Chunker::chunkBytes(data));
    QVERIFY(changed >= 256 * 1024);

    TestClient b(QStringLiteral("beta"), m_server->port());
    QVERIFY(b.start(a.accountId()));
    QTRY_TREES_EQUAL_WITH_TIMEOUT(a.root(), b.root(), 30000);
    QCOMPARE(readFile(b.root(), QStringLiteral("big.bin")), data);
    qInfo("%llu bytes on the link for %lld changed", busiestSessionBytes(*m_server->server()), changed);
    // The changed blocks plus a few KB of metadata; three full lists would be ~70 KB more.
    const quint64 link = busiestSessionBytes(*m_server->server());
    QVERIFY2(link >= quint64(changed) && link <= quint64(changed) + 16 * 1024,
        qPrintable(QStringLiteral("%1 bytes on the link for %2 changed").arg(link).arg(changed)));
}

namespace {
bool executable(const QString &root, const QString &rel)
{
    return QFileInfo(root + u'/' + rel).permissions().testFlag(QFile::ExeOwner);
}

// Whether `engine` reported an upload (anything sent to the server) among `items`.
bool sentUp(const QSignalSpy &items)
{
    for (const QList<QVariant> &args : items) {
        if (args.first().value<SyncItem>().direction == ItemDirection::Up)
            return true;
    }
    return false;
}

} // namespace

// The permission bits are synced: a chmod alone changes no stat but ctime, and is still
// uploaded; the chmod a download makes here does not go back up.
void tst_Sync::modeChangesSyncBothWays()
{
    TestClient a(QStringLiteral("alpha"), m_server->port());
    TestClient b(QStringLiteral("beta"), m_server->port());
    QVERIFY(startInSync(a, b));
    const QString name = QStringLiteral("run.sh");
    writeFile(a.root(), name, "#!/bin/sh\n");
    QTRY_TREES_EQUAL(a.root(), b.root());
    QVERIFY(!executable(b.root(), name));

    QSignalSpy bItems(b.engine(), &SyncEngine::itemCompleted);
    const QString onA = a.root() + u'/' + name;
    QVERIFY(QFile::setPermissions(onA, QFile::permissions(onA) | QFile::ExeOwner | QFile::ExeGroup));
    QTRY_VERIFY(executable(b.root(), name));
    QCOMPARE(readFile(b.root(), name), QByteArray("#!/bin/sh\n"));
    QSignalSpy cycles(b.engine(), &SyncEngine::cycleFinished);
    b.engine()->syncNow(); // a full scan of what the download wrote: nothing to send
    QTRY_VERIFY(cycles.size() >= 1);
    QTRY_COMPARE(b.engine()->state(), EngineState::Idle);
    QVERIFY(!sentUp(bItems));

    QSignalSpy aItems(a.engine(), &SyncEngine::itemCompleted);
    const QString onB = b.root() + u'/' + name;
    QVERIFY(
        QFile::setPermissions(onB, QFile::permissions(onB) & ~(QFile::ExeOwner | QFile::ExeUser | QFile::ExeGroup)));
    QTRY_VERIFY(!executable(a.root(), name));
    QCOMPARE(readFile(a.root(), name), QByteArray("#!/bin/sh\n"));
    QSignalSpy aCycles(a.engine(), &SyncEngine::cycleFinished);
    a.engine()->syncNow();
    QTRY_VERIFY(aCycles.size() >= 1);
    QTRY_COMPARE(a.engine()->state(), EngineState::Idle);
    QVERIFY(!sentUp(aItems));
    QVERIFY(conflictCopies(a.root()).isEmpty());
    QVERIFY(conflictCopies(b.root()).isEmpty());
}

// Only the mtime of a file changed on a computer that was offline meanwhile, and another
// deleted it: its content is unchanged, so the delete applies there once it is back,
// and it does not sit idle with its cursor behind the server's head.
void tst_Sync::touchedOfflineDeletedElsewhere()
{
    TestClient a(QStringLiteral("alpha"), m_server->port());
    TestClient b(QStringLiteral("beta"), m_server->port());
    QVERIFY(startInSync(a, b));
    const QString name = QStringLiteral("touched.txt");
    writeFile(a.root(), name, "same bytes");
    QTRY_TREES_EQUAL(a.root(), b.root());
    QTRY_COMPARE(a.engine()->state(), EngineState::Idle);

    a.stop();
    const timespec times[2] = { { 0, UTIME_OMIT }, { 1'000'000'000, 0 } }; // mtime only, years ago
    QVERIFY(::utimensat(AT_FDCWD, QFile::encodeName(a.root() + u'/' + name).constData(), times, 0) == 0);
    QVERIFY(QFile::remove(b.root() + u'/' + name));
    QTRY_VERIFY(b.completed(name, QStringLiteral("deleted")));

    QVERIFY(a.start());
    QTRY_VERIFY(!exists(a.root(), name));
    QTRY_TREES_EQUAL(a.root(), b.root());
    QTRY_COMPARE(a.engine()->state(), EngineState::Idle);
    QTRY_COMPARE(b.engine()->state(), EngineState::Idle);
    QTRY_COMPARE(storedCursor(a.root()), storedCursor(b.root()));
}

// A's upload of f reached the server, but A stopped before the answer (a crash): its
// journal holds only the Commit's puts (Journal::setSent). Offline, A then deletes f.
// Back online, the server's f is A's own upload, which A deleted: the delete goes up
// (f came back as somebody else's new file, everywhere).
void tst_Sync::unansweredUploadThenDeleted()
{
    TestClient a(QStringLiteral("alpha"), m_server->port());
    TestClient b(QStringLiteral("beta"), m_server->port());
    QVERIFY(startInSyncThenStopA(a, b));

    // The server gets f (here through B, with the same bytes and mode A has).
    const QByteArray content = randomBytes(200'000, 7);
    writeFile(b.root(), QStringLiteral("f"), content);
    QTRY_VERIFY(b.completed(QStringLiteral("f"), QStringLiteral("uploaded")));
    writeFile(a.root(), QStringLiteral("f"), content);
    struct stat st;
    QVERIFY(::stat(QFile::encodeName(a.root() + QStringLiteral("/f")).constData(), &st) == 0);
    JournalEntry sent;
    sent.size = st.st_size;
    sent.mtimeNs = qint64(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
    sent.inode = st.st_ino;
    sent.mode = st.st_mode & 07777;
    {
        Journal bj(b.root());
        QVERIFY(bj.open());
        sent.blocks = bj.load().value(*RelativePath::fromString(QStringLiteral("f"))).blocks;
        QVERIFY(!sent.blocks.isEmpty());
        Journal aj(a.root());
        QVERIFY(aj.open());
        aj.setSent({ { *RelativePath::fromString(QStringLiteral("f")), sent } });
    }
    QVERIFY(QFile::remove(a.root() + QStringLiteral("/f")));

    QVERIFY(a.start());
    QTRY_VERIFY(!exists(b.root(), QStringLiteral("f")));
    QTRY_COMPARE(a.engine()->state(), EngineState::Idle);
    QTRY_COMPARE(b.engine()->state(), EngineState::Idle);
    QTRY_TREES_EQUAL(a.root(), b.root());
    QVERIFY(!exists(a.root(), QStringLiteral("f")));
}

// The local stat of `rel` as the Propagator records it for a Commit in flight.
static JournalEntry sentStat(const QString &root, const QString &rel)
{
    struct stat st;
    if (::lstat(QFile::encodeName(root + u'/' + rel).constData(), &st) != 0)
        return {};
    JournalEntry e;
    e.kind = S_ISDIR(st.st_mode) ? protocol::EntryKind::Directory : protocol::EntryKind::File;
    e.size = S_ISDIR(st.st_mode) ? 0 : st.st_size;
    e.mtimeNs = qint64(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
    e.inode = st.st_ino;
    e.mode = st.st_mode & 07777;
    return e;
}

// The server applies A's move (here through B, the same move), but A stopped before the
// answer (a crash, a stop, a broken connection): its journal holds only the Commit's
// moves (Journal::SentMove). Offline, A then deletes what it moved. Back online, the
// server's move is A's own, so the delete goes up (the move had looked like somebody
// else's, which wins over a delete: it came back, everywhere).
void tst_Sync::unansweredMoveThenDeleted_data()
{
    QTest::addColumn<QString>("from");
    QTest::addColumn<QString>("to");
    QTest::addColumn<QString>("deleted"); // by A after the move
    QTest::newRow("folder moved into a folder, that folder deleted")
        << QStringLiteral("s") << QStringLiteral("d/s") << QStringLiteral("d");
    QTest::newRow("folder renamed, then deleted") << QStringLiteral("s") << QStringLiteral("t") << QStringLiteral("t");
    QTest::newRow("folder renamed, then a file in it deleted")
        << QStringLiteral("s") << QStringLiteral("t") << QStringLiteral("t/f");
    QTest::newRow("file moved, then deleted") << QStringLiteral("d/f") << QStringLiteral("g") << QStringLiteral("g");
}

void tst_Sync::unansweredMoveThenDeleted()
{
    QFETCH(QString, from);
    QFETCH(QString, to);
    QFETCH(QString, deleted);
    TestClient a(QStringLiteral("alpha"), m_server->port());
    writeFile(a.root(), QStringLiteral("s/f"), "in s");
    writeFile(a.root(), QStringLiteral("d/f"), "in d");
    TestClient b(QStringLiteral("beta"), m_server->port());
    QVERIFY(startInSyncThenStopA(a, b));

    QVERIFY(QDir(b.root()).rename(from, to));
    QTRY_VERIFY(b.completed(to, QStringLiteral("moved")));
    QVERIFY(QDir(a.root()).rename(from, to));
    {
        Journal aj(a.root());
        QVERIFY(aj.open());
        aj.setSent({}, { { *RelativePath::fromString(from), *RelativePath::fromString(to), sentStat(a.root(), to) } });
    }
    const QString gone = a.root() + u'/' + deleted;
    QVERIFY(QFileInfo(gone).isDir() ? QDir(gone).removeRecursively() : QFile::remove(gone));

    QVERIFY(a.start());
    QTRY_VERIFY(!exists(b.root(), deleted));
    QTRY_COMPARE(a.engine()->state(), EngineState::Idle);
    QTRY_COMPARE(b.engine()->state(), EngineState::Idle);
    QTRY_TREES_EQUAL(a.root(), b.root());
    QVERIFY(!exists(a.root(), deleted));
    QVERIFY(!exists(a.root(), from));
    QVERIFY(conflictCopies(a.root()).isEmpty());
}

// As above, but A renames the moved folder again while offline: its second name stays
// (the server's move, taken for somebody else's, had won, and A renamed it back).
void tst_Sync::unansweredMoveThenRenamedAgain()
{
    TestClient a(QStringLiteral("alpha"), m_server->port());
    writeFile(a.root(), QStringLiteral("s/f"), "in s");
    TestClient b(QStringLiteral("beta"), m_server->port());
    QVERIFY(startInSyncThenStopA(a, b));

    QVERIFY(QDir(b.root()).rename(QStringLiteral("s"), QStringLiteral("t")));
    QTRY_VERIFY(b.completed(QStringLiteral("t"), QStringLiteral("moved")));
    QVERIFY(QDir(a.root()).rename(QStringLiteral("s"), QStringLiteral("t")));
    {
        Journal aj(a.root());
        QVERIFY(aj.open());
        aj.setSent({},
            { { *RelativePath::fromString(QStringLiteral("s")), *RelativePath::fromString(QStringLiteral("t")),
                sentStat(a.root(), QStringLiteral("t")) } });
    }
    QVERIFY(QDir(a.root()).rename(QStringLiteral("t"), QStringLiteral("u")));

    QVERIFY(a.start());
    QTRY_VERIFY(exists(b.root(), QStringLiteral("u/f")));
    QTRY_COMPARE(a.engine()->state(), EngineState::Idle);
    QTRY_COMPARE(b.engine()->state(), EngineState::Idle);
    QTRY_TREES_EQUAL(a.root(), b.root());
    QVERIFY(!exists(a.root(), QStringLiteral("t")));
    QCOMPARE(readFile(a.root(), QStringLiteral("u/f")), QByteArray("in s"));
}

// A's upload of f (or its new folder f) landed, A stopped before the answer, and B then
// deleted f or moved it to g. Back online, A knows from f's tombstone that what was
// removed is what it sent: the delete or the move applies on A too (A had uploaded f
// again as new, and the deleted f came back everywhere, or stood beside g).
void tst_Sync::unansweredUploadRemovedThere_data()
{
    QTest::addColumn<bool>("folder");
    QTest::addColumn<QString>("movedTo"); // empty: deleted
    QTest::newRow("file deleted") << false << QString();
    QTest::newRow("file moved") << false << QStringLiteral("g");
    QTest::newRow("folder deleted") << true << QString();
}

void tst_Sync::unansweredUploadRemovedThere()
{
    QFETCH(bool, folder);
    QFETCH(QString, movedTo);
    TestClient a(QStringLiteral("alpha"), m_server->port());
    TestClient b(QStringLiteral("beta"), m_server->port());
    QVERIFY(startInSyncThenStopA(a, b));

    // The server gets f (here through B, with the same bytes and mode A has).
    const QString f = QStringLiteral("f");
    const QByteArray content = randomBytes(200'000, 9);
    if (folder) {
        makeDir(b.root(), f);
        makeDir(a.root(), f);
    } else {
        writeFile(b.root(), f, content);
        writeFile(a.root(), f, content);
    }
    QTRY_VERIFY(b.completed(f, QStringLiteral("uploaded")));
    JournalEntry sent = sentStat(a.root(), f);
    {
        Journal bj(b.root());
        QVERIFY(bj.open());
        sent.blocks = bj.load().value(*RelativePath::fromString(f)).blocks;
        QCOMPARE(sent.blocks.isEmpty(), folder);
        Journal aj(a.root());
        QVERIFY(aj.open());
        aj.setSent({ { *RelativePath::fromString(f), sent } }, {}, aj.cursor());
    }
    if (movedTo.isEmpty()) {
        QVERIFY(folder ? QDir(b.root()).rmdir(f) : QFile::remove(b.root() + u'/' + f));
        QTRY_VERIFY(b.completed(f, QStringLiteral("deleted")));
    } else {
        QVERIFY(QDir(b.root()).rename(f, movedTo));
        QTRY_VERIFY(b.completed(movedTo, QStringLiteral("moved")));
    }

    QVERIFY(a.start());
    QTRY_VERIFY(!exists(a.root(), f));
    QTRY_COMPARE(a.engine()->state(), EngineState::Idle);
    QTRY_COMPARE(b.engine()->state(), EngineState::Idle);
    QTRY_TREES_EQUAL(a.root(), b.root());
    QVERIFY(!exists(b.root(), f));
    if (!movedTo.isEmpty())
        QCOMPARE(readFile(a.root(), movedTo), content);
    QVERIFY(conflictCopies(a.root()).isEmpty());
}

// A's move of d/f to g landed, A stopped before the answer, and B then deleted g: the
// delete applies on A (A had uploaded g again as new).
void tst_Sync::unansweredMoveThenDeletedThere()
{
    TestClient a(QStringLiteral("alpha"), m_server->port());
    writeFile(a.root(), QStringLiteral("d/f"), "in d");
    TestClient b(QStringLiteral("beta"), m_server->port());
    QVERIFY(startInSyncThenStopA(a, b));

    QVERIFY(QDir(b.root()).rename(QStringLiteral("d/f"), QStringLiteral("g")));
    QTRY_VERIFY(b.completed(QStringLiteral("g"), QStringLiteral("moved")));
    QVERIFY(QDir(a.root()).rename(QStringLiteral("d/f"), QStringLiteral("g")));
    {
        Journal aj(a.root());
        QVERIFY(aj.open());
        JournalEntry sent = sentStat(a.root(), QStringLiteral("g"));
        sent.blocks = aj.load().value(*RelativePath::fromString(QStringLiteral("d/f"))).blocks;
        aj.setSent({},
            { { *RelativePath::fromString(QStringLiteral("d/f")), *RelativePath::fromString(QStringLiteral("g")),
                sent } },
            aj.cursor());
    }
    QVERIFY(QFile::remove(b.root() + QStringLiteral("/g")));
    QTRY_VERIFY(b.completed(QStringLiteral("g"), QStringLiteral("deleted")));

    QVERIFY(a.start());
    QTRY_VERIFY(!exists(a.root(), QStringLiteral("g")));
    QTRY_COMPARE(a.engine()->state(), EngineState::Idle);
    QTRY_COMPARE(b.engine()->state(), EngineState::Idle);
    QTRY_TREES_EQUAL(a.root(), b.root());
    QVERIFY(!exists(b.root(), QStringLiteral("g")));
    QVERIFY(!exists(a.root(), QStringLiteral("d/f")));
}

// A read the feed up to B's delete of f and planned a put of f with the very bytes f had
// (its journal no longer knew f), but the server never applied that Commit (refused
// whole, or lost with the connection) and A's cursor stayed before the delete. The
// tombstone, older than what A knew when it sent, is no sign that the put landed: f stays
// and goes up again (taken as landed and deleted there, it was deleted here: lost).
void tst_Sync::unappliedUploadOverAnOlderTombstone()
{
    TestClient a(QStringLiteral("alpha"), m_server->port());
    const QByteArray content = randomBytes(100'000, 4);
    writeFile(a.root(), QStringLiteral("f"), content);
    TestClient b(QStringLiteral("beta"), m_server->port());
    QVERIFY(startInSyncThenStopA(a, b));

    QVERIFY(QFile::remove(b.root() + QStringLiteral("/f")));
    QTRY_VERIFY(b.completed(QStringLiteral("f"), QStringLiteral("deleted")));
    QTRY_COMPARE(b.engine()->state(), EngineState::Idle);
    quint64 deletedAt = 0;
    {
        Journal bj(b.root());
        QVERIFY(bj.open());
        deletedAt = bj.cursor();
        Journal aj(a.root());
        QVERIFY(aj.open());
        QVERIFY(aj.cursor() < deletedAt);
        JournalEntry sent = sentStat(a.root(), QStringLiteral("f"));
        const RelativePath f = *RelativePath::fromString(QStringLiteral("f"));
        sent.blocks = aj.load().value(f).blocks;
        aj.remove(f);
        aj.setSent({ { f, sent } }, {}, deletedAt);
    }

    QVERIFY(a.start());
    QTRY_COMPARE(a.engine()->state(), EngineState::Idle);
    QTRY_COMPARE(b.engine()->state(), EngineState::Idle);
    QTRY_TREES_EQUAL(a.root(), b.root());
    QCOMPARE(readFile(a.root(), QStringLiteral("f")), content);
}

// A, offline, replaces the folder d by a file d while B creates d/new: both are kept,
// the folder with B's work and A's file as a conflict copy (the server refused A's file
// over its folder in every cycle, for ever).
void tst_Sync::folderBecameAFileWhileFilledElsewhere()
{
    TestClient a(QStringLiteral("alpha"), m_server->port());
    makeDir(a.root(), QStringLiteral("d"));
    TestClient b(QStringLiteral("beta"), m_server->port());
    QVERIFY(startInSyncThenStopA(a, b));

    writeFile(b.root(), QStringLiteral("d/new"), "new in d");
    QTRY_VERIFY(b.completed(QStringLiteral("d/new"), QStringLiteral("uploaded")));
    QVERIFY(QDir(a.root()).rmdir(QStringLiteral("d")));
    writeFile(a.root(), QStringLiteral("d"), "a file where d was");

    QVERIFY(a.start());
    QTRY_TREES_EQUAL(a.root(), b.root());
    QTRY_COMPARE(a.engine()->state(), EngineState::Idle);
    QTRY_COMPARE(b.engine()->state(), EngineState::Idle);
    QTRY_TREES_EQUAL(a.root(), b.root());
    QCOMPARE(readFile(a.root(), QStringLiteral("d/new")), QByteArray("new in d"));
    const QStringList copies = conflictCopies(a.root());
    QCOMPARE(copies.size(), 1);
    QCOMPARE(readFile(a.root(), copies.first()), QByteArray("a file where d was"));
}

namespace {
// The version the folder's journal holds for `path` (0: none), read with the engine stopped.
quint64 journalVersion(const QString &root, const QString &path)
{
    Journal journal(root);
    if (!journal.open())
        return 0;
    return journal.load().value(*RelativePath::fromString(path)).version;
}
} // namespace

// As above, but B deleted d and made it again before filling it: d comes back on A at
// the server's version of it, not the one A's journal had (which it then kept for good).
void tst_Sync::folderBecameAFileWhileMadeAgainElsewhere()
{
    TestClient a(QStringLiteral("alpha"), m_server->port());
    makeDir(a.root(), QStringLiteral("d"));
    TestClient b(QStringLiteral("beta"), m_server->port());
    QVERIFY(startInSyncThenStopA(a, b));

    QVERIFY(QDir(b.root()).rmdir(QStringLiteral("d")));
    QTRY_VERIFY(b.completed(QStringLiteral("d"), QStringLiteral("deleted")));
    writeFile(b.root(), QStringLiteral("d/new"), "new in d");
    QTRY_VERIFY(b.completed(QStringLiteral("d/new"), QStringLiteral("uploaded")));
    QVERIFY(QDir(a.root()).rmdir(QStringLiteral("d")));
    writeFile(a.root(), QStringLiteral("d"), "a file where d was");

    QVERIFY(a.start());
    QTRY_TREES_EQUAL(a.root(), b.root());
    QTRY_COMPARE(a.engine()->state(), EngineState::Idle);
    QTRY_COMPARE(b.engine()->state(), EngineState::Idle);
    QTRY_TREES_EQUAL(a.root(), b.root());
    QTRY_COMPARE(storedCursor(a.root()), storedCursor(b.root()));
    QCOMPARE(conflictCopies(a.root()).size(), 1);
    a.stop();
    b.stop();
    const quint64 version = journalVersion(b.root(), QStringLiteral("d"));
    QVERIFY(version > 0);
    QCOMPARE(journalVersion(a.root(), QStringLiteral("d")), version);
}

// A server change that cannot be applied here whatever the engine retries (a special
// file, which is never synced, sits at the path of a new folder) holds the cursor; once
// the follow-ups gave up, the engine says which path waits and why instead of looking
// up to date.
void tst_Sync::pathBlockedHereIsReported()
{
    TestClient a(QStringLiteral("alpha"), m_server->port());
    TestClient b(QStringLiteral("beta"), m_server->port());
    QVERIFY(startInSync(a, b));
    QSignalSpy warnings(b.engine(), &SyncEngine::warning);
    QVERIFY(::mkfifo(QFile::encodeName(b.root() + QStringLiteral("/p")).constData(), 0644) == 0);
    makeDir(a.root(), QStringLiteral("p"));
    QTRY_VERIFY(a.completed(QStringLiteral("p"), QStringLiteral("uploaded")));
    const auto reported = [&] {
        for (const QList<QVariant> &args : std::as_const(warnings)) {
            const QString w = args.first().toString();
            if (w.startsWith(QStringLiteral("Not synced yet"))
                && w.contains(QStringLiteral("p: a link or special file is in the way")))
                return true;
        }
        return false;
    };
    QTRY_VERIFY_WITH_TIMEOUT(reported(), 15000);
    QCOMPARE(b.engine()->state(), EngineState::Idle);
}

QTEST_GUILESS_MAIN(tst_Sync)
#include "tst_sync.moc"
