#include "reconciler.h"

#include <QTest>

#include <tuple>

using namespace filesync;
using namespace filesync::protocol;

namespace {

RelativePath P(const char *p)
{
    return *RelativePath::fromString(QString::fromUtf8(p));
}

QList<BlockRef> content(char c)
{
    const QByteArray data(10, c);
    return { BlockRef { ContentHash::of(data), quint32(data.size()) } };
}

// Compact cells. Journal: "" (never synced) or a content letter at version 1.
// Local: "" (absent), a letter with the journal's stat ("A"), a letter with a new stat
// ("A*" = touched or rewritten), or "dir". Remote: "" (no change), a letter at version 2,
// "x" (tombstone at version 2), or "dir". Files are 0644; a "+" after a letter makes
// that side's file executable (0755): "A+" here is a chmod of the synced file, which
// changes no stat the journal compares (only ctime).
LocalEntry localFile(char c, bool newStat)
{
    LocalEntry l;
    l.mode = 0644;
    l.size = 10;
    l.mtimeNs = newStat ? 2000 : 1000;
    l.inode = newStat ? 8 : 7;
    l.blocks = content(c);
    return l;
}

quint32 modeOf(const QString &cell)
{
    return cell.contains(u'+') ? 0755 : 0644;
}

} // namespace

class tst_Reconciler : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void truthTable_data();
    void truthTable();
    void localMoveIsOneServerOp();
    void localMoveWithTheSourceStillInTheFeed();
    void localMoveWithANewEntryAtTheSource();
    void localDirectoryMove();
    void remoteMoveRenamesLocally();
    void remoteDeleteOfFolderKeepsNewLocalFiles();
    void unreadablePathsAreLeftAlone();
    void ordering();
    void everyPhaseInOrder();
    void orderingMovesEveryActionWhole();
    void conflictNames();
    void folderBecameAFileThere();
    void folderBecameAFileThereKeepsNewWorkHere();
    void folderBecameAFileHereKeepsNewWorkThere();
    void unreadablePathWithARemoteChangeHoldsTheCursor();
    void folderMoveNextToSimilarNames();
    void remoteFolderMoveBeforeItsContent();
    void localFolderMoveWaitsForTheServer();
    void folderMovedIntoAFolderTheServerMoved();
    void fileMovedOutOfAFolderTheServerMoved();
    void folderRenamedHereWhileTheServerMovedItAndANewOneInItsPlace();
    void fileMovedInAFolderThatBecameAFileThere();
    void folderDeletedHereIsMissingForThePlan();
    void fileMovedIntoAFolderTheServerMovedOverATombstone();
    void movedFolderDropsWhatTheServerNoLongerHad_data();
    void movedFolderDropsWhatTheServerNoLongerHad();
    void folderMovedInAnEarlierSlice();
    void folderRenamedHereAndThereFollowsTheServer();
    void folderMovedIntoAFolderMovedIntoItThere();
    void folderMovedIntoAFolderMovedThere();
    void inSync_data();
    void inSync();
};

void tst_Reconciler::truthTable_data()
{
    QTest::addColumn<QString>("journal");
    QTest::addColumn<QString>("local");
    QTest::addColumn<QString>("remote");
    QTest::addColumn<QString>("expected"); // plan.describe() for path "f"

    // One row per line reads as a table.
    // clang-format off

    // local unchanged
    QTest::newRow("in sync") << "A" << "A" << "" << "";
    QTest::newRow("remote modified -> download") << "A" << "A" << "C" << "download f";
    QTest::newRow("remote deleted -> delete here") << "A" << "A" << "x" << "delete-local f";
    QTest::newRow("remote new version, same content -> record") << "A" << "A" << "A" << "record f";
    QTest::newRow("touched here, same content -> record") << "A" << "A*" << "" << "record f";
    QTest::newRow("touched here, deleted there -> delete here") << "A" << "A*" << "x" << "delete-local f";
    QTest::newRow("chmod there -> download") << "A" << "A" << "A+" << "download f";
    // local new
    QTest::newRow("new here -> upload") << "" << "B" << "" << "upload f";
    QTest::newRow("new on both, same -> record") << "" << "B" << "B" << "record f";
    QTest::newRow("new on both, same bytes, other mode -> upload") << "" << "B+" << "B" << "upload f";
    QTest::newRow("new on both, different -> conflict") << "" << "B" << "C"
                                                        << "conflict-copy f -> f (conflict from me 2026-11-24 101500)\ndownload f";
    QTest::newRow("new here over a tombstone -> upload") << "" << "B" << "x" << "upload f";
    QTest::newRow("new there -> download") << "" << "" << "C" << "download f";
    QTest::newRow("tombstone of a path never seen") << "" << "" << "x" << "";
    // local modified
    QTest::newRow("modified here -> upload") << "A" << "B*" << "" << "upload f";
    QTest::newRow("modified on both, different -> conflict") << "A" << "B*" << "C"
                                                             << "conflict-copy f -> f (conflict from me 2026-11-24 101500)\ndownload f";
    QTest::newRow("modified on both, same -> record") << "A" << "B*" << "B" << "record f";
    QTest::newRow("modified here, deleted there -> edit wins") << "A" << "B*" << "x" << "upload f";
    QTest::newRow("modified here, version moved, same old content -> upload") << "A" << "B*" << "A" << "upload f";
    QTest::newRow("chmod here -> upload") << "A" << "A+" << "" << "upload f";
    QTest::newRow("chmod here, deleted there -> edit wins") << "A" << "A+" << "x" << "upload f";
    QTest::newRow("chmod on both, same -> record") << "A" << "A+" << "A+" << "record f";
    QTest::newRow("modified on both, same bytes, other mode -> upload") << "A" << "B*" << "B+" << "upload f";
    QTest::newRow("chmod here, edited there -> conflict") << "A" << "A+" << "C"
                                                          << "conflict-copy f -> f (conflict from me 2026-11-24 101500)\ndownload f";
    // local deleted
    QTest::newRow("deleted here -> delete there") << "A" << "" << "" << "delete-remote f";
    QTest::newRow("deleted here, modified there -> edit wins") << "A" << "" << "C" << "download f";
    QTest::newRow("deleted on both -> forget") << "A" << "" << "x" << "forget f";
    // directories and type changes
    QTest::newRow("new folder here") << "" << "dir" << "" << "upload f";
    QTest::newRow("new folder there") << "" << "" << "dir" << "download f";
    QTest::newRow("new folder on both") << "" << "dir" << "dir" << "record f";
    QTest::newRow("folder here, file there -> conflict") << "" << "dir" << "C"
                                                         << "conflict-copy f -> f (conflict from me 2026-11-24 101500)\ndownload f";
    QTest::newRow("unchanged file became a folder there -> replace") << "A" << "A" << "dir" << "download f";
    QTest::newRow("edited file, folder there -> conflict") << "A" << "B*" << "dir"
                                                           << "conflict-copy f -> f (conflict from me 2026-11-24 101500)\ndownload f";
    QTest::newRow("file here became a folder -> upload it") << "A" << "dir" << "" << "upload f";
    QTest::newRow("deleted here, folder there -> download") << "A" << "" << "dir" << "download f";
    // clang-format on
}

