#pragma once

#include "messages.h"

namespace filesync::protocol {

// zstd for block payloads, only when it pays: incompressible data travels raw.
// Encoding is cheap to give up on (zstd is fast on random data), so every block tries.
struct EncodedBlock
{
    BlockCodec codec = BlockCodec::Raw;
    QByteArray data;
};

EncodedBlock encodeBlock(const QByteArray &raw, int level = 1);
// Decodes and checks the size; never allocates more than rawSize (itself capped).
Result<QByteArray> decodeBlock(BlockCodec codec, const QByteArray &data, quint32 rawSize);
// The raw size a zstd frame announces, or -1.
qint64 zstdContentSize(const QByteArray &data);
// Decodes and verifies the SHA-256 against the announced hash.
Result<QByteArray> decodeAndVerify(const BlockPayload &payload);

} // namespace filesync::protocol
