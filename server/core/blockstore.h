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
// Format marker (docs/operations.md, "Pack formats"): a pack whose format this build does
// not know, or whose file header is damaged, makes open() fail; it is never read as
// damaged records and cut. Packs of format 1, <8 hex>.pack without a file header (written
// by earlier builds), are still read, never appended to: builds from before the marker read
// *.pack only and cut a pack at the first record they do not understand (one over 64 KiB,
// or a file header), so they never see a .fsp pack, and the file packs/~pack-format-2.pack
// (kFormatMarker) makes them refuse to start ("a stray file") instead of serving without
// the blocks of the new packs.
// Why packs: on this kind of journal-less ext4 creating an inode costs far more than
// writing 8 KiB (ext4 scans past every recently freed inode), and it was 40 % of the
// server's CPU on 20,000 small files; a pack costs one write() per block. Every block is
// packed, whatever its size (until W1 profiling, blocks over 64 KiB got a file each: about
// half of a big file's blocks, one inode, a rename and a syncfs() share each; W1 in
// docs/benchmarks.md). Block files, DATA/blocks/ab/<hex> (a 5-byte header: codec, raw
// size; then the data), of stores written before, are still found, read and served where
// they are, as are those of the older two-level layout (ab/cd/<hex>); a store constructed
// with a smaller `packedUpTo` (tests) still writes them. The index costs about 100 bytes
// of memory per packed block.
//
// Durability is batched: a block is appended at once, and sync() makes the whole batch
// durable with one fdatasync() of the pack (the write-back of each kWritebackEvery bytes
// is started as soon as they are appended, so that the flush at a commit waits for the
// last few MiB only, not for the whole upload) before a commit may reference it: one
// disk flush per commit instead of one or two per block. DATA/blocks/unsynced lists what
// a crash could damage: "pack N OFFSET" where the pack's unsynced part begins (written
// and flushed before the first record of a batch), and the hash of every block file
// written since the last sync. After a crash, open() re-verifies that part of the pack
// and those blocks, cuts the pack at its first damaged or partial record (the clients'
// QueryBlocks then asks for the rest again), and removes leftovers in tmp/.
class LocalBlockStore : public BlockStore
{
public:
    static constexpr int kSyncEachUpTo = 4; // a larger batch is flushed with syncfs()
    static constexpr int kMaxPending = 4096; // blocks between two syncs, at most
    static constexpr qint64 kPackedUpTo = protocol::kMaxBlockSize; // stored size of a packed block, at most
    static constexpr qint64 kWritebackEvery = 8 * 1024 * 1024; // of a pack: write-back started
    static constexpr qint64 kMaxPackBytes = 256 * 1024 * 1024; // a new pack starts beyond
    static constexpr int kPackHeaderSize = 45; // of a record: magic 4, hash 32, codec 1, raw 4, data 4
    static constexpr quint32 kPackFormat = 2; // of the .fsp packs this build writes and reads
    static constexpr int kPackFileHeaderSize = 16; // magic 4, format 4, reserved 8
    static constexpr char kFormatMarker[] = "~pack-format-2.pack"; // in packs/, see above

    // `maxPackBytes`: where a new pack starts; `packedUpTo`: a block whose stored form is
    // larger gets a file of its own (both smaller in tests).
    explicit LocalBlockStore(const QString &root, qint64 maxPackBytes = kMaxPackBytes, qint64 packedUpTo = kPackedUpTo);
    ~LocalBlockStore() override;
    Result<void> open() override;
    bool has(const ContentHash &hash) const override;
    using BlockStore::put;
    Result<void> put(const ContentHash &hash, const QByteArray &raw, const protocol::EncodedBlock &wireForm) override;
    Result<void> put(const protocol::VerifiedBlock &block) override;
    Result<StoredBlock> get(const ContentHash &hash) const override;
    Result<void> sync() override;
    QString pathFor(const ContentHash &hash) const; // where a new unpacked block goes
    QString legacyPathFor(const ContentHash &hash) const; // the older two-level layout
    int pendingCount() const { return int(m_pending.size()) + m_pendingPacked; }
    // Where a packed block's record starts (for tests and tools), if it is packed.
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
    Result<void> write(const ContentHash &hash, const protocol::EncodedBlock &encoded, quint32 rawSize);
    Result<void> append(const ContentHash &hash, const protocol::EncodedBlock &encoded, quint32 rawSize);
    Result<void> openPack(quint32 number);
    // The packs in packs/ (both formats) and the format marker; an error for a pack or
    // marker of an unknown format, or a damaged file header. Nothing is changed.
    Result<void> findPacks();
    void recover(); // after a crash: verifies the blocks listed in the journal
    void loadPacks(const QHash<quint32, qint64> &unsyncedFrom);
    QString packPath(quint32 number) const;
    QString existingPathFor(const ContentHash &hash) const; // empty when not stored as a file
    int readerFor(quint32 pack) const; // a read-only descriptor of the pack, or -1

    QString m_root;
    qint64 m_maxPackBytes;
    qint64 m_packedUpTo;
    QFile m_journal; // DATA/blocks/unsynced: what was written since the last sync()
    QStringList m_pending; // paths of block files written since the last sync()
    QSet<QString> m_pendingDirectories; // directories whose entries changed
    QHash<ContentHash, Location> m_packed;
    QSet<quint32> m_packNumbers; // every pack in packs/, by number
    QSet<quint32> m_legacyPacks; // the format-1 packs among them (<8 hex>.pack, no file header)
    QFile m_pack; // the pack being appended to
    quint32 m_packNumber = 0;
    qint64 m_packSize = 0;
    qint64 m_writebackFrom = 0; // of the pack: where no write-back was started yet
    int m_pendingPacked = 0; // records appended since the last sync()
    mutable QHash<quint32, int> m_readers; // pack -> read-only descriptor, for get()
    // Whether any block file may exist (a directory of them at open(), or one written):
    // has() of a new block then costs no stat() of two paths (4 a block on W1's upload).
    bool m_mayHaveFiles = false;
};

} // namespace filesync
