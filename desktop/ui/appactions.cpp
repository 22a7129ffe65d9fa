#include "appactions.h"

#include "statusmodel.h"

#include <QDir>
#include <QFileInfo>
#include <QLocale>

namespace filesync {

AppActions::AppActions(StatusModel &model, QObject *parent)
    : QObject(parent)
    , status(new QAction(this))
    , openFolder(new QAction(tr("Open folder"), this))
    , syncNow(new QAction(tr("Sync now"), this))
    , pause(new QAction(tr("Pause syncing"), this))
    , settings(new QAction(tr("Settings…"), this))
    , quit(new QAction(tr("Quit FileSync"), this))
    , recentMenu(new QMenu(tr("Recent changes")))
    , m_model(model)
{
    status->setEnabled(false);
    pause->setCheckable(true);
    settings->setMenuRole(QAction::PreferencesRole);
    quit->setMenuRole(QAction::QuitRole);
    connect(&model, &StatusModel::changed, this, &AppActions::update);
    connect(&model, &StatusModel::recentChanged, this, &AppActions::rebuildRecent);
    connect(this, &QObject::destroyed, recentMenu, [menu = recentMenu] { delete menu; });
    update();
    rebuildRecent();
}

QMenu *AppActions::buildMenu(QWidget *parent)
{
    auto *menu = new QMenu(parent);
    menu->addAction(status);
    menu->addSeparator();
    menu->addAction(openFolder);
    menu->addAction(syncNow);
    menu->addAction(pause);
    menu->addMenu(recentMenu);
    menu->addSeparator();
    menu->addAction(settings);
    menu->addAction(quit);
    return menu;
}

void AppActions::update()
{
    status->setText(m_model.statusText());
    const bool configured = !m_model.folder().isEmpty();
    const bool paused = m_model.state() == EngineState::Paused;
    openFolder->setEnabled(configured);
    syncNow->setEnabled(configured && !paused && m_model.state() != EngineState::Error);
    pause->setEnabled(configured && m_model.state() != EngineState::Error);
    pause->setChecked(paused);
    pause->setText(paused ? tr("Resume syncing") : tr("Pause syncing"));
}

void AppActions::rebuildRecent()
{
    recentMenu->clear();
    const QList<SyncItem> &items = m_model.recent();
    recentMenu->setEnabled(!items.isEmpty());
    for (const SyncItem &item : items) {
        const QString arrow = item.direction == ItemDirection::Up ? QStringLiteral("↑")
            : item.direction == ItemDirection::Down               ? QStringLiteral("↓")
                                                                  : QStringLiteral("•");
        const QString text = QStringLiteral("%1 %2  (%3, %4)")
                                 .arg(arrow, item.path.toString(), item.action,
                                      QLocale().toString(item.when.time(), QLocale::ShortFormat));
        QAction *action = recentMenu->addAction(text);
        const QString path = m_model.folder() + u'/' + item.path.toString();
        connect(action, &QAction::triggered, this, [this, path] {
            // Open the folder that holds it (the item itself may be gone).
            const QFileInfo info(path);
            Q_EMIT openPath(info.isDir() ? path : info.absolutePath());
        });
    }
}

} // namespace filesync
