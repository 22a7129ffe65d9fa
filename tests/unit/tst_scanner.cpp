#include "scanner.h"

#include "chunker.h"
#include "localfs.h"

#include <QDir>
#include <QFile>
#include <QSet>
#include <QTemporaryDir>
#include <QTest>

#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

using namespace filesync;
using namespace filesync::protocol;

namespace {
RelativePath P(const char *p)
{
    return *RelativePath::fromString(QString::fromUtf8(p));
}

void write(const QString &path, const QByteArray &data)
{
    QDir().mkpath(QFileInfo(path).absolutePath());
    QFile f(path);
    QVERIFY(f.open(QIODevice::WriteOnly));
    f.write(data);
}

// Sets a file's mtime into the past, out of the "racy" window.
void age(const QString &path)
{
    const timespec times[2] = { { 1000000000, 0 }, { 1000000000, 0 } };
    QCOMPARE(::utimensat(AT_FDCWD, QFile::encodeName(path).constData(), times, 0), 0);
}
} // namespace

class tst_Scanner : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void describesTheTree();
    void unchangedFilesAreNotRehashed();
    void skipsWhatCannotBeSynced();
    void missingRootIsFatal();
    void specialFilesWarnOnce();
    void cancelledScanSaysSo();
    void makeDirsNeverRecreatesTheRoot();
    void partialScan_data();
    void partialScan();
    void scopeBesideAFolderOfTheSameStem_data();
    void scopeBesideAFolderOfTheSameStem();
    void racyRule_data();
    void racyRule();
    void readStampDecidesRacy_data();
    void readStampDecidesRacy();
    void fileReadAfterItsWriteIsTrustedUntilItChanges_data();
    void fileReadAfterItsWriteIsTrustedUntilItChanges();
    void changedBigFileReusesUnchangedBlocks();
    void smallFilesAreCutAsTheChunkerCutsThem_data();
    void smallFilesAreCutAsTheChunkerCutsThem();
    void smallFileChangedBeforeItsReadIsNotDescribed_data();
    void smallFileChangedBeforeItsReadIsNotDescribed();
};

void tst_Scanner::describesTheTree()
{
    QTemporaryDir dir;
    write(dir.path() + QStringLiteral("/a/b.txt"), "bee");
    write(dir.path() + QStringLiteral("/empty.txt"), QByteArray());
    QDir().mkpath(dir.path() + QStringLiteral("/c/d"));
    QDir().mkpath(dir.path() + QStringLiteral("/.filesync/tmp"));
    write(dir.path() + QStringLiteral("/.filesync/journal.db"), "not synced");
    const auto result = Scanner::scan(dir.path(), {});
    QVERIFY(result.fatal.isEmpty());
    QCOMPARE(result.snapshot.keys(), (QList<RelativePath> { P("a"), P("a/b.txt"), P("c"), P("c/d"), P("empty.txt") }));
    QCOMPARE(result.snapshot.value(P("a/b.txt")).blocks, Chunker::chunkBytes("bee"));
    QVERIFY(result.snapshot.value(P("c/d")).isDir());
    QVERIFY(result.snapshot.value(P("empty.txt")).blocks.isEmpty());
}

void tst_Scanner::unchangedFilesAreNotRehashed()
{
    QTemporaryDir dir;
    const QString path = dir.path() + QStringLiteral("/f.bin");
    write(path, "content");
    age(path);
    const auto first = Scanner::scan(dir.path(), {});
    QCOMPARE(first.hashedFiles, 1);
    JournalState journal;
    const LocalEntry l = first.snapshot.value(P("f.bin"));
    journal.insert(P("f.bin"), journalEntryFor(l, 1));
    const auto second = Scanner::scan(dir.path(), journal);
    QCOMPARE(second.hashedFiles, 0);
    QCOMPARE(second.snapshot.value(P("f.bin")).blocks, l.blocks);

    // Same size, new content and a new mtime: hashed again.
    write(path, "CONTENT");
    const auto third = Scanner::scan(dir.path(), journal);
    QCOMPARE(third.hashedFiles, 1);
    QCOMPARE(third.snapshot.value(P("f.bin")).blocks, Chunker::chunkBytes("CONTENT"));

    // A recent mtime is never trusted, even when the stat matches the journal.
    journal.insert(P("f.bin"), journalEntryFor(third.snapshot.value(P("f.bin")), 2));
    QCOMPARE(Scanner::scan(dir.path(), journal).hashedFiles, 1);
}

