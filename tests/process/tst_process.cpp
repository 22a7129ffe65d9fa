#include "../integration/synctestmacros.h"
#include "messages.h"
#include "testtree.h"

#include <QDir>
#include <QDirIterator>
#include <QElapsedTimer>
#include <QMap>
#include <QProcess>
#include <QRegularExpression>
#include <QTcpServer>
#include <QTcpSocket>
#include <QTemporaryDir>
#include <QTest>
#include <QtEndian>

#include <csignal>

using namespace filesync::test;

namespace {

// A real binary under test: started with arguments, its stdout read line by line.
class Proc
{
public:
    Proc(const QString &program, const QStringList &args,
        const QProcessEnvironment &env = QProcessEnvironment::systemEnvironment())
    {
        m_process.setProgram(program);
        m_process.setArguments(args);
        m_process.setProcessEnvironment(env);
        m_process.start();
        m_process.waitForStarted(10000);
    }
    ~Proc()
    {
        if (m_process.state() != QProcess::NotRunning) {
            m_process.kill();
            m_process.waitForFinished(5000);
        }
    }

    // Waits (bounded) for a stdout line matching `pattern`; returns its first capture.
    QString waitForLine(const QString &pattern, int timeoutMs = 20000)
    {
        const QRegularExpression re(pattern);
        QDeadlineTimer deadline(timeoutMs);
        while (!deadline.hasExpired()) {
            while (m_process.canReadLine()) {
                const QString line = QString::fromUtf8(m_process.readLine()).trimmed();
                m_stdout << line;
                const auto match = re.match(line);
                if (match.hasMatch())
                    return match.captured(1);
            }
            if (m_process.state() == QProcess::NotRunning)
                break;
            m_process.waitForReadyRead(100);
        }
        qWarning("no line matching %s; stderr: %s", qPrintable(pattern), m_process.readAllStandardError().constData());
        return {};
    }

    void signal(int sig) { ::kill(pid_t(m_process.processId()), sig); }

    // Waits for the exit and returns the exit code, or -1 on a crash or timeout.
    int waitForExit(int timeoutMs = 20000)
    {
        if (!m_process.waitForFinished(timeoutMs))
            return -1;
        return m_process.exitStatus() == QProcess::NormalExit ? m_process.exitCode() : -1;
    }
    QByteArray stderrText() { return m_process.readAllStandardError(); }
    bool isRunning() const { return m_process.state() == QProcess::Running; }

private:
    QProcess m_process;
    QStringList m_stdout;
};

QProcessEnvironment sessionEnv(const QString &name)
{
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    env.insert(QStringLiteral("FILESYNC_SESSION_NAME"), name);
    env.remove(QStringLiteral("QT_LOGGING_RULES")); // the defaults, as a user gets them
    return env;
}

const QString kServer = QStringLiteral(FILESYNC_SERVER_BIN);
const QString kClient = QStringLiteral(FILESYNC_CLIENT_BIN);
const QString kListening = QStringLiteral("^listening on 127\\.0\\.0\\.1:(\\d+)$");
const QString kAccount = QStringLiteral("^account: ([a-z2-7]{32})$");

quint16 unusedPort()
{
    QTcpServer probe;
    probe.listen(QHostAddress::LocalHost, 0);
    return probe.serverPort();
}

} // namespace

class tst_Process : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void badArguments_data();
    void badArguments();
    void helpAndVersion();
    void twoComputersThroughTheRealBinaries();
    void serverKilledHardAndRestarted();
    void serverTimeoutFlagsCloseStalledConnections();
    void unreachableServerIsRetriedNotFatal();
    void unknownJournalStopsTheClient();
};