void tst_Reconciler::truthTable()
{
    QFETCH(QString, journal);
    QFETCH(QString, local);
    QFETCH(QString, remote);
    QFETCH(QString, expected);

    const RelativePath f = P("f");
    JournalState j;
    if (!journal.isEmpty()) {
        JournalEntry e;
        e.mode = modeOf(journal);
        e.size = 10;
        e.mtimeNs = 1000;
        e.inode = 7;
        e.version = 1;
        e.blocks = content(journal.at(0).toLatin1());
        j.insert(f, e);
    }
    LocalSnapshot l;
    if (local == QLatin1String("dir")) {
        LocalEntry d;
        d.kind = EntryKind::Directory;
        d.inode = 9;
        l.insert(f, d);
    } else if (!local.isEmpty()) {
        LocalEntry e = localFile(local.at(0).toLatin1(), local.endsWith(u'*'));
        e.mode = modeOf(local);
        l.insert(f, e);
    }
    RemoteChanges r;
    if (!remote.isEmpty()) {
        FileEntry e;
        e.path = f;
        e.version = 2;
        if (remote == QLatin1String("x")) {
            e.deleted = true;
        } else if (remote == QLatin1String("dir")) {
            e.kind = EntryKind::Directory;
        } else {
            e.mode = modeOf(remote);
            e.size = 10;
            e.blocks = content(remote.at(0).toLatin1());
        }
        r.insert(f, e);
    }
    const QDateTime now(QDate(2026, 11, 24), QTime(10, 15, 0));
    const SyncPlan plan = Reconciler::reconcile(l, j, r, QStringLiteral("me"), now);
    QCOMPARE(plan.describe(), expected);
}

void tst_Reconciler::localMoveIsOneServerOp()
{
    JournalState j;
    JournalEntry e { EntryKind::File, 10, 1000, 7, 0644, 5, content('A') };
    j.insert(P("old.txt"), e);
    LocalSnapshot l;
    LocalEntry moved = localFile('A', false);
    l.insert(P("docs/new.txt"), moved);
    LocalEntry docs;
    docs.kind = EntryKind::Directory;
    docs.inode = 99;
    l.insert(P("docs"), docs);
    const SyncPlan plan = Reconciler::reconcile(l, j, {}, QStringLiteral("me"), QDateTime::currentDateTime());
    QCOMPARE(plan.describe(), QStringLiteral("move-remote docs/new.txt from old.txt\nupload docs"));
    QCOMPARE(plan.actions.first().base, 5u);
    QVERIFY(plan.needsFollowUp);
}

// An editor's save that keeps a backup: f renamed to f~ (the same inode and stat) and a
// new f written. The synced file moved (one op, its history with it); f is new.
void tst_Reconciler::localMoveWithANewEntryAtTheSource()
{
    JournalState j;
    j.insert(P("f"), JournalEntry { EntryKind::File, 10, 1000, 7, 0644, 5, content('A') });
    LocalSnapshot l;
    l.insert(P("f~"), localFile('A', false));
    LocalEntry rewritten = localFile('B', true);
    l.insert(P("f"), rewritten);
    const SyncPlan plan = Reconciler::reconcile(l, j, {}, QStringLiteral("me"), QDateTime::currentDateTime());
    QCOMPARE(plan.describe(), QStringLiteral("move-remote f~ from f\nupload f"));
    QCOMPARE(plan.actions.first().base, 5u);
    QCOMPARE(plan.actions.last().base, 0u);
}

// A feed read again from before the cursor (a cycle stopped before storing it) lists the
// moved file's source as it was synced: the move goes to the server, nothing is downloaded
// back to the old name (it was, and the file existed twice).
void tst_Reconciler::localMoveWithTheSourceStillInTheFeed()
{
    JournalState j;
    JournalEntry e { EntryKind::File, 10, 1000, 7, 0644, 5, content('A') };
    j.insert(P("old.txt"), e);
    LocalSnapshot l;
    l.insert(P("new.txt"), localFile('A', false));
    RemoteChanges r;
    FileEntry unchanged;
    unchanged.path = P("old.txt");
    unchanged.kind = EntryKind::File;
    unchanged.version = 5;
    unchanged.size = 10;
    unchanged.mode = 0644;
    unchanged.blocks = content('A');
    r.insert(unchanged.path, unchanged);
    const SyncPlan plan = Reconciler::reconcile(l, j, r, QStringLiteral("me"), QDateTime::currentDateTime());
    QCOMPARE(plan.describe(), QStringLiteral("move-remote new.txt from old.txt"));
}

void tst_Reconciler::localDirectoryMove()
{
    JournalState j;
    j.insert(P("a"), JournalEntry { EntryKind::Directory, 0, 0, 50, 0755, 1, {} });
    j.insert(P("a/x"), JournalEntry { EntryKind::File, 10, 1000, 7, 0644, 2, content('A') });
    LocalSnapshot l;
    LocalEntry dir;
    dir.kind = EntryKind::Directory;
    dir.mode = 0755;
    dir.inode = 50;
    l.insert(P("b"), dir);
    l.insert(P("b/x"), localFile('A', false));
    const SyncPlan plan = Reconciler::reconcile(l, j, {}, QStringLiteral("me"), QDateTime::currentDateTime());
    // One op for the whole folder; its content comes along without uploads or deletes.
    QCOMPARE(plan.describe(), QStringLiteral("move-remote b from a"));
}

void tst_Reconciler::remoteMoveRenamesLocally()
{
    JournalState j;
    j.insert(P("a"), JournalEntry { EntryKind::Directory, 0, 0, 50, 0755, 1, {} });
    j.insert(P("a/x"), JournalEntry { EntryKind::File, 10, 1000, 7, 0644, 2, content('A') });
    LocalSnapshot l;
    LocalEntry dir;
    dir.kind = EntryKind::Directory;
    dir.mode = 0755;
    dir.inode = 50;
    l.insert(P("a"), dir);
    l.insert(P("a/x"), localFile('A', false));
    RemoteChanges r;
    FileEntry tombA { P("a"), EntryKind::Directory, true, 0, 0, 0, {}, 3, QStringLiteral("other"), std::nullopt,
        std::nullopt };
    FileEntry newB { P("b"), EntryKind::Directory, false, 0, 0, 0755, {}, 4, QStringLiteral("other"), P("a"),
        std::nullopt };
    FileEntry tombX { P("a/x"), EntryKind::File, true, 0, 0, 0, {}, 5, QStringLiteral("other"), std::nullopt,
        std::nullopt };
    FileEntry newX { P("b/x"), EntryKind::File, false, 10, 1, 0644, content('A'), 6, QStringLiteral("other"), P("a/x"),
        std::nullopt };
    for (const FileEntry &e : { tombA, newB, tombX, newX })
        r.insert(e.path, e);
    const SyncPlan plan = Reconciler::reconcile(l, j, r, QStringLiteral("me"), QDateTime::currentDateTime());
    QCOMPARE(plan.describe(), QStringLiteral("move-local b from a\nrecord b\nrecord b/x"));
}

