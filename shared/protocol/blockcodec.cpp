#include "blockcodec.h"

#include <array>
#include <cmath>
#include <cstring>
#include <memory>
#include <numbers>

#include <zstd.h>

namespace filesync::protocol {

namespace {
constexpr qsizetype kMinCompressed = 128; // smaller blocks always travel raw
constexpr int kPieces = 64; // sampled pieces, evenly spread
constexpr int kPieceSize = 16;
constexpr int kSample = kPieces * kPieceSize; // 1 KiB; a smaller block is always tried
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

// c * log2(c) for every count a sample can hold: the entropy without a log2 per bin.
const std::array<double, kSample + 1> &countBits()
{
    static const std::array<double, kSample + 1> table = [] {
        std::array<double, kSample + 1> t {};
        for (int c = 1; c <= kSample; ++c)
            t[c] = c * std::log2(double(c));
        return t;
    }();
    return table;
}
} // namespace

bool looksIncompressible(const QByteArray &raw)
{
    const qsizetype n = raw.size();
    if (n < kSample)
        return false;
    const auto *bytes = reinterpret_cast<const unsigned char *>(raw.constData());
    // Pieces at a fixed stride (a 1 KiB block is all pieces): data that repeats at a
    // multiple of the stride shows as equal pieces, which order-0 entropy would miss.
    // Two histograms, so that equal neighbours do not wait on each other's increment.
    const qsizetype stride = n / kPieces;
    std::array<quint16, 256> even {};
    std::array<quint16, 256> odd {};
    std::array<quint64, 2 * kPieces> seen {}; // open addressing on the pieces' 8-byte mix
    for (int k = 0; k < kPieces; ++k) {
        const unsigned char *piece = bytes + qsizetype(k) * stride;
        for (int i = 0; i < kPieceSize; i += 2) {
            ++even[piece[i]];
            ++odd[piece[i + 1]];
        }
        quint64 a;
        quint64 b;
        std::memcpy(&a, piece, 8);
        std::memcpy(&b, piece + 8, 8);
        // Equal pieces give equal keys; unequal ones rarely do, and then zstd is only tried.
        quint64 key = (a ^ (b * 0x9e3779b97f4a7c15ull)) | 1;
        for (quint64 slot = (key * 0xff51afd7ed558ccdull) >> 57;; slot = (slot + 1) % seen.size()) {
            if (seen[slot] == key)
                return false;
            if (seen[slot] == 0) {
                seen[slot] = key;
                break;
            }
        }
    }
    const auto &bitsOf = countBits();
    double sum = 0;
    int used = 0;
    for (int v = 0; v < 256; ++v) {
        const int c = even[v] + odd[v];
        used += c != 0;
        sum += bitsOf[c];
    }
    // Shannon's entropy of the sample (log2 N - sum c log2 c / N), plus Miller and Madow's
    // correction: a sample underestimates it by about (used - 1) / 2N nats.
    const double bits
        = std::log2(double(kSample)) - sum / kSample + double(used - 1) / (2.0 * kSample * std::numbers::ln2);
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
