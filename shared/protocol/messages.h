#pragma once

#include "contenthash.h"
#include "protocol.h"
#include "relativepath.h"
#include "result.h"

#include <QByteArray>
#include <QCborArray>
#include <QCborMap>
#include <QCborValue>
#include <QList>
#include <QString>
#include <utility>

#include <optional>

// The wire schema: every message, its fields and its validation, in one place. Each struct
// converts to and from a CBOR map; fromCbor() validates types, ranges and paths and
// returns an Error for anything malformed. docs/protocol.md describes the same schema.
namespace filesync::protocol {

enum class MessageType : quint8 {
    Hello = 1,
    Welcome = 2,
    Login = 3,
    CreateAccount = 4,
    LoginOk = 5,
    GetChanges = 6,
    Changes = 7,
    QueryBlocks = 8,
    QueryBlocksReply = 9,
    PutBlock = 10,
    GetBlock = 11,
    BlockData = 12,
    Commit = 13,
    CommitReply = 14,
    Advanced = 15,
    GetStats = 16,
    Stats = 17,
    Ok = 18,
    ErrorReply = 19,
    Ping = 20,
    Pong = 21,
    Announce = 22,
    Announced = 23, // pushed with id 0
    PutBlocks = 24,
    GetBlocks = 25,
    BlocksData = 26,
};
inline constexpr quint8 kLastMessageType = 26;

bool isKnownType(quint64 type);
bool isBlockFrameType(quint64 type); // PutBlock(s), BlockData and BlocksData may exceed the metadata cap
// The type of a message from the first bytes of its payload: the CBOR array header of
// [type, id, body], then the type (one byte below 24, two bytes from 24 on, as 0x18 n).
// Nothing when there are too few bytes or they do not start such an array.
std::optional<quint64> peekType(QByteArrayView payloadStart);
QString typeName(MessageType type);

// One decoded frame: [type, id, body]. id 0 is reserved for unsolicited pushes.
struct Envelope
{
    Envelope(MessageType type = MessageType::Ok, quint64 id = 0, QCborMap body = {}, QByteArray data = {})
        : type(type)
        , id(id)
        , body(std::move(body))
        , data(std::move(data))
    { }

    MessageType type = MessageType::Ok;
    quint64 id = 0;
    QCborMap body;
    // A block frame's bytes (PutBlock, BlockData) travel beside `body`, as its "data"
    // entry on the wire: copied once into the frame and once out of it, never through a
    // QCborValue (which copied each block twice more). Null in every other message.
    QByteArray data;
};

QByteArray encodeFrame(const Envelope &envelope); // 4-byte length prefix included
Result<Envelope> decodeMessage(const QByteArray &payload); // payload without the prefix

enum class EntryKind : quint8 { File = 0, Directory = 1 };

struct BlockRef
{
    ContentHash hash;
    quint32 size = 0;
    friend bool operator==(const BlockRef &a, const BlockRef &b) { return a.hash == b.hash && a.size == b.size; }
};

// The state of one path on the server: what "changes since N" returns, one per path,
// latest first-committed order. version is the account sequence number of the change
// that produced this state.
struct FileEntry
{
    RelativePath path;
    EntryKind kind = EntryKind::File;
    bool deleted = false;
    qint64 size = 0;
    qint64 mtimeMs = 0;
    quint32 mode = 0;
    QList<BlockRef> blocks;
    quint64 version = 0;
    QString origin; // session name that made the change
    std::optional<RelativePath> movedFrom; // set when the change was a move
    // A file's tombstone: the digest (blockListDigest) of the content it removed, by a
    // delete or a move away. A computer whose put of that content went unanswered knows
    // from it that the put landed before the delete.
    std::optional<ContentHash> removedContent;

    QCborMap toCbor() const;
    static Result<FileEntry> fromCbor(const QCborMap &map);
    friend bool operator==(const FileEntry &, const FileEntry &) = default;
};

// The content of a file, hashed in blocks.
qint64 totalSize(const QList<BlockRef> &blocks);

// A block list as stored by the server's metadata and the client's journal: 36 bytes a
// block (32-byte SHA-256, 4-byte big-endian size). Not a wire format.
QByteArray packBlockList(const QList<BlockRef> &blocks);
QList<BlockRef> unpackBlockList(const QByteArray &packed); // ignores a trailing partial record
// One digest for a whole block list: SHA-256 of its packBlockList() form.
ContentHash blockListDigest(const QList<BlockRef> &blocks);

// A file's new block list said as an edit of its base version's list: the
// runs of base blocks it keeps and the new refs between them, in order. Runs are
// ascending and do not overlap, so a hostile delta cannot make the list longer than its
// own item count allows (at most kMaxBlocksPerEntry blocks in all). `digest` is the
// SHA-256 of the expanded list (packBlockList): a client whose journal disagrees with the
// server about the base gets a clear refusal instead of a wrong file.
struct BlockListDelta
{
    struct Item
    {
        quint32 keepFrom = 0; // with keepCount > 0: base blocks keepFrom .. keepFrom + keepCount - 1
        quint32 keepCount = 0; // 0: this item is the new block `ref`
        BlockRef ref;
        friend bool operator==(const Item &, const Item &) = default;
    };
    QList<Item> items;
    ContentHash digest;

