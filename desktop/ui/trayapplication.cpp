#include "trayapplication.h"

#include "appcontroller.h"
#include "logging.h"

#include <QApplication>
#include <QIcon>
#include <QLibraryInfo>
#include <QLocalServer>
#include <QLocalSocket>
#include <QSettings>
#include <QTranslator>

#include <unistd.h>

// Qt reads the layout direction from this translation; listing it here keeps it in the
// .ts files, where Hebrew says "RTL".
[[maybe_unused]] static const struct
{
    const char *source;
    const char *comment;
} kLayoutDirection = QT_TRANSLATE_NOOP3(
    "QGuiApplication", "QT_LAYOUT_DIRECTION",
    "Translate this string to the string 'LTR' in left-to-right languages or to 'RTL' in right-to-left languages "
    "(such as Hebrew and Arabic) to get proper widget layout.");

namespace filesync {

namespace {
QString instanceName()
{
    return QStringLiteral("filesync-tray-%1").arg(::getuid());
}

// Asks a running instance to come forward; true when one answered.
bool forwardToRunningInstance()
{
    QLocalSocket socket;
    socket.connectToServer(instanceName());
    if (!socket.waitForConnected(1000))
        return false;
    socket.write("raise\n");
    socket.waitForBytesWritten(1000);
    return true;
}
} // namespace

int runTrayApplication(int argc, char **argv)
{
    QApplication app(argc, argv);
    QApplication::setOrganizationName(QStringLiteral("FileSync"));
    QApplication::setApplicationName(QStringLiteral("filesync"));
    QApplication::setApplicationVersion(QStringLiteral(FILESYNC_VERSION));
    QApplication::setQuitOnLastWindowClosed(false);
    QApplication::setWindowIcon(QIcon(QStringLiteral(":/icons/filesync.svg")));
    installLogFormat();

    if (forwardToRunningInstance())
        return 0;
    QLocalServer::removeServer(instanceName()); // a stale socket from a crash
    QLocalServer instance;
    instance.listen(instanceName());

    QTranslator qtTranslator;
    if (qtTranslator.load(QLocale(), QStringLiteral("qtbase"), QStringLiteral("_"),
                          QLibraryInfo::path(QLibraryInfo::TranslationsPath)))
        QApplication::installTranslator(&qtTranslator);
    QTranslator translator;
    if (translator.load(QLocale(), QStringLiteral("filesync"), QStringLiteral("_"), QStringLiteral(":/i18n")))
        QApplication::installTranslator(&translator);

    QSettings settings;
    AppController controller(settings);
    QObject::connect(&controller, &AppController::quitRequested, &app, &QApplication::quit);
    QObject::connect(&instance, &QLocalServer::newConnection, &controller, [&instance, &controller] {
        while (QLocalSocket *peer = instance.nextPendingConnection()) {
            QObject::connect(peer, &QLocalSocket::disconnected, peer, &QObject::deleteLater);
            controller.raise();
        }
    });
    controller.start();
    return app.exec();
}

} // namespace filesync