void tst_Scanner::skipsWhatCannotBeSynced()
{
    QTemporaryDir dir;
    write(dir.path() + QStringLiteral("/ok.txt"), "ok");
    QVERIFY(QFile::link(dir.path() + QStringLiteral("/ok.txt"), dir.path() + QStringLiteral("/link")));
    write(dir.path() + QStringLiteral("/Cafe\u0301.txt"), "nfd"); // not NFC
    write(QFile::decodeName(QFile::encodeName(dir.path()) + "/bad\xff.txt"), "latin1");
    const auto result = Scanner::scan(dir.path(), {});
    QCOMPARE(result.snapshot.keys(), (QList<RelativePath> { P("ok.txt") }));
    QVERIFY(result.warnings.size() >= 3);
}

void tst_Scanner::missingRootIsFatal()
{
    QTemporaryDir dir;
    const auto result = Scanner::scan(dir.path() + QStringLiteral("/missing"), {});
    QVERIFY(!result.fatal.isEmpty());
    QVERIFY(result.snapshot.isEmpty());
}

void tst_Scanner::specialFilesWarnOnce()
{
    QTemporaryDir dir;
    write(dir.path() + QStringLiteral("/ok.txt"), "ok");
    for (const char *name : { "/fifo1", "/fifo2" })
        QCOMPARE(::mkfifo(QFile::encodeName(dir.path() + QLatin1String(name)).constData(), 0600), 0);
    QVERIFY(QFile::link(dir.path() + QStringLiteral("/ok.txt"), dir.path() + QStringLiteral("/link")));
    const auto result = Scanner::scan(dir.path(), {});
    QCOMPARE(result.snapshot.keys(), (QList<RelativePath> { P("ok.txt") }));
    QCOMPARE(result.warnings.size(), 1); // one line for all links and special files
}

void tst_Scanner::cancelledScanSaysSo()
{
    QTemporaryDir dir;
    for (int i = 0; i < 20; ++i)
        write(dir.path() + QStringLiteral("/d%1/f.txt").arg(i), "x");
    const std::atomic_bool cancel { true };
    const auto result = Scanner::scan(dir.path(), {}, &cancel);
    QVERIFY(result.cancelled);
    QVERIFY(result.snapshot.size() < 40);
}

void tst_Scanner::makeDirsNeverRecreatesTheRoot()
{
    QTemporaryDir dir;
    const QString root = dir.path() + QStringLiteral("/root");
    QVERIFY(QDir().mkdir(root));
    QVERIFY(localfs::makeDirs(root, P("a/b/c")));
    QVERIFY(QFileInfo(root + QStringLiteral("/a/b/c")).isDir());
    QVERIFY(localfs::makeDirs(root, RelativePath()));
    write(root + QStringLiteral("/file"), "f");
    QVERIFY(!localfs::makeDirs(root, P("file/sub"))); // a file is in the way

    // The root is gone (moved away, unmounted): nothing is created in its place.
    QVERIFY(QDir().rename(root, root + QStringLiteral(".moved")));
    QVERIFY(!localfs::makeDirs(root, P("a/x")));
    QVERIFY(!QFileInfo::exists(root));
}

namespace {
QStringList L(std::initializer_list<const char *> items)
{
    QStringList list;
    for (const char *i : items)
        list << QString::fromUtf8(i);
    return list;
}

QSet<RelativePath> paths(const QStringList &list)
{
    QSet<RelativePath> set;
    for (const QString &p : list)
        set.insert(*RelativePath::fromString(p));
    return set;
}

QStringList keys(const LocalSnapshot &snapshot)
{
    QStringList list;
    for (const RelativePath &p : snapshot.keys())
        list << p.toString();
    return list;
}

// Runs "rm:P", "rmtree:P", "mkdir:P", "write:P", "mv:FROM>TO" against a folder.
void apply(const QString &root, const QStringList &ops)
{
    for (const QString &op : ops) {
        const QString verb = op.section(u':', 0, 0), arg = op.section(u':', 1);
        const QString abs = root + u'/' + arg;
        if (verb == QLatin1String("rm"))
            QVERIFY(QFile::remove(abs));
        else if (verb == QLatin1String("rmtree"))
            QVERIFY(QDir(abs).removeRecursively());
        else if (verb == QLatin1String("mkdir"))
            QVERIFY(QDir().mkpath(abs));
        else if (verb == QLatin1String("write"))
            write(abs, arg.toUtf8());
        else if (verb == QLatin1String("mv"))
            QVERIFY(QDir().rename(root + u'/' + arg.section(u'>', 0, 0), root + u'/' + arg.section(u'>', 1)));
        else
            QFAIL(qPrintable(op));
    }
}
} // namespace

