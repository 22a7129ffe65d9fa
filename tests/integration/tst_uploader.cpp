#include "blockcodec.h"
#include "scanner.h"
#include "serverconnection.h"
#include "testcluster.h"
#include "testtree.h"
#include "uploader.h"

#include <QDir>
#include <QFile>
#include <QSet>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>

#include <cstdio>
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>

using namespace filesync;
using namespace filesync::test;
using namespace filesync::protocol;

// The Uploader against the real server core on 127.0.0.1, from a real folder scanned by
// the real Scanner: what the scan hashed is sent without hashing it again while the
// file's stat stays the scan's, and a file that changed after the scan is never committed
// with content it does not have (its op waits for the next cycle, the others go on).
class tst_Uploader : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void init();
    void cleanup();
    void unchangedFilesAreSentOnTheScansWord();
    void aFreshFileIsProvenByItsUpload();
    void fileChangedAfterTheScanIsNotCommitted_data();
    void fileChangedAfterTheScanIsNotCommitted();
    void bytesThatDoNotMatchTheScanAreRefused();
    void requestsInFlightAreBounded();
    void smallBlocksGoSeveralToARequest();
    void sharedBlocksGoOnceAndMovesAndDeletesKeepTheirFields();

private:
    struct Run
    {
        bool complete = false;
        QStringList applied;
        QHash<QString, quint64> versions;
        QHash<QString, SyncAction> actions; // as opApplied reported them
        int trusted = 0;
        int hashed = 0;
        int peakPuts = 0;
        int putBatches = 0; // PutBlocks requests
        int resultBatches = 0; // resultsStarting .. resultsDone pairs
        int outsideBatch = 0; // op results reported outside such a pair (must stay 0)
        bool inBatch = false;
    };
    // Every file of the folder, as the scanner sees it now, as Upload actions.
    QList<SyncAction> scanUploads() const;
    Run upload(const QList<SyncAction> &ops);
    // What the server holds at `path`: its bytes, or a null array when it has no file there.
    QByteArray serverContent(const QString &path);
    // Returns once a change made now gets another ctime than the files written so far.
    static void waitForTheNextClockTick();

    std::unique_ptr<TestServer> m_server;
    std::unique_ptr<QTemporaryDir> m_folder;
    std::unique_ptr<ServerConnection> m_connection;
    QString m_accountId;
};

void tst_Uploader::init()
{
    m_server = std::make_unique<TestServer>();
    QVERIFY(m_server->start());
    m_folder = std::make_unique<QTemporaryDir>();
    m_connection = newAccountConnection(m_server->port(), &m_accountId);
    QVERIFY(m_connection);
    QVERIFY(!m_accountId.isEmpty());
}

void tst_Uploader::cleanup()
{
    m_connection.reset();
    m_folder.reset();
    m_server.reset();
}

QList<SyncAction> tst_Uploader::scanUploads() const
{
    const Scanner::Result scan = Scanner::scan(m_folder->path(), JournalState());
    QList<SyncAction> ops;
    for (auto it = scan.snapshot.cbegin(); it != scan.snapshot.cend(); ++it) {
        if (it->isDir() || it->unreadable)
            continue;
        SyncAction a;
        a.type = ActionType::Upload;
        a.path = it.key();
        a.kind = EntryKind::File;
        a.local = *it;
        ops.append(a);
    }
    return ops;
}

