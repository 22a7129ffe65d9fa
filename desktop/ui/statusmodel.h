#pragma once

#include "syncengine.h"

#include <QObject>
#include <QPointer>
#include <QTimer>

namespace filesync {

// What the UI shows, fed only by the engine's signals: state, the status line, the time
// of the last completed sync and the ten most recent changes. The tray, the status
// window and the tests read this; none of them reach into the engine. GUI thread;
// owned by AppController.
class StatusModel : public QObject
{
    Q_OBJECT
public:
    static constexpr int kRecentCount = 10;

    explicit StatusModel(QObject *parent = nullptr);
    void setEngine(SyncEngine *engine); // null: not configured

    EngineState state() const { return m_state; }
    QString statusText() const;
    QString tooltip() const; // state in words and the last sync time
    QDateTime lastSync() const { return m_lastSync; }
    const QList<SyncItem> &recent() const { return m_recent; }
    QString folder() const;
    QString iconName() const; // "idle", "syncing", "paused", "offline", "error"

Q_SIGNALS:
    void changed();
    void recentChanged();
    void conflictNoticed(const QString &path, const QString &copy);
    void attentionNeeded(const QString &message); // errors the user must act on

private:
    void refresh();

    QPointer<SyncEngine> m_engine;
    EngineState m_state = EngineState::Stopped;
    QDateTime m_lastSync;
    QList<SyncItem> m_recent;
    QTimer m_ticker; // keeps "retrying in N s" and progress current
};

} // namespace filesync
