// filesync-server as a user runs it: the `listening on` line, signals, exit codes.
#include "rawclient.h"

#include <QDirIterator>
#include <QMap>
#include <QProcess>
#include <QRegularExpression>
#include <QTcpServer>
#include <QTemporaryDir>
#include <QTest>

#include <csignal>

using namespace filesync;
using namespace filesync::protocol;
using namespace filesync::servertest;

namespace {

QString serverBinary()
{
    return QString::fromLocal8Bit(qgetenv("FILESYNC_SERVER_BIN"));
}

} // namespace

class tst_ServerBinary : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void initTestCase();
    void servesAndStopsOnSignal_data();
    void servesAndStopsOnSignal();
    void badArguments_data();
    void badArguments();
    void fatalErrors_data();
    void fatalErrors();
    void unknownFormatsStopTheServer_data();
    void unknownFormatsStopTheServer();
    void helpAndVersion();

private:
    QTemporaryDir m_dir;
};

void tst_ServerBinary::initTestCase()
{
    QVERIFY2(QFile::exists(serverBinary()), "FILESYNC_SERVER_BIN must name the built filesync-server");
}

void tst_ServerBinary::servesAndStopsOnSignal_data()
{
    QTest::addColumn<int>("signal");
    QTest::newRow("SIGTERM") << int(SIGTERM);
    QTest::newRow("SIGINT") << int(SIGINT);
}

void tst_ServerBinary::servesAndStopsOnSignal()
{
    QFETCH(int, signal);
    QProcess server;
    server.start(serverBinary(),
        { QStringLiteral("--port"), QStringLiteral("0"), QStringLiteral("--data"),
            m_dir.path() + QStringLiteral("/data"), QStringLiteral("--listen"), QStringLiteral("127.0.0.1"),
            QStringLiteral("--metrics"), QStringLiteral("127.0.0.1:0") });
    QVERIFY(server.waitForStarted());
    QTRY_VERIFY_WITH_TIMEOUT(server.canReadLine(), 10000);
    const QString line = QString::fromUtf8(server.readLine());
    const auto match = QRegularExpression(QStringLiteral("^listening on 127\\.0\\.0\\.1:(\\d+)\\n$")).match(line);
    QVERIFY2(match.hasMatch(), qPrintable(line));
    const quint16 port = quint16(match.captured(1).toUInt());
    QVERIFY(port != 0);

    {
        RawClient client(port);
        const QString id = client.login();
        QVERIFY(!id.isEmpty());
        QVERIFY(client.putBlock("bytes"));
        QCOMPARE(client.commit({ put("file", "bytes") }).results.size(), 1);
        ::kill(pid_t(server.processId()), signal);
        QTRY_VERIFY(!client.isConnected()); // sessions are closed
    }
    QTRY_COMPARE_WITH_TIMEOUT(server.state(), QProcess::NotRunning, 10000);
    QCOMPARE(server.exitStatus(), QProcess::NormalExit);
    QCOMPARE(server.exitCode(), 0);
    QVERIFY(QFile::exists(m_dir.path() + QStringLiteral("/data/metadata.db")));
    QVERIFY(!QFile::exists(m_dir.path() + QStringLiteral("/data/metadata.db-wal"))); // closed cleanly
}

void tst_ServerBinary::badArguments_data()
{
    QTest::addColumn<QStringList>("arguments");
    const QString data = QStringLiteral("--data=") + m_dir.path() + QStringLiteral("/bad");
    QTest::newRow("port not a number") << QStringList { QStringLiteral("--port"), QStringLiteral("http"), data };
    QTest::newRow("port too large") << QStringList { QStringLiteral("--port"), QStringLiteral("70000"), data };
    QTest::newRow("listen not an address")
        << QStringList { QStringLiteral("--listen"), QStringLiteral("nowhere"), data };
    QTest::newRow("metrics without a port")
        << QStringList { QStringLiteral("--metrics"), QStringLiteral("9090"), data };
    QTest::newRow("unknown option") << QStringList { QStringLiteral("--colour"), data };
    QTest::newRow("stray argument") << QStringList { data, QStringLiteral("7070") };
}

void tst_ServerBinary::badArguments()
{
    QFETCH(QStringList, arguments);
    QProcess server;
    server.start(serverBinary(), arguments);
    QVERIFY(server.waitForFinished(10000));
    QCOMPARE(server.exitCode(), 2);
    const QByteArray err = server.readAllStandardError();
    QVERIFY2(err.contains("Usage:"), err.constData());
    QVERIFY(server.readAllStandardOutput().isEmpty());
    QVERIFY(!QFile::exists(m_dir.path() + QStringLiteral("/bad")));
}

void tst_ServerBinary::fatalErrors_data()
{
    QTest::addColumn<QString>("problem");
    QTest::newRow("port in use") << QStringLiteral("port");
    QTest::newRow("data directory is a file") << QStringLiteral("data");
}

