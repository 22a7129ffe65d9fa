// LocalBlockCopier: blocks already in a local file copied into temp files, unread while
// the file's recorded stat proves it unchanged, read and re-hashed otherwise; a block
// whose source cannot vouch for it is reported not written. Real files, no server.
#include "chunker.h"
#include "enginepools.h"
#include "journal.h"
#include "localblockcopier.h"
#include "localfs.h"

#include <QDir>
#include <QFile>
#include <QRandomGenerator>
#include <QTemporaryDir>
#include <QTest>

#include <atomic>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

using namespace filesync;
using namespace filesync::protocol;

namespace {
constexpr qint64 kBlock = 4096;
constexpr int kBlocks = Chunker::kChecksFromBlocks; // enough for the entry to carry checks

QByteArray randomBytes(qint64 size)
{
    QByteArray data(size, Qt::Uninitialized);
    QRandomGenerator::global()->fillRange(reinterpret_cast<quint32 *>(data.data()), size / 4);
    return data;
}

bool writeFile(const QString &path, const QByteArray &data)
{
    QFile f(path);
    return f.open(QIODevice::WriteOnly | QIODevice::Truncate) && f.write(data) == data.size();
}

QByteArray readFile(const QString &path)
{
    QFile f(path);
    return f.open(QIODevice::ReadOnly) ? f.readAll() : QByteArray();
}

// Counts the unread (stat-proven) copies, running `also` in each, while it lives.
struct ProvenCopies
{
    std::atomic_int count { 0 };
    explicit ProvenCopies(std::function<void(const QString &source)> also = {})
    {
        LocalBlockCopier::setDuringProvenCopyForTests([this, also](const QString &source) {
            ++count;
            if (also)
                also(source);
        });
    }
    ~ProvenCopies() { LocalBlockCopier::setDuringProvenCopyForTests({}); }
    Q_DISABLE_COPY_MOVE(ProvenCopies)
};
} // namespace

class tst_LocalBlockCopier : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void init();
    void cleanup();
    void aProvenSourceIsCopiedUnread();
    void anUnprovenSourceIsReadAndVerified();
    void aSourceChangedDuringTheCopyClaimsNothing();
    void aGoneSourceOrTempFileCopiesNothing();
    void aCancelledCopyClaimsNothing();
    void anInstalledFileIsASourceToo();

private:
    // Writes `src.bin` (kBlocks random blocks); with `proven`, its mtime is set apart from
    // its ctime, as a download leaves it, so that its recorded stat proves it unchanged.
    void makeSource(bool proven);
    JournalState journal() const;
    QSet<ContentHash> wanted() const;
    QString tempPath(const QString &name) const { return Journal::tempDir(m_dir->path()) + u'/' + name; }
    QString makeTemp(const QString &name);
    // Every block of the source to its own offset in `temp`.
    QList<QPair<BlockRef, QList<LocalBlockCopier::Target>>> wholeFileTo(const QString &temp) const;
    QSet<ContentHash> copy(const LocalBlockCopier &copier,
        const QList<QPair<BlockRef, QList<LocalBlockCopier::Target>>> &blocks, bool cancelled = false);

    std::unique_ptr<QTemporaryDir> m_dir;
    std::unique_ptr<EnginePools> m_pools;
    QByteArray m_data;
    QList<BlockRef> m_blocks;
    std::vector<quint64> m_checks;
    JournalEntry m_recorded;
};

void tst_LocalBlockCopier::init()
{
    m_dir = std::make_unique<QTemporaryDir>();
    QVERIFY(m_dir->isValid());
    QVERIFY(QDir().mkpath(Journal::tempDir(m_dir->path())));
    m_pools = std::make_unique<EnginePools>();
}

void tst_LocalBlockCopier::cleanup()
{
    m_pools.reset();
    m_dir.reset();
}

