// The engine against the real server core: in-process SyncServer on 127.0.0.1 port 0,
// real engines on temporary folders. Focused on the engine's own rules; the full
// scenarios between computers are in tst_sync and its neighbours.
#include "accountid.h"
#include "blockwriter.h"
#include "chunker.h"
#include "enginepools.h"
#include "messagechannel.h"
#include "privatemodes.h"
#include "rawclient.h"
#include "syncengine.h"
#include "syncserver.h"

#include <QDir>
#include <QDirIterator>
#include <QElapsedTimer>
#include <QFile>
#include <QRandomGenerator>
#include <QScopeGuard>
#include <QSignalSpy>
#include <QTcpServer>
#include <QTemporaryDir>
#include <QTest>
#include <QThread>

#include <atomic>
#include <memory>
#include <unistd.h>

using namespace filesync;

namespace {

void writeFile(const QString &root, const QString &rel, const QByteArray &data)
{
    const QString path = root + u'/' + rel;
    QDir().mkpath(QFileInfo(path).absolutePath());
    QFile f(path);
    QVERIFY(f.open(QIODevice::WriteOnly | QIODevice::Truncate));
    QCOMPARE(f.write(data), data.size());
}

QByteArray readFile(const QString &root, const QString &rel)
{
    QFile f(root + u'/' + rel);
    return f.open(QIODevice::ReadOnly) ? f.readAll() : QByteArray("<missing>");
}

// Every path under `root` (but the metadata dir) with its content, "/" for folders.
QMap<QString, QByteArray> tree(const QString &root)
{
    QMap<QString, QByteArray> out;
    QDirIterator it(root, QDir::AllEntries | QDir::Hidden | QDir::NoDotAndDotDot, QDirIterator::Subdirectories);
    while (it.hasNext()) {
        const QString path = it.next();
        const QString rel = QDir(root).relativeFilePath(path);
        if (rel == RelativePath::kMetadataDirName || rel.startsWith(RelativePath::kMetadataDirName + u'/'))
            continue;
        out.insert(rel, it.fileInfo().isDir() ? QByteArray("/") : readFile(root, rel));
    }
    return out;
}

QByteArray randomBytes(qsizetype size, quint32 seed)
{
    QByteArray data(size, Qt::Uninitialized);
    QRandomGenerator rng(seed);
    for (qsizetype i = 0; i < size; ++i)
        data[i] = char(rng.generate() & 0xff);
    return data;
}

// One computer: an engine on its own folder, with what it reported.
struct Computer
{
    explicit Computer(const QString &name, quint16 port)
    {
        config.host = QStringLiteral("127.0.0.1");
        config.port = port;
        config.folder = dir.path();
        config.sessionName = name;
        config.intervalSeconds = 3600; // only the watcher and the push explain fast changes
        config.debounceMs = 20;
        config.reconnectMinMs = 50;
        config.reconnectMaxMs = 200;
    }

    bool start(const QString &account = QString())
    {
        config.accountId = account;
        engine = pools ? std::make_unique<SyncEngine>(config, *pools) : std::make_unique<SyncEngine>(config);
        QObject::connect(engine.get(), &SyncEngine::itemCompleted, engine.get(),
            [this](const SyncItem &item) { items << item.action + u' ' + item.path.toString(); });
        QObject::connect(
            engine.get(), &SyncEngine::warning, engine.get(), [this](const QString &message) { warnings << message; });
        QObject::connect(
            engine.get(), &SyncEngine::fatalError, engine.get(), [this](const QString &message) { fatal = message; });
        QSignalSpy ready(engine.get(), &SyncEngine::accountReady);
        engine->start();
        if (!ready.wait(10000) && ready.isEmpty())
            return false;
        created = ready.first().at(1).toBool();
        return true;
    }
    QString root() const { return dir.path(); }
    bool did(const QString &what) const { return items.contains(what); }

