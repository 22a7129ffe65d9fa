#pragma once

#include "blockcodec.h"
#include "contenthash.h"
#include "protocol.h"
#include "result.h"

#include <QFile>
#include <QHash>
#include <QSet>
#include <QString>
#include <QStringList>

#include <optional>

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
    // stores it unless it is already there, in `wireForm`, the form the sender encoded it
    // in: senders try zstd and send raw only when it does not pay (docs/protocol.md), so
    // the server does not try again (that was 9 % of its CPU on small random files).
    virtual Result<void> put(const ContentHash &hash, const QByteArray &raw, const protocol::EncodedBlock &wireForm)
        = 0;
    // Compressed here when that pays.
    Result<void> put(const ContentHash &hash, const QByteArray &raw)
    {
        return put(hash, raw, protocol::encodeBlock(raw, 1));
    }
    // put() for a block protocol::verifyBlock() checked already: not hashed again.
    virtual Result<void> put(const protocol::VerifiedBlock &block) = 0;
    virtual Result<StoredBlock> get(const ContentHash &hash) const = 0;
    // Makes every block stored so far durable. Called before a commit may reference
    // them, and on shutdown; cheap when nothing is pending.
    virtual Result<void> sync() = 0;
};

// The default store. Blocks are appended to pack files, DATA/blocks/packs/<8 hex>.fsp: a
// 16-byte file header {magic "FSPK", format (big-endian, kPackFormat), 8 zero bytes}, then
// records of {magic "FSP1", SHA-256, codec, raw size, data size (big-endian), data}; an
// in-memory index (hash -> pack, offset) is rebuilt from the records' headers at open().
// A pack whose format this build does not know, or whose file header is damaged, makes
// open() fail (docs/operations.md, "Pack format"); it is never read as damaged records
// and cut.
// Why packs: on this kind of journal-less ext4 creating an inode costs far more than
// writing 8 KiB (ext4 scans past every recently freed inode), and it was 40 % of the
// server's CPU on 20,000 small files; a pack costs one write() per block, whatever its
// size. The index costs about 100 bytes of memory per block.
//
// Durability is batched: a block is appended at once, and sync() makes the whole batch
// durable with one fdatasync() of the pack (the write-back of each kWritebackEvery bytes
// is started as soon as they are appended, so that the flush at a commit waits for the
// last few MiB only, not for the whole upload) before a commit may reference it: one
// disk flush per commit instead of one or two per block. DATA/blocks/unsynced lists what
// a crash could damage: "pack N OFFSET" where the pack's unsynced part begins (written
// and flushed before the first record of a batch). After a crash, open() re-verifies
// that part of the pack, cuts the pack at its first damaged or partial record (the
// clients' QueryBlocks then asks for the rest again), and removes leftovers in tmp/.
class LocalBlockStore : public BlockStore
{
public:
    static constexpr int kMaxPending = 4096; // blocks between two syncs, at most
    static constexpr qint64 kWritebackEvery = 8 * 1024 * 1024; // of a pack: write-back started
    static constexpr qint64 kMaxPackBytes = 256 * 1024 * 1024; // a new pack starts beyond
    static constexpr int kPackHeaderSize = 45; // of a record: magic 4, hash 32, codec 1, raw 4, data 4
    static constexpr quint32 kPackFormat = 1; // of the .fsp packs this build writes and reads
    static constexpr int kPackFileHeaderSize = 16; // magic 4, format 4, reserved 8

    // `maxPackBytes`: where a new pack starts (smaller in tests).
    explicit LocalBlockStore(const QString &root, qint64 maxPackBytes = kMaxPackBytes);
    ~LocalBlockStore() override;
    Result<void> open() override;
    bool has(const ContentHash &hash) const override;
    using BlockStore::put;
    Result<void> put(const ContentHash &hash, const QByteArray &raw, const protocol::EncodedBlock &wireForm) override;
    Result<void> put(const protocol::VerifiedBlock &block) override;
    Result<StoredBlock> get(const ContentHash &hash) const override;
    Result<void> sync() override;
    int pendingCount() const { return m_pendingPacked; }
    // Where a block's record starts (for tests and tools), if it is stored.
    struct PackedAt
    {
        QString path;
        qint64 offset = 0;
    };
    std::optional<PackedAt> packedAt(const ContentHash &hash) const;

private:
    struct Location
    {
        quint32 pack = 0;
        quint8 codec = 0;
        quint32 rawSize = 0;
        quint32 dataSize = 0;
        qint64 offset = 0; // of the record's header
    };

    // put() after the hash check.
    Result<void> store(const ContentHash &hash, const QByteArray &raw, const protocol::EncodedBlock &wireForm);
    Result<void> append(const ContentHash &hash, const protocol::EncodedBlock &encoded, quint32 rawSize);
    Result<void> openPack(quint32 number);
    // The packs in packs/; an error for a pack of an unknown format, or a damaged file
    // header. Nothing is changed.
    Result<void> findPacks();
    void recover(); // after a crash: verifies the pack records listed in the journal
    void loadPacks(const QHash<quint32, qint64> &unsyncedFrom);
    QString packPath(quint32 number) const;
    int readerFor(quint32 pack) const; // a read-only descriptor of the pack, or -1

    QString m_root;
    qint64 m_maxPackBytes;
    QFile m_journal; // DATA/blocks/unsynced: what was written since the last sync()
    QSet<QString> m_pendingDirectories; // directories whose entries changed
    QHash<ContentHash, Location> m_packed;
    QSet<quint32> m_packNumbers; // every pack in packs/, by number
    QFile m_pack; // the pack being appended to
    quint32 m_packNumber = 0;
    qint64 m_packSize = 0;
    qint64 m_writebackFrom = 0; // of the pack: where no write-back was started yet
    int m_pendingPacked = 0; // records appended since the last sync()
    mutable QHash<quint32, int> m_readers; // pack -> read-only descriptor, for get()
};

} // namespace filesync
