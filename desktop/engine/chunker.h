#pragma once

#include "messages.h"
#include "result.h"

#include <QIODevice>

#include <atomic>

namespace filesync {

// Content-defined chunking, FastCDC-style (Xia et al., USENIX ATC 2016): a gear rolling
// hash, cut-point skipping below the minimum size and normalized chunking (a stricter
// mask before the average size, a looser one after), so an insert in the middle of a
// big file changes one or two blocks instead of every later one. Blocks are hashed with
// SHA-256 (OpenSSL) as they stream past; no whole-file buffer. Pure and thread-safe:
// called from the thread pool.
class Chunker
{
public:
    struct Params
    {
        qint64 minSize;
        qint64 avgSize; // a power of two
        qint64 maxSize;
    };
    static constexpr qint64 kDefaultAverage = 256 * 1024;
    // With at most 4 MiB on average, blocks stay within 1..16 MiB (the protocol's block
    // cap) and the shape of normalized chunking is kept; files up to 16 GiB.
    static constexpr qint64 kLargestAverage = 4 * 1024 * 1024;

    // Sizes for a file of `fileSize` bytes: 256 KiB on average up to 1 GiB; above that
    // the average is the next power of two of size / 4096, so that (every block but the
    // last being longer than the minimum, avg / 4) no file has more than the protocol's
    // 16,384 blocks.
    static Params paramsFor(qint64 fileSize);
    static qint64 maxFileSize();

    // Splits what `device` yields (exactly `size` bytes expected) into blocks. `cancel`,
    // when given and set from another thread, stops it between two reads.
    static Result<QList<protocol::BlockRef>> chunk(
        QIODevice &device, qint64 size, const std::atomic_bool *cancel = nullptr);
    static Result<QList<protocol::BlockRef>> chunkFile(const QString &path, const std::atomic_bool *cancel = nullptr);
    static QList<protocol::BlockRef> chunkBytes(const QByteArray &data);
};

} // namespace filesync
