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
    // Stores verified raw bytes; the caller has checked that they hash to `hash`.
    virtual Result<void> put(const ContentHash &hash, const QByteArray &raw) = 0;
    virtual Result<StoredBlock> read(const ContentHash &hash) const = 0;
};

// The default store: DATA/blocks/ab/cd/<hex>, one file per block, a one-byte codec
// header, zstd when it pays; written to a temporary file, synced and renamed, so a
// crash never leaves a partial block under its final name.
class LocalBlockStore : public BlockStore
{
public:
    explicit LocalBlockStore(const QString &root);
    Result<void> open() override;
    bool has(const ContentHash &hash) const override;
    Result<void> put(const ContentHash &hash, const QByteArray &raw) override;
    Result<StoredBlock> read(const ContentHash &hash) const override;

private:
    QString pathFor(const ContentHash &hash) const;
    QString m_root;
};

} // namespace filesync
