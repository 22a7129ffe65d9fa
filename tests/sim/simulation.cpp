#include "simulation.h"

#include "contenthash.h"
#include "enginepools.h"
#include "journal.h"
#include "messages.h"
#include "serverconnection.h"
#include "syncengine.h"
#include "testcluster.h"

#include <QCoreApplication>
#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QHash>
#include <QMap>
#include <QRegularExpression>
#include <QSet>
#include <QSqlDatabase>
#include <QSqlQuery>
#include <QTemporaryDir>
#include <QTest>
#include <QTimer>

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <functional>
#include <memory>
#include <optional>
#include <vector>

namespace filesync::sim {

namespace {

constexpr int kMaxFiles = 20; // a computer's folder stays small so a seed stays cheap
const QString kConflictMark = QStringLiteral("(conflict from ");

QByteArray encoded(const QString &path)
{
    return QFile::encodeName(path);
}

QString hashOf(const QByteArray &data)
{
    return ContentHash::of(data).toString();
}

bool readAll(int fd, QByteArray *out)
{
    out->clear();
    char buf[4096];
    off_t at = 0;
    for (;;) {
        const ssize_t n = ::pread(fd, buf, sizeof buf, at);
        if (n < 0)
            return false;
        if (n == 0)
            return true;
        out->append(buf, n);
        at += n;
    }
}

bool writeAll(int fd, const QByteArray &data, off_t at)
{
    qsizetype done = 0;
    while (done < data.size()) {
        const ssize_t n = ::pwrite(fd, data.constData() + done, size_t(data.size() - done), at + done);
        if (n <= 0)
            return false;
        done += n;
    }
    return true;
}

QByteArray readPath(const QString &abs, bool *ok)
{
    QByteArray data;
    const int fd = ::open(encoded(abs).constData(), O_RDONLY | O_CLOEXEC);
    *ok = fd >= 0 && readAll(fd, &data);
    if (fd >= 0)
        ::close(fd);
    return data;
}

// A folder as the invariants see it: path -> "dir", "file <sha256> x|-", "symlink" or
// "special"; the root's metadata folder is left out.
using Tree = QMap<QString, QString>;

void scanInto(const QString &root, const QString &rel, Tree *tree)
{
    const QString dirPath = rel.isEmpty() ? root : root + u'/' + rel;
    DIR *dir = ::opendir(encoded(dirPath).constData());
    if (!dir)
        return;
    QStringList names;
    while (dirent *e = ::readdir(dir)) {
        const QString name = QFile::decodeName(e->d_name);
        if (name == QStringLiteral(".") || name == QStringLiteral(".."))
            continue;
        if (rel.isEmpty() && name == QStringLiteral(".filesync"))
            continue;
        names << name;
    }
    ::closedir(dir);
    for (const QString &name : names) {
        const QString childRel = rel.isEmpty() ? name : rel + u'/' + name;
        const QString abs = root + u'/' + childRel;
        struct stat st;
        if (::lstat(encoded(abs).constData(), &st) != 0)
            continue;
        if (S_ISDIR(st.st_mode)) {
            tree->insert(childRel, QStringLiteral("dir"));
            scanInto(root, childRel, tree);
        } else if (S_ISREG(st.st_mode)) {
            bool ok = false;
            const QByteArray data = readPath(abs, &ok);
            tree->insert(childRel,
                ok ? QStringLiteral("file %1 %2").arg(hashOf(data), (st.st_mode & S_IXUSR) ? u"x" : u"-")
                   : QStringLiteral("unreadable"));
        } else if (S_ISLNK(st.st_mode)) {
            tree->insert(childRel, QStringLiteral("symlink"));
        } else {
            tree->insert(childRel, QStringLiteral("special"));
        }
    }
}

Tree scanTree(const QString &root)
{
    Tree tree;
    scanInto(root, QString(), &tree);
    return tree;
}

QString fileHash(const QString &value) // of a Tree value; empty for anything but a file
{
    return value.startsWith(QStringLiteral("file ")) ? value.mid(5, 64) : QString();
}

// "file <first 12 hex digits> x": enough to tell versions and the exec bit apart in a report.
QString shortValue(const QString &value)
{
    return value.startsWith(QStringLiteral("file ")) && value.size() > 70 ? value.left(17) + value.mid(69) : value;
}

QString treeText(const Tree &tree)
{
    QStringList lines;
    for (auto it = tree.cbegin(); it != tree.cend(); ++it)
        lines << QStringLiteral("    %1  %2").arg(it.key(), shortValue(it.value()));
    return lines.isEmpty() ? QStringLiteral("    (empty)") : lines.join(u'\n');
}

QString diffText(const QString &nameA, const Tree &a, const QString &nameB, const Tree &b)
{
    QStringList lines;
    QSet<QString> keys;
    for (auto it = a.cbegin(); it != a.cend(); ++it)
        keys.insert(it.key());
    for (auto it = b.cbegin(); it != b.cend(); ++it)
        keys.insert(it.key());
    QStringList sorted = keys.values();
    sorted.sort();
    for (const QString &k : sorted) {
        const QString va = shortValue(a.value(k, QStringLiteral("(absent)")));
        const QString vb = shortValue(b.value(k, QStringLiteral("(absent)")));
        if (va != vb)
            lines << QStringLiteral("    %1: %2=%3 %4=%5").arg(k, nameA, va, nameB, vb);
    }
    return lines.join(u'\n');
}

bool overlaps(const QString &a, const QString &b)
{
    return a == b || a.startsWith(b + u'/') || b.startsWith(a + u'/');
}

// The hash of a file's bytes (empty for an empty or unreadable file).
QString keptHashAt(const QString &abs)
{
    bool ok = false;
    const QByteArray data = readPath(abs, &ok);
    return ok && !data.isEmpty() ? hashOf(data) : QString();
}

bool isTempName(const QString &name)
{
    static const QRegularExpression uuid(
        QStringLiteral("^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"));
    return name.contains(QStringLiteral(".filesync")) || uuid.match(name).hasMatch();
}

// Runs the event loop until `done()` or `ms` have passed, handling each event as it comes
// (QTest::qWait and qWaitFor handle what is pending, then sleep up to 10 ms).
template<typename Done> bool runUntil(int ms, Done done)
{
    bool expired = false;
    QTimer deadline;
    deadline.setSingleShot(true);
    deadline.setTimerType(Qt::PreciseTimer);
    QObject::connect(&deadline, &QTimer::timeout, [&expired] { expired = true; });
    deadline.start(std::max(ms, 0));
    for (;;) {
        if (done())
            return true;
        if (expired)
            return false;
        QCoreApplication::processEvents(QEventLoop::WaitForMoreEvents);
        // deleteLater()s of objects released outside any event handler (engines stopped by an op).
        QCoreApplication::sendPostedEvents(nullptr, QEvent::DeferredDelete);
    }
}

void runFor(int ms)
{
    runUntil(ms, [] { return false; });
}

// Warnings of the engines and the server, kept for a failure's report.
QStringList *g_messages = nullptr;
bool g_verbose = false;
// Requests the server refused as malformed: our engines must never send one (the server
// closes the connection, and a plan that holds it is refused whole, again and again).
QStringList *g_refusals = nullptr;

void keepMessage(QtMsgType type, const QMessageLogContext &context, const QString &message)
{
    if (g_verbose)
        fprintf(stderr, "  [%s] %s\n", context.category ? context.category : "", qPrintable(message));
    if (g_refusals && qstrcmp(context.category, "filesync.server") == 0
        && message.startsWith(QLatin1String("refused a bad request")))
        *g_refusals << message;
    if (type == QtDebugMsg || type == QtInfoMsg || !g_messages)
        return;
    if (g_messages->size() > 400)
        g_messages->removeFirst();
    *g_messages << QStringLiteral("[%1] %2").arg(
        QString::fromLatin1(context.category ? context.category : ""), message);
}

class Simulation
{
public:
    Simulation(const Scenario &scenario, const RunOptions &options)
        : m_scenario(scenario)
        , m_options(options)
    { }
    ~Simulation()
    {
        for (Computer &c : m_computers)
            c.engine.reset();
        m_monitor.reset();
        m_server.reset();
    }

