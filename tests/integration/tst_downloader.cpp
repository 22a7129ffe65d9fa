#include "blockcodec.h"
#include "chunker.h"
#include "downloader.h"
#include "enginepools.h"
#include "journal.h"
#include "localblockcopier.h"
#include "scanner.h"
#include "serverconnection.h"
#include "testcluster.h"
#include "testtree.h"

#include <QBuffer>
#include <QDir>
#include <QFile>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>

#include <atomic>
#include <fcntl.h>
#include <functional>
#include <sys/stat.h>
#include <unistd.h>

using namespace filesync;
using namespace filesync::test;
using namespace filesync::protocol;

namespace {
// Counts the downloader's unread (stat-proven) copies, running `also` in each, while it
// lives. The hook refers to this object, so it is cleared on every way out of a test,
// a failed check included.
struct ProvenCopies
{
    std::atomic_int count { 0 };
    explicit ProvenCopies(std::function<void(const QString &source)> also = {})
    {
        LocalBlockCopier::setDuringProvenCopyForTests([this, also](const QString &source) {
            ++count;
            if (also)
                also(source);
        });
    }
    ~ProvenCopies() { LocalBlockCopier::setDuringProvenCopyForTests({}); }
    Q_DISABLE_COPY_MOVE(ProvenCopies)
};
} // namespace

// The Downloader against the real server core on 127.0.0.1, into a real folder with a
// real journal: group commit keeps its order (durable, then renamed, then durable again,
// then recorded), and its state stays bounded however long the plan.
class tst_Downloader : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void init();
    void cleanup();
    void manySmallFilesKeepTheOrderOfDurability();
    void batchesFetchWhatTheServerHas_data();
    void batchesFetchWhatTheServerHas();
    void userFilesAtNewPathsAreKept();
    void aFolderRenamedHereMeanwhileIsNotMadeAgain_data();
    void aFolderRenamedHereMeanwhileIsNotMadeAgain();
    void abortLeavesNoTempFiles();
    void abortRecordsWhatLanded();
    void aCrashBetweenRenameAndRecordLosesNothing();
    void patchCopiesUnchangedBlocksWithoutTheServer();
    void sourceChangedDuringTheCopyIsFetched();
    void sourceRewrittenWithItsOldMtimeIsVerified();
    void sourceWrittenHereIsVerified();
    void downloadsRecordTheBlocksChecks();

private:
    // A 24 MiB file of 96 blocks written into the folder with an old mtime and recorded
    // in the journal as the server's version 1 (as a download would have left it), and
    // its version 2 with blocks 40..43 new. Uploads version 2's new blocks, or with
    // `uploadAll` all of its blocks. Returns the action that downloads version 2.
    // `downloaded` false: the file keeps the stat its write gave it (mtime == ctime).
    SyncAction preparePatch(bool uploadAll, QByteArray &v1, QByteArray &v2, bool downloaded = true);
    bool upload(const QList<QByteArray> &blocks);
    // Runs the download of `action` with the journal as local sources; its completion.
    bool download(const SyncAction &action);
    // `count` files of a few hundred bytes, their blocks uploaded for the account.
    QList<SyncAction> uploadFiles(int count, QHash<QString, QByteArray> &contents);
    int tempFiles() const;

    std::unique_ptr<TestServer> m_server;
    std::unique_ptr<QTemporaryDir> m_folder;
    std::unique_ptr<Journal> m_journal;
    std::unique_ptr<ServerConnection> m_connection;
    QString m_accountId;
};

void tst_Downloader::init()
{
    m_server = std::make_unique<TestServer>();
    QVERIFY(m_server->start());
    m_folder = std::make_unique<QTemporaryDir>();
    m_journal = std::make_unique<Journal>(m_folder->path());
    QVERIFY(m_journal->open());
    m_connection = newAccountConnection(m_server->port(), &m_accountId);
    QVERIFY(m_connection);
}

void tst_Downloader::cleanup()
{
    m_connection.reset();
    m_journal.reset();
    m_folder.reset();
    m_server.reset();
}

