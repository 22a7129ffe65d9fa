#include "enginepools.h"
#include "journal.h"
#include "propagator.h"
#include "scanner.h"
#include "serverconnection.h"
#include "synctestmacros.h"
#include "testcluster.h"
#include "testtree.h"

#include <QDateTime>
#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QSignalSpy>
#include <QSqlDatabase>
#include <QSqlQuery>
#include <QTest>

#include <fcntl.h>
#include <sys/stat.h>

using namespace filesync;
using namespace filesync::test;

// A folder moved on one computer while another changes what is inside it, or moves it
// too (docs/architecture.md, "Concurrent folder moves"): both changes apply, inside the
// moved folder; of two moves of one folder the first the server commits wins on every
// computer. Nothing duplicated, nothing lost, and the engines go quiet afterwards.
class tst_FolderMoves : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void init();
    void cleanup();

    void offlineRenameMeetsDeleteAndRenameInside_data();
    void offlineRenameMeetsDeleteAndRenameInside();
    void offlineRenameMeetsChangeInside_data();
    void offlineRenameMeetsChangeInside();
    void bothRenameTheSameFolder_data();
    void bothRenameTheSameFolder();
    void bothRenameAndOneMovesAFileIn_data();
    void bothRenameAndOneMovesAFileIn();
    void renameIntoAFolderDeletedElsewhere();
    void moveIntoAFolderRenamedElsewhere();
    void folderMovedIntoAFolderRenamedElsewhere();
    void fileMovedOntoANewFileInAMovedFolder();
    void folderMovedOutOfAFolderRenamedElsewhere();
    void moveIntoARenamedFolderOntoANewFile();
    void folderRenamedOverADeletedFile();
    void renameOntoAFolderMadeElsewhere();
    void remoteMoveOntoALocalFile();
    void onlineRenameMeetsChangesInside();
    void onlineBothRenameTheSameFolder();
    void deleteInAFolderRenamedSinceThePlanWaits();
    void fileSetAsideInPlaceOfAFolderKeepsItsContentKnown();
    void folderMovedWithChangesIntoAFolderRenamedElsewhere();
    void foldersMovedIntoEachOther();
    void folderRenamedAndANewOneMadeInItsPlace();
    void folderRenamedHereAndThereAndANewOneMadeInItsPlace();

private:
    std::unique_ptr<TestServer> m_server;
};

namespace {

// The journal records `paths` as synced (at version 2) as they are on the disk now; the
// same entries are returned, as the plan's journal at its start.
JournalState recordSynced(Journal &journal, const QString &root, const QStringList &paths)
{
    JournalState known;
    for (const QString &p : paths) {
        const auto stat = Scanner::stat(root + u'/' + p);
        if (!stat)
            return {};
        known.insert(*RelativePath::fromString(p), journalEntryFor(*stat, 2));
        journal.put(*RelativePath::fromString(p), journalEntryFor(*stat, 2));
    }
    return known;
}

bool moveOnDisk(const QString &root, const QString &from, const QString &to)
{
    return QDir(root).rename(from, to);
}

// D/f0..f3 and D/S/s0 on two synced computers.
void seed(TestClient &a)
{
    for (int i = 0; i < 4; ++i)
        writeFile(a.root(), QStringLiteral("D/f%1").arg(i), QByteArray("content ") + QByteArray::number(i));
    writeFile(a.root(), QStringLiteral("D/S/s0"), "sub content");
}

// Both engines stay without a cycle for `quietMs` (each cycle's end restarts the wait),
// within a bounded time: no endless cycles after convergence.
bool goesQuiet(const QList<TestClient *> &clients, int quietMs = 1500, int timeoutMs = 20000)
{
    QList<std::shared_ptr<QSignalSpy>> spies;
    for (TestClient *c : clients)
        spies << std::make_shared<QSignalSpy>(c->engine(), &SyncEngine::cycleFinished);
    QElapsedTimer total, sinceLast;
    total.start();
    sinceLast.start();
    qsizetype seen = 0;
    while (total.elapsed() < timeoutMs) {
        QTest::qWait(50);
        qsizetype now = 0;
        for (const auto &s : std::as_const(spies))
            now += s->count();
        if (now != seen) {
            seen = now;
            sinceLast.restart();
        } else if (sinceLast.elapsed() >= quietMs) {
            return true;
        }
    }
    return false;
}

} // namespace

void tst_FolderMoves::init()
{
    m_server = std::make_unique<TestServer>();
    QVERIFY(m_server->start());
}

void tst_FolderMoves::cleanup()
{
    m_server.reset();
}

// The report's case: B deletes one file and renames another inside D while A, offline,
// renames D to E; and B deletes a file A edited meanwhile (the edit wins). Also with A
// reading the feed in slices of three entries (a slice may end between a moved folder
// and its content).
void tst_FolderMoves::offlineRenameMeetsDeleteAndRenameInside_data()
{
    QTest::addColumn<int>("slice");
    QTest::newRow("whole feed") << 0;
    QTest::newRow("slices") << 3;
}

