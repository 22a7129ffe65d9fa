#include "blockcodec.h"
#include "downloader.h"
#include "enginepools.h"
#include "journal.h"
#include "localfs.h"
#include "propagator.h"
#include "scanner.h"
#include "serverconnection.h"
#include "synctestmacros.h"
#include "testcluster.h"
#include "testtree.h"

#include <QDir>
#include <QDirIterator>
#include <QFile>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

using namespace filesync;
using namespace filesync::test;
using namespace filesync::protocol;

namespace {
RelativePath P(const char *path)
{
    return *RelativePath::fromString(QString::fromUtf8(path));
}

// Everything under a folder, links not followed: each entry's kind, bytes, mode and
// mtime (ns), so that any write, rename, chmod, utimens or delete there shows.
QMap<QString, QString> snapshot(const QString &dir)
{
    QMap<QString, QString> out;
    QDirIterator it(
        dir, QDir::AllEntries | QDir::Hidden | QDir::System | QDir::NoDotAndDotDot, QDirIterator::Subdirectories);
    while (it.hasNext()) {
        const QString path = it.next();
        struct stat st;
        if (::lstat(QFile::encodeName(path).constData(), &st) != 0)
            continue;
        QString what = QStringLiteral("mode %1 mtime %2.%3")
                           .arg(st.st_mode, 0, 8)
                           .arg(qint64(st.st_mtim.tv_sec))
                           .arg(qint64(st.st_mtim.tv_nsec));
        if (S_ISREG(st.st_mode)) {
            QFile f(path);
            if (f.open(QIODevice::ReadOnly))
                what += QStringLiteral(" bytes ") + QString::fromLatin1(f.readAll().toHex());
        }
        out.insert(path.mid(dir.size() + 1), what);
    }
    return out;
}

bool makeLink(const QString &target, const QString &at)
{
    return ::symlink(QFile::encodeName(target).constData(), QFile::encodeName(at).constData()) == 0;
}

bool isLink(const QString &path)
{
    struct stat st;
    return ::lstat(QFile::encodeName(path).constData(), &st) == 0 && S_ISLNK(st.st_mode);
}
} // namespace

// A link in the synced folder (the scan skips it) never lets the engine write, rename,
// change, delete or read anything through it: not outside the folder, not elsewhere in
// it. Each case checks the link's target byte for byte and stat for stat afterwards.
class tst_LinkSafety : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void init();
    void cleanup();
    void resolutionStopsAtLinks_data();
    void resolutionStopsAtLinks();
    void folderCacheStopsAtLinks_data();
    void folderCacheStopsAtLinks();
    void downloadsNeverGoThroughALink_data();
    void downloadsNeverGoThroughALink();
    void localActionsNeverGoThroughALink_data();
    void localActionsNeverGoThroughALink();
    void foldersRenamedHereMeanwhileAreNotMadeAgain_data();
    void foldersRenamedHereMeanwhileAreNotMadeAgain();
    void scansNeverReadThroughALink_data();
    void scansNeverReadThroughALink();
    void metadataFolderBehindALinkStopsTheFolder();
    void twoComputersWithALinkOnOne();
    void syncedFolderReplacedByALink_data();
    void syncedFolderReplacedByALink();

private:
    SyncAction uploaded(const QString &path, const QByteArray &data, quint32 mode = 0644);

    std::unique_ptr<TestServer> m_server;
    std::unique_ptr<QTemporaryDir> m_folder;
    std::unique_ptr<QTemporaryDir> m_outside;
    std::unique_ptr<Journal> m_journal;
    std::unique_ptr<ServerConnection> m_connection;
};

void tst_LinkSafety::init()
{
    m_server = std::make_unique<TestServer>();
    QVERIFY(m_server->start());
    m_folder = std::make_unique<QTemporaryDir>();
    m_outside = std::make_unique<QTemporaryDir>();
    m_journal = std::make_unique<Journal>(m_folder->path());
    QVERIFY(m_journal->open());
    m_connection = newAccountConnection(m_server->port());
    QVERIFY(m_connection);
}