tst_Uploader::Run tst_Uploader::upload(const QList<SyncAction> &ops)
{
    Uploader uploader(m_folder->path(), *m_connection);
    Run run;
    connect(&uploader, &Uploader::resultsStarting, this, [&run] {
        run.outsideBatch += run.inBatch ? 1 : 0; // nested: counted as a break of the pairing
        run.inBatch = true;
    });
    connect(&uploader, &Uploader::resultsDone, this, [&run] {
        run.resultBatches += run.inBatch ? 1 : 0;
        run.inBatch = false;
    });
    connect(&uploader, &Uploader::opApplied, this, [&run](const SyncAction &a, quint64 version) {
        run.outsideBatch += run.inBatch ? 0 : 1;
        run.applied.append(a.path.toString());
        run.versions.insert(a.path.toString(), version);
        run.actions.insert(a.path.toString(), a);
    });
    QSignalSpy finished(&uploader, &Uploader::finished);
    uploader.run(ops, JournalState());
    if (finished.isEmpty() && !finished.wait(60000))
        return run;
    run.complete = finished.first().first().toBool();
    run.trusted = uploader.trustedReads();
    run.hashed = uploader.hashedReads();
    run.peakPuts = uploader.peakPutsInFlight();
    run.putBatches = uploader.batchesSent();
    run.applied.sort();
    return run;
}

QByteArray tst_Uploader::serverContent(const QString &path)
{
    std::optional<Changes> changes;
    m_connection->getChanges(0, [&changes](const Reply<Changes> &r) { changes = r ? *r : Changes(); });
    [&] { QTRY_VERIFY_WITH_TIMEOUT(changes.has_value(), 10000); }();
    for (const FileEntry &e : std::as_const(changes->entries)) {
        if (e.path.toString() != path || e.deleted)
            continue;
        QByteArray content("");
        int pending = int(e.blocks.size());
        for (const BlockRef &b : e.blocks) {
            m_connection->getBlock(b.hash, [&content, &pending](const Reply<BlockPayload> &r) {
                --pending;
                if (const auto raw = r ? decodeAndVerify(*r) : Result<QByteArray>(makeError({})); raw)
                    content += *raw; // replies come in request order
                else
                    content = QByteArray("unreadable block");
            });
        }
        [&] { QTRY_COMPARE_WITH_TIMEOUT(pending, 0, 10000); }();
        return content;
    }
    return QByteArray();
}

void tst_Uploader::waitForTheNextClockTick()
{
    // File times come from the kernel's coarse clock: a change within the tick of the
    // scanned ctime would look like no change at all (see the risk in uploader.h).
    struct timespec start;
    ::clock_gettime(CLOCK_REALTIME_COARSE, &start);
    QTRY_VERIFY_WITH_TIMEOUT(
        [&start] {
            struct timespec now;
            ::clock_gettime(CLOCK_REALTIME_COARSE, &now);
            return now.tv_sec > start.tv_sec || now.tv_nsec > start.tv_nsec + 20'000'000;
        }(),
        5000);
}

void tst_Uploader::unchangedFilesAreSentOnTheScansWord()
{
    QHash<QString, QByteArray> contents;
    for (int i = 0; i < 30; ++i)
        contents.insert(QStringLiteral("small%1.bin").arg(i), randomBytes(1000 + i * 500, quint32(i + 1)));
    contents.insert(QStringLiteral("big.bin"), randomBytes(3 * 1024 * 1024, 99)); // many blocks
    contents.insert(QStringLiteral("text.txt"), QByteArray("a line of text\n").repeated(5000));
    for (auto it = contents.cbegin(); it != contents.cend(); ++it)
        writeFile(m_folder->path(), it.key(), it.value());
    const QList<SyncAction> ops = scanUploads();
    QCOMPARE(ops.size(), contents.size());
    QSet<ContentHash> blocks;
    for (const SyncAction &a : ops) {
        for (const BlockRef &b : a.local->blocks)
            blocks.insert(b.hash);
    }
    QVERIFY(blocks.size() > contents.size()); // the big file has several

    const Run run = upload(ops);
    QVERIFY(run.complete);
    QCOMPARE(run.applied.size(), contents.size());
    QCOMPARE(run.trusted, int(blocks.size()));
    QCOMPARE(run.hashed, 0);
    // Every result came inside a resultsStarting/resultsDone pair (the propagator's one
    // journal transaction per Commit reply), and every pair was closed.
    QCOMPARE(run.outsideBatch, 0);
    QVERIFY(run.resultBatches >= 1);
    QVERIFY(!run.inBatch);
    for (auto it = contents.cbegin(); it != contents.cend(); ++it)
        QCOMPARE(serverContent(it.key()), it.value());
}

