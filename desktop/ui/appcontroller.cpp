#include "appcontroller.h"

#include "appactions.h"
#include "autostart.h"
#include "settingsdialog.h"
#include "statusmodel.h"
#include "statuswindow.h"
#include "syncengine.h"
#include "trayicon.h"

#include <QCoreApplication>
#include <QDesktopServices>
#include <QDir>
#include <QSettings>
#include <QSystemTrayIcon>
#include <QUrl>

// The icons live in this static library: make sure the linker keeps them.
static void initResources()
{
    Q_INIT_RESOURCE(filesync);
}

namespace filesync {

AppController::AppController(QSettings &settings, Shell shell, QObject *parent)
    : QObject(parent)
    , m_settings(settings)
    , m_current(AppSettings::load(settings))
    , m_model(new StatusModel(this))
    , m_actions(new AppActions(*m_model, this))
{
    initResources();
    const bool tray = shell == Shell::Tray || (shell == Shell::Auto && QSystemTrayIcon::isSystemTrayAvailable());
    if (tray)
        m_tray = new TrayIcon(*m_model, *m_actions, this);
    else
        m_window = new StatusWindow(*m_model, *m_actions);

    connect(m_actions->openFolder, &QAction::triggered, this, [this] { Q_EMIT openPathRequested(m_current.folder); });
    connect(m_actions, &AppActions::openPath, this, &AppController::openPathRequested);
    connect(this, &AppController::openPathRequested, this, [](const QString &path) {
        if (!qEnvironmentVariableIsSet("FILESYNC_NO_DESKTOP_SERVICES"))
            QDesktopServices::openUrl(QUrl::fromLocalFile(path));
    });
    connect(m_actions->syncNow, &QAction::triggered, this, [this] {
        if (m_engine && m_engine->state() == EngineState::Error)
            restartEngine(); // the user fixed what stopped the folder, or wants to see it again
        else if (m_engine)
            m_engine->syncNow();
    });
    connect(m_actions->pause, &QAction::triggered, this, [this](bool paused) {
        if (!m_engine)
            return;
        if (paused)
            m_engine->pause();
        else
            m_engine->resume();
    });
    connect(m_actions->settings, &QAction::triggered, this, &AppController::showSettings);
    connect(m_actions->quit, &QAction::triggered, this, &AppController::quitRequested);
}

AppController::~AppController()
{
    stopEngine();
    delete m_window;
    delete m_dialog;
}

void AppController::start()
{
    if (m_tray)
        m_tray->show();
    else
        m_window->show();
    if (m_current.isComplete())
        startEngine();
    else
        showSettings();
}

void AppController::raise()
{
    if (m_window) {
        m_window->show();
        m_window->raise();
        m_window->activateWindow();
    } else {
        showSettings();
    }
}

void AppController::showSettings()
{
    if (m_dialog) {
        m_dialog->raise();
        m_dialog->activateWindow();
        return;
    }
    AppSettings proposal = m_current;
    if (proposal.folder.isEmpty()) // first start: suggest the usual place
        proposal.folder = QDir::home().filePath(QStringLiteral("FileSync"));
    m_dialog = new SettingsDialog(proposal, Autostart::isEnabled());
    m_dialog->setAttribute(Qt::WA_DeleteOnClose);
    connect(m_dialog, &QDialog::accepted, this, [this] {
        Autostart::setEnabled(m_dialog->autostart(), QCoreApplication::applicationFilePath());
        applySettings(m_dialog->settings());
    });
    m_dialog->show();
}

void AppController::applySettings(const AppSettings &settings)
{
    const bool changed = !(settings == m_current) || !m_engine || m_engine->state() == EngineState::Error;
    m_current = settings;
    m_current.save(m_settings);
    if (changed && m_current.isComplete())
        restartEngine();
}

void AppController::restartEngine()
{
    stopEngine();
    startEngine();
}

void AppController::startEngine()
{
    QDir().mkpath(m_current.folder);
    EngineConfig config;
    config.host = m_current.host;
    config.port = m_current.port;
    config.folder = QDir(m_current.folder).absolutePath();
    config.intervalSeconds = m_current.intervalSeconds;
    config.accountId = m_current.accountId;
    m_engine = std::make_unique<SyncEngine>(config);
    connect(m_engine.get(), &SyncEngine::accountReady, this, [this](const QString &id, bool) {
        if (m_current.accountId != id) {
            m_current.accountId = id;
            m_current.save(m_settings);
        }
    });
    m_model->setEngine(m_engine.get());
    m_engine->start();
}

void AppController::stopEngine()
{
    if (!m_engine)
        return;
    m_model->setEngine(nullptr);
    m_engine->stop();
    m_engine.reset();
}

} // namespace filesync