QList<SyncAction> tst_Downloader::uploadFiles(int count, QHash<QString, QByteArray> &contents)
{
    QList<SyncAction> actions;
    int acknowledged = 0;
    for (int i = 0; i < count; ++i) {
        const QByteArray data = randomBytes(16 + (i * 37) % 300, quint32(i + 1));
        const ContentHash hash = ContentHash::of(data);
        const EncodedBlock encoded = encodeBlock(data);
        m_connection->putBlock(BlockPayload { hash, encoded.codec, quint32(data.size()), encoded.data },
            [&acknowledged](const Reply<Done> &r) { acknowledged += r ? 1 : 0; });
        const QString path = QStringLiteral("d%1/f%2.bin").arg(i % 50).arg(i);
        SyncAction a;
        a.type = ActionType::Download;
        a.path = *RelativePath::fromString(path);
        a.remote.path = a.path;
        a.remote.size = data.size();
        a.remote.mtimeMs = 1'600'000'000'000 + i;
        a.remote.mode = 0644;
        a.remote.blocks = { BlockRef { hash, quint32(data.size()) } };
        a.remote.version = quint64(i + 1);
        actions.append(a);
        contents.insert(path, data);
    }
    [&] { QTRY_COMPARE_WITH_TIMEOUT(acknowledged, count, 60000); }();
    return actions;
}

int tst_Downloader::tempFiles() const
{
    return int(QDir(Journal::metadataDir(m_folder->path()) + QStringLiteral("/tmp")).entryList(QDir::Files).size());
}

void tst_Downloader::manySmallFilesKeepTheOrderOfDurability()
{
    // More than kMaxUninstalled, so the plan must be taken in bounded steps.
    const int count = Downloader::kMaxUninstalled + 904;
    QHash<QString, QByteArray> contents;
    const QList<SyncAction> actions = uploadFiles(count, contents);
    if (QTest::currentTestFailed())
        return;

    EnginePools pools;
    Downloader downloader(m_folder->path(), *m_journal, *m_connection, pools);
    int durableRenames = 0; // renames made durable and not yet reported done
    int done = 0;
    int maxTemp = 0;
    int maxHeld = 0;
    QStringList problems;
    connect(&downloader, &Downloader::batchSynced, this, [&](int files, int renamed) {
        Q_UNUSED(files);
        durableRenames += renamed;
        maxTemp = qMax(maxTemp, tempFiles());
        maxHeld = qMax(maxHeld, downloader.filesHeld());
    });
    connect(&downloader, &Downloader::fileDone, this, [&](const SyncAction &a) {
        ++done;
        // Reported (and recorded) only after a sync that covered its rename.
        if (--durableRenames < 0)
            problems << QStringLiteral("%1 done before its rename was durable").arg(a.path.toString());
        QFile f(m_folder->path() + u'/' + a.path.toString());
        if (!f.open(QIODevice::ReadOnly) || f.readAll() != contents.value(a.path.toString()))
            problems << QStringLiteral("%1 done but not at its path").arg(a.path.toString());
    });
    QSignalSpy skipped(&downloader, &Downloader::fileSkipped);
    QSignalSpy finished(&downloader, &Downloader::finished);
    downloader.run(actions, {});
    QVERIFY(finished.wait(120000) || !finished.isEmpty());
    QCOMPARE(finished.first().first().toBool(), true);
    QCOMPARE(skipped.size(), 0);
    QVERIFY2(problems.isEmpty(), qPrintable(problems.mid(0, 5).join(u'\n')));
    QCOMPARE(done, count);
    QCOMPARE(durableRenames, 0);
    // Bounded: never a temp file (or a file's state) for every planned file at once.
    QVERIFY2(maxTemp <= Downloader::kMaxUninstalled, qPrintable(QString::number(maxTemp)));
    QVERIFY2(maxHeld <= Downloader::kMaxUninstalled, qPrintable(QString::number(maxHeld)));
    QCOMPARE(downloader.filesHeld(), 0);
    QCOMPARE(tempFiles(), 0);
    // The small blocks were asked for many to a GetBlocks.
    QVERIFY2(downloader.batchesFetched() >= count / kBatchBlocks && downloader.batchesFetched() <= count / 20,
        qPrintable(QString::number(downloader.batchesFetched())));

    const JournalState journal = m_journal->load();
    QCOMPARE(journal.size(), count);
    for (const SyncAction &a : actions) {
        const JournalEntry e = journal.value(a.path);
        QCOMPARE(e.version, a.remote.version);
        QCOMPARE(e.size, a.remote.size);
        QCOMPARE(e.blocks, a.remote.blocks);
        const QFileInfo info(m_folder->path() + u'/' + a.path.toString());
        QCOMPARE(info.lastModified().toMSecsSinceEpoch(), a.remote.mtimeMs);
    }
}

