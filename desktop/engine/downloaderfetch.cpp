// The Downloader's blocks: copied from local files, or fetched from the server (one
// GetBlocks for many small ones, a GetBlock each for big ones), written into the temp
// files that wait for them.
#include "downloader.h"

#include "serverconnection.h"

#include <QFutureWatcher>
#include <QSet>

#include <cstring>
#include <utility>

namespace filesync {

using namespace protocol;

// Blocks found on this computer need no network: they are copied on the pool (and
// fetched after all if their source changed); the rest are fetched meanwhile.
void Downloader::startLocalCopies(const QList<BlockRef> &blocks)
{
    QList<QPair<BlockRef, QList<LocalBlockCopier::Target>>> copies;
    QList<QPair<BlockRef, int>> job; // block, how many of its waiting targets the copy serves
    for (const BlockRef &b : blocks) {
        QList<LocalBlockCopier::Target> to;
        const QList<Target> &targets = m_waiting.value(b.hash);
        for (const Target &t : targets)
            to.append({ t.file->tempPath, t.offset });
        copies.append({ b, to });
        job.append({ b, int(targets.size()) });
    }
    // One watcher per job: a late signal of an aborted run cannot reach this one.
    auto *watcher = new QFutureWatcher<QSet<ContentHash>>(this);
    const int generation = m_generation;
    auto future = m_copier.start(copies, m_cancel);
    m_localCopies.append(future);
    connect(watcher, &QFutureWatcher<QSet<ContentHash>>::finished, this, [this, watcher, generation, job] {
        watcher->deleteLater();
        if (generation != m_generation)
            return;
        m_localCopies.removeIf([](const QFuture<QSet<ContentHash>> &f) { return f.isFinished(); });
        onLocalCopied(job, watcher->result());
    });
    watcher->setFuture(future);
}

void Downloader::onLocalCopied(const QList<QPair<BlockRef, int>> &job, const QSet<ContentHash> &written)
{
    for (const auto &[b, served] : job) {
        auto waiting = m_waiting.find(b.hash);
        if (waiting == m_waiting.end())
            continue;
        if (written.contains(b.hash)) {
            Q_EMIT bytesDone(b.size);
            // The copy wrote into the files that waited when it started; files admitted
            // since then still wait, and get the block from the server.
            const QList<Target> done = waiting->mid(0, served);
            waiting->remove(0, qMin(served, int(waiting->size())));
            if (waiting->isEmpty())
                m_waiting.erase(waiting);
            else
                m_queue.append(b);
            const std::optional<quint64> check = m_copier.checkOf(b.hash);
            for (const Target &t : done) {
                t.file->setCheck(t.offset, check);
                delivered(*t.file);
            }
        } else {
            m_queue.append(b); // its local source changed: the server has it
        }
    }
    admit();
    pump();
    checkDone();
}

void Downloader::pump()
{
    // Small blocks are asked for several to a GetBlocks, not one request and one reply
    // per file on each of three processes. Files are admitted a few at a
    // time, so a batch that is not full waits while another is under way (its reply calls
    // pump() again), as Nagle's algorithm does: at most one round trip later, and many
    // blocks a request instead of one or two.
    // While a batch is under way a queue too short to fill one waits for its reply as a
    // whole (a big block in it too, by at most that round trip): pump() runs after every
    // written block, and taking the queue apart only to put it back each time was waste.
    if (m_batchesInFlight > 0 && m_queue.size() < kBatchBlocks && m_queuedBytes < kBatchBytes)
        return;
    QList<BlockRef> batch;
    qint64 batchBytes = 0;
    while (!m_queue.isEmpty() && m_inFlight < kWindowBytes) {
        const BlockRef block = m_queue.takeFirst();
        m_queuedBytes = qMax<qint64>(0, m_queuedBytes - block.size);
        m_inFlight += block.size;
        if (block.size <= kBatchBlockBytes) {
            batch.append(block);
            batchBytes += block.size;
            if (batch.size() >= kBatchBlocks || batchBytes >= kBatchBytes) {
                fetchBatch(std::exchange(batch, {}));
                batchBytes = 0;
            }
            continue;
        }
        const int generation = m_generation;
        m_connection.getBlock(block.hash, [this, block, generation](const Reply<BlockPayload> &payload) {
            if (generation != m_generation)
                return;
            if (!payload || payload->hash != block.hash || payload->rawSize != block.size) {
                m_inFlight -= block.size;
                onBlockFailed(block.hash, !payload ? payload.message : QStringLiteral("the server sent another block"));
                admit();
                pump();
                checkDone();
                return;
            }
            // Verified and written on the pool: the engine thread reads the next replies
            // meanwhile. The block stays in the window until it is written.
            writeBlock(block, *payload);
        });
    }
    if (batch.isEmpty())
        return;
    if (m_batchesInFlight == 0)
        return fetchBatch(batch);
    for (qsizetype i = batch.size() - 1; i >= 0; --i) { // first in line again, in order
        m_inFlight -= batch.at(i).size;
        m_queuedBytes += batch.at(i).size;
        m_queue.prepend(batch.at(i));
    }
}

void Downloader::fetchBatch(const QList<BlockRef> &blocks)
{
    QList<ContentHash> hashes;
    hashes.reserve(blocks.size());
    for (const BlockRef &b : blocks)
        hashes.append(b.hash);
    ++m_batchesFetched;
    ++m_batchesInFlight;
    const int generation = m_generation;
    m_connection.getBlocks(hashes, [this, blocks, generation](const Reply<BlockBatch> &reply) {
        if (generation != m_generation)
            return;
        --m_batchesInFlight;
        // The server answers in request order: each asked block is in `blocks` (next in
        // line), or listed as missing (the account may not read it) or later (ask again).
        const QSet<ContentHash> later
            = reply ? QSet<ContentHash>(reply->later.cbegin(), reply->later.cend()) : QSet<ContentHash>();
        qsizetype at = 0;
        int requeued = 0;
        for (const BlockRef &block : blocks) {
            QString failure = !reply ? reply.message : QStringLiteral("no such block in this account");
            if (reply && at < reply->blocks.size() && reply->blocks.at(at).hash == block.hash) {
                const BlockPayload &payload = reply->blocks.at(at++);
                if (payload.rawSize == block.size) {
                    writeBlock(block, payload); // verified there: a lying block fails its file
                    continue;
                }
                failure = QStringLiteral("the server sent another block");
            } else if (reply && later.contains(block.hash)) {
                m_inFlight -= block.size;
                m_queue.insert(requeued++, block); // first in line again
                m_queuedBytes += block.size;
                continue;
            }
            m_inFlight -= block.size;
            onBlockFailed(block.hash, failure);
        }
        admit();
        pump();
        checkDone();
    });
}

void Downloader::writeBlock(const BlockRef &block, const BlockPayload &payload)
{
    const QList<Target> targets = m_waiting.value(block.hash);
    QList<BlockWriter::Target> writes;
    writes.reserve(targets.size());
    bool wantCheck = false;
    for (const Target &t : targets) {
        writes.append({ t.file->failed ? -1 : t.file->fd, t.offset });
        wantCheck = wantCheck || t.file->checksKnown;
    }
    const int generation = m_generation;
    m_writer.write(payload, writes, wantCheck, [this, block, generation](const BlockWriter::Outcome &outcome) {
        if (generation != m_generation)
            return;
        m_inFlight -= block.size;
        if (!outcome.verified()) {
            onBlockFailed(block.hash, outcome.error);
        } else {
            Q_EMIT bytesDone(block.size);
            onBlockWritten(block, outcome);
        }
        if (generation != m_generation)
            return;
        admit();
        pump();
        checkDone();
    });
}

// The files that waited when the write started have the block now (or a failed write);
// files admitted since then still wait, and get the block from the server again.
void Downloader::onBlockWritten(const BlockRef &block, const BlockWriter::Outcome &outcome)
{
    auto waiting = m_waiting.find(block.hash);
    if (waiting == m_waiting.end())
        return;
    const qsizetype served = qMin(outcome.writeErrors.size(), waiting->size());
    const QList<Target> done = waiting->mid(0, served);
    waiting->remove(0, served);
    if (waiting->isEmpty())
        m_waiting.erase(waiting);
    else
        m_queue.append(block);
    for (qsizetype i = 0; i < done.size(); ++i) {
        File &file = *done.at(i).file;
        file.setCheck(done.at(i).offset, outcome.check);
        if (file.failed) {
            // failed meanwhile: nothing more to do for it
        } else if (const int error = outcome.writeErrors.at(i)) {
            failFile(file, QStringLiteral("cannot write: %1").arg(QString::fromLocal8Bit(strerror(error))));
        } else if ((file.unflushed += outcome.size) >= localfs::kWriteBackBytes) {
            file.unflushed = 0;
            localfs::startWriteBackOnPool(m_pools, file.fd);
        }
        delivered(file);
    }
}

void Downloader::onBlockFailed(const ContentHash &hash, const QString &reason)
{
    const QList<Target> targets = m_waiting.take(hash);
    for (const Target &t : targets) {
        if (!t.file->failed)
            failFile(*t.file, reason);
        delivered(*t.file);
    }
}

// One of the file's blocks was written (or will never be): the last one completes it.
void Downloader::delivered(File &file)
{
    if (--file.pending > 0)
        return;
    if (file.failed)
        release(file);
    else
        assembled(file);
}

} // namespace filesync