void tst_ServerBinary::fatalErrors()
{
    QFETCH(QString, problem);
    QTcpServer occupant;
    QVERIFY(occupant.listen(QHostAddress::LocalHost));
    QString data = m_dir.path() + QStringLiteral("/fatal-") + problem;
    QString port = QStringLiteral("0");
    if (problem == QLatin1String("port")) {
        port = QString::number(occupant.serverPort());
    } else {
        QFile file(data);
        QVERIFY(file.open(QIODevice::WriteOnly));
    }
    QProcess server;
    server.start(serverBinary(),
        { QStringLiteral("--port"), port, QStringLiteral("--listen"), QStringLiteral("127.0.0.1"),
            QStringLiteral("--data"), data });
    QVERIFY(server.waitForFinished(10000));
    QCOMPARE(server.exitCode(), 1);
    QVERIFY(server.readAllStandardOutput().isEmpty());
    // The reason is the last line on stderr (logs may precede it).
    const QList<QByteArray> lines = server.readAllStandardError().trimmed().split('\n');
    QVERIFY(lines.last().startsWith("filesync-server: "));
    QVERIFY2(lines.last().size() > 30, lines.last().constData());
}

void tst_ServerBinary::unknownFormatsStopTheServer_data()
{
    QTest::addColumn<QString>("file"); // in the data directory
    QTest::addColumn<int>("at"); // where its version is: 4 bytes, big-endian
    QTest::addColumn<QString>("reason");
    QTest::newRow("metadata schema 2") << QStringLiteral(
        "metadata.db") << 60 << QStringLiteral("has schema version 2, this filesync-server reads only version 1");
    QTest::newRow("pack format 2") << QStringLiteral("blocks/packs/00000000.fsp") << 4
                                   << QStringLiteral("has pack format 2, this filesync-server reads only format 1");
}

// A data directory of a format this build does not read (written by a later one, say):
// the server stops with one line naming the file, the version found and the one it
// reads, and every file in the directory keeps its bytes.
void tst_ServerBinary::unknownFormatsStopTheServer()
{
    QFETCH(QString, file);
    QFETCH(int, at);
    QFETCH(QString, reason);
    const QString data = m_dir.path() + QStringLiteral("/formats-%1").arg(at);
    const QStringList arguments { QStringLiteral("--port"), QStringLiteral("0"), QStringLiteral("--listen"),
        QStringLiteral("127.0.0.1"), QStringLiteral("--data"), data };
    {
        QProcess server;
        server.start(serverBinary(), arguments);
        QVERIFY(server.waitForStarted());
        QTRY_VERIFY_WITH_TIMEOUT(server.canReadLine(), 10000);
        const QString line = QString::fromUtf8(server.readLine());
        const auto match = QRegularExpression(QStringLiteral("^listening on 127\\.0\\.0\\.1:(\\d+)\\n$")).match(line);
        QVERIFY2(match.hasMatch(), qPrintable(line));
        RawClient client(quint16(match.captured(1).toUInt()));
        QVERIFY(!client.login().isEmpty());
        QVERIFY(client.putBlock("bytes"));
        QCOMPARE(client.commit({ put("file", "bytes") }).results.size(), 1);
        server.terminate();
        QVERIFY(server.waitForFinished(10000));
        QCOMPARE(server.exitCode(), 0);
    }
    QFile patched(data + u'/' + file);
    QVERIFY(patched.open(QIODevice::ReadWrite));
    QVERIFY(patched.seek(at));
    QCOMPARE(patched.write(QByteArray("\0\0\0\2", 4)), 4);
    patched.close();
    const auto contents = [&data] {
        QMap<QString, QByteArray> files;
        QDirIterator it(data, QDir::Files | QDir::Hidden, QDirIterator::Subdirectories);
        while (it.hasNext()) {
            QFile f(it.next());
            files.insert(f.fileName(), f.open(QIODevice::ReadOnly) ? f.readAll() : QByteArray("unreadable"));
        }
        return files;
    };
    const QMap<QString, QByteArray> before = contents();

    QProcess server;
    server.start(serverBinary(), arguments);
    QVERIFY(server.waitForFinished(10000));
    QCOMPARE(server.exitCode(), 1);
    QVERIFY(server.readAllStandardOutput().isEmpty());
    const QList<QByteArray> lines = server.readAllStandardError().trimmed().split('\n');
    const QString last = QString::fromUtf8(lines.last());
    QVERIFY2(last.startsWith(QStringLiteral("filesync-server: ")) && last.contains(reason)
            && last.contains(file.section(u'/', -1)),
        qPrintable(last));
    QCOMPARE(contents(), before);
}

void tst_ServerBinary::helpAndVersion()
{
    QProcess help;
    help.start(serverBinary(), { QStringLiteral("--help") });
    QVERIFY(help.waitForFinished(10000));
    QCOMPARE(help.exitCode(), 0);
    const QByteArray text = help.readAllStandardOutput();
    for (const char *option : { "--port", "--data", "--listen", "--metrics" })
        QVERIFY2(text.contains(option), option);
    QProcess version;
    version.start(serverBinary(), { QStringLiteral("--version") });
    QVERIFY(version.waitForFinished(10000));
    QCOMPARE(version.exitCode(), 0);
    QCOMPARE(version.readAllStandardOutput(), QByteArray("filesync-server " FILESYNC_VERSION "\n"));
}

QTEST_GUILESS_MAIN(tst_ServerBinary)
#include "tst_server_binary.moc"
