#include "blockcodec.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <memory>
#include <numbers>

#include <zstd.h>

namespace filesync::protocol {

namespace {
constexpr qsizetype kMinCompressed = 128; // smaller blocks always travel raw
constexpr int kPieces = 256; // sampled pieces, evenly spread
constexpr int kPieceSize = 16;
constexpr qsizetype kMinSample = 1024; // below it the entropy estimate is too coarse: try zstd
constexpr double kIncompressibleBits = 7.2; // order-0 coding saves < 1/8 above ~7 bits

struct ContextDeleter
{
    void operator()(ZSTD_CCtx *context) const { ZSTD_freeCCtx(context); }
};

ZSTD_CCtx *threadContext()
{
    thread_local std::unique_ptr<ZSTD_CCtx, ContextDeleter> context(ZSTD_createCCtx());
    return context.get();
}
} // namespace

bool looksIncompressible(const QByteArray &raw)
{
    const qsizetype n = raw.size();
    if (n < kMinSample)
        return false;
    const auto *bytes = reinterpret_cast<const unsigned char *>(raw.constData());
    // Pieces at a fixed stride (a block of up to 4 KiB is all pieces): data that repeats
    // at a multiple of the stride shows as equal pieces, which order-0 entropy would miss.
    const int count = int(qMin<qsizetype>(kPieces, n / kPieceSize));
    const qsizetype stride = n / count;
    std::array<quint32, 256> counts {};
    std::array<std::pair<quint64, quint64>, kPieces> pieces;
    for (int k = 0; k < count; ++k) {
        const unsigned char *piece = bytes + qsizetype(k) * stride;
        for (int i = 0; i < kPieceSize; ++i)
            ++counts[piece[i]];
        std::memcpy(&pieces[k].first, piece, 8);
        std::memcpy(&pieces[k].second, piece + 8, 8);
    }
    std::sort(pieces.begin(), pieces.begin() + count);
    if (std::adjacent_find(pieces.begin(), pieces.begin() + count) != pieces.begin() + count)
        return false;
    const qsizetype sampled = qsizetype(count) * kPieceSize;
    double bits = 0;
    int seen = 0;
    for (const quint32 c : counts) {
        if (c == 0)
            continue;
        ++seen;
        const double p = double(c) / double(sampled);
        bits -= p * std::log2(p);
    }
    // Miller-Madow: a sample underestimates the entropy by about (seen - 1) / 2N nats.
    bits += double(seen - 1) / (2.0 * double(sampled) * std::numbers::ln2);
    return bits > kIncompressibleBits;
}

EncodedBlock encodeBlock(const QByteArray &raw, int level)
{
    if (raw.size() < kMinCompressed || looksIncompressible(raw))
        return { BlockCodec::Raw, raw };
    ZSTD_CCtx *context = threadContext();
    if (!context)
        return { BlockCodec::Raw, raw };
    // Room for what we would keep only (at least an eighth smaller): zstd gives up as soon
    // as its output does not fit, and no compressBound-sized buffer is allocated.
    QByteArray out(raw.size() - raw.size() / 8, Qt::Uninitialized);
    const size_t n
        = ZSTD_compressCCtx(context, out.data(), size_t(out.size()), raw.constData(), size_t(raw.size()), level);
    if (ZSTD_isError(n))
        return { BlockCodec::Raw, raw };
    out.truncate(qsizetype(n));
    out.squeeze(); // a block in flight or queued holds no slack
    return { BlockCodec::Zstd, out };
}

Result<QByteArray> decodeBlock(BlockCodec codec, const QByteArray &data, quint32 rawSize)
{
    if (qint64(rawSize) > kMaxBlockSize)
        return makeError(QStringLiteral("block larger than the cap"));
    if (codec == BlockCodec::Raw) {
        if (quint32(data.size()) != rawSize)
            return makeError(QStringLiteral("block size mismatch"));
        return data;
    }
    const unsigned long long frameSize = ZSTD_getFrameContentSize(data.constData(), size_t(data.size()));
    if (frameSize != rawSize)
        return makeError(QStringLiteral("compressed block does not announce the expected size"));
    QByteArray out(qsizetype(rawSize), Qt::Uninitialized);
    const size_t n = ZSTD_decompress(out.data(), size_t(out.size()), data.constData(), size_t(data.size()));
    if (ZSTD_isError(n) || n != rawSize)
        return makeError(QStringLiteral("corrupt compressed block"));
    return out;
}

qint64 zstdContentSize(const QByteArray &data)
{
    const unsigned long long size = ZSTD_getFrameContentSize(data.constData(), size_t(data.size()));
    if (size == ZSTD_CONTENTSIZE_ERROR || size == ZSTD_CONTENTSIZE_UNKNOWN || size > (1ull << 40))
        return -1;
    return qint64(size);
}

Result<QByteArray> decodeAndVerify(const BlockPayload &payload)
{
    auto raw = decodeBlock(payload.codec, payload.data, payload.rawSize);
    if (!raw)
        return raw.error();
    if (ContentHash::of(*raw) != payload.hash)
        return makeError(QStringLiteral("block content does not match its hash"));
    return raw;
}

Result<VerifiedBlock> verifyBlock(const BlockPayload &payload)
{
    auto raw = decodeAndVerify(payload);
    if (!raw)
        return raw.error();
    VerifiedBlock block;
    block.m_hash = payload.hash;
    block.m_raw = std::move(raw).value();
    block.m_wireForm = EncodedBlock { payload.codec, payload.data };
    return block;
}

} // namespace filesync::protocol
