#include "chunker.h"

#include "contenthash.h"
#include "protocol.h"

#include <QBuffer>
#include <QFile>

#include <array>
#include <cmath>

namespace filesync {

namespace {

const char kTooManyBlocks[] = "file has too many blocks";

// 256 pseudo-random 64-bit gear values from a fixed SplitMix64 sequence: the same on
// every machine, so every computer cuts the same file at the same places.
const std::array<quint64, 256> &gearTable()
{
    static const std::array<quint64, 256> table = [] {
        std::array<quint64, 256> t {};
        quint64 state = 0x46696c6553796e63ull; // "FileSync"
        for (quint64 &v : t) {
            state += 0x9e3779b97f4a7c15ull;
            quint64 z = state;
            z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
            z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
            v = z ^ (z >> 31);
        }
        return t;
    }();
    return table;
}

int log2Of(qint64 v)
{
    int bits = 0;
    while ((qint64(1) << (bits + 1)) <= v)
        ++bits;
    return bits;
}

// The top `bits` bits: in a gear hash they depend on the last 64 bytes.
quint64 topMask(int bits)
{
    return bits <= 0 ? 0 : (~quint64(0)) << (64 - bits);
}

} // namespace

qint64 Chunker::naturalAverage(qint64 fileSize)
{
    qint64 avg = kSmallestAverage;
    while (avg < kLargestAverage && fileSize > avg * protocol::kMaxBlocksPerEntry)
        avg *= 2;
    return avg;
}

qint64 Chunker::inferAverage(const Previous &previous)
{
    // Too few blocks say nothing about the sizes that cut them (and do not matter).
    if (previous.blocks < 4 || previous.size <= 0)
        return 0;
    // The rule below only ever uses natural/2, natural or natural*2: the one whose
    // expected count is nearest (by ratio) to what the previous version had.
    const qint64 natural = naturalAverage(previous.size);
    qint64 best = 0;
    double bestDistance = 0;
    for (qint64 avg : { natural / 2, natural, natural * 2 }) {
        if (avg < kSmallestAverage || avg > kLargestAverage)
            continue;
        const double expected = double(previous.size) / (double(avg) * kMeanOverAverage);
        const double distance = std::abs(std::log(expected / double(previous.blocks)));
        if (best == 0 || distance < bestDistance) {
            best = avg;
            bestDistance = distance;
        }
    }
    return best;
}

qint64 Chunker::averageFor(qint64 fileSize, const Previous &previous)
{
    const qint64 natural = naturalAverage(fileSize);
    const qint64 kept = inferAverage(previous);
    // Sticky: the previous version's average stays while the file is within 9/8 of what
    // it fits and at most twice the natural one, so a small change (one byte across
    // 1 GiB) never re-cuts the whole file. Switching needs 12.5 % growth or a halving.
    if (kept >= natural / 2 && kept <= natural * 2 && fileSize <= kept * protocol::kMaxBlocksPerEntry / 8 * 9)
        return kept;
    return natural;
}

Chunker::Params Chunker::paramsForAverage(qint64 avg)
{
    return Params { avg / 4, avg, qMin(avg * 4, protocol::kMaxBlockSize) };
}

Chunker::Params Chunker::paramsFor(qint64 fileSize, const Previous &previous)
{
    return paramsForAverage(averageFor(fileSize, previous));
}

qint64 Chunker::maxFileSize()
{
    // Every block is at least minSize except the last, so this many always fit.
    return kLargestAverage * (protocol::kMaxBlocksPerEntry / 4);
}

Result<QList<protocol::BlockRef>> Chunker::chunkWith(
    QIODevice &device, qint64 size, const Params &p, const std::atomic_bool *cancel)
{
    const int bits = log2Of(p.avgSize);
    // Normalization level 1 (one bit stricter before the average, one looser after):
    // measured on random data, level 2 re-sent about 2.1 average blocks around a 1 MiB
    // overwrite, level 1 about 1.6 (docs/architecture.md).
    const quint64 maskStrict = topMask(bits + 1);
    const quint64 maskLoose = topMask(bits - 1);
    const auto &gear = gearTable();

    QList<protocol::BlockRef> blocks;
    Sha256 hasher;
    quint64 hash = 0;
    qint64 chunkLength = 0;
    qint64 total = 0;
    QByteArray buffer(1 << 20, Qt::Uninitialized);
    for (;;) {
        if (cancel && cancel->load(std::memory_order_relaxed))
            return makeError(QStringLiteral("cancelled"));
        const qint64 n = device.read(buffer.data(), buffer.size());
        if (n < 0)
            return makeError(QStringLiteral("read error: %1").arg(device.errorString()));
        if (n == 0)
            break;
        total += n;
        const auto *data = reinterpret_cast<const quint8 *>(buffer.constData());
        qint64 sliceStart = 0;
        for (qint64 i = 0; i < n; ++i) {
            ++chunkLength;
            if (chunkLength <= p.minSize) {
                // Cut-point skipping: no cut below the minimum, but keep the hash warm
                // over the last 64 bytes so the first candidate is well defined.
                if (chunkLength > p.minSize - 64)
                    hash = (hash << 1) + gear[data[i]];
                continue;
            }
            hash = (hash << 1) + gear[data[i]];
            const quint64 mask = chunkLength < p.avgSize ? maskStrict : maskLoose;
            if ((hash & mask) == 0 || chunkLength >= p.maxSize) {
                hasher.addData(QByteArrayView(buffer.constData() + sliceStart, i + 1 - sliceStart));
                blocks.append(protocol::BlockRef { hasher.result(), quint32(chunkLength) });
                sliceStart = i + 1;
                chunkLength = 0;
                hash = 0;
            }
        }
        if (sliceStart < n)
            hasher.addData(QByteArrayView(buffer.constData() + sliceStart, n - sliceStart));
    }
    if (chunkLength > 0)
        blocks.append(protocol::BlockRef { hasher.result(), quint32(chunkLength) });
    if (total != size)
        return makeError(QStringLiteral("the file changed while it was read"));
    if (blocks.size() > protocol::kMaxBlocksPerEntry)
        return makeError(QLatin1String(kTooManyBlocks));
    return blocks;
}

Result<QList<protocol::BlockRef>> Chunker::chunk(
    QIODevice &device, qint64 size, const std::atomic_bool *cancel, const Previous &previous)
{
    if (size > maxFileSize())
        return makeError(QStringLiteral("the file is larger than the %1 GiB FileSync supports; it is not synced")
                             .arg(maxFileSize() >> 30));
    // Content that cuts more often than random data (the average only promises the
    // expected count) is cut again with twice the average; at the largest average the
    // minimum block size alone keeps a file under the cap.
    for (qint64 avg = averageFor(size, previous);; avg *= 2) {
        auto blocks = chunkWith(device, size, paramsForAverage(avg), cancel);
        if (blocks || avg >= kLargestAverage || !device.seek(0))
            return blocks;
        if (blocks.errorMessage() != QLatin1String(kTooManyBlocks))
            return blocks;
    }
}

Result<QList<protocol::BlockRef>> Chunker::chunkFile(
    const QString &path, const std::atomic_bool *cancel, const Previous &previous)
{
    QFile file(path);
    if (!file.open(QIODevice::ReadOnly))
        return makeError(QStringLiteral("cannot read %1: %2").arg(path, file.errorString()));
    return chunk(file, file.size(), cancel, previous);
}

QList<protocol::BlockRef> Chunker::chunkBytes(const QByteArray &data)
{
    QBuffer buffer;
    buffer.setData(data);
    buffer.open(QIODevice::ReadOnly);
    auto blocks = chunk(buffer, data.size());
    return blocks ? *blocks : QList<protocol::BlockRef>();
}

} // namespace filesync
