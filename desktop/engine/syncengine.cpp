#include "syncengine.h"

#include "accountid.h"
#include "changeaggregator.h"
#include "journal.h"
#include "propagator.h"
#include "reconciler.h"
#include "scanner.h"
#include "serverconnection.h"

#include <QFileInfo>
#include <QElapsedTimer>
#include <QFutureWatcher>
#include <QHostInfo>
#include <QLocale>
#include <QTimer>
#include <QtConcurrent>

Q_LOGGING_CATEGORY(lcEngine, "filesync.engine")

namespace filesync {

using namespace protocol;

namespace {
const QString kAccountKey = QStringLiteral("account");
const QString kServerKey = QStringLiteral("server");
constexpr int kMaxFollowUps = 8; // consecutive cycles without a new trigger
} // namespace

class SyncEnginePrivate : public QObject
{
public:
    SyncEnginePrivate(SyncEngine *q, const EngineConfig &config);

    void start();
    void stop();
    void connectNow();
    void onConnectionReady();
    void onConnectionClosed(const QString &reason);
    void loggedIn(const QString &id, bool created, quint64 head);
    void requestCycle(); // a trigger: run now, or once more after the running cycle
    void startCycle();
    void onScanned(const Scanner::Result &scan);
    void fetchChanges(quint64 since, std::shared_ptr<RemoteChanges> changes, const Scanner::Result &scan);
    void onPropagated(bool complete, bool followUp);
    void endCycle(bool followUp);
    void setState(EngineState state);
    void fatal(const QString &message);
    void scheduleReconnect();

