#include "blockcodec.h"
#include "framereader.h"
#include "messagechannel.h"
#include "messages.h"

#include <QBuffer>
#include <QCborArray>
#include <QCborStreamWriter>
#include <QCborValue>
#include <QRandomGenerator>
#include <QSignalSpy>
#include <QTcpServer>
#include <QTest>
#include <QTimer>
#include <QtEndian>

#include <zstd.h>

using namespace filesync;
using namespace filesync::protocol;

namespace {
RelativePath path(const char *p)
{
    return *RelativePath::fromString(QString::fromUtf8(p));
}

QByteArray randomBlock(qsizetype size, quint32 seed)
{
    QByteArray out(size, Qt::Uninitialized);
    QRandomGenerator rng(seed);
    for (qsizetype i = 0; i < size; ++i)
        out[i] = char(rng.generate() & 0xff);
    return out;
}

QByteArray rawFrame(const QByteArray &payload)
{
    QByteArray frame(4, Qt::Uninitialized);
    qToBigEndian(quint32(payload.size()), frame.data());
    return frame + payload;
}

QCborValue run0()
{
    return QCborArray { 0, 1 };
}

QByteArray cbor(const QCborValue &v)
{
    return v.toCbor();
}

FileEntry sampleEntry()
{
    FileEntry e;
    e.path = path("docs/r\u00e9sum\u00e9.txt");
    e.size = 7;
    e.mtimeMs = 1700000000123;
    e.mode = 0644;
    e.blocks = { BlockRef { ContentHash::of("abc"), 3 }, BlockRef { ContentHash::of("defg"), 4 } };
    e.version = 42;
    e.origin = QStringLiteral("laptop");
    e.movedFrom = path("old.txt");
    return e;
}
} // namespace

class tst_Protocol : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void entryRoundTrip();
    void commitRoundTrip();
    void announceRoundTrip();
    void blockDeltaRoundTrip_data();
    void blockDeltaRoundTrip();
    void hostileBlockDeltas_data();
    void hostileBlockDeltas();
    void envelopeRoundTripAnySplit();
    void readsStraightFromDevice();
    void malformedFrames_data();
    void malformedFrames();
    void malformedBodies_data();
    void malformedBodies();
    void oversizedLengthRejectedBeforeBuffering();
    void blockFramesBesideTheBody();
    void malformedBlockFrames_data();
    void malformedBlockFrames();
    void blockBatchRoundTrip();
    void twoByteTypes();
    void malformedBlockBatches_data();
    void malformedBlockBatches();
    void blockCodec();
    void compressionOnlyWhereItPays_data();
    void compressionOnlyWhereItPays();
    void channelOverRealSocket();
    void channelTakesTurns();
};

// A block frame sent with its bytes beside the body is the same CBOR as one with "data"
// in the body, and both decode to the bytes in Envelope::data; a chunked byte string (which
// we never send) is joined.
void tst_Protocol::blockFramesBesideTheBody()
{
    const QByteArray data = randomBlock(100 * 1024, 5);
    const BlockPayload block { ContentHash::of(data), BlockCodec::Raw, quint32(data.size()), data };
    const QByteArray beside = encodeFrame(block.toEnvelope(MessageType::PutBlock, 42));
    QCOMPARE(beside, encodeFrame(Envelope { MessageType::PutBlock, 42, block.toCbor() }));
    auto decoded = decodeMessage(beside.mid(4));
    QVERIFY2(decoded, qPrintable(decoded.errorMessage()));
    QCOMPARE(decoded->id, quint64(42));
    QCOMPARE(decoded->data, data);
    QVERIFY(!decoded->body.contains(QLatin1String("data")));
    QCOMPARE(BlockPayload::fromEnvelope(*decoded)->data, data);
    QVERIFY(decodeMessage(encodeFrame(Envelope { MessageType::Ping, 1, {} }).mid(4))->data.isNull());

    QByteArray chunked;
    {
        QBuffer buffer(&chunked);
        buffer.open(QIODevice::WriteOnly);
        QCborStreamWriter w(&buffer);
        w.startArray(3);
        w.append(qint64(MessageType::BlockData));
        w.append(quint64(7));
        w.startMap(4);
        w.append(QLatin1String("hash"));
        w.append(block.hash.bytes());
        w.append(QLatin1String("codec"));
        w.append(0);
        w.append(QLatin1String("size"));
        w.append(quint64(data.size()));
        w.append(QLatin1String("data"));
        // An indefinite-length byte string: 0x5f, chunks, 0xff.
        buffer.putChar(char(0x5f));
        w.appendByteString(data.constData(), 1000);
        w.appendByteString(data.constData() + 1000, data.size() - 1000);
        buffer.putChar(char(0xff));
        w.endMap();
        w.endArray();
    }
    decoded = decodeMessage(chunked);
    QVERIFY2(decoded, qPrintable(decoded.errorMessage()));
    QCOMPARE(BlockPayload::fromEnvelope(*decoded)->data, data);
}

void tst_Protocol::malformedBlockFrames_data()
{
    QTest::addColumn<QByteArray>("payload");
    const QByteArray data = randomBlock(5000, 6);
    const QByteArray good
        = encodeFrame(BlockPayload { ContentHash::of(data), BlockCodec::Raw, quint32(data.size()), data }.toEnvelope(
                          MessageType::PutBlock, 3))
              .mid(4);
    QVERIFY(decodeMessage(good));
    QTest::newRow("cut inside the bytes") << good.left(good.size() - 100);
    QTest::newRow("cut before the map ends") << good.left(30);
    QTest::newRow("trailing bytes") << good + QByteArray("\x00", 1);
    QByteArray negative = good;
    negative[2] = char(0x20); // the id (3, one byte) made -1
    QTest::newRow("negative id") << negative;
    QByteArray notMap = good;
    notMap[3] = char(0x80); // the body: an empty array, then the map's bytes as trailing junk
    QTest::newRow("body not a map") << notMap;
    QTest::newRow("array of two") << (QByteArray("\x82", 1) + good.mid(1, 2));
}

