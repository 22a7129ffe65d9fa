// DurableBatch: temp files and renames made durable in groups; what comes while a batch
// runs waits for the next one; a failed sync fails its batch; a cleared batch reports
// nothing. Real files in a temporary folder.
#include "durablebatch.h"
#include "enginepools.h"
#include "journal.h"

#include <QDir>
#include <QFile>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>

#include <memory>

using namespace filesync;

class tst_DurableBatch : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void init();
    void cleanup();
    void tempFilesThenTheirRenames();
    void whatComesDuringABatchWaitsForTheNext();
    void aMissingFileOrFolderFailsTheBatch();
    void renamesAreSyncedNowOnRequest();
    void aClearedBatchReportsNothing();

private:
    QString makeTemp(const QString &name);
    RelativePath renameIntoPlace(const QString &temp, const QString &path);

    std::unique_ptr<QTemporaryDir> m_dir;
    std::unique_ptr<EnginePools> m_pools;
};

using Ids = QList<quint64>;

void tst_DurableBatch::init()
{
    m_dir = std::make_unique<QTemporaryDir>();
    QVERIFY(m_dir->isValid());
    QVERIFY(QDir().mkpath(Journal::tempDir(m_dir->path())));
    m_pools = std::make_unique<EnginePools>();
}

void tst_DurableBatch::cleanup()
{
    m_pools.reset();
    m_dir.reset();
}

QString tst_DurableBatch::makeTemp(const QString &name)
{
    const QString path = Journal::tempDir(m_dir->path()) + u'/' + name;
    QFile f(path);
    if (!f.open(QIODevice::WriteOnly) || f.write(name.toUtf8()) != name.size())
        return {};
    return path;
}

RelativePath tst_DurableBatch::renameIntoPlace(const QString &temp, const QString &path)
{
    const RelativePath to = *RelativePath::fromString(path);
    QDir().mkpath(m_dir->path() + u'/' + to.parent().toString());
    return QFile::rename(temp, m_dir->path() + u'/' + path) ? to : RelativePath();
}

void tst_DurableBatch::tempFilesThenTheirRenames()
{
    DurableBatch batch(m_dir->path(), *m_pools);
    QSignalSpy synced(&batch, &DurableBatch::synced);
    const QString a = makeTemp(QStringLiteral("a"));
    const QString b = makeTemp(QStringLiteral("b"));
    batch.addFile(1, a);
    batch.addFile(2, b);
    QVERIFY(!batch.isRunning());
    batch.start();
    QVERIFY(batch.isRunning());
    QTRY_COMPARE(synced.size(), 1);
    QCOMPARE(synced.at(0).at(0).toBool(), true);
    QCOMPARE(synced.at(0).at(1).value<Ids>(), Ids({ 1, 2 }));
    QCOMPARE(synced.at(0).at(2).value<Ids>(), Ids());
    QVERIFY(!batch.isRunning());

    batch.addRenamed(1, renameIntoPlace(a, QStringLiteral("d/a")));
    batch.addRenamed(2, renameIntoPlace(b, QStringLiteral("d/e/b")));
    QCOMPARE(batch.renames(), Ids({ 1, 2 }));
    batch.start();
    QTRY_COMPARE(synced.size(), 2);
    QCOMPARE(synced.at(1).at(0).toBool(), true);
    QCOMPARE(synced.at(1).at(1).value<Ids>(), Ids());
    QCOMPARE(synced.at(1).at(2).value<Ids>(), Ids({ 1, 2 }));
    QCOMPARE(batch.batchesRun(), 2);
    QCOMPARE(batch.renames(), Ids());

    batch.start(); // nothing waits: no batch
    QVERIFY(!batch.isRunning());
}

