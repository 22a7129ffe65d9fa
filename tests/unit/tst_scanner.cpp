#include "scanner.h"

#include "chunker.h"
#include "localfs.h"

#include <QDir>
#include <QFile>
#include <QTemporaryDir>
#include <QTest>

#include <fcntl.h>
#include <sys/stat.h>
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

QTEST_GUILESS_MAIN(tst_Scanner)
#include "tst_scanner.moc"
