#include "chunker.h"

#include <QBuffer>
#include <QRandomGenerator>
#include <QSemaphore>
#include <QSet>
#include <QTemporaryFile>
#include <QTest>
#include <QThreadPool>

using namespace filesync;
using namespace filesync::protocol;

namespace {
QByteArray random(qint64 size, quint32 seed)
{
    QByteArray data(size, Qt::Uninitialized);
    QRandomGenerator rng(seed);
    rng.fillRange(reinterpret_cast<quint32 *>(data.data()), size / 4);
    return data;
}

// Bytes of `b` in blocks that `a` does not have: what an upload of `b` sends.
qint64 newBytes(const QList<BlockRef> &a, const QList<BlockRef> &b)
{
    QSet<ContentHash> set;
    for (const BlockRef &r : a)
        set.insert(r.hash);
    qint64 bytes = 0;
    for (const BlockRef &r : b)
        bytes += set.contains(r.hash) ? 0 : r.size;
    return bytes;
}

// SplitMix64: a fixed sequence independent of Qt's generator, for the pinned cut points.
QByteArray splitMixBytes(qint64 size, quint64 state)
{
    QByteArray data(size, Qt::Uninitialized);
    for (qint64 i = 0; i < size; i += 8) {
        state += 0x9e3779b97f4a7c15ull;
        quint64 z = state;
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        z ^= z >> 31;
        for (int k = 0; k < 8 && i + k < size; ++k)
            data[i + k] = char(z >> (8 * k));
    }
    return data;
}

// Random stretches, a run of zeros (cut only by the maximum size) and low-entropy text.
QByteArray pinnedInput()
{
    QByteArray data = splitMixBytes(3 * 1024 * 1024 + 12345, 42);
    data += QByteArray(1200 * 1024, '\0');
    QByteArray text;
    for (int i = 0; text.size() < 2 * 1024 * 1024; ++i)
        text += QByteArray::number(i * 7919 % 100003) + (i % 13 == 0 ? "\n" : " word ");
    data += text;
    data += splitMixBytes(2 * 1024 * 1024 + 777, 7);
    return data;
}

QByteArray sizesDigest(const QList<BlockRef> &blocks)
{
    QByteArray sizes;
    for (const BlockRef &b : blocks)
        sizes += QByteArray::number(b.size) + ',';
    return ContentHash::of(sizes).toHex().left(16);
}

Chunker::Chunked chunkedOn(QThreadPool *hashing, const QByteArray &data, const Chunker::Previous &previous = {})
{
    QBuffer buffer;
    buffer.setData(data);
    buffer.open(QIODevice::ReadOnly);
    auto result = Chunker::chunkIncremental(buffer, data.size(), nullptr, previous, hashing);
    return result ? *result : Chunker::Chunked {};
}

// Sets `cancel` once `after` bytes have been read: a scan stopped while a big file is hashed.
class CancellingBuffer : public QBuffer
{
public:
    CancellingBuffer(QByteArray *data, std::atomic_bool *cancel, qint64 after)
        : QBuffer(data)
        , m_cancel(cancel)
        , m_after(after)
    { }

protected:
    qint64 readData(char *data, qint64 maxSize) override
    {
        const qint64 n = QBuffer::readData(data, maxSize);
        m_read += qMax<qint64>(n, 0);
        if (m_read >= m_after)
            m_cancel->store(true);
        return n;
    }

private:
    std::atomic_bool *m_cancel;
    qint64 m_after;
    qint64 m_read = 0;
};

int sharedBlocks(const QList<BlockRef> &a, const QList<BlockRef> &b)
{
    QSet<ContentHash> set;
    for (const BlockRef &r : a)
        set.insert(r.hash);
    int shared = 0;
    for (const BlockRef &r : b)
        shared += set.contains(r.hash) ? 1 : 0;
    return shared;
}
} // namespace

