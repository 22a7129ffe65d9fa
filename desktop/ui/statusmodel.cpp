#include "statusmodel.h"

#include <QLocale>

namespace filesync {

StatusModel::StatusModel(QObject *parent)
    : QObject(parent)
{
    m_ticker.setInterval(1000);
    connect(&m_ticker, &QTimer::timeout, this, &StatusModel::changed);
}

void StatusModel::setEngine(SyncEngine *engine)
{
    if (m_engine)
        m_engine->disconnect(this);
    m_engine = engine;
    if (engine) {
        // A new engine is a new folder or account: its history starts afresh.
        m_recent.clear();
        Q_EMIT recentChanged();
        connect(engine, &SyncEngine::stateChanged, this, &StatusModel::refresh);
        connect(engine, &SyncEngine::progressChanged, this, &StatusModel::refresh);
        connect(engine, &SyncEngine::cycleFinished, this, [this] {
            if (m_engine && m_engine->lastSyncTime().isValid())
                m_lastSync = m_engine->lastSyncTime();
            refresh();
        });
        connect(engine, &SyncEngine::itemCompleted, this, [this](const SyncItem &item) {
            m_recent.prepend(item);
            if (m_recent.size() > kRecentCount)
                m_recent.resize(kRecentCount);
            Q_EMIT recentChanged();
        });
        connect(engine, &SyncEngine::conflict, this, [this](const RelativePath &path, const RelativePath &copy) {
            notice(tr("Conflict: %1 was changed on two computers; this computer's version is kept as %2.")
                       .arg(path.toString(), copy.toString()));
            Q_EMIT conflictNoticed(path.toString(), copy.toString());
        });
        connect(engine, &SyncEngine::warning, this, [this](const QString &message) {
            notice(message);
            Q_EMIT warningNoticed(message);
        });
        connect(engine, &SyncEngine::fatalError, this, [this](const QString &message) {
            notice(message);
            Q_EMIT attentionNeeded(message);
        });
    }
    refresh();
}

void StatusModel::notice(const QString &text)
{
    m_lastNotice = tr("%1: %2").arg(QLocale().toString(QTime::currentTime(), QLocale::ShortFormat), text);
    Q_EMIT changed();
}

void StatusModel::refresh()
{
    m_state = m_engine ? m_engine->state() : EngineState::Stopped;
    const bool ticking = m_state == EngineState::Offline;
    if (ticking && !m_ticker.isActive())
        m_ticker.start();
    else if (!ticking)
        m_ticker.stop();
    Q_EMIT changed();
}

QString StatusModel::statusText() const
{
    if (!m_engine)
        return tr("Not set up yet");
    return m_engine->statusText();
}

QString StatusModel::tooltip() const
{
    const QString state = tr("FileSync: %1").arg(statusText());
    if (!m_lastSync.isValid())
        return state;
    const QLocale locale;
    const QString when = m_lastSync.date() == QDate::currentDate()
        ? locale.toString(m_lastSync.time(), QLocale::ShortFormat)
        : locale.toString(m_lastSync, QLocale::ShortFormat);
    return state + u'\n' + tr("Last sync: %1").arg(when);
}

QString StatusModel::folder() const
{
    return m_engine ? m_engine->config().folder : QString();
}

QString StatusModel::iconName() const
{
    switch (m_state) {
    case EngineState::Idle:
        return QStringLiteral("idle");
    case EngineState::Syncing:
    case EngineState::Connecting:
        return QStringLiteral("syncing");
    case EngineState::Paused:
        return QStringLiteral("paused");
    case EngineState::Offline:
    case EngineState::Stopped:
        return QStringLiteral("offline");
    case EngineState::Error:
        return QStringLiteral("error");
    }
    return QStringLiteral("offline");
}

QString StatusModel::actionText(const QString &action)
{
    // The engine names actions with fixed English keys; the words shown are ours.
    if (action == QLatin1String("uploaded"))
        return tr("uploaded");
    if (action == QLatin1String("downloaded"))
        return tr("downloaded");
    if (action == QLatin1String("deleted"))
        return tr("deleted");
    if (action == QLatin1String("moved"))
        return tr("moved");
    if (action == QLatin1String("conflict"))
        return tr("conflict copy");
    return action;
}

QString StatusModel::describe(const SyncItem &item)
{
    const QString arrow = item.direction == ItemDirection::Up ? QStringLiteral("↑")
        : item.direction == ItemDirection::Down               ? QStringLiteral("↓")
                                                              : QStringLiteral("•");
    const QLocale locale;
    const QString when = item.when.date() == QDate::currentDate()
        ? locale.toString(item.when.time(), QLocale::ShortFormat)
        : locale.toString(item.when, QLocale::ShortFormat);
    //: A recent change: arrow (up = to the server, down = from it), file, what happened, when
    return tr("%1 %2  (%3, %4)").arg(arrow, item.path.toString(), actionText(item.action), when);
}

} // namespace filesync
