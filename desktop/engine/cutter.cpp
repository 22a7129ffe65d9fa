#include "cutter.h"

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

// The top `bits` bits: in a gear hash they depend on the last 64 bytes.
quint64 topMask(int bits)
{
    return bits <= 0 ? 0 : (~quint64(0)) << (64 - bits);
}

// Rolls the gear hash over data[i, end) and returns the length (i + 1) at the first
// position whose hash has no bit of `mask` set, or -1 (then `hash` is the state at
// `end`). Four bytes per iteration with the state in a register: the loop's only
// dependency chain is one shift-and-add per byte.
inline qint64 rollUntilCut(const quint8 *d, qint64 i, qint64 end, quint64 &hash, quint64 mask, const quint64 *g)
{
    quint64 h = hash;
    for (; i + 4 <= end; i += 4) {
        h = (h << 1) + g[d[i]];
        if (!(h & mask))
            return i + 1;
        h = (h << 1) + g[d[i + 1]];
        if (!(h & mask))
            return i + 2;
        h = (h << 1) + g[d[i + 2]];
        if (!(h & mask))
            return i + 3;
        h = (h << 1) + g[d[i + 3]];
        if (!(h & mask))
            return i + 4;
    }
    for (; i < end; ++i) {
        h = (h << 1) + g[d[i]];
        if (!(h & mask))
            return i + 1;
    }
    hash = h;
    return -1;
}

} // namespace

int Cutter::log2Of(qint64 v)
{
    int bits = 0;
    while ((qint64(1) << (bits + 1)) <= v)
        ++bits;
    return bits;
}

Cutter::Cutter(const Chunker::Params &p)
    : m_p(p)
    , m_strict(topMask(log2Of(p.avgSize) + 1))
    , m_loose(topMask(log2Of(p.avgSize) - 1))
{
    // Normalization level 1 (one bit stricter before the average, one looser after):
    // measured on random data, level 2 re-sent about 2.1 average blocks around a
    // 1 MiB overwrite, level 1 about 1.6 (docs/architecture.md).
    Q_ASSERT(p.minSize >= 64 && p.avgSize > p.minSize);
}

qint64 Cutter::cut(const quint8 *d, qint64 n) const
{
    if (n <= m_p.minSize)
        return n;
    const quint64 *g = gearTable().data();
    quint64 h = 0;
    for (qint64 i = m_p.minSize - 64; i < m_p.minSize; ++i)
        h = (h << 1) + g[d[i]];
    const qint64 strictEnd = qMin(n, m_p.avgSize - 1); // lengths below avg
    qint64 at = rollUntilCut(d, m_p.minSize, strictEnd, h, m_strict, g);
    if (at < 0 && strictEnd < n)
        at = rollUntilCut(d, strictEnd, n, h, m_loose, g);
    return at < 0 ? n : at;
}

} // namespace filesync
