#pragma once

#include "relativepath.h"

#include <QHash>
#include <QObject>
#include <QTimer>

class QSocketNotifier;

namespace filesync {

// Notices local changes as they happen and coalesces them: one inotify watch per
// directory (creations, deletions, renames, writes and attribute changes of the entries
// in it), events debounced with a single-shot timer so an editor's save sequence
// (write temp, rename over) becomes one trigger, plus a periodic full-scan trigger as a
// safety net. When the kernel refuses more watches, it says so once and the periodic
// scan carries on alone. Why not QFileSystemWatcher: its directory watches do not
// report writes to files inside them (no IN_MODIFY), and watching every file would take
// one watch per file (docs/architecture.md). Engine thread; owned by SyncEngine.
class ChangeAggregator : public QObject
{
    Q_OBJECT
public:
    ChangeAggregator(const QString &root, int debounceMs, int intervalSeconds, QObject *parent = nullptr);
    ~ChangeAggregator() override;

    void start();
    void stop();
    // Watches exactly these directories (the root is always watched). Returns how many
    // watches are new: what changed in those folders before their watch existed is only
    // seen by another scan.
    int setDirectories(const QList<RelativePath> &dirs);
    int watchCount() const { return int(m_byPath.size()); }
    bool isDegraded() const { return m_degraded; }

Q_SIGNALS:
    void changed(); // debounced: something changed on disk
    void intervalElapsed(); // time for the safety-net full scan
    void warning(const QString &message);

private:
    bool addWatch(const QString &relative);
    void removeWatch(const QString &relative);
    void onReadable();

    QString m_root;
    int m_fd = -1;
    QSocketNotifier *m_notifier = nullptr;
    QHash<int, QString> m_byDescriptor;
    QHash<QString, int> m_byPath;
    QTimer m_debounce;
    QTimer m_interval;
    bool m_degraded = false;
};

} // namespace filesync
