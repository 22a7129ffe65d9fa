// Deterministic stand-in for libFuzzer in ordinary builds: valid frames of every kind,
// mutated (bit flips, truncation, splices, length rewrites) with a fixed seed, through
// the same target. It asserts only that nothing crashes, hangs or trips a sanitizer.
#include "blockcodec.h"
#include "messages.h"

#include <QCborArray>
#include <QElapsedTimer>
#include <QRandomGenerator>
#include <QtEndian>

#include <cstdio>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
extern long g_decoded;

using namespace filesync;
using namespace filesync::protocol;

namespace {
QList<QByteArray> seeds()
{
    FileEntry e;
    e.path = *RelativePath::fromString(QStringLiteral("dir/file.txt"));
    e.size = 3;
    e.blocks = { BlockRef { ContentHash::of("abc"), 3 } };
    e.version = 5;
    e.movedFrom = *RelativePath::fromString(QStringLiteral("old"));
    Changes changes;
    changes.entries = { e, e };
    CommitOp op;
    op.path = e.path;
    op.size = 3;
    op.blocks = e.blocks;
    Commit commit;
    commit.ops = { op, op };
    BlockBatch batch; // two blocks, one zstd
    batch.blocks = { BlockPayload { ContentHash::of("abc"), BlockCodec::Raw, 3, "abc" },
        BlockPayload {
            ContentHash::of(QByteArray(300, 'z')), BlockCodec::Zstd, 300, encodeBlock(QByteArray(300, 'z')).data } };
    BlockBatch reply = batch;
    reply.missing = { ContentHash::of("m") };
    reply.later = { ContentHash::of("l") };
    return {
        encodeFrame(batch.toEnvelope(MessageType::PutBlocks, 8)),
        encodeFrame(reply.toEnvelope(MessageType::BlocksData, 9)),
        encodeFrame(
            { MessageType::GetBlocks, 10, GetBlocks { { ContentHash::of("a"), ContentHash::of("b") } }.toCbor() }),
        encodeFrame({ MessageType::Hello, 1, Hello { 1, QStringLiteral("x") }.toCbor() }),
        encodeFrame({ MessageType::Login, 2, Login { QStringLiteral("a"), QStringLiteral("b") }.toCbor() }),
        encodeFrame({ MessageType::Changes, 3, changes.toCbor() }),
        encodeFrame({ MessageType::Commit, 4, commit.toCbor() }),
        encodeFrame(
            { MessageType::PutBlock, 5, BlockPayload { ContentHash::of("abc"), BlockCodec::Raw, 3, "abc" }.toCbor() }),
        encodeFrame(
            { MessageType::QueryBlocks, 6, QueryBlocks { { ContentHash::of("a"), ContentHash::of("b") } }.toCbor() }),
        encodeFrame({ MessageType::ErrorReply, 7, ErrorReply { QStringLiteral("c"), QStringLiteral("m") }.toCbor() }),
    };
}

QByteArray mutate(QByteArray input, QRandomGenerator &rng)
{
    const int rounds = 1 + int(rng.bounded(4));
    for (int r = 0; r < rounds && !input.isEmpty(); ++r) {
        const qsizetype at = qsizetype(rng.bounded(quint32(input.size())));
        switch (rng.bounded(5)) {
        case 0:
            input[at] = char(input.at(at) ^ char(1u << rng.bounded(8)));
            break;
        case 1:
            input.truncate(at);
            break;
        case 2:
            input.insert(at, char(rng.bounded(256)));
            break;
        case 3:
            input[at] = char(rng.bounded(256));
            break;
        case 4:
            if (input.size() >= 4)
                qToBigEndian(quint32(rng.bounded(quint32(1) << 25)), input.data());
            break;
        }
    }
    return input;
}
} // namespace

int main(int argc, char **argv)
{
    const int iterations = argc > 1 ? std::atoi(argv[1]) : 100000;
    QRandomGenerator rng(20261124);
    const QList<QByteArray> corpus = seeds();
    QElapsedTimer timer;
    timer.start();
    for (int i = 0; i < iterations; ++i) {
        QByteArray input = corpus.at(i % corpus.size());
        if (i % 7 == 0)
            input += corpus.at(int(rng.bounded(quint32(corpus.size()))));
        input = mutate(input, rng);
        LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t *>(input.constData()), size_t(input.size()));
    }
    std::printf(
        "%d mutated inputs (%ld decoded as messages) in %lld ms, no crash\n", iterations, g_decoded, timer.elapsed());
    return 0;
}