void tst_LinkSafety::cleanup()
{
    localfs::setWalkOnlyForTests(false);
    m_connection.reset();
    m_journal.reset();
    m_outside.reset();
    m_folder.reset();
    m_server.reset();
}

// A download of `path` whose one block the server holds.
SyncAction tst_LinkSafety::uploaded(const QString &path, const QByteArray &data, quint32 mode)
{
    const ContentHash hash = ContentHash::of(data);
    const EncodedBlock encoded = encodeBlock(data);
    bool stored = false;
    m_connection->putBlock(BlockPayload { hash, encoded.codec, quint32(data.size()), encoded.data },
        [&stored](const Reply<Done> &r) { stored = bool(r); });
    [&] { QTRY_VERIFY(stored); }();
    SyncAction a;
    a.type = ActionType::Download;
    a.path = *RelativePath::fromString(path);
    a.remote.path = a.path;
    a.remote.size = data.size();
    a.remote.mtimeMs = 1'600'000'000'000;
    a.remote.mode = mode;
    a.remote.blocks = { BlockRef { hash, quint32(data.size()) } };
    a.remote.version = 7;
    return a;
}

void tst_LinkSafety::resolutionStopsAtLinks_data()
{
    QTest::addColumn<bool>("walkOnly");
    QTest::newRow("openat2") << false;
    QTest::newRow("O_NOFOLLOW walk (kernels without openat2)") << true;
}

void tst_LinkSafety::resolutionStopsAtLinks()
{
    QFETCH(bool, walkOnly);
    localfs::setWalkOnlyForTests(walkOnly);
    const QString root = m_folder->path(), outside = m_outside->path();
    makeDir(root, QStringLiteral("d/e"));
    writeFile(root, QStringLiteral("f"), "file");
    makeDir(outside, QStringLiteral("x"));
    QVERIFY(makeLink(outside, root + QStringLiteral("/out")));
    QVERIFY(makeLink(root + QStringLiteral("/d"), root + QStringLiteral("/in")));
    QVERIFY(makeLink(QStringLiteral("d"), root + QStringLiteral("/d/e/rel")));
    QVERIFY(::mkfifo(QFile::encodeName(root + QStringLiteral("/p")).constData(), 0600) == 0);
    const auto before = snapshot(outside);

    QVERIFY(localfs::openDir(root, QString()));
    QVERIFY(localfs::openDir(root, QStringLiteral("d/e")));
    QVERIFY(localfs::openDir(root, QStringLiteral("d/e"), true));
    struct Refused
    {
        const char *dir;
        int error;
        const char *blocker;
    };
    for (const Refused &r : { Refused { "out", localfs::kInTheWay, "out" },
             Refused { "out/x", localfs::kInTheWay, "out" }, Refused { "in", localfs::kInTheWay, "in" },
             Refused { "d/e/rel/e", localfs::kInTheWay, "d/e/rel" }, Refused { "p/x", localfs::kInTheWay, "p" },
             Refused { "f/x", ENOTDIR, "" }, Refused { "missing/x", ENOENT, "" } }) {
        const QString dir = QString::fromUtf8(r.dir);
        const auto check = [&r](const localfs::Dir &opened) {
            QVERIFY2(!opened, r.dir);
            QCOMPARE(opened.error(), r.error);
            QCOMPARE(opened.blocker(), QString::fromUtf8(r.blocker));
            if (r.error == localfs::kInTheWay)
                QVERIFY2(opened.problem().contains(QString::fromUtf8(r.blocker)), qPrintable(opened.problem()));
        };
        check(localfs::openDir(root, dir));
        if (QTest::currentTestFailed())
            return;
        if (r.error != ENOENT) // makeDirs makes what is missing
            check(localfs::makeDirs(root, dir + QStringLiteral("/new")));
        if (QTest::currentTestFailed())
            return;
    }
    QVERIFY(localfs::makeDirs(root, QStringLiteral("missing/x/new"))); // missing folders are made
    // The entry itself: a link is neither opened nor followed, and removing it removes the link.
    const auto link = localfs::Location::at(root, QStringLiteral("out"));
    QVERIFY(link.ok());
    QVERIFY(link.isLinkOrSpecial());
    QVERIFY(!link.open(O_RDONLY).valid());
    QCOMPARE(errno, ELOOP);
    QVERIFY(!localfs::Location::at(root, QStringLiteral("out/x")).stat());
    QVERIFY(!localfs::Location::at(root, QStringLiteral("out/x")).ok());
    QVERIFY(!localfs::Location::makingFolders(root, QStringLiteral("out/y/z")).ok());
    QVERIFY(link.removeFile());
    QCOMPARE(snapshot(outside), before);
    QVERIFY(QFileInfo(outside).isDir());
}