void tst_Reconciler::remoteDeleteOfFolderKeepsNewLocalFiles()
{
    JournalState j;
    j.insert(P("d"), JournalEntry { EntryKind::Directory, 0, 0, 50, 0755, 1, {} });
    j.insert(P("d/old"), JournalEntry { EntryKind::File, 10, 1000, 7, 0644, 2, content('A') });
    LocalSnapshot l;
    LocalEntry dir;
    dir.kind = EntryKind::Directory;
    dir.mode = 0755;
    dir.inode = 50;
    l.insert(P("d"), dir);
    l.insert(P("d/old"), localFile('A', false));
    LocalEntry fresh = localFile('N', true);
    fresh.inode = 77;
    l.insert(P("d/new"), fresh);
    RemoteChanges r;
    r.insert(
        P("d/old"), FileEntry { P("d/old"), EntryKind::File, true, 0, 0, 0, {}, 3, {}, std::nullopt, std::nullopt });
    r.insert(P("d"), FileEntry { P("d"), EntryKind::Directory, true, 0, 0, 0, {}, 4, {}, std::nullopt, std::nullopt });
    const SyncPlan plan = Reconciler::reconcile(l, j, r, QStringLiteral("me"), QDateTime::currentDateTime());
    // The unchanged file goes; the folder is only removed if empty (the propagator's
    // rule), and the new file is uploaded, recreating the folder on the server.
    QCOMPARE(plan.describe(), QStringLiteral("delete-local d/old\ndelete-local d\nupload d/new"));
}

void tst_Reconciler::unreadablePathsAreLeftAlone()
{
    JournalState j;
    j.insert(P("locked"), JournalEntry { EntryKind::Directory, 0, 0, 50, 0755, 1, {} });
    j.insert(P("locked/a"), JournalEntry { EntryKind::File, 10, 1000, 7, 0644, 2, content('A') });
    j.insert(P("busy.bin"), JournalEntry { EntryKind::File, 10, 1000, 8, 0644, 3, content('B') });
    LocalSnapshot l;
    LocalEntry locked;
    locked.kind = EntryKind::Directory;
    locked.inode = 50;
    locked.unreadable = true; // its content could not be listed: not "deleted"
    l.insert(P("locked"), locked);
    LocalEntry busy = localFile('Z', true);
    busy.unreadable = true;
    l.insert(P("busy.bin"), busy);
    const SyncPlan plan = Reconciler::reconcile(l, j, {}, QStringLiteral("me"), QDateTime::currentDateTime());
    QVERIFY2(plan.isEmpty(), qPrintable(plan.describe()));
}

void tst_Reconciler::ordering()
{
    JournalState j;
    j.insert(P("gone"), JournalEntry { EntryKind::Directory, 0, 0, 1, 0755, 1, {} });
    j.insert(P("gone/f"), JournalEntry { EntryKind::File, 10, 1000, 2, 0644, 2, content('A') });
    LocalSnapshot l;
    LocalEntry dir;
    dir.kind = EntryKind::Directory;
    dir.mode = 0755;
    dir.inode = 3;
    l.insert(P("n"), dir);
    LocalEntry f = localFile('B', true);
    f.inode = 4;
    l.insert(P("n/f"), f);
    const SyncPlan plan = Reconciler::reconcile(l, j, {}, QStringLiteral("me"), QDateTime::currentDateTime());
    // Deletes deepest first, uploads shallowest first.
    QCOMPARE(plan.describe(), QStringLiteral("delete-remote gone/f\ndelete-remote gone\nupload n\nupload n/f"));
}

// One action of every type in one plan: moves first, then by phase (conflict copies,
// local deletes deepest first, downloads, remote deletes deepest first, uploads,
// records, forgets). The plan is sorted in place; the propagator relies on this order.
void tst_Reconciler::everyPhaseInOrder()
{
    auto dir = [](quint64 inode) {
        LocalEntry d;
        d.kind = EntryKind::Directory;
        d.mode = 0755;
        d.inode = inode;
        return d;
    };
    auto file = [](char c, quint64 inode) {
        LocalEntry f = localFile(c, false);
        f.inode = inode;
        return f;
    };
    JournalState j;
    j.insert(P("m"), JournalEntry { EntryKind::Directory, 0, 0, 21, 0755, 1, {} });
    j.insert(P("m/old"), JournalEntry { EntryKind::File, 10, 1000, 20, 0644, 1, content('A') });
    j.insert(P("dl"), JournalEntry { EntryKind::Directory, 0, 0, 30, 0755, 1, {} });
    j.insert(P("dl/f"), JournalEntry { EntryKind::File, 10, 1000, 31, 0644, 1, content('D') });
    j.insert(P("dr"), JournalEntry { EntryKind::Directory, 0, 0, 40, 0755, 1, {} });
    j.insert(P("dr/f"), JournalEntry { EntryKind::File, 10, 1000, 41, 0644, 1, content('E') });
    j.insert(P("c"), JournalEntry { EntryKind::File, 10, 1000, 7, 0644, 1, content('A') });
    j.insert(P("gone"), JournalEntry { EntryKind::File, 10, 1000, 50, 0644, 1, content('G') });
    LocalSnapshot l;
    l.insert(P("m"), dir(21));
    l.insert(P("m/new"), file('A', 20));
    l.insert(P("dl"), dir(30));
    l.insert(P("dl/f"), file('D', 31));
    l.insert(P("c"), localFile('B', true));
    l.insert(P("up"), file('U', 60));
    l.insert(P("same"), file('S', 61));
    RemoteChanges r;
    auto change = [&](const char *path, EntryKind kind, bool deleted, char c, quint64 version) {
        FileEntry e { P(path), kind, deleted, deleted ? 0 : 10, 1, 0644, deleted ? QList<BlockRef>() : content(c),
            version, QStringLiteral("other"), std::nullopt, std::nullopt };
        r.insert(e.path, e);
    };
    change("dl", EntryKind::Directory, true, 0, 2);
    change("dl/f", EntryKind::File, true, 0, 3);
    change("dn", EntryKind::File, false, 'N', 4);
    change("c", EntryKind::File, false, 'C', 5);
    change("same", EntryKind::File, false, 'S', 6);
    change("gone", EntryKind::File, true, 0, 7);
    const QDateTime now(QDate(2026, 11, 24), QTime(10, 15, 0));
    const SyncPlan plan = Reconciler::reconcile(l, j, r, QStringLiteral("me"), now);
    QCOMPARE(plan.describe(),
        QStringLiteral("move-remote m/new from m/old\n"
                       "conflict-copy c -> c (conflict from me 2026-11-24 101500)\n"
                       "delete-local dl/f\n"
                       "delete-local dl\n"
                       "download c\n"
                       "download dn\n"
                       "delete-remote dr/f\n"
                       "delete-remote dr\n"
                       "upload up\n"
                       "record same\n"
                       "forget gone"));
    QVERIFY(plan.needsFollowUp);
}