void tst_FolderMoves::offlineRenameMeetsDeleteAndRenameInside()
{
    QFETCH(int, slice);
    TestClient a(QStringLiteral("alpha"), m_server->port());
    if (slice > 0)
        a.config().maxChangesPerCycle = slice;
    seed(a);
    TestClient b(QStringLiteral("beta"), m_server->port());
    QVERIFY(startInSync(a, b));

    a.stop();
    QVERIFY(QFile::remove(b.root() + QStringLiteral("/D/f1")));
    QVERIFY(moveOnDisk(b.root(), QStringLiteral("D/f2"), QStringLiteral("D/g2")));
    QTRY_VERIFY(b.completed(QStringLiteral("D/f1"), QStringLiteral("deleted")));
    QVERIFY(QFile::remove(b.root() + QStringLiteral("/D/f3")));
    QTRY_VERIFY(b.completed(QStringLiteral("D/g2"), QStringLiteral("moved")));
    QTRY_VERIFY(b.completed(QStringLiteral("D/f3"), QStringLiteral("deleted")));
    writeFile(a.root(), QStringLiteral("D/f3"), "edited by A");
    QVERIFY(moveOnDisk(a.root(), QStringLiteral("D"), QStringLiteral("E")));

    QVERIFY(a.start());
    QTRY_TREES_EQUAL(a.root(), b.root());
    QVERIFY(goesQuiet({ &a, &b }));
    QTRY_TREES_EQUAL(a.root(), b.root());
    QCOMPARE(readFile(b.root(), QStringLiteral("E/f0")), QByteArray("content 0"));
    QCOMPARE(readFile(b.root(), QStringLiteral("E/g2")), QByteArray("content 2"));
    QCOMPARE(readFile(b.root(), QStringLiteral("E/f3")), QByteArray("edited by A"));
    QCOMPARE(readFile(b.root(), QStringLiteral("E/S/s0")), QByteArray("sub content"));
    for (const char *gone : { "D", "E/f1", "E/f2" })
        QVERIFY2(!exists(a.root(), QString::fromLatin1(gone)), gone);
    QVERIFY(conflictCopies(a.root()).isEmpty());
}

// One computer renames D to E while the other, with one of them offline, changes
// something inside D: the change happens inside E.
void tst_FolderMoves::offlineRenameMeetsChangeInside_data()
{
    QTest::addColumn<QString>("change");
    QTest::addColumn<bool>("renamerOffline"); // else the changer is the one offline
    for (const char *change : { "create", "delete", "rename", "renameSubfolder", "edit" }) {
        QTest::addRow("%s, renamer offline", change) << QString::fromLatin1(change) << true;
        QTest::addRow("%s, changer offline", change) << QString::fromLatin1(change) << false;
    }
}

void tst_FolderMoves::offlineRenameMeetsChangeInside()
{
    QFETCH(QString, change);
    QFETCH(bool, renamerOffline);
    TestClient a(QStringLiteral("alpha"), m_server->port()); // renames
    seed(a);
    TestClient b(QStringLiteral("beta"), m_server->port()); // changes inside
    QVERIFY(startInSync(a, b));

    TestClient &offline = renamerOffline ? a : b;
    TestClient &online = renamerOffline ? b : a;
    offline.stop();
    auto changeInside = [&] {
        if (change == u"create")
            writeFile(b.root(), QStringLiteral("D/new"), "created inside");
        else if (change == u"delete")
            QVERIFY(QFile::remove(b.root() + QStringLiteral("/D/f1")));
        else if (change == u"rename")
            QVERIFY(moveOnDisk(b.root(), QStringLiteral("D/f2"), QStringLiteral("D/g2")));
        else if (change == u"renameSubfolder")
            QVERIFY(moveOnDisk(b.root(), QStringLiteral("D/S"), QStringLiteral("D/T")));
        else
            writeFile(b.root(), QStringLiteral("D/f0"), "edited inside");
    };
    auto rename = [&] { QVERIFY(moveOnDisk(a.root(), QStringLiteral("D"), QStringLiteral("E"))); };
    if (renamerOffline) {
        changeInside();
        rename();
    } else {
        rename();
        changeInside();
    }
    // The online computer's change reaches the server first.
    if (!renamerOffline) {
        QTRY_VERIFY(a.completed(QStringLiteral("E"), QStringLiteral("moved")));
    } else if (change == u"create") {
        QTRY_VERIFY(b.completed(QStringLiteral("D/new"), QStringLiteral("uploaded")));
    } else if (change == u"delete") {
        QTRY_VERIFY(b.completed(QStringLiteral("D/f1"), QStringLiteral("deleted")));
    } else if (change == u"rename") {
        QTRY_VERIFY(b.completed(QStringLiteral("D/g2"), QStringLiteral("moved")));
    } else if (change == u"renameSubfolder") {
        QTRY_VERIFY(b.completed(QStringLiteral("D/T"), QStringLiteral("moved")));
    } else {
        QTRY_VERIFY(b.completed(QStringLiteral("D/f0"), QStringLiteral("uploaded")));
    }
    QVERIFY(goesQuiet({ &online }));
    QVERIFY(offline.start());
    QTRY_TREES_EQUAL(a.root(), b.root());
    QVERIFY(goesQuiet({ &a, &b }));
    QTRY_TREES_EQUAL(a.root(), b.root());

    QVERIFY(!exists(a.root(), QStringLiteral("D")));
    QVERIFY(conflictCopies(a.root()).isEmpty());
    QCOMPARE(readFile(a.root(), QStringLiteral("E/f3")), QByteArray("content 3"));
    if (change == u"create") {
        QCOMPARE(readFile(a.root(), QStringLiteral("E/new")), QByteArray("created inside"));
    } else if (change == u"delete") {
        QVERIFY(!exists(a.root(), QStringLiteral("E/f1")));
    } else if (change == u"rename") {
        QVERIFY(!exists(a.root(), QStringLiteral("E/f2")));
        QCOMPARE(readFile(a.root(), QStringLiteral("E/g2")), QByteArray("content 2"));
    } else if (change == u"renameSubfolder") {
        QVERIFY(!exists(a.root(), QStringLiteral("E/S")));
        QCOMPARE(readFile(a.root(), QStringLiteral("E/T/s0")), QByteArray("sub content"));
    } else {
        QCOMPARE(readFile(a.root(), QStringLiteral("E/f0")), QByteArray("edited inside"));
    }
}

// Both computers, offline, rename D (A to E, B to F) and each adds a file in its new
// name. The first to come back wins: the other renames its folder to the winner's name,
// and its new file goes along.
void tst_FolderMoves::bothRenameTheSameFolder_data()
{
    QTest::addColumn<bool>("aFirst");
    QTest::newRow("A comes back first") << true;
    QTest::newRow("B comes back first") << false;
}

