#pragma once

#include <QWidget>

class QLabel;
class QListWidget;

namespace filesync {

class AppActions;
class StatusModel;

// Shown instead of a tray icon when the desktop has no system tray: the state, the
// recent changes and the same commands as the tray menu. GUI thread; owned by
// AppController.
class StatusWindow : public QWidget
{
    Q_OBJECT
public:
    StatusWindow(StatusModel &model, AppActions &actions, QWidget *parent = nullptr);
    QString statusText() const;
    QString noticeText() const; // the last conflict, warning or error, if any

private:
    void update();
    void rebuildRecent();

    StatusModel &m_model;
    QLabel *m_icon;
    QLabel *m_status;
    QLabel *m_notice;
    QListWidget *m_recent;
};

} // namespace filesync
