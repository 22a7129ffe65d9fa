#include "blockcodec.h"

#include <zstd.h>

namespace filesync::protocol {

EncodedBlock encodeBlock(const QByteArray &raw, int level)
{
    if (raw.size() < 128)
        return { BlockCodec::Raw, raw };
    QByteArray out(qsizetype(ZSTD_compressBound(size_t(raw.size()))), Qt::Uninitialized);
    const size_t n = ZSTD_compress(out.data(), size_t(out.size()), raw.constData(), size_t(raw.size()), level);
    // Keep the compressed form only if it saves at least an eighth.
    if (ZSTD_isError(n) || qsizetype(n) > raw.size() - raw.size() / 8)
        return { BlockCodec::Raw, raw };
    out.truncate(qsizetype(n));
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