void tst_FolderMoves::bothRenameTheSameFolder()
{
    QFETCH(bool, aFirst);
    TestClient a(QStringLiteral("alpha"), m_server->port());
    seed(a);
    TestClient b(QStringLiteral("beta"), m_server->port());
    QVERIFY(startInSync(a, b));

    a.stop();
    b.stop();
    QVERIFY(moveOnDisk(a.root(), QStringLiteral("D"), QStringLiteral("E")));
    writeFile(a.root(), QStringLiteral("E/from-a"), "added by A");
    QVERIFY(QFile::remove(a.root() + QStringLiteral("/E/f0")));
    QVERIFY(moveOnDisk(b.root(), QStringLiteral("D"), QStringLiteral("F")));
    writeFile(b.root(), QStringLiteral("F/from-b"), "added by B");
    writeFile(b.root(), QStringLiteral("F/f1"), "edited by B");

    TestClient &first = aFirst ? a : b;
    TestClient &second = aFirst ? b : a;
    QVERIFY(first.start());
    QVERIFY(goesQuiet({ &first }));
    QVERIFY(second.start());
    QTRY_TREES_EQUAL(a.root(), b.root());
    QVERIFY(goesQuiet({ &a, &b }));
    QTRY_TREES_EQUAL(a.root(), b.root());

    const QString winner = aFirst ? QStringLiteral("E") : QStringLiteral("F");
    const QString loser = aFirst ? QStringLiteral("F") : QStringLiteral("E");
    QVERIFY(!exists(a.root(), QStringLiteral("D")));
    QVERIFY(!exists(a.root(), loser));
    QCOMPARE(readFile(a.root(), winner + QStringLiteral("/from-a")), QByteArray("added by A"));
    QCOMPARE(readFile(a.root(), winner + QStringLiteral("/from-b")), QByteArray("added by B"));
    QCOMPARE(readFile(a.root(), winner + QStringLiteral("/f1")), QByteArray("edited by B"));
    QVERIFY(!exists(a.root(), winner + QStringLiteral("/f0")));
    QCOMPARE(readFile(a.root(), winner + QStringLiteral("/f2")), QByteArray("content 2"));
    QCOMPARE(readFile(a.root(), winner + QStringLiteral("/S/s0")), QByteArray("sub content"));
    QVERIFY(conflictCopies(a.root()).isEmpty());
    QCOMPARE(treeState(a.root()).size(), 8); // the winner, its five files, S and S/s0: nothing duplicated
}

// Both rename D (to one name or two) while offline, and B also moves a file it had beside D
// into its renamed folder. That file was never under D on the server: it must not count
// as one the server's move left behind (it was deleted, moved and then deleted again).
void tst_FolderMoves::bothRenameAndOneMovesAFileIn_data()
{
    QTest::addColumn<QString>("bName");
    QTest::addColumn<bool>("aFirst");
    QTest::newRow("same name, A first") << QStringLiteral("E") << true;
    QTest::newRow("same name, B first") << QStringLiteral("E") << false;
    QTest::newRow("other name, A first") << QStringLiteral("F") << true;
    QTest::newRow("other name, B first") << QStringLiteral("F") << false;
}

void tst_FolderMoves::bothRenameAndOneMovesAFileIn()
{
    QFETCH(QString, bName);
    QFETCH(bool, aFirst);
    TestClient a(QStringLiteral("alpha"), m_server->port());
    seed(a);
    writeFile(a.root(), QStringLiteral("x"), "moved in by B");
    TestClient b(QStringLiteral("beta"), m_server->port());
    QVERIFY(startInSync(a, b));

    a.stop();
    b.stop();
    QVERIFY(moveOnDisk(a.root(), QStringLiteral("D"), QStringLiteral("E")));
    QVERIFY(moveOnDisk(b.root(), QStringLiteral("D"), bName));
    QVERIFY(moveOnDisk(b.root(), QStringLiteral("x"), bName + QStringLiteral("/y")));

    TestClient &first = aFirst ? a : b;
    TestClient &second = aFirst ? b : a;
    QVERIFY(first.start());
    QVERIFY(goesQuiet({ &first }));
    QVERIFY(second.start());
    QTRY_TREES_EQUAL(a.root(), b.root());
    QVERIFY(goesQuiet({ &a, &b }));
    QTRY_TREES_EQUAL(a.root(), b.root());

    const QString winner = aFirst ? QStringLiteral("E") : bName;
    QCOMPARE(readFile(a.root(), winner + QStringLiteral("/y")), QByteArray("moved in by B"));
    QCOMPARE(readFile(a.root(), winner + QStringLiteral("/f0")), QByteArray("content 0"));
    QCOMPARE(readFile(a.root(), winner + QStringLiteral("/S/s0")), QByteArray("sub content"));
    QVERIFY(!exists(a.root(), QStringLiteral("x")));
    QVERIFY(!exists(a.root(), QStringLiteral("D")));
    QVERIFY(conflictCopies(a.root()).isEmpty());
    QCOMPARE(treeState(a.root()).size(), 8); // the folder, f0..f3, S, S/s0 and y
}

// A, offline, moves a file into folder K; B deletes K. The moved file is kept (a move is
// a change, and a change wins over a delete); the rest of K goes.
void tst_FolderMoves::renameIntoAFolderDeletedElsewhere()
{
    TestClient a(QStringLiteral("alpha"), m_server->port());
    writeFile(a.root(), QStringLiteral("K/k0"), "in K");
    writeFile(a.root(), QStringLiteral("x"), "moved into K");
    TestClient b(QStringLiteral("beta"), m_server->port());
    QVERIFY(startInSync(a, b));

    a.stop();
    QVERIFY(QDir(b.root() + QStringLiteral("/K")).removeRecursively());
    QTRY_VERIFY(b.completed(QStringLiteral("K"), QStringLiteral("deleted")));
    QVERIFY(moveOnDisk(a.root(), QStringLiteral("x"), QStringLiteral("K/x")));
    QVERIFY(a.start());
    QTRY_TREES_EQUAL(a.root(), b.root());
    QVERIFY(goesQuiet({ &a, &b }));
    QTRY_TREES_EQUAL(a.root(), b.root());
    QCOMPARE(readFile(b.root(), QStringLiteral("K/x")), QByteArray("moved into K"));
    QVERIFY(!exists(b.root(), QStringLiteral("x")));
    QVERIFY(!exists(b.root(), QStringLiteral("K/k0")));
    QVERIFY(conflictCopies(a.root()).isEmpty());
}

