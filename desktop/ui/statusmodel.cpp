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
    m_recent.clear();
    Q_EMIT recentChanged();
    if (engine) {
        connect(engine, &SyncEngine::stateChanged, this, [this](EngineState s) {
            if (s == EngineState::Error && m_engine)
                Q_EMIT attentionNeeded(m_engine->errorMessage());
            refresh();
        });
        connect(engine, &SyncEngine::progressChanged, this, &StatusModel::refresh);
        connect(engine, &SyncEngine::cycleFinished, this, [this] {
            m_lastSync = QDateTime::currentDateTime();
            refresh();
        });
        connect(engine, &SyncEngine::itemCompleted, this, [this](const SyncItem &item) {
            m_recent.prepend(item);
            if (m_recent.size() > kRecentCount)
                m_recent.resize(kRecentCount);
            Q_EMIT recentChanged();
        });
        connect(engine, &SyncEngine::conflict, this, [this](const RelativePath &path, const RelativePath &copy) {
            Q_EMIT conflictNoticed(path.toString(), copy.toString());
        });
        connect(engine, &SyncEngine::fatalError, this, &StatusModel::attentionNeeded);
    }
    refresh();
}

void StatusModel::refresh()
{
    m_state = m_engine ? m_engine->state() : EngineState::Stopped;
    const bool ticking = m_state == EngineState::Offline || m_state == EngineState::Syncing;
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
    QString text = QStringLiteral("FileSync: ") + statusText();
    if (m_lastSync.isValid())
        text += u'\n' + tr("Last sync: %1").arg(QLocale().toString(m_lastSync, QLocale::ShortFormat));
    return text;
}

QString StatusModel::folder() const
{
    return m_engine ? m_engine->config().folder : QString();
}

QString StatusModel::iconName() const
{
    switch (m_state) {
    case EngineState::Idle: return QStringLiteral("idle");
    case EngineState::Syncing:
    case EngineState::Connecting: return QStringLiteral("syncing");
    case EngineState::Paused: return QStringLiteral("paused");
    case EngineState::Offline:
    case EngineState::Stopped: return QStringLiteral("offline");
    case EngineState::Error: return QStringLiteral("error");
    }
    return QStringLiteral("offline");
}

} // namespace filesync
