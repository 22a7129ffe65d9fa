#include "trayapplication.h"

#include "appcontroller.h"
#include "localization.h"
#include "logging.h"
#include "singleinstance.h"
#include "uilogging.h"

#include <QApplication>
#include <QIcon>
#include <QSettings>

Q_LOGGING_CATEGORY(lcUi, "filesync.ui", QtInfoMsg)

namespace filesync {

int runTrayApplication(int argc, char **argv)
{
    QApplication app(argc, argv);
    QApplication::setOrganizationName(QStringLiteral("FileSync"));
    QApplication::setApplicationName(QStringLiteral("filesync"));
    QApplication::setApplicationVersion(QStringLiteral(FILESYNC_VERSION));
    QApplication::setQuitOnLastWindowClosed(false);
    QApplication::setDesktopFileName(QStringLiteral("filesync"));
    installLogFormat();

    SingleInstance instance;
    if (instance.forwardToRunning()) {
        qCInfo(lcUi) << "FileSync is already running; asked it to come forward";
        return 0;
    }
    instance.listen();

    Localization localization;
    localization.install(QLocale::system());

    QSettings settings;
    AppController controller(settings);
    QApplication::setWindowIcon(QIcon(QStringLiteral(":/icons/filesync.svg")));
    QObject::connect(&controller, &AppController::quitRequested, &app, &QApplication::quit);
    QObject::connect(&instance, &SingleInstance::raiseRequested, &controller, &AppController::raise);
    controller.start();
    return app.exec();
}

} // namespace filesync