// A, offline, moves a file into D/S while B renames D to E: the file ends up in E/S
// (it was deleted there as one the server's move had left behind).
void tst_FolderMoves::moveIntoAFolderRenamedElsewhere()
{
    TestClient a(QStringLiteral("alpha"), m_server->port());
    seed(a);
    writeFile(a.root(), QStringLiteral("x"), "moved into D/S by A");
    TestClient b(QStringLiteral("beta"), m_server->port());
    QVERIFY(startInSync(a, b));

    a.stop();
    QVERIFY(moveOnDisk(b.root(), QStringLiteral("D"), QStringLiteral("E")));
    QTRY_VERIFY(b.completed(QStringLiteral("E"), QStringLiteral("moved")));
    QVERIFY(moveOnDisk(a.root(), QStringLiteral("x"), QStringLiteral("D/S/y")));
    QVERIFY(a.start());
    QTRY_TREES_EQUAL(a.root(), b.root());
    QVERIFY(goesQuiet({ &a, &b }));
    QTRY_TREES_EQUAL(a.root(), b.root());
    QCOMPARE(readFile(b.root(), QStringLiteral("E/S/y")), QByteArray("moved into D/S by A"));
    QCOMPARE(readFile(b.root(), QStringLiteral("E/S/s0")), QByteArray("sub content"));
    for (const char *gone : { "x", "D" })
        QVERIFY2(!exists(a.root(), QString::fromLatin1(gone)), gone);
    QVERIFY(conflictCopies(a.root()).isEmpty());
}

// A, offline, moves the folder N (files in it) into D while B renames D to E: N ends up
// in E with its files. The files were recorded under E before the server had them there,
// and the next cycle deleted them here and on the server.
void tst_FolderMoves::folderMovedIntoAFolderRenamedElsewhere()
{
    TestClient a(QStringLiteral("alpha"), m_server->port());
    seed(a);
    writeFile(a.root(), QStringLiteral("N/n0"), "n0 content");
    writeFile(a.root(), QStringLiteral("N/n1"), "n1 content");
    TestClient b(QStringLiteral("beta"), m_server->port());
    QVERIFY(startInSync(a, b));

    a.stop();
    QVERIFY(moveOnDisk(b.root(), QStringLiteral("D"), QStringLiteral("E")));
    QTRY_VERIFY(b.completed(QStringLiteral("E"), QStringLiteral("moved")));
    writeFile(b.root(), QStringLiteral("N/n2"), "n2, new on B");
    QTRY_VERIFY(b.completed(QStringLiteral("N/n2"), QStringLiteral("uploaded")));
    QVERIFY(moveOnDisk(a.root(), QStringLiteral("N"), QStringLiteral("D/M")));
    QVERIFY(a.start());
    QTRY_TREES_EQUAL(a.root(), b.root());
    QVERIFY(goesQuiet({ &a, &b }));
    QTRY_TREES_EQUAL(a.root(), b.root());
    QCOMPARE(readFile(b.root(), QStringLiteral("E/M/n0")), QByteArray("n0 content"));
    QCOMPARE(readFile(b.root(), QStringLiteral("E/M/n1")), QByteArray("n1 content"));
    QCOMPARE(readFile(b.root(), QStringLiteral("E/M/n2")), QByteArray("n2, new on B"));
    QCOMPARE(readFile(b.root(), QStringLiteral("E/f0")), QByteArray("content 0"));
    for (const char *gone : { "N", "D" })
        QVERIFY2(!exists(a.root(), QString::fromLatin1(gone)), gone);
    QVERIFY(conflictCopies(a.root()).isEmpty());
}

// A, offline, renames the file f into D as D/e while B makes its own D/e and then moves D
// to N/f (the old name of A's file): B's D/e is at N/f/e, A's is kept beside it.
void tst_FolderMoves::fileMovedOntoANewFileInAMovedFolder()
{
    TestClient a(QStringLiteral("alpha"), m_server->port());
    seed(a);
    writeFile(a.root(), QStringLiteral("f"), "A's f, moved to D/e");
    writeFile(a.root(), QStringLiteral("N/n"), "in N");
    TestClient b(QStringLiteral("beta"), m_server->port());
    QVERIFY(startInSync(a, b));

    a.stop();
    writeFile(b.root(), QStringLiteral("D/e"), "B's new D/e");
    QTRY_VERIFY(b.completed(QStringLiteral("D/e"), QStringLiteral("uploaded")));
    QVERIFY(moveOnDisk(b.root(), QStringLiteral("D"), QStringLiteral("N/f")));
    QTRY_VERIFY(b.completed(QStringLiteral("N/f"), QStringLiteral("moved")));
    QVERIFY(moveOnDisk(a.root(), QStringLiteral("f"), QStringLiteral("D/e")));
    QVERIFY(a.start());
    QTRY_TREES_EQUAL(a.root(), b.root());
    QVERIFY(goesQuiet({ &a, &b }));
    QTRY_TREES_EQUAL(a.root(), b.root());
    QCOMPARE(readFile(b.root(), QStringLiteral("N/f/e")), QByteArray("B's new D/e"));
    const QStringList copies = conflictCopies(b.root());
    QCOMPARE(copies.size(), 1);
    QCOMPARE(readFile(b.root(), copies.first()), QByteArray("A's f, moved to D/e"));
    for (const char *gone : { "f", "D" })
        QVERIFY2(!exists(a.root(), QString::fromLatin1(gone)), gone);
}