    QTemporaryDir dir;
    EngineConfig config;
    WorkerPools *pools = nullptr; // a process's, shared; null: the engine's own
    std::unique_ptr<SyncEngine> engine;
    QStringList items;
    QStringList warnings;
    QString fatal;
    bool created = false;
};

} // namespace

class tst_Engine : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void init();
    void cleanup();

    void fileCreatedOnAAppearsOnB();
    void typeChangesBothWays();
    void folderMoveIsOneRename();
    void pauseWritesNothingUntilResume();
    void tooBigFileIsSkippedAndItsServerChangeIsKept();
    void missingMetadataStopsTheFolder();
    void folderOfAnotherAccountIsRefused();
    void unknownIdGetsANewAccountOnce();
    void rateLimitedLoginWaitsAndKeepsTheId();
    void rateLimitedAccountCreationSaysSo();
    void metadataIsPrivateWhateverTheUmask();
    void concurrentEditsAreBothKept();
    void folderDeletedThereKeepsNewWorkHere();
    void silentServerIsGivenUp();
    void serverOfAnotherProtocolVersionIsRefused();
    void copiesReuseLocalBlocks();
    void destroyedEngineLeavesNoWorkRunning_data();
    void destroyedEngineLeavesNoWorkRunning();

private:
    void pair(Computer &a, Computer &b);

    QTemporaryDir m_serverDir;
    std::unique_ptr<SyncServer> m_server;
};

void tst_Engine::init()
{
    m_server = std::make_unique<SyncServer>(ServerConfig { m_serverDir.path(), QHostAddress::LocalHost, 0, {}, {} });
    QVERIFY(m_server->start().ok());
}

void tst_Engine::cleanup()
{
    m_server.reset();
}

void tst_Engine::pair(Computer &a, Computer &b)
{
    QVERIFY(a.start());
    QVERIFY(a.created);
    QVERIFY(b.start(a.engine->accountId()));
    QVERIFY(!b.created);
}

void tst_Engine::fileCreatedOnAAppearsOnB()
{
    Computer a(QStringLiteral("alpha"), m_server->port()), b(QStringLiteral("beta"), m_server->port());
    pair(a, b);
    const QByteArray big = randomBytes(3 * 1024 * 1024 + 11, 7);
    writeFile(a.root(), QStringLiteral("docs/report.bin"), big);
    QTRY_COMPARE_WITH_TIMEOUT(readFile(b.root(), QStringLiteral("docs/report.bin")), big, 10000);
    QTRY_COMPARE_WITH_TIMEOUT(tree(b.root()), tree(a.root()), 10000);
    // The download did not echo back as a change made on B.
    QTRY_COMPARE_WITH_TIMEOUT(b.engine->state(), EngineState::Idle, 10000);
    QVERIFY(!b.items.contains(QStringLiteral("uploaded docs/report.bin")));
    QVERIFY(b.warnings.isEmpty());
}

void tst_Engine::typeChangesBothWays()
{
    Computer a(QStringLiteral("alpha"), m_server->port()), b(QStringLiteral("beta"), m_server->port());
    writeFile(a.root(), QStringLiteral("t"), "a file");
    writeFile(a.root(), QStringLiteral("d/x.txt"), "in a folder");
    pair(a, b);
    QTRY_COMPARE_WITH_TIMEOUT(tree(b.root()), tree(a.root()), 10000);

    // On A: the file t becomes a folder, the folder d becomes a file.
    QVERIFY(QFile::remove(a.root() + QStringLiteral("/t")));
    writeFile(a.root(), QStringLiteral("t/inner.txt"), "now a folder");
    QVERIFY(QDir(a.root() + QStringLiteral("/d")).removeRecursively());
    writeFile(a.root(), QStringLiteral("d"), "now a file");
    QTRY_COMPARE_WITH_TIMEOUT(tree(b.root()), tree(a.root()), 10000);
    QCOMPARE(readFile(b.root(), QStringLiteral("t/inner.txt")), QByteArray("now a folder"));
    QCOMPARE(readFile(b.root(), QStringLiteral("d")), QByteArray("now a file"));
    QCOMPARE(a.fatal + b.fatal, QString());
}

