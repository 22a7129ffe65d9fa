#include "trayicon.h"

#include "appactions.h"
#include "statusmodel.h"

#include <QMenu>

namespace filesync {

TrayIcon::TrayIcon(StatusModel &model, AppActions &actions, QObject *parent)
    : QObject(parent)
    , m_model(model)
    , m_tray(new QSystemTrayIcon(this))
{
    m_tray->setContextMenu(actions.buildMenu());
    connect(m_tray, &QSystemTrayIcon::activated, this, [this](QSystemTrayIcon::ActivationReason reason) {
        if (reason != QSystemTrayIcon::Trigger || !m_tray->contextMenu())
            return;
        // Under the icon where the tray tells where it is (the menu keeps it in view).
        const QRect icon = m_tray->geometry();
        m_tray->contextMenu()->popup(icon.isValid() ? icon.bottomLeft() + QPoint(0, 1) : QCursor::pos());
    });
    connect(&model, &StatusModel::changed, this, &TrayIcon::update);
    connect(&model, &StatusModel::conflictNoticed, this, [this](const QString &path, const QString &copy) {
        notify(tr("Conflict in %1").arg(path),
            tr("%1 was changed on two computers. Both versions are kept: the other computer's at %1, this "
               "computer's as %2.")
                .arg(path, copy),
            QSystemTrayIcon::Warning);
    });
    connect(&model, &StatusModel::warningNoticed, this,
        [this](const QString &message) { notify(tr("FileSync"), message, QSystemTrayIcon::Information); });
    connect(&model, &StatusModel::attentionNeeded, this, [this](const QString &message) {
        notify(tr("FileSync needs your attention"), message, QSystemTrayIcon::Critical);
    });
    update();
}

TrayIcon::~TrayIcon()
{
    delete m_tray->contextMenu();
}

QMenu *TrayIcon::menu() const
{
    return m_tray->contextMenu();
}

QIcon TrayIcon::iconFor(const QString &state)
{
    return QIcon(QStringLiteral(":/icons/%1.svg").arg(state));
}

void TrayIcon::show()
{
    m_tray->show();
}

void TrayIcon::update()
{
    const QString name = m_model.iconName();
    if (name != m_iconName) {
        m_iconName = name;
        m_tray->setIcon(iconFor(name));
    }
    m_tray->setToolTip(m_model.tooltip());
}

void TrayIcon::notify(const QString &title, const QString &message, QSystemTrayIcon::MessageIcon icon)
{
    m_lastNotification = title + QStringLiteral(": ") + message;
    ++m_notifications;
    if (QSystemTrayIcon::supportsMessages() && m_tray->isVisible())
        m_tray->showMessage(title, message, icon, 10000);
}

} // namespace filesync
