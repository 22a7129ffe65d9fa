#pragma once

#include "serverconnection.h"
#include "syncengine.h"
#include "syncserver.h"

#include <QObject>
#include <QTemporaryDir>

#include <functional>
#include <memory>

namespace filesync::test {

// The real server core, in-process on 127.0.0.1, over a data directory that outlives
// restarts (so a restart keeps every account, as it would in production).
class TestServer
{
public:
    TestServer();
    ~TestServer();

    bool start(); // the first start picks a free port; later starts reuse it
    void stop();
    bool isRunning() const { return m_server != nullptr; }
    quint16 port() const { return m_port; }
    QString dataDir() const { return m_dataDir.path(); }
    SyncServer *server() const { return m_server.get(); }

private:
    QTemporaryDir m_dataDir;
    std::unique_ptr<SyncServer> m_server;
    quint16 m_port = 0;
};

// One computer: a real SyncEngine on its own temporary folder, with intervals short
// enough for tests. The folder outlives engine restarts.
class TestClient : public QObject
{
    Q_OBJECT
public:
    TestClient(const QString &sessionName, quint16 port, QObject *parent = nullptr);
    ~TestClient() override;

    // Starts the engine; returns once the account is known (or false on timeout/error).
    bool start(const QString &accountId = QString());
    void stop();
    bool isRunning() const { return m_engine != nullptr; }

    QString root() const { return m_root.path(); }
    QString accountId() const { return m_accountId; }
    bool accountCreated() const { return m_created; }
    SyncEngine *engine() const { return m_engine.get(); }
    EngineConfig &config() { return m_config; }
    QString lastFatalError() const { return m_fatal; }
    int conflictCount() const { return m_conflicts; }
    // Whether the engine reported finishing `action` ("uploaded", "deleted", ...) on
    // `path` since it started: how a test knows a change reached the server.
    bool completed(const QString &path, const QString &action) const;

private:
    QTemporaryDir m_root;
    EngineConfig m_config;
    std::unique_ptr<SyncEngine> m_engine;
    QString m_accountId;
    bool m_created = false;
    QString m_fatal;
    int m_conflicts = 0;
    QList<SyncItem> m_items;
};

// The start most sync tests share: A starts with what its folder holds (fill it, or set
// A's config, first) and creates the account, B joins with A's ID, and both folders come
// to hold the same tree within `timeoutMs`. False, with the step that failed logged,
// when any of that does not happen.
bool startInSync(TestClient &a, TestClient &b, int timeoutMs = 15000);

// Waits for `condition` as the QTRY_* macros do: a check every 50 ms, `timeoutMs` counting
// the waits and not the checks (so a slow check on a loaded machine leaves the same
// patience). Whether it came true.
bool waitUntil(const std::function<bool()> &condition, int timeoutMs);

// A ServerConnection to 127.0.0.1:port logged in to `account`; null when it cannot log in
// within 10 s.
std::unique_ptr<ServerConnection> loggedInConnection(quint16 port, const QString &account);

// A ServerConnection to 127.0.0.1:port logged in to an account it creates, whose ID goes
// to `account` when given; null when it cannot log in within 10 s. For a part of the
// engine run by hand.
std::unique_ptr<ServerConnection> newAccountConnection(quint16 port, QString *account = nullptr);

// The feed cursor as the folder's journal file holds it, read on a second, read-only
// connection: what a restart would resume from.
quint64 storedCursor(const QString &folder);

} // namespace filesync::test
