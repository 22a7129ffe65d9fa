#pragma once

#include "chunker.h"

#include <QtGlobal>

namespace filesync {

// Finds one cut. The hash at a position depends only on the 64 bytes before it (every
// step shifts one bit out), and no cut comes at or before minSize bytes, so the first
// minSize - 64 bytes of a chunk are never looked at. The rule, unchanged since the first
// version (tst_chunker pins it): the length L is the first in (minSize, maxSize] where
// hash & (L < avg ? strict : loose) == 0, else maxSize, else what is left of the file.
// The gear hash and FastCDC-style cut rule of the Chunker; a value, used on the thread
// of the pass that made it (Chunker::pass).
class Cutter
{
public:
    explicit Cutter(const Chunker::Params &p);

    // `n` is min(maxSize, bytes left in the file) bytes from the chunk's start.
    qint64 cut(const quint8 *d, qint64 n) const;

    const Chunker::Params &params() const { return m_p; }
    // log2 of v rounded down (the averages are powers of two).
    static int log2Of(qint64 v);

private:
    Chunker::Params m_p;
    quint64 m_strict;
    quint64 m_loose;
};

} // namespace filesync