void tst_LinkSafety::folderCacheStopsAtLinks_data()
{
    resolutionStopsAtLinks_data();
}

// A pass's FolderCache resolves each folder as Location::at does (a link on the way is
// refused and named), once: two paths in one folder share its descriptor. It keeps no
// failure (a folder made meanwhile is found) and nothing past its pass: a folder swapped
// for a link is refused by the next pass.
void tst_LinkSafety::folderCacheStopsAtLinks()
{
    QFETCH(bool, walkOnly);
    localfs::setWalkOnlyForTests(walkOnly);
    const QString root = m_folder->path(), outside = m_outside->path();
    makeDir(root, QStringLiteral("d/e"));
    makeDir(outside, QStringLiteral("x"));
    QVERIFY(makeLink(outside, root + QStringLiteral("/out")));
    QVERIFY(makeLink(QStringLiteral("d"), root + QStringLiteral("/d/e/rel")));
    const auto before = snapshot(outside);
    {
        const localfs::Dir rootDir = localfs::openDir(root, QString());
        localfs::FolderCache folders(rootDir);
        const auto a = folders.at(QStringLiteral("d/e/a")), b = folders.at(P("d/e/b"));
        QVERIFY(a.ok());
        QVERIFY(b.ok());
        QCOMPARE(a.dir().fd(), b.dir().fd());
        QCOMPARE(a.name(), QByteArray("a"));
        QCOMPARE(folders.at(QStringLiteral("top")).dir().fd(), rootDir.fd());
        for (const char *refused : { "out/x/f", "out/f", "d/e/rel/e/f" }) {
            const auto at = folders.at(QString::fromUtf8(refused));
            QVERIFY2(at.inTheWay(), refused);
            QVERIFY(!at.open(O_RDWR | O_CREAT, 0600).valid());
            QVERIFY(!folders.makingFolders(QString::fromUtf8(refused)).ok());
        }
        QCOMPARE(folders.at(QStringLiteral("d/e/rel/e/f")).dir().blocker(), QStringLiteral("d/e/rel"));
        QCOMPARE(folders.at(QStringLiteral("new/f")).dir().error(), ENOENT);
        QVERIFY(folders.makingFolders(QStringLiteral("new/f")).ok());
        QVERIFY(folders.at(QStringLiteral("new/g")).ok());
    }
    // The next pass: "d/e" is now a link to the outside folder.
    QVERIFY(QDir(root).rename(QStringLiteral("d/e"), QStringLiteral("d/e.old")));
    QVERIFY(makeLink(outside, root + QStringLiteral("/d/e")));
    localfs::FolderCache next(root);
    const auto swapped = next.at(QStringLiteral("d/e/a"));
    QVERIFY(swapped.inTheWay());
    QCOMPARE(swapped.dir().blocker(), QStringLiteral("d/e"));
    QVERIFY(!swapped.open(O_RDWR | O_CREAT, 0600).valid());
    QVERIFY(next.at(QStringLiteral("d/e.old/a")).ok());
    QCOMPARE(snapshot(outside), before);
}

