#pragma once

#include "contenthash.h"
#include "messages.h"
#include "metadatastore.h"

#include <QElapsedTimer>
#include <QHash>
#include <QList>
#include <QObject>
#include <QTimer>

namespace filesync {

class ClientSession;

// The relay: passes a session's Announce (a file's block list before its
// commit) on to the account's other sessions, and keeps their GetBlock{wait} requests
// for blocks the account does not hold yet (parked) until one of its sessions uploads the
// block. Nothing here is persisted or committed: an announce that never commits only cost
// the others some fetching. Every wait is bounded: at most kMaxParkedPerSession per
// session, each answered within kParkMs (not-yet), and dropped when its session ends.
// Event thread; owned by SyncServer; sessions join and leave themselves.
class BlockRelay : public QObject
{
    Q_OBJECT
public:
    static constexpr int kMaxParkedPerSession = 2048; // about 128 MiB of 64 KiB blocks
    static constexpr int kParkMs = 20 * 1000;

    explicit BlockRelay(QObject *parent = nullptr);

    void join(AccountKey account, ClientSession *session); // a session logged in
    void leave(ClientSession *session); // its parked requests are forgotten (nobody to answer)
    // Sends `announce` (origin set) to every other session of the account.
    void announce(AccountKey account, const ClientSession *from, const protocol::Announce &announce);
    // Keeps request `id` of `session` until `hash` arrives; false when its bound is reached.
    bool park(AccountKey account, ClientSession *session, quint64 id, const ContentHash &hash);
    // The account now holds these blocks: their parked requests are served.
    void arrived(AccountKey account, const QList<ContentHash> &hashes);

    int parkedCount() const { return m_parkedTotal; }
    quint64 announcesRelayed() const { return m_relayed; }

    // For tests: how long a parked request waits.
    void setParkTimeout(int milliseconds) { m_parkMs = milliseconds; }

private:
    struct Waiter
    {
        ClientSession *session = nullptr;
        quint64 id = 0;
        qint64 deadline = 0; // on m_clock (monotonic: a step of the wall clock moves no deadline)
    };
    void expire();

    QHash<AccountKey, QList<ClientSession *>> m_sessions;
    QHash<AccountKey, QHash<ContentHash, QList<Waiter>>> m_parked;
    QHash<ClientSession *, int> m_parkedBy;
    int m_parkedTotal = 0;
    quint64 m_relayed = 0;
    int m_parkMs = kParkMs;
    QTimer m_expiry;
    QElapsedTimer m_clock; // started at construction
};

} // namespace filesync
