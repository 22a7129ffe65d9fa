#pragma once

#include "blockcodec.h"
#include "contenthash.h"
#include "result.h"

#include <QString>

namespace filesync {

// A block as stored: possibly compressed, with its raw size, ready to be sent as is.
struct StoredBlock
{
    protocol::BlockCodec codec = protocol::BlockCodec::Raw;
    QByteArray data;
    quint32 rawSize = 0;
};

// Content-addressed block storage, shared by all accounts (a block is stored once per
// server). Access control is not its business: MetadataStore knows which account may
// see which block. Used on the server's event thread; owned by SyncServer.
class BlockStore
{
public:
    virtual ~BlockStore() = default;
    virtual Result<void> open() = 0;
    virtual bool has(const ContentHash &hash) const = 0;
    // Verifies that `raw` hashes to `hash` (an Error otherwise, nothing stored), then
    // stores it unless it is already there. `wireForm` is the block as the sender
    // encoded it: a zstd form is kept as is instead of compressing again.
    virtual Result<void> put(const ContentHash &hash, const QByteArray &raw, const protocol::EncodedBlock &wireForm)
        = 0;
    Result<void> put(const ContentHash &hash, const QByteArray &raw)
    {
        return put(hash, raw, protocol::EncodedBlock { protocol::BlockCodec::Raw, raw });
    }
    virtual Result<StoredBlock> get(const ContentHash &hash) const = 0;
};

// The default store: DATA/blocks/ab/cd/<hex of the SHA-256>, one file per block: a
// 5-byte header (codec, raw size big-endian) and the data, zstd when that pays. A block
// is written to DATA/blocks/tmp, fdatasync'ed, renamed into place and its directory
// synced, so a crash never leaves a partial block under its final name; leftovers in
// tmp/ are removed by open().
class LocalBlockStore : public BlockStore
{
public:
    explicit LocalBlockStore(const QString &root);
    Result<void> open() override;
    bool has(const ContentHash &hash) const override;
    using BlockStore::put;
    Result<void> put(const ContentHash &hash, const QByteArray &raw, const protocol::EncodedBlock &wireForm) override;
    Result<StoredBlock> get(const ContentHash &hash) const override;
    QString pathFor(const ContentHash &hash) const;

private:
    QString m_root;
};

} // namespace filesync