class tst_Chunker : public QObject
{
    Q_OBJECT
public:
    tst_Chunker() { m_hashing.setMaxThreadCount(1); }

private Q_SLOTS:
    void emptyAndSmall();
    void deterministicAndBounded();
    void insertInTheMiddleChangesFewBlocks();
    void overwriteInTheMiddleChangesFewBlocks();
    void parametersScaleWithSize();
    void stickyParameters_data();
    void stickyParameters();
    void stickyAcrossAChain();
    void tooBigIsAClearError();
    void cancelStopsHashing();
    void fileMatchesBytes();
    void cutPointsArePinned_data();
    void cutPointsArePinned();
    void incrementalEqualsFullRechunk_data();
    void incrementalEqualsFullRechunk();
    void checksOfAnotherListAreIgnored();
    void incrementalFromAFileReadsOnBothThreads();
    void fewBlocksHaveNoChecks();
    void bigFileCancelAndChangeAreErrors();
    void aBusyHashingPoolLeavesTheWorkToTheCutter();

private:
    // As the engine does it: a big file hashed on a thread of a one-thread pool.
    Chunker::Chunked chunked(const QByteArray &data, const Chunker::Previous &previous = {})
    {
        return chunkedOn(&m_hashing, data, previous);
    }

    QThreadPool m_hashing;
};

void tst_Chunker::emptyAndSmall()
{
    QVERIFY(Chunker::chunkBytes(QByteArray()).isEmpty());
    const auto one = Chunker::chunkBytes("hello");
    QCOMPARE(one.size(), 1);
    QCOMPARE(one.first().size, 5u);
    QCOMPARE(one.first().hash, ContentHash::of("hello"));
}

void tst_Chunker::deterministicAndBounded()
{
    const QByteArray data = random(20 * 1024 * 1024, 1);
    const auto blocks = Chunker::chunkBytes(data);
    QCOMPARE(Chunker::chunkBytes(data), blocks);
    const auto p = Chunker::paramsFor(data.size());
    qint64 total = 0;
    for (int i = 0; i < blocks.size(); ++i) {
        const BlockRef &b = blocks.at(i);
        QVERIFY(b.size <= p.maxSize);
        if (i + 1 < blocks.size())
            QVERIFY2(b.size > p.minSize, qPrintable(QString::number(b.size)));
        QCOMPARE(b.hash, ContentHash::of(QByteArrayView(data).sliced(total, b.size)));
        total += b.size;
    }
    QCOMPARE(total, data.size());
    // Normalized chunking keeps the average near the target.
    const double average = double(total) / blocks.size();
    QVERIFY2(average > p.avgSize / 2 && average < p.avgSize * 2, qPrintable(QString::number(average)));
}

void tst_Chunker::insertInTheMiddleChangesFewBlocks()
{
    const QByteArray data = random(20 * 1024 * 1024, 2);
    QByteArray edited = data;
    edited.insert(edited.size() / 2, 'x');
    const auto before = Chunker::chunkBytes(data);
    const auto after = Chunker::chunkBytes(edited);
    const int changed = int(after.size()) - sharedBlocks(before, after);
    QVERIFY2(changed >= 1 && changed <= 4, qPrintable(QString::number(changed)));
    const qint64 sent = newBytes(before, after);
    QVERIFY2(sent <= 4 * Chunker::kSmallestAverage, qPrintable(QString::number(sent)));
}

void tst_Chunker::overwriteInTheMiddleChangesFewBlocks()
{
    const QByteArray data = random(20 * 1024 * 1024, 3);
    QByteArray edited = data;
    edited.replace(10 * 1024 * 1024, 1024 * 1024, random(1024 * 1024, 4));
    const auto before = Chunker::chunkBytes(data);
    const auto after = Chunker::chunkBytes(edited);
    // 1 MiB rewritten with 64 KiB blocks: the blocks it covers plus the edges (the old
    // 256 KiB average re-sent about 0.5 MiB around it).
    const qint64 sent = newBytes(before, after);
    QVERIFY2(
        sent >= 1024 * 1024 && sent <= 1024 * 1024 + 8 * Chunker::kSmallestAverage, qPrintable(QString::number(sent)));
}

