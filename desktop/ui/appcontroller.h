#pragma once

#include "appsettings.h"
#include "settingsdialog.h"

#include <QObject>
#include <QPointer>

#include <memory>

class QSettings;

namespace filesync {

class AppActions;
class StatusModel;
class StatusWindow;
class SyncEngine;
class TrayIcon;

// Owns the engine and the UI around it: starts the engine from the settings, restarts
// it cleanly when the server, folder, account or interval change, wires the commands
// (open folder, sync now, pause, settings, quit) to the engine, and shows either the
// tray icon or, without a system tray, the status window. GUI thread; owned by
// runTrayApplication() or a test.
class AppController : public QObject
{
    Q_OBJECT
public:
    enum class Shell { Tray, Window, Auto };
    AppController(QSettings &settings, Shell shell = Shell::Auto, QObject *parent = nullptr);
    ~AppController() override;

    void start(); // opens the settings dialog first when nothing is configured
    void applySettings(const AppSettings &settings);
    void showSettings();
    void raise(); // a second start of the app asks the first to come forward

    SyncEngine *engine() const { return m_engine.get(); }
    StatusModel &model() const { return *m_model; }
    AppActions &actions() const { return *m_actions; }
    TrayIcon *tray() const { return m_tray; }
    StatusWindow *window() const { return m_window; }
    SettingsDialog *settingsDialog() const { return m_dialog; }
    AppSettings currentSettings() const { return m_current; }

Q_SIGNALS:
    void quitRequested();
    void openPathRequested(const QString &path); // tests observe; the app opens it

private:
    void startEngine();
    void stopEngine();
    void restartEngine();

    QSettings &m_settings;
    AppSettings m_current;
    std::unique_ptr<SyncEngine> m_engine;
    StatusModel *m_model;
    AppActions *m_actions;
    TrayIcon *m_tray = nullptr;
    StatusWindow *m_window = nullptr;
    QPointer<SettingsDialog> m_dialog;
};

} // namespace filesync
