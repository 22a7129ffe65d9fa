#include "headless.h"

#include "accountid.h"
#include "logging.h"
#include "signalwatcher.h"
#include "syncengine.h"

#include <QCoreApplication>
#include <QDir>
#include <QFileInfo>

#include <cstdio>

namespace filesync {

namespace {
constexpr char kUsage[] = "usage: filesync --headless HOST PORT PATH INTERVAL [ID]\n"
                          "  HOST      server name or address\n"
                          "  PORT      server port (1-65535)\n"
                          "  PATH      the folder to keep in sync (created if its parent exists)\n"
                          "  INTERVAL  seconds between full rescans (changes are seen at once anyway)\n"
                          "  ID        the account to join; without it the folder's own account, or a new one\n"
                          "SIGTERM or SIGINT stop it (exit 0); SIGUSR1 asks for a full scan and sync now.\n";

int usage(const char *problem)
{
    std::fprintf(stderr, "filesync: %s\n%s", problem, kUsage);
    return 2;
}
} // namespace

int runHeadless(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    QCoreApplication::setApplicationName(QStringLiteral("filesync"));
    QCoreApplication::setApplicationVersion(QStringLiteral(FILESYNC_VERSION));
    installLogFormat();
    QStringList args = QCoreApplication::arguments().mid(1);
    args.removeAll(QStringLiteral("--headless"));
    if (args.size() < 4 || args.size() > 5)
        return usage("expected 4 or 5 arguments after --headless");

    EngineConfig config;
    config.host = args.at(0);
    bool ok = false;
    const uint port = args.at(1).toUInt(&ok);
    if (!ok || port == 0 || port > 65535)
        return usage("PORT must be a number from 1 to 65535");
    config.port = quint16(port);
    const QString folder = QDir(args.at(2)).absolutePath();
    if (!QFileInfo(folder).isDir()) {
        if (!QFileInfo(QFileInfo(folder).absolutePath()).isDir() || !QDir().mkdir(folder))
            return usage("PATH must be a folder (or a new folder inside an existing one)");
    }
    config.folder = QDir(folder).canonicalPath();
    const int interval = args.at(3).toInt(&ok);
    if (!ok || interval <= 0 || interval > 7 * 24 * 3600)
        return usage("INTERVAL must be a whole number of seconds, at least 1");
    config.intervalSeconds = interval;
    if (args.size() == 5) {
        auto id = AccountId::parse(args.at(4));
        if (!id)
            return usage(qPrintable(QStringLiteral("ID: ") + id.errorMessage()));
        config.accountId = id->toString();
    }
    config.sessionName = qEnvironmentVariable("FILESYNC_SESSION_NAME");

    SyncEngine engine(config);
    QObject::connect(&engine, &SyncEngine::accountReady, &app, [](const QString &id, bool created) {
        std::printf("account: %s\n", qPrintable(id));
        std::fflush(stdout);
        if (created)
            std::fprintf(stderr, "filesync: created a new account; use this ID on your other computers\n");
    });
    QObject::connect(&engine, &SyncEngine::warning, &app,
        [](const QString &message) { std::fprintf(stderr, "filesync: warning: %s\n", qPrintable(message)); });
    QObject::connect(&engine, &SyncEngine::conflict, &app, [](const RelativePath &path, const RelativePath &copy) {
        std::fprintf(stderr, "filesync: conflict: %s changed on two computers; this computer's version is kept as %s\n",
            qPrintable(path.toString()), qPrintable(copy.toString()));
    });
    QObject::connect(&engine, &SyncEngine::stateChanged, &app, [&engine](EngineState state) {
        if (state == EngineState::Offline)
            std::fprintf(
                stderr, "filesync: %s (%s)\n", qPrintable(engine.statusText()), qPrintable(engine.errorMessage()));
    });
    int exitCode = 0;
    QObject::connect(&engine, &SyncEngine::fatalError, &app, [&exitCode](const QString &message) {
        std::fprintf(stderr, "filesync: %s\n", qPrintable(message));
        exitCode = 1;
        QCoreApplication::exit(1);
    });
    SignalWatcher signals;
    QObject::connect(&signals, &SignalWatcher::terminationRequested, &app, [&engine](int) {
        engine.stop();
        QCoreApplication::exit(0);
    });
    QObject::connect(&signals, &SignalWatcher::syncRequested, &engine, &SyncEngine::syncNow);
    QMetaObject::invokeMethod(&engine, &SyncEngine::start, Qt::QueuedConnection);
    const int code = app.exec();
    return exitCode ? exitCode : code;
}

} // namespace filesync