void tst_Scanner::partialScan_data()
{
    QTest::addColumn<QStringList>("ops");
    QTest::addColumn<QStringList>("dirs");
    QTest::addColumn<QStringList>("trees");
    QTest::addColumn<QStringList>("expected"); // the snapshot's paths
    // Before each row: a/x a/y b/z b/sub/w c/q, all in the journal.
    const QStringList all = L({ "a", "a/x", "a/y", "b", "b/sub", "b/sub/w", "b/z", "c", "c/q" });
    QTest::newRow("nothing in scope: the journal's view") << L({ "rm:a/x" }) << L({}) << L({}) << all;
    QTest::newRow("a delete out of scope is unchanged") << L({ "rm:b/z" }) << L({ "a" }) << L({}) << all;
    QTest::newRow("a delete in scope is gone")
        << L({ "rm:a/x" }) << L({ "a" }) << L({}) << L({ "a", "a/y", "b", "b/sub", "b/sub/w", "b/z", "c", "c/q" });
    QTest::newRow("a subfolder of a listed folder keeps the journal's view")
        << L({ "rm:b/sub/w" }) << L({ "b" }) << L({}) << all;
    QTest::newRow("a vanished folder takes its journal subtree with it")
        << L({ "rmtree:b" }) << L({ "b" }) << L({}) << L({ "a", "a/x", "a/y", "c", "c/q" });
    QTest::newRow("a vanished folder seen from its parent")
        << L({ "rmtree:b" }) << L({ "" }) << L({}) << L({ "a", "a/x", "a/y", "c", "c/q" });
    QTest::newRow("a new folder is walked whole")
        << L({ "mkdir:n/m", "write:n/m/f", "write:n/g" }) << L({ "" }) << L({})
        << L({ "a", "a/x", "a/y", "b", "b/sub", "b/sub/w", "b/z", "c", "c/q", "n", "n/g", "n/m", "n/m/f" });
    QTest::newRow("a folder reported inside a new one is looked at from above")
        << L({ "mkdir:n/m", "write:n/m/f" }) << L({ "n/m" }) << L({})
        << L({ "a", "a/x", "a/y", "b", "b/sub", "b/sub/w", "b/z", "c", "c/q", "n", "n/m", "n/m/f" });
    QTest::newRow("a re-created folder in trees is walked whole") << L(
        { "rmtree:b", "mkdir:b/new" }) << L({ "" }) << L({ "b" }) << L({ "a", "a/x", "a/y", "b", "b/new", "c", "c/q" });
    QTest::newRow("a move between two listed folders shows both ends")
        << L({ "mv:a/x>c/x" }) << L({ "a", "c" }) << L({})
        << L({ "a", "a/y", "b", "b/sub", "b/sub/w", "b/z", "c", "c/q", "c/x" });
    QTest::newRow("the root and a folder in it, both listed")
        << L({ "rm:a/x", "write:top", "rm:c/q" }) << L({ "", "a" }) << L({})
        << L({ "a", "a/y", "b", "b/sub", "b/sub/w", "b/z", "c", "c/q", "top" });
    QTest::newRow("a file that replaced a folder")
        << L({ "rmtree:b", "write:b" }) << L({ "" }) << L({}) << L({ "a", "a/x", "a/y", "b", "c", "c/q" });
}