void tst_LinkSafety::downloadsNeverGoThroughALink_data()
{
    QTest::addColumn<QString>("path"); // downloaded
    QTest::addColumn<QString>("link"); // in the folder
    QTest::addColumn<bool>("inside"); // the link points to a folder in the synced folder
    QTest::addColumn<bool>("planSawFile"); // the plan replaces a file it saw (chmod, mtime, bytes)
    QTest::newRow("new file, intermediate link") << "sub/evil.txt"
                                                 << "sub" << false << false;
    QTest::newRow("new file two levels below the link") << "sub/deeper/f"
                                                        << "sub" << false << false;
    QTest::newRow("new file, link below a real folder") << "real/sub/evil.txt"
                                                        << "real/sub" << false << false;
    QTest::newRow("new file, link to a folder in the root") << "sub/evil.txt"
                                                            << "sub" << true << false;
    QTest::newRow("replacing a file seen through the link") << "sub/existing.txt"
                                                            << "sub" << false << true;
    QTest::newRow("link at the final path") << "evil.txt"
                                            << "evil.txt" << false << false;
    QTest::newRow("link at the final path, seen by the plan") << "evil.txt"
                                                              << "evil.txt" << false << true;
}

void tst_LinkSafety::downloadsNeverGoThroughALink()
{
    QFETCH(QString, path);
    QFETCH(QString, link);
    QFETCH(bool, inside);
    QFETCH(bool, planSawFile);
    const QString root = m_folder->path();
    const QString target = inside ? root + QStringLiteral("/inside") : m_outside->path();
    makeDir(target, QStringLiteral("deeper"));
    writeFile(target, QStringLiteral("existing.txt"), "theirs");
    writeFile(target, QStringLiteral("linked.txt"), "theirs too");
    makeDir(root, QStringLiteral("real"));
    const QString linkPath = root + u'/' + link;
    QVERIFY(makeLink(link == path ? target + QStringLiteral("/linked.txt") : target, linkPath));
    const auto before = snapshot(target);

    SyncAction a = uploaded(path, "written by the other computer", 0600);
    if (planSawFile)
        a.local = Scanner::stat(root + u'/' + path); // a stale plan: what was there, seen through the link
    EnginePools pools;
    Downloader downloader(root, *m_journal, *m_connection, pools);
    QSignalSpy skipped(&downloader, &Downloader::fileSkipped);
    QSignalSpy warnings(&downloader, &Downloader::warning);
    QSignalSpy finished(&downloader, &Downloader::finished);
    downloader.run({ a }, {});
    QVERIFY(finished.wait(20000) || !finished.isEmpty());
    QCOMPARE(finished.first().first().toBool(), false);
    QCOMPARE(skipped.size(), 1);
    QCOMPARE(warnings.size(), 1);
    const QString warning = warnings.first().first().toString();
    QVERIFY2(warning.startsWith(path + u' ') && warning.contains(link), qPrintable(warning));
    QCOMPARE(snapshot(target), before);
    QVERIFY(isLink(linkPath));
    QVERIFY(!m_journal->load().contains(a.path));
    QCOMPARE(QDir(Journal::tempDir(root)).entryList(QDir::Files).size(), 0);
}

void tst_LinkSafety::localActionsNeverGoThroughALink_data()
{
    QTest::addColumn<int>("type");
    QTest::addColumn<QString>("path");
    QTest::addColumn<QString>("other"); // a move's source, a conflict copy's name
    QTest::newRow("delete under the link") << int(ActionType::DeleteLocal) << "sub/x"
                                           << "";
    QTest::newRow("delete of a folder under the link") << int(ActionType::DeleteLocal) << "sub/d"
                                                       << "";
    QTest::newRow("move within the link") << int(ActionType::MoveLocal) << "sub/y"
                                          << "sub/x";
    QTest::newRow("move out of the link") << int(ActionType::MoveLocal) << "moved"
                                          << "sub/x";
    QTest::newRow("move into the link") << int(ActionType::MoveLocal) << "sub/in"
                                        << "mine";
    QTest::newRow("conflict copy under the link") << int(ActionType::ConflictCopy) << "sub/x"
                                                  << "sub/x (conflict from B 2026-01-01 000000)";
    QTest::newRow("folder under the link") << int(ActionType::Download) << "sub/new/folder"
                                           << "";
    QTest::newRow("folder at the link") << int(ActionType::Download) << "sub"
                                        << "";
}

