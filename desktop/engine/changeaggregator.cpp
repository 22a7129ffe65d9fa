#include "changeaggregator.h"

#include "syncengine.h"

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
}

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
}

int ChangeAggregator::setDirectories(const QList<RelativePath> &dirs)
{
    if (m_fd < 0)
        return 0;
    QSet<QString> wanted { QString() };
    for (const RelativePath &d : dirs)
        wanted.insert(d.toString());
    const QList<QString> current = m_byPath.keys();
    for (const QString &path : current) {
        if (!wanted.contains(path))
            removeWatch(path);
    }
    int added = 0;
    for (const QString &path : std::as_const(wanted)) {
        if (!m_byPath.contains(path) && addWatch(path))
            ++added;
    }
    return added;
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
            if (event->mask & IN_IGNORED) {
                const QString path = m_byDescriptor.take(event->wd);
                if (m_byPath.value(path, -1) == event->wd)
                    m_byPath.remove(path);
                continue;
            }
            // Our own metadata directory (journal, temp files) is not a user change, but
            // its removal is worth a look at once: it stops the folder.
            const QString dir = m_byDescriptor.value(event->wd);
            if (dir.isEmpty() && event->len > 0 && QFile::decodeName(event->name) == RelativePath::kMetadataDirName
                && !(event->mask & (IN_DELETE | IN_MOVED_FROM)))
                continue;
            relevant = true;
        }
    }
    if (relevant)
        m_debounce.start();
}

} // namespace filesync