void tst_Process::badArguments_data()
{
    QTest::addColumn<QString>("program");
    QTest::addColumn<QStringList>("args");
    const QString dir = QDir::tempPath();
    QTest::newRow("server: port not a number")
        << kServer << QStringList { QStringLiteral("--port"), QStringLiteral("x"), QStringLiteral("--data"), dir };
    QTest::newRow("server: port out of range")
        << kServer << QStringList { QStringLiteral("--port"), QStringLiteral("70000"), QStringLiteral("--data"), dir };
    QTest::newRow("server: timeout not a number")
        << kServer
        << QStringList { QStringLiteral("--data"), dir, QStringLiteral("--idle-timeout"), QStringLiteral("soon") };
    QTest::newRow("server: negative timeout")
        << kServer
        << QStringList { QStringLiteral("--data"), dir, QStringLiteral("--frame-timeout"), QStringLiteral("-1") };
    QTest::newRow("server: unknown option") << kServer << QStringList { QStringLiteral("--bogus") };
    QTest::newRow("client: no arguments after --headless") << kClient << QStringList { QStringLiteral("--headless") };
    QTest::newRow("client: too few") << kClient
                                     << QStringList { QStringLiteral("--headless"), QStringLiteral("127.0.0.1"),
                                            QStringLiteral("7070") };
    QTest::newRow("client: bad port") << kClient
                                      << QStringList { QStringLiteral("--headless"), QStringLiteral("127.0.0.1"),
                                             QStringLiteral("port"), dir, QStringLiteral("10") };
    QTest::newRow("client: zero interval") << kClient
                                           << QStringList { QStringLiteral("--headless"), QStringLiteral("127.0.0.1"),
                                                  QStringLiteral("7070"), dir, QStringLiteral("0") };
    QTest::newRow("client: malformed ID")
        << kClient
        << QStringList { QStringLiteral("--headless"), QStringLiteral("127.0.0.1"), QStringLiteral("7070"), dir,
               QStringLiteral("10"), QStringLiteral("not-an-id!") };
    QTest::newRow("client: too many") << kClient
                                      << QStringList { QStringLiteral("--headless"), QStringLiteral("127.0.0.1"),
                                             QStringLiteral("7070"), dir, QStringLiteral("10"), QStringLiteral("a"),
                                             QStringLiteral("b") };
}

void tst_Process::badArguments()
{
    QFETCH(QString, program);
    QFETCH(QStringList, args);
    Proc p(program, args);
    QCOMPARE(p.waitForExit(), 2);
    QVERIFY(!p.stderrText().isEmpty());
}

void tst_Process::helpAndVersion()
{
    for (const QString &program : { kServer, kClient }) {
        Proc help(program, { QStringLiteral("--help") });
        QCOMPARE(help.waitForExit(), 0);
        Proc version(program, { QStringLiteral("--version") });
        QVERIFY(!version.waitForLine(QStringLiteral("(\\d+\\.\\d+\\.\\d+)")).isEmpty());
        QCOMPARE(version.waitForExit(), 0);
    }
}

void tst_Process::twoComputersThroughTheRealBinaries()
{
    QTemporaryDir data, dirA, dirB;
    writeFile(dirA.path(), QStringLiteral("docs/hello.txt"), "hello from A");
    writeFile(dirA.path(), QStringLiteral("photos/big.jpg"), randomBytes(3 * 1024 * 1024, 5));
    makeDir(dirA.path(), QStringLiteral("empty"));

    Proc server(kServer,
        { QStringLiteral("--port"), QStringLiteral("0"), QStringLiteral("--data"), data.path(),
            QStringLiteral("--listen"), QStringLiteral("127.0.0.1") });
    const QString port = server.waitForLine(kListening);
    QVERIFY(!port.isEmpty());

    auto clientArgs = [&](const QString &dir, const QString &id = QString()) {
        QStringList args { QStringLiteral("--headless"), QStringLiteral("127.0.0.1"), port, dir, QStringLiteral("60") };
        if (!id.isEmpty())
            args << id;
        return args;
    };
    auto a = std::make_unique<Proc>(kClient, clientArgs(dirA.path()), sessionEnv(QStringLiteral("A")));
    const QString id = a->waitForLine(kAccount);
    QVERIFY(!id.isEmpty());
    Proc b(kClient, clientArgs(dirB.path(), id), sessionEnv(QStringLiteral("B")));
    QCOMPARE(b.waitForLine(kAccount), id);
    QTRY_TREES_EQUAL(dirA.path(), dirB.path());

    writeFile(dirB.path(), QStringLiteral("docs/reply.txt"), "hello from B");
    QVERIFY(QDir(dirB.path()).rename(QStringLiteral("docs/hello.txt"), QStringLiteral("docs/hello-renamed.txt")));
    QTRY_TREES_EQUAL(dirA.path(), dirB.path());
    QVERIFY(exists(dirA.path(), QStringLiteral("docs/hello-renamed.txt")));

    // Stopped by signal: exit 0. Restarted without the ID: the same account.
    a->signal(SIGTERM);
    QCOMPARE(a->waitForExit(), 0);
    a = std::make_unique<Proc>(kClient, clientArgs(dirA.path()), sessionEnv(QStringLiteral("A")));
    QCOMPARE(a->waitForLine(kAccount), id);
    writeFile(dirA.path(), QStringLiteral("after-restart.txt"), "still in sync");
    QTRY_TREES_EQUAL(dirA.path(), dirB.path());

    a->signal(SIGINT);
    b.signal(SIGTERM);
    QCOMPARE(a->waitForExit(), 0);
    QCOMPARE(b.waitForExit(), 0);
    server.signal(SIGTERM);
    QCOMPARE(server.waitForExit(), 0);
    // Info by default (a line per cycle), debug only when asked for (docs/operations.md):
    // a debug line per downloaded file cost a few per cent of B's CPU in W2.
    const QByteArray log = b.stderrText();
    QVERIFY2(log.contains("cycle done in"), log.constData());
    QVERIFY2(!log.contains("cycle phases") && !log.contains("installed \""), log.constData());
}