void tst_Scanner::partialScan()
{
    QFETCH(QStringList, ops);
    QFETCH(QStringList, dirs);
    QFETCH(QStringList, trees);
    QFETCH(QStringList, expected);
    QTemporaryDir dir;
    for (const char *f : { "a/x", "a/y", "b/z", "b/sub/w", "c/q" }) {
        write(dir.path() + u'/' + QLatin1String(f), f);
        age(dir.path() + u'/' + QLatin1String(f));
    }
    const auto before = Scanner::scan(dir.path(), {});
    JournalState journal;
    for (auto it = before.snapshot.cbegin(); it != before.snapshot.cend(); ++it)
        journal.insert(it.key(), journalEntryFor(*it, 1));
    apply(dir.path(), ops);
    if (QTest::currentTestFailed())
        return;

    const auto part = Scanner::scan(dir.path(), journal, ScanScope { false, paths(dirs), paths(trees) });
    QVERIFY(part.fatal.isEmpty());
    QVERIFY(part.partial);
    // What the reconciler is told is the disk (snapshot) and the journal in the scope;
    // out of it the journal stands for the disk. That view must be the expected tree.
    LocalSnapshot view = part.snapshot;
    for (auto it = journal.cbegin(); it != journal.cend(); ++it) {
        if (!part.scopedJournal.contains(it.key())) {
            QVERIFY2(!part.snapshot.contains(it.key()), qPrintable(it.key().toString()));
            LocalEntry e;
            e.kind = it->kind;
            e.blocks = it->blocks;
            e.inode = it->inode;
            view.insert(it.key(), e);
        }
    }
    for (auto it = part.snapshot.cbegin(); it != part.snapshot.cend(); ++it) {
        if (journal.contains(it.key())) // on disk, in scope, known: the journal's side is given too
            QVERIFY2(part.scopedJournal.contains(it.key()), qPrintable(it.key().toString()));
    }
    QCOMPARE(keys(view), expected);
    QVERIFY(part.visited < before.visited || dirs.contains(QString()));
    // Out of scope: exactly the journal's view. In scope: what the disk holds.
    for (auto it = view.cbegin(); it != view.cend(); ++it) {
        const auto known = journal.constFind(it.key());
        if (known != journal.cend() && known->kind == it->kind)
            QCOMPARE(it->blocks, known->blocks);
    }
    if (ops.contains(QStringLiteral("mv:a/x>c/x"))) {
        QCOMPARE(part.snapshot.value(P("c/x")).inode, journal.value(P("a/x")).inode);
        QVERIFY(part.scopedJournal.contains(P("a/x"))); // both ends in scope: a move
    }
    // A full scan sees what the partial one was not asked to look at.
    const LocalSnapshot full = Scanner::scan(dir.path(), journal).snapshot;
    for (const QString &op : ops) {
        if (op.startsWith(QLatin1String("rm:")))
            QVERIFY(!full.contains(P(op.mid(3).toUtf8().constData())));
    }
}

// The siblings "X.pm", "X-1", "X 2" of a folder "X" sort right after the folder's
// content in path order; a listing of their parent skips the folder's content, never them.
void tst_Scanner::scopeBesideAFolderOfTheSameStem_data()
{
    QTest::addColumn<QStringList>("dirs");
    QTest::addColumn<QStringList>("trees");
    QTest::addColumn<QStringList>("expected"); // the scoped journal's paths
    QTest::newRow("listing d") << L({ "d" }) << L({})
                               << L({ "d", "d/X", "d/X 2", "d/X+c", "d/X-1", "d/X.pm", "d/X0", "d/Xa" });
    QTest::newRow("listing the root") << L({ "" }) << L({}) << L({ "X", "X.pm", "d" });
    QTest::newRow("listing d/X") << L({ "d/X" }) << L({}) << L({ "d/X", "d/X/in", "d/X/sub" });
    QTest::newRow("walking d/X") << L({}) << L({ "d/X" }) << L({ "d/X", "d/X/in", "d/X/sub", "d/X/sub/deep" });
    QTest::newRow("walking X") << L({}) << L({ "X" }) << L({ "X", "X/in" });
    QTest::newRow("walking d/X 2") << L({}) << L({ "d/X 2" }) << L({ "d/X 2", "d/X 2/in" });
}

void tst_Scanner::scopeBesideAFolderOfTheSameStem()
{
    QFETCH(QStringList, dirs);
    QFETCH(QStringList, trees);
    QFETCH(QStringList, expected);
    QTemporaryDir dir;
    for (const char *f :
        { "d/X/in", "d/X/sub/deep", "d/X.pm", "d/X-1", "d/X 2/in", "d/X+c", "d/X0", "d/Xa", "X/in", "X.pm" }) {
        write(dir.path() + u'/' + QString::fromUtf8(f), f);
        age(dir.path() + u'/' + QString::fromUtf8(f));
    }
    const auto before = Scanner::scan(dir.path(), {});
    JournalState journal;
    for (auto it = before.snapshot.cbegin(); it != before.snapshot.cend(); ++it)
        journal.insert(it.key(), journalEntryFor(*it, 1));
    const auto part = Scanner::scan(dir.path(), journal, ScanScope { false, paths(dirs), paths(trees) });
    QVERIFY(part.partial);
    QStringList scoped;
    for (const RelativePath &p : part.scopedJournal.keys())
        scoped << p.toString();
    QCOMPARE(scoped, expected);
    QCOMPARE(keys(part.snapshot), expected); // nothing changed on disk: the same paths
}