// The local phase (deletes, moves, conflict copies, folders) of a plan made while `sub`
// was a real folder (its entries as the journal knows them), run after it was moved away
// with a link left in its place: the stats still match, and nothing may happen there.
void tst_LinkSafety::localActionsNeverGoThroughALink()
{
    QFETCH(int, type);
    QFETCH(QString, path);
    QFETCH(QString, other);
    const QString root = m_folder->path(), outside = m_outside->path();
    writeFile(root, QStringLiteral("sub/x"), "synced before");
    makeDir(root, QStringLiteral("sub/d"));
    writeFile(root, QStringLiteral("mine"), "mine");
    JournalState journal;
    for (const char *p : { "sub", "sub/x", "sub/d", "mine" }) {
        auto stat = Scanner::stat(root + u'/' + QString::fromUtf8(p));
        QVERIFY(stat);
        journal.insert(P(p), journalEntryFor(*stat, 3));
        m_journal->put(P(p), journalEntryFor(*stat, 3));
    }
    // Moved away whole (inodes, sizes and mtimes kept), a link left behind.
    QVERIFY(QDir().rename(root + QStringLiteral("/sub"), outside + QStringLiteral("/sub")));
    QVERIFY(makeLink(outside + QStringLiteral("/sub"), root + QStringLiteral("/sub")));
    const auto before = snapshot(outside);
    const auto mine = snapshot(root);

    SyncAction a;
    a.type = ActionType(type);
    a.path = *RelativePath::fromString(path);
    a.kind = EntryKind::File;
    if (a.type == ActionType::MoveLocal) {
        a.from = *RelativePath::fromString(other);
        a.local = journal.value(a.from).isDir() ? std::nullopt : Scanner::stat(root + u'/' + other);
    } else if (a.type == ActionType::ConflictCopy) {
        a.conflictCopy = *RelativePath::fromString(other);
        a.local = Scanner::stat(root + u'/' + path); // through the link: what a stale plan saw
    } else if (a.type == ActionType::Download) {
        a.kind = EntryKind::Directory;
        a.remote.kind = EntryKind::Directory;
        a.remote.path = a.path;
        a.remote.version = 4;
    }
    if (a.type == ActionType::MoveLocal)
        QVERIFY(a.local);
    SyncPlan plan;
    plan.actions = { a };
    EnginePools pools;
    Propagator propagator(root, *m_journal, *m_connection, pools);
    QSignalSpy warnings(&propagator, &Propagator::warning);
    std::optional<Propagator::Outcome> outcome;
    connect(&propagator, &Propagator::finished, this, [&outcome](const Propagator::Outcome &o) { outcome = o; });
    propagator.run(plan, journal, 0);
    QTRY_VERIFY_WITH_TIMEOUT(outcome.has_value(), 20000);
    QVERIFY(!outcome->complete); // the cursor is held: the server's change is seen again
    QVERIFY(outcome->followUp);
    QCOMPARE(warnings.size(), 1);
    const QString warning = warnings.first().first().toString();
    QVERIFY2(warning.startsWith(path + u' ') && warning.contains(QStringLiteral("sub")), qPrintable(warning));
    QCOMPARE(snapshot(outside), before);
    QCOMPARE(snapshot(root), mine);
    QVERIFY(isLink(root + QStringLiteral("/sub")));
    QVERIFY(m_journal->load().contains(P("sub/x"))); // nothing forgotten because of the link
}

void tst_LinkSafety::foldersRenamedHereMeanwhileAreNotMadeAgain_data()
{
    QTest::addColumn<int>("type");
    QTest::addColumn<QString>("path");
    QTest::addColumn<bool>("missingAtScan"); // deleted before the plan, which makes it again
    for (const bool missing : { false, true }) {
        const char *when = missing ? ", deleted before the plan" : "";
        QTest::addRow("a folder made in it%s", when) << int(ActionType::Download) << "d/new" << missing;
        QTest::addRow("a folder made below it%s", when) << int(ActionType::Download) << "d/new/deeper" << missing;
        QTest::addRow("a file moved into it%s", when) << int(ActionType::MoveLocal) << "d/moved" << missing;
    }
}

