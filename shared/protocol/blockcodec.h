#pragma once

#include "messages.h"

namespace filesync::protocol {

// zstd for block payloads, only when it pays: incompressible data travels raw.
struct EncodedBlock
{
    BlockCodec codec = BlockCodec::Raw;
    QByteArray data;
};

// Tries zstd unless looksIncompressible() says it cannot save the eighth we ask of it;
// keeps the compressed form only when it saves at least an eighth. Thread-safe (one zstd
// context per thread, reused: creating one per block cost more than compressing).
EncodedBlock encodeBlock(const QByteArray &raw, int level = 1);
// A cheap guess that zstd would not shrink `raw` by an eighth, from a 1 KiB sample (64
// pieces of 16 bytes evenly spread): a byte distribution near uniform (order-0 entropy
// above 7.2 bits a byte, after the small-sample correction) and no two sampled pieces
// equal. Says so for random, encrypted or already compressed data; never for text, zeros,
// or a pattern repeated at a multiple of the sampling stride (size / 64); blocks under
// 1 KiB are always tried. Costs about a microsecond, against 10-20 for a zstd attempt on
// random data and 50 when each attempt made its own context. Data of high byte entropy
// that repeats at another distance (a random run copied within one block) is missed and
// travels raw; identical blocks are still sent and stored once.
bool looksIncompressible(const QByteArray &raw);
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