void tst_Scanner::racyRule_data()
{
    QTest::addColumn<bool>("installed"); // mtime set explicitly (as a download does), so mtime != ctime
    QTest::addColumn<QString>("afterwards"); // what happens after the journal recorded the stat
    QTest::addColumn<int>("hashed");
    QTest::newRow("a plain write within the window is hashed again") << false << QString() << 1;
    QTest::newRow("an installed file is trusted") << true << QString() << 0;
    QTest::newRow("an installed file rewritten and its mtime put back is hashed")
        << true << QStringLiteral("rewrite") << 1;
    QTest::newRow("an installed file only touched is hashed") << true << QStringLiteral("touch") << 1;
}

void tst_Scanner::racyRule()
{
    QFETCH(bool, installed);
    QFETCH(QString, afterwards);
    QFETCH(int, hashed);
    QTemporaryDir dir;
    const QString path = dir.path() + QStringLiteral("/f.bin");
    const QByteArray abs = QFile::encodeName(path);
    write(path, "content");
    // A recent mtime, one second old: inside the racy window.
    timespec now;
    ::clock_gettime(CLOCK_REALTIME, &now);
    const timespec recent[2] = { { now.tv_sec - 1, 0 }, { now.tv_sec - 1, 0 } };
    if (installed)
        QCOMPARE(::utimensat(AT_FDCWD, abs.constData(), recent, 0), 0);
    const auto landed = Scanner::stat(path);
    QVERIFY(landed);
    QCOMPARE(landed->mtimeNs != landed->ctimeNs, installed);
    LocalEntry recorded = *landed;
    recorded.blocks = Chunker::chunkBytes("content");
    JournalState journal;
    journal.insert(P("f.bin"), journalEntryFor(recorded, 1));
    if (afterwards == QLatin1String("rewrite")) {
        write(path, "CONTENT"); // same size
        QCOMPARE(::utimensat(AT_FDCWD, abs.constData(), recent, 0), 0);
        QCOMPARE(Scanner::stat(path)->mtimeNs, recorded.mtimeNs); // size and mtime as recorded
    } else if (afterwards == QLatin1String("touch")) {
        QCOMPARE(::utimensat(AT_FDCWD, abs.constData(), recent, 0), 0);
    }
    const auto result = Scanner::scan(dir.path(), journal);
    QCOMPARE(result.hashedFiles, hashed);
    if (afterwards == QLatin1String("rewrite"))
        QCOMPARE(result.snapshot.value(P("f.bin")).blocks, Chunker::chunkBytes("CONTENT"));
}

// git's racy rule against the recorded read: a matching stat (same ctime) within the 3 s
// window is trusted only when the read it was recorded from started clearly after the
// file's last change (JournalEntry::statProvenByRead); otherwise it is hashed again.
void tst_Scanner::readStampDecidesRacy_data()
{
    QTest::addColumn<qint64>("readAfterCtimeNs"); // scanner's clock reading - ctime; -1: unknown (schema 3 rows)
    QTest::addColumn<bool>("chmodSince"); // ctime moved since the record, size, mtime and inode did not
    QTest::addColumn<int>("hashed");
    QTest::newRow("unknown: the 3 s rule") << qint64(-1) << false << 1;
    QTest::newRow("read in the same tick") << qint64(1) << false << 1;
    QTest::newRow("read within the margin") << JournalEntry::kReadMarginNs / 2 << false << 1;
    QTest::newRow("read at the margin") << JournalEntry::kReadMarginNs << false << 1;
    QTest::newRow("read well after the write") << JournalEntry::kReadMarginNs * 2 << false << 0;
    QTest::newRow("read well after, ctime moved since") << JournalEntry::kReadMarginNs * 2 << true << 1;
}