void tst_Engine::folderMoveIsOneRename()
{
    Computer a(QStringLiteral("alpha"), m_server->port()), b(QStringLiteral("beta"), m_server->port());
    writeFile(a.root(), QStringLiteral("a/x.bin"), randomBytes(600 * 1024, 3));
    writeFile(a.root(), QStringLiteral("a.txt"), "beside"); // sorts between "a" and "a/x.bin"
    pair(a, b);
    QTRY_COMPARE_WITH_TIMEOUT(tree(b.root()), tree(a.root()), 10000);
    QTRY_COMPARE_WITH_TIMEOUT(b.engine->state(), EngineState::Idle, 10000);

    a.items.clear();
    QVERIFY(QDir().rename(a.root() + QStringLiteral("/a"), a.root() + QStringLiteral("/b")));
    QTRY_VERIFY_WITH_TIMEOUT(b.did(QStringLiteral("moved b")), 10000);
    QTRY_COMPARE_WITH_TIMEOUT(tree(b.root()), tree(a.root()), 10000);
    // One server op on A, one rename on B: nothing uploaded or downloaded again.
    QVERIFY(a.did(QStringLiteral("moved b")));
    QVERIFY(!a.did(QStringLiteral("uploaded b/x.bin")));
    QVERIFY(!b.did(QStringLiteral("downloaded b/x.bin")));
}

void tst_Engine::pauseWritesNothingUntilResume()
{
    Computer a(QStringLiteral("alpha"), m_server->port()), b(QStringLiteral("beta"), m_server->port());
    pair(a, b);
    QTRY_COMPARE_WITH_TIMEOUT(b.engine->state(), EngineState::Idle, 10000);
    b.engine->pause();
    QCOMPARE(b.engine->state(), EngineState::Paused);

    a.items.clear();
    writeFile(a.root(), QStringLiteral("while-paused.txt"), "later");
    writeFile(b.root(), QStringLiteral("local-while-paused.txt"), "mine");
    QTRY_VERIFY_WITH_TIMEOUT(a.did(QStringLiteral("uploaded while-paused.txt")), 10000);
    // Triggers (the push, the watcher, a request) start nothing while paused.
    b.engine->syncNow();
    QCOMPARE(b.engine->state(), EngineState::Paused);
    QVERIFY(!QFile::exists(b.root() + QStringLiteral("/while-paused.txt")));
    QVERIFY(b.items.isEmpty());

    b.engine->resume();
    QTRY_COMPARE_WITH_TIMEOUT(readFile(b.root(), QStringLiteral("while-paused.txt")), QByteArray("later"), 10000);
    QTRY_COMPARE_WITH_TIMEOUT(readFile(a.root(), QStringLiteral("local-while-paused.txt")), QByteArray("mine"), 10000);
}

