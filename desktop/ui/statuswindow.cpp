#include "statuswindow.h"

#include "appactions.h"
#include "statusmodel.h"
#include "trayicon.h"

#include <QHBoxLayout>
#include <QLabel>
#include <QListWidget>
#include <QToolButton>
#include <QVBoxLayout>

namespace filesync {

StatusWindow::StatusWindow(StatusModel &model, AppActions &actions, QWidget *parent)
    : QWidget(parent)
    , m_model(model)
    , m_icon(new QLabel(this))
    , m_status(new QLabel(this))
    , m_notice(new QLabel(this))
    , m_recent(new QListWidget(this))
{
    setWindowTitle(tr("FileSync"));
    setWindowIcon(TrayIcon::iconFor(QStringLiteral("idle")));
    auto *layout = new QVBoxLayout(this);
    auto *top = new QHBoxLayout;
    top->addWidget(m_icon);
    top->addWidget(m_status, 1);
    layout->addLayout(top);
    layout->addWidget(m_notice);
    layout->addWidget(new QLabel(tr("Recent changes"), this));
    layout->addWidget(m_recent, 1);
    auto *buttons = new QHBoxLayout;
    for (QAction *action : { actions.openFolder, actions.syncNow, actions.pause, actions.settings, actions.quit }) {
        auto *button = new QToolButton(this);
        button->setDefaultAction(action);
        buttons->addWidget(button);
    }
    layout->addLayout(buttons);
    m_status->setObjectName(QStringLiteral("status"));
    m_status->setWordWrap(true);
    m_notice->setObjectName(QStringLiteral("notice"));
    m_notice->setWordWrap(true);
    m_notice->setStyleSheet(QStringLiteral("color: #b36b00"));
    m_notice->hide();
    m_recent->setObjectName(QStringLiteral("recent"));
    connect(&model, &StatusModel::changed, this, &StatusWindow::update);
    connect(&model, &StatusModel::recentChanged, this, &StatusWindow::rebuildRecent);
    resize(460, 320);
    update();
    rebuildRecent();
}

QString StatusWindow::statusText() const
{
    return m_status->text();
}

QString StatusWindow::noticeText() const
{
    return m_notice->text();
}

void StatusWindow::update()
{
    m_icon->setPixmap(TrayIcon::iconFor(m_model.iconName()).pixmap(32, 32));
    m_status->setText(m_model.tooltip());
    // Without a tray there are no notifications: the last conflict, warning or error
    // stays visible here instead.
    m_notice->setText(m_model.lastNotice());
    m_notice->setVisible(!m_model.lastNotice().isEmpty());
}

void StatusWindow::rebuildRecent()
{
    m_recent->clear();
    for (const SyncItem &item : m_model.recent())
        m_recent->addItem(StatusModel::describe(item));
}

} // namespace filesync