void tst_Scanner::readStampDecidesRacy()
{
    QFETCH(qint64, readAfterCtimeNs);
    QFETCH(bool, chmodSince);
    QFETCH(int, hashed);
    QTemporaryDir dir;
    const QString path = dir.path() + QStringLiteral("/f.bin");
    write(path, "content"); // a plain write, now: inside the 3 s window, mtime == ctime
    const auto landed = Scanner::stat(path);
    QVERIFY(landed);
    QCOMPARE(landed->mtimeNs, landed->ctimeNs);
    QVERIFY(landed->ctimeNs % 1'000'000'000 != 0); // this file system stamps sub-second times
    LocalEntry recorded = *landed;
    recorded.blocks = Chunker::chunkBytes("content");
    recorded.readAfterCtime
        = readAfterCtimeNs >= 0 && JournalEntry::readClearlyAfter(landed->ctimeNs, landed->ctimeNs + readAfterCtimeNs);
    QCOMPARE(recorded.readAfterCtime, hashed == 0 || chmodSince);
    JournalState journal;
    journal.insert(P("f.bin"), journalEntryFor(recorded, 1));
    QCOMPARE(journal.value(P("f.bin")).readAfterCtime, recorded.readAfterCtime);
    if (chmodSince) {
        // File times come from a coarse clock: changed until ctime shows it (bounded).
        for (int tries = 0; Scanner::stat(path)->ctimeNs == landed->ctimeNs; ++tries) {
            QVERIFY(tries < 1'000'000);
            QVERIFY(QFile::setPermissions(path, tries % 2 ? QFile::ReadOwner | QFile::WriteOwner : QFile::ReadOwner));
        }
        QVERIFY(QFile::setPermissions(path, QFile::ReadOwner | QFile::WriteOwner));
        QCOMPARE(Scanner::stat(path)->mtimeNs, landed->mtimeNs);
    }
    const auto result = Scanner::scan(dir.path(), journal);
    QCOMPARE(result.hashedFiles, hashed);
    const LocalEntry seen = result.snapshot.value(P("f.bin"));
    QCOMPARE(seen.blocks, Chunker::chunkBytes("content"));
    if (hashed == 0)
        QVERIFY(seen.readAfterCtime); // still the blocks read then, for the same ctime
}

namespace {
qint64 realtimeNs()
{
    timespec ts;
    ::clock_gettime(CLOCK_REALTIME, &ts);
    return qint64(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}
} // namespace

// The whole way: a scan reads a file clearly after its write and stamps it; the next
// scan (inside the 3 s window) trusts it without hashing; a same-size rewrite with the
// mtime put back (only ctime tells) is hashed and seen. Small files take the one-read
// path, bigger ones the chunker's: both stamp.
void tst_Scanner::fileReadAfterItsWriteIsTrustedUntilItChanges_data()
{
    QTest::addColumn<int>("size");
    QTest::newRow("small, read whole") << 100;
    QTest::newRow("chunked") << 200 * 1024;
}

void tst_Scanner::fileReadAfterItsWriteIsTrustedUntilItChanges()
{
    QFETCH(int, size);
    QTemporaryDir dir;
    const QString path = dir.path() + QStringLiteral("/f.bin");
    const QByteArray abs = QFile::encodeName(path);
    const QByteArray first(size, 'a');
    write(path, first);
    const qint64 ctime = Scanner::stat(path)->ctimeNs;
    // Bounded wait for the clock to pass the margin (no hashing is timed here).
    for (int tries = 0; realtimeNs() <= ctime + 2 * JournalEntry::kReadMarginNs; ++tries) {
        QVERIFY(tries < 10'000);
        QTest::qWait(10);
    }
    const auto firstScan = Scanner::scan(dir.path(), {});
    QCOMPARE(firstScan.hashedFiles, 1);
    const LocalEntry read = firstScan.snapshot.value(P("f.bin"));
    QVERIFY(!read.unreadable);
    QVERIFY(read.readAfterCtime);
    JournalState journal;
    journal.insert(P("f.bin"), journalEntryFor(read, 1));
    QVERIFY(realtimeNs() - read.mtimeNs < Scanner::kRacyWindowNs); // still racy by the 3 s rule
    const auto trusted = Scanner::scan(dir.path(), journal);
    QCOMPARE(trusted.hashedFiles, 0);
    QCOMPARE(trusted.snapshot.value(P("f.bin")).blocks, read.blocks);

    // Rewritten in place with the same size and the old mtime put back: only ctime tells.
    // File times come from a coarse clock: rewritten until ctime moves (bounded).
    QByteArray second = first;
    second[size / 2] = 'b';
    for (int tries = 0;; ++tries) {
        QVERIFY(tries < 1'000'000);
        const int fd = ::open(abs.constData(), O_WRONLY);
        QVERIFY(fd >= 0);
        QCOMPARE(::write(fd, second.constData(), size_t(second.size())), ssize_t(second.size()));
        ::close(fd);
        const timespec times[2] = { { read.mtimeNs / 1'000'000'000, long(read.mtimeNs % 1'000'000'000) },
            { read.mtimeNs / 1'000'000'000, long(read.mtimeNs % 1'000'000'000) } };
        QCOMPARE(::utimensat(AT_FDCWD, abs.constData(), times, 0), 0);
        if (Scanner::stat(path)->ctimeNs != read.ctimeNs)
            break;
    }
    const auto now = Scanner::stat(path);
    QCOMPARE(now->size, read.size);
    QCOMPARE(now->mtimeNs, read.mtimeNs);
    QCOMPARE(now->inode, read.inode);
    const auto changed = Scanner::scan(dir.path(), journal);
    QCOMPARE(changed.hashedFiles, 1);
    QCOMPARE(changed.snapshot.value(P("f.bin")).blocks, *Chunker::chunkFile(path));
    QVERIFY(changed.snapshot.value(P("f.bin")).blocks != read.blocks);
}

// A big file's scan records its blocks' checks; after an overwrite in the middle the next
// scan keeps the unchanged blocks by their checks (hashing only the changed region) and
// still describes exactly what a full re-chunk would, and the checks are carried on
// when the stat matches.
void tst_Scanner::changedBigFileReusesUnchangedBlocks()
{
    QTemporaryDir dir;
    const QString path = dir.path() + QStringLiteral("/big.bin");
    QByteArray data(6 * 1024 * 1024, Qt::Uninitialized);
    quint64 x = 12345;
    for (char &c : data) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        c = char(x >> 56);
    }
    write(path, data);
    age(path);
    const auto first = Scanner::scan(dir.path(), {});
    const LocalEntry seen = first.snapshot.value(P("big.bin"));
    QCOMPARE(seen.blocks, Chunker::chunkBytes(data));
    QVERIFY(!seen.blockChecks.isEmpty());
    JournalState journal;
    journal.insert(P("big.bin"), journalEntryFor(seen, 1));

    const auto same = Scanner::scan(dir.path(), journal);
    QCOMPARE(same.hashedFiles, 0);
    QCOMPARE(same.snapshot.value(P("big.bin")).blockChecks, seen.blockChecks);

    QByteArray edited = data;
    for (int i = 0; i < 256 * 1024; ++i)
        edited[3 * 1024 * 1024 + i] = char(~edited[3 * 1024 * 1024 + i]);
    write(path, edited);
    const auto second = Scanner::scan(dir.path(), journal);
    QCOMPARE(second.hashedFiles, 1);
    const LocalEntry now = second.snapshot.value(P("big.bin"));
    QCOMPARE(now.blocks, Chunker::chunkBytes(edited));
    QVERIFY(now.blockChecks != seen.blockChecks);
    QVERIFY2(second.reusedBytes > data.size() - 1024 * 1024, qPrintable(QString::number(second.reusedBytes)));
    QCOMPARE(second.hashedBytes + second.reusedBytes, edited.size());
}

