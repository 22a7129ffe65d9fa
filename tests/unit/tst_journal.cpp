#include "journal.h"

#include <QDir>
#include <QFile>
#include <QSqlDatabase>
#include <QSqlError>
#include <QSqlQuery>
#include <QTemporaryDir>
#include <QTest>

using namespace filesync;
using namespace filesync::protocol;

namespace {
RelativePath P(const char *p)
{
    return *RelativePath::fromString(QString::fromUtf8(p));
}

// What a second connection reads from the journal's file: the rows SQLite really holds.
QStringList pathsOnDisk(const QString &folder)
{
    QStringList paths;
    {
        QSqlDatabase db = QSqlDatabase::addDatabase(QStringLiteral("QSQLITE"), QStringLiteral("reader"));
        db.setDatabaseName(Journal::path(folder));
        if (!db.open())
            return { QStringLiteral("cannot open") };
        QSqlQuery q(db);
        if (!q.exec(QStringLiteral("SELECT path FROM entries ORDER BY path")))
            return { QStringLiteral("cannot read") };
        while (q.next())
            paths << q.value(0).toString();
    }
    QSqlDatabase::removeDatabase(QStringLiteral("reader"));
    return paths;
}

QStringList pathsOf(const JournalState &state)
{
    QStringList paths;
    for (auto it = state.cbegin(); it != state.cend(); ++it)
        paths << it.key().toString();
    return paths;
}

// Makes SQLite itself refuse any write of the entry "boom" (the way a full disk refuses
// a write: the statement fails, in the middle of a batch). `action` is RAISE's first
// argument: ABORT undoes the statement only, ROLLBACK the whole transaction, as SQLite
// does on its own for SQLITE_FULL or an I/O error.
// Runs `statements` on a second connection to the journal's file: how a test writes what
// an older build or a failing disk would leave there. False at the first that fails.
bool execOnJournalFile(const QString &folder, const QStringList &statements)
{
    bool ok = false;
    {
        QSqlDatabase db = QSqlDatabase::addDatabase(QStringLiteral("QSQLITE"), QStringLiteral("side"));
        db.setDatabaseName(Journal::path(folder));
        ok = db.open();
        QSqlQuery q(db);
        for (const QString &sql : statements) {
            if (!ok)
                break;
            ok = q.exec(sql);
            if (!ok)
                qWarning() << sql << q.lastError().text();
        }
    }
    QSqlDatabase::removeDatabase(QStringLiteral("side"));
    return ok;
}

bool armTrigger(const QString &folder, const char *action)
{
    return execOnJournalFile(folder,
        { QStringLiteral("CREATE TRIGGER refuse BEFORE INSERT ON entries WHEN NEW.path = 'boom'"
                         " BEGIN SELECT RAISE(%1, 'database or disk is full'); END")
                .arg(QLatin1String(action)) });
}
} // namespace

class tst_Journal : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void persistsAcrossReopen();
    void sentPutsSurviveReopenUntilCleared();
    void treesMoveAndGo();
    void failedWritesAreReported();
    void batchIsInMemoryAtCommitAndSurvivesReopen();
    void failedWriteChangesNothing();
    void failedBatchChangesNothing_data();
    void failedBatchChangesNothing();
    void valuesCanBeEmptyOrRemoved();
    void leftoverDownloadsAreRemovedAtOpen();
    void downloadsLandedBeforeACrashAreRecordedAtOpen();
    void newJournalIsSchemaOne();
    void unknownSchemaIsRefusedAndLeftAlone_data();
    void unknownSchemaIsRefusedAndLeftAlone();
};