// The local phase of a plan made while d was there (the journal knows it), run after the
// user renamed d to e: nothing makes d again (it stood twice, and was uploaded as new).
void tst_LinkSafety::foldersRenamedHereMeanwhileAreNotMadeAgain()
{
    QFETCH(int, type);
    QFETCH(QString, path);
    QFETCH(bool, missingAtScan);
    const QString root = m_folder->path();
    makeDir(root, QStringLiteral("d"));
    writeFile(root, QStringLiteral("mine"), "mine");
    JournalState journal;
    for (const char *p : { "d", "mine" }) {
        auto stat = Scanner::stat(root + u'/' + QString::fromUtf8(p));
        QVERIFY(stat);
        journal.insert(P(p), journalEntryFor(*stat, 3));
        m_journal->put(P(p), journalEntryFor(*stat, 3));
    }
    QVERIFY(QDir(root).rename(QStringLiteral("d"), QStringLiteral("e")));
    SyncAction a;
    a.type = ActionType(type);
    a.path = *RelativePath::fromString(path);
    if (a.type == ActionType::MoveLocal) {
        a.kind = EntryKind::File;
        a.from = P("mine");
        a.local = Scanner::stat(root + QStringLiteral("/mine"));
    } else {
        a.kind = a.remote.kind = EntryKind::Directory;
        a.remote.path = a.path;
        a.remote.version = 4;
    }
    SyncPlan plan;
    plan.actions = { a };
    if (missingAtScan)
        plan.missingFolders.insert(P("d"));
    EnginePools pools;
    Propagator propagator(root, *m_journal, *m_connection, pools);
    std::optional<Propagator::Outcome> outcome;
    connect(&propagator, &Propagator::finished, this, [&outcome](const Propagator::Outcome &o) { outcome = o; });
    propagator.run(plan, journal, 0);
    QTRY_VERIFY_WITH_TIMEOUT(outcome.has_value(), 20000);
    QVERIFY(QDir(root + QStringLiteral("/e")).isEmpty());
    if (missingAtScan) {
        QVERIFY(outcome->complete);
        QVERIFY(QFileInfo::exists(root + u'/' + path));
        QVERIFY(m_journal->load().contains(a.path));
        return;
    }
    QVERIFY(!outcome->complete);
    QVERIFY(outcome->followUp);
    QVERIFY(!QFileInfo::exists(root + QStringLiteral("/d")));
    QVERIFY(QDir(root + QStringLiteral("/e")).isEmpty());
    QCOMPARE(readFile(root, QStringLiteral("mine")), QByteArray("mine"));
    QVERIFY(!m_journal->load().contains(a.path));
}

void tst_LinkSafety::scansNeverReadThroughALink_data()
{
    QTest::addColumn<QString>("scope"); // a tree the watcher reported
    QTest::newRow("the folder below the link") << "sub/deeper";
    QTest::newRow("two levels below the link") << "sub/deeper/more";
    QTest::newRow("the link itself") << "sub";
}

// A partial scan of folders the journal knows, after `sub` was replaced by a link to a
// folder with the same layout: nothing behind the link is described (it would be
// uploaded as this folder's content).
void tst_LinkSafety::scansNeverReadThroughALink()
{
    QFETCH(QString, scope);
    const QString root = m_folder->path(), outside = m_outside->path();
    makeDir(root, QStringLiteral("sub/deeper/more"));
    JournalState journal;
    for (const char *p : { "sub", "sub/deeper", "sub/deeper/more" }) {
        auto stat = Scanner::stat(root + u'/' + QString::fromUtf8(p));
        QVERIFY(stat);
        journal.insert(P(p), journalEntryFor(*stat, 2));
    }
    QVERIFY(QDir(root + QStringLiteral("/sub")).removeRecursively());
    writeFile(outside, QStringLiteral("deeper/private.txt"), "not for the server");
    writeFile(outside, QStringLiteral("deeper/more/also.txt"), "nor this");
    QVERIFY(makeLink(outside, root + QStringLiteral("/sub")));

    ScanScope partial = ScanScope::nothing();
    partial.trees.insert(*RelativePath::fromString(scope));
    const Scanner::Result result = Scanner::scan(root, journal, partial);
    QVERIFY(result.fatal.isEmpty());
    // `sub` itself only as held (a synced folder now a link is left alone, not deleted).
    for (auto it = result.snapshot.cbegin(); it != result.snapshot.cend(); ++it) {
        const QString key = it.key().toString();
        if (key == QStringLiteral("sub"))
            QVERIFY(it->unreadable);
        else
            QVERIFY2(!key.startsWith(QStringLiteral("sub")), qPrintable(key));
    }
}

