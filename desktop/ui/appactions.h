#pragma once

#include <QAction>
#include <QMenu>
#include <QObject>

namespace filesync {

class StatusModel;

// The commands a user can give, shared by the tray menu and the status window so both
// always agree: a status line, Open folder, Sync now, Pause/Resume, Recent changes,
// Settings…, Quit. Texts and enabled states follow the StatusModel. GUI thread; owned
// by AppController.
class AppActions : public QObject
{
    Q_OBJECT
public:
    AppActions(StatusModel &model, QObject *parent = nullptr);

    QAction *status;
    QAction *openFolder;
    QAction *syncNow;
    QAction *pause; // checkable: checked = paused
    QAction *settings;
    QAction *quit;
    QMenu *recentMenu; // "Recent changes": choosing one opens its folder

    QMenu *buildMenu(QWidget *parent = nullptr); // the tray's context menu

Q_SIGNALS:
    void openPath(const QString &absolutePath); // a recent item was chosen

private:
    void update();
    void rebuildRecent();

    StatusModel &m_model;
};

} // namespace filesync
