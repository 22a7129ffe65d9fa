#pragma once

#include "blockcodec.h"
#include "contenthash.h"
#include "result.h"

#include <QFile>
#include <QSet>
#include <QString>
#include <QStringList>

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
    // Makes every block stored so far durable. Called before a commit may reference
    // them, and on shutdown; cheap when nothing is pending.
    virtual Result<void> sync() = 0;
};

// The default store: DATA/blocks/ab/<hex of the SHA-256>, one file per block: a
// 5-byte header (codec, raw size big-endian) and the data, zstd when that pays. One
// level of 256 folders, not two (ab/cd/, 65,536 folders): on a young store nearly every
// block of the two-level layout made a folder of its own, and creating that inode cost
// as much as the block's file (half the server's CPU time on 20,000 small files). Blocks
// of the older layout (ab/cd/<hex>) are still found, read and served where they are.
//
// Durability is batched: a block is written to DATA/blocks/tmp and renamed into place at
// once (so a name never shows a half-written file while the server runs), its hash is
// appended to DATA/blocks/unsynced, and sync() makes the whole batch durable with one
// syncfs() (or a few fdatasync() calls for a small batch) before a commit may reference
// it: one disk flush per commit instead of one or two per block. After a crash, open()
// re-verifies every block listed in `unsynced` and drops the damaged ones (the
// clients' QueryBlocks then asks for them again), and removes leftovers in tmp/.
class LocalBlockStore : public BlockStore
{
public:
    static constexpr int kSyncEachUpTo = 4; // a larger batch is flushed with syncfs()
    static constexpr int kMaxPending = 4096; // blocks between two syncs, at most

    explicit LocalBlockStore(const QString &root);
    ~LocalBlockStore() override;
    Result<void> open() override;
    bool has(const ContentHash &hash) const override;
    using BlockStore::put;
    Result<void> put(const ContentHash &hash, const QByteArray &raw, const protocol::EncodedBlock &wireForm) override;
    Result<StoredBlock> get(const ContentHash &hash) const override;
    Result<void> sync() override;
    QString pathFor(const ContentHash &hash) const; // where a new block goes
    QString legacyPathFor(const ContentHash &hash) const; // the older two-level layout
    int pendingCount() const { return int(m_pending.size()); }

private:
    Result<void> write(const ContentHash &hash, const protocol::EncodedBlock &encoded, quint32 rawSize);
    void recover(); // after a crash: verifies the blocks listed in the journal
    QString existingPathFor(const ContentHash &hash) const; // empty when not stored

    QString m_root;
    QFile m_journal; // DATA/blocks/unsynced: hashes written since the last sync()
    QStringList m_pending; // their paths
    QSet<QString> m_pendingDirectories; // directories whose entries changed
};

} // namespace filesync
