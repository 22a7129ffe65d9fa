#pragma once

#include "relativepath.h"

#include <QDateTime>
#include <QObject>
#include <QString>

#include <memory>

namespace filesync {

// What the engine needs to run one folder. Intervals are injectable so tests run fast.
struct EngineConfig
{
    QString host;
    quint16 port = 0;
    QString folder; // absolute path of the local sync root
    int intervalSeconds = 10; // full rescan safety net
    QString accountId; // empty: resume the folder's account, or create a new one
    QString sessionName; // shown in conflict copies; default: the host name
    int debounceMs = 50; // watcher events are coalesced this long
    int reconnectMinMs = 500; // backoff on a lost connection grows from here ...
    int reconnectMaxMs = 30000; // ... up to here
    int keepAliveMs = 15000; // a quiet connection is pinged this often; 3 silent periods = lost
    int maxChangesPerCycle = 4096; // remote entries one cycle reconciles; the rest follow in more cycles
};

enum class EngineState {
    Stopped, // not started, or stopped after a fatal error
    Connecting, // (re)connecting to the server; see reconnectIn
    Syncing, // a sync cycle is running
    Idle, // up to date
    Paused, // by the user
    Offline, // server unreachable, retrying
    Error, // the folder is stopped; errorMessage says why and what to do
};

enum class ItemDirection { Up, Down, Local };

// One finished action, for the "recent changes" list and the logs.
struct SyncItem
{
    RelativePath path;
    ItemDirection direction = ItemDirection::Up;
    QString action; // "uploaded", "downloaded", "deleted", "moved", "conflict"
    QDateTime when;
};

// Progress of the cycle under way.
struct SyncProgress
{
    int filesTotal = 0;
    int filesDone = 0;
    qint64 bytesTotal = 0;
    qint64 bytesDone = 0;
};

// What the last finished cycle did: the figures of its log line ("cycle done in ..."),
// for diagnostics and tests.
struct CycleReport
{
    qint64 elapsedMs = 0;
    int scanned = 0; // entries the scan visited
    int hashed = 0; // files it read and hashed
    int actions = 0;
    int remoteEntries = 0; // the server's changes it reconciled
    int readAhead = 0; // of those, read while the cycle before it propagated
    bool partial = false; // scanned only where something changed
    bool sliced = false; // a slice of the feed: more of it followed
};

class EnginePools;
class SyncEnginePrivate;
class WorkerPools;

// Keeps one local folder identical to the account's folder on the server, both ways,
// live. Owns the connection, the watcher, the journal and the propagation; runs on the
// thread that created it (heavy work goes to worker pools of its own, or to a process's
// that several engines share, and it waits for its jobs when it is destroyed) and is
// owned by its creator: the headless main, the tray app, or a test.
class SyncEngine : public QObject
{
    Q_OBJECT
public:
    explicit SyncEngine(const EngineConfig &config, QObject *parent = nullptr);
    // On `pools`, which outlive the engine (a process that runs several engines).
    SyncEngine(const EngineConfig &config, WorkerPools &pools, QObject *parent = nullptr);
    ~SyncEngine() override;

    const EngineConfig &config() const;
    EngineState state() const;
    QString statusText() const; // one line for a human: "Up to date", "Syncing 3 files, 12 MB left", ...
    QString errorMessage() const; // when state() == Error or Offline
    QString accountId() const; // known after accountReady()
    QDateTime lastSyncTime() const; // end of the last completed cycle
    SyncProgress progress() const;
    int reconnectInSeconds() const; // when Offline
    CycleReport lastCycle() const; // valid once cycleFinished() came

public Q_SLOTS:
    void start();
    void stop(); // graceful; the journal is consistent afterwards
    void pause();
    void resume();
    void syncNow(); // a full scan and a sync cycle now

Q_SIGNALS:
    void accountReady(const QString &accountId, bool created);
    void stateChanged(filesync::EngineState state);
    void progressChanged(const filesync::SyncProgress &progress);
    void itemCompleted(const filesync::SyncItem &item);
    // Both versions were kept: `path` holds the other computer's, `conflictCopy` ours.
    void conflict(const filesync::RelativePath &path, const filesync::RelativePath &conflictCopy);
    void warning(const QString &message); // something the user should know, not fatal
    void fatalError(const QString &message); // the folder stopped; state() == Error
    void cycleFinished(); // a sync cycle completed (tests wait on it)

private:
    void init();

    std::unique_ptr<EnginePools> m_pools; // outlives `d` and everything in it that queues work
    std::unique_ptr<SyncEnginePrivate> d;
};

} // namespace filesync

Q_DECLARE_METATYPE(filesync::EngineState)
Q_DECLARE_METATYPE(filesync::SyncItem)
Q_DECLARE_METATYPE(filesync::SyncProgress)
