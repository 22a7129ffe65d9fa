// The Uploader's blocks: read again from the files (hashed again only when the stat moved
// since the scan), sent in PutBlocks within the window, and resolved as they are answered.
#include "uploader.h"

#include "blockcodec.h"
#include "enginelogging.h"
#include "localfs.h"
#include "serverconnection.h"

#include <cerrno>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace filesync {

using namespace protocol;

namespace {
qint64 nanoseconds(const struct timespec &t)
{
    return qint64(t.tv_sec) * 1'000'000'000 + t.tv_nsec;
}

// The stat the scan saw when it hashed the file (inode, size, mtime and ctime).
bool sameAsScanned(const struct stat &st, const Uploader::Op &scanned)
{
    return scanned.ctimeNs != 0 && quint64(st.st_ino) == scanned.inode && qint64(st.st_size) == scanned.size
        && nanoseconds(st.st_mtim) == scanned.mtimeNs && nanoseconds(st.st_ctim) == scanned.ctimeNs;
}
} // namespace

bool Uploader::readBlock(const Block &source, QByteArray &out, bool &provesRead, localfs::FolderCache &folders)
{
    provesRead = false;
    const Op &action = m_ops.at(size_t(source.op));
    // Kept open across the op's blocks: a file replaced meanwhile is still read as the
    // scan saw it (the inode in the stat below is the scanned one), consistent with the
    // hashes about to be committed; the next scan sees the new file.
    if (m_readOp != source.op) {
        closeReadFile();
        // Beneath the root, never through a link: a link's target is not ours to upload.
        m_readFd = folders.at(action.path).open(O_RDONLY).release();
        if (m_readFd < 0)
            return false;
        m_readOp = source.op;
    }
    const int fd = m_readFd;
    const qint64 size = source.size;
    // A read of the whole of a file the scan read racily may prove it (below); the clock
    // is read before it, as the scanner reads it before its stat.
    const bool mayProve
        = !action.readAfterCtime && action.blocks.size() == 1 && source.offset == 0 && size == action.size;
    const qint64 readStartNs = mayProve ? localfs::realtimeNs() : 0;
    out = QByteArray(size, Qt::Uninitialized);
    qint64 done = 0;
    while (done < size) {
        const ssize_t n = ::pread(fd, out.data() + done, size_t(size - done), off_t(source.offset + done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        done += n;
    }
    struct stat after;
    const bool statAfter = ::fstat(fd, &after) == 0 && sameAsScanned(after, action);
    if (done != size) {
        closeReadFile();
        return false;
    }
    // Every write or truncate moves ctime (and setting mtime back moves it too), and a
    // replaced file has another inode: the open file's stat equal to the scan's after the
    // read means these are the bytes the scan hashed, so they are not hashed again (the
    // server verifies every block anyway: a block that lies is refused, never stored).
    // One stat after the read is enough: ctime never goes back, so a write at any time
    // since the scan (before the open or during the read) shows in it; a stat before the
    // read too would cost a system call per file and tell nothing more.
    if (statAfter) {
        ++m_trustedReads;
        // A file the scan read within 100 ms of its last change is read again by the next
        // scan (the racy rule), unless this read proves it: it came clearly after the
        // ctime, the stat is the scan's after it (any change since the clock reading would
        // have moved the ctime), and the server checks these bytes against the scan's hash
        // before it acknowledges them. Only for a file of one block: then this read is all
        // of it. (Otherwise a fifth of a freshly written tree is read twice.)
        provesRead = mayProve && JournalEntry::readClearlyAfter(action.ctimeNs, readStartNs);
        return true;
    }
    ++m_hashedReads;
    return ContentHash::of(out) == source.hash;
}

void Uploader::pumpBlocks()
{
    // Small blocks go several to a PutBlocks, not one request and one reply per file on
    // each of three processes. A batch is sent when full and when
    // nothing more can be read now.
    Batch batch;
    localfs::FolderCache folders(m_root); // this step's reads: each folder resolved once
    while (m_sendAt < m_toSend.size() && m_inFlight < kWindowBytes && m_putsPending < kMaxPutsInFlight) {
        const int block = m_toSend[m_sendAt++];
        if (m_sendAt == m_toSend.size() && m_queryAt == m_toQuery.size()) {
            m_toSend = {}; // every block is asked about: nothing more comes in here
            m_sendAt = 0;
        }
        QByteArray raw;
        const Block &source = m_blocks[size_t(block)];
        const ContentHash &hash = source.hash;
        bool provesRead = false;
        if (!readBlock(source, raw, provesRead, folders)) {
            // Changed since the scan: that file waits for the next cycle, the rest goes on
            // (another file with the same block is refused by the server and retried).
            m_broken.insert(source.op);
            m_complete = false;
            resolve(block);
            continue;
        }
        const EncodedBlock encoded = encodeBlock(raw);
        const qint64 size = raw.size();
        m_inFlight += size;
        const Sent sent { block, source.op, size, provesRead };
        BlockPayload payload { hash, encoded.codec, quint32(size), encoded.data };
        if (size <= kBatchBlockBytes) {
            batch.bytes += payload.data.size();
            batch.payloads.blocks.append(std::move(payload));
            batch.sent.push_back(sent);
            if (batch.sent.size() >= size_t(kBatchBlocks) || batch.bytes >= kBatchBytes)
                sendBatch(std::exchange(batch, {}));
            continue;
        }
        ++m_putsPending;
        m_peakPuts = qMax(m_peakPuts, m_putsPending);
        const int generation = m_generation;
        m_connection.putBlock(payload, [this, generation, sent](const Reply<Done> &reply) {
            if (generation == m_generation)
                onPut({ sent }, reply);
        });
    }
    if (!batch.sent.empty())
        sendBatch(std::move(batch));
    maybeCommit();
}

void Uploader::sendBatch(Batch batch)
{
    ++m_putsPending;
    m_peakPuts = qMax(m_peakPuts, m_putsPending);
    ++m_batchesSent;
    const int generation = m_generation;
    m_connection.putBlocks(batch.payloads, [this, generation, sent = std::move(batch.sent)](const Reply<Done> &reply) {
        if (generation == m_generation)
            onPut(sent, reply);
    });
}

// The answer to one PutBlock or PutBlocks: all of its blocks are verified, stored and
// proven by the server, or the run fails.
void Uploader::onPut(const std::vector<Sent> &sent, const Reply<Done> &reply)
{
    qint64 bytes = 0;
    for (const Sent &s : sent)
        bytes += s.size;
    m_inFlight -= bytes;
    --m_putsPending;
    if (!reply)
        return fail(reply.message);
    for (const Sent &s : sent) {
        if (s.provesRead)
            m_ops[size_t(s.op)].readAfterCtime = true; // the server verified the bytes read
    }
    Q_EMIT bytesDone(bytes);
    for (const Sent &s : sent)
        resolve(s.block);
    pumpBlocks();
}

} // namespace filesync