// A, offline, moves the folder D/S out to T while B renames D to E and adds a file to S:
// S's content (the new file too) ends up in T, and E holds no S.
void tst_FolderMoves::folderMovedOutOfAFolderRenamedElsewhere()
{
    TestClient a(QStringLiteral("alpha"), m_server->port());
    seed(a);
    TestClient b(QStringLiteral("beta"), m_server->port());
    QVERIFY(startInSync(a, b));

    a.stop();
    QVERIFY(moveOnDisk(b.root(), QStringLiteral("D"), QStringLiteral("E")));
    QTRY_VERIFY(b.completed(QStringLiteral("E"), QStringLiteral("moved")));
    writeFile(b.root(), QStringLiteral("E/S/s1"), "s1, new on B");
    QTRY_VERIFY(b.completed(QStringLiteral("E/S/s1"), QStringLiteral("uploaded")));
    QVERIFY(moveOnDisk(a.root(), QStringLiteral("D/S"), QStringLiteral("T")));
    QVERIFY(a.start());
    QTRY_TREES_EQUAL(a.root(), b.root());
    QVERIFY(goesQuiet({ &a, &b }));
    QTRY_TREES_EQUAL(a.root(), b.root());
    QCOMPARE(readFile(b.root(), QStringLiteral("T/s0")), QByteArray("sub content"));
    QCOMPARE(readFile(b.root(), QStringLiteral("T/s1")), QByteArray("s1, new on B"));
    QCOMPARE(readFile(b.root(), QStringLiteral("E/f0")), QByteArray("content 0"));
    for (const char *gone : { "D", "E/S" })
        QVERIFY2(!exists(a.root(), QString::fromLatin1(gone)), gone);
    QVERIFY(conflictCopies(a.root()).isEmpty());
}

// A, offline, deletes the file X and renames the folder O to X. The server refuses the
// moves into X while X is still a file there. A file whose stat the journal had not yet
// trusted (recorded while recent) was recorded at its new name all the same, before the
// move was sent; when the move was refused the next cycle took it for deleted on the
// server and deleted it here.
void tst_FolderMoves::folderRenamedOverADeletedFile()
{
    TestClient a(QStringLiteral("alpha"), m_server->port());
    writeFile(a.root(), QStringLiteral("O/j"), "j content");
    writeFile(a.root(), QStringLiteral("O/k"), "k content");
    writeFile(a.root(), QStringLiteral("X"), "a file X");
    TestClient b(QStringLiteral("beta"), m_server->port());
    QVERIFY(startInSync(a, b));

    a.stop(); // the computer that wrote the files: their stats are its own writes
    {
        // As if each file had been recorded while it was still recent (the racy rule):
        // the next scan reads them again and records them as proven.
        QSqlDatabase db = QSqlDatabase::addDatabase(QStringLiteral("QSQLITE"), QStringLiteral("journal-edit"));
        db.setDatabaseName(Journal::path(a.root()));
        QVERIFY(db.open());
        QSqlQuery q(db);
        QVERIFY(q.exec(QStringLiteral("UPDATE entries SET read_after_ctime = 0")));
    }
    QSqlDatabase::removeDatabase(QStringLiteral("journal-edit"));
    QVERIFY(QFile::remove(a.root() + QStringLiteral("/X")));
    QVERIFY(moveOnDisk(a.root(), QStringLiteral("O"), QStringLiteral("X")));
    QVERIFY(a.start());
    QTRY_TREES_EQUAL(a.root(), b.root());
    QVERIFY(goesQuiet({ &a, &b }));
    QTRY_TREES_EQUAL(a.root(), b.root());
    QCOMPARE(readFile(a.root(), QStringLiteral("X/j")), QByteArray("j content"));
    QCOMPARE(readFile(a.root(), QStringLiteral("X/k")), QByteArray("k content"));
    QVERIFY(!exists(a.root(), QStringLiteral("O")));
    QVERIFY(conflictCopies(a.root()).isEmpty());
}

// A renames D to N/E while B, offline, makes a folder N/E of its own and a folder D/X
// inside D: the two folders N/E merge, D/X ends up in N/E (it went there on the server
// but stayed at D/X on B, and B's D came back, for ever different).
void tst_FolderMoves::renameOntoAFolderMadeElsewhere()
{
    TestClient a(QStringLiteral("alpha"), m_server->port());
    seed(a);
    makeDir(a.root(), QStringLiteral("N"));
    TestClient b(QStringLiteral("beta"), m_server->port());
    QVERIFY(startInSync(a, b));

    b.stop();
    QVERIFY(moveOnDisk(a.root(), QStringLiteral("D"), QStringLiteral("N/E")));
    QTRY_VERIFY(a.completed(QStringLiteral("N/E"), QStringLiteral("moved")));
    makeDir(b.root(), QStringLiteral("N/E"));
    makeDir(b.root(), QStringLiteral("D/X"));
    QVERIFY(b.start());
    QTRY_TREES_EQUAL(a.root(), b.root());
    QVERIFY(goesQuiet({ &a, &b }));
    QTRY_TREES_EQUAL(a.root(), b.root());
    QVERIFY(exists(a.root(), QStringLiteral("N/E/X")));
    QCOMPARE(readFile(a.root(), QStringLiteral("N/E/f0")), QByteArray("content 0"));
    QVERIFY(!exists(a.root(), QStringLiteral("D")));
    QVERIFY(conflictCopies(a.root()).isEmpty());
}