void tst_Chunker::parametersScaleWithSize()
{
    constexpr qint64 GiB = qint64(1) << 30;
    QCOMPARE(Chunker::paramsFor(100).avgSize, Chunker::kSmallestAverage);
    QCOMPARE(Chunker::paramsFor(GiB).avgSize, Chunker::kSmallestAverage);
    // Without a previous version: the smallest power of two with size <= avg * 16,384.
    QCOMPARE(Chunker::paramsFor(GiB + 1).avgSize, 128 * 1024);
    QCOMPARE(Chunker::paramsFor(qint64(3) << 30).avgSize, 256 * 1024);
    const auto big = Chunker::paramsFor(qint64(12) << 30);
    QCOMPARE(big.avgSize, 1024 * 1024);
    QCOMPARE(big.minSize, big.avgSize / 4);
    QCOMPARE(big.maxSize, big.avgSize * 4);
    const auto top = Chunker::paramsForAverage(Chunker::kLargestAverage);
    QCOMPARE(top.maxSize, kMaxBlockSize);
    // Every block but the last is longer than the minimum: at the largest average (the
    // last fallback) the largest file fits the cap whatever its content.
    QCOMPARE(Chunker::maxFileSize(), qint64(16) << 30);
    QVERIFY(Chunker::maxFileSize() / (top.minSize + 1) + 1 <= kMaxBlocksPerEntry);
}

void tst_Chunker::stickyParameters_data()
{
    QTest::addColumn<qint64>("previousSize");
    QTest::addColumn<qint64>("newSize");
    QTest::addColumn<qint64>("expected");
    constexpr qint64 GiB = qint64(1) << 30;
    constexpr qint64 KiB = 1024;
    // W3b: one byte inserted into a 1 GiB file keeps the 64 KiB average (it used to
    // double and re-cut every block).
    QTest::newRow("1 GiB + 1 byte") << GiB << GiB + 1 << 64 * KiB;
    QTest::newRow("cut at 128 KiB, then 1 byte shorter") << GiB + 1 << GiB << 128 * KiB;
    QTest::newRow("grown 10 %") << GiB << GiB + GiB / 10 << 64 * KiB;
    QTest::newRow("grown 20 %: re-cut") << GiB << GiB + GiB / 5 << 128 * KiB;
    // A file cut with 128 KiB (it grew past 1 GiB) keeps it when it shrinks a little…
    QTest::newRow("2 GiB - 1 byte") << 2 * GiB << 2 * GiB - 1 << 128 * KiB;
    QTest::newRow("shrunk below 1 GiB") << 2 * GiB << GiB - 1 << 128 * KiB;
    // …and goes back to the natural average once it is far smaller.
    QTest::newRow("shrunk to an eighth") << 4 * GiB << GiB / 2 << 64 * KiB;
    QTest::newRow("4 GiB + 1 byte") << 4 * GiB << 4 * GiB + 1 << 256 * KiB;
    QTest::newRow("16 GiB - 1 byte") << 16 * GiB << 16 * GiB - 1 << 1024 * KiB;
}

void tst_Chunker::stickyParameters()
{
    QFETCH(qint64, previousSize);
    QFETCH(qint64, newSize);
    QFETCH(qint64, expected);
    // The previous version as the chunker would have cut it (random content: mean block
    // size kMeanOverAverage * avg), without writing gigabytes.
    const qint64 previousAverage = Chunker::averageFor(previousSize);
    const Chunker::Previous previous { previousSize,
        qint64(double(previousSize) / (double(previousAverage) * Chunker::kMeanOverAverage)) };
    QCOMPARE(Chunker::inferAverage(previous), previousAverage);
    QCOMPARE(Chunker::averageFor(newSize, previous), expected);
    QCOMPARE(Chunker::paramsFor(newSize, previous).avgSize, expected);
}

