#include "syncengine.h"

#include "enginepools.h"
#include "synccycle.h"
#include "syncengineprivate.h"

#include <QLocale>

namespace filesync {

// The public facade: every decision lives in SyncEnginePrivate.

SyncEngine::SyncEngine(const EngineConfig &config, QObject *parent)
    : QObject(parent)
    , m_pools(std::make_unique<EnginePools>())
    , d(std::make_unique<SyncEnginePrivate>(this, config, *m_pools))
{
    init();
}

SyncEngine::SyncEngine(const EngineConfig &config, WorkerPools &pools, QObject *parent)
    : QObject(parent)
    , m_pools(std::make_unique<EnginePools>(pools))
    , d(std::make_unique<SyncEnginePrivate>(this, config, *m_pools))
{
    init();
}

void SyncEngine::init()
{
    qRegisterMetaType<EngineState>();
    qRegisterMetaType<SyncItem>();
    qRegisterMetaType<SyncProgress>();
}

// Stopped, then `d` and the objects it owns (which cancel and wait for their scan and
// local copies), then the pools, which wait for this engine's jobs still under way.
SyncEngine::~SyncEngine()
{
    d->stop();
    d.reset();
}

const EngineConfig &SyncEngine::config() const
{
    return d->config;
}
EngineState SyncEngine::state() const
{
    return d->state;
}
QString SyncEngine::errorMessage() const
{
    return d->error;
}
QString SyncEngine::accountId() const
{
    return d->account;
}
QDateTime SyncEngine::lastSyncTime() const
{
    return d->lastSync;
}
SyncProgress SyncEngine::progress() const
{
    return d->cycle ? d->cycle->progress() : SyncProgress();
}
int SyncEngine::reconnectInSeconds() const
{
    return d->reconnectTimer.isActive() ? (d->reconnectTimer.remainingTime() + 999) / 1000 : 0;
}

CycleReport SyncEngine::lastCycle() const
{
    return d->lastCycle;
}

QString SyncEngine::statusText() const
{
    switch (d->state) {
    case EngineState::Stopped:
        return tr("Stopped");
    case EngineState::Connecting:
        return tr("Connecting to %1…").arg(d->config.host);
    case EngineState::Idle:
        return tr("Up to date");
    case EngineState::Paused:
        return tr("Paused");
    case EngineState::Offline:
        return tr("Offline, retrying in %1 s").arg(qMax(1, reconnectInSeconds()));
    case EngineState::Error:
        return tr("Stopped: %1").arg(d->error);
    case EngineState::Syncing: {
        const SyncProgress p = progress();
        const int left = p.filesTotal - p.filesDone;
        if (left <= 0)
            return tr("Syncing…");
        return tr("Syncing %n file(s), %1 left", nullptr, left)
            .arg(QLocale().formattedDataSize(qMax<qint64>(0, p.bytesTotal - p.bytesDone)));
    }
    }
    return QString();
}

void SyncEngine::start()
{
    d->start();
}
void SyncEngine::stop()
{
    d->stop();
}

void SyncEngine::pause()
{
    d->pause();
}
void SyncEngine::resume()
{
    d->resume();
}
void SyncEngine::syncNow()
{
    d->syncNow();
}

} // namespace filesync