// The scan read these files within 100 ms of their last write (racy: their stat alone
// proves nothing yet, so the next scan would read them again). The upload reads them again
// later, unchanged, and the server verifies the bytes: a one-block file is then recorded
// with the proof (readAfterCtime), a bigger one, read only in part per block, is not.
void tst_Uploader::aFreshFileIsProvenByItsUpload()
{
    const QString root = m_folder->path();
    writeFile(root, QStringLiteral("fresh.txt"), "written just now");
    writeFile(root, QStringLiteral("fresh-big.bin"), randomBytes(600 * 1024, 8)); // several blocks
    const QList<SyncAction> ops = scanUploads();
    QCOMPARE(ops.size(), 2);
    qint64 newestCtime = 0;
    for (const SyncAction &a : ops) {
        if (a.local->readAfterCtime)
            QSKIP("the scan came more than 100 ms after the writes (a loaded machine): nothing to prove");
        newestCtime = qMax(newestCtime, a.local->ctimeNs);
    }
    // Clearly after the ctimes now (bounded wait, no fixed sleep).
    QTRY_VERIFY_WITH_TIMEOUT(
        [newestCtime] {
            struct timespec now;
            ::clock_gettime(CLOCK_REALTIME, &now);
            return qint64(now.tv_sec) * 1'000'000'000 + now.tv_nsec > newestCtime + 150'000'000;
        }(),
        5000);
    const Run run = upload(ops);
    QVERIFY(run.complete);
    QCOMPARE(run.hashed, 0); // read on the scan's word, as before
    QVERIFY(run.actions.value(QStringLiteral("fresh.txt")).local->readAfterCtime);
    QVERIFY(!run.actions.value(QStringLiteral("fresh-big.bin")).local->readAfterCtime);
    QCOMPARE(serverContent(QStringLiteral("fresh.txt")), QByteArray("written just now"));
}

void tst_Uploader::fileChangedAfterTheScanIsNotCommitted_data()
{
    QTest::addColumn<QString>("change");
    // Whether a block the scan hashed is gone: then the file is not committed now. Else
    // (bytes appended) every scanned block is still there and the scanned state is
    // committed, a state the file really had; the appended bytes go next cycle.
    QTest::addColumn<bool>("scannedBytesGone");
    QTest::newRow("rewritten, same size") << QStringLiteral("rewrite") << true;
    QTest::newRow("rewritten, mtime set back") << QStringLiteral("rewrite-keep-mtime") << true;
    QTest::newRow("replaced by rename, same size and mtime") << QStringLiteral("replace") << true;
    QTest::newRow("truncated") << QStringLiteral("truncate") << true;
    QTest::newRow("a middle block rewritten") << QStringLiteral("middle") << true;
    QTest::newRow("grown") << QStringLiteral("grow") << false;
}

