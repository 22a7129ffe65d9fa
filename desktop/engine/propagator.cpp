#include "propagator.h"

#include "downloader.h"
#include "enginelogging.h"
#include "journal.h"
#include "localfs.h"
#include "uploader.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QSet>

#include <utility>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <unistd.h>
#include <utility>

namespace filesync {

using protocol::BlockRef;
using protocol::EntryKind;

Propagator::Propagator(
    const QString &root, Journal &journal, ServerConnection &connection, EnginePools &pools, QObject *parent)
    : QObject(parent)
    , m_root(root)
    , m_journal(journal)
    , m_downloader(new Downloader(root, journal, connection, pools, this))
    , m_uploader(new Uploader(root, connection, this))
{
    connect(m_downloader, &Downloader::fileDone, this,
        [this](const SyncAction &a) { completed(a, ItemDirection::Down, QStringLiteral("downloaded")); });
    connect(m_downloader, &Downloader::fileSkipped, this, [this](const SyncAction &a, const QString &reason) {
        qCInfo(lcDownload) << "download of" << a.path.toString() << "postponed:" << reason;
        m_postponed << a.path.toString() + QStringLiteral(": ") + reason;
        m_followUp = true;
    });
    connect(m_downloader, &Downloader::warning, this, &Propagator::warning);
    connect(m_downloader, &Downloader::bytesDone, this, [this](qint64 bytes) {
        m_progress.bytesDone += bytes;
        Q_EMIT progressChanged(m_progress);
    });
    connect(m_downloader, &Downloader::finished, this, [this](bool complete) {
        m_complete = m_complete && complete;
        runRemote();
    });
    // One journal transaction per Commit reply (begin() refuses to nest, and then each
    // write stands alone as before). A failed write makes the journal fail, which stops
    // the folder at the end of the cycle, as for single writes.
    connect(m_uploader, &Uploader::resultsStarting, this, [this] { m_resultsBatch = m_journal.begin(); });
    connect(m_uploader, &Uploader::committing, this, [this](const QList<SyncAction> &ops) {
        Journal::SentPuts puts;
        Journal::SentMoves moves;
        for (const SyncAction &a : ops) {
            if (a.type == ActionType::MoveRemote)
                moves.append({ a.from, a.path, journalEntryFor(*a.local, 0) });
            else
                puts.append({ a.path, journalEntryFor(*a.local, 0) });
        }
        m_journal.setSent(puts, moves, std::max(m_readUpTo, m_uploader->answeredHead()));
    });
    connect(m_uploader, &Uploader::resultsDone, this, [this] {
        m_journal.clearSent(); // with the answers, in their transaction
        if (std::exchange(m_resultsBatch, false))
            m_journal.commit();
    });
    connect(m_uploader, &Uploader::opApplied, this, [this](const SyncAction &a, quint64 version) {
        if (a.type == ActionType::MoveRemote) {
            m_journal.moveTree(a.from, a.path);
            if (a.local)
                m_journal.put(a.path, journalEntryFor(*a.local, version));
            completed(a, ItemDirection::Up, QStringLiteral("moved"));
        } else if (a.type == ActionType::DeleteRemote) {
            m_journal.remove(a.path);
            completed(a, ItemDirection::Up, QStringLiteral("deleted"));
        } else {
            m_journal.put(a.path, journalEntryFor(*a.local, version));
            completed(a, ItemDirection::Up, QStringLiteral("uploaded"));
        }
    });
    connect(m_uploader, &Uploader::opConflict, this, [this](const SyncAction &a, quint64 current) {
        m_followUp = true;
        if (current == 0 && a.base != 0) {
            // No row at all there on the server, not even a tombstone: the journal knows a
            // path the server never had (so no re-read can correct it, and the same op was
            // refused in every cycle). Forgotten, the disk's state there is new next cycle.
            qCInfo(lcUpload) << "the server has nothing at"
                             << (a.type == ActionType::MoveRemote ? a.from : a.path).toString()
                             << "- forgetting what the journal said of it";
            if (a.type == ActionType::MoveRemote)
                m_journal.removeTree(a.from);
            else
                m_journal.remove(a.path);
            return;
        }
        qCInfo(lcUpload) << "the server has a newer" << a.path.toString() << "- merging in the next cycle";
        // A version we should have seen already (at or below the cursor) means our view
        // of that path is stale: the feed is read again from just before it.
        if (current > 0)
            m_rewindTo = m_rewindTo ? qMin(*m_rewindTo, current - 1) : current - 1;
    });
    connect(m_uploader, &Uploader::opRejected, this, [this](const SyncAction &a, const QString &reason) {
        Q_EMIT warning(tr("The server refused %1: %2").arg(a.path.toString(), reason));
    });
    connect(m_uploader, &Uploader::bytesDone, this, [this](qint64 bytes) {
        m_progress.bytesDone += bytes;
        Q_EMIT progressChanged(m_progress);
    });
    connect(m_uploader, &Uploader::finished, this, [this](bool complete) {
        m_complete = m_complete && complete;
        finish();
    });
}

Propagator::~Propagator() = default;

void Propagator::abort()
{
    m_downloader->abort();
    m_uploader->abort();
    m_running = false;
}

void Propagator::run(SyncPlan plan, JournalState journalAtStart, quint64 readUpTo)
{
    m_plan = std::move(plan);
    m_readUpTo = readUpTo;
    m_remoteOps.clear();
    m_moveSources.clear();
    m_atStart = entriesUsed(m_plan, journalAtStart);
    journalAtStart = {}; // before runLocal() writes the journal (see m_atStart)
    m_running = true;
    m_complete = !m_plan.holdCursor;
    m_followUp = m_plan.needsFollowUp || m_plan.holdCursor;
    m_rewindTo.reset();
    m_postponed.clear();
    m_unmoved.clear();
    m_progress = {};
    for (const SyncAction &a : std::as_const(m_plan.actions)) {
        if (a.kind != EntryKind::File)
            continue;
        if (a.type == ActionType::Download) {
            ++m_progress.filesTotal;
            m_progress.bytesTotal += a.remote.size;
        } else if (a.type == ActionType::Upload && a.local) {
            ++m_progress.filesTotal;
            m_progress.bytesTotal += a.local->size;
        }
    }
    Q_EMIT progressChanged(m_progress);
    runLocal();
    if (m_running)
        runDownloads();
}

// What the phases will read of the journal at the start (see m_atStart): the Downloader
// only looks for sources among the files that hold a block it needs, the Uploader only
// at the paths it uploads.
JournalState Propagator::entriesUsed(const SyncPlan &plan, const JournalState &journal)
{
    JournalState used;
    QSet<ContentHash> wanted;
    for (const SyncAction &a : plan.actions) {
        if (a.type == ActionType::Download && a.remote.kind == EntryKind::File) {
            for (const BlockRef &b : a.remote.blocks)
                wanted.insert(b.hash);
        } else if (a.type == ActionType::Upload) {
            if (const auto it = journal.constFind(a.path); it != journal.cend())
                used.insert(it.key(), it.value());
        }
    }
    for (auto it = wanted.isEmpty() ? journal.cend() : journal.cbegin(); it != journal.cend(); ++it) {
        if (std::any_of(
                it->blocks.cbegin(), it->blocks.cend(), [&](const BlockRef &b) { return wanted.contains(b.hash); }))
            used.insert(it.key(), it.value());
    }
    return used;
}

void Propagator::completed(const SyncAction &a, ItemDirection direction, const QString &what)
{
    if (a.kind == EntryKind::File && (a.type == ActionType::Download || a.type == ActionType::Upload)) {
        ++m_progress.filesDone;
        Q_EMIT progressChanged(m_progress);
    }
    Q_EMIT itemCompleted(SyncItem { a.path, direction, what, QDateTime::currentDateTime() });
}

// True when the disk still shows what the reconciler saw at this path.
bool Propagator::localStillAsPlanned(const SyncAction &a, const localfs::Location &at) const
{
    const auto now = at.stat();
    if (!a.local)
        return !now.has_value() && at.folderKnown();
    if (!now || now->kind != a.local->kind)
        return false;
    return a.local->isDir()
        || (now->size == a.local->size && now->mtimeNs == a.local->mtimeNs && now->inode == a.local->inode
            && syncedMode(now->mode) == syncedMode(a.local->mode));
}

// Something at the path differs from what the plan saw: leave it for a fresh look, and
// keep the cursor where it is so the server's change there is seen again.
void Propagator::postpone(const SyncAction &a, const char *why)
{
    qCInfo(lcLocal) << actionName(a.type) << a.path.toString() << "postponed:" << why;
    m_postponed << a.path.toString() + QStringLiteral(": ") + QString::fromLatin1(why);
    m_followUp = true;
    m_complete = false;
}

// A link or special file on the way to the action's path (or at it, where a file or
// folder of ours is expected) is never followed, replaced or deleted: the user is told
// which path waits and why, and the action is postponed like any other.
bool Propagator::stoppedByLink(const SyncAction &a, const localfs::Location &at)
{
    QString problem;
    if (at.inTheWay())
        problem = at.dir().problem();
    else if (at.isLinkOrSpecial())
        problem = QStringLiteral("%1 is a link or special file, which is never followed").arg(at.relative());
    else
        return false;
    Q_EMIT warning(tr("%1 is left alone: %2").arg(a.path.toString(), problem));
    postpone(a, "a link or special file is in the way");
    return true;
}

bool Propagator::stoppedByLink(const SyncAction &a, const localfs::Dir &dir)
{
    if (!dir.inTheWay())
        return false;
    Q_EMIT warning(tr("%1 is left alone: %2").arg(a.path.toString(), dir.problem()));
    postpone(a, "a link or special file is in the way");
    return true;
}

// The reconciler planned what follows a local move as if the move were done (the journal
// and the scan rebased to the new name). When it is not done, whatever was planned at either
// name, or deletes of the source's folders, would act on a tree that is not there: a record
// of a file never moved, then seen missing and deleted on the server. They wait with it.
bool Propagator::waitsForUnmovedMove(const SyncAction &a) const
{
    if (a.type == ActionType::MoveLocal)
        return false;
    for (const auto &[from, to] : m_unmoved) {
        if (a.path == to || to.isAncestorOf(a.path) || a.path == from || from.isAncestorOf(a.path)
            || (a.type == ActionType::DeleteLocal && a.path.isAncestorOf(from)))
            return true;
    }
    return false;
}

// Folders on the way to `path` are made where new here or brought back by the plan, never
// where the journal had one the scan saw: made again, a folder renamed here meanwhile
// stood twice.
bool Propagator::knownFolderGone(const RelativePath &path) const
{
    const RelativePath known = m_journal.knownFolderAbove(path);
    return !known.isRoot() && !m_plan.missingFolders.contains(known) && !localfs::Location::at(m_root, known).stat();
}

bool Propagator::underRemoteMove(const RelativePath &p) const
{
    return std::any_of(m_remoteMoveTargets.cbegin(), m_remoteMoveTargets.cend(),
        [&p](const RelativePath &to) { return to == p || to.isAncestorOf(p); });
}

bool Propagator::moveLocal(const SyncAction &a)
{
    const auto from = localfs::Location::at(m_root, a.from);
    if (stoppedByLink(a, from))
        return false;
    const auto source = from.stat();
    if (!source || source->inode != a.local->inode) {
        postpone(a, "the source changed");
        return false;
    }
    if (knownFolderGone(a.path)) {
        postpone(a, "its folder was renamed or deleted on this computer meanwhile");
        return false;
    }
    const auto to = localfs::Location::makingFolders(m_root, a.path);
    if (stoppedByLink(a, to.dir()))
        return false;
    if (!to.ok()) {
        postpone(a, "cannot create the folder");
        return false;
    }
    if (!localfs::renameNoReplace(from, to)) {
        if (!stoppedByLink(a, to))
            postpone(a, "the target is taken");
        return false;
    }
    // A move of ours undone (back to the name the journal has) leaves the journal as it is.
    if (const RelativePath &known = a.journalFrom.isRoot() ? a.from : a.journalFrom; known != a.path)
        m_journal.moveTree(known, a.path);
    completed(a, ItemDirection::Down, QStringLiteral("moved"));
    return true;
}

void Propagator::runLocal()
{
    m_remoteMoveTargets.clear();
    for (const SyncAction &a : std::as_const(m_plan.actions)) {
        if (a.type == ActionType::MoveRemote)
            m_remoteMoveTargets.push_back(a.path);
    }
    m_journal.begin();
    for (const SyncAction &a : std::as_const(m_plan.actions)) {
        if (!m_unmoved.empty() && waitsForUnmovedMove(a)) {
            postpone(a, "waits for a move that is not done");
            continue;
        }
        switch (a.type) {
        case ActionType::MoveLocal:
            if (!moveLocal(a))
                m_unmoved.push_back({ a.from, a.path });
            break;
        case ActionType::ConflictCopy: {
            const auto at = localfs::Location::at(m_root, a.path);
            const auto copy = localfs::Location::at(m_root, a.conflictCopy);
            if (stoppedByLink(a, at) || stoppedByLink(a, copy.dir()))
                break;
            if (!localStillAsPlanned(a, at) || !localfs::renameNoReplace(at, copy)) {
                postpone(a, "changed meanwhile"); // the paired download then finds the path taken
                break;
            }
            // What was synced under a folder set aside went with it (new under the copy's
            // name). A file set aside in place of a folder the journal knows holds none of
            // it: the folder's content left the disk with the folder, a delete to send.
            if (a.local && !a.local->isDir())
                m_journal.remove(a.path);
            else
                m_journal.removeTree(a.path);
            m_followUp = true; // the copy is uploaded by the next cycle
            Q_EMIT conflictKept(a.path, a.conflictCopy);
            Q_EMIT itemCompleted(SyncItem {
                a.conflictCopy, ItemDirection::Local, QStringLiteral("conflict"), QDateTime::currentDateTime() });
            break;
        }
        case ActionType::DeleteLocal: {
            // Only what is still as the scan saw it (content and mode as last synced; an
            // mtime-only change is no edit); a folder only once it is empty.
            // Nothing through a link: a link's target is never ours to delete.
            const auto at = localfs::Location::at(m_root, a.path);
            if (stoppedByLink(a, at.dir()))
                break;
            const auto now = at.stat();
            if (!now && at.ok()) {
                m_journal.remove(a.path); // deleted here too
                break;
            }
            // Its folder gone since the scan may have moved here, the entry with it: the
            // next cycle sees the move, and the delete applies at the new name. Forgotten
            // now, the entry would be new there next cycle, and uploaded again.
            if (!now || !localStillAsPlanned(a, at)) {
                postpone(a, "changed meanwhile");
                break;
            }
            const bool removed = now->isDir() ? at.removeDir() : at.removeFile();
            m_journal.remove(a.path); // a folder that kept new files is new again: re-uploaded
            if (removed)
                completed(a, ItemDirection::Down, QStringLiteral("deleted"));
            else
                m_followUp = true;
            break;
        }
        case ActionType::Download:
            if (a.remote.kind == EntryKind::Directory)
                createDirectory(a);
            break;
        case ActionType::Record:
            // Under a move the server has not made yet, a record would name a path the
            // server may refuse; the move's answer records it (the next scan the rest).
            if (a.local && !underRemoteMove(a.path))
                m_journal.put(a.path, journalEntryFor(*a.local, a.version));
            break;
        case ActionType::Forget:
            m_journal.remove(a.path);
            break;
        default:
            break;
        }
    }
    m_journal.commit();
}

void Propagator::createDirectory(const SyncAction &a)
{
    const auto at = localfs::Location::at(m_root, a.path);
    if (stoppedByLink(a, at))
        return;
    const auto now = at.stat();
    if (now && !now->isDir()) {
        // A folder replaces a file (changed into a folder elsewhere) only if the file is
        // exactly as last synced; the scan saw it so, and it must still be.
        if (!a.local || a.local->isDir() || !localStillAsPlanned(a, at) || !at.removeFile())
            return postpone(a, "a file is in the way");
    }
    if (knownFolderGone(a.path))
        return postpone(a, "its folder was renamed or deleted on this computer meanwhile");
    const localfs::Dir made = localfs::makeDirs(m_root, a.path);
    if (stoppedByLink(a, made))
        return;
    if (!made)
        return postpone(a, "cannot create the folder");
    if (auto landed = localfs::statFd(made.fd()))
        m_journal.put(a.path, journalEntryFor(*landed, a.remote.version));
    completed(a, ItemDirection::Down, QStringLiteral("created"));
}

void Propagator::runDownloads()
{
    auto isFile
        = [](const SyncAction &a) { return a.type == ActionType::Download && a.remote.kind == EntryKind::File; };
    auto isRemote = [](const SyncAction &a) {
        return a.type == ActionType::MoveRemote || a.type == ActionType::DeleteRemote || a.type == ActionType::Upload;
    };
    // The local phase is done: the actions left to do are moved (not copied) into one
    // list for each of the other two phases and the plan is freed. Each list is sized up
    // front: growing a list of 100,000 actions doubles it, and old and new buffers live
    // together while it grows (heaptrack: a 64 MiB peak for 34 MB of actions).
    QList<SyncAction> files;
    files.reserve(std::count_if(m_plan.actions.cbegin(), m_plan.actions.cend(), isFile));
    m_remoteOps.reserve(size_t(std::count_if(m_plan.actions.cbegin(), m_plan.actions.cend(), isRemote)));
    for (SyncAction &a : m_plan.actions) {
        if (!m_unmoved.empty() && (isFile(a) || isRemote(a)) && waitsForUnmovedMove(a)) {
            postpone(a, "waits for a move that is not done");
            continue;
        }
        if (isFile(a)) {
            files.append(std::move(a));
        } else if (isRemote(a)) {
            if (a.type == ActionType::MoveRemote)
                m_moveSources.insert(int(m_remoteOps.size()), a.from);
            m_remoteOps.push_back(Uploader::Op::from(std::move(a)));
        }
    }
    m_plan.actions = {};
    // The Downloader keeps an implicitly shared reference to the list; once ours is gone
    // (at the end of this function) it holds the only one, and nothing is copied.
    m_downloader->run(files, m_atStart, m_plan.missingFolders); // finished() leads on to runRemote()
}

void Propagator::runRemote()
{
    if (!m_running)
        return;
    // The folder vanishing under a running cycle (moved away, unmounted, being removed)
    // makes its paths look deleted: nothing goes to the server then, the engine stops.
    if (!QFileInfo::exists(Journal::path(m_root))) {
        m_complete = false;
        return finish();
    }
    // As in runDownloads(): after this the Uploader holds the only reference to the ops.
    m_uploader->run(std::exchange(m_remoteOps, {}), std::exchange(m_moveSources, {}), m_atStart);
    // finished() leads on to finish()
}

void Propagator::finish()
{
    if (!m_running)
        return;
    m_running = false;
    Outcome outcome { m_complete, m_followUp, m_rewindTo, std::nullopt, std::exchange(m_postponed, {}) };
    if (const auto own = m_uploader->ownAdvance())
        outcome.ownCommits = std::make_pair(own->from, own->to);
    Q_EMIT finished(outcome);
}

} // namespace filesync