    SyncEngine *q;
    EngineConfig config;
    EngineState state = EngineState::Stopped;
    QString error;
    QString account;
    QDateTime lastSync;
    std::unique_ptr<Journal> journal;
    ServerConnection *connection = nullptr;
    ChangeAggregator *aggregator = nullptr;
    Propagator *propagator = nullptr;
    QFutureWatcher<Scanner::Result> scanWatcher;
    QTimer reconnectTimer;
    int backoffMs = 0;
    bool loggedInNow = false;
    bool paused = false;
    bool cycleRunning = false;
    bool cycleRequested = false;
    int followUps = 0;
    quint64 serverHead = 0;
    quint64 cycleHead = 0;
    JournalState cycleJournal;
    int cycleId = 0;
    QElapsedTimer cycleTimer;
    int cycleScanned = 0;
    int cycleHashed = 0;
    int cycleActions = 0;
};

SyncEnginePrivate::SyncEnginePrivate(SyncEngine *q, const EngineConfig &c)
    : q(q)
    , config(c)
{
    if (config.sessionName.isEmpty())
        config.sessionName = QHostInfo::localHostName();
    reconnectTimer.setSingleShot(true);
    connect(&reconnectTimer, &QTimer::timeout, this, &SyncEnginePrivate::connectNow);
    connect(&scanWatcher, &QFutureWatcher<Scanner::Result>::finished, this, [this] {
        if (cycleRunning && !scanWatcher.isCanceled())
            onScanned(scanWatcher.result());
    });
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
    qCWarning(lcEngine) << "folder stopped:" << message;
    error = message;
    stop();
    setState(EngineState::Error);
    Q_EMIT q->fatalError(message);
}

void SyncEnginePrivate::start()
{
    if (state != EngineState::Stopped && state != EngineState::Error)
        return;
    error.clear();
    const QFileInfo root(config.folder);
    if (!root.isDir())
        return fatal(SyncEngine::tr("The folder %1 does not exist.").arg(config.folder));
    journal = std::make_unique<Journal>(config.folder);
    if (auto opened = journal->open(); !opened)
        return fatal(opened.errorMessage());
    const QString stored = journal->value(kAccountKey);
    if (!config.accountId.isEmpty()) {
        auto given = AccountId::parse(config.accountId);
        if (!given)
            return fatal(given.errorMessage());
        if (!stored.isEmpty() && stored != given->toString())
            return fatal(SyncEngine::tr("The folder %1 is already synced with another account; choose an empty "
                                        "folder for this one.")
                             .arg(config.folder));
        account = given->toString();
    } else {
        account = stored;
    }
    aggregator = new ChangeAggregator(config.folder, config.debounceMs, config.intervalSeconds, this);
    connect(aggregator, &ChangeAggregator::changed, this, &SyncEnginePrivate::requestCycle);
    connect(aggregator, &ChangeAggregator::intervalElapsed, this, &SyncEnginePrivate::requestCycle);
    connect(aggregator, &ChangeAggregator::warning, q, &SyncEngine::warning);
    aggregator->start();
    backoffMs = config.reconnectMinMs;
    connectNow();
}

void SyncEnginePrivate::stop()
{
    ++cycleId;
    reconnectTimer.stop();
    scanWatcher.cancel();
    scanWatcher.waitForFinished();
    if (propagator)
        propagator->abort();
    if (connection)
        connection->close();
    delete aggregator;
    aggregator = nullptr;
    delete propagator;
    propagator = nullptr;
    delete connection;
    connection = nullptr;
    journal.reset();
    cycleRunning = false;
    cycleRequested = false;
    loggedInNow = false;
    setState(EngineState::Stopped);
}

void SyncEnginePrivate::connectNow()
{
    setState(EngineState::Connecting);
    delete connection;
    connection = new ServerConnection(config.host, config.port, this);
    connect(connection, &ServerConnection::ready, this, &SyncEnginePrivate::onConnectionReady);
    connect(connection, &ServerConnection::closed, this, &SyncEnginePrivate::onConnectionClosed);
    connect(connection, &ServerConnection::advanced, this, [this](quint64 head) {
        serverHead = qMax(serverHead, head);
        if (journal && head > journal->cursor())
            requestCycle();
    });
    // The propagator talks through whichever connection is current.
    delete propagator;
    propagator = new Propagator(config.folder, *journal, *connection, this);
    connect(propagator, &Propagator::itemCompleted, q, &SyncEngine::itemCompleted);
    connect(propagator, &Propagator::conflictKept, q, &SyncEngine::conflict);
    connect(propagator, &Propagator::warning, q, &SyncEngine::warning);
    connect(propagator, &Propagator::progressChanged, q, &SyncEngine::progressChanged);
    connect(propagator, &Propagator::finished, this, &SyncEnginePrivate::onPropagated);
    connection->open();
}

void SyncEnginePrivate::onConnectionClosed(const QString &reason)
{
    loggedInNow = false;
    ++cycleId; // whatever was under way is void; the journal is still true
    cycleRunning = false;
    scanWatcher.cancel();
    if (propagator)
        propagator->abort();
    error = reason;
    qCWarning(lcEngine) << "offline:" << reason << "- retrying in" << backoffMs << "ms";
    scheduleReconnect(); // first, so the state's text can say when
    setState(paused ? EngineState::Paused : EngineState::Offline);
}

void SyncEnginePrivate::scheduleReconnect()
{
    reconnectTimer.start(backoffMs);
    backoffMs = qMin(backoffMs * 2, config.reconnectMaxMs);
}

void SyncEnginePrivate::onConnectionReady()
{
    auto onReply = [this](const Envelope &reply, bool creating) {
        if (reply.type == MessageType::LoginOk) {
            auto ok = LoginOk::fromCbor(reply.body);
            if (!ok)
                return fatal(ok.errorMessage());
            return loggedIn(creating ? ok->account : account, creating, ok->head);
        }
        const QString code = ServerConnection::errorCode(reply);
        if (code == QLatin1String(errors::kUnknownAccount)) {
            Q_EMIT q->warning(SyncEngine::tr("The server does not know this account ID; a new account is created."));
            qCWarning(lcEngine) << "unknown account: creating a new one";
            // Versions in the journal belong to the lost account: start from scratch.
            journal->setValue(kAccountKey, QString());
            journal->setCursor(0);
            journal->clearEntries();
            account.clear();
            return onConnectionReady();
        }
        if (code == QLatin1String(ServerConnection::kDisconnected))
            return; // onConnectionClosed handles it
        error = ServerConnection::errorText(reply);
        setState(EngineState::Offline);
        Q_EMIT q->warning(error);
        connection->close();
        scheduleReconnect();
    };
    if (account.isEmpty())
        connection->request(MessageType::CreateAccount, CreateAccount { config.sessionName },
                            [onReply](const Envelope &r) { onReply(r, true); });
    else
        connection->request(MessageType::Login, Login { account, config.sessionName },
                            [onReply](const Envelope &r) { onReply(r, false); });
}

void SyncEnginePrivate::loggedIn(const QString &id, bool created, quint64 head)
{
    account = id;
    journal->setValue(kAccountKey, id);
    journal->setValue(kServerKey, QStringLiteral("%1:%2").arg(config.host).arg(config.port));
    journal->setValue(QStringLiteral("session"), config.sessionName);
    loggedInNow = true;
    backoffMs = config.reconnectMinMs;
    serverHead = head;
    error.clear();
    Q_EMIT q->accountReady(id, created);
    setState(paused ? EngineState::Paused : EngineState::Idle);
    requestCycle();
}

void SyncEnginePrivate::requestCycle()
{
    if (cycleRunning) {
        cycleRequested = true;
        return;
    }
    followUps = 0;
    startCycle();
}

void SyncEnginePrivate::startCycle()
{
    if (paused || !loggedInNow || !journal || cycleRunning)
        return;
    if (!QFileInfo::exists(Journal::path(config.folder)))
        return fatal(SyncEngine::tr("The folder's FileSync data (%1) disappeared; syncing stopped so nothing is "
                                    "deleted.")
                         .arg(Journal::metadataDir(config.folder)));
    cycleRunning = true;
    cycleRequested = false;
    cycleTimer.start();
    setState(EngineState::Syncing);
    cycleJournal = journal->load();
    const QString root = config.folder;
    const JournalState snapshot = cycleJournal;
    scanWatcher.setFuture(QtConcurrent::run([root, snapshot] { return Scanner::scan(root, snapshot); }));
}

void SyncEnginePrivate::onScanned(const Scanner::Result &scan)
{
    if (!scan.fatal.isEmpty())
        return fatal(scan.fatal);
    for (const QString &w : scan.warnings)
        qCInfo(lcEngine) << w;
    cycleScanned = int(scan.snapshot.size());
    cycleHashed = scan.hashedFiles;
    QList<RelativePath> dirs;
    for (auto it = scan.snapshot.cbegin(); it != scan.snapshot.cend(); ++it) {
        if (it->isDir() && !it->unreadable)
            dirs << it.key();
    }
    aggregator->setDirectories(dirs);
    fetchChanges(journal->cursor(), std::make_shared<RemoteChanges>(), scan);
}

void SyncEnginePrivate::fetchChanges(quint64 since, std::shared_ptr<RemoteChanges> changes, const Scanner::Result &scan)
{
    const int id = cycleId;
    connection->request(MessageType::GetChanges, GetChanges { since, kMaxEntriesPerChanges },
                        [this, id, changes, scan](const Envelope &reply) {
                            if (id != cycleId)
                                return;
                            auto page = Changes::fromCbor(reply.body);
                            if (reply.type != MessageType::Changes || !page) {
                                cycleRunning = false;
                                return; // a server error never causes a delete: try later
                            }
                            for (const FileEntry &e : page->entries)
                                changes->insert(e.path, e);
                            if (page->more)
                                return fetchChanges(page->next, changes, scan);
                            cycleHead = page->head;
                            const SyncPlan plan = Reconciler::reconcile(scan.snapshot, cycleJournal, *changes,
                                                                        config.sessionName, QDateTime::currentDateTime());
                            cycleActions = int(plan.actions.size());
                            if (!plan.isEmpty())
                                qCDebug(lcEngine).noquote() << "plan:\n" << plan.describe();
                            propagator->run(plan, cycleJournal);
                        });
}

void SyncEnginePrivate::onPropagated(bool complete, bool followUp)
{
    if (journal && journal->hasFailed())
        return fatal(SyncEngine::tr("Cannot write the sync journal (%1); syncing stopped.").arg(journal->lastError()));
    // Only a cycle that applied everything may move the cursor past what it saw.
    if (complete && journal)
        journal->setCursor(cycleHead);
    endCycle(followUp || !complete);
}

void SyncEnginePrivate::endCycle(bool followUp)
{
    cycleRunning = false;
    // One line per cycle: what a user or a benchmark needs to see where time goes.
    qCInfo(lcEngine).nospace() << "cycle done in " << cycleTimer.elapsed() << " ms: " << cycleScanned
                               << " entries scanned, " << cycleHashed << " hashed, " << cycleActions << " actions";
    lastSync = QDateTime::currentDateTime();
    Q_EMIT q->cycleFinished();
    if (!loggedInNow)
        return;
    if (cycleRequested || (followUp && followUps < kMaxFollowUps)) {
        if (!cycleRequested)
            ++followUps;
        else
            followUps = 0;
        QTimer::singleShot(followUp && !cycleRequested ? 20 * followUps : 0, this, &SyncEnginePrivate::startCycle);
        return;
    }
    setState(paused ? EngineState::Paused : EngineState::Idle);
}

// ---- SyncEngine ----

SyncEngine::SyncEngine(const EngineConfig &config, QObject *parent)
    : QObject(parent)
    , d(std::make_unique<SyncEnginePrivate>(this, config))
{
    qRegisterMetaType<EngineState>();
    qRegisterMetaType<SyncItem>();
    qRegisterMetaType<SyncProgress>();
}

SyncEngine::~SyncEngine()
{
    d->stop();
}

const EngineConfig &SyncEngine::config() const { return d->config; }
EngineState SyncEngine::state() const { return d->state; }
QString SyncEngine::errorMessage() const { return d->error; }
QString SyncEngine::accountId() const { return d->account; }
QDateTime SyncEngine::lastSyncTime() const { return d->lastSync; }
SyncProgress SyncEngine::progress() const { return d->propagator ? d->propagator->progress() : SyncProgress(); }
int SyncEngine::reconnectInSeconds() const { return (d->reconnectTimer.remainingTime() + 999) / 1000; }

QString SyncEngine::statusText() const
{
    switch (d->state) {
    case EngineState::Stopped: return tr("Stopped");
    case EngineState::Connecting: return tr("Connecting to %1…").arg(d->config.host);
    case EngineState::Idle: return tr("Up to date");
    case EngineState::Paused: return tr("Paused");
    case EngineState::Offline: return tr("Offline, retrying in %1 s").arg(qMax(1, reconnectInSeconds()));
    case EngineState::Error: return tr("Stopped: %1").arg(d->error);
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

void SyncEngine::start() { d->start(); }
void SyncEngine::stop() { d->stop(); }

void SyncEngine::pause()
{
    d->paused = true;
    if (!d->cycleRunning && d->state != EngineState::Stopped && d->state != EngineState::Error)
        d->setState(EngineState::Paused);
}

void SyncEngine::resume()
{
    if (!d->paused)
        return;
    d->paused = false;
    if (d->loggedInNow) {
        d->setState(EngineState::Idle);
        d->requestCycle();
    } else if (d->state == EngineState::Paused) {
        d->setState(EngineState::Offline);
    }
}

void SyncEngine::syncNow()
{
    if (d->state == EngineState::Offline) {
        d->reconnectTimer.stop();
        d->backoffMs = d->config.reconnectMinMs;
        d->connectNow();
        return;
    }
    d->requestCycle();
}

} // namespace filesync
