#pragma once

#include "propagator.h"
#include "scanner.h"
#include "syncengine.h"

#include <QElapsedTimer>
#include <QFuture>
#include <QObject>

#include <atomic>
#include <memory>

namespace filesync {

class Journal;
class ServerConnection;

// One pass of the sync: scan the folder (thread pool) → GetChanges since the journal's
// cursor, every page → reconcile (pure) → propagate → move the cursor to the head the
// changes were read at, only if everything was applied (a conflict may move it back, so
// the path is read again). A partial cycle (a scope that is not full) reads the changes
// first and scans the given folders plus the places those changes touch; the rest of
// the tree is unchanged by definition and is neither scanned nor reconciled. One cycle at a time; start() again for the
// next one. A server error or a lost connection ends the cycle without acting on half a picture. Engine thread; owned
// by SyncEngine, one per connection.
class SyncCycle : public QObject
{
    Q_OBJECT
public:
    struct Stats
    {
        int scanned = 0;
        int hashed = 0;
        qint64 hashedBytes = 0;
        int actions = 0;
        qint64 elapsedMs = 0;
        bool partial = false;
        qint64 changesAtMs = 0, scannedAtMs = 0, scanMs = 0, reconciledAtMs = 0; // since the start, for the debug log
    };

    SyncCycle(const QString &root, const QString &sessionName, Journal &journal, ServerConnection &connection,
        QObject *parent = nullptr);
    ~SyncCycle() override;

    void start(const ScanScope &scope = ScanScope::everything());
    // What this cycle scanned (including the places the server's changes touched).
    const ScanScope &scope() const { return m_scope; }
    // Whether the last cycle got as far as applying a plan; one that ended early (a
    // server error, no progress) leaves its scope to be looked at again.
    bool applied() const { return m_applied; }
    // Voids the cycle under way: no further signals from it; the journal stays true.
    // Waits for the scan to notice (it checks between files and between 1 MiB reads).
    void abort();
    bool isRunning() const { return m_running; }
    SyncProgress progress() const { return m_propagator->progress(); }
    const Stats &stats() const { return m_stats; }

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
    void fetchChanges(quint64 since);
    void onChangesComplete();
    void reconcileAndPropagate();
    void onPropagated(const Propagator::Outcome &outcome);
    void end(bool followUp);

    QString m_root;
    QString m_session;
    Journal &m_journal;
    ServerConnection &m_connection;
    Propagator *m_propagator;
    QFuture<Scanner::Result> m_scan;
    std::shared_ptr<std::atomic_bool> m_cancel;
    bool m_running = false;
    int m_generation = 0;
    JournalState m_journalAtStart;
    JournalState m_reconcileJournal; // the journal in the scan's scope (all of it for a full scan)
    LocalSnapshot m_snapshot;
    RemoteChanges m_changes;
    quint64 m_head = 0;
    ScanScope m_scope;
    bool m_scanDone = false;
    bool m_changesDone = false;
    bool m_applied = false;
    QElapsedTimer m_timer;
    Stats m_stats;
};

} // namespace filesync
