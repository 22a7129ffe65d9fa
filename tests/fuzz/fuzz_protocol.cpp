// Fuzz target for everything that parses bytes from the network: the frame reader, the
// envelope decoder and every message's fromCbor(). Built two ways:
//  - with clang and -DFILESYNC_FUZZ=ON: a libFuzzer binary (fuzz_protocol_libfuzzer);
//  - always: linked with replay_main.cpp as a ctest that runs seeded, mutated inputs.
#include "blockcodec.h"
#include "framereader.h"
#include "messages.h"

#include <cstddef>
#include <cstdint>

using namespace filesync::protocol;

long g_decoded = 0; // read by the replay driver's summary

namespace {
void decodeBody(const Envelope &e)
{
    switch (e.type) {
    case MessageType::Hello:
        (void)Hello::fromCbor(e.body);
        break;
    case MessageType::Welcome:
        (void)Welcome::fromCbor(e.body);
        break;
    case MessageType::Login:
        (void)Login::fromCbor(e.body);
        break;
    case MessageType::CreateAccount:
        (void)CreateAccount::fromCbor(e.body);
        break;
    case MessageType::LoginOk:
        (void)LoginOk::fromCbor(e.body);
        break;
    case MessageType::GetChanges:
        (void)GetChanges::fromCbor(e.body);
        break;
    case MessageType::Changes:
        (void)Changes::fromCbor(e.body);
        break;
    case MessageType::QueryBlocks:
        (void)QueryBlocks::fromCbor(e.body);
        break;
    case MessageType::QueryBlocksReply:
        (void)QueryBlocksReply::fromCbor(e.body);
        break;
    case MessageType::PutBlock:
    case MessageType::BlockData:
        if (auto p = BlockPayload::fromEnvelope(e))
            (void)decodeAndVerify(*p);
        break;
    case MessageType::GetBlock:
        (void)GetBlock::fromCbor(e.body);
        break;
    case MessageType::PutBlocks:
    case MessageType::BlocksData:
        if (auto batch = BlockBatch::fromEnvelope(e)) {
            for (const BlockPayload &p : batch->blocks)
                (void)decodeAndVerify(p);
        }
        break;
    case MessageType::GetBlocks:
        (void)GetBlocks::fromCbor(e.body);
        break;
    case MessageType::Commit:
        (void)Commit::fromCbor(e.body);
        break;
    case MessageType::CommitReply:
        (void)CommitReply::fromCbor(e.body);
        break;
    case MessageType::Advanced:
        (void)Advanced::fromCbor(e.body);
        break;
    case MessageType::Stats:
        (void)Stats::fromCbor(e.body);
        break;
    case MessageType::ErrorReply:
        (void)ErrorReply::fromCbor(e.body);
        break;
    case MessageType::Announce:
    case MessageType::Announced:
        (void)Announce::fromCbor(e.body);
        break;
    case MessageType::GetStats:
    case MessageType::Ok:
    case MessageType::Ping:
    case MessageType::Pong:
        break;
    }
}
} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    FrameReader reader;
    // Feed in two pieces to exercise partial reads as well.
    const QByteArray bytes(reinterpret_cast<const char *>(data), qsizetype(size));
    const qsizetype half = bytes.size() / 2;
    if (reader.feed(bytes.left(half)))
        reader.feed(bytes.mid(half));
    while (auto e = reader.take()) {
        ++g_decoded;
        decodeBody(*e);
    }
    return 0;
}