void tst_Engine::tooBigFileIsSkippedAndItsServerChangeIsKept()
{
    Computer a(QStringLiteral("alpha"), m_server->port()), b(QStringLiteral("beta"), m_server->port());
    writeFile(a.root(), QStringLiteral("f.txt"), "one");
    pair(a, b);
    QTRY_COMPARE_WITH_TIMEOUT(readFile(b.root(), QStringLiteral("f.txt")), QByteArray("one"), 10000);
    QTRY_COMPARE_WITH_TIMEOUT(b.engine->state(), EngineState::Idle, 10000);

    // On B the file grows past what FileSync supports (sparse: no disk used). It is
    // skipped with a warning, never uploaded, never treated as deleted.
    QCOMPARE(
        ::truncate(QFile::encodeName(b.root() + QStringLiteral("/f.txt")).constData(), Chunker::maxFileSize() + 1), 0);
    b.engine->syncNow();
    QTRY_VERIFY_WITH_TIMEOUT(!b.warnings.isEmpty(), 10000);
    QVERIFY2(b.warnings.join(u'\n').contains(QStringLiteral("16 GiB")), qPrintable(b.warnings.join(u'\n')));

    // Meanwhile A edits it. B must not move past that change while it cannot act on it.
    a.items.clear();
    writeFile(a.root(), QStringLiteral("f.txt"), "two");
    QTRY_VERIFY_WITH_TIMEOUT(a.did(QStringLiteral("uploaded f.txt")), 10000);
    b.engine->syncNow();
    QTRY_COMPARE_WITH_TIMEOUT(b.engine->state(), EngineState::Idle, 10000);
    QCOMPARE(QFileInfo(b.root() + QStringLiteral("/f.txt")).size(), Chunker::maxFileSize() + 1);

    // B's file becomes small again: both edits survive, A's at the path.
    writeFile(b.root(), QStringLiteral("f.txt"), "three");
    QTRY_COMPARE_WITH_TIMEOUT(tree(b.root()).size(), 2, 10000);
    QTRY_COMPARE_WITH_TIMEOUT(tree(a.root()), tree(b.root()), 10000);
    const auto files = tree(a.root());
    QCOMPARE(files.value(QStringLiteral("f.txt")), QByteArray("two"));
    QVERIFY2(files.values().contains(QByteArray("three")), qPrintable(QStringList(files.keys()).join(u',')));
}

void tst_Engine::missingMetadataStopsTheFolder()
{
    Computer a(QStringLiteral("alpha"), m_server->port()), b(QStringLiteral("beta"), m_server->port());
    writeFile(a.root(), QStringLiteral("keep/me.txt"), "precious");
    pair(a, b);
    QTRY_COMPARE_WITH_TIMEOUT(tree(b.root()), tree(a.root()), 10000);
    QTRY_COMPARE_WITH_TIMEOUT(a.engine->state(), EngineState::Idle, 10000);

    QSignalSpy fatal(a.engine.get(), &SyncEngine::fatalError);
    QVERIFY(QDir(a.root() + QStringLiteral("/.filesync")).removeRecursively());
    QVERIFY(fatal.wait(10000));
    QCOMPARE(a.engine->state(), EngineState::Error);
    QVERIFY(a.engine->errorMessage().contains(QStringLiteral(".filesync")));
    // Nothing was deleted anywhere.
    QCOMPARE(readFile(a.root(), QStringLiteral("keep/me.txt")), QByteArray("precious"));
    b.engine->syncNow();
    QTRY_COMPARE_WITH_TIMEOUT(b.engine->state(), EngineState::Idle, 10000);
    QCOMPARE(readFile(b.root(), QStringLiteral("keep/me.txt")), QByteArray("precious"));
}

void tst_Engine::folderOfAnotherAccountIsRefused()
{
    Computer a(QStringLiteral("alpha"), m_server->port()), other(QStringLiteral("other"), m_server->port());
    QVERIFY(a.start());
    QVERIFY(other.start());
    const QString otherId = other.engine->accountId();
    a.engine->stop();
    a.engine.reset();
    // Restarting the folder with another account's ID is refused before anything syncs.
    a.config.accountId = otherId;
    SyncEngine engine(a.config);
    QSignalSpy fatal(&engine, &SyncEngine::fatalError);
    engine.start();
    QCOMPARE(fatal.size(), 1);
    QVERIFY2(fatal.first().first().toString().contains(QStringLiteral("belongs to another account")),
        qPrintable(fatal.first().first().toString()));
    QCOMPARE(engine.state(), EngineState::Error);
}