void tst_Downloader::batchesFetchWhatTheServerHas_data()
{
    QTest::addColumn<qint64>("replyBudget"); // the server's bytes per BlocksData
    QTest::newRow("whole replies") << kBatchReplyBudget;
    QTest::newRow("replies of a few blocks (the rest later)") << qint64(1000);
}

// Small blocks asked for many to a GetBlocks: a block the account does not hold fails its
// own file only (the server lists it as missing), blocks the server left out of a reply to
// keep it within its budget are asked for again.
void tst_Downloader::batchesFetchWhatTheServerHas()
{
    QFETCH(qint64, replyBudget);
    m_server->server()->setBatchReplyBudget(replyBudget);
    QHash<QString, QByteArray> contents;
    QList<SyncAction> actions = uploadFiles(300, contents);
    if (QTest::currentTestFailed())
        return;
    SyncAction ghost = actions.at(150); // a block nobody uploaded, among the others
    const QByteArray never = randomBytes(700, 999);
    ghost.path = *RelativePath::fromString(QStringLiteral("ghost.bin"));
    ghost.remote.path = ghost.path;
    ghost.remote.size = never.size();
    ghost.remote.blocks = { BlockRef { ContentHash::of(never), quint32(never.size()) } };
    actions.insert(150, ghost);

    EnginePools pools;
    Downloader downloader(m_folder->path(), *m_journal, *m_connection, pools);
    int done = 0;
    QStringList skipped;
    connect(&downloader, &Downloader::fileDone, this, [&done] { ++done; });
    connect(&downloader, &Downloader::fileSkipped, this,
        [&skipped](const SyncAction &a, const QString &reason) { skipped << a.path.toString() + u':' + reason; });
    QSignalSpy finished(&downloader, &Downloader::finished);
    downloader.run(actions, {});
    QVERIFY(finished.wait(60000) || !finished.isEmpty());
    QCOMPARE(finished.first().first().toBool(), false); // one file did not land
    QCOMPARE(skipped.size(), 1);
    QVERIFY2(skipped.first().startsWith(QStringLiteral("ghost.bin:")), qPrintable(skipped.first()));
    QCOMPARE(done, 300);
    QVERIFY(!QFile::exists(m_folder->path() + QStringLiteral("/ghost.bin")));
    for (auto it = contents.cbegin(); it != contents.cend(); ++it) {
        QFile f(m_folder->path() + u'/' + it.key());
        QVERIFY(f.open(QIODevice::ReadOnly));
        QCOMPARE(f.readAll(), it.value());
    }
    if (replyBudget < 2000) // at most seven blocks of 16 to 315 bytes a reply: asked again and again
        QVERIFY2(downloader.batchesFetched() >= 300 / 7, qPrintable(QString::number(downloader.batchesFetched())));
    else
        QVERIFY2(downloader.batchesFetched() >= 2 && downloader.batchesFetched() <= 10,
            qPrintable(QString::number(downloader.batchesFetched())));
    QCOMPARE(tempFiles(), 0);
}