// The plan is put in order by moving each action once along the cycles of the sorted
// permutation: with three types interleaved over 300 paths (long cycles), every action
// lands where the order says and arrives whole (its own local, remote and base).
void tst_Reconciler::orderingMovesEveryActionWhole()
{
    JournalState j;
    LocalSnapshot l;
    RemoteChanges r;
    for (int i = 0; i < 300; ++i) {
        const RelativePath p = P(QStringLiteral("p%1").arg(i, 3, 10, QLatin1Char('0')).toUtf8().constData());
        if (i % 3 == 0) {
            LocalEntry f = localFile('U', false);
            f.size = i;
            f.inode = quint64(1000 + i);
            l.insert(p, f);
        } else if (i % 3 == 1) {
            r.insert(p,
                FileEntry { p, EntryKind::File, false, 10, 1, 0644, content('N'), quint64(2000 + i),
                    QStringLiteral("other"), std::nullopt, std::nullopt });
        } else {
            j.insert(p,
                JournalEntry { EntryKind::File, 10, 1000, quint64(3000 + i), 0644, quint64(4000 + i), content('G') });
        }
    }
    const SyncPlan plan = Reconciler::reconcile(l, j, r, QStringLiteral("me"), QDateTime::currentDateTime());
    QCOMPARE(plan.actions.size(), 300);
    QStringList expected;
    for (int i = 1; i < 300; i += 3)
        expected << QStringLiteral("download p%1").arg(i, 3, 10, QLatin1Char('0'));
    for (int i = 299; i >= 0; --i) {
        if (i % 3 == 2)
            expected << QStringLiteral("delete-remote p%1").arg(i, 3, 10, QLatin1Char('0'));
    }
    for (int i = 0; i < 300; i += 3)
        expected << QStringLiteral("upload p%1").arg(i, 3, 10, QLatin1Char('0'));
    QCOMPARE(plan.describe(), expected.join(u'\n'));
    for (const SyncAction &a : plan.actions) {
        const int i = a.path.toString().mid(1).toInt();
        switch (a.type) {
        case ActionType::Upload:
            QVERIFY(a.local.has_value());
            QCOMPARE(a.local->size, qint64(i));
            QCOMPARE(a.local->inode, quint64(1000 + i));
            break;
        case ActionType::Download:
            QCOMPARE(a.remote.version, quint64(2000 + i));
            QCOMPARE(a.remote.path, a.path);
            break;
        case ActionType::DeleteRemote:
            QCOMPARE(a.base, quint64(4000 + i));
            QVERIFY(!a.local.has_value());
            break;
        default:
            QFAIL(qPrintable(QStringLiteral("unexpected %1").arg(actionName(a.type))));
        }
    }
}

void tst_Reconciler::conflictNames()
{
    const QDateTime now(QDate(2026, 1, 2), QTime(3, 4, 5));
    auto none = [](const RelativePath &) { return false; };
    QCOMPARE(Reconciler::conflictName(P("a/report.final.pdf"), QStringLiteral("laptop"), now, none).toString(),
        QStringLiteral("a/report.final (conflict from laptop 2026-01-02 030405).pdf"));
    QCOMPARE(Reconciler::conflictName(P("Makefile"), QStringLiteral("pc"), now, none).toString(),
        QStringLiteral("Makefile (conflict from pc 2026-01-02 030405)"));
    QCOMPARE(Reconciler::conflictName(P(".bashrc"), QStringLiteral("pc"), now, none).toString(),
        QStringLiteral(".bashrc (conflict from pc 2026-01-02 030405)"));
    const RelativePath first = P("x (conflict from pc 2026-01-02 030405).txt");
    QCOMPARE(Reconciler::conflictName(
                 P("x.txt"), QStringLiteral("pc"), now, [&](const RelativePath &p) { return p == first; })
                 .toString(),
        QStringLiteral("x (conflict from pc 2026-01-02 030405 2).txt"));
    QCOMPARE(Reconciler::conflictName(P("y"), QStringLiteral("a/b"), now, none).toString(),
        QStringLiteral("y (conflict from a_b 2026-01-02 030405)"));
}

namespace {
LocalEntry localDir(quint64 inode)
{
    LocalEntry d;
    d.kind = EntryKind::Directory;
    d.mode = 0755; // as the journal recorded it
    d.inode = inode;
    return d;
}

FileEntry remoteFile(const char *path, char c, quint64 version)
{
    FileEntry e;
    e.path = P(path);
    e.mode = 0644;
    e.size = 10;
    e.blocks = content(c);
    e.version = version;
    return e;
}

FileEntry tombstone(const char *path, EntryKind kind, quint64 version)
{
    FileEntry e;
    e.path = P(path);
    e.kind = kind;
    e.deleted = true;
    e.version = version;
    return e;
}

// Synced here: the folder d (inode 40) with the file f ('A').
JournalState folderDWithF()
{
    JournalState j;
    j.insert(P("d"), JournalEntry { EntryKind::Directory, 0, 0, 40, 0755, 1, {} });
    j.insert(P("d/f"), JournalEntry { EntryKind::File, 10, 1000, 7, 0644, 2, content('A') });
    return j;
}

// The feed after another computer moved d to e (f along with it).
RemoteChanges folderDMovedToE()
{
    FileEntry e;
    e.path = P("e");
    e.kind = EntryKind::Directory;
    e.version = 4;
    e.movedFrom = P("d");
    FileEntry f = remoteFile("e/f", 'A', 6);
    f.movedFrom = P("d/f");
    RemoteChanges r;
    for (const FileEntry &x : { tombstone("d", EntryKind::Directory, 3), e, tombstone("d/f", EntryKind::File, 5), f })
        r.insert(x.path, x);
    return r;
}
} // namespace

void tst_Reconciler::folderBecameAFileThere()
{
    // Elsewhere: d/x deleted, then the folder d replaced by a file d.
    JournalState j;
    j.insert(P("d"), JournalEntry { EntryKind::Directory, 0, 0, 50, 0755, 1, {} });
    j.insert(P("d/x"), JournalEntry { EntryKind::File, 10, 1000, 7, 0644, 2, content('A') });
    LocalSnapshot l;
    l.insert(P("d"), localDir(50));
    l.insert(P("d/x"), localFile('A', false));
    RemoteChanges r;
    r.insert(P("d/x"), tombstone("d/x", EntryKind::File, 3));
    r.insert(P("d"), remoteFile("d", 'F', 4));
    const SyncPlan plan = Reconciler::reconcile(l, j, r, QStringLiteral("me"), QDateTime::currentDateTime());
    // The unchanged content goes first; the downloader then replaces the empty folder.
    QCOMPARE(plan.describe(), QStringLiteral("delete-local d/x\ndownload d"));
    QVERIFY(!plan.holdCursor);
}

// The mirror case: here the folder d was deleted and a file d written; there, d/new was
// created. The server refuses the file over its folder, so uploading it looped for ever.
void tst_Reconciler::folderBecameAFileHereKeepsNewWorkThere()
{
    JournalState j;
    j.insert(P("d"), JournalEntry { EntryKind::Directory, 0, 0, 50, 0755, 1, {} });
    LocalSnapshot l;
    LocalEntry file = localFile('F', true);
    file.inode = 60;
    l.insert(P("d"), file);
    RemoteChanges r;
    FileEntry made;
    made.path = P("d/new");
    made.kind = EntryKind::Directory;
    made.version = 3;
    r.insert(made.path, made);
    const QDateTime now(QDate(2026, 11, 24), QTime(10, 15, 0));
    const SyncPlan plan = Reconciler::reconcile(l, j, r, QStringLiteral("me"), now);
    QCOMPARE(plan.describe(),
        QStringLiteral("conflict-copy d -> d (conflict from me 2026-11-24 101500)\ndownload d\ndownload d/new"));
    const SyncAction &restore = plan.actions.at(1);
    QCOMPARE(restore.remote.kind, EntryKind::Directory);
    QCOMPARE(restore.remote.version, 1u);

    // Deleted there and made again (new work in it): the folder comes back at the
    // server's version, or the journal would keep the old one for good.
    FileEntry again;
    again.path = P("d");
    again.kind = EntryKind::Directory;
    again.version = 2;
    r.insert(again.path, again);
    const SyncPlan remade = Reconciler::reconcile(l, j, r, QStringLiteral("me"), now);
    QCOMPARE(remade.describe(),
        QStringLiteral("conflict-copy d -> d (conflict from me 2026-11-24 101500)\ndownload d\ndownload d/new"));
    QCOMPARE(remade.actions.at(1).remote.version, 2u);

    // Without new work there, the file replaces the folder on the server.
    const SyncPlan alone = Reconciler::reconcile(l, j, {}, QStringLiteral("me"), now);
    QCOMPARE(alone.describe(), QStringLiteral("upload d"));
}

