#pragma once

#include <QObject>
#include <QSystemTrayIcon>

namespace filesync {

class AppActions;
class StatusModel;

// The system tray icon: one SVG per state, a tooltip with the state in words and the
// last sync time, the shared menu, and notifications for conflicts and for errors the
// user must act on (none for routine syncs). GUI thread; owned by AppController.
class TrayIcon : public QObject
{
    Q_OBJECT
public:
    TrayIcon(StatusModel &model, AppActions &actions, QObject *parent = nullptr);
    ~TrayIcon() override;

    void show();
    QSystemTrayIcon *icon() const { return m_tray; }
    QString iconName() const { return m_iconName; }
    QMenu *menu() const;
    QString lastNotification() const { return m_lastNotification; }
    int notificationCount() const { return m_notifications; }

    static QIcon iconFor(const QString &state);

private:
    void update();
    void notify(const QString &title, const QString &message, QSystemTrayIcon::MessageIcon icon);

    StatusModel &m_model;
    QSystemTrayIcon *m_tray;
    QString m_iconName;
    QString m_lastNotification;
    int m_notifications = 0;
};

} // namespace filesync
