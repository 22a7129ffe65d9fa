#include "chunker.h"

#include "contenthash.h"
#include "protocol.h"

#include <QBuffer>
#include <QFile>

#include <array>

namespace filesync {

namespace {

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

Chunker::Params Chunker::paramsFor(qint64 fileSize)
{
    qint64 avg = kDefaultAverage;
    const qint64 perBlock = protocol::kMaxBlocksPerEntry / 4;
    const qint64 target = (fileSize + perBlock - 1) / perBlock; // size / 4096, rounded up
    while (avg < target && avg < kLargestAverage)
        avg *= 2;
    return Params { avg / 4, avg, qMin(avg * 4, protocol::kMaxBlockSize) };
}

qint64 Chunker::maxFileSize()
{
    // Every block is at least minSize except the last, so this many always fit.
    return kLargestAverage * (protocol::kMaxBlocksPerEntry / 4);
}

Result<QList<protocol::BlockRef>> Chunker::chunk(QIODevice &device, qint64 size, const std::atomic_bool *cancel)
{
    if (size > maxFileSize())
        return makeError(QStringLiteral("the file is larger than the %1 GiB FileSync supports; it is not synced")
                             .arg(maxFileSize() >> 30));
    const Params p = paramsFor(size);
    const int bits = log2Of(p.avgSize);
    const quint64 maskStrict = topMask(bits + 2);
    const quint64 maskLoose = topMask(bits - 2);
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
        return makeError(QStringLiteral("file has too many blocks"));
    return blocks;
}

Result<QList<protocol::BlockRef>> Chunker::chunkFile(const QString &path, const std::atomic_bool *cancel)
{
    QFile file(path);
    if (!file.open(QIODevice::ReadOnly))
        return makeError(QStringLiteral("cannot read %1: %2").arg(path, file.errorString()));
    return chunk(file, file.size(), cancel);
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
