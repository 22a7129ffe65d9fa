#pragma once

#include "scanner.h"
#include "serverconnection.h"
#include "syncengine.h"

#include <QObject>
#include <QSet>
#include <QTimer>

#include <memory>

namespace filesync {

class ChangeAggregator;
class EnginePools;
class Journal;
class SyncCycle;

// The state machine around the cycles: connection and login, triggers, one cycle at a
// time with at most one follow-up queued, pause, and the folder's fatal errors.
// Engine thread; owned by SyncEngine (its d-pointer), which forwards its API here.
class SyncEnginePrivate : public QObject
{
public:
    SyncEnginePrivate(SyncEngine *q, const EngineConfig &config, EnginePools &pools);
    ~SyncEnginePrivate() override;

    void start();
    void stop();
    void pause();
    void resume();
    void syncNow();
    void connectNow();
    void onConnectionReady();
    void onLogin(const Reply<protocol::LoginOk> &reply, bool creating);
    void onConnectionClosed(const QString &reason);
    void goOffline(const QString &reason, int retryMs); // retryMs 0: the backoff's next step
    void onRateLimited(const QString &scope, int retryAfterSeconds, bool creating);
    void loggedIn(const QString &id, bool created, quint64 head);
    void requestCycle(); // a trigger: run now, or once more after the running cycle
    void requestFullCycle(); // the same, scanning the whole tree (interval, syncNow, login)
    void startCycle();
    void onScanned(const QList<RelativePath> &dirs, const QStringList &warnings);
    void endCycle(bool followUp);
    void setState(EngineState state);
    void fatal(const QString &message);
    void warn(const QString &message); // each distinct message once per start
    void scheduleReconnect();
    void dropConnection();
    bool cycleRunning() const;

    SyncEngine *q;
    EngineConfig config;
    EnginePools &pools;
    EngineState state = EngineState::Stopped;
    QString error;
    QString account;
    QString announced; // the account accountReady() last named
    QString rateLimitedScope; // the login limit last told of; empty once logged in
    QDateTime lastSync;
    CycleReport lastCycle;
    std::unique_ptr<Journal> journal;
    ServerConnection *connection = nullptr;
    SyncCycle *cycle = nullptr; // belongs to `connection`'s lifetime
    ChangeAggregator *aggregator = nullptr;
    QTimer reconnectTimer;
    QTimer followUpTimer;
    QSet<QString> warned;
    int backoffMs = 0;
    bool loggedInNow = false;
    bool paused = false;
    bool cycleRequested = false;
    int followUps = 0;
    // What the next cycle scans beyond what the watcher reports: everything (after a
    // login, on the interval, on syncNow, after a pause), or the scope of a cycle that
    // asked for a follow-up and the folders that just got their watch.
    ScanScope nextScope = ScanScope::everything();
};

} // namespace filesync
