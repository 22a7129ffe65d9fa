#include "synccycle.h"

#include "enginelogging.h"
#include "enginepools.h"
#include "journal.h"
#include "reconciler.h"
#include "serverconnection.h"

#include <QDir>
#include <QFileInfo>
#include <QFutureWatcher>
#include <QtConcurrent>

#include <utility>

namespace filesync {

namespace {

// The plan as the debug log shows it: all of a small plan; of a big one the first actions
// and a count per type: the whole text of a big plan, and its copies while the message
// is formatted, were the client's memory peak.
QString planForLog(const SyncPlan &plan)
{
    constexpr qsizetype kLoggedActions = 100;
    if (plan.actions.size() <= kLoggedActions)
        return plan.describe();
    SyncPlan head;
    head.actions = plan.actions.first(kLoggedActions);
    QStringList counts;
    for (const ActionType type : { ActionType::MoveRemote, ActionType::DeleteRemote, ActionType::Upload,
             ActionType::MoveLocal, ActionType::ConflictCopy, ActionType::DeleteLocal, ActionType::Download,
             ActionType::Record, ActionType::Forget }) {
        if (const int n = plan.count(type))
            counts << QStringLiteral("%1 %2").arg(n).arg(actionName(type));
    }
    return head.describe()
        + QStringLiteral("\n... %1 actions in all: %2").arg(plan.actions.size()).arg(counts.join(QStringLiteral(", ")));
}

} // namespace

SyncCycle::SyncCycle(const QString &root, const QString &sessionName, Journal &journal, ServerConnection &connection,
    EnginePools &pools, QObject *parent)
    : QObject(parent)
    , m_root(root)
    , m_session(sessionName)
    , m_journal(journal)
    , m_connection(connection)
    , m_pools(pools)
    , m_propagator(new Propagator(root, journal, connection, pools, this))
{
    connect(m_propagator, &Propagator::itemCompleted, this, &SyncCycle::itemCompleted);
    connect(m_propagator, &Propagator::conflictKept, this, &SyncCycle::conflict);
    connect(m_propagator, &Propagator::warning, this, &SyncCycle::warning);
    connect(m_propagator, &Propagator::progressChanged, this, &SyncCycle::progressChanged);
    connect(m_propagator, &Propagator::finished, this, &SyncCycle::onPropagated);
}

SyncCycle::~SyncCycle()
{
    abort();
}

void SyncCycle::start(const ScanScope &scope)
{
    Q_ASSERT(!m_running);
    m_running = true;
    m_timer.start();
    m_stats = {};
    m_stats.partial = !scope.full;
    m_changes.clear();
    m_scope = scope;
    m_scanDone = m_changesDone = m_applied = false;
    m_postponed.clear();
    m_sliced = m_feedRemaining = false;
    m_journalAtStart = m_journal.load();
    m_since = m_head = readFrom();
    // A partial scan needs to know where the server's changes land: read them first.
    if (scope.full)
        startScan();
    else
        readChanges();
}

quint64 SyncCycle::readFrom() const
{
    const quint64 cursor = m_journal.cursor();
    return m_readAt && m_readAt->first == cursor && m_readAt->second > cursor ? m_readAt->second : cursor;
}

void SyncCycle::startScan()
{
    m_cancel = std::make_shared<std::atomic_bool>(false);
    // The scan gets copies (and its own cancel flag): it may outlive this cycle.
    const QString root = m_root;
    JournalState journal = m_journalAtStart;
    const ScanScope scope = m_scope;
    const std::shared_ptr<std::atomic_bool> cancel = m_cancel;
    // One watcher per scan: a late signal of an aborted scan cannot reach this one.
    auto *watcher = new QFutureWatcher<Scanner::Result>(this);
    const int generation = m_generation;
    connect(watcher, &QFutureWatcher<Scanner::Result>::finished, this, [this, watcher, generation] {
        watcher->deleteLater();
        if (m_running && generation == m_generation)
            onScanned(watcher->result());
    });
    m_scan = m_pools.run(m_pools.work(), [root, journal, scope, cancel, hashing = &m_pools.hashing()]() mutable {
        Scanner::Result result = Scanner::scan(root, journal, scope, cancel.get(), hashing);
        // Let go of the journal before the result is reported, not whenever the pool
        // deletes this task: see reconcileAndPropagate().
        journal = {};
        return result;
    });
    watcher->setFuture(m_scan);
}

void SyncCycle::abort()
{
    ++m_generation;
    if (m_cancel)
        m_cancel->store(true);
    m_scan.waitForFinished();
    m_propagator->abort();
    dropReadAhead();
    m_movedInPass.clear();
    m_propagating = false;
    m_running = false;
}

void SyncCycle::onScanned(const Scanner::Result &scan)
{
    // `scan` is the watcher's copy: the future's own would keep the whole snapshot (and
    // the scoped journal) alive until the next scan, all through the propagation.
    m_scan = QFuture<Scanner::Result>();
    if (scan.cancelled)
        return end(false);
    if (!scan.fatal.isEmpty()) {
        m_running = false;
        Q_EMIT fatal(scan.fatal);
        return;
    }
    // Gone while we walked: the snapshot may show a half-removed tree. Decide nothing.
    if (!QFileInfo::exists(Journal::path(m_root))) {
        m_running = false;
        Q_EMIT fatal(tr("The folder's FileSync data (%1) disappeared; syncing stopped so nothing is deleted.")
                         .arg(Journal::metadataDir(m_root)));
        return;
    }
    m_stats.scannedAtMs = m_timer.elapsed();
    m_stats.scanMs = scan.elapsedMs;
    m_snapshot = scan.snapshot;
    m_reconcileJournal = scan.partial ? scan.scopedJournal : m_journalAtStart;
    m_fullScan = !scan.partial;
    m_scanDone = true;
    m_stats.scanned = scan.visited;
    m_stats.hashed = scan.hashedFiles;
    m_stats.hashedBytes = scan.hashedBytes;
    // The folders to watch: what the scan saw, and out of its scope what the journal knows.
    QList<RelativePath> dirs;
    for (auto it = scan.snapshot.cbegin(); it != scan.snapshot.cend(); ++it) {
        if (it->isDir() && !it->unreadable)
            dirs << it.key();
    }
    if (scan.partial) {
        for (auto it = m_journalAtStart.cbegin(); it != m_journalAtStart.cend(); ++it) {
            if (it->isDir() && !scan.scopedJournal.contains(it.key()))
                dirs << it.key();
        }
    }
    Q_EMIT scanned(dirs, scan.warnings);
    if (m_changesDone)
        reconcileAndPropagate();
    else
        readChanges();
}

void SyncCycle::readChanges()
{
    if (m_ahead.active && m_ahead.since <= m_since) {
        if (!m_ahead.inFlight)
            return adoptReadAhead();
        m_awaitingAhead = true; // its page comes first (the connection answers in order)
        return;
    }
    dropReadAhead(); // it starts after entries this cycle must see again
    fetchChanges(m_since);
}

// What was read ahead, from where this cycle starts: every path whose version is in
// (m_since, next] as the server had it when its page was read; a path that changed since
// comes again above `next` (a change takes a version above the head of every page read
// before it), in what this cycle reads on or in the next cycle's feed. Entries at or
// below m_since are our own commits, which the journal holds (the cursor went past
// them), and are dropped.
void SyncCycle::adoptReadAhead()
{
    ReadAhead ahead = std::exchange(m_ahead, {});
    for (auto it = ahead.changes.cbegin(); it != ahead.changes.cend(); ++it) {
        if (it->version > m_since)
            m_changes.insert(it.key(), *it);
    }
    m_stats.readAhead = int(m_changes.size());
    const quint64 from = qMax(ahead.next, m_since);
    const qsizetype left = m_maxChanges - m_changes.size();
    if (from == ahead.next && left <= 0) {
        // A slice's worth: up to the head it saw, it is this cycle's whole feed (what came
        // after is the next cycle's); short of it, the slice ends after its last live entry.
        if (!ahead.more) {
            m_head = from;
            return onChangesComplete();
        }
        if (cutSlice(from))
            return onChangesComplete();
    }
    // On with what is left of a slice (and what came after a head it reached), so that
    // what was read ahead and the rest never make more than a slice between them.
    fetchChanges(from, left > 0 ? int(left) : m_maxChanges);
}

void SyncCycle::dropReadAhead()
{
    ++m_aheadGeneration;
    m_ahead = {};
    m_awaitingAhead = false;
}

void SyncCycle::readAhead()
{
    if (!m_running || !m_propagating)
        return;
    if (!m_ahead.active) {
        m_ahead.active = true;
        m_ahead.since = m_ahead.next = m_head;
    }
    if (m_ahead.inFlight) {
        m_ahead.again = true;
        return;
    }
    if (m_ahead.changes.size() < m_maxChanges)
        readAheadPage();
}

void SyncCycle::readAheadPage()
{
    m_ahead.inFlight = true;
    m_ahead.again = false;
    const int generation = m_aheadGeneration;
    const quint64 since = m_ahead.next;
    const int limit = int(m_maxChanges - m_ahead.changes.size()); // at most a slice read ahead
    m_connection.getChanges(since, limit, [this, generation, since](const Reply<protocol::Changes> &page) {
        if (generation != m_aheadGeneration)
            return;
        m_ahead.inFlight = false;
        const bool awaited = std::exchange(m_awaitingAhead, false);
        if (!page || (page->more && page->next <= since)) {
            // Nothing is lost: the cycle that needs these entries reads them itself (and
            // meets the error there, if it is still one).
            dropReadAhead();
            if (awaited)
                fetchChanges(m_since);
            return;
        }
        for (const protocol::FileEntry &e : page->entries)
            m_ahead.changes.insert(e.path, e);
        m_ahead.more = page->more;
        m_ahead.next = page->more ? page->next : qMax(page->head, since);
        if (awaited)
            return adoptReadAhead();
        if ((page->more || m_ahead.again) && m_propagating && m_ahead.changes.size() < m_maxChanges)
            readAheadPage();
    });
}

void SyncCycle::fetchChanges(quint64 since, int limit)
{
    const int generation = m_generation;
    // Pages of at most a slice, so a small cap (tests) still ends a slice at a page end.
    m_connection.getChanges(
        since, limit > 0 ? limit : m_maxChanges, [this, generation, since](const Reply<protocol::Changes> &page) {
            if (generation != m_generation)
                return;
            if (!page) {
                // Half a picture is no picture: nothing is decided on it (and nothing deleted).
                if (page.code != QLatin1String(ServerConnection::kDisconnected))
                    Q_EMIT warning(tr("The server could not list the changes: %1").arg(page.message));
                return end(false);
            }
            for (const protocol::FileEntry &e : page->entries)
                m_changes.insert(e.path, e);
            if (page->more) {
                if (page->next <= since) {
                    Q_EMIT warning(tr("The server's list of changes does not advance; trying again later."));
                    return end(false);
                }
                if (m_changes.size() >= m_maxChanges && cutSlice(page->next))
                    return onChangesComplete();
                return fetchChanges(page->next);
            }
            m_head = page->head;
            onChangesComplete();
        });
}

// Ends the slice after its last live entry: the cursor may then stand at that entry's
// version, and every change at or below it is in the slice (the feed lists each path at
// its current version, ascending, so nothing at or below a page's end can appear later).
// Not after a tombstone: a move is written as the source's tombstone, then the entry at
// the target (docs/protocol.md), and a slice ending between them would delete the source
// here instead of renaming it; for a folder that still holds its files, the delete fails
// and the folder, now unknown to the journal, would be uploaded again. The tombstones
// after the last live entry wait for the next slice. A slice of tombstones only (a big
// delete) is read on up to four times the cap, then ends after its last file's tombstone
// (split from its move, a file is only fetched again instead of renamed), or, if there
// is none, at the page's end.
bool SyncCycle::cutSlice(quint64 pageEnd)
{
    quint64 lastLive = 0, lastFileTombstone = 0;
    for (const protocol::FileEntry &e : std::as_const(m_changes)) {
        if (!e.deleted)
            lastLive = qMax(lastLive, e.version);
        else if (e.kind == protocol::EntryKind::File)
            lastFileTombstone = qMax(lastFileTombstone, e.version);
    }
    quint64 sliceEnd = lastLive;
    if (sliceEnd <= m_since) {
        if (m_changes.size() < 4 * qsizetype(m_maxChanges))
            return false;
        sliceEnd = lastFileTombstone > m_since ? lastFileTombstone : pageEnd;
    }
    for (auto it = m_changes.begin(); it != m_changes.end();) {
        if (it->version > sliceEnd)
            it = m_changes.erase(it);
        else
            ++it;
    }
    m_head = sliceEnd;
    m_sliced = true;
    return true;
}

void SyncCycle::onChangesComplete()
{
    m_stats.changesAtMs = m_timer.elapsed();
    m_changesDone = true;
    if (m_scanDone)
        return reconcileAndPropagate();
    // What the reconciler will look at for each change: the folder that holds it (and
    // the one it moved from), and a whole folder that is deleted, moved or replaced.
    for (auto it = m_changes.cbegin(); it != m_changes.cend(); ++it) {
        for (const std::optional<RelativePath> &p : { std::optional<RelativePath>(it.key()), it->movedFrom }) {
            if (!p || p->isRoot())
                continue;
            m_scope.dirs.insert(p->parent());
            const auto known = m_journalAtStart.constFind(*p);
            if (it->kind == protocol::EntryKind::Directory || (known != m_journalAtStart.cend() && known->isDir()))
                m_scope.trees.insert(*p);
        }
    }
    for (auto it = m_movedInPass.cbegin(); it != m_movedInPass.cend(); ++it)
        m_scope.trees.insert(it.key()); // what the last slice checks under them
    startScan();
}

void SyncCycle::reconcileAndPropagate()
{
    adoptSent();
    Reconciler::Feed feed;
    feed.complete = !m_sliced;
    m_movedThisSlice.clear();
    for (const protocol::FileEntry &e : std::as_const(m_changes)) {
        if (!e.deleted && e.movedFrom && e.kind == protocol::EntryKind::Directory)
            m_movedThisSlice.insert(e.path, e.version);
    }
    if (!m_sliced)
        feed.movedEarlier = std::exchange(m_movedInPass, {});
    // An unchanged tree (a rescan with nothing new) needs no reconciling, entry by entry.
    SyncPlan plan = feed.movedEarlier.isEmpty() && Reconciler::isInSync(m_snapshot, m_reconcileJournal, m_changes)
        ? SyncPlan()
        : Reconciler::reconcile(
            m_snapshot, m_reconcileJournal, m_changes, m_session, QDateTime::currentDateTime(), feed);
    m_stats.actions = int(plan.actions.size());
    m_stats.remoteEntries = int(m_changes.size());
    m_stats.sliced = m_sliced;
    m_stats.reconciledAtMs = m_timer.elapsed();
    if (!plan.isEmpty())
        qCDebug(lcEngine).noquote() << "plan for" << QDir(m_root).dirName() << ":\n" << planForLog(plan);
    m_snapshot.clear();
    m_reconcileJournal.clear();
    m_changes.clear();
    // Our reference to the journal's map goes with it: held while the propagator writes
    // the journal, it would make the first write copy the whole map.
    m_propagating = true;
    m_propagator->run(std::move(plan), std::exchange(m_journalAtStart, {}), m_head);
    if (m_sliced)
        readAhead(); // the rest of the feed is there already (a no-op if the plan was done at once)
}

void SyncCycle::onPropagated(const Propagator::Outcome &outcome)
{
    m_propagating = false;
    if (!m_running)
        return;
    if (m_journal.hasFailed()) {
        m_running = false;
        Q_EMIT fatal(tr("Cannot write the sync journal (%1); syncing stopped.").arg(m_journal.lastError()));
        return;
    }
    m_applied = true;
    m_postponed = outcome.postponed;
    // Only a cycle that applied everything may move the cursor past what it saw, and only
    // from where it started reading: past an earlier slice's held path it stays put.
    const quint64 cursor = m_journal.cursor();
    const bool held = m_since > cursor;
    if (outcome.complete && !held && m_head > cursor)
        m_journal.setCursor(m_head);
    // Our own commits took the head on from exactly what we read, with nobody else's in
    // between, and the journal holds them: no need to read them back (the echo). (A
    // slice's end is never the head our commits started from: more of the feed followed
    // it when it was read.)
    if (outcome.complete && !held && !m_sliced && outcome.ownCommits && outcome.ownCommits->first == m_head
        && outcome.ownCommits->second > m_journal.cursor())
        m_journal.setCursor(outcome.ownCommits->second);
    if (m_sliced && outcome.complete && !held)
        m_movedInPass.insert(m_movedThisSlice);
    else
        m_movedInPass.clear();
    m_movedThisSlice.clear();
    if (outcome.rewindTo && *outcome.rewindTo < m_journal.cursor()) {
        qCInfo(lcFeed) << "a conflict showed a stale view: reading the changes again from" << *outcome.rewindTo;
        m_journal.setCursor(*outcome.rewindTo);
    }
    // The rest of the feed comes next, whatever this slice left for another look; after
    // the last slice, a pass that held the cursor reads again from it.
    bool again = outcome.followUp || !outcome.complete;
    if (m_sliced) {
        m_feedRemaining = true;
        if (m_head > m_journal.cursor())
            m_readAt = std::make_pair(m_journal.cursor(), m_head);
        else
            m_readAt.reset();
    } else {
        again = again || held;
        m_readAt.reset();
    }
    end(again);
}

void SyncCycle::end(bool followUp)
{
    m_running = false;
    m_propagating = false;
    m_stats.elapsedMs = m_timer.elapsed();
    qCDebug(lcEngine).nospace() << "cycle phases: changes read at " << m_stats.changesAtMs << " ms ("
                                << m_stats.readAhead << " read ahead), scanned at " << m_stats.scannedAtMs
                                << " ms (the walk took " << m_stats.scanMs << " ms), reconciled at "
                                << m_stats.reconciledAtMs << " ms";
    // A lost connection is the engine's business (it reconnects); this cycle just ends.
    Q_EMIT finished(followUp && m_connection.isReady());
}

} // namespace filesync
