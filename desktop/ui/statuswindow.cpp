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
    , m_recent(new QListWidget(this))
{
    setWindowTitle(tr("FileSync"));
    setWindowIcon(TrayIcon::iconFor(QStringLiteral("idle")));
    auto *layout = new QVBoxLayout(this);
    auto *top = new QHBoxLayout;
    top->addWidget(m_icon);
    top->addWidget(m_status, 1);
    layout->addLayout(top);
    layout->addWidget(new QLabel(tr("Recent changes"), this));
    layout->addWidget(m_recent, 1);
    auto *buttons = new QHBoxLayout;
    for (QAction *action : { actions.openFolder, actions.syncNow, actions.pause, actions.settings, actions.quit }) {
        auto *button = new QToolButton(this);
        button->setDefaultAction(action);
        buttons->addWidget(button);
    }
    layout->addLayout(buttons);
    m_status->setWordWrap(true);
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

void StatusWindow::update()
{
    m_icon->setPixmap(TrayIcon::iconFor(m_model.iconName()).pixmap(32, 32));
    m_status->setText(m_model.tooltip());
}

void StatusWindow::rebuildRecent()
{
    m_recent->clear();
    for (const SyncItem &item : m_model.recent())
        m_recent->addItem(QStringLiteral("%1  %2").arg(item.action, item.path.toString()));
}

} // namespace filesync
