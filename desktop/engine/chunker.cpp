#include "chunker.h"

#include "contenthash.h"
#include "cutter.h"
#include "hashpipeline.h"
#include "protocol.h"

#include <QBuffer>
#include <QFile>
#include <QHash>
#include <QThreadPool>
#include <QtEndian>

#include <xxhash.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <vector>

namespace filesync {

namespace {

const char kTooManyBlocks[] = "file has too many blocks";

quint64 xxh3Of(const char *data, qint64 n)
{
    return quint64(XXH3_64bits(data, size_t(n)));
}

// --- The block checks (Chunker::Chunked::checks) ---------------------------------------
// Header: format (quint32), log2 of the average the blocks were cut with (quint32), a tag
// (XXH3 of the block list they describe, sizes and SHA-256s, and of the checks); then one
// XXH3-64 per block, all little-endian. The tag binds the checks to one exact block list:
// a journal entry whose blocks were replaced elsewhere (a download, a merge) without new
// checks, or damaged checks, can never lend a check that describes other bytes.
constexpr quint32 kChecksFormat = 1;
constexpr int kChecksHeader = 16;

quint64 tagOf(const QList<protocol::BlockRef> &blocks, const char *checks, qsizetype checksSize)
{
    XXH3_state_t *state = XXH3_createState();
    XXH3_64bits_reset(state);
    for (const protocol::BlockRef &b : blocks) {
        const quint32 size = qToLittleEndian(b.size);
        XXH3_64bits_update(state, &size, sizeof size);
        XXH3_64bits_update(state, b.hash.view().data(), size_t(b.hash.view().size()));
    }
    XXH3_64bits_update(state, checks, size_t(checksSize));
    const quint64 tag = XXH3_64bits_digest(state);
    XXH3_freeState(state);
    return tag;
}

QByteArray packChecks(const QList<protocol::BlockRef> &blocks, const std::vector<quint64> &checks, qint64 avg)
{
    QByteArray out(kChecksHeader + 8 * qsizetype(checks.size()), Qt::Uninitialized);
    char *p = out.data();
    qToLittleEndian<quint32>(kChecksFormat, p);
    qToLittleEndian<quint32>(quint32(Cutter::log2Of(avg)), p + 4);
    for (size_t i = 0; i < checks.size(); ++i)
        qToLittleEndian<quint64>(checks[i], p + kChecksHeader + 8 * i);
    qToLittleEndian<quint64>(tagOf(blocks, p + kChecksHeader, out.size() - kChecksHeader), p + 8);
    return out;
}

// The average the previous checks were made for, or 0 when they are missing or do not
// describe exactly `blocks`.
qint64 checksAverage(const QList<protocol::BlockRef> &blocks, const QByteArray &checks)
{
    if (blocks.isEmpty() || checks.size() != kChecksHeader + 8 * blocks.size())
        return 0;
    const char *p = checks.constData();
    const quint32 bits = qFromLittleEndian<quint32>(p + 4);
    if (qFromLittleEndian<quint32>(p) != kChecksFormat || bits > 40
        || qFromLittleEndian<quint64>(p + 8) != tagOf(blocks, p + kChecksHeader, checks.size() - kChecksHeader))
        return 0;
    return qint64(1) << bits;
}

quint64 checkAt(const QByteArray &checks, qsizetype i)
{
    return qFromLittleEndian<quint64>(checks.constData() + kChecksHeader + 8 * i);
}

// Below this the file is hashed on the calling thread (a thread costs more than it saves).
constexpr qint64 kThreadedFrom = 8 * 1024 * 1024;

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

Result<Chunker::Chunked> Chunker::pass(QIODevice &device, qint64 size, const Params &p, const std::atomic_bool *cancel,
    const Previous &previous, QThreadPool *hashing)
{
    const Cutter cutter(p);
    // The previous version's blocks, when its checks say they were cut with these sizes.
    const bool incremental = checksAverage(previous.list, previous.checks) == p.avgSize;
    const QList<protocol::BlockRef> &old = previous.list;
    // The old blocks by (check, size), to find one again after an insert or a delete.
    QHash<QPair<quint64, quint32>, qsizetype> oldByCheck;
    if (incremental) {
        oldByCheck.reserve(old.size());
        for (qsizetype i = 0; i < old.size(); ++i)
            oldByCheck.insert({ checkAt(previous.checks, i), old.at(i).size }, i);
    }
    // The next old block that may start at a new cut, and where it starts in the new
    // version (its old offset plus what was inserted or deleted before it).
    qsizetype oldIndex = 0;
    qint64 oldStart = 0;

    Chunked out;
    std::vector<quint64> checks;
    HashPipeline pipe(device, size, p.maxSize, size >= kThreadedFrom ? hashing : nullptr);
    qint64 pos = 0;
    const auto tooMany = [&] { return out.blocks.size() > protocol::kMaxBlocksPerEntry; };

    // Old blocks kept on trust while both threads read and check them by range
    // (HashPipeline::checkRange): where each was kept, to go back to the first one whose check
    // fails. After a success the next run of trusted blocks is twice as long (up to one
    // read's size a range), after a failure it is one block checked on this thread again,
    // so a file changed everywhere costs no more checks than before and an unchanged one
    // is read and checked on both cores.
    struct Trusted
    {
        qsizetype outIndex;
        qint64 pos;
        qsizetype oldIndex;
        qint64 reusedBefore;
    };
    std::vector<Trusted> trusted;
    const bool mayTrust = incremental && !device.isSequential() && pipe.canCheckRanges();
    qsizetype trustRun = 1;
    qsizetype failedOld = -1; // the old block whose check just failed: cut, not kept
    // Back to the first trusted block whose check failed, if any (all checks settled).
    const auto settle = [&]() -> QString {
        const qsizetype failed = pipe.settleChecks();
        if (failed >= 0) {
            const auto it = std::find_if(
                trusted.cbegin(), trusted.cend(), [&](const Trusted &t) { return t.outIndex == failed; });
            Q_ASSERT(it != trusted.cend());
            out.blocks.resize(it->outIndex);
            checks.resize(size_t(it->outIndex));
            out.reusedBytes = it->reusedBefore;
            pos = it->pos;
            oldIndex = it->oldIndex;
            oldStart = pos;
            failedOld = oldIndex;
            trustRun = 1;
        }
        trusted.clear();
        return {};
    };
    // At the end, the trusted blocks are settled too (and on from a failed one).
    while (pos < size || !trusted.empty()) {
        if (!trusted.empty() && (pos >= size || pipe.failedCheck() >= 0)) {
            if (const QString error = settle(); !error.isEmpty())
                return makeError(error);
            continue;
        }
        if (tooMany()) // kept and new blocks alike count
            return makeError(QLatin1String(kTooManyBlocks));
        if (cancel && cancel->load(std::memory_order_relaxed))
            return makeError(QStringLiteral("cancelled"));
        // Past the last boundary both versions share, skip the old blocks left behind.
        while (incremental && oldIndex < old.size() && oldStart < pos)
            oldStart += old.at(oldIndex++).size;
        // Both versions cut here, so from here the chunker is in the same state as it was
        // in the previous version. An old block whose bytes are unchanged is cut the same
        // again: its end is a cut decided by its own bytes alone, except for the last one,
        // which ended with the file.
        const auto keepable = [&](qsizetype i) {
            const qint64 len = old.at(i).size;
            return len <= p.maxSize && pos + len <= size && (i + 1 < old.size() || pos + len == size);
        };
        if (incremental && oldIndex < old.size() && oldStart == pos && oldIndex != failedOld && keepable(oldIndex)) {
            if (mayTrust && trustRun > 1) {
                const qint64 from = pos;
                std::vector<HashPipeline::Piece> pieces;
                qint64 bytes = 0;
                while (qsizetype(pieces.size()) < trustRun && oldIndex < old.size() && keepable(oldIndex)
                    && (pieces.empty() || bytes + old.at(oldIndex).size <= HashPipeline::kReadSize)) {
                    const qint64 blockSize = old.at(oldIndex).size;
                    const quint64 check = checkAt(previous.checks, oldIndex);
                    trusted.push_back({ out.blocks.size(), pos, oldIndex, out.reusedBytes });
                    pieces.push_back({ blockSize, check, out.blocks.size() });
                    out.blocks.append(old.at(oldIndex));
                    checks.push_back(check);
                    out.reusedBytes += blockSize;
                    bytes += blockSize;
                    pos += blockSize;
                    oldStart = pos;
                    ++oldIndex;
                }
                pipe.checkRange(from, std::move(pieces), bytes);
                trustRun = qMin<qsizetype>(trustRun * 2, old.size());
                continue;
            }
            const qint64 len = old.at(oldIndex).size;
            if (const QString error = pipe.ensure(pos, len); !error.isEmpty())
                return makeError(error);
            const quint64 check = xxh3Of(pipe.at(pos), len);
            if (check == checkAt(previous.checks, oldIndex)) {
                out.blocks.append(old.at(oldIndex));
                checks.push_back(check);
                out.reusedBytes += len;
                pos += len;
                oldStart = pos;
                ++oldIndex;
                trustRun = 2;
                continue;
            }
        }
        // A cut depends on what came before being right: every trusted block settled first.
        if (!trusted.empty()) {
            if (const QString error = settle(); !error.isEmpty())
                return makeError(error);
            continue;
        }
        failedOld = -1;
        if (const QString error = pipe.ensure(pos, p.maxSize); !error.isEmpty())
            return makeError(error);
        const qint64 len = cutter.cut(reinterpret_cast<const quint8 *>(pipe.at(pos)), qMin(p.maxSize, size - pos));
        if (incremental) {
            // A block the old version had elsewhere (the bytes before it were inserted or
            // deleted): its hash is known, and the old blocks after it are the candidates
            // from here on.
            const quint64 check = xxh3Of(pipe.at(pos), len);
            const auto found = oldByCheck.constFind({ check, quint32(len) });
            if (found != oldByCheck.cend()) {
                out.blocks.append(old.at(*found));
                checks.push_back(check);
                out.reusedBytes += len;
                pos += len;
                oldIndex = *found + 1;
                oldStart = pos;
                continue;
            }
        }
        pipe.hash(pos, len, out.blocks.size());
        out.blocks.append(protocol::BlockRef { ContentHash(), quint32(len) });
        checks.push_back(0);
        pos += len;
    }
    if (tooMany())
        return makeError(QLatin1String(kTooManyBlocks));
    if (pipe.grew())
        return makeError(QStringLiteral("the file changed while it was read"));
    for (const auto &done : pipe.finish()) {
        out.blocks[done.index].hash = done.hash;
        checks[size_t(done.index)] = done.check;
    }
    // Files of a few blocks are cut again whole in no time: no checks to keep for them.
    if (out.blocks.size() >= kChecksFromBlocks)
        out.checks = packChecks(out.blocks, checks, p.avgSize);
    return out;
}

Result<QList<protocol::BlockRef>> Chunker::chunkWith(
    QIODevice &device, qint64 size, const Params &params, const std::atomic_bool *cancel)
{
    auto chunked = pass(device, size, params, cancel, {}, nullptr);
    if (!chunked)
        return makeError(chunked.errorMessage());
    return chunked->blocks;
}

Result<Chunker::Chunked> Chunker::chunkIncremental(
    QIODevice &device, qint64 size, const std::atomic_bool *cancel, const Previous &previous, QThreadPool *hashing)
{
    if (size > maxFileSize())
        return makeError(QStringLiteral("the file is larger than the %1 GiB FileSync supports; it is not synced")
                             .arg(maxFileSize() >> 30));
    // Content that cuts more often than random data (the average only promises the
    // expected count) is cut again with twice the average; at the largest average the
    // minimum block size alone keeps a file under the cap.
    for (qint64 avg = averageFor(size, previous);; avg *= 2) {
        auto chunked = pass(device, size, paramsForAverage(avg), cancel, previous, hashing);
        if (chunked || avg >= kLargestAverage || !device.seek(0))
            return chunked;
        if (chunked.errorMessage() != QLatin1String(kTooManyBlocks))
            return chunked;
    }
}

Result<QList<protocol::BlockRef>> Chunker::chunk(
    QIODevice &device, qint64 size, const std::atomic_bool *cancel, const Previous &previous, QThreadPool *hashing)
{
    auto chunked = chunkIncremental(device, size, cancel, previous, hashing);
    if (!chunked)
        return makeError(chunked.errorMessage());
    return chunked->blocks;
}

Result<Chunker::Chunked> Chunker::chunkFileIncremental(
    const QString &path, const std::atomic_bool *cancel, const Previous &previous, QThreadPool *hashing)
{
    QFile file(path);
    if (!file.open(QIODevice::ReadOnly))
        return makeError(QStringLiteral("cannot read %1: %2").arg(path, file.errorString()));
    return chunkIncremental(file, file.size(), cancel, previous, hashing);
}

Result<QList<protocol::BlockRef>> Chunker::chunkFile(
    const QString &path, const std::atomic_bool *cancel, const Previous &previous, QThreadPool *hashing)
{
    auto chunked = chunkFileIncremental(path, cancel, previous, hashing);
    if (!chunked)
        return makeError(chunked.errorMessage());
    return chunked->blocks;
}

QByteArray Chunker::checksFor(const QList<protocol::BlockRef> &blocks, const std::vector<quint64> &checks)
{
    if (blocks.size() < kChecksFromBlocks || size_t(blocks.size()) != checks.size())
        return {};
    qint64 size = 0;
    for (const protocol::BlockRef &b : blocks)
        size += b.size;
    return packChecks(blocks, checks, averageFor(size, Previous { size, qint64(blocks.size()) }));
}

std::vector<quint64> Chunker::unpackChecks(const QList<protocol::BlockRef> &blocks, const QByteArray &checks)
{
    if (checksAverage(blocks, checks) == 0)
        return {};
    std::vector<quint64> out(size_t(blocks.size()));
    for (qsizetype i = 0; i < blocks.size(); ++i)
        out[size_t(i)] = checkAt(checks, i);
    return out;
}

quint64 Chunker::checkOf(QByteArrayView bytes)
{
    return xxh3Of(bytes.data(), bytes.size());
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