void tst_DurableBatch::whatComesDuringABatchWaitsForTheNext()
{
    DurableBatch batch(m_dir->path(), *m_pools);
    QSignalSpy synced(&batch, &DurableBatch::synced);
    const QString a = makeTemp(QStringLiteral("a"));
    batch.addFile(1, a);
    batch.start();
    // The batch's result comes through this thread's event loop: it is still under way.
    batch.addFile(2, makeTemp(QStringLiteral("b")));
    batch.addRenamed(3, renameIntoPlace(makeTemp(QStringLiteral("c")), QStringLiteral("c")));
    batch.start();
    QTRY_COMPARE(synced.size(), 1);
    QCOMPARE(synced.at(0).at(1).value<Ids>(), Ids({ 1 }));
    QCOMPARE(synced.at(0).at(2).value<Ids>(), Ids());
    QVERIFY(!batch.isRunning()); // the next starts only when asked
    QCOMPARE(batch.renames(), Ids({ 3 }));
    batch.start();
    QTRY_COMPARE(synced.size(), 2);
    QCOMPARE(synced.at(1).at(0).toBool(), true);
    QCOMPARE(synced.at(1).at(1).value<Ids>(), Ids({ 2 }));
    QCOMPARE(synced.at(1).at(2).value<Ids>(), Ids({ 3 }));
}

void tst_DurableBatch::aMissingFileOrFolderFailsTheBatch()
{
    DurableBatch batch(m_dir->path(), *m_pools);
    QSignalSpy synced(&batch, &DurableBatch::synced);
    batch.addFile(1, makeTemp(QStringLiteral("a")));
    batch.addFile(2, Journal::tempDir(m_dir->path()) + QStringLiteral("/gone"));
    batch.start();
    QTRY_COMPARE(synced.size(), 1);
    QCOMPARE(synced.at(0).at(0).toBool(), false);
    QCOMPARE(synced.at(0).at(1).value<Ids>(), Ids({ 1, 2 }));

    batch.addRenamed(3, *RelativePath::fromString(QStringLiteral("nowhere/x")));
    batch.start();
    QTRY_COMPARE(synced.size(), 2);
    QCOMPARE(synced.at(1).at(0).toBool(), false);
    QCOMPARE(synced.at(1).at(2).value<Ids>(), Ids({ 3 }));
}

void tst_DurableBatch::renamesAreSyncedNowOnRequest()
{
    DurableBatch batch(m_dir->path(), *m_pools);
    QSignalSpy synced(&batch, &DurableBatch::synced);
    batch.addRenamed(1, renameIntoPlace(makeTemp(QStringLiteral("a")), QStringLiteral("d/a")));
    batch.start(); // under way
    batch.addRenamed(2, renameIntoPlace(makeTemp(QStringLiteral("b")), QStringLiteral("b")));
    QCOMPARE(batch.renames(), Ids({ 1, 2 })); // the batch's, then the waiting ones
    QVERIFY(batch.syncRenamesNow());
    batch.addRenamed(3, *RelativePath::fromString(QStringLiteral("nowhere/x")));
    QVERIFY(!batch.syncRenamesNow());
    QTRY_COMPARE(synced.size(), 1);
}

void tst_DurableBatch::aClearedBatchReportsNothing()
{
    DurableBatch batch(m_dir->path(), *m_pools);
    QSignalSpy synced(&batch, &DurableBatch::synced);
    batch.addFile(1, makeTemp(QStringLiteral("a")));
    batch.start();
    batch.addFile(2, makeTemp(QStringLiteral("b")));
    batch.clear();
    QVERIFY(!batch.isRunning());
    QCOMPARE(batch.renames(), Ids());
    batch.addFile(3, makeTemp(QStringLiteral("c")));
    batch.start();
    QTRY_COMPARE(synced.size(), 1);
    QCOMPARE(synced.at(0).at(1).value<Ids>(), Ids({ 3 }));
    // The cleared batch's job is over too, and its result reached nobody.
    m_pools->waitForDone();
    QCoreApplication::processEvents();
    QCOMPARE(synced.size(), 1);
    QCOMPARE(batch.batchesRun(), 1);
}

QTEST_GUILESS_MAIN(tst_DurableBatch)
#include "tst_durablebatch.moc"