// Each is an error, never a crash or a partly filled envelope (fuzzed too: fuzz_protocol).
void tst_Protocol::malformedBlockFrames()
{
    QFETCH(QByteArray, payload);
    QVERIFY(!decodeMessage(payload));
}

// Several blocks in one frame, their bytes one after the other beside the
// body; read back block by block, with a BlocksData's missing and later lists.
void tst_Protocol::blockBatchRoundTrip()
{
    const QByteArray a = randomBlock(3000, 11);
    const QByteArray text = QByteArray("the same line again\n").repeated(400);
    const QByteArray b = randomBlock(1, 12);
    const EncodedBlock packed = encodeBlock(text);
    QCOMPARE(packed.codec, BlockCodec::Zstd);
    BlockBatch batch;
    batch.blocks = { BlockPayload { ContentHash::of(a), BlockCodec::Raw, quint32(a.size()), a },
        BlockPayload { ContentHash::of(text), BlockCodec::Zstd, quint32(text.size()), packed.data },
        BlockPayload { ContentHash::of(b), BlockCodec::Raw, 1, b } };
    const QByteArray frame = encodeFrame(batch.toEnvelope(MessageType::PutBlocks, 9));
    FrameReader reader;
    QVERIFY(reader.feed(frame));
    auto envelope = reader.take();
    QVERIFY(envelope);
    QCOMPARE(envelope->type, MessageType::PutBlocks);
    QCOMPARE(envelope->id, quint64(9));
    QCOMPARE(envelope->data, a + packed.data + b); // each block's bytes once, in order
    auto back = BlockBatch::fromEnvelope(*envelope);
    QVERIFY2(back, qPrintable(back.errorMessage()));
    QCOMPARE(back->blocks.size(), 3);
    for (int i = 0; i < 3; ++i) {
        QCOMPARE(back->blocks[i].hash, batch.blocks[i].hash);
        QCOMPARE(back->blocks[i].codec, batch.blocks[i].codec);
        QCOMPARE(back->blocks[i].rawSize, batch.blocks[i].rawSize);
        QCOMPARE(back->blocks[i].data, batch.blocks[i].data);
        QVERIFY(verifyBlock(back->blocks[i]));
    }

    BlockBatch reply;
    reply.blocks = { batch.blocks[2] };
    reply.missing = { ContentHash::of("gone") };
    reply.later = { ContentHash::of("x"), ContentHash::of("y") };
    auto replyBack
        = BlockBatch::fromEnvelope(*decodeMessage(encodeFrame(reply.toEnvelope(MessageType::BlocksData, 2)).mid(4)));
    QVERIFY2(replyBack, qPrintable(replyBack.errorMessage()));
    QCOMPARE(replyBack->blocks.size(), 1);
    QCOMPARE(replyBack->blocks[0].data, b);
    QCOMPARE(replyBack->missing, reply.missing);
    QCOMPARE(replyBack->later, reply.later);
    // A BlocksData may hold no block at all (all missing).
    BlockBatch none;
    none.missing = reply.missing;
    auto noneBack
        = BlockBatch::fromEnvelope(*decodeMessage(encodeFrame(none.toEnvelope(MessageType::BlocksData, 3)).mid(4)));
    QVERIFY2(noneBack, qPrintable(noneBack.errorMessage()));
    QVERIFY(noneBack->blocks.isEmpty());

    GetBlocks get { { ContentHash::of("a"), ContentHash::of("b") } };
    QCOMPARE(GetBlocks::fromCbor(get.toCbor())->hashes, get.hashes);
    QVERIFY(!GetBlocks::fromCbor(GetBlocks {}.toCbor()));
    GetBlocks tooMany;
    for (int i = 0; i <= kMaxBlocksPerBatch; ++i)
        tooMany.hashes.append(ContentHash::of(QByteArray::number(i)));
    QVERIFY(!GetBlocks::fromCbor(tooMany.toCbor()));
}

// Types 24 and up are two CBOR bytes: the frame reader and the decoder find them all the
// same, and only the block frames among them may pass the metadata cap.
void tst_Protocol::twoByteTypes()
{
    for (const MessageType type : { MessageType::PutBlocks, MessageType::GetBlocks, MessageType::BlocksData }) {
        const QByteArray frame = encodeFrame(Envelope { type, 5, QCborMap { { QLatin1String("x"), 1 } } });
        QCOMPARE(peekType(QByteArrayView(frame).sliced(4)), std::optional<quint64>(quint64(type)));
        QVERIFY(isKnownType(quint64(type)));
        QVERIFY(typeName(type) != QStringLiteral("Unknown"));
        auto decoded = decodeMessage(frame.mid(4));
        QVERIFY2(decoded, qPrintable(decoded.errorMessage()));
        QCOMPARE(decoded->type, type);
    }
    QCOMPARE(peekType(QByteArray("\x83\x18", 2)), std::nullopt); // the type's second byte not there yet
    QCOMPARE(peekType(QByteArray("\x83\x0a", 2)), std::optional<quint64>(10));
    QVERIFY(isBlockFrameType(quint64(MessageType::PutBlocks)) && isBlockFrameType(quint64(MessageType::BlocksData)));
    QVERIFY(!isBlockFrameType(quint64(MessageType::GetBlocks)));

    // A PutBlocks over the metadata cap is waited for, not refused, even when only the
    // first byte of its type has arrived so far.
    QByteArray header(4, Qt::Uninitialized);
    qToBigEndian(quint32(kMaxMetadataFrame + 10), header.data());
    FrameReader reader;
    QVERIFY(reader.feed(header + QByteArray("\x83\x18", 2)));
    QVERIFY(reader.feed(QByteArray("\x18", 1)));
    QVERIFY(!reader.hasError());
    QVERIFY(!reader.take());
}