namespace {
QByteArray pseudoRandom(qsizetype size, quint64 seed)
{
    QByteArray data(size, Qt::Uninitialized);
    for (char &c : data) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        c = char(seed >> 56);
    }
    return data;
}

// Unsets the scanner's test hook however the test ends.
struct SmallReadHook
{
    explicit SmallReadHook(std::function<void(const QString &)> hook)
    {
        Scanner::setBeforeSmallReadForTests(std::move(hook));
    }
    ~SmallReadHook() { Scanner::setBeforeSmallReadForTests({}); }
};
} // namespace

// Files up to the chunker's minimum block are read whole and hashed by the scanner
// itself: the blocks must be the chunker's, on both sides of that size.
void tst_Scanner::smallFilesAreCutAsTheChunkerCutsThem_data()
{
    const qint64 min = Chunker::paramsFor(1).minSize;
    QTest::addColumn<qint64>("size");
    QTest::newRow("1 byte") << qint64(1);
    QTest::newRow("W2's smallest") << qint64(1024);
    QTest::newRow("min - 1") << min - 1;
    QTest::newRow("min") << min;
    QTest::newRow("min + 1 (the chunker's)") << min + 1;
    QTest::newRow("3 min + 5 (the chunker's)") << 3 * min + 5;
}

void tst_Scanner::smallFilesAreCutAsTheChunkerCutsThem()
{
    QFETCH(qint64, size);
    QTemporaryDir dir;
    const QString path = dir.path() + QStringLiteral("/d/f.bin");
    const QByteArray data = pseudoRandom(size, quint64(size));
    write(path, data);
    write(dir.path() + QStringLiteral("/d/g.bin"), "other");
    QStringList readWhole;
    SmallReadHook hook([&](const QString &at) { readWhole << QFileInfo(at).fileName(); });
    const auto result = Scanner::scan(dir.path(), {});
    QVERIFY(result.fatal.isEmpty());
    readWhole.sort();
    const qint64 min = Chunker::paramsFor(size).minSize;
    const QStringList expected = size <= min ? QStringList { QStringLiteral("f.bin"), QStringLiteral("g.bin") }
                                             : QStringList { QStringLiteral("g.bin") };
    QCOMPARE(readWhole, expected);
    const LocalEntry seen = result.snapshot.value(P("d/f.bin"));
    QVERIFY(!seen.unreadable);
    QCOMPARE(seen.size, size);
    QCOMPARE(seen.blocks, Chunker::chunkBytes(data));
    QCOMPARE(seen.blocks.first().hash, ContentHash::of(data.left(seen.blocks.first().size)));
    QVERIFY(seen.blockChecks.isEmpty()); // under Chunker::kChecksFromBlocks blocks
    QCOMPARE(result.snapshot.value(P("d/g.bin")).blocks, Chunker::chunkBytes("other"));
    QCOMPARE(result.hashedFiles, 2);
    QCOMPARE(result.hashedBytes, size + 5);
    QVERIFY(result.warnings.isEmpty());
}

