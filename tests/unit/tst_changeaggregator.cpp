#include "changeaggregator.h"

#include <QDir>
#include <QFile>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>
#include <QTimer>

using namespace filesync;

namespace {
RelativePath P(const QString &p)
{
    return *RelativePath::fromString(p);
}

QSet<RelativePath> paths(const QStringList &list)
{
    QSet<RelativePath> set;
    for (const QString &p : list)
        set.insert(P(p));
    return set;
}

QStringList L(std::initializer_list<const char *> items)
{
    QStringList list;
    for (const char *i : items)
        list << QString::fromUtf8(i);
    return list;
}

void write(const QString &path, const QByteArray &data)
{
    QFile f(path);
    QVERIFY(f.open(QIODevice::WriteOnly | QIODevice::Append));
    f.write(data);
}
} // namespace

// The watcher tells where things changed, so that a cycle scans only there.
class tst_ChangeAggregator : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void reportsDirtyFolders_data();
    void reportsDirtyFolders();
    void nothingHappenedIsEmpty();
    void endlessWritesStillTriggerCycles();
    void movedFolderMeansFullScanUntilRewatched();
    void ownInstallsAreNotChanges();
};

void tst_ChangeAggregator::reportsDirtyFolders_data()
{
    QTest::addColumn<QString>("op");
    QTest::addColumn<QStringList>("dirs");
    QTest::addColumn<QStringList>("trees");
    QTest::newRow("new file") << QStringLiteral("write:a/new") << L({ "a" }) << L({});
    QTest::newRow("append to a file") << QStringLiteral("write:b/f") << L({ "b" }) << L({});
    QTest::newRow("new file at the root") << QStringLiteral("write:top") << L({ "" }) << L({});
    QTest::newRow("new folder is a tree") << QStringLiteral("mkdir:a/n") << L({ "a" }) << L({ "a/n" });
    QTest::newRow("move between folders") << QStringLiteral("mv:a/f>b/g") << L({ "a", "b" }) << L({});
    QTest::newRow("removed folder") << QStringLiteral("rmdir:a/sub") << L({ "a" }) << L({});
    QTest::newRow("folder moved in elsewhere is a tree")
        << QStringLiteral("mv:a/sub>b/sub2") << L({ "a", "b" }) << L({ "b/sub2" });
}

void tst_ChangeAggregator::reportsDirtyFolders()
{
    QFETCH(QString, op);
    QFETCH(QStringList, dirs);
    QFETCH(QStringList, trees);
    QTemporaryDir dir;
    for (const char *d : { "a/sub", "b" })
        QVERIFY(QDir().mkpath(dir.path() + u'/' + QLatin1String(d)));
    write(dir.path() + QStringLiteral("/a/f"), "f");
    write(dir.path() + QStringLiteral("/b/f"), "f");
    ChangeAggregator aggregator(dir.path(), 10, 3600);
    QSignalSpy changed(&aggregator, &ChangeAggregator::changed);
    aggregator.start();
    QCOMPARE(aggregator.setDirectories({ P(QStringLiteral("a")), P(QStringLiteral("a/sub")), P(QStringLiteral("b")) })
                 .size(),
        3);
    QVERIFY(aggregator.takeDirty().isEmpty());

    const QString verb = op.section(u':', 0, 0), arg = op.section(u':', 1);
    if (verb == QLatin1String("write"))
        write(dir.path() + u'/' + arg, "more");
    else if (verb == QLatin1String("mkdir"))
        QVERIFY(QDir().mkdir(dir.path() + u'/' + arg));
    else if (verb == QLatin1String("rmdir"))
        QVERIFY(QDir().rmdir(dir.path() + u'/' + arg));
    else if (verb == QLatin1String("mv"))
        QVERIFY(QDir().rename(dir.path() + u'/' + arg.section(u'>', 0, 0), dir.path() + u'/' + arg.section(u'>', 1)));
    QTRY_VERIFY(changed.size() >= 1);
    const ScanScope scope = aggregator.takeDirty();
    QVERIFY(!scope.full);
    QCOMPARE(scope.dirs, paths(dirs)); // a removed folder's own watch names its parent
    QCOMPARE(scope.trees, paths(trees));
    QVERIFY(aggregator.takeDirty().isEmpty()); // taken
}

// A file written every 20 ms for as long as the test runs, against a 100 ms debounce:
// without a cap on the delay no change would ever be reported; with it, one comes at the
// latest kMaxDelayMs after the first write, and again after the next.
void tst_ChangeAggregator::endlessWritesStillTriggerCycles()
{
    QTemporaryDir dir;
    ChangeAggregator aggregator(dir.path(), 100, 3600);
    aggregator.start();
    QSignalSpy changed(&aggregator, &ChangeAggregator::changed);
    int n = 0;
    QTimer writer;
    connect(&writer, &QTimer::timeout, this, [&] { write(dir.filePath(QStringLiteral("f%1").arg(n++)), "x"); });
    writer.start(20);
    QTRY_VERIFY_WITH_TIMEOUT(changed.count() >= 2, 5 * ChangeAggregator::kMaxDelayMs);
    writer.stop();
    QVERIFY(n > 2 * ChangeAggregator::kMaxDelayMs / 100); // the premise: writes kept coming, 20 ms apart
}