// The engine's own temp folder behind a link: the journal refuses to open (the folder
// stops) and the clean-up of leftover downloads deletes nothing there.
void tst_LinkSafety::metadataFolderBehindALinkStopsTheFolder()
{
    m_journal.reset();
    QTemporaryDir other;
    const QString outside = m_outside->path();
    writeFile(outside, QStringLiteral("keep.txt"), "not a leftover");
    const auto before = snapshot(outside);
    QVERIFY(QDir(other.path()).mkdir(RelativePath::kMetadataDirName));
    QVERIFY(makeLink(outside, Journal::tempDir(other.path())));
    Journal journal(other.path());
    const Result<void> opened = journal.open();
    QVERIFY(!opened);
    QVERIFY2(opened.errorMessage().contains(QStringLiteral("is a link")), qPrintable(opened.errorMessage()));
    QCOMPARE(snapshot(outside), before);
}

// End to end: B's folder holds `sub -> <outside>`; A makes a real `sub` with files, then
// renames, changes the mode of, and deletes them. B reports the paths, settles (no
// endless cycles) and its link's target stays exactly as it was.
void tst_LinkSafety::twoComputersWithALinkOnOne()
{
    const QString outside = m_outside->path();
    writeFile(outside, QStringLiteral("evil.txt"), "not the server's");
    makeDir(outside, QStringLiteral("deeper"));
    const auto before = snapshot(outside);

    TestClient a(QStringLiteral("alpha"), m_server->port());
    writeFile(a.root(), QStringLiteral("plain.txt"), "plain");
    QVERIFY(a.start());
    TestClient b(QStringLiteral("beta"), m_server->port());
    QVERIFY(makeLink(outside, b.root() + QStringLiteral("/sub")));
    QStringList warnings;
    int cycles = 0;
    QVERIFY(b.start(a.accountId()));
    connect(b.engine(), &SyncEngine::warning, this, [&warnings](const QString &w) { warnings << w; });
    connect(b.engine(), &SyncEngine::cycleFinished, this, [&cycles] { ++cycles; });
    QTRY_COMPARE_WITH_TIMEOUT(readFile(b.root(), QStringLiteral("plain.txt")), QByteArray("plain"), 15000);
    const auto warned = [&warnings](const QString &path) {
        return std::any_of(warnings.cbegin(), warnings.cend(), [&path](const QString &w) {
            return w.startsWith(path + QStringLiteral(" is left alone")) && w.contains(QStringLiteral("sub is a link"));
        });
    };

    writeFile(a.root(), QStringLiteral("sub/evil.txt"), "from A");
    writeFile(a.root(), QStringLiteral("sub/deeper/f"), "deep from A");
    writeFile(a.root(), QStringLiteral("after.txt"), "after");
    QTRY_COMPARE_WITH_TIMEOUT(readFile(b.root(), QStringLiteral("after.txt")), QByteArray("after"), 15000);
    QTRY_VERIFY2_WITH_TIMEOUT(warned(QStringLiteral("sub/evil.txt")), qPrintable(warnings.join(u'\n')), 15000);
    QTRY_VERIFY2_WITH_TIMEOUT(warned(QStringLiteral("sub/deeper/f")), qPrintable(warnings.join(u'\n')), 15000);
    QCOMPARE(snapshot(outside), before);

    QVERIFY(QDir().rename(a.root() + QStringLiteral("/sub/evil.txt"), a.root() + QStringLiteral("/sub/renamed.txt")));
    QVERIFY(QFile::setPermissions(a.root() + QStringLiteral("/sub/deeper/f"), QFileDevice::ReadOwner));
    QTRY_VERIFY2_WITH_TIMEOUT(warned(QStringLiteral("sub/renamed.txt")), qPrintable(warnings.join(u'\n')), 15000);
    QVERIFY(QFile::remove(a.root() + QStringLiteral("/sub/renamed.txt")));
    writeFile(a.root(), QStringLiteral("last.txt"), "last");
    QTRY_COMPARE_WITH_TIMEOUT(readFile(b.root(), QStringLiteral("last.txt")), QByteArray("last"), 15000);

    // B settles: its follow-ups are bounded, not one cycle after another for ever.
    QTRY_COMPARE_WITH_TIMEOUT(b.engine()->state(), EngineState::Idle, 15000);
    const int settled = cycles;
    QTRY_COMPARE_WITH_TIMEOUT(a.engine()->state(), EngineState::Idle, 15000);
    QCOMPARE(b.engine()->state(), EngineState::Idle);
    QVERIFY2(cycles - settled <= 1, qPrintable(QString::number(cycles - settled)));
    QCOMPARE(snapshot(outside), before);
    QVERIFY(isLink(b.root() + QStringLiteral("/sub")));
}