// The plan saw nothing at these paths; the user made a file at one and a folder at another
// before the download landed. Neither is replaced (RENAME_NOREPLACE refuses, no stat
// before it): both downloads are skipped, the user's bytes stay, nothing is recorded.
void tst_Downloader::userFilesAtNewPathsAreKept()
{
    QHash<QString, QByteArray> contents;
    const QList<SyncAction> actions = uploadFiles(3, contents);
    if (QTest::currentTestFailed())
        return;
    const QString root = m_folder->path() + u'/';
    const QString filePath = actions.at(0).path.toString(), dirPath = actions.at(1).path.toString();
    QVERIFY(QDir().mkpath(QFileInfo(root + filePath).absolutePath()));
    QFile mine(root + filePath);
    QVERIFY(mine.open(QIODevice::WriteOnly));
    QCOMPARE(mine.write("the user's own work"), qint64(19));
    mine.close();
    QVERIFY(QDir().mkpath(root + dirPath));

    EnginePools pools;
    Downloader downloader(m_folder->path(), *m_journal, *m_connection, pools);
    QSignalSpy skipped(&downloader, &Downloader::fileSkipped);
    QSignalSpy finished(&downloader, &Downloader::finished);
    downloader.run(actions, {});
    QVERIFY(finished.wait(60000) || !finished.isEmpty());
    QCOMPARE(finished.first().first().toBool(), false);
    QCOMPARE(skipped.size(), 2);
    for (const QList<QVariant> &s : std::as_const(skipped))
        QCOMPARE(s.at(1).toString(), QStringLiteral("changed on this computer meanwhile"));
    QVERIFY(mine.open(QIODevice::ReadOnly));
    QCOMPARE(mine.readAll(), QByteArray("the user's own work"));
    QVERIFY(QFileInfo(root + dirPath).isDir());
    QCOMPARE(QFile(root + actions.at(2).path.toString()).size(),
        qint64(contents.value(actions.at(2).path.toString()).size()));
    const JournalState journal = m_journal->load();
    QCOMPARE(journal.size(), 1);
    QVERIFY(journal.contains(actions.at(2).path));
    QCOMPARE(tempFiles(), 0);
}

void tst_Downloader::aFolderRenamedHereMeanwhileIsNotMadeAgain_data()
{
    QTest::addColumn<QString>("path");
    QTest::addColumn<bool>("missingAtScan");
    QTest::newRow("in the folder") << "d/f" << false;
    QTest::newRow("in a folder new below it") << "d/new/f" << false;
    // Deleted here before the plan, which brings it back for the server's new file.
    QTest::newRow("deleted before the plan") << "d/f" << true;
    QTest::newRow("deleted before the plan, a folder new below it") << "d/new/f" << true;
}

// The plan downloads into d, which the journal knows (synced, or made by the plan's local
// phase); the user renames d to e before the file is installed. The file waits for the
// next cycle: d made again beside e held only it, and was then uploaded as new (what
// other computers had deleted in d came back with it). A d the scan already found gone is
// made again: the plan brings it back on purpose.
void tst_Downloader::aFolderRenamedHereMeanwhileIsNotMadeAgain()
{
    QFETCH(QString, path);
    QFETCH(bool, missingAtScan);
    QHash<QString, QByteArray> contents;
    SyncAction a = uploadFiles(1, contents).first();
    if (QTest::currentTestFailed())
        return;
    const QByteArray data = contents.value(a.path.toString());
    a.path = a.remote.path = *RelativePath::fromString(path);
    const QString root = m_folder->path();
    QVERIFY(QDir(root).mkdir(QStringLiteral("d")));
    const auto folder = Scanner::stat(root + QStringLiteral("/d"));
    QVERIFY(folder);
    m_journal->put(*RelativePath::fromString(QStringLiteral("d")), journalEntryFor(*folder, 1));
    QVERIFY(QDir(root).rename(QStringLiteral("d"), QStringLiteral("e")));

    EnginePools pools;
    Downloader downloader(root, *m_journal, *m_connection, pools);
    QSignalSpy skipped(&downloader, &Downloader::fileSkipped);
    QSignalSpy finished(&downloader, &Downloader::finished);
    downloader.run({ a }, {},
        missingAtScan ? QSet<RelativePath> { *RelativePath::fromString(QStringLiteral("d")) } : QSet<RelativePath> {});
    QVERIFY(finished.wait(20000) || !finished.isEmpty());
    QCOMPARE(tempFiles(), 0);
    if (missingAtScan) {
        QCOMPARE(finished.first().first().toBool(), true);
        QVERIFY(skipped.isEmpty());
        QCOMPARE(readFile(root, path), data);
        QVERIFY(m_journal->load().contains(a.path));
        return;
    }
    QCOMPARE(finished.first().first().toBool(), false);
    QCOMPARE(skipped.size(), 1);
    QCOMPARE(skipped.first().at(1).toString(),
        QStringLiteral("its folder was renamed or deleted on this computer meanwhile"));
    QVERIFY(!QFileInfo::exists(root + QStringLiteral("/d")));
    QVERIFY(QDir(root + QStringLiteral("/e")).isEmpty());
    QVERIFY(!m_journal->load().contains(a.path));
    QCOMPARE(tempFiles(), 0);
}