void tst_Engine::unknownIdGetsANewAccountOnce()
{
    Computer a(QStringLiteral("alpha"), m_server->port());
    writeFile(a.root(), QStringLiteral("mine.txt"), "kept");
    const QString unknown = AccountId::generate().toString();
    QVERIFY(a.start(unknown));
    QVERIFY(a.created);
    const QString fresh = a.engine->accountId();
    QVERIFY(fresh != unknown);
    QCOMPARE(a.warnings.size(), 1);
    QTRY_VERIFY_WITH_TIMEOUT(a.did(QStringLiteral("uploaded mine.txt")), 10000);

    // The same command line again resumes the new account; nothing is created twice.
    a.engine.reset();
    a.warnings.clear();
    QVERIFY(a.start(unknown));
    QVERIFY(!a.created);
    QCOMPARE(a.engine->accountId(), fresh);
    QCOMPARE(a.warnings.size(), 1);

    // accountReady is said once per start, not on every reconnect.
    QSignalSpy ready(a.engine.get(), &SyncEngine::accountReady);
    m_server.reset();
    QTRY_COMPARE_WITH_TIMEOUT(a.engine->state(), EngineState::Offline, 10000);
    m_server = std::make_unique<SyncServer>(
        ServerConfig { m_serverDir.path(), QHostAddress::LocalHost, a.config.port, {}, {} });
    QVERIFY(m_server->start().ok());
    QTRY_COMPARE_WITH_TIMEOUT(a.engine->state(), EngineState::Idle, 10000);
    QCOMPARE(ready.size(), 0);
}

// A login refused by the failed-login limits is not an unknown ID: the engine creates no
// account, says which limit it hit and logs in with the same ID once the server allows.
void tst_Engine::rateLimitedLoginWaitsAndKeepsTheId()
{
    ServerConfig config { m_serverDir.path(), QHostAddress::LocalHost, 0, {}, {} };
    config.loginLimits.perAddress = { 3, 2000 }; // empty after three failures; a token back in 2 s
    m_server = std::make_unique<SyncServer>(config);
    QVERIFY(m_server->start().ok());
    QString id;
    {
        servertest::RawClient owner(m_server->port());
        id = owner.login();
    }
    for (int i = 0; i < 3; ++i) {
        servertest::RawClient guesser(m_server->port());
        QCOMPARE(guesser.login(AccountId::generate().toString()), QString());
    }

    const auto accounts = [this] {
        const QList<QByteArray> lines = m_server->metricsText().split('\n');
        for (const QByteArray &line : lines) {
            if (line.startsWith("filesync_accounts_total "))
                return line;
        }
        return QByteArray();
    };
    const QByteArray accountsBefore = accounts();
    QVERIFY(!accountsBefore.isEmpty());
    Computer a(QStringLiteral("alpha"), m_server->port());
    QElapsedTimer clock;
    clock.start();
    QVERIFY(a.start(id));
    QVERIFY(!a.created);
    QCOMPARE(a.engine->accountId(), id);
    QVERIFY2(clock.elapsed() >= 1000, "logged in before the server's retry-after");
    QVERIFY(!a.warnings.isEmpty());
    QVERIFY2(a.warnings.first().startsWith(QStringLiteral("Too many failed logins from this address; retrying in ")),
        qPrintable(a.warnings.first()));
    for (const QString &w : std::as_const(a.warnings))
        QVERIFY2(!w.contains(QStringLiteral("new account")), qPrintable(w));
    QCOMPARE(accounts(), accountsBefore);
}

// A refused account creation is told as such (not as failed logins), and the account is
// made once the server allows.
void tst_Engine::rateLimitedAccountCreationSaysSo()
{
    ServerConfig config { m_serverDir.path(), QHostAddress::LocalHost, 0, {}, {} };
    config.loginLimits.creationsPerAddress = { 1, 2000 };
    m_server = std::make_unique<SyncServer>(config);
    QVERIFY(m_server->start().ok());
    {
        servertest::RawClient first(m_server->port());
        QVERIFY(!first.login().isEmpty());
    }
    Computer a(QStringLiteral("alpha"), m_server->port());
    QVERIFY(a.start());
    QVERIFY(a.created);
    QVERIFY(!a.warnings.isEmpty());
    QVERIFY2(a.warnings.first().startsWith(QStringLiteral("Too many new accounts from this address; retrying in ")),
        qPrintable(a.warnings.first()));
}