void tst_Chunker::stickyAcrossAChain()
{
    // A file that grows one byte at a time never flips between two averages: each
    // version infers the average of the one before (counts as random content gives).
    constexpr qint64 GiB = qint64(1) << 30;
    qint64 average = Chunker::averageFor(GiB - 2);
    for (qint64 size = GiB - 1; size <= GiB + 2; ++size) {
        const Chunker::Previous previous { size - 1,
            qint64(double(size - 1) / (double(average) * Chunker::kMeanOverAverage)) };
        const qint64 next = Chunker::averageFor(size, previous);
        QCOMPARE(next, average);
        average = next;
    }
}

void tst_Chunker::tooBigIsAClearError()
{
    QBuffer empty;
    QVERIFY(empty.open(QIODevice::ReadOnly));
    const auto blocks = Chunker::chunk(empty, Chunker::maxFileSize() + 1);
    QVERIFY(!blocks.ok());
    QVERIFY2(blocks.errorMessage().contains(QStringLiteral("16 GiB")), qPrintable(blocks.errorMessage()));
}

void tst_Chunker::cancelStopsHashing()
{
    QByteArray data = random(4 * 1024 * 1024, 9);
    QBuffer buffer(&data);
    QVERIFY(buffer.open(QIODevice::ReadOnly));
    const std::atomic_bool cancel { true };
    QVERIFY(!Chunker::chunk(buffer, data.size(), &cancel).ok());
}

void tst_Chunker::fileMatchesBytes()
{
    QTemporaryFile file;
    QVERIFY(file.open());
    const QByteArray data = random(3 * 1024 * 1024 + 5, 5);
    file.write(data);
    file.flush();
    const auto blocks = Chunker::chunkFile(file.fileName());
    QVERIFY(blocks.ok());
    QCOMPARE(*blocks, Chunker::chunkBytes(data));
    QVERIFY(!Chunker::chunkFile(QStringLiteral("/nonexistent/file")).ok());
}

// The hashing thread comes from a pool that may be busy (another scan's big file): the
// cutter then hashes and checks everything itself, and does not wait for a thread that
// never started. The same blocks and checks as with the thread, and as without a pool.
void tst_Chunker::aBusyHashingPoolLeavesTheWorkToTheCutter()
{
    const qint64 mib = 1024 * 1024;
    const QByteArray before = splitMixBytes(12 * mib, 41);
    QByteArray after = before;
    after.replace(5 * mib, 1000, splitMixBytes(1000, 42));
    const Chunker::Chunked old = chunked(before);
    const Chunker::Previous previous { before.size(), qint64(old.blocks.size()), old.blocks, old.checks };
    const Chunker::Chunked threaded = chunked(after, previous);
    QThreadPool busy;
    busy.setMaxThreadCount(1);
    QSemaphore hold, started;
    busy.start([&] {
        started.release();
        hold.acquire();
    });
    QVERIFY(started.tryAcquire(1, 10000));
    const Chunker::Chunked cutterOnly = chunkedOn(&busy, after, previous);
    hold.release();
    QVERIFY(!cutterOnly.blocks.isEmpty());
    QCOMPARE(cutterOnly.blocks, threaded.blocks);
    QCOMPARE(cutterOnly.checks, threaded.checks);
    QCOMPARE(cutterOnly.reusedBytes, threaded.reusedBytes);
    QCOMPARE(chunkedOn(nullptr, after, previous).blocks, threaded.blocks);
}

QTEST_GUILESS_MAIN(tst_Chunker)