void tst_LocalBlockCopier::makeSource(bool proven)
{
    m_data = randomBytes(kBlock * kBlocks);
    m_blocks.clear();
    m_checks.clear();
    for (int i = 0; i < kBlocks; ++i) {
        const QByteArray block = m_data.mid(i * kBlock, kBlock);
        m_blocks.append({ ContentHash::of(block), quint32(kBlock) });
        m_checks.push_back(Chunker::checkOf(block));
    }
    const QString path = m_dir->path() + QStringLiteral("/src.bin");
    QVERIFY(writeFile(path, m_data));
    if (proven) {
        const timespec times[2] = { { 1'600'000'000, 0 }, { 1'600'000'000, 0 } };
        QCOMPARE(::utimensat(AT_FDCWD, QFile::encodeName(path).constData(), times, 0), 0);
    }
    std::optional<LocalEntry> stat = localfs::Location::at(m_dir->path(), QStringLiteral("src.bin")).stat();
    QVERIFY(stat);
    stat->blocks = m_blocks;
    stat->blockChecks = Chunker::checksFor(m_blocks, m_checks);
    QVERIFY(!stat->blockChecks.isEmpty());
    m_recorded = journalEntryFor(*stat, 1);
    QCOMPARE(m_recorded.statProvesUnchanged(*stat), proven);
}

JournalState tst_LocalBlockCopier::journal() const
{
    JournalState state;
    state.insert(*RelativePath::fromString(QStringLiteral("src.bin")), m_recorded);
    return state;
}

QSet<ContentHash> tst_LocalBlockCopier::wanted() const
{
    QSet<ContentHash> hashes;
    for (const BlockRef &b : m_blocks)
        hashes.insert(b.hash);
    return hashes;
}

QString tst_LocalBlockCopier::makeTemp(const QString &name)
{
    const QString path = tempPath(name);
    writeFile(path, {});
    return path;
}

QList<QPair<BlockRef, QList<LocalBlockCopier::Target>>> tst_LocalBlockCopier::wholeFileTo(const QString &temp) const
{
    QList<QPair<BlockRef, QList<LocalBlockCopier::Target>>> blocks;
    for (int i = 0; i < m_blocks.size(); ++i)
        blocks.append({ m_blocks.at(i), { { temp, i * kBlock } } });
    return blocks;
}

QSet<ContentHash> tst_LocalBlockCopier::copy(const LocalBlockCopier &copier,
    const QList<QPair<BlockRef, QList<LocalBlockCopier::Target>>> &blocks, bool cancelled)
{
    return copier.start(blocks, std::make_shared<std::atomic_bool>(cancelled)).result();
}

void tst_LocalBlockCopier::aProvenSourceIsCopiedUnread()
{
    makeSource(true);
    LocalBlockCopier copier(m_dir->path(), *m_pools);
    copier.index(journal(), wanted());
    for (int i = 0; i < kBlocks; ++i) {
        QVERIFY(copier.has(m_blocks.at(i).hash));
        QCOMPARE(copier.checkOf(m_blocks.at(i).hash), std::optional<quint64>(m_checks[size_t(i)]));
    }
    const QString whole = makeTemp(QStringLiteral("whole"));
    const QString part = makeTemp(QStringLiteral("part"));
    auto blocks = wholeFileTo(whole);
    blocks[3].second.append({ part, 0 }); // one block into two files
    ProvenCopies proven;
    QCOMPARE(copy(copier, blocks), wanted());
    QCOMPARE(proven.count.load(), 1); // one source, stat-proven once
    QCOMPARE(readFile(whole), m_data);
    QCOMPARE(readFile(part), m_data.mid(3 * kBlock, kBlock));
}

