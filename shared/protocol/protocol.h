#pragma once

#include <QtGlobal>

// Constants of the wire protocol. docs/protocol.md is the human description; change both.
namespace filesync::protocol {

inline constexpr char kMagic[] = "FSYN";
// One number (protocol 1.0 in docs/protocol.md): both sides must say the same, or the
// handshake is refused. A change of the wire format is a new number.
inline constexpr quint32 kProtocolVersion = 1;

// Frame caps, checked before any allocation.
inline constexpr qint64 kMaxMetadataFrame = 1024 * 1024; // every message but block data
inline constexpr qint64 kMaxBlockSize = 16 * 1024 * 1024; // largest block (raw or encoded)
inline constexpr qint64 kMaxBlockFrame = kMaxBlockSize + 64 * 1024; // PutBlock(s) / BlockData / BlocksData
// Before login: Hello, Login, CreateAccount and Ping only, each well under this.
inline constexpr qint64 kMaxHandshakeFrame = 4096;
// What a frame may decode to, checked by a pass over its CBOR before any value is built: a
// container costs about a hundred bytes decoded, so a metadata frame may hold one per 8
// bytes (ours hold one per 20 or more), a block frame's header one per block of a batch.
inline constexpr qint64 kMaxContainersBase = 4096;
inline constexpr qint64 kMaxNesting = 16; // ours nest 6 deep
inline constexpr int kMaxBlocksPerEntry = 16384; // one file's block list, inline
inline constexpr int kMaxHashesPerQuery = 4096; // QueryBlocks
// Blocks in one PutBlocks or BlocksData, hashes in one GetBlocks.
inline constexpr int kMaxBlocksPerBatch = 1024;
// What the blocks of one PutBlock(s) may decode to, from the sizes their headers declare.
inline constexpr qint64 kMaxDecodedPerRequest = kMaxBlockSize;
// The most block bytes a server puts into one BlocksData; hashes past it go back as `later`.
inline constexpr qint64 kBatchReplyBudget = 4 * 1024 * 1024;
// What our clients put into one PutBlocks or GetBlocks: blocks up to kBatchBlockBytes (a
// bigger one goes alone), at most kBatchBlocks of them and about kBatchBytes of data.
inline constexpr qint64 kBatchBlockBytes = 64 * 1024;
inline constexpr int kBatchBlocks = 256;
inline constexpr qint64 kBatchBytes = 1024 * 1024;
inline constexpr int kMaxOpsPerCommit = 2000;
// Rows one Commit may write: an op that would go past it is Rejected, unless it is the
// commit's first (a big folder moves alone, and clients send a folder move alone).
inline constexpr qint64 kMaxRowsPerCommit = 20000;
inline constexpr int kMaxEntriesPerChanges = 2000;
// Budget a sender keeps a metadata message under, leaving headroom below the cap.
inline constexpr qint64 kMetadataBudget = 900 * 1024;

// Socket read buffer: bounded, and larger than one block frame.
inline constexpr qint64 kSocketReadBuffer = kMaxBlockFrame + 1024 * 1024;

} // namespace filesync::protocol