void tst_Chunker::incrementalEqualsFullRechunk_data()
{
    // 12 MiB: hashed on the second thread (from 8 MiB), about 150 blocks of 64 KiB.
    const QByteArray data = splitMixBytes(12 * 1024 * 1024, 99);
    const qint64 mib = 1024 * 1024;
    QTest::addColumn<QByteArray>("before");
    QTest::addColumn<QByteArray>("after");
    QTest::addColumn<qint64>("minReused"); // proves the unchanged blocks were not re-cut
    QTest::addColumn<qint64>("maxReused");
    const auto overwrite = [&](qint64 at, qint64 n, quint64 seed) {
        QByteArray d = data;
        d.replace(at, n, splitMixBytes(n, seed));
        return d;
    };
    const qint64 slack = 2 * 256 * 1024; // the blocks around an edit: up to two maximum sizes
    QTest::newRow("unchanged") << data << data << data.size() << data.size();
    QTest::newRow("start") << data << overwrite(0, 100 * 1024, 1) << data.size() - 100 * 1024 - slack
                           << data.size() - 100 * 1024;
    QTest::newRow("middle") << data << overwrite(6 * mib, mib, 2) << data.size() - mib - 2 * slack << data.size() - mib;
    QTest::newRow("end") << data << overwrite(data.size() - 50 * 1024, 50 * 1024, 3) << data.size() - 50 * 1024 - slack
                         << data.size() - 50 * 1024;
    // Two regions: the blocks between them, kept on trust while the hashing thread checks
    // them, and the cut going back to the first block of the second whose check failed.
    QByteArray twice = overwrite(2 * mib, 200 * 1024, 7);
    twice.replace(9 * mib, 10, splitMixBytes(10, 8));
    QTest::newRow("two regions") << data << twice << data.size() - 200 * 1024 - 10 - 4 * slack
                                 << data.size() - 200 * 1024 - 10;
    QByteArray inserted = data;
    inserted.insert(5 * mib, splitMixBytes(1000, 4));
    QTest::newRow("insert") << data << inserted << data.size() - 2 * slack << data.size();
    QByteArray removed = data;
    removed.remove(3 * mib, 300 * 1024);
    QTest::newRow("delete") << data << removed << data.size() - 300 * 1024 - 2 * slack << data.size() - 300 * 1024;
    QTest::newRow("truncate") << data << data.left(9 * mib + 123) << 9 * mib - slack << 9 * mib;
    QTest::newRow("truncate to a block") << data << data.left(1000) << qint64(0) << qint64(0);
    QTest::newRow("append") << data << data + splitMixBytes(mib, 5) << data.size() - slack << data.size();
    QByteArray everyBlock = data;
    for (qint64 i = 0; i < everyBlock.size(); i += 8 * 1024)
        everyBlock[i] = char(everyBlock[i] ^ 0x5a);
    QTest::newRow("every block changed") << data << everyBlock << qint64(0) << qint64(0);
    QTest::newRow("all new") << data << splitMixBytes(data.size(), 6) << qint64(0) << qint64(0);
    // Low-entropy content that cuts at the maximum size (zeros), edited in its middle.
    QByteArray zeros = data.left(2 * mib) + QByteArray(4 * mib, '\0') + data.mid(2 * mib);
    QByteArray zerosEdited = zeros;
    zerosEdited[3 * mib] = 'x';
    QTest::newRow("zeros") << zeros << zerosEdited << zeros.size() - 2 * slack << zeros.size() - 1;
}