void tst_Downloader::abortLeavesNoTempFiles()
{
    QHash<QString, QByteArray> contents;
    const QList<SyncAction> actions = uploadFiles(500, contents);
    EnginePools pools;
    Downloader downloader(m_folder->path(), *m_journal, *m_connection, pools);
    QSignalSpy done(&downloader, &Downloader::fileDone);
    QSignalSpy finished(&downloader, &Downloader::finished);
    downloader.run(actions, {});
    QVERIFY(tempFiles() > 0); // files being assembled
    downloader.abort();
    QCOMPARE(tempFiles(), 0);
    QCOMPARE(downloader.filesHeld(), 0);
    // Late replies of the aborted run change nothing.
    bool pinged = false;
    m_connection->queryBlocks({}, [&pinged](const Reply<QueryBlocksReply> &) { pinged = true; });
    QTRY_VERIFY(pinged);
    QCOMPARE(finished.size(), 0);
    QCOMPARE(done.size(), 0);
    QCOMPARE(m_journal->load().size(), 0);
    QCOMPARE(tempFiles(), 0);
}

void tst_Downloader::abortRecordsWhatLanded()
{
    // Stopped between renames and the sync that would have recorded them: every file at
    // its final path is in the journal anyway, with its size, so the next cycle does not
    // take it for new here (an edit made meanwhile would otherwise become a conflict).
    QHash<QString, QByteArray> contents;
    const QList<SyncAction> actions = uploadFiles(2000, contents);
    EnginePools pools;
    Downloader downloader(m_folder->path(), *m_journal, *m_connection, pools);
    QSignalSpy synced(&downloader, &Downloader::batchSynced);
    downloader.run(actions, {});
    QTRY_VERIFY_WITH_TIMEOUT(!synced.isEmpty(), 30000);
    downloader.abort();
    const JournalState journal = m_journal->load();
    int landed = 0;
    for (auto it = contents.cbegin(); it != contents.cend(); ++it) {
        const QString abs = m_folder->path() + u'/' + it.key();
        if (!QFileInfo::exists(abs))
            continue;
        ++landed;
        const auto entry = journal.constFind(*RelativePath::fromString(it.key()));
        QVERIFY2(entry != journal.cend(), qPrintable(it.key()));
        QCOMPARE(entry->size, qint64(it.value().size()));
        QCOMPARE(readFile(m_folder->path(), it.key()), it.value());
    }
    QVERIFY(landed > 0);
    QCOMPARE(int(journal.size()), landed);
    QCOMPARE(tempFiles(), 0);
}

// A crash (no abort, nothing more runs) after a file's rename and before the sync that
// records it: the journal opened by the next start knows the file as the download it is,
// not as a new file here (which came back after a delete elsewhere).
void tst_Downloader::aCrashBetweenRenameAndRecordLosesNothing()
{
    QHash<QString, QByteArray> contents;
    const QList<SyncAction> actions = uploadFiles(1, contents);
    if (QTest::currentTestFailed())
        return;
    const SyncAction a = actions.first();
    EnginePools pools;
    Downloader downloader(m_folder->path(), *m_journal, *m_connection, pools);
    std::optional<JournalState> afterCrash;
    connect(&downloader, &Downloader::batchSynced, this, [&](int, int renamed) {
        if (renamed == 0 || afterCrash)
            return;
        // The rename is done, its record not yet: what the next start would find.
        QVERIFY(QFileInfo::exists(m_folder->path() + u'/' + a.path.toString()));
        QVERIFY(!m_journal->load().contains(a.path));
        QCOMPARE(m_journal->landing().size(), 1);
        Journal next(m_folder->path());
        QVERIFY(next.open().ok());
        afterCrash = next.load();
    });
    QSignalSpy finished(&downloader, &Downloader::finished);
    downloader.run(actions, {});
    QVERIFY(finished.wait(20000) || !finished.isEmpty());
    QVERIFY(afterCrash);
    const auto entry = afterCrash->constFind(a.path);
    QVERIFY(entry != afterCrash->cend());
    QCOMPARE(entry->version, a.remote.version);
    QCOMPARE(entry->blocks, a.remote.blocks);
    const auto onDisk = localfs::Location::at(m_folder->path(), a.path).stat();
    QVERIFY(onDisk && entry->statMatches(*onDisk));
    QCOMPARE(m_journal->load().value(a.path).inode, entry->inode); // and recorded as it went on
    QVERIFY(m_journal->landing().isEmpty());
}