void tst_Protocol::malformedBlockBatches_data()
{
    QTest::addColumn<int>("type");
    QTest::addColumn<QCborMap>("body");
    QTest::addColumn<QByteArray>("data");
    const QByteArray a = randomBlock(100, 21);
    const QByteArray h = ContentHash::of(a).bytes();
    auto body = [](const QCborArray &items) { return QCborMap { { QLatin1String("blocks"), items } }; };
    const int put = int(MessageType::PutBlocks);
    QTest::newRow("length beyond the data") << put << body({ QCborArray { h, 0, 100, 101 } }) << a;
    QTest::newRow("bytes left over") << put << body({ QCborArray { h, 0, 100, 100 } }) << a + "x";
    QTest::newRow("raw length is not the size") << put << body({ QCborArray { h, 0, 99, 100 } }) << a;
    QTest::newRow("codec 2") << put << body({ QCborArray { h, 2, 100, 100 } }) << a;
    QTest::newRow("size 0") << put << body({ QCborArray { h, 1, 0, 100 } }) << a;
    QTest::newRow("negative length") << put << body({ QCborArray { h, 1, 100, -1 } }) << a;
    QTest::newRow("short hash") << put << body({ QCborArray { h.left(31), 0, 100, 100 } }) << a;
    QTest::newRow("three fields") << put << body({ QCborArray { h, 0, 100 } }) << a;
    QTest::newRow("an item not an array") << put << body({ 5 }) << a;
    QTest::newRow("no blocks field") << put << QCborMap() << a;
    QTest::newRow("no data") << put << body({ QCborArray { h, 0, 100, 100 } }) << QByteArray();
    QTest::newRow("PutBlocks of nothing") << put << body({}) << QByteArray("");
    QCborMap withMissing = body({ QCborArray { h, 0, 100, 100 } });
    withMissing.insert(QLatin1String("missing"), QCborArray { h });
    QTest::newRow("PutBlocks with missing") << put << withMissing << a;
    QCborMap badMissing = body({});
    badMissing.insert(QLatin1String("missing"), QCborArray { 7 });
    QTest::newRow("missing not hashes") << int(MessageType::BlocksData) << badMissing << QByteArray("");
    QCborArray many;
    QByteArray manyData;
    for (int i = 0; i <= kMaxBlocksPerBatch; ++i) {
        many.append(QCborArray { h, 0, 100, 100 });
        manyData += a;
    }
    QTest::newRow("too many blocks") << put << body(many) << manyData;
}

// Each is refused whole, by the decoder or by BlockBatch (fuzzed too: fuzz_protocol).
void tst_Protocol::malformedBlockBatches()
{
    QFETCH(int, type);
    QFETCH(QCborMap, body);
    QFETCH(QByteArray, data);
    const Envelope sent { MessageType(type), 4, body, data };
    QVERIFY(!BlockBatch::fromEnvelope(sent));
    auto decoded = decodeMessage(encodeFrame(sent).mid(4)); // as it arrives from a socket
    QVERIFY(!decoded || !BlockBatch::fromEnvelope(*decoded));
}

void tst_Protocol::entryRoundTrip()
{
    const FileEntry e = sampleEntry();
    auto back = FileEntry::fromCbor(e.toCbor());
    QVERIFY2(back.ok(), qPrintable(back.errorMessage()));
    QCOMPARE(*back, e);

    FileEntry tomb;
    tomb.path = path("gone");
    tomb.deleted = true;
    tomb.version = 7;
    QCOMPARE(*FileEntry::fromCbor(tomb.toCbor()), tomb);
    tomb.removedContent = blockListDigest(e.blocks);
    QCOMPARE(*FileEntry::fromCbor(tomb.toCbor()), tomb);
    // Only a file's tombstone names removed content.
    FileEntry live = e;
    live.removedContent = tomb.removedContent;
    QVERIFY(!FileEntry::fromCbor(live.toCbor()));
    tomb.kind = EntryKind::Directory;
    QVERIFY(!FileEntry::fromCbor(tomb.toCbor()));
}

void tst_Protocol::commitRoundTrip()
{
    Commit c;
    CommitOp put;
    put.path = path("a/b.bin");
    put.baseVersion = 3;
    put.size = 3;
    put.blocks = { BlockRef { ContentHash::of("abc"), 3 } };
    CommitOp mv;
    mv.op = CommitOpKind::Move;
    mv.from = path("x");
    mv.path = path("y/x");
    mv.kind = EntryKind::Directory;
    mv.baseVersion = 9;
    CommitOp del;
    del.op = CommitOpKind::Delete;
    del.path = path("z");
    del.baseVersion = 1;
    c.ops = { put, mv, del };
    auto back = Commit::fromCbor(c.toCbor());
    QVERIFY2(back.ok(), qPrintable(back.errorMessage()));
    QCOMPARE(back->ops.size(), 3);
    QCOMPARE(back->ops[0].blocks, put.blocks);
    QCOMPARE(back->ops[1].from, mv.from);
    QCOMPARE(back->ops[1].kind, EntryKind::Directory);
    QCOMPARE(back->ops[2].op, CommitOpKind::Delete);

    // A move into its own subtree is refused at the edge.
    CommitOp bad = mv;
    bad.path = path("x/inside");
    QVERIFY(!CommitOp::fromCbor(bad.toCbor()).ok());
}

void tst_Protocol::announceRoundTrip()
{
    Announce a { path("big/video.mkv"), 7,
        { BlockRef { ContentHash::of("abc"), 3 }, BlockRef { ContentHash::of("defg"), 4 } }, QStringLiteral("laptop") };
    auto back = Announce::fromCbor(a.toCbor());
    QVERIFY2(back.ok(), qPrintable(back.errorMessage()));
    QCOMPARE(back->path, a.path);
    QCOMPARE(back->size, a.size);
    QCOMPARE(back->blocks, a.blocks);
    QCOMPARE(back->origin, a.origin);

    // GetBlock{wait}: absent means false.
    GetBlock plain { ContentHash::of("abc"), false };
    QVERIFY(!plain.toCbor().contains(QStringLiteral("wait")));
    QVERIFY(!GetBlock::fromCbor(plain.toCbor())->wait);
    QVERIFY(GetBlock::fromCbor(GetBlock { ContentHash::of("abc"), true }.toCbor())->wait);
    QCOMPARE(typeName(MessageType::Announced), QStringLiteral("Announced"));
    QVERIFY(isKnownType(quint64(MessageType::Announce)) && isKnownType(quint64(MessageType::Announced)));
}

