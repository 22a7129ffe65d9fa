#pragma once

#include "messages.h"
#include "result.h"

#include <QIODevice>

#include <atomic>

class QThreadPool;
#include <vector>

namespace filesync {

// What the previous version of a file was (the journal's), so that its sizes stick
// (Chunker::Previous). Outside the class: its default member initializers must be
// complete before Chunker's default arguments use them.
struct ChunkerPrevious
{
    qint64 size = 0; // {} is zero: no previous version
    qint64 blocks = 0;
    // Its block list and their checks (ChunkerResult::checks), when known: blocks whose
    // bytes still match their check are kept without cutting or hashing them again.
    QList<protocol::BlockRef> list = {};
    QByteArray checks = {};
};

// What Chunker::chunkIncremental found (Chunker::Chunked).
struct ChunkerResult
{
    QList<protocol::BlockRef> blocks;
    // One XXH3-64 per block, bound to `blocks` and the average they were cut with; empty
    // for files of fewer than Chunker::kChecksFromBlocks blocks. Opaque: for Previous.
    QByteArray checks;
    qint64 reusedBytes = 0; // confirmed unchanged by their check, not hashed again
};

// Content-defined chunking, FastCDC-style (Xia et al., USENIX ATC 2016): a gear rolling
// hash, cut-point skipping below the minimum size and normalized chunking (a stricter
// mask before the average size, a looser one after), so an insert in the middle of a
// big file changes one or two blocks instead of every later one. Blocks are hashed with
// SHA-256 (OpenSSL), in a file of 8 MiB or more on a thread of the caller's `hashing`
// pool while the next cuts are found (a few buffers in memory, no whole-file buffer).
// Each block also gets a 64-bit XXH3 check, kept in the journal: the next scan of a
// changed file confirms unchanged blocks by it and cuts and hashes only the changed
// regions (docs/architecture.md, "Incremental re-chunking"). Pure and thread-safe:
// called from the engine's work pool.
class Chunker
{
public:
    struct Params
    {
        qint64 minSize;
        qint64 avgSize; // a power of two
        qint64 maxSize;
    };
    using Previous = ChunkerPrevious;
    using Chunked = ChunkerResult;
    static constexpr int kChecksFromBlocks = 16;
    // 64 KiB on average, so that an edit costs the changed bytes plus about 100 KiB.
    static constexpr qint64 kSmallestAverage = 64 * 1024;
    // With at most 4 MiB on average, blocks stay within 1..16 MiB (the protocol's block
    // cap) and the shape of normalized chunking is kept; files up to 16 GiB.
    static constexpr qint64 kLargestAverage = 4 * 1024 * 1024;
    // Measured mean block size over the `avg` parameter (random data), for inferAverage.
    static constexpr double kMeanOverAverage = 1.24;

    // The smallest power of two from 64 KiB with fileSize <= avg * 16,384: on average a
    // file then has at most 16,384 / 1.24 = 13,200 blocks, under the protocol's 16,384.
    static qint64 naturalAverage(qint64 fileSize);
    // The average the previous version was most likely cut with (0 when unknown).
    static qint64 inferAverage(const Previous &previous);
    // The average for a new version: the previous one's while it still fits (sticky,
    // docs/architecture.md), else the natural one.
    static qint64 averageFor(qint64 fileSize, const Previous &previous = {});
    static Params paramsForAverage(qint64 avg); // min avg/4, max avg*4 (<= 16 MiB)
    static Params paramsFor(qint64 fileSize, const Previous &previous = {});
    static qint64 maxFileSize();

    // Splits what `device` yields (exactly `size` bytes expected) into blocks. `cancel`,
    // when given and set from another thread, stops it between two reads. Content that
    // gives more blocks than the protocol allows is cut again (seek(0)) with a larger
    // average. `hashing`: the pool of the second thread for a big file (null: all of it on
    // the calling thread); waited for before the call returns.
    static Result<QList<protocol::BlockRef>> chunk(QIODevice &device, qint64 size,
        const std::atomic_bool *cancel = nullptr, const Previous &previous = {}, QThreadPool *hashing = nullptr);
    static Result<QList<protocol::BlockRef>> chunkFile(const QString &path, const std::atomic_bool *cancel = nullptr,
        const Previous &previous = {}, QThreadPool *hashing = nullptr);
    // The same blocks as chunk()/chunkFile(), plus their checks; with the previous
    // version's list and checks, only what changed is cut and hashed again.
    static Result<Chunked> chunkIncremental(QIODevice &device, qint64 size, const std::atomic_bool *cancel = nullptr,
        const Previous &previous = {}, QThreadPool *hashing = nullptr);
    static Result<Chunked> chunkFileIncremental(const QString &path, const std::atomic_bool *cancel = nullptr,
        const Previous &previous = {}, QThreadPool *hashing = nullptr);
    // One pass with the given sizes; "file has too many blocks" past the protocol's cap.
    static Result<QList<protocol::BlockRef>> chunkWith(
        QIODevice &device, qint64 size, const Params &params, const std::atomic_bool *cancel = nullptr);
    static QList<protocol::BlockRef> chunkBytes(const QByteArray &data);

    // The checks of a block list the chunker did not cut here (a download), for the next
    // version's incremental re-cut: `checks` holds one checkOf() per block, in order. Made
    // for the average that version will most likely be cut with (the sticky one the list's
    // size and count imply). Empty below kChecksFromBlocks blocks or on a size mismatch.
    static QByteArray checksFor(const QList<protocol::BlockRef> &blocks, const std::vector<quint64> &checks);
    // The per-block checks in `checks`, when they describe exactly `blocks`; else empty.
    static std::vector<quint64> unpackChecks(const QList<protocol::BlockRef> &blocks, const QByteArray &checks);
    static quint64 checkOf(QByteArrayView bytes); // one block's check

private:
    static Result<Chunked> pass(QIODevice &device, qint64 size, const Params &params, const std::atomic_bool *cancel,
        const Previous &previous, QThreadPool *hashing);
};

} // namespace filesync