void tst_Journal::persistsAcrossReopen()
{
    QTemporaryDir dir;
    const JournalEntry e { EntryKind::File, 3, 123456789, 42, 0640, 7, { BlockRef { ContentHash::of("abc"), 3 } },
        987654321, QByteArray("\x01\x02checks", 8) };
    {
        Journal j(dir.path());
        QVERIFY(j.open().ok());
        QVERIFY(QFile::exists(dir.path() + QStringLiteral("/.filesync/journal.db")));
        QVERIFY(QDir(dir.path() + QStringLiteral("/.filesync/tmp")).exists());
        j.put(P("d/\u00e9t\u00e9.txt"), e);
        j.setValue(QStringLiteral("account"), QStringLiteral("abc"));
        j.setCursor(99);
        QVERIFY(!j.hasFailed());
    }
    Journal j(dir.path());
    QVERIFY(j.open().ok());
    const JournalState state = j.load();
    QCOMPARE(state.size(), 1);
    const JournalEntry back = state.value(P("d/\u00e9t\u00e9.txt"));
    QCOMPARE(back.size, 3);
    QCOMPARE(back.mtimeNs, 123456789);
    QCOMPARE(back.inode, 42u);
    QCOMPARE(back.mode, 0640u);
    QCOMPARE(back.version, 7u);
    QCOMPARE(back.blocks, e.blocks);
    QCOMPARE(back.ctimeNs, 987654321);
    QCOMPARE(back.blockChecks, e.blockChecks);
    QCOMPARE(j.value(QStringLiteral("account")), QStringLiteral("abc"));
    QCOMPARE(j.cursor(), 99u);
}

