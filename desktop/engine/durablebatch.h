#pragma once

#include "enginepools.h"
#include "relativepath.h"

#include <QList>
#include <QObject>
#include <QPair>
#include <QString>
#include <QStringList>

class QThreadPool;

namespace filesync {

// The group commit of downloaded files: temp files are not synced one by one. While one
// batch's syncs run on the pool, the temp files completed meanwhile and the files renamed
// meanwhile gather; the next batch makes all of them durable at once (their write-back
// started together, then an fdatasync() each) together with the folders the renames went
// into (an fsync() each). Temp paths and renamed paths in, each with the caller's id; one
// synced() a batch out, naming them.
//
// Engine thread; a batch runs on the engine's work pool, its syncs on the sync pool.
// Owned by Downloader.
class DurableBatch : public QObject
{
    Q_OBJECT
public:
    DurableBatch(const QString &root, EnginePools &pools, QObject *parent = nullptr);

    // A complete temp file (by its path in Journal::tempDir()), for the next batch.
    void addFile(quint64 id, const QString &tempPath);
    // A file renamed to `path`: the next batch makes its folder's entry durable.
    void addRenamed(quint64 id, const RelativePath &path);
    // Starts a batch of what waits, unless one is under way (its synced() comes first) or
    // nothing waits.
    void start();
    bool isRunning() const { return m_running; }
    int batchesRun() const { return m_batchesRun; }
    // The renames in the batch under way, then those waiting for the next one.
    QList<quint64> renames() const;
    // Makes the folders of renames() durable now, on this thread; false if a sync failed.
    bool syncRenamesNow() const;
    // Forgets everything waiting; a batch under way only touches paths it was given, and
    // its result reaches nobody.
    void clear();

    // Thread pool: makes the temp files (by path) and the folders (relative to the root)
    // durable, several at a time on `syncPool`; false if any sync failed.
    static bool syncBatch(
        QThreadPool &syncPool, const QString &root, const QStringList &files, const QStringList &dirs);

Q_SIGNALS:
    // A batch is over: `ok` false if any of its syncs failed. `files` were temp files,
    // `renamed` renames, both in the order they were added.
    void synced(bool ok, const QList<quint64> &files, const QList<quint64> &renamed);

private:
    using Item = QPair<quint64, QString>; // id, temp path or folder
    static QStringList folders(const QList<Item> &renamed);

    QString m_root;
    EnginePools &m_pools;
    QList<Item> m_ready; // assembled, waiting for a sync
    QList<Item> m_renamed; // at their final path, entry not yet durable
    QList<Item> m_syncing; // temp files in the sync under way
    QList<Item> m_syncingRenamed; // renames in the sync under way
    bool m_running = false;
    int m_batchesRun = 0;
    int m_generation = 0;
};

} // namespace filesync