void tst_Reconciler::folderBecameAFileThereKeepsNewWorkHere()
{
    JournalState j;
    j.insert(P("d"), JournalEntry { EntryKind::Directory, 0, 0, 50, 0755, 1, {} });
    j.insert(P("d/x"), JournalEntry { EntryKind::File, 10, 1000, 7, 0644, 2, content('A') });
    LocalSnapshot l;
    l.insert(P("d"), localDir(50));
    l.insert(P("d/x"), localFile('A', false));
    LocalEntry fresh = localFile('N', true);
    fresh.inode = 77;
    l.insert(P("d/new"), fresh);
    RemoteChanges r;
    r.insert(P("d/x"), tombstone("d/x", EntryKind::File, 3));
    r.insert(P("d"), remoteFile("d", 'F', 4));
    const QDateTime now(QDate(2026, 11, 24), QTime(10, 15, 0));
    const SyncPlan plan = Reconciler::reconcile(l, j, r, QStringLiteral("me"), now);
    // The folder with the new file moves aside, whole; the server's file takes the path.
    QCOMPARE(plan.describe(), QStringLiteral("conflict-copy d -> d (conflict from me 2026-11-24 101500)\ndownload d"));

    // A chmod here is work as well: uploaded, it was refused (its folder is a file there)
    // in every cycle, and the file there was never downloaded.
    l.remove(P("d/new"));
    LocalEntry chmodded = localFile('A', false);
    chmodded.mode = 0755;
    l.insert(P("d/x"), chmodded);
    const SyncPlan again = Reconciler::reconcile(l, j, r, QStringLiteral("me"), now);
    QCOMPARE(again.describe(), QStringLiteral("conflict-copy d -> d (conflict from me 2026-11-24 101500)\ndownload d"));

    // A folder moved in here is work too: its move into the file there was refused in
    // every cycle. The folder goes aside, and the move waits for the next cycle (then to
    // the copy's name).
    l.insert(P("d/x"), localFile('A', false));
    j.insert(P("n"), JournalEntry { EntryKind::Directory, 0, 0, 60, 0755, 1, {} });
    j.insert(P("n/y"), JournalEntry { EntryKind::File, 10, 1000, 9, 0644, 2, content('Y') });
    l.insert(P("d/n"), localDir(60));
    LocalEntry y = localFile('Y', false);
    y.inode = 9;
    l.insert(P("d/n/y"), y);
    const SyncPlan third = Reconciler::reconcile(l, j, r, QStringLiteral("me"), now);
    QCOMPARE(third.describe(), QStringLiteral("conflict-copy d -> d (conflict from me 2026-11-24 101500)\ndownload d"));
}

void tst_Reconciler::unreadablePathWithARemoteChangeHoldsTheCursor()
{
    JournalState j;
    j.insert(P("busy.bin"), JournalEntry { EntryKind::File, 10, 1000, 8, 0644, 3, content('B') });
    j.insert(P("calm.txt"), JournalEntry { EntryKind::File, 10, 1000, 9, 0644, 3, content('C') });
    LocalSnapshot l;
    LocalEntry busy = localFile('Z', true);
    busy.unreadable = true;
    l.insert(P("busy.bin"), busy);
    LocalEntry calm = localFile('C', false);
    calm.inode = 9;
    l.insert(P("calm.txt"), calm);
    RemoteChanges r;
    r.insert(P("busy.bin"), remoteFile("busy.bin", 'R', 5));
    SyncPlan plan = Reconciler::reconcile(l, j, r, QStringLiteral("me"), QDateTime::currentDateTime());
    // Nothing is decided for it this cycle, and the cursor must not pass its change.
    QVERIFY2(plan.isEmpty(), qPrintable(plan.describe()));
    QVERIFY(plan.holdCursor);

    // A server change elsewhere does not hold the cursor.
    r.clear();
    r.insert(P("calm.txt"), remoteFile("calm.txt", 'D', 6));
    plan = Reconciler::reconcile(l, j, r, QStringLiteral("me"), QDateTime::currentDateTime());
    QCOMPARE(plan.describe(), QStringLiteral("download calm.txt"));
    QVERIFY(!plan.holdCursor);
}

void tst_Reconciler::folderMoveNextToSimilarNames()
{
    // "a.txt" and "a b" sort between "a" and "a/x": the move must still carry a/x.
    JournalState j;
    j.insert(P("a"), JournalEntry { EntryKind::Directory, 0, 0, 50, 0755, 1, {} });
    j.insert(P("a b"), JournalEntry { EntryKind::File, 10, 1000, 60, 0644, 2, content('S') });
    j.insert(P("a.txt"), JournalEntry { EntryKind::File, 10, 1000, 61, 0644, 3, content('T') });
    j.insert(P("a/x"), JournalEntry { EntryKind::File, 10, 1000, 7, 0644, 4, content('A') });
    LocalSnapshot l;
    l.insert(P("b"), localDir(50));
    l.insert(P("b/x"), localFile('A', false));
    for (const auto &[path, inode, c] : { std::tuple { "a b", 60, 'S' }, std::tuple { "a.txt", 61, 'T' } }) {
        LocalEntry f = localFile(c, false);
        f.inode = quint64(inode);
        l.insert(P(path), f);
    }
    const SyncPlan plan = Reconciler::reconcile(l, j, {}, QStringLiteral("me"), QDateTime::currentDateTime());
    QCOMPARE(plan.describe(), QStringLiteral("move-remote b from a"));
}

void tst_Reconciler::remoteFolderMoveBeforeItsContent()
{
    JournalState j;
    j.insert(P("a"), JournalEntry { EntryKind::Directory, 0, 0, 50, 0755, 1, {} });
    j.insert(P("a/x"), JournalEntry { EntryKind::File, 10, 1000, 7, 0644, 2, content('A') });
    LocalSnapshot l;
    l.insert(P("a"), localDir(50));
    l.insert(P("a/x"), localFile('A', false));
    RemoteChanges r;
    // The content's entry has the lower version: the folder must still be renamed first.
    FileEntry newX = remoteFile("b/x", 'A', 4);
    newX.movedFrom = P("a/x");
    FileEntry newB;
    newB.path = P("b");
    newB.kind = EntryKind::Directory;
    newB.version = 6;
    newB.movedFrom = P("a");
    for (const FileEntry &e :
        { tombstone("a/x", EntryKind::File, 3), newX, tombstone("a", EntryKind::Directory, 5), newB })
        r.insert(e.path, e);
    const SyncPlan plan = Reconciler::reconcile(l, j, r, QStringLiteral("me"), QDateTime::currentDateTime());
    QCOMPARE(plan.describe(), QStringLiteral("move-local b from a\nrecord b\nrecord b/x"));
}