// The puts and moves of a Commit in flight outlive a crash (a reopen) and go with clearSent().
void tst_Journal::sentPutsSurviveReopenUntilCleared()
{
    QTemporaryDir dir;
    const QList<BlockRef> blocks { BlockRef { ContentHash::of("abc"), 3 }, BlockRef { ContentHash::of("de"), 2 } };
    JournalEntry e { EntryKind::File, 5, 123456789, 42, 0755, 0, blocks, 987654321 };
    e.readAfterCtime = true;
    {
        Journal j(dir.path());
        QVERIFY(j.open().ok());
        QVERIFY(j.sent().isEmpty());
        JournalEntry folder;
        folder.kind = EntryKind::Directory;
        folder.inode = 77;
        j.setSent({ { P("d/\u00e9t\u00e9.txt"), e } }, { { P("s"), P("d/s"), folder } }, 4'000'000'123);
    }
    Journal j(dir.path());
    QVERIFY(j.open().ok());
    const Journal::SentPuts sent = j.sent();
    QCOMPARE(sent.size(), 1);
    QCOMPARE(sent.first().first, P("d/\u00e9t\u00e9.txt"));
    const JournalEntry &back = sent.first().second;
    QCOMPARE(back.size, 5);
    QCOMPARE(back.mtimeNs, 123456789);
    QCOMPARE(back.inode, 42u);
    QCOMPARE(back.mode, 0755u);
    QCOMPARE(back.ctimeNs, 987654321);
    QVERIFY(back.readAfterCtime);
    QCOMPARE(back.blocks.value(0).hash, protocol::blockListDigest(blocks));
    QVERIFY(protocol::blockListDigest(blocks) != protocol::blockListDigest({ blocks.first() }));
    const Journal::SentMoves moves = j.sentMoves(); // kept apart from the puts
    QCOMPARE(moves.size(), 1);
    QCOMPARE(moves.first().from, P("s"));
    QCOMPARE(moves.first().to, P("d/s"));
    QCOMPARE(moves.first().entry.kind, EntryKind::Directory);
    QCOMPARE(moves.first().entry.inode, 77u);
    QCOMPARE(j.sentKnownHead(), 4'000'000'123u); // what the server had told us when it went out
    QVERIFY(j.load().isEmpty()); // not an entry
    j.clearSent();
    QVERIFY(j.sent().isEmpty());
    QVERIFY(j.sentMoves().isEmpty());
    QCOMPARE(j.sentKnownHead(), 0u);
    QVERIFY(!j.hasFailed());
}

void tst_Journal::treesMoveAndGo()
{
    QTemporaryDir dir;
    Journal j(dir.path());
    QVERIFY(j.open().ok());
    JournalEntry e;
    e.version = 1;
    for (const char *p : { "a", "a/x", "a/y/z", "ab", "a0", "a b", "a.pm", "a-1" })
        j.put(P(p), e);
    // The in-memory copy says what SQLite says (a second journal reads the file).
    const auto onDisk = [&] {
        Journal other(dir.path());
        return other.open().ok() ? other.load().keys() : QList<RelativePath> { P("failed") };
    };
    j.moveTree(P("a"), P("b/c"));
    QCOMPARE(j.load().keys(),
        (QList<RelativePath> { P("a b"), P("a-1"), P("a.pm"), P("a0"), P("ab"), P("b/c"), P("b/c/x"), P("b/c/y/z") }));
    QCOMPARE(onDisk(), j.load().keys());
    // A subtree beside siblings of its name, in path order right after it.
    j.put(P("b/c.pm"), e);
    j.put(P("b/c 2/in"), e);
    j.removeTree(P("b/c"));
    QCOMPARE(j.load().keys(),
        (QList<RelativePath> { P("a b"), P("a-1"), P("a.pm"), P("a0"), P("ab"), P("b/c 2/in"), P("b/c.pm") }));
    QCOMPARE(onDisk(), j.load().keys());
    for (const char *p : { "a b", "a-1", "a.pm", "b/c 2/in", "b/c.pm" })
        j.remove(P(p));
    QCOMPARE(j.load().keys(), (QList<RelativePath> { P("a0"), P("ab") }));
    QCOMPARE(onDisk(), j.load().keys());
    j.clearEntries();
    QVERIFY(j.load().isEmpty());
    QVERIFY(onDisk().isEmpty());
    QVERIFY(!j.hasFailed());
}

void tst_Journal::failedWritesAreReported()
{
    QTemporaryDir dir;
    Journal j(dir.path());
    QVERIFY(j.open().ok());
    j.close();
    j.put(P("x"), JournalEntry());
    QVERIFY(j.hasFailed());
    QVERIFY(!j.lastError().isEmpty());
}

void tst_Journal::batchIsInMemoryAtCommitAndSurvivesReopen()
{
    QTemporaryDir dir;
    JournalEntry e;
    e.version = 3;
    e.blocks = { BlockRef { ContentHash::of("x"), 1 } };
    QStringList expected;
    {
        Journal j(dir.path());
        QVERIFY(j.open().ok());
        j.put(P("old/a"), e);
        j.put(P("gone"), e);
        QVERIFY(j.begin());
        QVERIFY(!j.begin()); // not nested
        for (int i = 0; i < 300; ++i) {
            e.size = i;
            j.put(P(qPrintable(QStringLiteral("d%1/f%2").arg(i % 7).arg(i))), e);
        }
        j.remove(P("gone"));
        j.moveTree(P("old"), P("new")); // sees the batch's own rows
        j.put(P("new/b"), e);
        // Not in memory before SQLite has committed it.
        QCOMPARE(pathsOf(j.load()), (QStringList { QStringLiteral("gone"), QStringLiteral("old/a") }));
        QVERIFY(j.commit());
        QVERIFY2(!j.hasFailed(), qPrintable(j.lastError()));
        QCOMPARE(j.load().size(), 302);
        QVERIFY(!j.load().contains(P("gone")) && !j.load().contains(P("old/a")));
        QVERIFY(j.load().contains(P("new/a")) && j.load().contains(P("new/b")));
        QCOMPARE(j.load().value(P("d5/f299")).size, 299);
        expected = pathsOf(j.load());
        QCOMPARE(pathsOnDisk(dir.path()), expected);
        QVERIFY(!j.commit()); // no batch open
    }
    Journal j(dir.path());
    QVERIFY(j.open().ok());
    QCOMPARE(pathsOf(j.load()), expected);
    QCOMPARE(j.load().value(P("new/a")).blocks, e.blocks);
}

void tst_Journal::failedWriteChangesNothing()
{
    QTemporaryDir dir;
    {
        Journal j(dir.path());
        QVERIFY(j.open().ok());
    }
    QVERIFY(armTrigger(dir.path(), "ABORT"));
    Journal j(dir.path());
    QVERIFY(j.open().ok());
    j.put(P("a"), JournalEntry());
    j.put(P("boom"), JournalEntry()); // on its own, outside a batch
    QVERIFY(j.hasFailed());
    QVERIFY2(j.lastError().contains(QStringLiteral("full")), qPrintable(j.lastError()));
    QCOMPARE(pathsOf(j.load()), QStringList { QStringLiteral("a") });
    QCOMPARE(pathsOnDisk(dir.path()), QStringList { QStringLiteral("a") });
}

void tst_Journal::failedBatchChangesNothing_data()
{
    QTest::addColumn<QString>("action");
    QTest::newRow("statement undone") << QStringLiteral("ABORT");
    QTest::newRow("transaction rolled back by SQLite") << QStringLiteral("ROLLBACK");
}

void tst_Journal::failedBatchChangesNothing()
{
    QFETCH(QString, action);
    QTemporaryDir dir;
    JournalEntry e;
    e.version = 1;
    {
        Journal j(dir.path());
        QVERIFY(j.open().ok());
        j.put(P("keep/x"), e);
        j.put(P("keep/y"), e);
        QVERIFY(!j.hasFailed());
    }
    QVERIFY(armTrigger(dir.path(), qPrintable(action)));
    const QStringList before { QStringLiteral("keep/x"), QStringLiteral("keep/y") };
    {
        Journal j(dir.path());
        QVERIFY(j.open().ok());
        QVERIFY(j.begin());
        j.put(P("a"), e);
        j.removeTree(P("keep"));
        j.put(P("boom"), e);
        // After the failure: were these to run, SQLite (its transaction already gone
        // after a ROLLBACK) would keep them on their own.
        j.put(P("z"), e);
        j.moveTree(P("a"), P("b"));
        j.setCursor(5);
        QVERIFY(!j.commit());
        QVERIFY(j.hasFailed());
        QVERIFY2(j.lastError().contains(QStringLiteral("full")), qPrintable(j.lastError())); // the first error
        QCOMPARE(pathsOf(j.load()), before);
        QCOMPARE(pathsOnDisk(dir.path()), before);
        QCOMPARE(j.cursor(), 0u);
    }
    Journal j(dir.path());
    QVERIFY(j.open().ok());
    QCOMPARE(pathsOf(j.load()), before);
    QCOMPARE(j.cursor(), 0u);
}

void tst_Journal::valuesCanBeEmptyOrRemoved()
{
    QTemporaryDir dir;
    Journal j(dir.path());
    QVERIFY(j.open().ok());
    j.setValue(QStringLiteral("account"), QString()); // a null QString is not SQL NULL here
    QVERIFY2(!j.hasFailed(), qPrintable(j.lastError()));
    j.setValue(QStringLiteral("account"), QStringLiteral("x"));
    j.removeValue(QStringLiteral("account"));
    QCOMPARE(j.value(QStringLiteral("account")), QString());
    QCOMPARE(j.cursor(), 0u);
    QVERIFY(!j.hasFailed());
}

void tst_Journal::leftoverDownloadsAreRemovedAtOpen()
{
    QTemporaryDir dir;
    {
        Journal j(dir.path());
        QVERIFY(j.open().ok());
    }
    QFile leftover(dir.path() + QStringLiteral("/.filesync/tmp/partial-download"));
    QVERIFY(leftover.open(QIODevice::WriteOnly));
    leftover.write("half a file");
    leftover.close();
    Journal j(dir.path());
    QVERIFY(j.open().ok());
    QVERIFY(!leftover.exists());
}

// A crash after a download's rename and before its record: the file at its path with the
// stat it landed with is recorded at open, as the record would have; anything else there
// (edited since, gone, a folder) is left for the next scan to find.
void tst_Journal::downloadsLandedBeforeACrashAreRecordedAtOpen()
{
    QTemporaryDir dir;
    const QList<BlockRef> blocks { BlockRef { ContentHash::of("landed"), 6 } };
    auto write = [&dir](const char *name, const QByteArray &bytes) {
        QFile f(dir.path() + u'/' + QString::fromUtf8(name));
        return f.open(QIODevice::WriteOnly) && f.write(bytes) == bytes.size();
    };
    QVERIFY(QDir(dir.path()).mkpath(QStringLiteral("sub/folder")));
    Journal::Landing landing;
    for (const char *name : { "landed", "edited", "gone", "sub/folder", "sub/\u00e9t\u00e9" }) {
        if (QByteArray(name) != "sub/folder")
            QVERIFY(write(name, "landed"));
        const auto stat = localfs::Location::at(dir.path(), P(name)).stat();
        QVERIFY(stat);
        JournalEntry e = journalEntryFor(*stat, 9);
        e.kind = EntryKind::File; // as a download's, whatever stands there now
        e.blocks = blocks;
        landing.append({ P(name), e });
    }
    {
        Journal j(dir.path());
        QVERIFY(j.open().ok());
        j.setLanding(landing);
        QCOMPARE(j.landing().size(), 5);
        QVERIFY(j.load().isEmpty());
    } // the crash: nothing recorded
    QVERIFY(write("edited", "edited here since"));
    QVERIFY(QFile::remove(dir.path() + QStringLiteral("/gone")));

    Journal j(dir.path());
    QVERIFY(j.open().ok());
    QCOMPARE(pathsOf(j.load()), (QStringList { QStringLiteral("landed"), QStringLiteral("sub/\u00e9t\u00e9") }));
    const JournalEntry kept = j.load().value(P("landed"));
    QCOMPARE(kept.version, 9u);
    QCOMPARE(kept.blocks, blocks);
    QCOMPARE(kept.inode, landing.first().second.inode);
    QCOMPARE(pathsOnDisk(dir.path()), pathsOf(j.load()));
    QVERIFY(j.landing().isEmpty()); // taken once
    QVERIFY(!j.hasFailed());
}

void tst_Journal::newJournalIsSchemaOne()
{
    QTemporaryDir dir;
    {
        Journal j(dir.path());
        QVERIFY(j.open().ok());
        JournalEntry e;
        e.size = 3;
        e.ctimeNs = 77;
        e.blockChecks = QByteArray(24, 'c');
        e.readAfterCtime = true;
        j.put(P("f"), e);
        QVERIFY(!j.hasFailed());
    }
    {
        QSqlDatabase db = QSqlDatabase::addDatabase(QStringLiteral("QSQLITE"), QStringLiteral("check"));
        db.setDatabaseName(Journal::path(dir.path()));
        QVERIFY(db.open());
        QSqlQuery q(db);
        QVERIFY(q.exec(QStringLiteral("PRAGMA user_version")) && q.next());
        QCOMPARE(q.value(0).toInt(), 1);
    }
    QSqlDatabase::removeDatabase(QStringLiteral("check"));
    Journal j(dir.path());
    QVERIFY(j.open().ok());
    const JournalEntry back = j.load().value(P("f"));
    QCOMPARE(back.ctimeNs, 77);
    QCOMPARE(back.blockChecks, QByteArray(24, 'c'));
    QVERIFY(back.readAfterCtime);
}

void tst_Journal::unknownSchemaIsRefusedAndLeftAlone_data()
{
    QTest::addColumn<QStringList>("statements");
    QTest::addColumn<int>("version"); // named in the refusal
    const QString table = QStringLiteral("CREATE TABLE entries(path TEXT PRIMARY KEY, kind INTEGER NOT NULL)");
    const QString row = QStringLiteral("INSERT INTO entries VALUES('f', 0)");
    QTest::newRow("a newer schema") << QStringList { table, row, QStringLiteral("PRAGMA user_version=2") } << 2;
    QTest::newRow("tables without a version") << QStringList { table, row } << 0;
}

// A journal whose schema this build does not know: open() fails with one line naming the
// version found and the one supported, and neither the database nor the temp folder is
// touched (its leftovers are removed only from a journal that opens).
void tst_Journal::unknownSchemaIsRefusedAndLeftAlone()
{
    QFETCH(QStringList, statements);
    QFETCH(int, version);
    QTemporaryDir dir;
    QVERIFY(QDir().mkpath(Journal::tempDir(dir.path())));
    QVERIFY(execOnJournalFile(dir.path(), statements));
    QFile leftover(Journal::tempDir(dir.path()) + QStringLiteral("/partial.download"));
    QVERIFY(leftover.open(QIODevice::WriteOnly));
    leftover.close();
    const auto bytes = [&dir] {
        QFile f(Journal::path(dir.path()));
        return f.open(QIODevice::ReadOnly) ? f.readAll() : QByteArray();
    };
    const QByteArray before = bytes();
    QVERIFY(!before.isEmpty());
    QString message;
    {
        Journal j(dir.path());
        const auto opened = j.open();
        QVERIFY(!opened.ok());
        message = opened.errorMessage();
    }
    QVERIFY2(message.contains(QStringLiteral("schema version %1").arg(version))
            && message.contains(QStringLiteral("only version 1")) && !message.contains(u'\n'),
        qPrintable(message));
    QCOMPARE(bytes(), before);
    QVERIFY(leftover.exists());
    QVERIFY(!QFile::exists(Journal::path(dir.path()) + QStringLiteral("-wal")));
}

QTEST_GUILESS_MAIN(tst_Journal)
#include "tst_journal.moc"