// Re-chunking only what changed must give exactly the blocks (and checks) a full re-chunk
// with the same sticky sizes gives: journals and the server's lists rely on one answer.
void tst_Chunker::incrementalEqualsFullRechunk()
{
    QFETCH(QByteArray, before);
    QFETCH(QByteArray, after);
    QFETCH(qint64, minReused);
    QFETCH(qint64, maxReused);
    const Chunker::Chunked old = chunked(before);
    QVERIFY(old.blocks.size() >= Chunker::kChecksFromBlocks);
    QVERIFY(!old.checks.isEmpty());
    const Chunker::Previous sizesOnly { before.size(), qint64(old.blocks.size()) };
    const Chunker::Chunked full = chunked(after, sizesOnly);
    QVERIFY(!full.blocks.isEmpty());
    QCOMPARE(full.reusedBytes, 0);
    const Chunker::Chunked incremental
        = chunked(after, Chunker::Previous { before.size(), qint64(old.blocks.size()), old.blocks, old.checks });
    QCOMPARE(incremental.blocks, full.blocks);
    QCOMPARE(incremental.checks, full.checks);
    QVERIFY2(incremental.reusedBytes >= minReused && incremental.reusedBytes <= maxReused,
        qPrintable(QString::number(incremental.reusedBytes)));
    // And the hashes are the bytes' own.
    qint64 at = 0;
    for (const BlockRef &b : incremental.blocks) {
        QCOMPARE(b.hash, ContentHash::of(QByteArrayView(after).sliced(at, b.size)));
        at += b.size;
    }
    QCOMPARE(at, after.size());
}

// Checks that do not describe exactly the previous block list (another version's, cut
// with another average, damaged) are never used to keep a block.
void tst_Chunker::checksOfAnotherListAreIgnored()
{
    const QByteArray a = splitMixBytes(4 * 1024 * 1024, 11);
    QByteArray b = a;
    b[2 * 1024 * 1024] = char(b[2 * 1024 * 1024] ^ 1);
    const Chunker::Chunked ca = chunked(a);
    const Chunker::Chunked cb = chunked(b);
    QCOMPARE(ca.blocks.size(), cb.blocks.size()); // same sizes: only one hash differs
    QVERIFY(ca.checks != cb.checks);
    const Chunker::Previous sizes { a.size(), qint64(ca.blocks.size()) };
    // a's list with b's checks, then a's list with a damaged copy of its own.
    QByteArray damaged = ca.checks;
    damaged[damaged.size() - 1] = char(damaged[damaged.size() - 1] ^ 1);
    for (const QByteArray &checks : { cb.checks, damaged, ca.checks.left(ca.checks.size() - 8) }) {
        const auto result = chunked(b, Chunker::Previous { a.size(), qint64(ca.blocks.size()), ca.blocks, checks });
        QCOMPARE(result.reusedBytes, 0);
        QCOMPARE(result.blocks, chunked(b, sizes).blocks);
    }
    // With its own checks the same edit keeps all but the changed block's neighbourhood.
    const auto own = chunked(b, Chunker::Previous { a.size(), qint64(ca.blocks.size()), ca.blocks, ca.checks });
    QCOMPARE(own.blocks, cb.blocks);
    QVERIFY(own.reusedBytes > a.size() / 2);
}

void tst_Chunker::fewBlocksHaveNoChecks()
{
    const Chunker::Chunked small = chunked(splitMixBytes(300 * 1024, 12));
    QVERIFY(!small.blocks.isEmpty());
    QVERIFY(small.blocks.size() < Chunker::kChecksFromBlocks);
    QVERIFY(small.checks.isEmpty());
}

// The second thread's work is ended cleanly (no result, no hang) when the scan is
// cancelled half-way or the file turns out shorter or longer than its stat said.
void tst_Chunker::bigFileCancelAndChangeAreErrors()
{
    QByteArray data = splitMixBytes(24 * 1024 * 1024, 13);
    std::atomic_bool cancel { false };
    CancellingBuffer cancelling(&data, &cancel, 9 * 1024 * 1024);
    QVERIFY(cancelling.open(QIODevice::ReadOnly));
    const auto cancelled = Chunker::chunkIncremental(cancelling, data.size(), &cancel, {}, &m_hashing);
    QVERIFY(!cancelled.ok());
    QCOMPARE(cancelled.errorMessage(), QStringLiteral("cancelled"));
    for (const qint64 claimed : { data.size() + 1, data.size() - 1 }) {
        QBuffer buffer(&data);
        QVERIFY(buffer.open(QIODevice::ReadOnly));
        const auto changed = Chunker::chunkIncremental(buffer, claimed, nullptr, {}, &m_hashing);
        QVERIFY(!changed.ok());
        QCOMPARE(changed.errorMessage(), QStringLiteral("the file changed while it was read"));
    }
}