namespace {
QList<BlockRef> refs(const char *letters)
{
    QList<BlockRef> out;
    for (const char *c = letters; *c; ++c)
        out.append(BlockRef { ContentHash::of(QByteArray(1, *c)), 1 });
    return out;
}
} // namespace

void tst_Protocol::blockDeltaRoundTrip_data()
{
    QTest::addColumn<QString>("base");
    QTest::addColumn<QString>("target");
    QTest::addColumn<int>("kept");
    QTest::newRow("same") << "abcdefgh"
                          << "abcdefgh" << 8;
    QTest::newRow("overwrite in the middle") << "abcdefgh"
                                             << "abcXYfgh" << 6;
    QTest::newRow("insert") << "abcdefgh"
                            << "abcdXefgh" << 8;
    QTest::newRow("append") << "abcd"
                            << "abcdef" << 4;
    QTest::newRow("truncate") << "abcdef"
                              << "abc" << 3;
    QTest::newRow("all new") << "abc"
                             << "xyz" << 0;
    QTest::newRow("repeated blocks") << "aaab"
                                     << "aaaab" << 4;
    QTest::newRow("reordered (runs only ascend)") << "abcdef"
                                                  << "defabc" << 3;
    QTest::newRow("empty target") << "abc"
                                  << "" << 0;
}

void tst_Protocol::blockDeltaRoundTrip()
{
    QFETCH(QString, base);
    QFETCH(QString, target);
    QFETCH(int, kept);
    const QList<BlockRef> baseBlocks = refs(base.toLatin1().constData());
    const QList<BlockRef> targetBlocks = refs(target.toLatin1().constData());
    const BlockListDelta delta = BlockListDelta::between(baseBlocks, targetBlocks);
    QCOMPARE(delta.keptBlocks(), kept);
    QCOMPARE(delta.newRefs().size(), targetBlocks.size() - kept);
    auto expanded = delta.applyTo(baseBlocks);
    QVERIFY2(expanded.ok(), qPrintable(expanded.errorMessage()));
    QCOMPARE(*expanded, targetBlocks);

    // Through the wire, inside a put.
    CommitOp op;
    op.path = path("big.bin");
    op.baseVersion = 5;
    op.size = totalSize(targetBlocks);
    op.delta = delta;
    auto back = CommitOp::fromCbor(op.toCbor());
    QVERIFY2(back.ok(), qPrintable(back.errorMessage()));
    QVERIFY(back->blocks.isEmpty());
    QCOMPARE(*back->delta, delta);
    QCOMPARE(*back->delta->applyTo(baseBlocks), targetBlocks);
    // The wrong base is refused by the digest, not silently expanded into another file.
    if (kept > 0)
        QVERIFY(!delta.applyTo(refs("zzzzzzzzzzzz")).ok());
}

void tst_Protocol::hostileBlockDeltas_data()
{
    QTest::addColumn<QCborArray>("items");
    QTest::addColumn<bool>("parses");
    const QByteArray h = ContentHash::of("x").bytes();
    auto run = [](qint64 from, qint64 count) { return QCborValue(QCborArray { from, count }); };
    QTest::newRow("fine") << QCborArray { run(0, 2), QCborArray { h, 1 } } << true;
    QTest::newRow("overlapping runs") << QCborArray { run(0, 3), run(2, 1) } << false;
    QTest::newRow("descending runs") << QCborArray { run(4, 1), run(0, 1) } << false;
    QTest::newRow("empty run") << QCborArray { run(0, 0) } << false;
    QTest::newRow("negative start") << QCborArray { run(-1, 2) } << false;
    QTest::newRow("huge count") << QCborArray { run(0, qint64(1) << 40) } << false;
    QTest::newRow("huge start") << QCborArray { run(qint64(1) << 40, 1) } << false;
    QTest::newRow("runs adding up past the cap")
        << QCborArray { run(0, kMaxBlocksPerEntry), run(kMaxBlocksPerEntry - 1, 1) } << false;
    QTest::newRow("refs and runs past the cap")
        << QCborArray { QCborArray { h, 1 }, run(0, kMaxBlocksPerEntry) } << false;
    QTest::newRow("short hash") << QCborArray { QCborArray { QByteArray("abc"), 1 } } << false;
    QTest::newRow("zero-size block") << QCborArray { QCborArray { h, 0 } } << false;
    QTest::newRow("not a pair") << QCborArray { QCborArray { 1, 2, 3 } } << false;
    QTest::newRow("a string") << QCborArray { QStringLiteral("keep") } << false;
}

void tst_Protocol::hostileBlockDeltas()
{
    QFETCH(QCborArray, items);
    QFETCH(bool, parses);
    QCborMap m = [] {
        CommitOp op;
        op.path = path("f");
        op.baseVersion = 2;
        op.size = 1;
        op.delta = BlockListDelta::between(refs("a"), refs("a"));
        return op.toCbor();
    }();
    m.insert(QLatin1String("delta"), items);
    auto op = CommitOp::fromCbor(m);
    QCOMPARE(op.ok(), parses);
    if (op.ok()) // a run past the end of a short base is refused when it is expanded
        QVERIFY(!op->delta->applyTo(refs("a")).ok());
    // A delta with a full list beside it, without a base, or for a folder: refused too.
    for (const char *field : { "blocks", "base", "kind" }) {
        QCborMap bad = m;
        bad.insert(QLatin1String("delta"), QCborArray { run0() });
        if (qstrcmp(field, "blocks") == 0)
            bad.insert(QLatin1String("blocks"), QCborArray { QCborArray { ContentHash::of("a").bytes(), 1 } });
        else if (qstrcmp(field, "base") == 0)
            bad.insert(QLatin1String("base"), 0);
        else
            bad.insert(QLatin1String("kind"), 1);
        QVERIFY2(!CommitOp::fromCbor(bad).ok(), field);
    }
}