// The folder's metadata (the journal holds the account ID; tmp/ the files being
// downloaded) is the owner's alone under a umask that would let others read it, and
// one left open by an older build is fixed at start.
void tst_Engine::metadataIsPrivateWhateverTheUmask()
{
    const mode_t umask = ::umask(022);
    const auto restore = qScopeGuard([umask] { ::umask(umask); });
    Computer a(QStringLiteral("alpha"), m_server->port());
    Computer b(QStringLiteral("beta"), m_server->port());
    writeFile(a.root(), QStringLiteral("doc.txt"), "private words");
    pair(a, b);
    QTRY_VERIFY_WITH_TIMEOUT(b.did(QStringLiteral("downloaded doc.txt")), 10000);
    const QString metadata = b.root() + u'/' + RelativePath::kMetadataDirName;
    const QString journal = metadata + QStringLiteral("/journal.db");
    QVERIFY(QFileInfo(metadata + QStringLiteral("/tmp")).isDir());
    QVERIFY(QFileInfo::exists(journal + QStringLiteral("-wal")));
    QCOMPARE(privatetest::notPrivate(metadata), QStringList());

    const QString account = b.engine->accountId();
    b.engine.reset();
    privatetest::makeOpen(metadata, { journal });
    QVERIFY(!privatetest::notPrivate(metadata).isEmpty());
    QVERIFY(b.start(account));
    QCOMPARE(privatetest::notPrivate(metadata), QStringList());
}

void tst_Engine::concurrentEditsAreBothKept()
{
    Computer a(QStringLiteral("alpha"), m_server->port()), b(QStringLiteral("beta"), m_server->port());
    writeFile(a.root(), QStringLiteral("notes.txt"), "base");
    pair(a, b);
    QTRY_COMPARE_WITH_TIMEOUT(readFile(b.root(), QStringLiteral("notes.txt")), QByteArray("base"), 10000);
    QTRY_COMPARE_WITH_TIMEOUT(b.engine->state(), EngineState::Idle, 10000);
    b.engine->pause();
    a.items.clear();
    writeFile(b.root(), QStringLiteral("notes.txt"), "edited on beta");
    writeFile(a.root(), QStringLiteral("notes.txt"), "edited on alpha");
    QTRY_VERIFY_WITH_TIMEOUT(a.did(QStringLiteral("uploaded notes.txt")), 10000);
    QSignalSpy conflicts(b.engine.get(), &SyncEngine::conflict);
    b.engine->resume();
    QTRY_COMPARE_WITH_TIMEOUT(conflicts.size(), 1, 10000);
    const QString copy = conflicts.first().at(1).value<RelativePath>().toString();
    QVERIFY2(copy.startsWith(QStringLiteral("notes (conflict from beta ")) && copy.endsWith(QStringLiteral(").txt")),
        qPrintable(copy));
    QTRY_COMPARE_WITH_TIMEOUT(tree(a.root()), tree(b.root()), 10000);
    QCOMPARE(readFile(a.root(), QStringLiteral("notes.txt")), QByteArray("edited on alpha"));
    QCOMPARE(readFile(a.root(), copy), QByteArray("edited on beta"));
}

void tst_Engine::folderDeletedThereKeepsNewWorkHere()
{
    Computer a(QStringLiteral("alpha"), m_server->port()), b(QStringLiteral("beta"), m_server->port());
    writeFile(a.root(), QStringLiteral("d/old.txt"), "old");
    writeFile(a.root(), QStringLiteral("d/sub/older.txt"), "older");
    pair(a, b);
    QTRY_COMPARE_WITH_TIMEOUT(tree(b.root()), tree(a.root()), 10000);
    QTRY_COMPARE_WITH_TIMEOUT(b.engine->state(), EngineState::Idle, 10000);
    b.engine->pause();
    writeFile(b.root(), QStringLiteral("d/sub/new.txt"), "new on beta");
    QVERIFY(QDir(a.root() + QStringLiteral("/d")).removeRecursively());
    QTRY_VERIFY_WITH_TIMEOUT(a.did(QStringLiteral("deleted d")), 10000);
    b.engine->resume();
    // What was unchanged goes; the new file stays with its folders, and reaches A.
    QTRY_COMPARE_WITH_TIMEOUT(readFile(a.root(), QStringLiteral("d/sub/new.txt")), QByteArray("new on beta"), 10000);
    QTRY_COMPARE_WITH_TIMEOUT(tree(b.root()), tree(a.root()), 10000);
    QCOMPARE(tree(b.root()).keys(),
        (QStringList { QStringLiteral("d"), QStringLiteral("d/sub"), QStringLiteral("d/sub/new.txt") }));
}