void tst_Process::serverKilledHardAndRestarted()
{
    QTemporaryDir data, dirA, dirB;
    writeFile(dirA.path(), QStringLiteral("one.txt"), "1");
    const QStringList serverArgs { QStringLiteral("--port"), QStringLiteral("0"), QStringLiteral("--data"), data.path(),
        QStringLiteral("--listen"), QStringLiteral("127.0.0.1") };
    auto server = std::make_unique<Proc>(kServer, serverArgs);
    const QString port = server->waitForLine(kListening);
    QVERIFY(!port.isEmpty());
    Proc a(kClient,
        { QStringLiteral("--headless"), QStringLiteral("127.0.0.1"), port, dirA.path(), QStringLiteral("60") },
        sessionEnv(QStringLiteral("A")));
    const QString id = a.waitForLine(kAccount);
    QVERIFY(!id.isEmpty());
    Proc b(kClient,
        { QStringLiteral("--headless"), QStringLiteral("127.0.0.1"), port, dirB.path(), QStringLiteral("60"), id },
        sessionEnv(QStringLiteral("B")));
    QCOMPARE(b.waitForLine(kAccount), id);
    QTRY_TREES_EQUAL(dirA.path(), dirB.path());

    server->signal(SIGKILL);
    QCOMPARE(server->waitForExit(), -1);
    writeFile(dirA.path(), QStringLiteral("two.txt"), "written while the server was dead");
    QStringList again = serverArgs;
    again[1] = port;
    server = std::make_unique<Proc>(kServer, again);
    QCOMPARE(server->waitForLine(kListening), port);
    QTRY_TREES_EQUAL_WITH_TIMEOUT(dirA.path(), dirB.path(), 30000);
    QCOMPARE(treeState(dirB.path()).size(), 2);
    QVERIFY(conflictCopies(dirB.path()).isEmpty());
    a.signal(SIGTERM);
    b.signal(SIGTERM);
    QCOMPARE(a.waitForExit(), 0);
    QCOMPARE(b.waitForExit(), 0);
}

// The header, frame and idle timeouts after login are the operator's to set: a partial
// frame and a silent connection are closed after the seconds given, not the defaults.
void tst_Process::serverTimeoutFlagsCloseStalledConnections()
{
    using namespace filesync::protocol;
    QTemporaryDir data;
    Proc server(kServer,
        { QStringLiteral("--port"), QStringLiteral("0"), QStringLiteral("--data"), data.path(),
            QStringLiteral("--listen"), QStringLiteral("127.0.0.1"), QStringLiteral("--header-timeout"),
            QStringLiteral("0.3"), QStringLiteral("--frame-timeout"), QStringLiteral("0.6"),
            QStringLiteral("--idle-timeout"), QStringLiteral("0.9") });
    const QString port = server.waitForLine(kListening);
    QVERIFY(!port.isEmpty());
    // Each logs in (a new account), then stalls in its own way; what the server said last
    // before closing is kept.
    struct Stalled
    {
        QByteArray after; // sent after the login
        QString reason;
        QTcpSocket socket;
        QByteArray received;
    };
    QByteArray partialFrame(4, Qt::Uninitialized);
    qToBigEndian(quint32(64 * 1024), partialFrame.data());
    Stalled stalled[3];
    stalled[0].after = QByteArray("\x00\x01", 2);
    stalled[0].reason = QStringLiteral("header");
    stalled[1].after = partialFrame + QByteArray("\x83\x0a\x01", 3) + QByteArray(1024, 'x');
    stalled[1].reason = QStringLiteral("a frame did not");
    stalled[2].reason = QStringLiteral("nothing received");
    QElapsedTimer clock;
    clock.start();
    for (Stalled &s : stalled) {
        s.socket.connectToHost(QHostAddress::LocalHost, port.toUShort());
        QVERIFY(s.socket.waitForConnected(5000));
        s.socket.write(encodeFrame({ MessageType::Hello, 1, Hello {}.toCbor() }));
        s.socket.write(encodeFrame({ MessageType::CreateAccount, 2, CreateAccount { QStringLiteral("t") }.toCbor() }));
        s.socket.write(s.after);
        QObject::connect(&s.socket, &QTcpSocket::readyRead, &s.socket, [&s] { s.received += s.socket.readAll(); });
    }
    for (Stalled &s : stalled) {
        QTRY_COMPARE_WITH_TIMEOUT(s.socket.state(), QAbstractSocket::UnconnectedState, 20000);
        QVERIFY2(s.received.contains(s.reason.toUtf8()), s.received.constData());
    }
    QVERIFY2(clock.elapsed() < 20000, "closed long after the timeouts given");
    server.signal(SIGTERM);
    QCOMPARE(server.waitForExit(), 0);
}

