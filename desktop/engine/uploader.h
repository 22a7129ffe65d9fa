#pragma once

#include "syncplan.h"

#include <QObject>
#include <QSet>

namespace filesync {

class ServerConnection;

// Sends local changes to the server: asks which blocks the server lacks for this
// account (QueryBlocks, up to 4,096 hashes a request), uploads only those (re-reading
// them from disk and re-checking their hash, zstd when it pays, at most kWindowBytes in
// flight), then commits every op in the plan's order, in batches under the metadata
// budget. Each op's result comes back through opApplied / opConflict / opRejected.
// Engine thread; owned by Propagator.
class Uploader : public QObject
{
    Q_OBJECT
public:
    static constexpr qint64 kWindowBytes = 32 * 1024 * 1024;

    Uploader(const QString &root, ServerConnection &connection, QObject *parent = nullptr);
    void run(const QList<SyncAction> &ops); // MoveRemote, DeleteRemote, Upload
    void abort();

Q_SIGNALS:
    void opApplied(const filesync::SyncAction &action, quint64 version);
    // The server holds `current` at the path, not our base: nothing was changed.
    void opConflict(const filesync::SyncAction &action, quint64 current);
    void opRejected(const filesync::SyncAction &action, const QString &reason);
    void bytesDone(qint64 bytes);
    void finished(bool complete);

private:
    struct Source
    {
        int op; // index in m_ops
        qint64 offset;
        qint64 size;
    };

    void queryNext();
    void pumpBlocks();
    void commitNext();
    void fail(const QString &reason);
    bool readBlock(const Source &source, const ContentHash &hash, QByteArray &out) const;

    QString m_root;
    ServerConnection &m_connection;
    QList<SyncAction> m_ops;
    QList<ContentHash> m_toQuery;
    QList<ContentHash> m_toSend;
    QHash<ContentHash, Source> m_where; // where each block to upload is on disk
    QSet<int> m_broken; // ops whose file changed since the scan: not committed now
    int m_commitAt = 0;
    qint64 m_inFlight = 0;
    int m_putsPending = 0;
    bool m_complete = true;
    bool m_running = false;
    int m_generation = 0;
};

} // namespace filesync