void tst_Protocol::envelopeRoundTripAnySplit()
{
    Changes changes;
    changes.entries = { sampleEntry() };
    changes.head = 99;
    QByteArray stream;
    stream += encodeFrame(Envelope { MessageType::Changes, 5, changes.toCbor() });
    stream += encodeFrame(Envelope { MessageType::Ping, 6, {} });
    BlockPayload block { ContentHash::of("abc"), BlockCodec::Raw, 3, "abc" };
    stream += encodeFrame(Envelope { MessageType::BlockData, 7, block.toCbor() });

    for (int chunk : { 1, 2, 3, 7, 64, int(stream.size()) }) {
        FrameReader reader;
        QList<Envelope> got;
        for (qsizetype i = 0; i < stream.size(); i += chunk) {
            QVERIFY(reader.feed(stream.mid(i, chunk)));
            while (auto e = reader.take())
                got.append(*e);
        }
        QCOMPARE(got.size(), 3);
        QCOMPARE(got[0].type, MessageType::Changes);
        QCOMPARE(got[0].id, 5u);
        QCOMPARE(Changes::fromCbor(got[0].body)->entries.first(), sampleEntry());
        QCOMPARE(got[1].type, MessageType::Ping);
        QCOMPARE(BlockPayload::fromEnvelope(got[2])->data, QByteArray("abc"));
        QCOMPARE(reader.bufferedBytes(), 0);
    }
}

void tst_Protocol::readsStraightFromDevice()
{
    // Two big block frames around small ones, read in pieces that split every frame:
    // each message must keep its own bytes after the reader's buffer has been reused and
    // compacted (the payload is decoded in place), and `got` must add up to the stream
    // (the server's per-session byte counters come from it).
    const QByteArray first = randomBlock(1024 * 1024 + 17, 21);
    const QByteArray second = randomBlock(300 * 1024, 22);
    QByteArray stream;
    stream += encodeFrame(Envelope { MessageType::PutBlock, 1,
        BlockPayload { ContentHash::of(first), BlockCodec::Raw, quint32(first.size()), first }.toCbor() });
    stream += encodeFrame(Envelope { MessageType::Ping, 2, {} });
    stream += encodeFrame(Envelope { MessageType::PutBlock, 3,
        BlockPayload { ContentHash::of(second), BlockCodec::Raw, quint32(second.size()), second }.toCbor() });
    stream += encodeFrame(Envelope { MessageType::Ping, 4, {} });

    for (qint64 piece : { qint64(1000), qint64(4096), qint64(65536 + 3), qint64(256 * 1024), qint64(stream.size()) }) {
        QBuffer device(&stream);
        QVERIFY(device.open(QIODevice::ReadOnly));
        FrameReader reader;
        QList<Envelope> received;
        qint64 total = 0;
        for (int reads = 0; device.bytesAvailable() > 0 && reads < 100000; ++reads) {
            qint64 got = -1;
            QVERIFY(reader.feedFrom(&device, qMin(piece, device.bytesAvailable()), got));
            QVERIFY(got > 0);
            total += got;
            while (auto e = reader.take())
                received.append(*e);
        }
        QCOMPARE(total, qint64(stream.size()));
        QCOMPARE(reader.bufferedBytes(), 0);
        QCOMPARE(received.size(), 4);
        QCOMPARE(received[0].id, 1u);
        QCOMPARE(BlockPayload::fromEnvelope(received[0])->data, first);
        QCOMPARE(received[1].type, MessageType::Ping);
        QCOMPARE(BlockPayload::fromEnvelope(received[2])->data, second);
        QCOMPARE(received[3].id, 4u);
        qint64 none = -1;
        QVERIFY(reader.feedFrom(&device, 4096, none)); // nothing left to read
        QCOMPARE(none, 0);
    }
}

void tst_Protocol::malformedFrames_data()
{
    QTest::addColumn<QByteArray>("bytes");
    QTest::addColumn<QString>("expected");

    QTest::newRow("not CBOR") << rawFrame("\xff\xff\xff") << QStringLiteral("malformed CBOR");
    QTest::newRow("truncated CBOR") << rawFrame(cbor(QCborArray { 1, 2, QCborMap() }).left(3))
                                    << QStringLiteral("malformed CBOR");
    QTest::newRow("a map, not an array") << rawFrame(cbor(QCborMap { { 1, 2 } })) << QStringLiteral("[type, id, body]");
    QTest::newRow("two items") << rawFrame(cbor(QCborArray { 1, 2 })) << QStringLiteral("[type, id, body]");
    QTest::newRow("type is text") << rawFrame(cbor(QCborArray { QStringLiteral("x"), 2, QCborMap() }))
                                  << QStringLiteral("[type, id, body]");
    QTest::newRow("body not a map") << rawFrame(cbor(QCborArray { 1, 2, 3 })) << QStringLiteral("[type, id, body]");
    QTest::newRow("unknown type") << rawFrame(cbor(QCborArray { 27, 2, QCborMap() }))
                                  << QStringLiteral("unknown message type 27");
    QTest::newRow("type zero") << rawFrame(cbor(QCborArray { 0, 2, QCborMap() }))
                               << QStringLiteral("unknown message type 0");
    QTest::newRow("negative id") << rawFrame(cbor(QCborArray { 1, -2, QCborMap() }))
                                 << QStringLiteral("negative request id");
    QTest::newRow("trailing bytes") << rawFrame(cbor(QCborArray { 1, 2, QCborMap() }) + "x")
                                    << QStringLiteral("trailing");
    QTest::newRow("zero length") << QByteArray(4, '\0') << QStringLiteral("too short");
    QByteArray big(4, Qt::Uninitialized);
    qToBigEndian(quint32(kMaxBlockFrame + 1), big.data());
    QTest::newRow("length over block cap") << big << QStringLiteral("exceeds");
    QByteArray bigMeta(4, Qt::Uninitialized);
    qToBigEndian(quint32(kMaxMetadataFrame + 1), bigMeta.data());
    bigMeta += QByteArray("\x83\x07", 2); // [Changes, ...]
    QTest::newRow("metadata over its cap") << bigMeta << QStringLiteral("metadata cap");
    // Types from 24 on take two CBOR bytes (0x18 n): GetBlocks (25) is metadata.
    QByteArray bigTwoByte(4, Qt::Uninitialized);
    qToBigEndian(quint32(kMaxMetadataFrame + 1), bigTwoByte.data());
    bigTwoByte += QByteArray("\x83\x18\x19", 3);
    QTest::newRow("GetBlocks over the metadata cap") << bigTwoByte << QStringLiteral("metadata cap");
}