// A small file written between its stat and its read: what was read is not described
// under the stat taken before it (the entry is left alone this cycle), and the next scan
// describes the new bytes.
void tst_Scanner::smallFileChangedBeforeItsReadIsNotDescribed_data()
{
    QTest::addColumn<QByteArray>("rewrite");
    QTest::newRow("same size") << QByteArray("BBBB");
    QTest::newRow("grown") << QByteArray("BBBBBBBB");
    QTest::newRow("shrunk") << QByteArray("B");
}

void tst_Scanner::smallFileChangedBeforeItsReadIsNotDescribed()
{
    QFETCH(QByteArray, rewrite);
    QTemporaryDir dir;
    const QString path = dir.path() + QStringLiteral("/f.txt");
    write(path, "AAAA");
    age(path);
    int calls = 0;
    {
        SmallReadHook hook([&](const QString &at) {
            ++calls;
            QCOMPARE(at, path);
            // Written in place (same inode), with the old mtime put back: only ctime
            // (and for a new size, the size) still tells. File times come from a coarse
            // clock: rewritten until ctime shows it (bounded).
            const QByteArray name = QFile::encodeName(at);
            struct stat before, after;
            QCOMPARE(::stat(name.constData(), &before), 0);
            for (int tries = 0;; ++tries) {
                QVERIFY(tries < 1'000'000);
                const int fd = ::open(name.constData(), O_WRONLY | O_TRUNC);
                QVERIFY(fd >= 0);
                QCOMPARE(::write(fd, rewrite.constData(), size_t(rewrite.size())), ssize_t(rewrite.size()));
                ::close(fd);
                age(at);
                QCOMPARE(::stat(name.constData(), &after), 0);
                if (after.st_ctim.tv_sec != before.st_ctim.tv_sec || after.st_ctim.tv_nsec != before.st_ctim.tv_nsec)
                    break;
            }
        });
        const auto result = Scanner::scan(dir.path(), {});
        QCOMPARE(calls, 1);
        const LocalEntry seen = result.snapshot.value(P("f.txt"));
        QVERIFY(seen.unreadable);
        QVERIFY(seen.blocks.isEmpty());
        QVERIFY(!seen.readAfterCtime); // nothing read that a journal could trust later
    }
    const auto again = Scanner::scan(dir.path(), {});
    const LocalEntry now = again.snapshot.value(P("f.txt"));
    QVERIFY(!now.unreadable);
    QCOMPARE(now.size, rewrite.size());
    QCOMPARE(now.blocks, Chunker::chunkBytes(rewrite));
}

QTEST_GUILESS_MAIN(tst_Scanner)
#include "tst_scanner.moc"