// A, offline, moves x to D/y while B renames D to E and creates its own E/y: A's file
// cannot follow the folder to E/y (taken). Both are kept: B's at E/y, A's as its conflict
// copy (A's moved file was once overwritten by B's there, and lost).
void tst_FolderMoves::moveIntoARenamedFolderOntoANewFile()
{
    TestClient a(QStringLiteral("alpha"), m_server->port());
    seed(a);
    writeFile(a.root(), QStringLiteral("x"), "moved to D/y by A");
    TestClient b(QStringLiteral("beta"), m_server->port());
    QVERIFY(startInSync(a, b));

    a.stop();
    QVERIFY(moveOnDisk(b.root(), QStringLiteral("D"), QStringLiteral("E")));
    QTRY_VERIFY(b.completed(QStringLiteral("E"), QStringLiteral("moved")));
    writeFile(b.root(), QStringLiteral("E/y"), "made in E by B");
    QTRY_VERIFY(b.completed(QStringLiteral("E/y"), QStringLiteral("uploaded")));
    QVERIFY(moveOnDisk(a.root(), QStringLiteral("x"), QStringLiteral("D/y")));
    QVERIFY(a.start());
    QTRY_TREES_EQUAL(a.root(), b.root());
    QVERIFY(goesQuiet({ &a, &b }));
    QTRY_TREES_EQUAL(a.root(), b.root());
    QCOMPARE(readFile(a.root(), QStringLiteral("E/y")), QByteArray("made in E by B"));
    const QStringList copies = conflictCopies(a.root());
    QCOMPARE(copies.size(), 1);
    QCOMPARE(readFile(a.root(), copies.first()), QByteArray("moved to D/y by A"));
    for (const char *gone : { "x", "D" })
        QVERIFY2(!exists(a.root(), QString::fromLatin1(gone)), gone);
}

// A moves D into E/X while B, offline, creates a file at E/X: B cannot apply the move
// until its file is set aside as a conflict copy. The files of D must survive the wait
// (they were once recorded at their new names without being moved, then deleted there).
void tst_FolderMoves::remoteMoveOntoALocalFile()
{
    TestClient a(QStringLiteral("alpha"), m_server->port());
    seed(a);
    writeFile(a.root(), QStringLiteral("E/e0"), "in E");
    TestClient b(QStringLiteral("beta"), m_server->port());
    QVERIFY(startInSync(a, b));

    b.stop();
    QVERIFY(moveOnDisk(a.root(), QStringLiteral("D"), QStringLiteral("E/X")));
    QTRY_VERIFY(a.completed(QStringLiteral("E/X"), QStringLiteral("moved")));
    writeFile(b.root(), QStringLiteral("E/X"), "a file of B's where A moved a folder");
    QVERIFY(b.start());
    QTRY_TREES_EQUAL(a.root(), b.root());
    QVERIFY(goesQuiet({ &a, &b }));
    QTRY_TREES_EQUAL(a.root(), b.root());
    for (int i = 0; i < 4; ++i)
        QCOMPARE(readFile(a.root(), QStringLiteral("E/X/f%1").arg(i)), QByteArray("content ") + QByteArray::number(i));
    QCOMPARE(readFile(a.root(), QStringLiteral("E/X/S/s0")), QByteArray("sub content"));
    QVERIFY(!exists(a.root(), QStringLiteral("D")));
    const QStringList copies = conflictCopies(a.root());
    QCOMPARE(copies.size(), 1);
    QCOMPARE(readFile(a.root(), copies.first()), QByteArray("a file of B's where A moved a folder"));
}

// Both online, at the same moment: A renames D to E; B deletes a file, renames one and
// creates one inside D. Whatever order the server sees them in, B's changes end up in E.
void tst_FolderMoves::onlineRenameMeetsChangesInside()
{
    TestClient a(QStringLiteral("alpha"), m_server->port());
    seed(a);
    TestClient b(QStringLiteral("beta"), m_server->port());
    QVERIFY(startInSync(a, b));

    QVERIFY(moveOnDisk(a.root(), QStringLiteral("D"), QStringLiteral("E")));
    QVERIFY(QFile::remove(b.root() + QStringLiteral("/D/f1")));
    QVERIFY(moveOnDisk(b.root(), QStringLiteral("D/f2"), QStringLiteral("D/g2")));
    writeFile(b.root(), QStringLiteral("D/new"), "created inside");
    QTRY_TREES_EQUAL(a.root(), b.root());
    QVERIFY(goesQuiet({ &a, &b }));
    QTRY_TREES_EQUAL(a.root(), b.root());
    QVERIFY(!exists(a.root(), QStringLiteral("D")));
    QVERIFY(!exists(a.root(), QStringLiteral("E/f1")));
    QVERIFY(!exists(a.root(), QStringLiteral("E/f2")));
    QCOMPARE(readFile(a.root(), QStringLiteral("E/g2")), QByteArray("content 2"));
    QCOMPARE(readFile(a.root(), QStringLiteral("E/new")), QByteArray("created inside"));
    QCOMPARE(readFile(a.root(), QStringLiteral("E/f0")), QByteArray("content 0"));
    QVERIFY(conflictCopies(a.root()).isEmpty());
}

// Both online, at the same moment: A renames D to E and B renames it to F. Whichever the
// server commits first wins on both computers.
void tst_FolderMoves::onlineBothRenameTheSameFolder()
{
    TestClient a(QStringLiteral("alpha"), m_server->port());
    seed(a);
    TestClient b(QStringLiteral("beta"), m_server->port());
    QVERIFY(startInSync(a, b));

    QVERIFY(moveOnDisk(a.root(), QStringLiteral("D"), QStringLiteral("E")));
    QVERIFY(moveOnDisk(b.root(), QStringLiteral("D"), QStringLiteral("F")));
    QTRY_TREES_EQUAL(a.root(), b.root());
    QVERIFY(goesQuiet({ &a, &b }));
    QTRY_TREES_EQUAL(a.root(), b.root());
    const bool eWon = exists(a.root(), QStringLiteral("E"));
    QVERIFY(eWon != exists(a.root(), QStringLiteral("F")));
    QVERIFY(!exists(a.root(), QStringLiteral("D")));
    const QString winner = eWon ? QStringLiteral("E") : QStringLiteral("F");
    for (int i = 0; i < 4; ++i)
        QCOMPARE(
            readFile(a.root(), winner + QStringLiteral("/f%1").arg(i)), QByteArray("content ") + QByteArray::number(i));
    QCOMPARE(treeState(a.root()).size(), 7); // the winner, f0..f3, S and S/s0
    QVERIFY(conflictCopies(a.root()).isEmpty());
}

