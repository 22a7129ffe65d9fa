#pragma once

#include "propagator.h"
#include "scanner.h"
#include "syncengine.h"

#include <QElapsedTimer>
#include <QFuture>
#include <QObject>

#include <atomic>
#include <memory>
#include <optional>
#include <utility>

namespace filesync {

class EnginePools;
class Journal;
class ServerConnection;

// One pass of the sync: scan the folder (thread pool) → GetChanges since the journal's
// cursor, page by page up to a slice of about maxChanges() entries → reconcile (pure) →
// propagate → move the cursor to the end of what was read (the head, or the slice's
// end), only if everything was applied (a conflict may move it back, so the path is read
// again). A slice leaves the rest of the feed to the next cycle (feedRemaining()), so a
// client far behind holds one slice of remote entries, snapshot and plan at a time, not
// the whole feed. A partial cycle (a scope that is not full) reads the changes
// first and scans the given folders plus the places those changes touch; the rest of
// the tree is unchanged by definition and is neither scanned nor reconciled. One cycle at a time; start() again for the
// next one. A server error or a lost connection ends the cycle without acting on half a picture. Engine thread (the
// scan runs on the engine's pools); owned by SyncEngine, one per connection.
class SyncCycle : public QObject
{
    Q_OBJECT
public:
    // What the engine reports (CycleReport), and the phases' times for the debug log.
    struct Stats : CycleReport
    {
        qint64 hashedBytes = 0;
        qint64 changesAtMs = 0, scannedAtMs = 0, scanMs = 0, reconciledAtMs = 0; // since the start
    };

    SyncCycle(const QString &root, const QString &sessionName, Journal &journal, ServerConnection &connection,
        EnginePools &pools, QObject *parent = nullptr);
    ~SyncCycle() override;

    void start(const ScanScope &scope = ScanScope::everything());
    // What this cycle scanned (including the places the server's changes touched).
    const ScanScope &scope() const { return m_scope; }
    // Whether the last cycle got as far as applying a plan; one that ended early (a
    // server error, no progress) leaves its scope to be looked at again.
    bool applied() const { return m_applied; }
    // What the last cycle left for another look ("path: reason"): empty when it applied
    // everything, or held the cursor for a reason the scan reported (an unreadable path).
    const QStringList &postponed() const { return m_postponed; }
    // Voids the cycle under way: no further signals from it; the journal stays true.
    // Waits for the scan to notice (it checks between files and between 1 MiB reads).
    void abort();
    bool isRunning() const { return m_running; }
    SyncProgress progress() const { return m_propagator->progress(); }
    const Stats &stats() const { return m_stats; }
    // The remote entries one cycle takes (a bound on its memory, not on correctness):
    // the slice ends at the first page end past it, trimmed back to its last live entry.
    static constexpr int kDefaultMaxChanges = 4096;
    void setMaxChanges(int entries) { m_maxChanges = qMax(1, entries); }
    int maxChanges() const { return m_maxChanges; }
    // The last cycle took a slice of the feed and there is more of it: start the next one
    // now. (It read on past its slice's end even when something in it waits for another
    // look: see m_readAt.)
    bool feedRemaining() const { return m_feedRemaining; }
    // The server's head moved on (or this cycle is a slice): while the plan is carried
    // out, read the feed on from where this cycle leaves the cursor, so the next cycle
    // starts with those entries in hand and reads on from their end only for the rest of
    // a slice (the read of 4,000 entries is 50-100 ms that B's downloads would otherwise
    // wait for, at every cycle that follows another computer's big change). A no-op
    // outside propagation.
    // The next cycle uses what was read only from where it starts reading (entries at or
    // below its start are dropped: our own commits, which the journal holds); started
    // before what was read ahead (a conflict rewound the cursor, a cycle did not apply
    // everything), it reads the feed afresh. At most one slice is read ahead.
    void readAhead();

Q_SIGNALS:
    void scanned(const QList<filesync::RelativePath> &directories, const QStringList &warnings);
    void itemCompleted(const filesync::SyncItem &item);
    void conflict(const filesync::RelativePath &path, const filesync::RelativePath &conflictCopy);
    void warning(const QString &message);
    void progressChanged(const filesync::SyncProgress &progress);
    // The cycle ended; `followUp`: run another one soon (conflict copies, postponed paths).
    void finished(bool followUp);
    // The folder must stop: its root or journal is gone or cannot be written.
    void fatal(const QString &message);

private:
    void startScan();
    void onScanned(const Scanner::Result &scan);
    quint64 readFrom() const;
    void readChanges();
    void fetchChanges(quint64 since, int limit = 0); // limit: of the first page (0: a slice)
    void readAheadPage();
    void adoptReadAhead();
    void dropReadAhead();
    bool cutSlice(quint64 pageEnd);
    void onChangesComplete();
    void reconcileAndPropagate();
    void adoptSent();
    void adoptRemoved(const std::optional<RelativePath> &from, const RelativePath &path, const JournalEntry &sent,
        const protocol::FileEntry &r, quint64 knownHead);
    void onPropagated(const Propagator::Outcome &outcome);
    void end(bool followUp);