void tst_LocalBlockCopier::anUnprovenSourceIsReadAndVerified()
{
    makeSource(false);
    // One block rewritten in place since it was recorded: only its bytes are refused.
    const QByteArray other = randomBytes(kBlock);
    QFile src(m_dir->path() + QStringLiteral("/src.bin"));
    QVERIFY(src.open(QIODevice::ReadWrite));
    QVERIFY(src.seek(5 * kBlock));
    QCOMPARE(src.write(other), kBlock);
    src.close();
    LocalBlockCopier copier(m_dir->path(), *m_pools);
    copier.index(journal(), wanted());
    const QString temp = makeTemp(QStringLiteral("t"));
    ProvenCopies proven;
    QSet<ContentHash> expected = wanted();
    expected.remove(m_blocks.at(5).hash);
    QCOMPARE(copy(copier, wholeFileTo(temp)), expected);
    QCOMPARE(proven.count.load(), 0);
    const QByteArray written = readFile(temp);
    QCOMPARE(written.mid(0, 5 * kBlock), m_data.mid(0, 5 * kBlock));
    QCOMPARE(written.mid(6 * kBlock), m_data.mid(6 * kBlock));
    QVERIFY(written.mid(5 * kBlock, kBlock) != other); // never the changed bytes
}

void tst_LocalBlockCopier::aSourceChangedDuringTheCopyClaimsNothing()
{
    makeSource(true);
    LocalBlockCopier copier(m_dir->path(), *m_pools);
    copier.index(journal(), wanted());
    const QString temp = makeTemp(QStringLiteral("t"));
    ProvenCopies proven([](const QString &source) {
        QFile f(source);
        if (f.open(QIODevice::ReadWrite) && f.seek(kBlock))
            f.write("changed under the copy");
    });
    QCOMPARE(copy(copier, wholeFileTo(temp)), QSet<ContentHash>());
    QCOMPARE(proven.count.load(), 1);
}

void tst_LocalBlockCopier::aGoneSourceOrTempFileCopiesNothing()
{
    makeSource(true);
    LocalBlockCopier copier(m_dir->path(), *m_pools);
    copier.index(journal(), wanted());
    // The temp file was removed (an aborted download): not made again.
    QCOMPARE(copy(copier, wholeFileTo(tempPath(QStringLiteral("gone")))), QSet<ContentHash>());
    QVERIFY(!QFile::exists(tempPath(QStringLiteral("gone"))));
    // The source is gone: the server has its blocks.
    QVERIFY(QFile::remove(m_dir->path() + QStringLiteral("/src.bin")));
    const QString temp = makeTemp(QStringLiteral("t"));
    QCOMPARE(copy(copier, wholeFileTo(temp)), QSet<ContentHash>());
    QCOMPARE(readFile(temp), QByteArray());
}

void tst_LocalBlockCopier::aCancelledCopyClaimsNothing()
{
    makeSource(false);
    LocalBlockCopier copier(m_dir->path(), *m_pools);
    copier.index(journal(), wanted());
    const QString temp = makeTemp(QStringLiteral("t"));
    QCOMPARE(copy(copier, wholeFileTo(temp), true), QSet<ContentHash>());
    QCOMPARE(readFile(temp), QByteArray());
}

void tst_LocalBlockCopier::anInstalledFileIsASourceToo()
{
    makeSource(true);
    LocalBlockCopier copier(m_dir->path(), *m_pools);
    copier.index(JournalState(), wanted()); // nothing in the journal holds them
    QVERIFY(!copier.has(m_blocks.at(0).hash));
    // Installed by this run: its stat right after the rename is its record (no checks).
    QVERIFY(QFile::rename(m_dir->path() + QStringLiteral("/src.bin"), m_dir->path() + QStringLiteral("/new.bin")));
    const auto stat = localfs::Location::at(m_dir->path(), QStringLiteral("new.bin")).stat();
    QVERIFY(stat);
    copier.add(*RelativePath::fromString(QStringLiteral("new.bin")), m_blocks,
        std::make_shared<const JournalEntry>(journalEntryFor(*stat, 2)));
    QVERIFY(copier.has(m_blocks.at(0).hash));
    QCOMPARE(copier.checkOf(m_blocks.at(0).hash), std::nullopt);
    const QString temp = makeTemp(QStringLiteral("t"));
    ProvenCopies proven;
    QCOMPARE(copy(copier, wholeFileTo(temp)), wanted());
    QCOMPARE(proven.count.load(), 1);
    QCOMPARE(readFile(temp), m_data);
}

QTEST_GUILESS_MAIN(tst_LocalBlockCopier)
#include "tst_localblockcopier.moc"
