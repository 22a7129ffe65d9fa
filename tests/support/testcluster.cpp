#include "testcluster.h"

#include "journal.h"
#include "testtree.h"

#include <QSignalSpy>
#include <QSqlDatabase>
#include <QSqlQuery>
#include <QTest>

namespace filesync::test {

TestServer::TestServer() = default;

TestServer::~TestServer()
{
    stop();
}

bool TestServer::start()
{
    Q_ASSERT(!m_server);
    ServerConfig config;
    config.dataDir = m_dataDir.path();
    config.listenAddress = QHostAddress::LocalHost;
    config.port = m_port;
    m_server = std::make_unique<SyncServer>(config);
    auto started = m_server->start();
    if (!started) {
        qWarning("test server failed to start: %s", qPrintable(started.errorMessage()));
        m_server.reset();
        return false;
    }
    m_port = m_server->port();
    return true;
}

void TestServer::stop()
{
    if (!m_server)
        return;
    m_server->stop();
    m_server.reset();
}

TestClient::TestClient(const QString &sessionName, quint16 port, QObject *parent)
    : QObject(parent)
{
    m_config.host = QStringLiteral("127.0.0.1");
    m_config.port = port;
    m_config.folder = m_root.path();
    m_config.sessionName = sessionName;
    // Long enough that only the watcher and the server's push can explain a fast change;
    // tests that need the safety-net scan lower it.
    m_config.intervalSeconds = 3600;
    m_config.debounceMs = 30;
    m_config.reconnectMinMs = 100;
    m_config.reconnectMaxMs = 500;
}

TestClient::~TestClient()
{
    stop();
}

bool TestClient::start(const QString &accountId)
{
    Q_ASSERT(!m_engine);
    m_config.accountId = accountId;
    m_fatal.clear();
    m_engine = std::make_unique<SyncEngine>(m_config);
    connect(m_engine.get(), &SyncEngine::accountReady, this, [this](const QString &id, bool created) {
        m_accountId = id;
        m_created = created;
    });
    connect(m_engine.get(), &SyncEngine::fatalError, this, [this](const QString &message) { m_fatal = message; });
    connect(m_engine.get(), &SyncEngine::conflict, this, [this] { ++m_conflicts; });
    connect(m_engine.get(), &SyncEngine::itemCompleted, this, [this](const SyncItem &item) { m_items << item; });
    QSignalSpy ready(m_engine.get(), &SyncEngine::accountReady);
    QSignalSpy fatal(m_engine.get(), &SyncEngine::fatalError);
    m_engine->start();
    QDeadlineTimer deadline(20000);
    while (ready.isEmpty() && fatal.isEmpty() && !deadline.hasExpired())
        ready.wait(50);
    return !ready.isEmpty();
}

bool TestClient::completed(const QString &path, const QString &action) const
{
    return std::any_of(m_items.cbegin(), m_items.cend(),
        [&](const SyncItem &item) { return item.path.toString() == path && item.action == action; });
}

void TestClient::stop()
{
    if (!m_engine)
        return;
    m_engine->stop();
    m_engine.reset();
}

bool startInSync(TestClient &a, TestClient &b, int timeoutMs)
{
    if (!a.start()) {
        qWarning("A did not start: %s", qPrintable(a.lastFatalError()));
        return false;
    }
    if (!b.start(a.accountId())) {
        qWarning("B did not join A's account: %s", qPrintable(b.lastFatalError()));
        return false;
    }
    if (!waitUntil([&a, &b] { return treeState(a.root()) == treeState(b.root()); }, timeoutMs)) {
        qWarning(
            "A and B never held the same tree: %s", qPrintable(treeDiff(treeState(a.root()), treeState(b.root()))));
        return false;
    }
    return true;
}

bool waitUntil(const std::function<bool()> &condition, int timeoutMs)
{
    if (condition())
        return true;
    QTest::qWait(0);
    for (int waited = 0; waited < timeoutMs && !condition(); waited += 50)
        QTest::qWait(50);
    return condition();
}

namespace {

// A ServerConnection to 127.0.0.1:port with its handshake done; null after 10 s.
std::unique_ptr<ServerConnection> openedConnection(quint16 port)
{
    auto connection = std::make_unique<ServerConnection>(QStringLiteral("127.0.0.1"), port);
    QSignalSpy ready(connection.get(), &ServerConnection::ready);
    connection->open();
    return ready.wait(10000) ? std::move(connection) : nullptr;
}

} // namespace

std::unique_ptr<ServerConnection> loggedInConnection(quint16 port, const QString &account)
{
    auto connection = openedConnection(port);
    if (!connection)
        return nullptr;
    bool loggedIn = false;
    connection->login(
        account, QStringLiteral("test"), [&loggedIn](const Reply<protocol::LoginOk> &r) { loggedIn = bool(r); });
    if (!QTest::qWaitFor([&loggedIn] { return loggedIn; }, 10000))
        return nullptr;
    return connection;
}

std::unique_ptr<ServerConnection> newAccountConnection(quint16 port, QString *account)
{
    auto connection = openedConnection(port);
    if (!connection)
        return nullptr;
    bool loggedIn = false;
    connection->createAccount(QStringLiteral("test"), [&loggedIn, account](const Reply<protocol::LoginOk> &r) {
        loggedIn = bool(r);
        if (r && account)
            *account = r->account;
    });
    if (!QTest::qWaitFor([&loggedIn] { return loggedIn; }, 10000))
        return nullptr;
    return connection;
}

quint64 storedCursor(const QString &folder)
{
    quint64 cursor = 0;
    const QString name = QStringLiteral("cursor-reader-") + folder;
    {
        QSqlDatabase db = QSqlDatabase::addDatabase(QStringLiteral("QSQLITE"), name);
        db.setDatabaseName(Journal::path(folder));
        db.setConnectOptions(QStringLiteral("QSQLITE_OPEN_READONLY"));
        if (db.open()) {
            QSqlQuery q(db);
            if (q.exec(QStringLiteral("SELECT value FROM meta WHERE key = 'cursor'")) && q.next())
                cursor = q.value(0).toULongLong();
        }
    }
    QSqlDatabase::removeDatabase(name);
    return cursor;
}

} // namespace filesync::test