void tst_Protocol::malformedFrames()
{
    QFETCH(QByteArray, bytes);
    QFETCH(QString, expected);
    FrameReader reader;
    QVERIFY(!reader.feed(bytes));
    QVERIFY2(reader.error().contains(expected), qPrintable(reader.error()));
    QVERIFY(!reader.take());
    QVERIFY(!reader.feed(encodeFrame(Envelope { MessageType::Ping, 1, {} }))); // stays failed
}

void tst_Protocol::malformedBodies_data()
{
    QTest::addColumn<int>("type");
    QTest::addColumn<QCborMap>("body");

    QTest::newRow("hello bad magic") << int(MessageType::Hello)
                                     << QCborMap { { QStringLiteral("magic"), QStringLiteral("HTTP") },
                                            { QStringLiteral("version"), 1 } };
    QTest::newRow("hello missing version")
        << int(MessageType::Hello) << QCborMap { { QStringLiteral("magic"), QStringLiteral("FSYN") } };
    QTest::newRow("entry hostile path")
        << int(MessageType::Changes)
        << QCborMap { { QStringLiteral("entries"),
                          QCborArray { QCborMap { { QStringLiteral("path"), QStringLiteral("../../etc/passwd") },
                              { QStringLiteral("size"), 0 }, { QStringLiteral("mtime"), 0 },
                              { QStringLiteral("mode"), 0 }, { QStringLiteral("ver"), 1 } } } },
               { QStringLiteral("head"), 1 }, { QStringLiteral("next"), 1 } };
    QTest::newRow("entry size mismatch")
        << int(MessageType::Changes)
        << QCborMap { { QStringLiteral("entries"),
                          QCborArray { QCborMap { { QStringLiteral("path"), QStringLiteral("a") },
                              { QStringLiteral("size"), 5 }, { QStringLiteral("mtime"), 0 },
                              { QStringLiteral("mode"), 0 }, { QStringLiteral("ver"), 1 } } } },
               { QStringLiteral("head"), 1 }, { QStringLiteral("next"), 1 } };
    QTest::newRow("commit absolute path")
        << int(MessageType::Commit)
        << QCborMap { { QStringLiteral("ops"),
               QCborArray { QCborMap { { QStringLiteral("op"), 1 }, { QStringLiteral("path"), QStringLiteral("/x") },
                   { QStringLiteral("base"), 1 } } } } };
    QTest::newRow("commit into metadata dir")
        << int(MessageType::Commit)
        << QCborMap { { QStringLiteral("ops"),
               QCborArray { QCborMap { { QStringLiteral("op"), 1 },
                   { QStringLiteral("path"), QStringLiteral(".filesync/journal.db") },
                   { QStringLiteral("base"), 1 } } } } };
    QTest::newRow("commit wrong op") << int(MessageType::Commit)
                                     << QCborMap { { QStringLiteral("ops"),
                                            QCborArray { QCborMap { { QStringLiteral("op"), 9 },
                                                { QStringLiteral("path"), QStringLiteral("x") },
                                                { QStringLiteral("base"), 1 } } } } };
    QTest::newRow("block hash wrong length")
        << int(MessageType::GetBlock) << QCborMap { { QStringLiteral("hash"), QByteArray("abc") } };
    QTest::newRow("block hash is text") << int(MessageType::GetBlock)
                                        << QCborMap { { QStringLiteral("hash"), QStringLiteral("abc") } };
    QTest::newRow("put block size lies") << int(MessageType::PutBlock)
                                         << QCborMap { { QStringLiteral("hash"), ContentHash::of("abc").bytes() },
                                                { QStringLiteral("codec"), 0 }, { QStringLiteral("size"), 4 },
                                                { QStringLiteral("data"), QByteArray("abc") } };
    QTest::newRow("since negative") << int(MessageType::GetChanges) << QCborMap { { QStringLiteral("since"), -1 } };
    QTest::newRow("get block wait not a bool")
        << int(MessageType::GetBlock)
        << QCborMap { { QStringLiteral("hash"), ContentHash::of("abc").bytes() }, { QStringLiteral("wait"), 1 } };
    const QCborArray oneBlock { QCborArray { ContentHash::of("abc").bytes(), 3 } };
    QTest::newRow("announce hostile path")
        << int(MessageType::Announce)
        << QCborMap { { QStringLiteral("path"), QStringLiteral("../outside") }, { QStringLiteral("size"), 3 },
               { QStringLiteral("blocks"), oneBlock } };
    QTest::newRow("announce metadata dir")
        << int(MessageType::Announce)
        << QCborMap { { QStringLiteral("path"), QStringLiteral(".filesync/tmp/x") }, { QStringLiteral("size"), 3 },
               { QStringLiteral("blocks"), oneBlock } };
    QTest::newRow("announce size lies") << int(MessageType::Announce)
                                        << QCborMap { { QStringLiteral("path"), QStringLiteral("a") },
                                               { QStringLiteral("size"), 4 }, { QStringLiteral("blocks"), oneBlock } };
    QTest::newRow("announce no blocks") << int(MessageType::Announce)
                                        << QCborMap { { QStringLiteral("path"), QStringLiteral("a") },
                                               { QStringLiteral("size"), 0 },
                                               { QStringLiteral("blocks"), QCborArray() } };
    QCborArray tooMany;
    for (int i = 0; i <= kMaxBlocksPerEntry; ++i)
        tooMany.append(QCborArray { ContentHash::of("abc").bytes(), 3 });
    QTest::newRow("announce too many blocks") << int(MessageType::Announce)
                                              << QCborMap { { QStringLiteral("path"), QStringLiteral("a") },
                                                     { QStringLiteral("size"), qint64(3) * (kMaxBlocksPerEntry + 1) },
                                                     { QStringLiteral("blocks"), tooMany } };
    QTest::newRow("announce block too big")
        << int(MessageType::Announce)
        << QCborMap { { QStringLiteral("path"), QStringLiteral("a") }, { QStringLiteral("size"), kMaxBlockSize + 1 },
               { QStringLiteral("blocks"),
                   QCborArray { QCborArray { ContentHash::of("abc").bytes(), kMaxBlockSize + 1 } } } };
}