void tst_Process::unreachableServerIsRetriedNotFatal()
{
    QTemporaryDir dir;
    Proc client(kClient,
        { QStringLiteral("--headless"), QStringLiteral("127.0.0.1"), QString::number(unusedPort()), dir.path(),
            QStringLiteral("5") });
    // It keeps trying (and says so) instead of exiting.
    QByteArray err;
    QDeadlineTimer deadline(10000);
    while (err.isEmpty() && !deadline.hasExpired() && client.isRunning()) {
        QTest::qWait(50);
        err += client.stderrText();
    }
    QVERIFY2(client.isRunning(), err.constData());
    QVERIFY(!err.isEmpty());
    client.signal(SIGTERM);
    QCOMPARE(client.waitForExit(), 0);
}

// A folder whose journal has a schema this build does not read (a later one wrote it,
// say): the client exits 1 with one line naming the version found and the one it reads,
// and no file in the folder, its metadata included, changes.
void tst_Process::unknownJournalStopsTheClient()
{
    QTemporaryDir data, dir;
    writeFile(dir.path(), QStringLiteral("mine.txt"), "mine");
    Proc server(kServer,
        { QStringLiteral("--port"), QStringLiteral("0"), QStringLiteral("--data"), data.path(),
            QStringLiteral("--listen"), QStringLiteral("127.0.0.1") });
    const QString port = server.waitForLine(kListening);
    QVERIFY(!port.isEmpty());
    const QStringList args { QStringLiteral("--headless"), QStringLiteral("127.0.0.1"), port, dir.path(),
        QStringLiteral("60") };
    {
        Proc client(kClient, args, sessionEnv(QStringLiteral("A")));
        QVERIFY(!client.waitForLine(kAccount).isEmpty());
        client.signal(SIGTERM);
        QCOMPARE(client.waitForExit(), 0);
    }
    const QString journal = dir.path() + QStringLiteral("/.filesync/journal.db");
    QVERIFY(!QFile::exists(journal + QStringLiteral("-wal"))); // closed cleanly: all in the file
    {
        QFile file(journal);
        QVERIFY(file.open(QIODevice::ReadWrite));
        QVERIFY(file.seek(60)); // SQLite's user_version, 4 bytes big-endian
        QCOMPARE(file.write(QByteArray("\0\0\0\2", 4)), 4);
    }
    const auto contents = [&dir] {
        QMap<QString, QByteArray> files;
        QDirIterator it(dir.path(), QDir::AllEntries | QDir::Hidden | QDir::NoDotAndDotDot | QDir::System,
            QDirIterator::Subdirectories);
        while (it.hasNext()) {
            QFile f(it.next());
            files.insert(f.fileName(), f.open(QIODevice::ReadOnly) ? f.readAll() : QByteArray("(folder)"));
        }
        return files;
    };
    const QMap<QString, QByteArray> before = contents();

    Proc client(kClient, args, sessionEnv(QStringLiteral("A")));
    QCOMPARE(client.waitForExit(), 1);
    const QList<QByteArray> lines = client.stderrText().trimmed().split('\n');
    const QString last = QString::fromUtf8(lines.last());
    QVERIFY2(last.startsWith(QStringLiteral("filesync: "))
            && last.contains(QStringLiteral("has schema version 2, this FileSync reads only version 1")),
        qPrintable(last));
    QCOMPARE(contents(), before);
}

QTEST_GUILESS_MAIN(tst_Process)
#include "tst_process.moc"