bool tst_Downloader::upload(const QList<QByteArray> &blocks)
{
    int acknowledged = 0;
    for (const QByteArray &data : blocks) {
        const EncodedBlock encoded = encodeBlock(data);
        m_connection->putBlock(
            BlockPayload { ContentHash::of(data), encoded.codec, quint32(data.size()), encoded.data },
            [&acknowledged](const Reply<Done> &r) { acknowledged += r ? 1 : 0; });
    }
    return QTest::qWaitFor([&] { return acknowledged == blocks.size(); }, 60000);
}

SyncAction tst_Downloader::preparePatch(bool uploadAll, QByteArray &v1, QByteArray &v2, bool downloaded)
{
    constexpr int kBlocks = 96, kBlockSize = 256 * 1024;
    v1 = randomBytes(qint64(kBlocks) * kBlockSize, 11);
    v2 = v1;
    v2.replace(40 * kBlockSize, 4 * kBlockSize, randomBytes(4 * kBlockSize, 12));
    auto blocksOf = [](const QByteArray &data) {
        QList<BlockRef> refs;
        for (qsizetype at = 0; at < data.size(); at += kBlockSize)
            refs.append({ ContentHash::of(data.mid(at, kBlockSize)), quint32(kBlockSize) });
        return refs;
    };
    writeFile(m_folder->path(), QStringLiteral("big.bin"), v1);
    const QByteArray abs = QFile::encodeName(m_folder->path() + QStringLiteral("/big.bin"));
    // The mtime a download gives: the other computer's, unlike the ctime of the install.
    const timespec old[2] = { { 1'600'000'000, 0 }, { 1'600'000'000, 0 } };
    if (downloaded && ::utimensat(AT_FDCWD, abs.constData(), old, 0) != 0)
        return {};
    const auto stat = Scanner::stat(QString::fromLocal8Bit(abs));
    if (!stat)
        return {};
    LocalEntry recorded = *stat;
    recorded.blocks = blocksOf(v1);
    const RelativePath path = *RelativePath::fromString(QStringLiteral("big.bin"));
    m_journal->put(path, journalEntryFor(recorded, 1));

    QList<QByteArray> blocks;
    for (int i = 0; i < kBlocks; ++i) {
        if (uploadAll || (i >= 40 && i < 44))
            blocks.append(v2.mid(qsizetype(i) * kBlockSize, kBlockSize));
    }
    if (!upload(blocks))
        return {};
    SyncAction a;
    a.type = ActionType::Download;
    a.path = path;
    a.local = *stat;
    a.remote.path = path;
    a.remote.size = v2.size();
    a.remote.mtimeMs = 1'700'000'000'000;
    a.remote.mode = 0644;
    a.remote.blocks = blocksOf(v2);
    a.remote.version = 2;
    return a;
}

bool tst_Downloader::download(const SyncAction &action)
{
    EnginePools pools;
    Downloader downloader(m_folder->path(), *m_journal, *m_connection, pools);
    QSignalSpy finished(&downloader, &Downloader::finished);
    downloader.run({ action }, m_journal->load());
    if (!finished.wait(60000) && finished.isEmpty())
        return false;
    return finished.first().first().toBool();
}

void tst_Downloader::patchCopiesUnchangedBlocksWithoutTheServer()
{
    // The server has only the 4 new blocks: the other 92 can only come from the old
    // version, copied because its stat proves it unchanged since the journal recorded it.
    QByteArray v1, v2;
    const SyncAction action = preparePatch(false, v1, v2);
    QVERIFY(!action.remote.blocks.isEmpty());
    ProvenCopies proven;
    const bool complete = download(action);
    QVERIFY(complete);
    QCOMPARE(proven.count.load(), 1);
    QVERIFY(readFile(m_folder->path(), QStringLiteral("big.bin")) == v2);
    QCOMPARE(m_journal->load().value(action.path).blocks, action.remote.blocks);
    QCOMPARE(tempFiles(), 0);
}

