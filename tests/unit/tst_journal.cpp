#include "journal.h"

#include <QDir>
#include <QFile>
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
};

void tst_Journal::persistsAcrossReopen()
{
    QTemporaryDir dir;
    const JournalEntry e { EntryKind::File, 3, 123456789, 42, 0640, 7, { BlockRef { ContentHash::of("abc"), 3 } } };
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
    for (const char *p : { "a", "a/x", "a/y/z", "ab", "a0" })
        j.put(P(p), e);
    j.moveTree(P("a"), P("b/c"));
    QCOMPARE(j.load().keys(), (QList<RelativePath> { P("a0"), P("ab"), P("b/c"), P("b/c/x"), P("b/c/y/z") }));
    j.removeTree(P("b/c"));
    QCOMPARE(j.load().keys(), (QList<RelativePath> { P("a0"), P("ab") }));
    j.clearEntries();
    QVERIFY(j.load().isEmpty());
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

QTEST_GUILESS_MAIN(tst_Journal)
#include "tst_journal.moc"