// A, offline, moves X into N (as N/d) and makes N/new; B moves N into X (as X/N) first.
// Both cannot be: B's move, the first the server has, wins and A's is undone on A, with
// what A made in N going along. A used to wait for its move for good: idle, its cursor
// below the server's head, its folder different.
void tst_FolderMoves::foldersMovedIntoEachOther()
{
    TestClient a(QStringLiteral("alpha"), m_server->port());
    writeFile(a.root(), QStringLiteral("X/f"), "in X");
    writeFile(a.root(), QStringLiteral("N/g"), "in N");
    TestClient b(QStringLiteral("beta"), m_server->port());
    QVERIFY(startInSync(a, b));

    a.stop();
    QVERIFY(moveOnDisk(b.root(), QStringLiteral("N"), QStringLiteral("X/N")));
    QTRY_VERIFY(b.completed(QStringLiteral("X/N"), QStringLiteral("moved")));
    QVERIFY(moveOnDisk(a.root(), QStringLiteral("X"), QStringLiteral("N/d")));
    makeDir(a.root(), QStringLiteral("N/new"));
    QVERIFY(a.start());
    QTRY_TREES_EQUAL(a.root(), b.root());
    QVERIFY(goesQuiet({ &a, &b }));
    QTRY_TREES_EQUAL(a.root(), b.root());
    QCOMPARE(readFile(b.root(), QStringLiteral("X/f")), QByteArray("in X"));
    QCOMPARE(readFile(b.root(), QStringLiteral("X/N/g")), QByteArray("in N"));
    QVERIFY(exists(b.root(), QStringLiteral("X/N/new")));
    QVERIFY(!exists(b.root(), QStringLiteral("N")));
    QCOMPARE(treeState(a.root()).size(), 5); // X, X/f, X/N, X/N/g, X/N/new
    QCOMPARE(storedCursor(a.root()), storedCursor(b.root()));
    QVERIFY(conflictCopies(a.root()).isEmpty());
}