void tst_Uploader::fileChangedAfterTheScanIsNotCommitted()
{
    QFETCH(QString, change);
    QFETCH(bool, scannedBytesGone);
    const QString root = m_folder->path();
    const QByteArray original = randomBytes(600 * 1024, 5); // several blocks
    const QByteArray bystander = randomBytes(7000, 6);
    writeFile(root, QStringLiteral("victim.bin"), original);
    writeFile(root, QStringLiteral("bystander.bin"), bystander);
    const QList<SyncAction> ops = scanUploads();
    QCOMPARE(ops.size(), 2);
    const LocalEntry scanned = *ops.at(1).local;
    QCOMPARE(ops.at(1).path.toString(), QStringLiteral("victim.bin"));

    waitForTheNextClockTick();
    const QString victim = root + QStringLiteral("/victim.bin");
    QByteArray now = original;
    if (change == QLatin1String("grow")) {
        now += QByteArray("more");
    } else if (change == QLatin1String("truncate")) {
        now.chop(1000);
    } else if (change == QLatin1String("middle")) {
        now[300 * 1024] = char(~now.at(300 * 1024));
    } else {
        now = randomBytes(original.size(), 7);
    }
    if (change == QLatin1String("replace")) {
        writeFile(root, QStringLiteral("victim.tmp"), now);
        QCOMPARE(::rename(QFile::encodeName(root + QStringLiteral("/victim.tmp")).constData(),
                     QFile::encodeName(victim).constData()),
            0);
    } else if (change == QLatin1String("middle")) {
        QFile f(victim);
        QVERIFY(f.open(QIODevice::ReadWrite));
        QVERIFY(f.seek(300 * 1024));
        QCOMPARE(f.write(now.mid(300 * 1024, 1)), 1);
    } else {
        writeFile(root, QStringLiteral("victim.bin"), now);
    }
    if (change == QLatin1String("rewrite-keep-mtime") || change == QLatin1String("replace")) {
        // The scan's mtime back in place: only ctime (or the inode) tells the change.
        const struct timespec times[2]
            = { { 0, UTIME_OMIT }, { time_t(scanned.mtimeNs / 1'000'000'000), long(scanned.mtimeNs % 1'000'000'000) } };
        QCOMPARE(::utimensat(AT_FDCWD, QFile::encodeName(victim).constData(), times, 0), 0);
        struct stat st;
        QCOMPARE(::stat(QFile::encodeName(victim).constData(), &st), 0);
        QCOMPARE(qint64(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec, scanned.mtimeNs);
        QCOMPARE(qint64(st.st_size), scanned.size);
    }

    const Run run = upload(ops);
    QVERIFY(run.hashed > 0); // the stat moved: every block read was hashed again
    QCOMPARE(run.trusted, 1); // the bystander, unchanged, in one block
    QCOMPARE(serverContent(QStringLiteral("bystander.bin")), bystander);
    if (scannedBytesGone) {
        QVERIFY(!run.complete); // the victim waits for the next cycle
        QCOMPARE(run.applied, QStringList { QStringLiteral("bystander.bin") });
        QVERIFY(serverContent(QStringLiteral("victim.bin")).isNull()); // nothing of it committed
    } else {
        QVERIFY(run.complete);
        QCOMPARE(run.applied, (QStringList { QStringLiteral("bystander.bin"), QStringLiteral("victim.bin") }));
        QCOMPARE(serverContent(QStringLiteral("victim.bin")), original);
    }

    // The next cycle's scan sees the new content, and that goes.
    QList<SyncAction> again = scanUploads();
    again.removeIf([](const SyncAction &a) { return a.path.toString() != QLatin1String("victim.bin"); });
    QCOMPARE(again.size(), 1);
    again[0].base = run.versions.value(QStringLiteral("victim.bin"));
    const Run next = upload(again);
    QVERIFY(next.complete);
    QCOMPARE(next.applied, QStringList { QStringLiteral("victim.bin") });
    QCOMPARE(serverContent(QStringLiteral("victim.bin")), now);
}

// Where the stat cannot tell (a scan that read the file in the very clock tick of a
// write, so that a later write in that tick leaves the same stat): the bytes go on the
// scan's word, the server hashes them, refuses the block and stores nothing, and the op
// is not committed. Simulated with a scan result whose blocks describe other bytes.
void tst_Uploader::bytesThatDoNotMatchTheScanAreRefused()
{
    const QString root = m_folder->path();
    const QByteArray onDisk = randomBytes(5000, 8);
    const QByteArray scannedBytes = randomBytes(5000, 9);
    writeFile(root, QStringLiteral("torn.bin"), onDisk);
    QList<SyncAction> ops = scanUploads();
    QCOMPARE(ops.size(), 1);
    const ContentHash claimed = ContentHash::of(scannedBytes);
    ops[0].local->blocks = { BlockRef { claimed, quint32(scannedBytes.size()) } };

    const Run run = upload(ops);
    QVERIFY(!run.complete);
    QVERIFY(run.applied.isEmpty());
    QCOMPARE(run.trusted, 1);

    // A fresh connection to the same account: the server neither holds the claimed block
    // for it nor lists the file.
    m_connection = std::make_unique<ServerConnection>(QStringLiteral("127.0.0.1"), m_server->port());
    QSignalSpy ready(m_connection.get(), &ServerConnection::ready);
    m_connection->open();
    QVERIFY(ready.wait(10000));
    bool loggedIn = false;
    m_connection->login(
        m_accountId, QStringLiteral("check"), [&loggedIn](const Reply<LoginOk> &r) { loggedIn = bool(r); });
    QTRY_VERIFY(loggedIn);
    std::optional<QList<ContentHash>> missing;
    m_connection->queryBlocks({ claimed, ContentHash::of(onDisk) },
        [&missing](const Reply<QueryBlocksReply> &r) { missing = r ? r->missing : QList<ContentHash>(); });
    QTRY_VERIFY(missing.has_value());
    QCOMPARE(missing->size(), 2);
    QVERIFY(serverContent(QStringLiteral("torn.bin")).isNull());
}

// Many small files: far below the byte window, yet the requests in flight stay bounded
// (each is a send buffer and a pending reply), and everything still arrives.
void tst_Uploader::requestsInFlightAreBounded()
{
    const int count = Uploader::kMaxPutsInFlight * 3;
    for (int i = 0; i < count; ++i)
        writeFile(m_folder->path(), QStringLiteral("f%1.bin").arg(i), randomBytes(200 + i % 100, quint32(i + 10)));
    const QList<SyncAction> ops = scanUploads();
    QCOMPARE(ops.size(), count);
    const Run run = upload(ops);
    QVERIFY(run.complete);
    QCOMPARE(run.applied.size(), count);
    QCOMPARE(run.trusted, count);
    QVERIFY(run.peakPuts > 1); // pipelined
    QVERIFY(run.peakPuts <= Uploader::kMaxPutsInFlight);
    QCOMPARE(serverContent(QStringLiteral("f7.bin")), randomBytes(207, 17));
}

// Small blocks go up to kBatchBlocks to a PutBlocks, one request and one reply for many
// files; blocks over kBatchBlockBytes go one PutBlock each. Every file arrives whole.
void tst_Uploader::smallBlocksGoSeveralToARequest()
{
    const int count = 2 * kBatchBlocks + 10;
    for (int i = 0; i < count; ++i)
        writeFile(m_folder->path(), QStringLiteral("f%1.bin").arg(i), randomBytes(500 + i % 1000, quint32(i + 300)));
    const QByteArray big = randomBytes(3 * 1024 * 1024, 77); // blocks of 16 to 256 KiB
    writeFile(m_folder->path(), QStringLiteral("big.bin"), big);
    const Run run = upload(scanUploads());
    QVERIFY(run.complete);
    QCOMPARE(run.applied.size(), count + 1);
    QVERIFY2(run.putBatches >= (count + kBatchBlocks - 1) / kBatchBlocks && run.putBatches <= count / 20,
        qPrintable(QString::number(run.putBatches)));
    QCOMPARE(serverContent(QStringLiteral("big.bin")), big);
    for (const int i : { 0, 255, 256, count - 1 })
        QCOMPARE(serverContent(QStringLiteral("f%1.bin").arg(i)), randomBytes(500 + i % 1000, quint32(i + 300)));
}

// The Uploader keeps its own compact record per op and one table entry per distinct
// block: a block used by two files is asked about and sent once and both wait for it; a
// block the server holds already is not sent; a move and a delete among the uploads keep
// their source, base and scanned state (what the journal is written from).
void tst_Uploader::sharedBlocksGoOnceAndMovesAndDeletesKeepTheirFields()
{
    const QString root = m_folder->path();
    const QByteArray a = randomBytes(3000, 41);
    const QByteArray b = randomBytes(2000, 42);
    const QByteArray twin = randomBytes(1500, 43);
    writeFile(root, QStringLiteral("a.bin"), a);
    writeFile(root, QStringLiteral("b.bin"), b);
    writeFile(root, QStringLiteral("twin1.bin"), twin);
    writeFile(root, QStringLiteral("twin2.bin"), twin);
    const QList<SyncAction> first = scanUploads();
    QCOMPARE(first.size(), 4);
    const Run one = upload(first);
    QVERIFY(one.complete);
    QCOMPARE(one.applied,
        QStringList({ QStringLiteral("a.bin"), QStringLiteral("b.bin"), QStringLiteral("twin1.bin"),
            QStringLiteral("twin2.bin") }));
    QCOMPARE(one.trusted, 3); // the twins' block once
    for (const SyncAction &scanned : first) {
        const SyncAction reported = one.actions.value(scanned.path.toString());
        QVERIFY(reported.local.has_value());
        QCOMPARE(reported.local->blocks, scanned.local->blocks);
        QCOMPARE(reported.local->blockChecks, scanned.local->blockChecks);
        QCOMPARE(reported.local->inode, scanned.local->inode);
        QCOMPARE(reported.local->ctimeNs, scanned.local->ctimeNs);
    }
    QCOMPARE(serverContent(QStringLiteral("twin2.bin")), twin);

    // a.bin moved to c.bin, b.bin deleted, d.bin holds a's bytes, e.bin is new.
    QVERIFY(QFile::rename(root + QStringLiteral("/a.bin"), root + QStringLiteral("/c.bin")));
    QVERIFY(QFile::remove(root + QStringLiteral("/b.bin")));
    const QByteArray e = randomBytes(2500, 44);
    writeFile(root, QStringLiteral("d.bin"), a);
    writeFile(root, QStringLiteral("e.bin"), e);
    QList<SyncAction> second;
    const QList<SyncAction> now = scanUploads();
    for (const SyncAction &s : now) {
        if (s.path.toString() == QLatin1String("c.bin")) {
            SyncAction move = s;
            move.type = ActionType::MoveRemote;
            move.from = *RelativePath::fromString(QStringLiteral("a.bin"));
            move.base = one.versions.value(QStringLiteral("a.bin"));
            second.prepend(move);
        }
    }
    SyncAction del;
    del.type = ActionType::DeleteRemote;
    del.kind = EntryKind::File;
    del.path = *RelativePath::fromString(QStringLiteral("b.bin"));
    del.base = one.versions.value(QStringLiteral("b.bin"));
    second.append(del);
    for (const SyncAction &s : now) {
        if (s.path.toString() == QLatin1String("d.bin") || s.path.toString() == QLatin1String("e.bin"))
            second.append(s);
    }
    QCOMPARE(second.size(), 4);
    const Run two = upload(second);
    QVERIFY(two.complete);
    QCOMPARE(two.applied,
        QStringList(
            { QStringLiteral("b.bin"), QStringLiteral("c.bin"), QStringLiteral("d.bin"), QStringLiteral("e.bin") }));
    QCOMPARE(two.trusted, 1); // only e's block: a's is on the server already
    const SyncAction moved = two.actions.value(QStringLiteral("c.bin"));
    QCOMPARE(moved.type, ActionType::MoveRemote);
    QCOMPARE(moved.from.toString(), QStringLiteral("a.bin"));
    QCOMPARE(moved.base, one.versions.value(QStringLiteral("a.bin")));
    QVERIFY(moved.local.has_value());
    QCOMPARE(moved.local->inode, second.first().local->inode);
    const SyncAction deleted = two.actions.value(QStringLiteral("b.bin"));
    QCOMPARE(deleted.type, ActionType::DeleteRemote);
    QVERIFY(!deleted.local.has_value());
    QCOMPARE(serverContent(QStringLiteral("c.bin")), a);
    QCOMPARE(serverContent(QStringLiteral("d.bin")), a);
    QCOMPARE(serverContent(QStringLiteral("e.bin")), e);
    QVERIFY(serverContent(QStringLiteral("a.bin")).isNull());
    QVERIFY(serverContent(QStringLiteral("b.bin")).isNull());
}

QTEST_GUILESS_MAIN(tst_Uploader)
#include "tst_uploader.moc"
