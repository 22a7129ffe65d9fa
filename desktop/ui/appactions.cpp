#include "appactions.h"

#include "statusmodel.h"

#include <QFileInfo>

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
    syncNow->setEnabled(configured && !paused); // after an error: try again
    pause->setEnabled(configured && m_model.state() != EngineState::Error);
    pause->setChecked(paused);
    pause->setText(paused ? tr("Resume syncing") : tr("Pause syncing"));
}

void AppActions::rebuildRecent()
{
    recentMenu->clear();
    const QList<SyncItem> &items = m_model.recent();
    recentMenu->setEnabled(!items.isEmpty());
    const QString root = m_model.folder();
    for (const SyncItem &item : items) {
        QAction *action = recentMenu->addAction(StatusModel::describe(item));
        const QString path = root + u'/' + item.path.toString();
        connect(action, &QAction::triggered, this, [this, root, path] {
            // The folder that holds it; the item, or even its folder, may be gone by now.
            QString dir = QFileInfo(path).isDir() ? path : QFileInfo(path).absolutePath();
            while (dir.size() > root.size() && !QFileInfo(dir).isDir())
                dir = QFileInfo(dir).absolutePath();
            Q_EMIT openPath(dir);
        });
    }
}

} // namespace filesync
