#include "syncengineprivate.h"

#include "accountid.h"
#include "changeaggregator.h"
#include "enginelogging.h"
#include "journal.h"
#include "prefetcher.h"
#include "synccycle.h"

#include <QFileInfo>
#include <QSysInfo>

namespace filesync {

using namespace protocol;

namespace {
const QString kAccountKey = QStringLiteral("account");
const QString kServerKey = QStringLiteral("server");
const QString kSessionKey = QStringLiteral("session");
// An ID the server did not know, replaced by a new account: the same command line again
// resumes the new account instead of being refused as "another account".
const QString kReplacedKey = QStringLiteral("replaced-account");
constexpr int kMaxFollowUps = 8; // consecutive cycles without a new trigger
} // namespace

SyncEnginePrivate::SyncEnginePrivate(SyncEngine *q, const EngineConfig &c, EnginePools &pools)
    : q(q)
    , config(c)
    , pools(pools)
{
    if (config.sessionName.isEmpty())
        config.sessionName = QSysInfo::machineHostName();
    reconnectTimer.setSingleShot(true);
    connect(&reconnectTimer, &QTimer::timeout, this, &SyncEnginePrivate::connectNow);
    followUpTimer.setSingleShot(true);
    connect(&followUpTimer, &QTimer::timeout, this, &SyncEnginePrivate::startCycle);
}

SyncEnginePrivate::~SyncEnginePrivate() = default;

bool SyncEnginePrivate::cycleRunning() const
{
    return cycle && cycle->isRunning();
}

void SyncEnginePrivate::setState(EngineState s)
{
    if (state == s)
        return;
    state = s;
    Q_EMIT q->stateChanged(s);
}

void SyncEnginePrivate::fatal(const QString &message)
{
    qCWarning(lcEngine).noquote() << "folder stopped:" << message;
    stop();
    error = message;
    setState(EngineState::Error);
    Q_EMIT q->fatalError(message);
}

void SyncEnginePrivate::warn(const QString &message)
{
    if (warned.contains(message))
        return;
    warned.insert(message);
    qCWarning(lcEngine).noquote() << message;
    Q_EMIT q->warning(message);
}

void SyncEnginePrivate::start()
{
    if (state != EngineState::Stopped && state != EngineState::Error)
        return;
    error.clear();
    warned.clear();
    announced.clear();
    if (!QFileInfo(config.folder).isDir())
        return fatal(SyncEngine::tr("The folder %1 does not exist.").arg(config.folder));
    journal = std::make_unique<Journal>(config.folder);
    if (auto opened = journal->open(); !opened)
        return fatal(opened.errorMessage());
    const QString stored = journal->value(kAccountKey);
    if (!config.accountId.isEmpty()) {
        auto given = AccountId::parse(config.accountId);
        if (!given)
            return fatal(given.errorMessage());
        // A folder is one account's copy; mixing two would upload one into the other.
        if (!stored.isEmpty() && stored != given->toString() && journal->value(kReplacedKey) == given->toString()) {
            warn(SyncEngine::tr("The server did not know the account ID given for this folder, so it got a new "
                                "account earlier; it keeps syncing with that one."));
            given = AccountId::parse(stored);
        }
        if (!stored.isEmpty() && stored != given->toString())
            return fatal(SyncEngine::tr("The folder %1 belongs to another account; choose an empty folder for this "
                                        "one.")
                             .arg(config.folder));
        account = given->toString();
    } else {
        account = stored; // resume the folder's account, or (empty) create one
    }
    aggregator = new ChangeAggregator(config.folder, config.debounceMs, config.intervalSeconds, this);
    connect(aggregator, &ChangeAggregator::changed, this, &SyncEnginePrivate::requestCycle);
    connect(aggregator, &ChangeAggregator::intervalElapsed, this, &SyncEnginePrivate::requestFullCycle);
    connect(aggregator, &ChangeAggregator::warning, this, &SyncEnginePrivate::warn);
    aggregator->start();
    backoffMs = config.reconnectMinMs;
    connectNow();
}

// Ends the cycle and the connection. stop() may run inside a signal of either (a fatal
// error found mid-cycle), so they are deleted later, silenced first.
void SyncEnginePrivate::dropConnection()
{
    if (cycle) {
        cycle->abort();
        cycle->disconnect(this);
        cycle->disconnect(q);
        cycle->deleteLater();
        cycle = nullptr;
    }
    if (connection) {
        connection->disconnect(this);
        connection->close();
        connection->deleteLater();
        connection = nullptr;
    }
}

void SyncEnginePrivate::stop()
{
    reconnectTimer.stop();
    followUpTimer.stop();
    dropConnection();
    if (aggregator) {
        aggregator->stop();
        aggregator->disconnect(this);
        aggregator->deleteLater();
        aggregator = nullptr;
    }
    journal.reset();
    cycleRequested = false;
    loggedInNow = false;
    setState(EngineState::Stopped);
}

void SyncEnginePrivate::connectNow()
{
    setState(paused ? EngineState::Paused : EngineState::Connecting);
    dropConnection();
    connection = new ServerConnection(config.host, config.port, config.keepAliveMs, this);
    // Prefetches: one per connection, which owns it (its temp files go with it).
    connection->setPrefetcher(new Prefetcher(config.folder, *journal, *connection, pools, connection));
    connect(connection, &ServerConnection::ready, this, &SyncEnginePrivate::onConnectionReady);
    connect(connection, &ServerConnection::closed, this, &SyncEnginePrivate::onConnectionClosed);
    connect(connection, &ServerConnection::incompatible, this, [this](const QString &reason) {
        fatal(SyncEngine::tr("The server cannot be used with this version of FileSync: %1.").arg(reason));
    });
    connect(connection, &ServerConnection::advanced, this, [this](quint64 head) {
        if (!journal || head <= journal->cursor())
            return;
        // The next cycle's changes, read while this one works; not the echo of our own
        // commit, which the next cycle skips (SyncCycle::onPropagated).
        if (cycle && cycle->isRunning() && head != connection->ownHead())
            cycle->readAhead();
        requestCycle();
    });
    cycle = new SyncCycle(config.folder, config.sessionName, *journal, *connection, pools, this);
    cycle->setMaxChanges(config.maxChangesPerCycle);
    connect(cycle, &SyncCycle::itemCompleted, q, &SyncEngine::itemCompleted);
    connect(cycle, &SyncCycle::conflict, q, &SyncEngine::conflict);
    connect(cycle, &SyncCycle::progressChanged, q, &SyncEngine::progressChanged);
    connect(cycle, &SyncCycle::warning, this, &SyncEnginePrivate::warn);
    connect(cycle, &SyncCycle::scanned, this, &SyncEnginePrivate::onScanned);
    connect(cycle, &SyncCycle::finished, this, &SyncEnginePrivate::endCycle);
    connect(cycle, &SyncCycle::fatal, this, &SyncEnginePrivate::fatal);
    connection->open();
}

void SyncEnginePrivate::onConnectionClosed(const QString &reason)
{
    goOffline(reason, 0);
}

void SyncEnginePrivate::goOffline(const QString &reason, int retryMs)
{
    loggedInNow = false;
    if (cycle)
        cycle->abort(); // void: the journal is still true, the next connection starts over
    followUpTimer.stop();
    error = reason;
    // First, so the state's text can say when.
    if (retryMs > 0)
        reconnectTimer.start(retryMs);
    else
        scheduleReconnect();
    qCWarning(lcEngine) << "offline:" << reason << "- retrying in" << reconnectTimer.interval() << "ms";
    setState(paused ? EngineState::Paused : EngineState::Offline);
}

// The server refused the login without looking the ID up: the ID may well be right, so
// it is neither replaced by a new account nor retried before the server says.
void SyncEnginePrivate::onRateLimited(const QString &scope, int retryAfterSeconds, bool creating)
{
    const int seconds = qMax(1, retryAfterSeconds);
    QString message;
    if (creating && scope == QLatin1String("address"))
        message = SyncEngine::tr("Too many new accounts from this address; retrying in %1 s.").arg(seconds);
    else if (scope == QLatin1String("address"))
        message = SyncEngine::tr("Too many failed logins from this address; retrying in %1 s.").arg(seconds);
    else if (scope == QLatin1String("account"))
        message = SyncEngine::tr("Too many failed logins with this account ID from this address; retrying in %1 s.")
                      .arg(seconds);
    else
        message = SyncEngine::tr("The server refuses logins for now (too many failed logins); retrying in %1 s.")
                      .arg(seconds);
    // Logged at each refusal (goOffline); told once per limit until a login succeeds.
    if (rateLimitedScope != scope) {
        rateLimitedScope = scope;
        Q_EMIT q->warning(message);
    }
    connection->close(); // no closed() for our own close
    goOffline(message, seconds * 1000);
}

void SyncEnginePrivate::scheduleReconnect()
{
    reconnectTimer.start(backoffMs);
    backoffMs = qMin(backoffMs * 2, config.reconnectMaxMs);
}

void SyncEnginePrivate::onConnectionReady()
{
    if (account.isEmpty())
        connection->createAccount(config.sessionName, [this](const Reply<LoginOk> &r) { onLogin(r, true); });
    else
        connection->login(account, config.sessionName, [this](const Reply<LoginOk> &r) { onLogin(r, false); });
}

void SyncEnginePrivate::onLogin(const Reply<LoginOk> &reply, bool creating)
{
    if (reply)
        return loggedIn(creating ? reply->account : account, creating, reply->head);
    if (reply.code == QLatin1String(errors::kRateLimited))
        return onRateLimited(reply.scope, reply.retryAfterSeconds, creating);
    // Only this code creates an account; a refusal for any other reason keeps the ID.
    if (reply.code == QLatin1String(errors::kUnknownAccount)) {
        // The assignment's rule: an ID the server does not know gets a new account.
        warn(SyncEngine::tr("The server does not know this account ID; a new account is created."));
        // Versions in the journal belong to the lost account: start over, as a union.
        journal->removeValue(kAccountKey);
        journal->setValue(kReplacedKey, account);
        journal->setCursor(0);
        journal->clearEntries();
        account.clear();
        return onConnectionReady();
    }
    if (reply.code == QLatin1String(ServerConnection::kDisconnected))
        return; // onConnectionClosed handles it
    error = reply.message;
    warn(error);
    connection->close(); // no closed() for our own close: go offline here
    onConnectionClosed(reply.message);
}

void SyncEnginePrivate::loggedIn(const QString &id, bool created, quint64 head)
{
    if (!AccountId::parse(id))
        return fatal(SyncEngine::tr("The server sent an invalid account ID."));
    account = id;
    journal->setValue(kAccountKey, id);
    journal->setValue(kServerKey, QStringLiteral("%1:%2").arg(config.host).arg(config.port));
    journal->setValue(kSessionKey, config.sessionName);
    if (journal->hasFailed())
        return fatal(SyncEngine::tr("Cannot write the sync journal (%1); syncing stopped.").arg(journal->lastError()));
    loggedInNow = true;
    rateLimitedScope.clear();
    backoffMs = config.reconnectMinMs;
    error.clear();
    qCInfo(lcEngine) << "logged in; server head" << head << "cursor" << journal->cursor();
    if (announced != id) { // once per start (and again only if the account changed)
        announced = id;
        Q_EMIT q->accountReady(id, created);
    }
    setState(paused ? EngineState::Paused : EngineState::Idle);
    followUps = 0;
    requestFullCycle(); // whatever happened while we were away, and anything missed
}

void SyncEnginePrivate::requestFullCycle()
{
    nextScope = ScanScope::everything();
    requestCycle();
}

void SyncEnginePrivate::requestCycle()
{
    if (cycleRunning()) {
        cycleRequested = true;
        return;
    }
    followUps = 0;
    followUpTimer.stop();
    startCycle();
}

void SyncEnginePrivate::startCycle()
{
    if (paused || !loggedInNow || !journal || !cycle || cycle->isRunning())
        return;
    // A folder that was synced keeps its journal; without it every file would look new
    // and every server file missing. Stop instead of guessing.
    if (!QFileInfo::exists(Journal::path(config.folder)))
        return fatal(SyncEngine::tr("The folder's FileSync data (%1) disappeared; syncing stopped so nothing is "
                                    "deleted.")
                         .arg(Journal::metadataDir(config.folder)));
    cycleRequested = false;
    setState(EngineState::Syncing);
    ScanScope scope = nextScope;
    nextScope = ScanScope::nothing();
    if (aggregator)
        scope.merge(aggregator->takeDirty());
    else
        scope = ScanScope::everything();
    if (scope.full)
        scope = ScanScope::everything();
    cycle->start(scope);
}

void SyncEnginePrivate::onScanned(const QList<RelativePath> &dirs, const QStringList &warnings)
{
    for (const QString &w : warnings)
        warn(w);
    // Folders created since the last scan get their watch only now: what happened in
    // them meanwhile is only seen by one more scan of them.
    if (!aggregator)
        return;
    const QList<RelativePath> added = aggregator->setDirectories(dirs);
    if (!added.isEmpty() && lastSync.isValid()) {
        for (const RelativePath &d : added)
            nextScope.trees.insert(d);
        cycleRequested = true;
    }
}

void SyncEnginePrivate::endCycle(bool followUp)
{
    const SyncCycle::Stats &s = cycle->stats();
    // One line per cycle: what a user or a benchmark needs to see where time goes.
    qCInfo(lcEngine).nospace() << "cycle done in " << s.elapsedMs << " ms: " << s.scanned << " entries scanned ("
                               << (s.partial ? "partial" : "full") << "), " << s.hashed << " hashed, " << s.actions
                               << " actions for " << s.remoteEntries << " remote entries"
                               << (s.sliced ? " (a slice of the feed: more follows)" : "");
    lastSync = QDateTime::currentDateTime();
    lastCycle = s;
    Q_EMIT q->cycleFinished();
    if (!loggedInNow || !cycle)
        return;
    // A follow-up looks again where this cycle looked (postponed paths, conflict copies),
    // and so does the next cycle after one that ended before applying anything.
    if (followUp || !cycle->applied())
        nextScope.merge(cycle->scope());
    if (cycleRequested) {
        followUps = 0;
        followUpTimer.start(0);
    } else if (cycle->feedRemaining()) {
        // The next slice of the feed, now. Not counted as a follow-up, nor does it reset
        // their count: a pass over the feed that keeps holding the cursor still ends.
        followUpTimer.start(0);
    } else if (followUp && followUps < kMaxFollowUps) {
        ++followUps; // a little later each time: whatever is busy gets a moment
        followUpTimer.start(20 * followUps);
    } else {
        // Follow-ups that still leave something behind stop here (the next change or
        // rescan tries again), but not silently: the user learns which paths wait.
        if (followUp && !cycle->postponed().isEmpty()) {
            const QStringList &held = cycle->postponed();
            QString which = held.mid(0, 5).join(QStringLiteral("; "));
            if (held.size() > 5)
                which += SyncEngine::tr(" (and %1 more)").arg(held.size() - 5);
            warn(SyncEngine::tr("Not synced yet, tried again at the next change: %1").arg(which));
        }
        setState(paused ? EngineState::Paused : EngineState::Idle);
        return;
    }
    setState(paused ? EngineState::Paused : EngineState::Syncing);
}

void SyncEnginePrivate::pause()
{
    if (paused)
        return;
    paused = true;
    // From now on nothing is committed and nothing written here: the cycle under way is
    // voided (the journal stays true; what it did not finish is redone after resume()).
    followUpTimer.stop();
    if (cycle && cycle->isRunning()) {
        cycle->abort();
        cycleRequested = true;
    }
    nextScope = ScanScope::everything(); // what the voided cycle had in hand is not lost
    if (state != EngineState::Stopped && state != EngineState::Error)
        setState(EngineState::Paused);
}

void SyncEnginePrivate::resume()
{
    if (!paused)
        return;
    paused = false;
    if (state != EngineState::Paused)
        return;
    if (loggedInNow) {
        setState(EngineState::Idle);
        requestCycle();
    } else {
        setState(reconnectTimer.isActive() ? EngineState::Offline : EngineState::Connecting);
    }
}

void SyncEnginePrivate::syncNow()
{
    if (state == EngineState::Offline) {
        reconnectTimer.stop();
        backoffMs = config.reconnectMinMs;
        connectNow();
        return;
    }
    requestFullCycle();
}

} // namespace filesync