    // The delta from `base` to `target` (greedy, ascending runs of equal blocks).
    static BlockListDelta between(const QList<BlockRef> &base, const QList<BlockRef> &target);
    // How many base blocks the delta keeps.
    qint64 keptBlocks() const;
    // The new refs only (what a receiver must check it may reference).
    QList<BlockRef> newRefs() const;
    // The expanded list, or the reason the delta does not fit `base` (an index past its
    // end, a digest that does not match): nothing is allocated past the caps first.
    Result<QList<BlockRef>> applyTo(const QList<BlockRef> &base) const;
    // Shape checks that need no base: caps, ascending runs, non-empty runs.
    Result<void> validate() const;

    QCborArray toCbor() const;
    static Result<BlockListDelta> fromCbor(const QCborValue &items, const QCborValue &digest);
    friend bool operator==(const BlockListDelta &, const BlockListDelta &) = default;
};

enum class CommitOpKind : quint8 { Put = 0, Delete = 1, Move = 2 };

// One change a client asks to commit. baseVersion is the version the client last saw
// at `path` (0 = it believes the path does not exist); a different current version is a
// conflict. A Move moves `from` (at baseVersion) to `path`, which must not exist.
struct CommitOp
{
    CommitOpKind op = CommitOpKind::Put;
    RelativePath path;
    std::optional<RelativePath> from;
    EntryKind kind = EntryKind::File;
    quint64 baseVersion = 0;
    qint64 size = 0;
    qint64 mtimeMs = 0;
    quint32 mode = 0;
    QList<BlockRef> blocks;
    // Instead of `blocks` (a put of a file): the new list as an edit of the
    // list at baseVersion; the server expands it against its own row.
    std::optional<BlockListDelta> delta;

    QCborMap toCbor() const;
    static Result<CommitOp> fromCbor(const QCborMap &map);
};

enum class CommitStatus : quint8 { Applied = 0, Conflict = 1, Rejected = 2 };

struct CommitResult
{
    CommitStatus status = CommitStatus::Applied;
    quint64 version = 0; // the new version when applied
    quint64 currentVersion = 0; // the server's version when in conflict
    QString reason; // when rejected

