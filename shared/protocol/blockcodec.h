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

// A received block whose bytes were checked against its hash, with the form it came in.
// Only verifyBlock() makes one, so a store that takes it need not hash it again (the
// server hashed every uploaded block twice: 25 % of its CPU on a 1 GiB upload).
class VerifiedBlock
{
public:
    const ContentHash &hash() const { return m_hash; }
    const QByteArray &raw() const { return m_raw; }
    const EncodedBlock &wireForm() const { return m_wireForm; }

private:
    VerifiedBlock() = default;
    friend Result<VerifiedBlock> verifyBlock(const BlockPayload &payload);

    ContentHash m_hash;
    QByteArray m_raw;
    EncodedBlock m_wireForm;
};

// decodeAndVerify() that keeps the hash and the form the block travelled in.
Result<VerifiedBlock> verifyBlock(const BlockPayload &payload);

} // namespace filesync::protocol