#include "tst_chunker.moc"

void tst_Chunker::cutPointsArePinned_data()
{
    QTest::addColumn<qint64>("avg");
    QTest::addColumn<int>("count");
    QTest::addColumn<QByteArray>("digest");
    QTest::newRow("64 KiB") << qint64(64 * 1024) << 97 << QByteArray("a3e9a86df5836af4");
    QTest::newRow("128 KiB") << qint64(128 * 1024) << 51 << QByteArray("1e71dbd4f6586af0");
    QTest::newRow("1 MiB") << qint64(1024 * 1024) << 6 << QByteArray("291e68ae74b55a35");
}

// Journals and the server's block lists rely on the cut points: the same input and sizes
// must always give the same blocks, whatever the chunker's inner loop looks like. The
// figures were taken from the first implementation (byte by byte, before the fast loop).
void tst_Chunker::cutPointsArePinned()
{
    QFETCH(qint64, avg);
    QFETCH(int, count);
    QFETCH(QByteArray, digest);
    const QByteArray data = pinnedInput();
    QBuffer buffer;
    buffer.setData(data);
    QVERIFY(buffer.open(QIODevice::ReadOnly));
    const auto blocks = Chunker::chunkWith(buffer, data.size(), Chunker::paramsForAverage(avg));
    QVERIFY(blocks);
    qint64 total = 0;
    for (const BlockRef &b : *blocks) {
        QCOMPARE(b.hash, ContentHash::of(QByteArrayView(data).sliced(total, b.size)));
        total += b.size;
    }
    QCOMPARE(total, data.size());
    QCOMPARE(blocks->size(), count);
    QCOMPARE(sizesDigest(*blocks), digest);
}

// From a file, the old blocks kept on trust are read by the thread that checks them
// (pread, not the cutter's buffers): the same blocks as from memory, unchanged files and
// edits alike, the edits found and cut again.
void tst_Chunker::incrementalFromAFileReadsOnBothThreads()
{
    const qint64 mib = 1024 * 1024;
    const QByteArray before = splitMixBytes(20 * mib, 31);
    QByteArray after = before;
    after.replace(3 * mib, 100 * 1024, splitMixBytes(100 * 1024, 32));
    after.replace(15 * mib, 1, QByteArray("x"));
    const Chunker::Chunked old = chunked(before);
    const Chunker::Previous previous { before.size(), qint64(old.blocks.size()), old.blocks, old.checks };
    for (const QByteArray &data : { before, after }) {
        QTemporaryFile file;
        QVERIFY(file.open());
        QCOMPARE(file.write(data), data.size());
        QVERIFY(file.flush());
        const auto fromFile = Chunker::chunkFileIncremental(file.fileName(), nullptr, previous, &m_hashing);
        QVERIFY(fromFile.ok());
        const Chunker::Chunked fromMemory = chunked(data, previous);
        QCOMPARE(fromFile->blocks, fromMemory.blocks);
        QCOMPARE(fromFile->checks, fromMemory.checks);
        QCOMPARE(fromFile->reusedBytes, fromMemory.reusedBytes);
        QCOMPARE(
            fromFile->blocks, chunked(data, Chunker::Previous { before.size(), qint64(old.blocks.size()) }).blocks);
        if (data == before)
            QCOMPARE(fromFile->reusedBytes, before.size());
        else
            QVERIFY(
                fromFile->reusedBytes < after.size() - 100 * 1024 && fromFile->reusedBytes > after.size() - 2 * mib);
    }
}
