#include "journal.h"

#include <QDir>
#include <QFile>
#include <QSqlDatabase>
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
} // namespace

class tst_Journal : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void persistsAcrossReopen();
    void treesMoveAndGo();
    void failedWritesAreReported();
    void valuesCanBeEmptyOrRemoved();
    void leftoverDownloadsAreRemovedAtOpen();
    void schemaOneIsUpgraded();
    void schemaTwoIsUpgraded();
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

void tst_Journal::treesMoveAndGo()
{
    QTemporaryDir dir;
    Journal j(dir.path());
    QVERIFY(j.open().ok());
    JournalEntry e;
    e.version = 1;
    for (const char *p : { "a", "a/x", "a/y/z", "ab", "a0", "a b" })
        j.put(P(p), e);
    // The in-memory copy says what SQLite says (a second journal reads the file).
    const auto onDisk = [&] {
        Journal other(dir.path());
        return other.open().ok() ? other.load().keys() : QList<RelativePath> { P("failed") };
    };
    j.moveTree(P("a"), P("b/c"));
    QCOMPARE(j.load().keys(), (QList<RelativePath> { P("a b"), P("a0"), P("ab"), P("b/c"), P("b/c/x"), P("b/c/y/z") }));
    QCOMPARE(onDisk(), j.load().keys());
    j.removeTree(P("b/c"));
    QCOMPARE(j.load().keys(), (QList<RelativePath> { P("a b"), P("a0"), P("ab") }));
    QCOMPARE(onDisk(), j.load().keys());
    j.remove(P("a b"));
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

void tst_Journal::schemaOneIsUpgraded()
{
    QTemporaryDir dir;
    QVERIFY(QDir().mkpath(Journal::metadataDir(dir.path())));
    {
        QSqlDatabase db = QSqlDatabase::addDatabase(QStringLiteral("QSQLITE"), QStringLiteral("v1"));
        db.setDatabaseName(Journal::path(dir.path()));
        QVERIFY(db.open());
        QSqlQuery q(db);
        for (const char *sql : {
                 "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL)",
                 "CREATE TABLE entries(path TEXT PRIMARY KEY, kind INTEGER NOT NULL, size INTEGER NOT NULL,"
                 " mtime INTEGER NOT NULL, inode INTEGER NOT NULL, mode INTEGER NOT NULL, version INTEGER NOT NULL,"
                 " blocks BLOB)",
                 "INSERT INTO entries VALUES('f', 0, 3, 5, 6, 420, 9, NULL)",
                 "INSERT INTO meta VALUES('cursor', '9')",
                 "PRAGMA user_version=1",
             })
            QVERIFY2(q.exec(QLatin1String(sql)), sql);
        db.close();
    }
    QSqlDatabase::removeDatabase(QStringLiteral("v1"));
    Journal j(dir.path());
    QVERIFY(j.open().ok());
    QCOMPARE(j.cursor(), 9u);
    const JournalState state = j.load();
    QCOMPARE(state.keys(), QList<RelativePath> { P("f") });
    QCOMPARE(state.value(P("f")).version, 9u);
    QCOMPARE(state.value(P("f")).ctimeNs, 0); // unknown: the racy rule applies as before
    JournalEntry e = state.value(P("f"));
    e.ctimeNs = 11;
    j.put(P("f"), e);
    QVERIFY(!j.hasFailed());
}

// Schema 3 adds the blocks' checks: rows from before have none (their next change is
// chunked whole once), and new rows keep theirs across a reopen.
void tst_Journal::schemaTwoIsUpgraded()
{
    QTemporaryDir dir;
    QVERIFY(QDir().mkpath(Journal::metadataDir(dir.path())));
    const QByteArray packed = packBlockList({ BlockRef { ContentHash::of("abc"), 3 } });
    {
        QSqlDatabase db = QSqlDatabase::addDatabase(QStringLiteral("QSQLITE"), QStringLiteral("v2"));
        db.setDatabaseName(Journal::path(dir.path()));
        QVERIFY(db.open());
        QSqlQuery q(db);
        for (const char *sql : {
                 "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL)",
                 "CREATE TABLE entries(path TEXT PRIMARY KEY, kind INTEGER NOT NULL, size INTEGER NOT NULL,"
                 " mtime INTEGER NOT NULL, inode INTEGER NOT NULL, mode INTEGER NOT NULL, version INTEGER NOT NULL,"
                 " blocks BLOB, ctime INTEGER NOT NULL DEFAULT 0)",
                 "PRAGMA user_version=2",
             })
            QVERIFY2(q.exec(QLatin1String(sql)), sql);
        q.prepare(QStringLiteral("INSERT INTO entries VALUES('f', 0, 3, 5, 6, 420, 9, ?, 77)"));
        q.addBindValue(packed);
        QVERIFY(q.exec());
        db.close();
    }
    QSqlDatabase::removeDatabase(QStringLiteral("v2"));
    {
        Journal j(dir.path());
        QVERIFY(j.open().ok());
        const JournalEntry old = j.load().value(P("f"));
        QCOMPARE(old.ctimeNs, 77);
        QCOMPARE(old.blocks, unpackBlockList(packed));
        QVERIFY(old.blockChecks.isEmpty());
        JournalEntry e = old;
        e.blockChecks = QByteArray(24, 'c');
        j.put(P("g"), e);
        QVERIFY(!j.hasFailed());
    }
    Journal j(dir.path());
    QVERIFY(j.open().ok());
    QCOMPARE(j.load().value(P("g")).blockChecks, QByteArray(24, 'c'));
    QVERIFY(j.load().value(P("f")).blockChecks.isEmpty());
}

QTEST_GUILESS_MAIN(tst_Journal)
#include "tst_journal.moc"