void tst_Protocol::malformedBodies()
{
    QFETCH(int, type);
    QFETCH(QCborMap, body);
    bool failed = false;
    switch (MessageType(type)) {
    case MessageType::Hello:
        failed = !Hello::fromCbor(body).ok();
        break;
    case MessageType::Changes:
        failed = !Changes::fromCbor(body).ok();
        break;
    case MessageType::Commit:
        failed = !Commit::fromCbor(body).ok();
        break;
    case MessageType::GetBlock:
        failed = !GetBlock::fromCbor(body).ok();
        break;
    case MessageType::PutBlock:
        failed = !BlockPayload::fromEnvelope(Envelope { MessageType::PutBlock, 1, body }).ok();
        break;
    case MessageType::GetChanges:
        failed = !GetChanges::fromCbor(body).ok();
        break;
    case MessageType::Announce:
        failed = !Announce::fromCbor(body).ok();
        break;
    default:
        QFAIL("untested type");
    }
    QVERIFY(failed);
}

void tst_Protocol::oversizedLengthRejectedBeforeBuffering()
{
    // A peer announcing 10 MiB of metadata is refused on the 6th byte, not after 10 MiB.
    FrameReader reader;
    QByteArray head(4, Qt::Uninitialized);
    qToBigEndian(quint32(10 * 1024 * 1024), head.data());
    QVERIFY(reader.feed(head));
    QVERIFY(reader.feed(QByteArray("\x83", 1)));
    QVERIFY(!reader.feed(QByteArray("\x0d", 1))); // Commit
    QCOMPARE(reader.bufferedBytes(), 0);
}

void tst_Protocol::blockCodec()
{
    const QByteArray text = QByteArray("the quick brown fox jumps over the lazy dog\n").repeated(1000);
    EncodedBlock enc = encodeBlock(text);
    QCOMPARE(enc.codec, BlockCodec::Zstd);
    QVERIFY(enc.data.size() < text.size() / 10);
    QCOMPARE(*decodeBlock(enc.codec, enc.data, quint32(text.size())), text);
    QVERIFY(!decodeBlock(enc.codec, enc.data, quint32(text.size() + 1)).ok());
    QVERIFY(!decodeBlock(BlockCodec::Zstd, "garbage-garbage", 100).ok());

    QByteArray random(64 * 1024, Qt::Uninitialized);
    QRandomGenerator rng(7);
    rng.fillRange(reinterpret_cast<quint32 *>(random.data()), random.size() / 4);
    enc = encodeBlock(random);
    QCOMPARE(enc.codec, BlockCodec::Raw);

    BlockPayload good { ContentHash::of(text), BlockCodec::Zstd, quint32(text.size()), encodeBlock(text).data };
    QVERIFY(decodeAndVerify(good).ok());
    BlockPayload lying = good;
    lying.hash = ContentHash::of("other");
    QVERIFY(!decodeAndVerify(lying).ok());

    // verifyBlock keeps what a store needs to take the block without hashing it again.
    const auto verified = verifyBlock(good);
    QVERIFY(verified.ok());
    QCOMPARE(verified->hash(), good.hash);
    QCOMPARE(verified->raw(), text);
    QCOMPARE(verified->wireForm().codec, BlockCodec::Zstd);
    QCOMPARE(verified->wireForm().data, good.data);
    QVERIFY(!verifyBlock(lying).ok());
    BlockPayload rawLying { ContentHash::of("a"), BlockCodec::Raw, 1, "b" };
    QVERIFY(!verifyBlock(rawLying).ok());
}

// The guess that skips zstd: random data travels raw without a zstd attempt, and every
// kind of compressible data is compressed exactly as zstd alone would (same bytes on the
// wire as before the guess).
void tst_Protocol::compressionOnlyWhereItPays_data()
{
    QTest::addColumn<QByteArray>("raw");
    QTest::addColumn<bool>("compressible");
    const QByteArray text = QByteArray("for (int i = 0; i < n; ++i)\n    sum += values[i];\n").repeated(2000);
    QTest::newRow("text, 64 KiB") << text.left(64 * 1024) << true;
    QTest::newRow("text, 1 KiB") << text.left(1024) << true;
    QTest::newRow("text, 300 B") << text.left(300) << true;
    QTest::newRow("zeros, 16 KiB") << QByteArray(16 * 1024, '\0') << true;
    QTest::newRow("zeros, 4 MiB") << QByteArray(4 * 1024 * 1024, '\0') << true;
    QTest::newRow("repeated word") << QByteArray("abcdefgh").repeated(8000) << true;
    QTest::newRow("random 4 KiB, 16 times") << randomBlock(4096, 3).repeated(16) << true;
    QTest::newRow("random 2 KiB, twice") << randomBlock(2048, 4).repeated(2) << true;
    QTest::newRow("random 512 B, 8 times") << randomBlock(512, 5).repeated(8) << true;
    QTest::newRow("half zeros, half random") << QByteArray(32 * 1024, '\0') + randomBlock(32 * 1024, 6) << true;
    QTest::newRow("random, then zeros") << randomBlock(8 * 1024, 7) + QByteArray(8 * 1024, '\0') << true;
    QByteArray sixBits = randomBlock(64 * 1024, 8); // base64-like: 64 symbols, 6 bits a byte
    for (char &c : sixBits)
        c = char('0' + (uchar(c) & 63));
    QTest::newRow("64 symbols") << sixBits << true;
    QTest::newRow("random, 1 KiB") << randomBlock(1024, 9) << false;
    QTest::newRow("random, 5 KiB") << randomBlock(5 * 1024, 10) << false;
    QTest::newRow("random, 16 KiB") << randomBlock(16 * 1024, 11) << false;
    QTest::newRow("random, 64 KiB") << randomBlock(64 * 1024, 12) << false;
    QTest::newRow("random, 1 MiB") << randomBlock(1024 * 1024, 13) << false;
    QTest::newRow("random, 300 B (tried)") << randomBlock(300, 14) << false;
}