    QCborMap toCbor() const;
    static Result<CommitResult> fromCbor(const QCborMap &map);
};

// ---- messages ----

struct Hello
{
    quint32 version = kProtocolVersion;
    QString software;
    QCborMap toCbor() const;
    static Result<Hello> fromCbor(const QCborMap &map); // checks the magic
};

struct Welcome
{
    quint32 version = 0;
    QString software;
    QCborMap toCbor() const;
    static Result<Welcome> fromCbor(const QCborMap &map);
};

struct Login
{
    QString account; // the bearer secret; never logged
    QString session; // human-readable session (computer) name
    QCborMap toCbor() const;
    static Result<Login> fromCbor(const QCborMap &map);
};

struct CreateAccount
{
    QString session;
    QCborMap toCbor() const;
    static Result<CreateAccount> fromCbor(const QCborMap &map);
};

struct LoginOk
{
    QString account; // set only in reply to CreateAccount
    quint64 sessionId = 0;
    quint64 head = 0;
    QCborMap toCbor() const;
    static Result<LoginOk> fromCbor(const QCborMap &map);
};

struct GetChanges
{
    quint64 since = 0;
    quint32 limit = kMaxEntriesPerChanges;
    QCborMap toCbor() const;
    static Result<GetChanges> fromCbor(const QCborMap &map);
};

struct Changes
{
    QList<FileEntry> entries;
    quint64 head = 0; // the account's head when the reply was built
    quint64 next = 0; // ask again with since = next when more is true
    bool more = false;
    QCborMap toCbor() const;
    static Result<Changes> fromCbor(const QCborMap &map);
};

struct QueryBlocks
{
    QList<ContentHash> hashes;
    QCborMap toCbor() const;
    static Result<QueryBlocks> fromCbor(const QCborMap &map);
};

struct QueryBlocksReply
{
    QList<ContentHash> missing; // blocks this account must upload before committing them
    QCborMap toCbor() const;
    static Result<QueryBlocksReply> fromCbor(const QCborMap &map);
};

enum class BlockCodec : quint8 { Raw = 0, Zstd = 1 };

// PutBlock and BlockData share a body.
struct BlockPayload
{
    ContentHash hash; // of the raw bytes
    BlockCodec codec = BlockCodec::Raw;
    quint32 rawSize = 0;
    QByteArray data; // encoded with codec
    QCborMap toCbor() const; // data included
    QCborMap headerCbor() const; // all but data: for Envelope::data
    // From Envelope::data when the frame decoder put the bytes there, else from the body
    // (no fromCbor(body): a received block frame's body does not hold its bytes).
    static Result<BlockPayload> fromEnvelope(const Envelope &envelope);
    Envelope toEnvelope(MessageType type, quint64 id) const;
};

struct GetBlock
{
    ContentHash hash;
    // A block the account does not hold yet is kept waiting (parked) until one
    // of its sessions uploads it, for a bounded time, instead of being answered not-found.
    bool wait = false;
    QCborMap toCbor() const;
    static Result<GetBlock> fromCbor(const QCborMap &map);
};

// Several blocks in one frame, for many small files (PutBlocks, c->s,
// answered Ok once all are verified, stored and proven; BlocksData, the answer to
// GetBlocks). `blocks` says each block's hash, codec, raw size and encoded length, in
// order; their encoded bytes follow one another in the frame's one `data` string
// (Envelope::data), never through a QCborValue. A batch's bytes are copied once more each
// way than a single block's: gathered into `data` before the frame is written, and sliced
// out of it into each BlockPayload (small blocks only: at most about 1 MiB a batch).
struct BlockBatch
{
    QList<BlockPayload> blocks; // PutBlocks: 1 .. kMaxBlocksPerBatch; BlocksData: 0 ..
    // BlocksData only: requested hashes the account does not hold (not-found), and
    // requested ones left out to keep the reply within kBatchReplyBudget (ask again).
    QList<ContentHash> missing;
    QList<ContentHash> later;
    qint64 dataBytes() const; // encoded bytes of all blocks
    Envelope toEnvelope(MessageType type, quint64 id) const;
    static Result<BlockBatch> fromEnvelope(const Envelope &envelope);
};

// The blocks of many small files in one request, answered with one
// BlocksData (no `wait`: a prefetch of an announced file uses GetBlock).
struct GetBlocks
{
    QList<ContentHash> hashes; // 1 .. kMaxBlocksPerBatch
    QCborMap toCbor() const;
    static Result<GetBlocks> fromCbor(const QCborMap &map);
};

struct Commit
{
    QList<CommitOp> ops;
    QCborMap toCbor() const;
    static Result<Commit> fromCbor(const QCborMap &map);
};

struct CommitReply
{
    QList<CommitResult> results; // one per op, same order
    quint64 head = 0;
    // The account's head just before this commit: versions prev+1 .. head are exactly the
    // rows this commit wrote.
    quint64 prev = 0;
    QCborMap toCbor() const;
    static Result<CommitReply> fromCbor(const QCborMap &map);
};

// A file whose blocks the sending session is about to upload (Announce,
// c->s, answered Ok), relayed by the server to the account's other sessions
// (Announced, id 0, with `origin` set). Nothing is stored: it is a hint that lets the
// others fetch the blocks while they arrive, never a change of the account's folder.
struct Announce
{
    RelativePath path;
    qint64 size = 0;
    QList<BlockRef> blocks; // 1 .. kMaxBlocksPerEntry
    QString origin; // Announced only: the announcing session's name
    QCborMap toCbor() const;
    static Result<Announce> fromCbor(const QCborMap &map);
};

struct Advanced
{
    quint64 head = 0;
    QCborMap toCbor() const;
    static Result<Advanced> fromCbor(const QCborMap &map);
};

struct Stats
{
    quint64 bytesIn = 0; // this session
    quint64 bytesOut = 0;
    quint64 serverBytesIn = 0; // all sessions since start
    quint64 serverBytesOut = 0;
    quint64 sessions = 0; // connected now
    QCborMap toCbor() const;
    static Result<Stats> fromCbor(const QCborMap &map);
};

// Error codes a client can act on.
namespace errors {
inline const char kProtocolVersion[] = "protocol-version";
inline const char kBadRequest[] = "bad-request";
inline const char kUnknownAccount[] = "unknown-account";
inline const char kRateLimited[] = "rate-limited";
inline const char kNotAuthenticated[] = "not-authenticated";
inline const char kMissingBlock[] = "missing-block";
inline const char kNotFound[] = "not-found";
inline const char kInternal[] = "internal";
inline const char kNotYet[] = "not-yet"; // a parked GetBlock whose block did not arrive in time
inline const char kTimeout[] = "timeout"; // a frame or the connection was idle too long
} // namespace errors

struct ErrorReply
{
    QString code;
    QString message;
    QString scope {}; // rate-limited: "account", "address" or "global"
    quint32 retryAfter = 0; // rate-limited: seconds until a login may succeed again
    QCborMap toCbor() const;
    static Result<ErrorReply> fromCbor(const QCborMap &map);
};

} // namespace filesync::protocol

Q_DECLARE_METATYPE(filesync::protocol::Envelope)