    QString m_root;
    QString m_session;
    Journal &m_journal;
    ServerConnection &m_connection;
    EnginePools &m_pools;
    Propagator *m_propagator;
    QFuture<Scanner::Result> m_scan;
    std::shared_ptr<std::atomic_bool> m_cancel;
    bool m_running = false;
    int m_generation = 0;
    JournalState m_journalAtStart;
    JournalState m_reconcileJournal; // the journal in the scan's scope (all of it for a full scan)
    bool m_fullScan = false;
    LocalSnapshot m_snapshot;
    RemoteChanges m_changes;
    quint64 m_since = 0; // where this cycle's feed starts
    quint64 m_head = 0; // where it ends: the head, or the end of its slice
    bool m_sliced = false; // m_head is a slice's end: more of the feed follows
    bool m_feedRemaining = false;
    int m_maxChanges = kDefaultMaxChanges;
    // Where the next slice starts when it is past the cursor: an earlier slice left a path
    // for another look (postponed, unreadable, a conflict), so the cursor stays before it
    // while the rest of the feed is still read and applied; the pass after the last slice
    // starts at the cursor again. Kept across cycles of this connection only, and only
    // while the cursor is the one it was set beside (.first).
    std::optional<std::pair<quint64, quint64>> m_readAt;
    // Folders the server moved, listed by the slices of this read of the feed that were
    // applied whole (Reconciler::Feed::movedEarlier): the last slice checks what the
    // journal still carries under them. Forgotten after the last slice, or when a slice
    // was not applied whole (the feed is read again from the cursor then).
    QHash<RelativePath, quint64> m_movedInPass;
    QHash<RelativePath, quint64> m_movedThisSlice;
    // The feed read on while this cycle propagates, for the next one (see readAhead()).
    struct ReadAhead
    {
        bool active = false;
        bool inFlight = false;
        bool again = false; // the head moved while a page was read: read on after it
        bool more = false; // the last page said more of the feed follows `next`
        quint64 since = 0; // where it started: this cycle's end of the feed
        quint64 next = 0; // where it goes on (the last page's next, or its head)
        RemoteChanges changes;
    };
    ReadAhead m_ahead;
    int m_aheadGeneration = 0; // drops replies to a read-ahead that was let go
    bool m_awaitingAhead = false; // the cycle waits for the read-ahead's page in flight
    bool m_propagating = false;
    ScanScope m_scope;
    bool m_scanDone = false;
    bool m_changesDone = false;
    bool m_applied = false;
    QStringList m_postponed;
    QElapsedTimer m_timer;
    Stats m_stats;
};

} // namespace filesync
