#include "synctestmacros.h"
#include "testcluster.h"
#include "testtree.h"

#include <QDir>
#include <QTest>

using namespace filesync;
using namespace filesync::test;

// A folder and the files beside it whose names start with the folder's name ("X" and
// "X.pm", "X-1", "X 2", "X+c"): as plain strings those names sort between "X" and
// "X/...", in path order after everything in "X". Every cycle scans, reconciles and
// records them; one writer at a time, so there is never a reason for a conflict copy.
// Intervals are an hour: the changes go through partial cycles (the watcher's and the
// server's push), which list the folder "d" and skip the subtree of "d/X".
class tst_PathOrder : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void init();
    void cleanup();

    void editsBesideAFolderOfTheSameStem();
    void folderMovesAndDeletesLeaveTheSiblings();

private:
    void startPair();
    void expectNoConflicts();
    std::unique_ptr<TestServer> m_server;
    std::unique_ptr<TestClient> m_a;
    std::unique_ptr<TestClient> m_b;
};

namespace {
// The siblings of the folder d/X, each sorting between "d/X" and "d/X/" as a string
// except the last two.
const char *const kSiblingFiles[] = { "d/X.pm", "d/X-1", "d/X+c", "d/X 2/in.txt", "d/X0", "d/Xa" };
} // namespace

void tst_PathOrder::init()
{
    m_server = std::make_unique<TestServer>();
    QVERIFY(m_server->start());
}

void tst_PathOrder::cleanup()
{
    m_a.reset();
    m_b.reset();
    m_server.reset();
}

void tst_PathOrder::startPair()
{
    m_a = std::make_unique<TestClient>(QStringLiteral("alpha"), m_server->port());
    writeFile(m_a->root(), QStringLiteral("d/X/in.txt"), "in X");
    writeFile(m_a->root(), QStringLiteral("d/X/sub/deep.txt"), "deep in X");
    for (const char *f : kSiblingFiles)
        writeFile(m_a->root(), QString::fromUtf8(f), QByteArray("first ") + f);
    // The same at the top, where the root is the listed folder.
    writeFile(m_a->root(), QStringLiteral("X/in.txt"), "top X");
    writeFile(m_a->root(), QStringLiteral("X.pm"), "top X.pm");
    m_b = std::make_unique<TestClient>(QStringLiteral("beta"), m_server->port());
    QVERIFY(startInSync(*m_a, *m_b));
    QTRY_COMPARE_WITH_TIMEOUT(m_a->engine()->state(), EngineState::Idle, 15000);
    QTRY_COMPARE_WITH_TIMEOUT(m_b->engine()->state(), EngineState::Idle, 15000);
}

void tst_PathOrder::expectNoConflicts()
{
    QCOMPARE(conflictCopies(m_a->root()), QStringList());
    QCOMPARE(conflictCopies(m_b->root()), QStringList());
    QCOMPARE(m_a->conflictCount(), 0);
    QCOMPARE(m_b->conflictCount(), 0);
}

void tst_PathOrder::editsBesideAFolderOfTheSameStem()
{
    startPair();
    if (QTest::currentTestFailed())
        return;
    // The same file edited again and again on A, each edit waiting until B has it.
    for (int i = 1; i <= 4; ++i) {
        const QByteArray content = "edit " + QByteArray::number(i) + " on A";
        writeFile(m_a->root(), QStringLiteral("d/X.pm"), content);
        QTRY_COMPARE_WITH_TIMEOUT(readFile(m_b->root(), QStringLiteral("d/X.pm")), content, 15000);
        QTRY_TREES_EQUAL(m_a->root(), m_b->root());
        QCOMPARE(readFile(m_a->root(), QStringLiteral("d/X.pm")), content); // A's edit stays
        expectNoConflicts();
        if (QTest::currentTestFailed())
            return;
    }
    // Every sibling, edited on A and then on B (which learns of A's edits by push).
    for (TestClient *writer : { m_a.get(), m_b.get() }) {
        TestClient *reader = writer == m_a.get() ? m_b.get() : m_a.get();
        QStringList files;
        for (const char *f : kSiblingFiles)
            files << QString::fromUtf8(f);
        files << QStringLiteral("X.pm") << QStringLiteral("d/X/in.txt");
        for (const QString &f : std::as_const(files)) {
            const QByteArray content = f.toUtf8() + (writer == m_a.get() ? " edited on A" : " edited on B");
            writeFile(writer->root(), f, content);
            QTRY_COMPARE_WITH_TIMEOUT(readFile(reader->root(), f), content, 15000);
            QCOMPARE(readFile(writer->root(), f), content);
        }
        QTRY_TREES_EQUAL(writer->root(), reader->root());
        expectNoConflicts();
        if (QTest::currentTestFailed())
            return;
    }
}

void tst_PathOrder::folderMovesAndDeletesLeaveTheSiblings()
{
    startPair();
    if (QTest::currentTestFailed())
        return;
    const TreeState before = treeState(m_a->root());
    const auto siblingsUnchanged = [&](const QString &root) {
        const TreeState now = treeState(root);
        for (auto it = before.cbegin(); it != before.cend(); ++it) {
            if (!it.key().startsWith(QLatin1String("d/X/")) && it.key() != QLatin1String("d/X")
                && it.key() != QLatin1String("d"))
                QCOMPARE(now.value(it.key()), *it);
        }
    };
    // A moves d/X away and back; B renames it too; then A deletes it.
    QVERIFY(QDir(m_a->root()).rename(QStringLiteral("d/X"), QStringLiteral("d/Y")));
    QTRY_TREES_EQUAL(m_a->root(), m_b->root());
    QCOMPARE(readFile(m_b->root(), QStringLiteral("d/Y/sub/deep.txt")), QByteArray("deep in X"));
    QVERIFY(!exists(m_b->root(), QStringLiteral("d/X")));
    siblingsUnchanged(m_b->root());
    siblingsUnchanged(m_a->root());

    QVERIFY(QDir(m_b->root()).rename(QStringLiteral("d/Y"), QStringLiteral("d/X")));
    QTRY_TREES_EQUAL(m_b->root(), m_a->root());
    QCOMPARE(treeState(m_a->root()), before);

    QVERIFY(QDir(m_a->root() + QStringLiteral("/d/X")).removeRecursively());
    QTRY_TREES_EQUAL(m_a->root(), m_b->root());
    QVERIFY(!exists(m_b->root(), QStringLiteral("d/X")));
    siblingsUnchanged(m_b->root());
    siblingsUnchanged(m_a->root());

    // The top-level pair, deleted from B.
    QVERIFY(QDir(m_b->root() + QStringLiteral("/X")).removeRecursively());
    QTRY_TREES_EQUAL(m_b->root(), m_a->root());
    QCOMPARE(readFile(m_a->root(), QStringLiteral("X.pm")), QByteArray("top X.pm"));
    expectNoConflicts();
}

QTEST_GUILESS_MAIN(tst_PathOrder)
#include "tst_pathorder.moc"