// Folder moves against changes elsewhere (docs/architecture.md, "Concurrent folder moves").
void tst_Reconciler::localFolderMoveWaitsForTheServer()
{
    JournalState j;
    j.insert(P("a"), JournalEntry { EntryKind::Directory, 0, 0, 50, 0755, 1, {} });
    j.insert(P("a/x"), JournalEntry { EntryKind::File, 10, 1000, 7, 0644, 2, content('A') });
    j.insert(P("a/y"), JournalEntry { EntryKind::File, 10, 1000, 9, 0644, 2, content('Y') });
    LocalSnapshot l;
    l.insert(P("b"), localDir(50));
    l.insert(P("b/x"), localFile('A', false));
    LocalEntry y = localFile('Z', true); // edited after the move
    y.inode = 9;
    l.insert(P("b/y"), y);
    LocalEntry fresh = localFile('N', true);
    fresh.inode = 77;
    l.insert(P("b/new"), fresh);
    RemoteChanges r;
    r.insert(P("a/x"), tombstone("a/x", EntryKind::File, 3)); // deleted elsewhere meanwhile
    const SyncPlan plan = Reconciler::reconcile(l, j, r, QStringLiteral("me"), QDateTime::currentDateTime());
    // Nothing under the folder is decided (or journaled) before the server has moved it;
    // the delete there is read again afterwards.
    QCOMPARE(plan.describe(), QStringLiteral("move-remote b from a"));
    QVERIFY(plan.holdCursor);
    QVERIFY(plan.needsFollowUp);
    // A new version of the folder itself (nothing moved into it): the move builds on it.
    r.clear();
    FileEntry newer;
    newer.path = P("a");
    newer.kind = EntryKind::Directory;
    newer.version = 8;
    r.insert(P("a"), newer);
    const SyncPlan again = Reconciler::reconcile(l, j, r, QStringLiteral("me"), QDateTime::currentDateTime());
    QCOMPARE(again.describe(), QStringLiteral("move-remote b from a"));
    QCOMPARE(again.actions.first().base, 8u);
}

// This computer moved the folder n into d while the server moved d to "d 2" (and got a
// new file in n): d follows the server, and n's move goes along to "d 2/m". Nothing under
// it is decided before the server has moved n: recorded at "d 2/m" while the server still
// had them under n, they were taken for deleted there and deleted here.
void tst_Reconciler::folderMovedIntoAFolderTheServerMoved()
{
    JournalState j;
    j.insert(P("d"), JournalEntry { EntryKind::Directory, 0, 0, 40, 0755, 1, {} });
    j.insert(P("n"), JournalEntry { EntryKind::Directory, 0, 0, 50, 0755, 1, {} });
    j.insert(P("n/x"), JournalEntry { EntryKind::File, 10, 1000, 7, 0644, 2, content('A') });
    LocalSnapshot l;
    l.insert(P("d"), localDir(40));
    l.insert(P("d/m"), localDir(50));
    l.insert(P("d/m/x"), localFile('A', false));
    RemoteChanges r;
    FileEntry moved;
    moved.path = P("d 2");
    moved.kind = EntryKind::Directory;
    moved.version = 6;
    moved.movedFrom = P("d");
    for (const FileEntry &e : { tombstone("d", EntryKind::Directory, 5), moved, remoteFile("n/new", 'N', 7) })
        r.insert(e.path, e);
    const SyncPlan plan = Reconciler::reconcile(l, j, r, QStringLiteral("me"), QDateTime::currentDateTime());
    QCOMPARE(plan.describe(), QStringLiteral("move-remote d 2/m from n\nmove-local d 2 from d\nrecord d 2"));
    QVERIFY(plan.holdCursor);
    QVERIFY(plan.needsFollowUp);
}

// This computer moved d/f out to g while the server moved d to e (f along with it): one
// move on the server, from e/f, and d follows e here. Not a delete of e/f and an upload.
void tst_Reconciler::fileMovedOutOfAFolderTheServerMoved()
{
    LocalSnapshot l;
    l.insert(P("d"), localDir(40));
    l.insert(P("g"), localFile('A', false));
    const SyncPlan plan = Reconciler::reconcile(
        l, folderDWithF(), folderDMovedToE(), QStringLiteral("me"), QDateTime::currentDateTime());
    QCOMPARE(plan.describe(), QStringLiteral("move-remote g from e/f\nmove-local e from d\nrecord e"));
    QCOMPARE(plan.actions.first().base, 6u);
}

// This computer renamed d to n and a new d came in its place (a download), while the
// server moved d to e: the server's move wins and n follows it with f inside. f is no move
// of its own out of the new d (that made "move e/f to e/f", which the server refuses).
void tst_Reconciler::folderRenamedHereWhileTheServerMovedItAndANewOneInItsPlace()
{
    LocalSnapshot l;
    l.insert(P("n"), localDir(40));
    l.insert(P("n/f"), localFile('A', false));
    l.insert(P("d"), localDir(41));
    const SyncPlan plan = Reconciler::reconcile(
        l, folderDWithF(), folderDMovedToE(), QStringLiteral("me"), QDateTime::currentDateTime());
    QCOMPARE(plan.describe(), QStringLiteral("move-local e from n (was d)\nupload d\nrecord e\nrecord e/f"));
}

// This computer renamed d/f to d/g while the server moved d to e (f along with it) and
// then made a file d. The folder d goes aside with g in it; f, which the plan had taken
// as the source of g's move, is the server's again: e/f comes down, nothing is lost.
void tst_Reconciler::fileMovedInAFolderThatBecameAFileThere()
{
    LocalSnapshot l;
    l.insert(P("d"), localDir(40));
    l.insert(P("d/g"), localFile('A', false));
    RemoteChanges r = folderDMovedToE();
    r.insert(P("d"), remoteFile("d", 'F', 7));
    const QDateTime now(QDate(2026, 11, 24), QTime(10, 15, 0));
    const SyncPlan plan = Reconciler::reconcile(l, folderDWithF(), r, QStringLiteral("me"), now);
    QCOMPARE(plan.describe(),
        QStringLiteral("conflict-copy d -> d (conflict from me 2026-11-24 101500)\ndownload d\ndownload e\n"
                       "download e/f"));
    QVERIFY(plan.needsFollowUp);
}

// The plan names the known folders the scan found gone: the only ones its downloads may
// make again (another, gone by then, was renamed or deleted here meanwhile).
void tst_Reconciler::folderDeletedHereIsMissingForThePlan()
{
    RemoteChanges r;
    r.insert(P("d/new"), remoteFile("d/new", 'N', 8));
    const SyncPlan plan
        = Reconciler::reconcile({}, folderDWithF(), r, QStringLiteral("me"), QDateTime::currentDateTime());
    QCOMPARE(plan.describe(), QStringLiteral("download d/new\ndelete-remote d/f\ndelete-remote d"));
    QCOMPARE(plan.missingFolders, QSet<RelativePath> { P("d") });

    LocalSnapshot l;
    l.insert(P("d"), localDir(40));
    l.insert(P("d/f"), localFile('A', false));
    const SyncPlan there
        = Reconciler::reconcile(l, folderDWithF(), r, QStringLiteral("me"), QDateTime::currentDateTime());
    QCOMPARE(there.describe(), QStringLiteral("download d/new"));
    QVERIFY(there.missingFolders.isEmpty());
}