void tst_Downloader::sourceChangedDuringTheCopyIsFetched()
{
    // The old version is rewritten (and its mtime put back) between the stat that proved
    // it unchanged and the copy: what was copied is wrong, the second stat sees it, and
    // every block comes from the server instead. Wrong bytes never reach the final path.
    QByteArray v1, v2;
    const SyncAction action = preparePatch(true, v1, v2);
    QVERIFY(!action.remote.blocks.isEmpty());
    ProvenCopies proven([](const QString &source) {
        const int fd = ::open(QFile::encodeName(source).constData(), O_WRONLY | O_CLOEXEC);
        const QByteArray garbage = randomBytes(8 * 1024 * 1024, 13);
        const bool written = fd >= 0 && ::pwrite(fd, garbage.constData(), size_t(garbage.size()), 0) == garbage.size();
        const timespec old[2] = { { 1'600'000'000, 0 }, { 1'600'000'000, 0 } };
        if (!written || ::futimens(fd, old) != 0)
            qFatal("cannot change the source");
        ::close(fd);
    });
    const bool complete = download(action);
    QVERIFY(complete);
    QCOMPARE(proven.count.load(), 1);
    QVERIFY(readFile(m_folder->path(), QStringLiteral("big.bin")) == v2);
    QCOMPARE(tempFiles(), 0);
}

void tst_Downloader::sourceRewrittenWithItsOldMtimeIsVerified()
{
    // Changed before the download, size and mtime as recorded: only the ctime tells. The
    // blocks are then read and re-hashed; the changed ones come from the server.
    QByteArray v1, v2;
    SyncAction action = preparePatch(true, v1, v2);
    QVERIFY(!action.remote.blocks.isEmpty());
    const QByteArray abs = QFile::encodeName(m_folder->path() + QStringLiteral("/big.bin"));
    const int fd = ::open(abs.constData(), O_WRONLY | O_CLOEXEC);
    QVERIFY(fd >= 0);
    const QByteArray garbage = randomBytes(1024 * 1024, 14);
    QCOMPARE(::pwrite(fd, garbage.constData(), size_t(garbage.size()), 4 * 1024 * 1024), garbage.size());
    const timespec old[2] = { { 1'600'000'000, 0 }, { 1'600'000'000, 0 } };
    QCOMPARE(::futimens(fd, old), 0);
    ::close(fd);
    action.local = Scanner::stat(QString::fromLocal8Bit(abs)); // what the scan saw
    ProvenCopies proven;
    const bool complete = download(action);
    QVERIFY(complete);
    QCOMPARE(proven.count.load(), 0);
    QVERIFY(readFile(m_folder->path(), QStringLiteral("big.bin")) == v2);
    QCOMPARE(tempFiles(), 0);
}

void tst_Downloader::sourceWrittenHereIsVerified()
{
    // A file written on this computer has mtime == ctime: a second write in the same clock
    // tick would leave that stat as it was, so it proves nothing and the blocks are read
    // and re-hashed (here they are all right: the server has only the new ones).
    QByteArray v1, v2;
    const SyncAction action = preparePatch(false, v1, v2, false);
    QVERIFY(!action.remote.blocks.isEmpty());
    QCOMPARE(action.local->mtimeNs, action.local->ctimeNs);
    ProvenCopies proven;
    const bool complete = download(action);
    QVERIFY(complete);
    QCOMPARE(proven.count.load(), 0);
    QVERIFY(readFile(m_folder->path(), QStringLiteral("big.bin")) == v2);
}

namespace {
Chunker::Chunked chunkedAsTheUploaderWould(const QByteArray &data, const Chunker::Previous &previous = {})
{
    QBuffer buffer;
    buffer.setData(data);
    buffer.open(QIODevice::ReadOnly);
    auto chunked = Chunker::chunkIncremental(buffer, data.size(), nullptr, previous);
    return chunked ? *chunked : Chunker::Chunked {};
}

SyncAction downloadOf(const QString &path, const QByteArray &data, const QList<BlockRef> &blocks, quint64 version)
{
    SyncAction a;
    a.type = ActionType::Download;
    a.path = *RelativePath::fromString(path);
    a.remote.path = a.path;
    a.remote.size = data.size();
    a.remote.mtimeMs = 1'700'000'000'000 + qint64(version);
    a.remote.mode = 0644;
    a.remote.blocks = blocks;
    a.remote.version = version;
    return a;
}
} // namespace

