#pragma once

#include "messages.h"
#include "result.h"

#include <QIODevice>

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
    static constexpr qint64 kLargestAverage = 16 * 1024 * 1024; // files up to 64 GiB

    // Sizes for a file of `fileSize` bytes: 256 KiB on average up to 1 GiB; above that
    // the average doubles as needed to stay under the protocol's blocks-per-file cap.
    static Params paramsFor(qint64 fileSize);
    static qint64 maxFileSize();

    // Splits what `device` yields (exactly `size` bytes expected) into blocks.
    static Result<QList<protocol::BlockRef>> chunk(QIODevice &device, qint64 size);
    static Result<QList<protocol::BlockRef>> chunkFile(const QString &path);
    static QList<protocol::BlockRef> chunkBytes(const QByteArray &data);
};

} // namespace filesync
