#pragma once

#include <QtGlobal>

namespace filesync::sim {

// SplitMix64 (Steele, Lea, Flood 2014) with distributions written out here, so a seed
// gives the same sequence with every standard library (std::uniform_int_distribution
// is implementation-defined).
class SplitMix64
{
public:
    explicit SplitMix64(quint64 seed)
        : m_state(seed)
    { }

    quint64 next()
    {
        quint64 z = (m_state += 0x9E3779B97F4A7C15ULL);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
        return z ^ (z >> 31);
    }
    // Uniform in [0, n) for n > 0; the modulo bias is below 2^-50 for the small n used here.
    int below(int n) { return n <= 1 ? 0 : int(next() % quint64(n)); }
    int between(int lo, int hi) { return lo + below(hi - lo + 1); } // inclusive
    bool chance(int perThousand) { return below(1000) < perThousand; }

private:
    quint64 m_state;
};

} // namespace filesync::sim