void tst_Engine::silentServerIsGivenUp()
{
    // A server that shakes hands, logs us in, then never says another word (a half-open
    // connection looks the same from here).
    QTcpServer silent;
    QVERIFY(silent.listen(QHostAddress::LocalHost));
    std::vector<std::unique_ptr<protocol::MessageChannel>> channels;
    connect(&silent, &QTcpServer::newConnection, this, [&] {
        auto channel = std::make_unique<protocol::MessageChannel>(silent.nextPendingConnection());
        protocol::MessageChannel *c = channel.get();
        connect(c, &protocol::MessageChannel::messageReceived, this, [c](const protocol::Envelope &e) {
            if (e.type == protocol::MessageType::Hello)
                c->send(protocol::MessageType::Welcome, e.id,
                    protocol::Welcome { protocol::kProtocolVersion, QStringLiteral("mute") });
            else if (e.type == protocol::MessageType::CreateAccount)
                c->send(
                    protocol::MessageType::LoginOk, e.id, protocol::LoginOk { AccountId::generate().toString(), 1, 0 });
        });
        channels.push_back(std::move(channel));
    });
    Computer a(QStringLiteral("alpha"), silent.serverPort());
    a.config.keepAliveMs = 100;
    QVERIFY(a.start());
    QString offlineBecause; // read when it happens: a reconnect follows at once
    connect(a.engine.get(), &SyncEngine::stateChanged, this, [&](EngineState state) {
        if (state == EngineState::Offline && offlineBecause.isEmpty())
            offlineBecause = a.engine->errorMessage();
    });
    QTRY_COMPARE_WITH_TIMEOUT(offlineBecause, QStringLiteral("the server stopped answering"), 5000);
}

// A server that answers Hello with another protocol version: the engine stops with one
// line naming both versions, and never logs in.
void tst_Engine::serverOfAnotherProtocolVersionIsRefused()
{
    QTcpServer other;
    QVERIFY(other.listen(QHostAddress::LocalHost));
    std::vector<std::unique_ptr<protocol::MessageChannel>> channels;
    int logins = 0;
    connect(&other, &QTcpServer::newConnection, this, [&] {
        auto channel = std::make_unique<protocol::MessageChannel>(other.nextPendingConnection());
        protocol::MessageChannel *c = channel.get();
        connect(c, &protocol::MessageChannel::messageReceived, this, [c, &logins](const protocol::Envelope &e) {
            if (e.type == protocol::MessageType::Hello)
                c->send(protocol::MessageType::Welcome, e.id,
                    protocol::Welcome { protocol::kProtocolVersion + 1, QStringLiteral("future") });
            else
                ++logins;
        });
        channels.push_back(std::move(channel));
    });
    Computer a(QStringLiteral("alpha"), other.serverPort());
    writeFile(a.root(), QStringLiteral("mine.txt"), "kept");
    a.engine = std::make_unique<SyncEngine>(a.config);
    QSignalSpy fatal(a.engine.get(), &SyncEngine::fatalError);
    a.engine->start();
    QTRY_COMPARE_WITH_TIMEOUT(fatal.size(), 1, 10000);
    const QString message = fatal.first().first().toString();
    QVERIFY2(message.contains(QStringLiteral("version %1").arg(protocol::kProtocolVersion + 1))
            && message.contains(QStringLiteral("version %1").arg(protocol::kProtocolVersion))
            && !message.contains(u'\n'),
        qPrintable(message));
    QCOMPARE(logins, 0);
    QCOMPARE(readFile(a.root(), QStringLiteral("mine.txt")), QByteArray("kept"));
}

