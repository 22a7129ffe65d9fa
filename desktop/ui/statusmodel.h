#pragma once

#include "syncengine.h"

#include <QObject>
#include <QPointer>
#include <QTimer>

namespace filesync {

// What the UI shows, fed only by the engine's signals: state, the status line, the time
// of the last completed sync, the ten most recent changes, and the notices a user must
// see (conflicts, warnings, errors). The tray, the status window and the tests read
// this; none of them reach into the engine. GUI thread; owned by AppController.
class StatusModel : public QObject
{
    Q_OBJECT
public:
    static constexpr int kRecentCount = 10;

    explicit StatusModel(QObject *parent = nullptr);
    void setEngine(SyncEngine *engine); // null: not configured (or being restarted)

    EngineState state() const { return m_state; }
    QString statusText() const; // "Up to date", "Syncing 3 files, 12 MB left", ...
    QString tooltip() const; // the state in words and the last sync time
    QDateTime lastSync() const { return m_lastSync; }
    const QList<SyncItem> &recent() const { return m_recent; }
    QString folder() const;
    QString iconName() const; // "idle", "syncing", "paused", "offline", "error"
    QString lastNotice() const { return m_lastNotice; }

    // One line for a recent change: arrow, path, what happened and when.
    static QString describe(const SyncItem &item);
    static QString actionText(const QString &action);

Q_SIGNALS:
    void changed();
    void recentChanged();
    void conflictNoticed(const QString &path, const QString &copy);
    void warningNoticed(const QString &message); // worth knowing, syncing goes on
    void attentionNeeded(const QString &message); // the folder stopped: the user must act

private:
    void refresh();
    void notice(const QString &text);

    QPointer<SyncEngine> m_engine;
    EngineState m_state = EngineState::Stopped;
    QDateTime m_lastSync;
    QList<SyncItem> m_recent;
    QString m_lastNotice;
    QTimer m_ticker; // keeps "retrying in N s" current
};

} // namespace filesync