    RunResult run();

private:
    struct Computer
    {
        QString name;
        QString root;
        std::unique_ptr<SyncEngine> engine;
        QString fatal;
    };
    // A user op that ran, for deciding whether a delete was contested.
    struct Applied
    {
        int index = 0;
        int computer = 0;
        QStringList paths;
        // The bytes of a file the op kept while changing its mode or name: that
        // computer's version, which a conflict there may keep as a copy of its own.
        QString keptHash;
    };
    struct Deleted
    {
        int index = 0; // in the order ops ran
        quint64 tag = 0; // as the op log names it
        int computer = 0;
        QString path;
        QSet<QString> hashes;
    };

    bool setUp();
    bool startEngine(int c, bool waitForAccount = false);
    void stopEngine(int c, bool kill);
    bool startServer();
    void stopServer();
    void runSlices(int n);
    QString apply(const Op &op, int index);
    QString applyUser(const Op &op, int index);
    void produce(const QByteArray &data, const QString &what);
    void consume(const QByteArray &data);
    // Computer c replaced or deleted `data` at `path`. Bytes another computer wrote at the
    // same path and still holds there are that same version (two writes of equal bytes
    // made one, adopted without a conflict): replaced or deleted by one who saw its bytes.
    void release(int c, const QString &path, const QByteArray &data);
    bool serverListing(Tree *tree, quint64 *head);
    quint64 storedCursor(int c) const;
    QMap<QString, quint64> journalVersions(int c) const; // path -> version, as its journal's file holds them
    bool journalHolds(int c, const QString &path, const QByteArray &data) const;
    bool serverHolds(const QString &path, const QByteArray &data) const;
    // Runs `read` on computer c's journal, opened read-only beside its engine.
    void readJournal(int c, const std::function<void(QSqlQuery &)> &read) const;
    int fileCount(const QString &root) const;
    void quiesceAndCheck(int point);
    void fail(const QString &invariant, const QString &detail)
    {
        m_result.violations << Violation { invariant, detail };
    }
    void log(const QString &line)
    {
        m_result.log += line + u'\n';
        if (m_options.verbose)
            fprintf(stderr, "%s\n", qPrintable(line));
    }