namespace {
// The server's "bytes sent to all sessions" counter.
quint64 serverBytesSent(const SyncServer &server)
{
    for (const QByteArray &line : server.metricsText().split('\n')) {
        if (line.startsWith("filesync_bytes_sent_total "))
            return line.mid(int(qstrlen("filesync_bytes_sent_total "))).trimmed().toULongLong();
    }
    return 0;
}
} // namespace

void tst_Engine::copiesReuseLocalBlocks()
{
    Computer a(QStringLiteral("alpha"), m_server->port()), b(QStringLiteral("beta"), m_server->port());
    const QByteArray big = randomBytes(8 * 1024 * 1024, 11);
    writeFile(a.root(), QStringLiteral("big.bin"), big);
    pair(a, b);
    QTRY_COMPARE_WITH_TIMEOUT(readFile(b.root(), QStringLiteral("big.bin")), big, 10000);
    QTRY_COMPARE_WITH_TIMEOUT(b.engine->state(), EngineState::Idle, 10000);

    // A copy, and an edit in the middle: B builds both from blocks it already has,
    // fetching only what is new.
    const quint64 before = serverBytesSent(*m_server);
    QByteArray edited = big;
    edited.replace(4 * 1024 * 1024, 4096, randomBytes(4096, 12));
    writeFile(a.root(), QStringLiteral("copy.bin"), big);
    writeFile(a.root(), QStringLiteral("big.bin"), edited);
    QTRY_COMPARE_WITH_TIMEOUT(readFile(b.root(), QStringLiteral("copy.bin")), big, 10000);
    QTRY_COMPARE_WITH_TIMEOUT(readFile(b.root(), QStringLiteral("big.bin")), edited, 10000);
    const quint64 sent = serverBytesSent(*m_server) - before;
    QVERIFY2(sent < 3 * 1024 * 1024, qPrintable(QStringLiteral("%1 bytes sent").arg(sent)));
}

// An engine destroyed while its pools have work (here a received block being written on a
// slow disk) waits for that work: nothing of it runs on afterwards, into a folder whose
// owner may be gone. With pools shared by several engines, each waits for its own jobs.
void tst_Engine::destroyedEngineLeavesNoWorkRunning_data()
{
    QTest::addColumn<bool>("shared");
    QTest::newRow("its own pools") << false;
    QTest::newRow("a process's pools") << true;
}

void tst_Engine::destroyedEngineLeavesNoWorkRunning()
{
    QFETCH(bool, shared);
    WorkerPools pools;
    Computer a(QStringLiteral("alpha"), m_server->port()), b(QStringLiteral("beta"), m_server->port());
    if (shared)
        a.pools = b.pools = &pools;
    pair(a, b);
    QTRY_COMPARE_WITH_TIMEOUT(b.engine->state(), EngineState::Idle, 10000);
    std::atomic_int entered { 0 };
    std::atomic_bool inFirst { false };
    BlockWriter::setBeforePoolWriteForTests([&] {
        if (entered++ > 0)
            return;
        inFirst = true;
        QThread::msleep(200); // the slow disk, not a synchronisation: nothing waits for it but the engine
        inFirst = false;
    });
    const auto restore = qScopeGuard([] { BlockWriter::setBeforePoolWriteForTests({}); });
    // Random bytes: blocks of 64 KiB or more, verified and written on B's blockWriter pool.
    writeFile(a.root(), QStringLiteral("big.bin"), randomBytes(2 * 1024 * 1024, 13));
    QTRY_VERIFY_WITH_TIMEOUT(entered > 0, 10000);
    b.engine.reset();
    QVERIFY(!inFirst);
}

QTEST_GUILESS_MAIN(tst_Engine)
#include "tst_engine.moc"
