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
    void opConflict(const filesync::SyncAction &action);
    void opRejected(const filesync::SyncAction &action, const QString &reason);
    void bytesDone(qint64 bytes);
    void finished(bool complete);

private:
    void queryNext();
    void pumpBlocks();
    void commitNext();
    void fail(const QString &reason);
    bool readBlock(const ContentHash &hash, QByteArray &out);

    QString m_root;
    ServerConnection &m_connection;
    QList<SyncAction> m_ops;
    QList<ContentHash> m_toQuery;
    QList<ContentHash> m_toSend;
    QHash<ContentHash, QPair<int, qint64>> m_where; // hash -> (op index, offset)
    QSet<int> m_broken; // ops whose file changed since the scan: not committed now
    int m_commitAt = 0;
    qint64 m_inFlight = 0;
    int m_putsPending = 0;
    bool m_complete = true;
    bool m_running = false;
    int m_generation = 0;
};

} // namespace filesync
