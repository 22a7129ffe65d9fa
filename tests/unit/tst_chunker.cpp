#include "chunker.h"

#include <QBuffer>
#include <QRandomGenerator>
#include <QSet>
#include <QTemporaryFile>
#include <QTest>

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
private Q_SLOTS:
    void emptyAndSmall();
    void deterministicAndBounded();
    void insertInTheMiddleChangesFewBlocks();
    void overwriteInTheMiddleChangesFewBlocks();
    void parametersScaleWithSize();
    void tooBigIsAClearError();
    void cancelStopsHashing();
    void fileMatchesBytes();
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
    QVERIFY2(changed >= 1 && changed <= 2, qPrintable(QString::number(changed)));
}

void tst_Chunker::overwriteInTheMiddleChangesFewBlocks()
{
    const QByteArray data = random(20 * 1024 * 1024, 3);
    QByteArray edited = data;
    edited.replace(10 * 1024 * 1024, 1024 * 1024, random(1024 * 1024, 4));
    const auto before = Chunker::chunkBytes(data);
    const auto after = Chunker::chunkBytes(edited);
    const int changed = int(after.size()) - sharedBlocks(before, after);
    // 1 MiB rewritten with 256 KiB blocks: the blocks it covers plus the edges.
    QVERIFY2(changed >= 2 && changed <= 9, qPrintable(QString::number(changed)));
}

void tst_Chunker::parametersScaleWithSize()
{
    QCOMPARE(Chunker::paramsFor(100).avgSize, Chunker::kDefaultAverage);
    QCOMPARE(Chunker::paramsFor(qint64(1) << 30).avgSize, Chunker::kDefaultAverage);
    // Above 1 GiB: the next power of two of size / 4096.
    QCOMPARE(Chunker::paramsFor((qint64(1) << 30) + 1).avgSize, 512 * 1024);
    QCOMPARE(Chunker::paramsFor(qint64(3) << 30).avgSize, 1024 * 1024);
    const auto big = Chunker::paramsFor(qint64(12) << 30);
    QCOMPARE(big.avgSize, 4 * 1024 * 1024);
    QCOMPARE(big.minSize, big.avgSize / 4);
    QCOMPARE(big.maxSize, kMaxBlockSize);
    // Every block but the last is longer than the minimum: the largest file fits the cap.
    QCOMPARE(Chunker::maxFileSize(), qint64(16) << 30);
    const auto top = Chunker::paramsFor(Chunker::maxFileSize());
    QVERIFY(Chunker::maxFileSize() / (top.minSize + 1) + 1 <= kMaxBlocksPerEntry);
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

QTEST_GUILESS_MAIN(tst_Chunker)
#include "tst_chunker.moc"