void tst_Protocol::compressionOnlyWhereItPays()
{
    QFETCH(QByteArray, raw);
    QFETCH(bool, compressible);
    // What zstd alone makes of it, at the level the senders use.
    QByteArray reference(qsizetype(ZSTD_compressBound(size_t(raw.size()))), Qt::Uninitialized);
    const size_t n = ZSTD_compress(reference.data(), size_t(reference.size()), raw.constData(), size_t(raw.size()), 1);
    QVERIFY(!ZSTD_isError(n));
    const bool pays = qsizetype(n) <= raw.size() - raw.size() / 8;
    QCOMPARE(pays, compressible); // the row says what zstd says

    const EncodedBlock enc = encodeBlock(raw);
    if (compressible) {
        QVERIFY(!looksIncompressible(raw));
        QCOMPARE(enc.codec, BlockCodec::Zstd);
        QCOMPARE(enc.data.size(), qsizetype(n)); // not one byte more on the wire
        QCOMPARE(*decodeBlock(enc.codec, enc.data, quint32(raw.size())), raw);
    } else {
        QCOMPARE(enc.codec, BlockCodec::Raw);
        QCOMPARE(enc.data, raw);
        if (raw.size() >= 1024)
            QVERIFY(looksIncompressible(raw)); // skipped without trying zstd
    }
}

void tst_Protocol::channelOverRealSocket()
{
    QTcpServer server;
    QVERIFY(server.listen(QHostAddress::LocalHost, 0));
    auto *clientSocket = new QTcpSocket;
    clientSocket->connectToHost(QHostAddress::LocalHost, server.serverPort());
    QVERIFY(server.waitForNewConnection(5000));
    MessageChannel serverSide(server.nextPendingConnection());
    MessageChannel client(clientSocket);
    QTRY_VERIFY(client.isConnected());

    QSignalSpy received(&serverSide, &MessageChannel::messageReceived);
    client.send(MessageType::GetChanges, 11, GetChanges { 5, 100 });
    QTRY_COMPARE(received.size(), 1);
    const auto env = received.first().first().value<Envelope>();
    QCOMPARE(env.id, 11u);
    QCOMPARE(GetChanges::fromCbor(env.body)->since, 5u);
    QCOMPARE(serverSide.bytesIn(), client.bytesOut());

    // Garbage from the peer: protocol error, an Error reply, and the connection closes.
    QSignalSpy errors(&serverSide, &MessageChannel::protocolError);
    QSignalSpy clientGot(&client, &MessageChannel::messageReceived);
    QSignalSpy closed(&client, &MessageChannel::disconnected);
    client.socket()->write(rawFrame("\xff\xff"));
    QTRY_COMPARE(errors.size(), 1);
    QTRY_COMPARE(clientGot.size(), 1);
    QCOMPARE(clientGot.first().first().value<Envelope>().type, MessageType::ErrorReply);
    QTRY_COMPARE(closed.size(), 1);
}

// Many requests queued at once are taken over several turns of the event loop: between
// two passes, everything else the thread has to do (other connections) gets its turn.
void tst_Protocol::channelTakesTurns()
{
    QTcpServer server;
    QVERIFY(server.listen(QHostAddress::LocalHost, 0));
    QTcpSocket peer;
    peer.connectToHost(QHostAddress::LocalHost, server.serverPort());
    QVERIFY(server.waitForNewConnection(5000));
    QTcpSocket *socket = server.nextPendingConnection();
    MessageChannel channel(socket);
    channel.setPaused(true); // until all of it is here
    constexpr int kRequests = 3 * MessageChannel::kMessagesPerPass + 5;
    QByteArray burst;
    for (int i = 0; i < kRequests; ++i)
        burst += encodeFrame(Envelope { MessageType::Ping, quint64(i + 1), QCborMap(), {} });
    QCOMPARE(peer.write(burst), burst.size());
    QTRY_COMPARE(socket->bytesAvailable(), qint64(burst.size()));

    QList<int> seenByOthers; // messages taken when another event of the thread ran
    int received = 0;
    QTimer other;
    connect(&other, &QTimer::timeout, this, [&] { seenByOthers << received; });
    other.start(0);
    connect(&channel, &MessageChannel::messageReceived, this, [&](const Envelope &e) {
        ++received;
        QCOMPARE(e.id, quint64(received)); // in order
    });
    channel.setPaused(false);
    QTRY_COMPARE(received, kRequests);
    other.stop();
    // Other events ran in between: at most one pass's worth of messages apart.
    QVERIFY(!seenByOthers.isEmpty());
    int last = 0;
    for (const int n : std::as_const(seenByOthers)) {
        QVERIFY2(n - last <= MessageChannel::kMessagesPerPass, qPrintable(QString::number(n)));
        last = n;
    }
    QVERIFY2(seenByOthers.first() < kRequests, "all taken in one pass");
}

QTEST_GUILESS_MAIN(tst_Protocol)
#include "tst_protocol.moc"