void tst_LinkSafety::syncedFolderReplacedByALink_data()
{
    QTest::addColumn<QString>("path");
    QTest::newRow("a folder") << "Photos";
    QTest::newRow("a file") << "notes.txt";
}

// A moves a synced folder (or file) out of the synced folder and leaves a link in its
// place (to another disk, say). That is no delete: B and the server keep it, A's link is
// left alone and A says so. Then B's change there is held, not written through the link.
void tst_LinkSafety::syncedFolderReplacedByALink()
{
    QFETCH(QString, path);
    TestClient a(QStringLiteral("alpha"), m_server->port());
    writeFile(a.root(), QStringLiteral("Photos/one.jpg"), "one");
    writeFile(a.root(), QStringLiteral("Photos/deep/two.jpg"), "two");
    writeFile(a.root(), QStringLiteral("notes.txt"), "notes");
    TestClient b(QStringLiteral("beta"), m_server->port());
    QVERIFY(startInSync(a, b));
    const TreeState synced = treeState(b.root());

    QStringList warnings;
    connect(a.engine(), &SyncEngine::warning, this, [&warnings](const QString &w) { warnings << w; });
    const QString moved = m_outside->path() + QStringLiteral("/moved");
    QVERIFY(QDir().rename(a.root() + u'/' + path, moved));
    QVERIFY(makeLink(moved, a.root() + u'/' + path));
    const auto warned = [&warnings, &path] {
        return std::any_of(warnings.cbegin(), warnings.cend(),
            [&path](const QString &w) { return w.contains(path + QStringLiteral(" is now a link")); });
    };
    writeFile(a.root(), QStringLiteral("after.txt"), "after");
    QTRY_COMPARE_WITH_TIMEOUT(readFile(b.root(), QStringLiteral("after.txt")), QByteArray("after"), 15000);
    TreeState expected = synced;
    expected.insert(QStringLiteral("after.txt"), treeState(b.root()).value(QStringLiteral("after.txt")));
    QCOMPARE(treeState(b.root()), expected);
    QTRY_VERIFY2_WITH_TIMEOUT(warned(), qPrintable(warnings.join(u'\n')), 15000);
    QVERIFY(isLink(a.root() + u'/' + path));

    // B edits what A holds behind the link: the server takes it, A writes nothing there.
    const auto before = snapshot(m_outside->path());
    const QString edited = path == QStringLiteral("Photos") ? QStringLiteral("Photos/one.jpg") : path;
    writeFile(b.root(), edited, "edited by B");
    writeFile(b.root(), QStringLiteral("last.txt"), "last");
    QTRY_COMPARE_WITH_TIMEOUT(readFile(a.root(), QStringLiteral("last.txt")), QByteArray("last"), 15000);
    QTRY_COMPARE_WITH_TIMEOUT(b.engine()->state(), EngineState::Idle, 15000);
    QCOMPARE(readFile(b.root(), edited), QByteArray("edited by B"));
    QCOMPARE(snapshot(m_outside->path()), before);
    QVERIFY(isLink(a.root() + u'/' + path));
}

QTEST_GUILESS_MAIN(tst_LinkSafety)
#include "tst_linksafety.moc"
