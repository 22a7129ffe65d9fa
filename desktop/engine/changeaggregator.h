#pragma once

#include "relativepath.h"
#include "scanner.h"

#include <QElapsedTimer>
#include <QHash>
#include <QObject>
#include <QSet>
#include <QTimer>

class QSocketNotifier;

namespace filesync {

// Notices local changes as they happen and coalesces them: one inotify watch per
// directory (creations, deletions, renames, writes and attribute changes of the entries
// in it), events debounced with a single-shot timer so an editor's save sequence
// (write temp, rename over) becomes one trigger, plus a periodic full-scan trigger as a
// safety net. When the kernel refuses more watches, it says so once and the periodic
// scan carries on alone. It also remembers where things changed (takeDirty()), so the
// next cycle can scan only those folders; an overflow of the kernel's queue, a watch
// that follows a moved folder, or missing watches make it ask for a full scan. Why not QFileSystemWatcher: its
// directory watches do not report writes to files inside them (no IN_MODIFY), and watching every file would take one
// watch per file (docs/architecture.md). Engine thread; owned by SyncEngine.
class ChangeAggregator : public QObject
{
    Q_OBJECT
public:
    // changed() comes debounceMs after the last event, or at the latest kMaxDelayMs after
    // the first one while events keep coming.
    static constexpr int kMaxDelayMs = 500;

    ChangeAggregator(const QString &root, int debounceMs, int intervalSeconds, QObject *parent = nullptr);
    ~ChangeAggregator() override;

    void start();
    void stop();
    // Watches exactly these directories (the root is always watched). Returns the
    // folders whose watch is new: what changed in them before their watch existed is
    // only seen by another scan.
    QList<RelativePath> setDirectories(const QList<RelativePath> &dirs);
    // What changed since the last call, as a scan scope: the folders inotify reported
    // (their direct children), folders created or moved in (whole), or everything when
    // an event may have been missed or mislabelled. Empty when nothing happened.
    ScanScope takeDirty();
    int watchCount() const { return int(m_byPath.size()); }
    bool isDegraded() const { return m_degraded; }

Q_SIGNALS:
    void changed(); // debounced: something changed on disk
    void intervalElapsed(); // time for the safety-net full scan
    void warning(const QString &message);

private:
    bool addWatch(const QString &relative);
    void watchOwnMoves();
    void removeWatch(const QString &relative);
    void onReadable();
    void markDirty(const QString &dir);

    QString m_root;
    int m_fd = -1;
    QSocketNotifier *m_notifier = nullptr;
    QHash<int, QString> m_byDescriptor;
    QHash<QString, int> m_byPath;
    QTimer m_debounce;
    QElapsedTimer m_waitingSince; // the first event the running debounce waits for
    QTimer m_interval;
    bool m_degraded = false;
    // Watches that followed a moved folder: their path is stale until setDirectories()
    // renews them, so their events say "somewhere", i.e. a full scan.
    QSet<int> m_stale;
    bool m_dirtyAll = false;
    // The engine's own installs: a file renamed out of .filesync/tmp into the tree
    // (Downloader::install) shows as IN_MOVED_FROM on this watch of the temp folder and
    // IN_MOVED_TO, with the same cookie, in the target's folder. The engine records the
    // file's stat itself, so that folder is not dirty for it (else every slice of
    // installed files costs one more cycle rescanning all its folders).
    int m_tmpWd = -1;
    QSet<uint32_t> m_ownMoves; // cookies of moves out of the temp folder, bounded
    QSet<QString> m_dirtyDirs;
    QSet<QString> m_dirtyTrees;
};

} // namespace filesync