void tst_ChangeAggregator::nothingHappenedIsEmpty()
{
    QTemporaryDir dir;
    ChangeAggregator aggregator(dir.path(), 10, 3600);
    aggregator.start();
    QVERIFY(aggregator.takeDirty().isEmpty());
    // Without watches on every folder nothing says where to look: a full scan.
    ChangeAggregator stopped(dir.path(), 10, 3600);
    QVERIFY(stopped.takeDirty().full);
}

void tst_ChangeAggregator::movedFolderMeansFullScanUntilRewatched()
{
    QTemporaryDir dir;
    for (const char *d : { "a/sub/deeper", "b" })
        QVERIFY(QDir().mkpath(dir.path() + u'/' + QLatin1String(d)));
    ChangeAggregator aggregator(dir.path(), 10, 3600);
    QSignalSpy changed(&aggregator, &ChangeAggregator::changed);
    aggregator.start();
    aggregator.setDirectories({ P(QStringLiteral("a")), P(QStringLiteral("a/sub")), P(QStringLiteral("a/sub/deeper")),
        P(QStringLiteral("b")) });
    QVERIFY(QDir().rename(dir.path() + QStringLiteral("/a/sub"), dir.path() + QStringLiteral("/b/moved")));
    QTRY_VERIFY(changed.size() >= 1);
    const ScanScope moved = aggregator.takeDirty();
    QVERIFY(!moved.full); // the move itself is seen from both parents
    QCOMPARE(moved.dirs, paths({ QStringLiteral("a"), QStringLiteral("b") }));
    QCOMPARE(moved.trees, paths({ QStringLiteral("b/moved") }));

    // The watch of a folder inside the moved one still carries its old path: its events
    // cannot say where, so they ask for a full scan.
    changed.clear();
    write(dir.path() + QStringLiteral("/b/moved/deeper/f"), "f");
    QTRY_VERIFY(changed.size() >= 1);
    QVERIFY(aggregator.takeDirty().full);

    // Once the scan's folders renew the watches, events name the right folder again.
    const QList<RelativePath> renewed = aggregator.setDirectories({ P(QStringLiteral("a")), P(QStringLiteral("b")),
        P(QStringLiteral("b/moved")), P(QStringLiteral("b/moved/deeper")) });
    QCOMPARE(renewed.size(), 2);
    changed.clear();
    write(dir.path() + QStringLiteral("/b/moved/deeper/g"), "g");
    QTRY_VERIFY(changed.size() >= 1);
    const ScanScope after = aggregator.takeDirty();
    QVERIFY(!after.full);
    QCOMPARE(after.dirs, paths({ QStringLiteral("b/moved/deeper") }));
}

QTEST_GUILESS_MAIN(tst_ChangeAggregator)
// A file the engine renames out of .filesync/tmp into the tree (a download's install) is
// recorded by the engine itself: its folder is not dirty for it. A file moved in from
// anywhere else, or written by the user, still is; so is a folder moved out of the temp
// folder (not something the engine does: looked at as any change).
void tst_ChangeAggregator::ownInstallsAreNotChanges()
{
    QTemporaryDir dir, outside;
    const QString tmp = dir.path() + QStringLiteral("/.filesync/tmp");
    for (const QString &d : { tmp, dir.path() + QStringLiteral("/a"), dir.path() + QStringLiteral("/b") })
        QVERIFY(QDir().mkpath(d));
    ChangeAggregator aggregator(dir.path(), 10, 3600);
    QSignalSpy changed(&aggregator, &ChangeAggregator::changed);
    aggregator.start();
    aggregator.setDirectories({ P(QStringLiteral("a")), P(QStringLiteral("b")) });
    QVERIFY(aggregator.takeDirty().isEmpty());

    write(tmp + QStringLiteral("/t1"), "installed");
    QVERIFY(QFile::rename(tmp + QStringLiteral("/t1"), dir.path() + QStringLiteral("/a/f")));
    write(dir.path() + QStringLiteral("/b/g"), "the user's"); // after it: both are read by then
    QTRY_VERIFY(changed.size() >= 1);
    ScanScope scope = aggregator.takeDirty();
    QVERIFY(!scope.full);
    QCOMPARE(scope.dirs, paths(L({ "b" })));

    changed.clear();
    write(outside.path() + QStringLiteral("/t2"), "moved in");
    QVERIFY(QFile::rename(outside.path() + QStringLiteral("/t2"), dir.path() + QStringLiteral("/a/h")));
    QTRY_VERIFY(changed.size() >= 1);
    QCOMPARE(aggregator.takeDirty().dirs, paths(L({ "a" })));

    changed.clear();
    QVERIFY(QDir().mkdir(tmp + QStringLiteral("/d")));
    QVERIFY(QDir().rename(tmp + QStringLiteral("/d"), dir.path() + QStringLiteral("/b/d")));
    QTRY_VERIFY(changed.size() >= 1);
    scope = aggregator.takeDirty();
    QCOMPARE(scope.dirs, paths(L({ "b" })));
    QCOMPARE(scope.trees, paths(L({ "b/d" })));
}

#include "tst_changeaggregator.moc"