// B records the XXH3 checks of what it downloads (fetched blocks: their bytes; blocks
// copied from a local file: that file's recorded checks), the same the other computer's
// chunker made, so B's own first edit of the file re-cuts only the changed region.
void tst_Downloader::downloadsRecordTheBlocksChecks()
{
    const qint64 mib = 1024 * 1024;
    const QString path = QStringLiteral("big.bin");
    const QByteArray v1 = randomBytes(6 * mib, 21);
    const Chunker::Chunked c1 = chunkedAsTheUploaderWould(v1);
    QVERIFY(c1.blocks.size() >= Chunker::kChecksFromBlocks);
    QVERIFY(!c1.checks.isEmpty());
    QList<QByteArray> blocks;
    qint64 at = 0;
    for (const BlockRef &b : c1.blocks) {
        blocks.append(v1.mid(at, b.size));
        at += b.size;
    }
    QVERIFY(upload(blocks));
    const SyncAction first = downloadOf(path, v1, c1.blocks, 1);
    QVERIFY(download(first));
    QVERIFY(readFile(m_folder->path(), path) == v1);
    QCOMPARE(m_journal->load().value(first.path).blockChecks, c1.checks); // all fetched

    // A patch: the server has only the new blocks, the rest is copied from version 1.
    QByteArray v2 = v1;
    v2.replace(3 * mib, 200 * 1024, randomBytes(200 * 1024, 22));
    const Chunker::Chunked c2 = chunkedAsTheUploaderWould(
        v2, Chunker::Previous { v1.size(), qint64(c1.blocks.size()), c1.blocks, c1.checks });
    QVERIFY(c2.reusedBytes > 5 * mib);
    QList<QByteArray> fresh;
    at = 0;
    for (const BlockRef &b : c2.blocks) {
        if (!c1.blocks.contains(b))
            fresh.append(v2.mid(at, b.size));
        at += b.size;
    }
    QVERIFY(!fresh.isEmpty() && fresh.size() < 10);
    QVERIFY(upload(fresh));
    SyncAction second = downloadOf(path, v2, c2.blocks, 2);
    second.local = Scanner::stat(m_folder->path() + u'/' + path);
    ProvenCopies proven;
    QVERIFY(download(second));
    QVERIFY(proven.count.load() >= 1);
    QVERIFY(readFile(m_folder->path(), path) == v2);
    const JournalEntry recorded = m_journal->load().value(second.path);
    QCOMPARE(recorded.blockChecks, c2.checks); // copied ones included

    // Edited here: the scan re-cuts and re-hashes about the 100 KiB changed, not 6 MiB,
    // and gets the blocks a full re-cut with the same sizes gives.
    QByteArray v3 = v2;
    v3.replace(5 * mib, 100 * 1024, randomBytes(100 * 1024, 23));
    writeFile(m_folder->path(), path, v3);
    const Scanner::Result scan = Scanner::scan(m_folder->path(), m_journal->load());
    QVERIFY(scan.fatal.isEmpty());
    QCOMPARE(scan.hashedFiles, 1);
    const qint64 slack = 2 * 256 * 1024; // the blocks around an edit: up to two maximum sizes
    QVERIFY2(scan.reusedBytes >= v3.size() - 100 * 1024 - slack, qPrintable(QString::number(scan.reusedBytes)));
    QVERIFY2(scan.hashedBytes <= 100 * 1024 + slack, qPrintable(QString::number(scan.hashedBytes)));
    const Chunker::Chunked full
        = chunkedAsTheUploaderWould(v3, Chunker::Previous { v2.size(), qint64(c2.blocks.size()) });
    QCOMPARE(scan.snapshot.value(second.path).blocks, full.blocks);
}

QTEST_GUILESS_MAIN(tst_Downloader)
#include "tst_downloader.moc"
