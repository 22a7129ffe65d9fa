#pragma once

#include "localfs.h"
#include "syncengine.h"
#include "syncplan.h"
#include "uploader.h"

#include <QObject>

namespace filesync {

class Downloader;
class EnginePools;
class Journal;
class ServerConnection;

// Carries out a SyncPlan in three phases: local changes (renames for remote moves,
// conflict copies set aside, deletes of unchanged paths, folders), downloads, then the
// server side (uploads and commits). The journal is updated as each action finishes, so
// an interruption at any point leaves it true. Engine thread; owned by SyncEngine.
class Propagator : public QObject
{
    Q_OBJECT
public:
    struct Outcome
    {
        bool complete = true; // everything applied: the cursor may move to the cycle's head
        bool followUp = false; // a new scan is needed (conflict copies, postponed paths)
        std::optional<quint64> rewindTo; // a conflict showed a stale view: read the feed from here
        // Our commits moved the server's head from .first to .second and every version in
        // between is one the journal now holds (Uploader::ownAdvance).
        std::optional<std::pair<quint64, quint64>> ownCommits;
        // What was left for another look and why ("path: reason"), for a report when the
        // follow-ups do not get it done.
        QStringList postponed;
    };

    Propagator(const QString &root, Journal &journal, ServerConnection &connection, EnginePools &pools,
        QObject *parent = nullptr);
    ~Propagator() override;

    // Takes the plan: its actions are moved on to the Downloader and the Uploader, so
    // that one copy of each action exists at a time (100,000 actions are ~34 MB).
    // `journalAtStart` (the journal the plan was made from) is taken too, and dropped
    // before the first journal write: see m_atStart. `readUpTo`: the server version the
    // plan's feed was read to.
    void run(SyncPlan plan, JournalState journalAtStart, quint64 readUpTo);
    void abort();
    bool isRunning() const { return m_running; }
    const SyncProgress &progress() const { return m_progress; }

Q_SIGNALS:
    void itemCompleted(const filesync::SyncItem &item);
    void conflictKept(const filesync::RelativePath &path, const filesync::RelativePath &copy);
    void warning(const QString &message);
    void progressChanged(const filesync::SyncProgress &progress);
    void finished(const filesync::Propagator::Outcome &outcome);

private:
    static JournalState entriesUsed(const SyncPlan &plan, const JournalState &journal);
    void runLocal();
    void runDownloads();
    void runRemote();
    void finish();
    bool localStillAsPlanned(const SyncAction &a, const localfs::Location &at) const;
    void postpone(const SyncAction &a, const char *why);
    bool stoppedByLink(const SyncAction &a, const localfs::Location &at);
    bool stoppedByLink(const SyncAction &a, const localfs::Dir &dir);
    void createDirectory(const SyncAction &a);
    bool moveLocal(const SyncAction &a);
    bool waitsForUnmovedMove(const SyncAction &a) const;
    bool underRemoteMove(const RelativePath &p) const;
    bool knownFolderGone(const RelativePath &path) const;
    void completed(const SyncAction &a, ItemDirection direction, const QString &what);

    QString m_root;
    Journal &m_journal;
    quint64 m_readUpTo = 0;
    Downloader *m_downloader;
    Uploader *m_uploader;
    SyncPlan m_plan; // until runDownloads(), which hands its actions on
    // For runRemote(), moved out of m_plan into the Uploader's own compact records (half
    // the size of a SyncAction), with the moves' sources beside them.
    std::vector<Uploader::Op> m_remoteOps;
    QHash<int, RelativePath> m_moveSources;
    std::vector<std::pair<RelativePath, RelativePath>> m_unmoved; // local moves not done: from, to
    std::vector<RelativePath> m_remoteMoveTargets; // of this plan, for runLocal()
    // The entries of the journal at the start that the phases read: the paths of the
    // plan's uploads (their delta base) and the files holding a block some download
    // needs (local copies instead of downloads).
    // Not the whole map: a reference to the journal's own map, held while the journal
    // writes, makes its first write copy every entry.
    JournalState m_atStart;
    SyncProgress m_progress;
    bool m_running = false;
    bool m_complete = true;
    bool m_followUp = false;
    QStringList m_postponed;
    bool m_resultsBatch = false; // a journal batch is open around a Commit reply's results
    std::optional<quint64> m_rewindTo;
};

} // namespace filesync