// A, offline, moves S into F (as F/d), touches S's file there and adds one; B renames F
// to T first. A's move goes along, to T/d. A used to drop its move while its journal
// already named S's content under T/d: it recorded the touched file there (the server
// had it under S), uploaded the new one (which made T/d on the server), then took S for
// deleted here and deleted it on the server. The file was lost everywhere but on A.
void tst_FolderMoves::folderMovedWithChangesIntoAFolderRenamedElsewhere()
{
    TestClient a(QStringLiteral("alpha"), m_server->port());
    writeFile(a.root(), QStringLiteral("S/f"), "in S");
    writeFile(a.root(), QStringLiteral("F/g"), "in F");
    TestClient b(QStringLiteral("beta"), m_server->port());
    QVERIFY(startInSync(a, b));

    a.stop();
    QVERIFY(moveOnDisk(b.root(), QStringLiteral("F"), QStringLiteral("T")));
    QTRY_VERIFY(b.completed(QStringLiteral("T"), QStringLiteral("moved")));
    QVERIFY(moveOnDisk(a.root(), QStringLiteral("S"), QStringLiteral("F/d")));
    const timespec times[2] = { { 0, UTIME_OMIT }, { 1'000'000'000, 0 } }; // mtime only, years ago
    QVERIFY(::utimensat(AT_FDCWD, QFile::encodeName(a.root() + QStringLiteral("/F/d/f")).constData(), times, 0) == 0);
    writeFile(a.root(), QStringLiteral("F/d/new"), "new in S");
    QVERIFY(a.start());
    QTRY_TREES_EQUAL(a.root(), b.root());
    QVERIFY(goesQuiet({ &a, &b }));
    QTRY_TREES_EQUAL(a.root(), b.root());
    QCOMPARE(readFile(b.root(), QStringLiteral("T/d/f")), QByteArray("in S"));
    QCOMPARE(readFile(b.root(), QStringLiteral("T/d/new")), QByteArray("new in S"));
    QCOMPARE(readFile(b.root(), QStringLiteral("T/g")), QByteArray("in F"));
    for (const char *gone : { "S", "F" })
        QVERIFY2(!exists(b.root(), QString::fromLatin1(gone)), gone);
    QCOMPARE(storedCursor(a.root()), storedCursor(b.root()));
    QVERIFY(conflictCopies(a.root()).isEmpty());
}

// The server deleted D/f; the plan says to delete it here, but D was renamed here to N
// since the scan: f is not deleted, it moved with N. The delete waits (the cursor held)
// and the journal keeps D/f, so that the next cycle sees the folder's move and deletes
// N/f (forgotten, N/f was new there, and uploaded again: the delete undone everywhere).
void tst_FolderMoves::deleteInAFolderRenamedSinceThePlanWaits()
{
    QTemporaryDir folder;
    const QString root = folder.path();
    writeFile(root, QStringLiteral("D/f"), "deleted elsewhere");
    Journal journal(root);
    QVERIFY(journal.open());
    const JournalState known = recordSynced(journal, root, { QStringLiteral("D"), QStringLiteral("D/f") });
    QCOMPARE(known.size(), 2);
    const std::unique_ptr<ServerConnection> connection = newAccountConnection(m_server->port());
    QVERIFY(connection);

    SyncAction del;
    del.type = ActionType::DeleteLocal;
    del.path = *RelativePath::fromString(QStringLiteral("D/f"));
    del.kind = protocol::EntryKind::File;
    del.local = Scanner::stat(root + QStringLiteral("/D/f"));
    SyncPlan plan;
    plan.actions = { del };
    QVERIFY(moveOnDisk(root, QStringLiteral("D"), QStringLiteral("N")));

    EnginePools pools;
    Propagator propagator(root, journal, *connection, pools);
    std::optional<Propagator::Outcome> outcome;
    connect(&propagator, &Propagator::finished, this, [&outcome](const Propagator::Outcome &o) { outcome = o; });
    propagator.run(plan, known, 0);
    QTRY_VERIFY(outcome.has_value());
    QVERIFY(!outcome->complete); // the cursor is held: the server's delete is read again
    QVERIFY(outcome->followUp);
    QVERIFY(journal.load().contains(del.path));
    QCOMPARE(readFile(root, QStringLiteral("N/f")), QByteArray("deleted elsewhere"));
}

// The journal knows the folder D with f; here D is now a file (the folder deleted, a file
// written), and the server's D is a folder still: the file goes aside as a conflict copy.
// Only D itself is forgotten: f, gone from the disk with the folder, stays known, so its
// delete is sent by the next cycle if this one stops before (forgotten, f was never
// deleted there nor downloaded here again: the folders differed for good, seed 329167).
void tst_FolderMoves::fileSetAsideInPlaceOfAFolderKeepsItsContentKnown()
{
    QTemporaryDir folder;
    const QString root = folder.path();
    writeFile(root, QStringLiteral("D/f"), "in the folder");
    Journal journal(root);
    QVERIFY(journal.open());
    const JournalState known = recordSynced(journal, root, { QStringLiteral("D"), QStringLiteral("D/f") });
    QCOMPARE(known.size(), 2);
    QVERIFY(QDir(root + QStringLiteral("/D")).removeRecursively());
    writeFile(root, QStringLiteral("D"), "a file now");
    const std::unique_ptr<ServerConnection> connection = newAccountConnection(m_server->port());
    QVERIFY(connection);

    SyncAction aside;
    aside.type = ActionType::ConflictCopy;
    aside.path = *RelativePath::fromString(QStringLiteral("D"));
    aside.conflictCopy = *RelativePath::fromString(QStringLiteral("D (conflict from me 2026-01-01 000000)"));
    aside.kind = protocol::EntryKind::File;
    aside.local = Scanner::stat(root + QStringLiteral("/D"));
    SyncPlan plan;
    plan.actions = { aside };

    EnginePools pools;
    Propagator propagator(root, journal, *connection, pools);
    std::optional<Propagator::Outcome> outcome;
    connect(&propagator, &Propagator::finished, this, [&outcome](const Propagator::Outcome &o) { outcome = o; });
    propagator.run(plan, known, 0);
    QTRY_VERIFY(outcome.has_value());
    QCOMPARE(readFile(root, aside.conflictCopy.toString()), QByteArray("a file now"));
    QVERIFY(!journal.load().contains(aside.path));
    QVERIFY(journal.load().contains(*RelativePath::fromString(QStringLiteral("D/f"))));
}

// A, offline, renames D to E and makes a new D in its place (a new file in it) while B
// deletes D/f1. The folder whose name is taken again moved all the same: E is D, f1's
// delete applies inside it, and the new D is new. Seen as a new E, f1 came back.
void tst_FolderMoves::folderRenamedAndANewOneMadeInItsPlace()
{
    TestClient a(QStringLiteral("alpha"), m_server->port());
    seed(a);
    TestClient b(QStringLiteral("beta"), m_server->port());
    QVERIFY(startInSync(a, b));

    a.stop();
    QVERIFY(QFile::remove(b.root() + QStringLiteral("/D/f1")));
    QTRY_VERIFY(b.completed(QStringLiteral("D/f1"), QStringLiteral("deleted")));
    QVERIFY(moveOnDisk(a.root(), QStringLiteral("D"), QStringLiteral("E")));
    writeFile(a.root(), QStringLiteral("D/g"), "new in the new D");
    QVERIFY(a.start());
    QTRY_TREES_EQUAL(a.root(), b.root());
    QVERIFY(goesQuiet({ &a, &b }));
    QTRY_TREES_EQUAL(a.root(), b.root());
    QVERIFY2(!exists(b.root(), QStringLiteral("E/f1")), "the delete inside the moved folder is undone");
    QCOMPARE(readFile(b.root(), QStringLiteral("E/f2")), QByteArray("content 2"));
    QCOMPARE(readFile(b.root(), QStringLiteral("E/S/s0")), QByteArray("sub content"));
    QCOMPARE(readFile(b.root(), QStringLiteral("D/g")), QByteArray("new in the new D"));
    QVERIFY(!exists(b.root(), QStringLiteral("D/f0")));
    QVERIFY(conflictCopies(a.root()).isEmpty());
}

// As above, but B renames D to X meanwhile: the server's move wins, A's E follows it to X
// (and keeps what A added to it), and A's new D stays a new folder of its own.
void tst_FolderMoves::folderRenamedHereAndThereAndANewOneMadeInItsPlace()
{
    TestClient a(QStringLiteral("alpha"), m_server->port());
    seed(a);
    TestClient b(QStringLiteral("beta"), m_server->port());
    QVERIFY(startInSync(a, b));

    a.stop();
    QVERIFY(moveOnDisk(b.root(), QStringLiteral("D"), QStringLiteral("X")));
    QTRY_VERIFY(b.completed(QStringLiteral("X"), QStringLiteral("moved")));
    QVERIFY(moveOnDisk(a.root(), QStringLiteral("D"), QStringLiteral("E")));
    writeFile(a.root(), QStringLiteral("E/h"), "added to E on A");
    writeFile(a.root(), QStringLiteral("D/g"), "new in the new D");
    QVERIFY(a.start());
    QTRY_TREES_EQUAL(a.root(), b.root());
    QVERIFY(goesQuiet({ &a, &b }));
    QTRY_TREES_EQUAL(a.root(), b.root());
    QCOMPARE(readFile(b.root(), QStringLiteral("X/f2")), QByteArray("content 2"));
    QCOMPARE(readFile(b.root(), QStringLiteral("X/h")), QByteArray("added to E on A"));
    QCOMPARE(readFile(b.root(), QStringLiteral("D/g")), QByteArray("new in the new D"));
    for (const char *gone : { "E", "D/f0", "D/S" })
        QVERIFY2(!exists(b.root(), QString::fromLatin1(gone)), gone);
    QVERIFY(conflictCopies(a.root()).isEmpty());
}

QTEST_MAIN(tst_FolderMoves)
#include "tst_foldermoves.moc"