// This computer moved g into d as d/h while the server moved d to e, and another file e/h
// was made there and deleted again. That tombstone is another file's history: g moves on
// to e/h, and nothing deletes it here.
void tst_Reconciler::fileMovedIntoAFolderTheServerMovedOverATombstone()
{
    JournalState j = folderDWithF();
    j.insert(P("g"), JournalEntry { EntryKind::File, 10, 1000, 9, 0644, 2, content('G') });
    LocalEntry h = localFile('G', false);
    h.inode = 9;
    LocalSnapshot l;
    l.insert(P("d"), localDir(40));
    l.insert(P("d/f"), localFile('A', false));
    l.insert(P("d/h"), h);
    RemoteChanges r = folderDMovedToE();
    r.insert(P("e/h"), tombstone("e/h", EntryKind::File, 8));
    const SyncPlan plan = Reconciler::reconcile(l, j, r, QStringLiteral("me"), QDateTime::currentDateTime());
    QCOMPARE(plan.describe(), QStringLiteral("move-remote e/h from g\nmove-local e from d\nrecord e\nrecord e/f"));
}

void tst_Reconciler::movedFolderDropsWhatTheServerNoLongerHad_data()
{
    QTest::addColumn<bool>("ownMove"); // the journal moved by our own acknowledged move
    QTest::addColumn<bool>("feedComplete");
    QTest::newRow("moved elsewhere") << false << true;
    QTest::newRow("moved here") << true << true;
    QTest::newRow("moved elsewhere, a slice") << false << false;
}

void tst_Reconciler::movedFolderDropsWhatTheServerNoLongerHad()
{
    QFETCH(bool, ownMove);
    QFETCH(bool, feedComplete);
    const char *dir = ownMove ? "b" : "a";
    auto in = [dir](const char *name) { return P((QByteArray(dir) + '/' + name).constData()); };
    JournalState j;
    j.insert(P(dir), JournalEntry { EntryKind::Directory, 0, 0, 50, 0755, ownMove ? 4u : 1u, {} });
    j.insert(in("x"), JournalEntry { EntryKind::File, 10, 1000, 7, 0644, 2, content('A') });
    j.insert(in("gone"), JournalEntry { EntryKind::File, 10, 1000, 7, 0644, 2, content('G') });
    j.insert(in("edited"), JournalEntry { EntryKind::File, 10, 1000, 8, 0644, 2, content('E') });
    LocalSnapshot l;
    l.insert(P(dir), localDir(50));
    l.insert(in("x"), localFile('A', false));
    l.insert(in("gone"), localFile('G', false));
    LocalEntry edited = localFile('F', true);
    l.insert(in("edited"), edited);
    RemoteChanges r;
    // Deleted elsewhere before the move: the move did not carry them.
    FileEntry newB;
    newB.path = P("b");
    newB.kind = EntryKind::Directory;
    newB.version = 4;
    newB.movedFrom = P("a");
    FileEntry newX = remoteFile("b/x", 'A', 6);
    newX.movedFrom = P("a/x");
    for (const FileEntry &e : { tombstone("a/gone", EntryKind::File, 2), tombstone("a/edited", EntryKind::File, 2),
             tombstone("a", EntryKind::Directory, 3), newB, tombstone("a/x", EntryKind::File, 5), newX })
        r.insert(e.path, e);
    Reconciler::Feed feed;
    feed.complete = feedComplete;
    const SyncPlan plan = Reconciler::reconcile(l, j, r, QStringLiteral("me"), QDateTime::currentDateTime(), feed);
    QString expected = ownMove ? QString() : QStringLiteral("move-local b from a\n");
    if (feedComplete) // the edit wins over the delete: uploaded as new (nothing is there)
        expected += QStringLiteral("delete-local b/gone\nupload b/edited\n");
    else if (!ownMove)
        expected += QStringLiteral("upload b/edited\n");
    expected += ownMove ? QStringLiteral("record b/x") : QStringLiteral("record b\nrecord b/x");
    QCOMPARE(plan.describe(), expected);
    for (const SyncAction &a : plan.actions) {
        if (a.type == ActionType::Upload && feedComplete)
            QCOMPARE(a.base, 0u);
    }
}

// A slice listed the move and was applied (b/x recorded at its new version); the last
// slice of the feed lists nothing there: what the journal still carries from before the
// move was not moved.
void tst_Reconciler::folderMovedInAnEarlierSlice()
{
    JournalState j;
    j.insert(P("b"), JournalEntry { EntryKind::Directory, 0, 0, 50, 0755, 4, {} });
    j.insert(P("b/x"), JournalEntry { EntryKind::File, 10, 1000, 7, 0644, 6, content('A') });
    j.insert(P("b/gone"), JournalEntry { EntryKind::File, 10, 1000, 7, 0644, 2, content('G') });
    LocalSnapshot l;
    l.insert(P("b"), localDir(50));
    l.insert(P("b/x"), localFile('A', false));
    l.insert(P("b/gone"), localFile('G', false));
    RemoteChanges r;
    r.insert(P("elsewhere"), remoteFile("elsewhere", 'E', 9));
    Reconciler::Feed feed;
    feed.movedEarlier.insert(P("b"), 4);
    SyncPlan plan = Reconciler::reconcile(l, j, r, QStringLiteral("me"), QDateTime::currentDateTime(), feed);
    QCOMPARE(plan.describe(), QStringLiteral("delete-local b/gone\ndownload elsewhere"));
    feed.complete = false; // not the last slice yet: nothing decided there
    plan = Reconciler::reconcile(l, j, r, QStringLiteral("me"), QDateTime::currentDateTime(), feed);
    QCOMPARE(plan.describe(), QStringLiteral("download elsewhere"));
}

void tst_Reconciler::folderRenamedHereAndThereFollowsTheServer()
{
    JournalState j;
    j.insert(P("a"), JournalEntry { EntryKind::Directory, 0, 0, 50, 0755, 1, {} });
    j.insert(P("a/x"), JournalEntry { EntryKind::File, 10, 1000, 7, 0644, 2, content('A') });
    LocalSnapshot l;
    l.insert(P("c"), localDir(50)); // renamed to c here
    l.insert(P("c/x"), localFile('A', false));
    LocalEntry fresh = localFile('N', true);
    fresh.inode = 77;
    l.insert(P("c/new"), fresh);
    RemoteChanges r; // and to b elsewhere, first
    FileEntry newB;
    newB.path = P("b");
    newB.kind = EntryKind::Directory;
    newB.version = 4;
    newB.movedFrom = P("a");
    FileEntry newX = remoteFile("b/x", 'A', 6);
    newX.movedFrom = P("a/x");
    for (const FileEntry &e :
        { tombstone("a", EntryKind::Directory, 3), newB, tombstone("a/x", EntryKind::File, 5), newX })
        r.insert(e.path, e);
    const SyncPlan plan = Reconciler::reconcile(l, j, r, QStringLiteral("me"), QDateTime::currentDateTime());
    QCOMPARE(plan.describe(), QStringLiteral("move-local b from c (was a)\nupload b/new\nrecord b\nrecord b/x"));
}

