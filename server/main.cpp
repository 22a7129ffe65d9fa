// filesync-server: the headless server. Thin: arguments, then SyncServer.
#include "logging.h"
#include "metricsendpoint.h"
#include "serverlogging.h"
#include "signalwatcher.h"
#include "syncserver.h"

#include <QCommandLineParser>
#include <QCoreApplication>
#include <QDir>
#include <QStandardPaths>

#include <cstdio>
#include <utility>

#include <sys/stat.h>

using namespace filesync;

namespace {
int usageError(const QCommandLineParser &parser, const QString &message)
{
    std::fprintf(stderr, "filesync-server: %s\n\n%s", qPrintable(message), qPrintable(parser.helpText()));
    return 2;
}

// A timeout flag: seconds (a fraction allowed, 0: none) into milliseconds; false when
// it is no such number.
bool parseTimeout(const QString &text, int &milliseconds)
{
    bool ok = false;
    const double seconds = text.toDouble(&ok);
    if (!ok || !(seconds >= 0) || seconds > 24 * 3600)
        return false;
    milliseconds = int(seconds * 1000 + 0.5);
    return seconds == 0 || milliseconds > 0;
}
} // namespace

int main(int argc, char **argv)
{
    // Whatever the server writes is its own; the stores set their modes too, this also
    // covers files that SQLite or Qt create behind them.
    ::umask(077);
    QCoreApplication app(argc, argv);
    QCoreApplication::setApplicationName(QStringLiteral("filesync-server"));
    QCoreApplication::setApplicationVersion(QStringLiteral(FILESYNC_VERSION));
    installLogFormat();

    QCommandLineParser parser;
    parser.setApplicationDescription(QStringLiteral("FileSync server: keeps every account's folder."));
    parser.addHelpOption();
    parser.addVersionOption();
    const QCommandLineOption portOption(QStringLiteral("port"), QStringLiteral("TCP port (0: pick a free one)."),
        QStringLiteral("PORT"), QStringLiteral("7070"));
    const QCommandLineOption dataOption(
        QStringLiteral("data"), QStringLiteral("Data directory (SQLite metadata and blocks)."), QStringLiteral("DIR"));
    const QCommandLineOption listenOption(QStringLiteral("listen"),
        QStringLiteral("Address to listen on (default: all addresses)."), QStringLiteral("ADDR"));
    const QCommandLineOption metricsOption(QStringLiteral("metrics"),
        QStringLiteral("Serve Prometheus metrics on ADDR:PORT."), QStringLiteral("ADDR:PORT"));
    // After login (docs/operations.md "Budgets"); tests and slow links set their own.
    const ServerBudgets defaults;
    const auto seconds = [](int ms) { return QString::number(ms / 1000.0); };
    const QCommandLineOption headerTimeoutOption(QStringLiteral("header-timeout"),
        QStringLiteral("Seconds from a frame's first byte to its length and type, after login (0: none; default %1).")
            .arg(seconds(defaults.headerTimeoutMs)),
        QStringLiteral("SECONDS"), seconds(defaults.headerTimeoutMs));
    const QCommandLineOption frameTimeoutOption(QStringLiteral("frame-timeout"),
        QStringLiteral("Seconds from a frame's first byte to its last, after login (0: none; default %1).")
            .arg(seconds(defaults.frameTimeoutMs)),
        QStringLiteral("SECONDS"), seconds(defaults.frameTimeoutMs));
    const QCommandLineOption idleTimeoutOption(QStringLiteral("idle-timeout"),
        QStringLiteral("Seconds a logged-in connection may send nothing, or leave replies unread (0: none; "
                       "default %1).")
            .arg(seconds(defaults.idleTimeoutMs)),
        QStringLiteral("SECONDS"), seconds(defaults.idleTimeoutMs));
    parser.addOptions({ portOption, dataOption, listenOption, metricsOption, headerTimeoutOption, frameTimeoutOption,
        idleTimeoutOption });
    if (!parser.parse(QCoreApplication::arguments()))
        return usageError(parser, parser.errorText());
    if (parser.isSet(QStringLiteral("help"))) {
        std::fputs(qPrintable(parser.helpText()), stdout);
        return 0;
    }
    if (parser.isSet(QStringLiteral("version"))) {
        std::printf("filesync-server %s\n", FILESYNC_VERSION);
        return 0;
    }
    if (!parser.positionalArguments().isEmpty())
        return usageError(parser, QStringLiteral("unexpected argument %1").arg(parser.positionalArguments().first()));

    ServerConfig config;
    bool ok = false;
    const uint port = parser.value(portOption).toUInt(&ok);
    if (!ok || port > 65535)
        return usageError(parser, QStringLiteral("--port wants a number from 0 to 65535"));
    config.port = quint16(port);
    config.dataDir = parser.isSet(dataOption) ? QDir(parser.value(dataOption)).absolutePath()
                                              : QStandardPaths::writableLocation(QStandardPaths::AppDataLocation);
    if (parser.isSet(listenOption)) {
        config.listenAddress = QHostAddress(parser.value(listenOption));
        if (config.listenAddress.isNull())
            return usageError(parser, QStringLiteral("--listen wants an IP address"));
    }
    config.metricsListen = parser.value(metricsOption);
    if (parser.isSet(metricsOption)) {
        if (auto metrics = MetricsEndpoint::parseAddress(config.metricsListen); !metrics)
            return usageError(parser, metrics.errorMessage());
    }
    const std::pair<const QCommandLineOption *, int *> timeouts[] = {
        { &headerTimeoutOption, &config.budgets.headerTimeoutMs },
        { &frameTimeoutOption, &config.budgets.frameTimeoutMs },
        { &idleTimeoutOption, &config.budgets.idleTimeoutMs },
    };
    for (const auto &[option, milliseconds] : timeouts) {
        if (!parseTimeout(parser.value(*option), *milliseconds))
            return usageError(parser,
                QStringLiteral("--%1 wants 0 (none) or seconds from 0.001 to 86400").arg(option->names().constFirst()));
    }

    // Before listening, so that a signal in between still stops the server gracefully.
    SignalWatcher signals;
    SyncServer server(config);
    if (auto started = server.start(); !started) {
        std::fprintf(stderr, "filesync-server: %s\n", qPrintable(started.errorMessage()));
        return 1;
    }
    QString shown = server.address().toString();
    if (server.address() == QHostAddress::Any || server.address() == QHostAddress::AnyIPv6)
        shown = QStringLiteral("0.0.0.0");
    std::printf("listening on %s:%u\n", qPrintable(shown), unsigned(server.port()));
    std::fflush(stdout);

    QObject::connect(&signals, &SignalWatcher::terminationRequested, &app, [&server](int) {
        qCInfo(lcServer) << "stopping";
        server.stop();
        QCoreApplication::quit();
    });
    return app.exec();
}
