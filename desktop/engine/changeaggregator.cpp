#include "changeaggregator.h"

#include "journal.h"

#include <QFile>
#include <QSet>
#include <QSocketNotifier>

#include <cerrno>
#include <sys/inotify.h>
#include <unistd.h>

namespace filesync {

namespace {
constexpr uint32_t kMask = IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_CLOSE_WRITE | IN_MODIFY | IN_ATTRIB
    | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR | IN_DONT_FOLLOW;
constexpr qsizetype kMaxOwnMoves = 65536; // a move whose other half never shows is forgotten
} // namespace

ChangeAggregator::ChangeAggregator(const QString &root, int debounceMs, int intervalSeconds, QObject *parent)
    : QObject(parent)
    , m_root(root)
{
    m_debounce.setSingleShot(true);
    m_debounce.setInterval(debounceMs);
    connect(&m_debounce, &QTimer::timeout, this, &ChangeAggregator::changed);
    m_interval.setInterval(qMax(1, intervalSeconds) * 1000);
    connect(&m_interval, &QTimer::timeout, this, &ChangeAggregator::intervalElapsed);
}

ChangeAggregator::~ChangeAggregator()
{
    stop();
}

void ChangeAggregator::start()
{
    m_interval.start();
    if (m_fd >= 0)
        return;
    m_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (m_fd < 0) {
        m_degraded = true;
        Q_EMIT warning(tr("Live change detection is unavailable (%1); changes are found by the periodic scan.")
                           .arg(QString::fromLocal8Bit(strerror(errno))));
        return;
    }
    m_notifier = new QSocketNotifier(m_fd, QSocketNotifier::Read, this);
    connect(m_notifier, &QSocketNotifier::activated, this, &ChangeAggregator::onReadable);
    addWatch(QString());
    watchOwnMoves();
}

// The temp folder may not exist yet (made by the first download): tried again with every
// setDirectories(). Without it our installs are only rescanned, as any change is.
void ChangeAggregator::watchOwnMoves()
{
    if (m_fd < 0 || m_tmpWd >= 0)
        return;
    const QByteArray tmp = QFile::encodeName(Journal::tempDir(m_root));
    m_tmpWd = inotify_add_watch(m_fd, tmp.constData(), IN_MOVED_FROM | IN_ONLYDIR | IN_DONT_FOLLOW);
}

void ChangeAggregator::stop()
{
    m_interval.stop();
    m_debounce.stop();
    delete m_notifier;
    m_notifier = nullptr;
    if (m_fd >= 0)
        ::close(m_fd);
    m_fd = -1;
    m_byDescriptor.clear();
    m_byPath.clear();
    m_stale.clear();
    m_tmpWd = -1;
    m_ownMoves.clear();
}

QList<RelativePath> ChangeAggregator::setDirectories(const QList<RelativePath> &dirs)
{
    if (m_fd < 0)
        return {};
    // Watches that followed a moved folder are renewed from the paths the scan saw: one
    // under its old name would otherwise keep a re-created folder of that name unwatched.
    const QList<int> stale(m_stale.cbegin(), m_stale.cend());
    for (int wd : stale) {
        const auto path = m_byDescriptor.constFind(wd);
        if (path != m_byDescriptor.cend())
            removeWatch(*path);
        m_stale.remove(wd);
    }
    QSet<QString> wanted { QString() };
    for (const RelativePath &d : dirs)
        wanted.insert(d.toString());
    const QList<QString> current = m_byPath.keys();
    for (const QString &path : current) {
        if (!wanted.contains(path))
            removeWatch(path);
    }
    QList<RelativePath> added;
    for (const RelativePath &d : dirs) {
        if (!m_byPath.contains(d.toString()) && addWatch(d.toString()))
            added << d;
    }
    if (!m_byPath.contains(QString()))
        addWatch(QString());
    watchOwnMoves();
    return added;
}

ScanScope ChangeAggregator::takeDirty()
{
    ScanScope scope = ScanScope::nothing();
    // Without inotify, or with folders left unwatched, nothing tells where to look.
    if (m_dirtyAll || m_degraded || m_fd < 0) {
        scope = ScanScope::everything();
    } else {
        for (const QString &d : std::as_const(m_dirtyDirs)) {
            if (auto p = RelativePath::fromString(d))
                scope.dirs.insert(*p);
        }
        for (const QString &t : std::as_const(m_dirtyTrees)) {
            if (auto p = RelativePath::fromString(t))
                scope.trees.insert(*p);
        }
    }
    m_dirtyAll = false;
    m_dirtyDirs.clear();
    m_dirtyTrees.clear();
    return scope;
}

void ChangeAggregator::markDirty(const QString &dir)
{
    m_dirtyDirs.insert(dir);
}

bool ChangeAggregator::addWatch(const QString &relative)
{
    const QString absolute = relative.isEmpty() ? m_root : m_root + u'/' + relative;
    const int wd = inotify_add_watch(m_fd, QFile::encodeName(absolute).constData(), kMask);
    if (wd < 0) {
        if (errno == ENOSPC && !m_degraded) {
            m_degraded = true;
            Q_EMIT warning(tr("The system allows no more folder watches (fs.inotify.max_user_watches); some "
                              "changes will only be found by the periodic scan."));
        }
        return false;
    }
    m_byDescriptor.insert(wd, relative);
    m_byPath.insert(relative, wd);
    return true;
}

void ChangeAggregator::removeWatch(const QString &relative)
{
    const int wd = m_byPath.take(relative);
    m_byDescriptor.remove(wd);
    m_stale.remove(wd);
    inotify_rm_watch(m_fd, wd);
}

void ChangeAggregator::onReadable()
{
    alignas(inotify_event) char buffer[64 * 1024];
    bool relevant = false;
    for (;;) {
        const ssize_t n = ::read(m_fd, buffer, sizeof(buffer));
        if (n <= 0)
            break;
        for (ssize_t at = 0; at < n;) {
            const auto *event = reinterpret_cast<const inotify_event *>(buffer + at);
            at += ssize_t(sizeof(inotify_event) + event->len);
            if (event->mask & IN_Q_OVERFLOW) {
                m_dirtyAll = true; // events were dropped: no telling where
                relevant = true;
                continue;
            }
            if (m_tmpWd >= 0 && event->wd == m_tmpWd) {
                if (event->mask & IN_IGNORED) {
                    m_tmpWd = -1; // the temp folder went: watched again once it is back
                } else if (event->mask & IN_MOVED_FROM) {
                    if (m_ownMoves.size() >= kMaxOwnMoves)
                        m_ownMoves.clear();
                    m_ownMoves.insert(event->cookie);
                }
                continue;
            }
            const auto watched = m_byDescriptor.constFind(event->wd);
            if (event->mask & IN_IGNORED) {
                if (watched != m_byDescriptor.cend()) {
                    const QString path = *watched;
                    m_byDescriptor.remove(event->wd);
                    m_stale.remove(event->wd);
                    if (m_byPath.value(path, -1) == event->wd)
                        m_byPath.remove(path);
                }
                continue;
            }
            if (watched == m_byDescriptor.cend())
                continue; // a watch we already removed
            const QString dir = *watched;
            // Our own metadata directory (journal, temp files) is not a user change, but
            // its removal is worth a look at once: it stops the folder.
            const QString name = event->len > 0 ? QFile::decodeName(event->name) : QString();
            if (dir.isEmpty() && name == RelativePath::kMetadataDirName && !(event->mask & (IN_DELETE | IN_MOVED_FROM)))
                continue;
            // One of our own installs (the other half of a move out of the temp folder).
            if ((event->mask & IN_MOVED_TO) && !(event->mask & IN_ISDIR) && m_ownMoves.remove(event->cookie))
                continue;
            relevant = true;
            if (m_stale.contains(event->wd)) {
                m_dirtyAll = true;
            } else if (event->mask & IN_MOVE_SELF) {
                // The watches of the folder and of everything in it follow it to a path we
                // do not know yet; the parents' events (moved from / to) put both places
                // in scope, and until the next scan renews those watches their events
                // mean "somewhere".
                if (dir.isEmpty()) {
                    m_dirtyAll = true;
                } else {
                    for (auto it = m_byDescriptor.cbegin(); it != m_byDescriptor.cend(); ++it) {
                        if (*it == dir || it->startsWith(dir + u'/'))
                            m_stale.insert(it.key());
                    }
                }
            } else if (event->mask & IN_DELETE_SELF) {
                if (dir.isEmpty())
                    m_dirtyAll = true;
                else
                    markDirty(dir.section(u'/', 0, -2));
            } else {
                markDirty(dir);
                // A folder created or moved in here is new content as a whole, even if a
                // folder of that name was known (deleted and re-created quickly).
                if ((event->mask & IN_ISDIR) && (event->mask & (IN_CREATE | IN_MOVED_TO)) && !name.isEmpty())
                    m_dirtyTrees.insert(dir.isEmpty() ? name : dir + u'/' + name);
            }
        }
    }
    if (!relevant)
        return;
    // Each event pushes the trigger back, so that an editor's save sequence is one change;
    // but never past kMaxDelayMs after the first waiting event: a long copy (thousands of
    // files written for seconds) is synced while it runs, not only once it stops.
    if (!m_debounce.isActive())
        m_waitingSince.start();
    if (!m_debounce.isActive() || m_waitingSince.elapsed() + m_debounce.interval() <= kMaxDelayMs)
        m_debounce.start();
}

} // namespace filesync