// Here X moved into n (as n/d, and n/N is new), there n moved into X (as X/X) first: done
// both ways each would be inside the other. The server's move wins: ours is undone and
// its followed, and nothing waits for a move that can never be made (the cursor held for
// good, nothing to do: the folders stayed different).
void tst_Reconciler::folderMovedIntoAFolderMovedIntoItThere()
{
    JournalState j;
    j.insert(P("X"), JournalEntry { EntryKind::Directory, 0, 0, 50, 0755, 2, {} });
    j.insert(P("X/f"), JournalEntry { EntryKind::File, 10, 1000, 7, 0644, 3, content('A') });
    j.insert(P("n"), JournalEntry { EntryKind::Directory, 0, 0, 60, 0755, 4, {} });
    LocalSnapshot l;
    l.insert(P("n"), localDir(60));
    l.insert(P("n/N"), localDir(70));
    l.insert(P("n/d"), localDir(50));
    l.insert(P("n/d/f"), localFile('A', false));
    RemoteChanges r;
    FileEntry moved;
    moved.path = P("X/X");
    moved.kind = EntryKind::Directory;
    moved.version = 6;
    moved.movedFrom = P("n");
    FileEntry made;
    made.path = P("X/d");
    made.kind = EntryKind::Directory;
    made.version = 7;
    for (const FileEntry &e : { tombstone("n", EntryKind::Directory, 5), moved, made })
        r.insert(e.path, e);
    const SyncPlan plan = Reconciler::reconcile(l, j, r, QStringLiteral("me"), QDateTime::currentDateTime());
    QCOMPARE(plan.describe(),
        QStringLiteral("move-local X from n/d (was X)\nmove-local X/X from n\ndownload X/d\nupload X/X/N\nrecord X/X"));
    QVERIFY(!plan.holdCursor);
}

// Here S moved into F (as F/d) and its file touched, there F moved to T: ours goes along,
// to T/d, and what waits for it is what is under S and T/d (a change there under S is read
// again). Dropped, with the journal already naming S's content under T/d, the plan
// recorded the file at T/d/f, where the server had nothing.
void tst_Reconciler::folderMovedIntoAFolderMovedThere()
{
    JournalState j;
    j.insert(P("F"), JournalEntry { EntryKind::Directory, 0, 0, 60, 0755, 4, {} });
    j.insert(P("S"), JournalEntry { EntryKind::Directory, 0, 0, 50, 0755, 2, {} });
    j.insert(P("S/f"), JournalEntry { EntryKind::File, 10, 1000, 7, 0644, 3, content('A') });
    LocalSnapshot l;
    l.insert(P("F"), localDir(60));
    l.insert(P("F/d"), localDir(50));
    l.insert(P("F/d/f"), localFile('A', true));
    RemoteChanges r;
    FileEntry moved;
    moved.path = P("T");
    moved.kind = EntryKind::Directory;
    moved.version = 6;
    moved.movedFrom = P("F");
    for (const FileEntry &e : { tombstone("F", EntryKind::Directory, 5), moved, remoteFile("S/g", 'G', 7) })
        r.insert(e.path, e);
    const SyncPlan plan = Reconciler::reconcile(l, j, r, QStringLiteral("me"), QDateTime::currentDateTime());
    QCOMPARE(plan.describe(), QStringLiteral("move-remote T/d from S\nmove-local T from F\nrecord T"));
    QVERIFY(plan.holdCursor);
}

void tst_Reconciler::inSync_data()
{
    QTest::addColumn<QString>("change");
    QTest::addColumn<bool>("inSync");
    QTest::newRow("unchanged") << QString() << true;
    QTest::newRow("new stat") << "stat" << false;
    QTest::newRow("new mode") << "mode" << false;
    QTest::newRow("read again, clearly after its ctime") << "proven" << false;
    QTest::newRow("other blocks") << "blocks" << false;
    QTest::newRow("unreadable") << "unreadable" << false;
    QTest::newRow("new file here") << "added" << false;
    QTest::newRow("file gone here") << "removed" << false;
    QTest::newRow("folder became a file") << "kind" << false;
    QTest::newRow("server changed a path") << "remote" << false;
}

void tst_Reconciler::inSync()
{
    QFETCH(QString, change);
    QFETCH(bool, inSync);
    JournalState journal;
    LocalSnapshot local;
    JournalEntry dir;
    dir.kind = EntryKind::Directory;
    dir.version = 1;
    journal.insert(P("d"), dir);
    LocalEntry localDir;
    localDir.kind = EntryKind::Directory;
    local.insert(P("d"), localDir);
    for (const char *path : { "d/a.txt", "b.txt" }) {
        const LocalEntry l = localFile('A', false);
        local.insert(P(path), l);
        journal.insert(P(path), journalEntryFor(l, 1));
    }
    RemoteChanges remote;
    LocalEntry &b = local[P("b.txt")];
    if (change == QLatin1String("stat"))
        b.mtimeNs += 1;
    else if (change == QLatin1String("mode"))
        b.mode = 0600;
    else if (change == QLatin1String("blocks"))
        b.blocks = content('B');
    else if (change == QLatin1String("unreadable"))
        b.unreadable = true;
    else if (change == QLatin1String("proven"))
        b.readAfterCtime = true; // same stat and blocks: the journal only learns the proof
    else if (change == QLatin1String("added"))
        local.insert(P("c.txt"), localFile('C', true));
    else if (change == QLatin1String("removed"))
        local.remove(P("d/a.txt"));
    else if (change == QLatin1String("kind"))
        local[P("d")] = localFile('D', true);
    else if (change == QLatin1String("remote")) {
        FileEntry e;
        e.path = P("b.txt");
        e.size = 10;
        e.blocks = content('R');
        e.version = 2;
        remote.insert(e.path, e);
    }
    QCOMPARE(Reconciler::isInSync(local, journal, remote), inSync);
    // The shortcut must never hide work: whenever it says "in sync", the full
    // reconciliation agrees that there is nothing to do.
    const SyncPlan plan
        = Reconciler::reconcile(local, journal, remote, QStringLiteral("me"), QDateTime::currentDateTime());
    if (inSync) {
        QVERIFY2(plan.isEmpty(), qPrintable(plan.describe()));
        QVERIFY(!plan.holdCursor);
        QVERIFY(!plan.needsFollowUp);
    } else if (change == QLatin1String("added") || change == QLatin1String("removed") || change == QLatin1String("kind")
        || change == QLatin1String("remote")) {
        QVERIFY2(!plan.isEmpty(), qPrintable(change)); // these rows really are work
    } else if (change == QLatin1String("proven")) {
        // Recorded with the flag, so the next scan trusts the stat instead of reading again.
        QCOMPARE(plan.describe(), QStringLiteral("record b.txt"));
        QVERIFY(plan.actions.first().local && plan.actions.first().local->readAfterCtime);
    }
}

QTEST_GUILESS_MAIN(tst_Reconciler)
#include "tst_reconciler.moc"