    Scenario m_scenario;
    RunOptions m_options;
    RunResult m_result;
    QTemporaryDir m_base;
    QString m_sentinel;
    Tree m_sentinelTree;
    // The engines' threads, shared as the process's static pools were: one engine's worth
    // of threads (each engine still waits for its own jobs when it goes).
    WorkerPools m_pools;
    std::unique_ptr<test::TestServer> m_server;
    std::unique_ptr<ServerConnection> m_monitor;
    QString m_account;
    std::vector<Computer> m_computers;
    QStringList m_refusals;
    QHash<QString, QString> m_live; // content hash -> what wrote it, for every version no op replaced
    // How many such versions have those very bytes: a version replaced (or a copy deleted)
    // leaves the others with the same bytes live.
    QHash<QString, int> m_liveCopies;
    // content hash -> (computer, path) of each write that produced a version of it
    QMultiHash<QString, QPair<int, QString>> m_writtenAt;
    QList<Applied> m_epochOps; // since the last quiescent point
    QList<Deleted> m_epochDeletes;
    QMap<QString, quint64> m_serverVersions; // of the last listing
    QHash<QString, QStringList> m_settledPlaces; // content hash -> c0's paths at the last quiescent point
    int m_engineEvents = 0; // state changes and finished cycles of any engine, to wake the quiescence wait
};

bool Simulation::startServer()
{
    if (m_server->isRunning())
        return true;
    // The port is reused; a restart right after a stop may need a moment to get it back.
    QElapsedTimer t;
    t.start();
    while (!m_server->start()) {
        if (t.elapsed() > 10000)
            return false;
        runFor(50);
    }
    return true;
}

void Simulation::stopServer()
{
    m_monitor.reset();
    m_server->stop();
}

bool Simulation::setUp()
{
    if (!m_base.isValid())
        return false;
    m_server = std::make_unique<test::TestServer>();
    if (!m_server->start())
        return false;
    // A sentinel folder beside the synced ones: nothing may ever touch it.
    m_sentinel = m_base.path() + QStringLiteral("/sentinel");
    QDir().mkpath(m_sentinel + QStringLiteral("/X"));
    for (const QString &name : { QStringLiteral("X.pm"), QStringLiteral("X/a.txt"), QStringLiteral("c0") }) {
        QFile f(m_sentinel + u'/' + name);
        if (!f.open(QIODevice::WriteOnly))
            return false;
        f.write("sentinel " + name.toUtf8());
    }
    m_sentinelTree = scanTree(m_sentinel);
    for (int c = 0; c < m_scenario.computers; ++c) {
        Computer comp;
        comp.name = QStringLiteral("c%1").arg(c);
        comp.root = m_base.path() + u'/' + comp.name;
        if (!QDir().mkpath(comp.root))
            return false;
        m_computers.push_back(std::move(comp));
    }
    for (int c = 0; c < m_scenario.computers; ++c) {
        if (!startEngine(c, c == 0))
            return false;
    }
    return true;
}

bool Simulation::startEngine(int c, bool waitForAccount)
{
    Computer &comp = m_computers[size_t(c)];
    if (comp.engine)
        return true;
    EngineConfig config;
    config.host = QStringLiteral("127.0.0.1");
    config.port = m_server->port();
    config.folder = comp.root;
    config.intervalSeconds = m_options.intervalSeconds;
    config.accountId = m_account;
    config.sessionName = comp.name;
    config.debounceMs = m_options.debounceSlices * m_options.sliceMs;
    config.reconnectMinMs = m_options.reconnectMinSlices * m_options.sliceMs;
    config.reconnectMaxMs = m_options.reconnectMaxSlices * m_options.sliceMs;
    comp.engine = std::make_unique<SyncEngine>(config, m_pools);
    SyncEngine *engine = comp.engine.get();
    QObject::connect(engine, &SyncEngine::fatalError, engine,
        [this, c](const QString &message) { m_computers[size_t(c)].fatal = message; });
    QObject::connect(engine, &SyncEngine::stateChanged, engine, [this] { ++m_engineEvents; });
    QObject::connect(engine, &SyncEngine::cycleFinished, engine, [this] { ++m_engineEvents; });
    // Shared: the engine outlives this call and may report its account much later.
    auto ready = std::make_shared<bool>(false);
    QObject::connect(engine, &SyncEngine::accountReady, engine, [this, ready](const QString &id, bool) {
        if (m_account.isEmpty())
            m_account = id;
        *ready = true;
    });
    engine->start();
    if (!waitForAccount)
        return true;
    return runUntil(20000, [ready] { return *ready; }) && !m_account.isEmpty();
}

void Simulation::stopEngine(int c, bool kill)
{
    Computer &comp = m_computers[size_t(c)];
    if (!comp.engine)
        return;
    if (!kill)
        comp.engine->stop();
    comp.engine.reset(); // a kill: destroyed wherever it was
}

void Simulation::runSlices(int n)
{
    for (int i = 0; i < n; ++i)
        QTest::qWait(m_options.sliceMs);
}

int Simulation::fileCount(const QString &root) const
{
    int n = 0;
    const Tree tree = scanTree(root);
    for (auto it = tree.cbegin(); it != tree.cend(); ++it)
        n += it.value() == QStringLiteral("dir") ? 0 : 1;
    return n;
}

void Simulation::produce(const QByteArray &data, const QString &what)
{
    if (data.isEmpty())
        return;
    const QString h = hashOf(data);
    m_live.insert(h, what);
    ++m_liveCopies[h];
}

void Simulation::consume(const QByteArray &data)
{
    if (data.isEmpty())
        return;
    const QString h = hashOf(data);
    // Two computers may replace their copies of one version: it goes once.
    if (const auto c = m_liveCopies.find(h); c != m_liveCopies.end() && --*c > 0)
        return;
    m_liveCopies.remove(h);
    m_live.remove(h);
}

void Simulation::release(int c, const QString &path, const QByteArray &data)
{
    consume(data);
    if (data.isEmpty())
        return;
    m_writtenAt.remove(hashOf(data), { c, path });
    for (int other = 0; other < m_scenario.computers; ++other) {
        if (other == c)
            continue;
        // Only a copy its own computer wrote there counts: a downloaded copy is no version.
        const QPair<int, QString> at { other, path };
        if (!m_writtenAt.contains(hashOf(data), at))
            continue;
        bool ok = false;
        const QByteArray there = readPath(m_computers[size_t(other)].root + u'/' + path, &ok);
        if (ok && there == data) {
            m_writtenAt.remove(hashOf(data), at);
            consume(data);
        }
    }
}

QString Simulation::apply(const Op &op, int index)
{
    switch (op.kind) {
    case OpKind::Stop:
    case OpKind::Kill:
        if (!m_computers[size_t(op.computer)].engine)
            return QStringLiteral("skipped: not running");
        stopEngine(op.computer, op.kind == OpKind::Kill);
        return QStringLiteral("done");
    case OpKind::Start:
        if (m_computers[size_t(op.computer)].engine)
            return QStringLiteral("skipped: running");
        startEngine(op.computer);
        return QStringLiteral("done");
    case OpKind::ServerRestart:
        stopServer();
        return startServer() ? QStringLiteral("done") : QStringLiteral("FAILED to restart the server");
    case OpKind::NetCut:
        if (!m_server->isRunning())
            return QStringLiteral("skipped: already down");
        stopServer();
        return QStringLiteral("done");
    case OpKind::NetRestore:
        if (m_server->isRunning())
            return QStringLiteral("skipped: up");
        return startServer() ? QStringLiteral("done") : QStringLiteral("FAILED to start the server");
    default:
        return applyUser(op, index);
    }
}

QString Simulation::applyUser(const Op &op, int index)
{
    const Computer &comp = m_computers[size_t(op.computer)];
    const QString abs = comp.root + u'/' + op.path;
    const QByteArray p = encoded(abs);
    const QString parentAbs = abs.left(abs.lastIndexOf(u'/'));
    struct stat st;
    const bool exists = ::lstat(p.constData(), &st) == 0;
    const bool isFile = exists && S_ISREG(st.st_mode);
    const bool isDir = exists && S_ISDIR(st.st_mode);
    struct stat pst;
    const bool parentIsDir = ::stat(encoded(parentAbs).constData(), &pst) == 0 && S_ISDIR(pst.st_mode);
    const QString what
        = QStringLiteral("%1 on %2 at %3 (op %4)").arg(kindName(op.kind), comp.name, op.path).arg(op.tag);
    Applied applied { index, op.computer, { op.path }, {} };

    switch (op.kind) {
    case OpKind::Write:
    case OpKind::Append:
    case OpKind::Truncate: {
        if (isDir)
            return QStringLiteral("skipped: a folder");
        if (op.kind != OpKind::Write && !isFile)
            return QStringLiteral("skipped: no file");
        if (!parentIsDir)
            return QStringLiteral("skipped: no parent folder");
        if (!exists && fileCount(comp.root) >= kMaxFiles)
            return QStringLiteral("skipped: folder full");
        // One descriptor reads what is replaced and writes the new bytes, so the version
        // recorded as replaced is the one really overwritten.
        const int fd = ::open(p.constData(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0)
            return QStringLiteral("skipped: open: %1").arg(QString::fromLocal8Bit(strerror(errno)));
        QByteArray old;
        if (!readAll(fd, &old)) {
            ::close(fd);
            return QStringLiteral("skipped: read failed");
        }
        QByteArray now;
        bool ok = true;
        if (op.kind == OpKind::Write) {
            now = contentFor(m_scenario.seed, op.tag, op.n);
            ok = ::ftruncate(fd, 0) == 0 && writeAll(fd, now, 0);
        } else if (op.kind == OpKind::Append) {
            const QByteArray more = contentFor(m_scenario.seed, op.tag, op.n);
            now = old + more;
            ok = writeAll(fd, more, off_t(old.size()));
        } else {
            if (op.n >= old.size()) {
                ::close(fd);
                return QStringLiteral("skipped: not longer than %1").arg(op.n);
            }
            now = old.left(op.n);
            ok = ::ftruncate(fd, off_t(op.n)) == 0;
        }
        ::close(fd);
        if (!ok)
            return QStringLiteral("FAILED to write");
        release(op.computer, op.path, old);
        // Bytes equal to what this computer last synced there, or to what the server holds
        // there now, are no new version: the engine has nothing to send, and a change made
        // elsewhere over them (from the server's version) replaces them.
        if (!journalHolds(op.computer, op.path, now) && !serverHolds(op.path, now)) {
            produce(now, what);
            m_writtenAt.insert(hashOf(now), { op.computer, op.path });
        }
        m_epochOps << applied;
        return QStringLiteral("done: %1 -> %2 bytes %3").arg(old.size()).arg(now.size()).arg(hashOf(now).left(8));
    }
    case OpKind::Rename: {
        if (!exists)
            return QStringLiteral("skipped: no source");
        const QString toAbs = comp.root + u'/' + op.to;
        struct stat tst;
        if (::lstat(encoded(toAbs).constData(), &tst) == 0)
            return QStringLiteral("skipped: target exists");
        if (overlaps(op.path, op.to))
            return QStringLiteral("skipped: into itself");
        const QString toParent = toAbs.left(toAbs.lastIndexOf(u'/'));
        if (::stat(encoded(toParent).constData(), &pst) != 0 || !S_ISDIR(pst.st_mode))
            return QStringLiteral("skipped: no target folder");
        if (isFile)
            applied.keptHash = keptHashAt(abs);
        if (::rename(p.constData(), encoded(toAbs).constData()) != 0)
            return QStringLiteral("skipped: rename: %1").arg(QString::fromLocal8Bit(strerror(errno)));
        applied.paths << op.to;
        m_epochOps << applied;
        return QStringLiteral("done");
    }
    case OpKind::Delete: {
        if (!exists)
            return QStringLiteral("skipped: nothing there");
        Deleted deleted { index, op.tag, op.computer, op.path, {} };
        if (isDir) {
            const Tree inside = scanTree(abs);
            for (auto it = inside.cbegin(); it != inside.cend(); ++it) {
                bool ok = false;
                const QByteArray data = readPath(abs + u'/' + it.key(), &ok);
                if (ok && !data.isEmpty()) {
                    release(op.computer, op.path + u'/' + it.key(), data);
                    deleted.hashes.insert(hashOf(data));
                }
            }
            if (!QDir(abs).removeRecursively())
                return QStringLiteral("FAILED: part of the folder stays");
        } else {
            bool ok = false;
            const QByteArray data = readPath(abs, &ok);
            if (::unlink(p.constData()) != 0)
                return QStringLiteral("skipped: unlink: %1").arg(QString::fromLocal8Bit(strerror(errno)));
            if (ok && !data.isEmpty()) {
                release(op.computer, op.path, data);
                deleted.hashes.insert(hashOf(data));
            }
        }
        m_epochOps << applied;
        m_epochDeletes << deleted;
        return QStringLiteral("done: %1 version(s)").arg(deleted.hashes.size());
    }
    case OpKind::Mkdir:
        if (exists)
            return QStringLiteral("skipped: exists");
        if (!parentIsDir)
            return QStringLiteral("skipped: no parent folder");
        if (::mkdir(p.constData(), 0755) != 0)
            return QStringLiteral("skipped: mkdir: %1").arg(QString::fromLocal8Bit(strerror(errno)));
        m_epochOps << applied;
        return QStringLiteral("done");
    case OpKind::Chmod:
        if (m_options.noChmod)
            return QStringLiteral("skipped: --no-chmod");
        if (!isFile)
            return QStringLiteral("skipped: no file");
        if (::chmod(p.constData(), op.n ? 0755 : 0644) != 0)
            return QStringLiteral("skipped: chmod failed");
        applied.keptHash = keptHashAt(abs);
        m_epochOps << applied;
        return QStringLiteral("done");
    case OpKind::Touch: {
        if (!isFile)
            return QStringLiteral("skipped: no file");
        struct timespec times[2];
        times[0].tv_sec = 0;
        times[0].tv_nsec = UTIME_OMIT;
        times[1].tv_sec = time_t(1600000000 + op.n);
        times[1].tv_nsec = 0;
        if (::utimensat(AT_FDCWD, p.constData(), times, AT_SYMLINK_NOFOLLOW) != 0)
            return QStringLiteral("skipped: utimensat failed");
        m_epochOps << applied;
        return QStringLiteral("done");
    }
    case OpKind::CleanConflicts: {
        const Tree tree = scanTree(comp.root);
        int n = 0;
        for (auto it = tree.cbegin(); it != tree.cend(); ++it) {
            if (!it.key().contains(kConflictMark) || it.value() == QStringLiteral("dir"))
                continue;
            const QString fileAbs = comp.root + u'/' + it.key();
            bool ok = false;
            const QByteArray data = readPath(fileAbs, &ok);
            if (::unlink(encoded(fileAbs).constData()) != 0)
                continue;
            ++n;
            release(op.computer, it.key(), data);
            Deleted deleted { index, op.tag, op.computer, it.key(), {} };
            if (ok && !data.isEmpty())
                deleted.hashes.insert(hashOf(data));
            m_epochDeletes << deleted;
            m_epochOps << Applied { index, op.computer, { it.key() }, {} };
        }
        return QStringLiteral("done: %1 deleted").arg(n);
    }
    default:
        return QStringLiteral("?");
    }
}

bool Simulation::serverListing(Tree *tree, quint64 *head)
{
    if (!m_server->isRunning())
        return false;
    if (!m_monitor || !m_monitor->isReady()) {
        m_monitor = test::loggedInConnection(m_server->port(), m_account);
        if (!m_monitor)
            return false;
    }
    tree->clear();
    m_serverVersions.clear();
    quint64 since = 0;
    for (int page = 0; page < 1000; ++page) {
        auto reply = std::make_shared<std::optional<Reply<protocol::Changes>>>();
        m_monitor->getChanges(since, [reply](const Reply<protocol::Changes> &r) { *reply = r; });
        if (!runUntil(10000, [reply] { return reply->has_value(); }) || !**reply) {
            m_monitor.reset();
            return false;
        }
        const protocol::Changes &changes = ***reply;
        for (const protocol::FileEntry &e : changes.entries) {
            const QString path = e.path.toString();
            if (e.deleted) {
                tree->remove(path);
                m_serverVersions.remove(path);
                continue;
            }
            m_serverVersions.insert(path, e.version);
            if (e.kind == protocol::EntryKind::Directory) {
                tree->insert(path, QStringLiteral("dir"));
            } else {
                QString hash;
                if (e.blocks.isEmpty())
                    hash = hashOf(QByteArray());
                else if (e.blocks.size() == 1)
                    hash = e.blocks.first().hash.toString();
                else
                    hash = QStringLiteral("blocks:%1").arg(e.blocks.size());
                tree->insert(path, QStringLiteral("file %1 %2").arg(hash, (e.mode & 0100) ? u"x" : u"-"));
            }
        }
        *head = changes.head;
        if (!changes.more)
            return true;
        since = changes.next;
    }
    return false;
}

quint64 Simulation::storedCursor(int c) const
{
    return test::storedCursor(m_computers[size_t(c)].root);
}

void Simulation::readJournal(int c, const std::function<void(QSqlQuery &)> &read) const
{
    const QString name = QStringLiteral("sim-journal-%1").arg(c);
    {
        QSqlDatabase db = QSqlDatabase::addDatabase(QStringLiteral("QSQLITE"), name);
        db.setDatabaseName(Journal::path(m_computers[size_t(c)].root));
        db.setConnectOptions(QStringLiteral("QSQLITE_OPEN_READONLY"));
        if (db.open()) {
            QSqlQuery q(db);
            read(q);
        }
    }
    QSqlDatabase::removeDatabase(name);
}

QMap<QString, quint64> Simulation::journalVersions(int c) const
{
    QMap<QString, quint64> versions;
    readJournal(c, [&](QSqlQuery &q) {
        if (q.exec(QStringLiteral("SELECT path, version FROM entries"))) {
            while (q.next())
                versions.insert(q.value(0).toString(), q.value(1).toULongLong());
        }
    });
    return versions;
}

// A stored block list (packed) is exactly `data`. The simulation's files are smaller than
// a chunk: one block each.
static bool isContent(const QByteArray &packedBlocks, const QByteArray &data)
{
    const QList<protocol::BlockRef> blocks = protocol::unpackBlockList(packedBlocks);
    return blocks.size() == 1 && blocks.first().size == quint32(data.size())
        && blocks.first().hash == ContentHash::of(data);
}

bool Simulation::journalHolds(int c, const QString &path, const QByteArray &data) const
{
    bool holds = false;
    readJournal(c, [&](QSqlQuery &q) {
        q.prepare(QStringLiteral("SELECT blocks FROM entries WHERE path = ?"));
        q.addBindValue(path);
        if (q.exec() && q.next()) {
            holds = isContent(q.value(0).toByteArray(), data);
        }
    });
    return holds;
}

// Read beside the running server, from its database: no request, so no event loop turns
// in the middle of an op.
bool Simulation::serverHolds(const QString &path, const QByteArray &data) const
{
    bool holds = false;
    const QString name = QStringLiteral("sim-server");
    {
        QSqlDatabase db = QSqlDatabase::addDatabase(QStringLiteral("QSQLITE"), name);
        db.setDatabaseName(m_server->dataDir() + QStringLiteral("/metadata.db"));
        db.setConnectOptions(QStringLiteral("QSQLITE_OPEN_READONLY"));
        if (db.open()) {
            QSqlQuery q(db);
            q.prepare(QStringLiteral("SELECT blocks FROM files WHERE path = ? AND deleted = 0"));
            q.addBindValue(path);
            holds = q.exec() && q.next() && isContent(q.value(0).toByteArray(), data);
        }
    }
    QSqlDatabase::removeDatabase(name);
    return holds;
}

void Simulation::quiesceAndCheck(int point)
{
    QElapsedTimer timer;
    timer.start();
    if (!startServer()) {
        fail(QStringLiteral("harness"), QStringLiteral("the server did not start again"));
        return;
    }
    for (int c = 0; c < m_scenario.computers; ++c)
        startEngine(c);

    // Quiescent: every engine idle with its cursor at the server's head, every folder
    // the server's tree, twice in a row.
    std::vector<Tree> trees(size_t(m_scenario.computers));
    Tree server;
    quint64 head = 0;
    QString why;
    bool settled = false;
    bool readyBefore = false;
    QElapsedTimer stuck;
    quint64 stuckHead = 0;
    std::vector<Tree> stuckTrees;
    for (;;) {
        bool ready = true;
        why.clear();
        for (int c = 0; c < m_scenario.computers && ready; ++c) {
            const Computer &comp = m_computers[size_t(c)];
            if (!comp.fatal.isEmpty()) {
                fail(QStringLiteral("fatal"), QStringLiteral("%1 stopped: %2").arg(comp.name, comp.fatal));
                return;
            }
            if (comp.engine->state() != EngineState::Idle) {
                ready = false;
                why = QStringLiteral("%1 is not idle (state %2: %3)")
                          .arg(comp.name)
                          .arg(int(comp.engine->state()))
                          .arg(comp.engine->statusText());
            }
        }
        if (ready && !serverListing(&server, &head)) {
            ready = false;
            why = QStringLiteral("no listing from the server");
        }
        for (int c = 0; c < m_scenario.computers && ready; ++c) {
            const quint64 cursor = storedCursor(c);
            if (cursor != head) {
                ready = false;
                why = QStringLiteral("c%1's cursor %2, server head %3").arg(c).arg(cursor).arg(head);
            }
        }
        if (ready) {
            for (int c = 0; c < m_scenario.computers; ++c) {
                const Tree t = scanTree(m_computers[size_t(c)].root);
                if (t != server) {
                    ready = false;
                    why = QStringLiteral("c%1's folder differs from the server").arg(c);
                }
                trees[size_t(c)] = t;
            }
        }
        settled = ready && readyBefore;
        readyBefore = ready;
        if (settled || timer.elapsed() >= m_options.quiesceTimeoutMs)
            break;
        // Idle at the head with folders that differ, and nothing changed since (a rescan
        // that changes nothing does not count): past a rescan nothing will change.
        if (why.contains(QStringLiteral("differs"))) {
            if (!stuck.isValid() || head != stuckHead || trees != stuckTrees) {
                stuck.start();
                stuckHead = head;
                stuckTrees = trees;
            } else if (stuck.elapsed() > 1000 * qint64(m_options.intervalSeconds) + 2000) {
                break;
            }
        }
        // Wait for an engine to move, a poll interval at most (a cursor or a folder may
        // change without one). A ready observation is confirmed only after a whole
        // settle interval: longer than the debounce, so that a change the watcher holds
        // back starts its cycle first.
        const int seen = m_engineEvents;
        runUntil((ready ? m_options.settleSlices : m_options.pollSlices) * m_options.sliceMs,
            [this, seen] { return m_engineEvents != seen; });
    }
    const qint64 took = timer.elapsed();
    m_result.longestQuiesceMs = std::max(m_result.longestQuiesceMs, took);
    log(QStringLiteral("# quiescent point %1: %2 in %3 ms")
            .arg(point)
            .arg(settled ? u"settled" : u"NOT settled")
            .arg(took));

    // Whatever the wait gave, the invariants are judged on the folders as they are now.
    for (int c = 0; c < m_scenario.computers; ++c)
        trees[size_t(c)] = scanTree(m_computers[size_t(c)].root);
    const bool haveServer = serverListing(&server, &head);

    if (!settled) {
        QStringList states;
        for (int c = 0; c < m_scenario.computers; ++c) {
            const Computer &comp = m_computers[size_t(c)];
            states << QStringLiteral("%1: state %2 \"%3\" cursor %4 error \"%5\"")
                          .arg(comp.name)
                          .arg(int(comp.engine->state()))
                          .arg(comp.engine->statusText())
                          .arg(storedCursor(c))
                          .arg(comp.engine->errorMessage());
        }
        fail(QStringLiteral("not-quiescent"),
            QStringLiteral("not settled after %1 ms: %2; server head %3\n  %4")
                .arg(took)
                .arg(why)
                .arg(head)
                .arg(states.join(QStringLiteral("\n  "))));
    }

    // 1. Every folder the same, and the server's tree.
    for (int c = 0; c < m_scenario.computers; ++c) {
        if (haveServer && trees[size_t(c)] != server) {
            // What the journal says of each differing path tells a lost record from a lost file.
            const QMap<QString, quint64> journal = journalVersions(c);
            QStringList known;
            QSet<QString> paths;
            for (const Tree *t : { &trees[size_t(c)], &server }) {
                for (auto it = t->cbegin(); it != t->cend(); ++it)
                    paths.insert(it.key());
            }
            QStringList sorted(paths.cbegin(), paths.cend());
            sorted.sort();
            for (const QString &path : std::as_const(sorted)) {
                if (trees[size_t(c)].value(path) == server.value(path))
                    continue;
                known << QStringLiteral("    %1: %2, server version %3")
                             .arg(path,
                                 journal.contains(path) ? QStringLiteral("journal version %1").arg(journal.value(path))
                                                        : QStringLiteral("not in the journal"))
                             .arg(m_serverVersions.value(path));
            }
            fail(QStringLiteral("diverged"),
                QStringLiteral("c%1's folder differs from the server's tree:\n%2\n  c%1's journal there:\n%3")
                    .arg(c)
                    .arg(diffText(QStringLiteral("c%1").arg(c), trees[size_t(c)], QStringLiteral("server"), server))
                    .arg(known.join(u'\n')));
        }
        if (c > 0 && trees[size_t(c)] != trees[0]) {
            fail(QStringLiteral("diverged"),
                QStringLiteral("c%1's folder differs from c0's:\n%2")
                    .arg(c)
                    .arg(diffText(QStringLiteral("c%1").arg(c), trees[size_t(c)], QStringLiteral("c0"), trees[0])));
        }
    }

    // 1b. Once settled, each journal knows exactly the paths of its folder, at the server's
    // versions: a path missing from it is one a local delete would not send.
    for (int c = 0; c < m_scenario.computers && settled && haveServer; ++c) {
        const QMap<QString, quint64> journal = journalVersions(c);
        QStringList wrong;
        for (auto it = m_serverVersions.cbegin(); it != m_serverVersions.cend(); ++it) {
            if (!journal.contains(it.key()))
                wrong << QStringLiteral("    %1: not in the journal (server version %2)").arg(it.key()).arg(it.value());
        }
        for (auto it = journal.cbegin(); it != journal.cend(); ++it) {
            if (!m_serverVersions.contains(it.key()))
                wrong << QStringLiteral("    %1: in the journal only (version %2)").arg(it.key()).arg(it.value());
        }
        if (!wrong.isEmpty())
            fail(QStringLiteral("journal"), QStringLiteral("c%1's journal:\n%2").arg(c).arg(wrong.join(u'\n')));
        QStringList stale;
        for (auto it = journal.cbegin(); it != journal.cend(); ++it) {
            const quint64 server = m_serverVersions.value(it.key());
            if (server != 0 && server != it.value())
                stale << QStringLiteral("    %1: journal version %2, server %3")
                             .arg(it.key())
                             .arg(it.value())
                             .arg(server);
        }
        if (!stale.isEmpty())
            fail(QStringLiteral("journal-version"), QStringLiteral("c%1's journal:\n%2").arg(c).arg(stale.join(u'\n')));
    }

    QHash<QString, QStringList> present; // content hash -> (computer:path) holding it
    for (int c = 0; c < m_scenario.computers; ++c) {
        const Tree &t = trees[size_t(c)];
        for (auto it = t.cbegin(); it != t.cend(); ++it) {
            const QString h = fileHash(it.value());
            if (!h.isEmpty())
                present[h] << QStringLiteral("c%1:%2").arg(c).arg(it.key());
            // 4. No temp file at a final path.
            for (const QString &name : it.key().split(u'/')) {
                if (isTempName(name))
                    fail(QStringLiteral("tempfile"), QStringLiteral("c%1 holds %2").arg(c).arg(it.key()));
            }
        }
    }

    // 2. Nothing lost: every version no op replaced is in some folder. When the folders
    // agree, "some" is "every".
    for (auto it = m_live.cbegin(); it != m_live.cend(); ++it) {
        if (!present.contains(it.key()))
            fail(QStringLiteral("lost"),
                QStringLiteral("content %1 written by %2 is in no folder").arg(it.key().left(8), it.value()));
    }

    // 3. What an uncontested delete removed stays away: a delete no other computer's op
    // touched (same path, inside it, around it) within this epoch.
    for (const Deleted &d : m_epochDeletes) {
        // The names what was deleted had this epoch: its path, and back through the
        // renames its computer made before the delete, of it or of something it moved
        // into it (another computer's change under an old name contests the delete as
        // well: a file written into a folder that is then moved into the deleted one).
        QStringList names { d.path };
        for (auto a = m_epochOps.crbegin(); a != m_epochOps.crend(); ++a) {
            if (a->computer != d.computer || a->index >= d.index || a->paths.size() != 2)
                continue;
            const QString &from = a->paths.at(0), &to = a->paths.at(1);
            for (const QString &n : QStringList(names)) {
                if (n == to || n.startsWith(to + u'/'))
                    names << from + n.mid(to.size());
                else if (to.startsWith(n + u'/'))
                    names << from;
            }
        }
        bool contested = false;
        bool retouched = false;
        for (const Applied &a : m_epochOps) {
            bool overlap = false;
            for (const QString &p : a.paths) {
                for (const QString &n : std::as_const(names))
                    overlap = overlap || overlaps(p, n);
            }
            if (!overlap)
                continue;
            if (a.computer != d.computer)
                contested = true;
            else if (a.index > d.index)
                retouched = true;
        }
        if (contested)
            continue;
        for (const QString &h : d.hashes) {
            // Another computer's own copy of the same bytes, which it changed the mode or
            // name of this epoch, may be back as its conflict copy: not the deleted one.
            const bool keptByOther = std::any_of(m_epochOps.cbegin(), m_epochOps.cend(),
                [&d, &h](const Applied &a) { return a.computer != d.computer && a.keptHash == h; });
            if (keptByOther)
                continue;
            // The same bytes at another path at the last quiescent point (a conflict copy,
            // or a copy kept when a rename met an edit) are not the deleted version back.
            const QStringList before = m_settledPlaces.value(h);
            const bool keptElsewhere = std::any_of(before.cbegin(), before.cend(), [&names](const QString &p) {
                return std::none_of(names.cbegin(), names.cend(), [&p](const QString &n) { return overlaps(p, n); });
            });
            if (!m_live.contains(h) && present.contains(h) && !keptElsewhere) {
                fail(QStringLiteral("resurrected"),
                    QStringLiteral("content %1 deleted by op %2 on c%3 (%4) is back at %5")
                        .arg(h.left(8))
                        .arg(d.tag)
                        .arg(d.computer)
                        .arg(d.path, present.value(h).join(u' ')));
            }
        }
        // An engine names a conflict copy by the time to the second: a new conflict there
        // may take the name of a deleted copy, with new content (the check above covers
        // the old content).
        if (!retouched && !d.path.contains(kConflictMark)) {
            for (int c = 0; c < m_scenario.computers; ++c) {
                if (trees[size_t(c)].contains(d.path))
                    fail(QStringLiteral("resurrected"),
                        QStringLiteral("%1, deleted by op %2 on c%3, is back on c%4")
                            .arg(d.path)
                            .arg(d.tag)
                            .arg(d.computer)
                            .arg(c));
            }
        }
    }

    // 5. Nothing outside the folders touched.
    QStringList baseNames
        = QDir(m_base.path()).entryList(QDir::AllEntries | QDir::Hidden | QDir::System | QDir::NoDotAndDotDot);
    QStringList expected { QStringLiteral("sentinel") };
    for (const Computer &comp : m_computers)
        expected << comp.name;
    baseNames.sort();
    expected.sort();
    if (baseNames != expected)
        fail(QStringLiteral("sentinel"), QStringLiteral("beside the folders: %1").arg(baseNames.join(u' ')));
    const Tree sentinel = scanTree(m_sentinel);
    if (sentinel != m_sentinelTree)
        fail(QStringLiteral("sentinel"),
            QStringLiteral("the sentinel folder changed:\n%1")
                .arg(diffText(QStringLiteral("now"), sentinel, QStringLiteral("before"), m_sentinelTree)));

    if (!m_result.violations.isEmpty()) {
        log(QStringLiteral("# c0's folder:\n%1").arg(treeText(trees[0])));
        if (haveServer)
            log(QStringLiteral("# server's tree (head %1):\n%2").arg(head).arg(treeText(server)));
    }
    m_settledPlaces.clear();
    for (auto it = trees[0].cbegin(); it != trees[0].cend(); ++it) {
        if (const QString h = fileHash(it.value()); !h.isEmpty())
            m_settledPlaces[h] << it.key();
    }
    m_epochOps.clear();
    m_epochDeletes.clear();
}

RunResult Simulation::run()
{
    QElapsedTimer timer;
    timer.start();
    QStringList messages;
    g_messages = &messages;
    g_refusals = &m_refusals;
    g_verbose = m_options.verbose;
    const QtMessageHandler previous = qInstallMessageHandler(keepMessage);
    log(QStringLiteral("scenario\t%1\t%2").arg(m_scenario.seed).arg(m_scenario.computers));
    QElapsedTimer phase;
    phase.start();
    const bool setUpOk = setUp();
    m_result.setUpMs = phase.restart();
    if (!setUpOk) {
        fail(QStringLiteral("harness"), QStringLiteral("set-up failed (server or first engine)"));
    } else {
        int index = 0;
        int point = 0;
        for (const Step &step : m_scenario.steps) {
            for (const Op &op : step.ops) {
                phase.restart();
                const QString result = apply(op, index++);
                m_result.opsMs += phase.elapsed();
                if (result.startsWith(QStringLiteral("done")))
                    ++m_result.appliedOps;
                else
                    ++m_result.skippedOps;
                log(opText(op));
                log(QStringLiteral("#   -> ") + result);
                if (result.startsWith(QStringLiteral("FAILED")))
                    fail(QStringLiteral("harness"), opText(op) + QStringLiteral(": ") + result);
            }
            phase.restart();
            runSlices(step.slices);
            m_result.slicesMs += phase.elapsed();
            log(QStringLiteral("step\t%1\t%2").arg(step.slices).arg(step.quiesce ? 1 : 0));
            if (step.quiesce) {
                phase.restart();
                quiesceAndCheck(++point);
                m_result.quiesceMs += phase.elapsed();
                ++m_result.quiescentPoints;
            }
            if (!m_refusals.isEmpty()) {
                fail(QStringLiteral("refused"), m_refusals.join(u'\n'));
                m_refusals.clear();
            }
            if (!m_result.violations.isEmpty())
                break;
        }
    }
    if (!m_result.violations.isEmpty() && !messages.isEmpty())
        log(QStringLiteral("# warnings logged (last %1):\n#   %2")
                .arg(messages.size())
                .arg(messages.join(QStringLiteral("\n#   "))));
    qInstallMessageHandler(previous);
    g_messages = nullptr;
    g_refusals = nullptr;
    m_result.seconds = double(timer.elapsed()) / 1000.0;
    return m_result;
}

} // namespace

RunResult runScenario(const Scenario &scenario, const RunOptions &options)
{
    RunResult result;
    QElapsedTimer all;
    all.start();
    QElapsedTimer tearDown;
    {
        Simulation sim(scenario, options);
        result = sim.run();
        tearDown.start();
    }
    // Engines destroyed above may still have deleteLater()s and pool jobs to finish.
    QTest::qWait(1);
    result.tearDownMs = tearDown.elapsed();
    result.seconds = double(all.elapsed()) / 1000.0;
    return result;
}

} // namespace filesync::sim
