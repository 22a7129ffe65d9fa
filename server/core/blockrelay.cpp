#include "blockrelay.h"

#include "clientsession.h"

namespace filesync {

using namespace protocol;

BlockRelay::BlockRelay(QObject *parent)
    : QObject(parent)
{
    // One timer for every parked request: a sweep every 250 ms while anything is parked.
    m_clock.start();
    m_expiry.setInterval(250);
    connect(&m_expiry, &QTimer::timeout, this, &BlockRelay::expire);
}

void BlockRelay::join(AccountKey account, ClientSession *session)
{
    QList<ClientSession *> &sessions = m_sessions[account];
    if (!sessions.contains(session))
        sessions.append(session);
}

void BlockRelay::leave(ClientSession *session)
{
    for (auto it = m_sessions.begin(); it != m_sessions.end();) {
        it->removeAll(session);
        it = it->isEmpty() ? m_sessions.erase(it) : std::next(it);
    }
    if (!m_parkedBy.contains(session))
        return;
    for (auto account = m_parked.begin(); account != m_parked.end();) {
        for (auto hash = account->begin(); hash != account->end();) {
            const qsizetype before = hash->size();
            hash->removeIf([session](const Waiter &w) { return w.session == session; });
            m_parkedTotal -= int(before - hash->size());
            hash = hash->isEmpty() ? account->erase(hash) : std::next(hash);
        }
        account = account->isEmpty() ? m_parked.erase(account) : std::next(account);
    }
    m_parkedBy.remove(session);
    if (m_parkedTotal == 0)
        m_expiry.stop();
}

void BlockRelay::announce(AccountKey account, const ClientSession *from, const Announce &announce)
{
    const auto sessions = m_sessions.constFind(account);
    if (sessions == m_sessions.cend())
        return;
    for (ClientSession *s : *sessions) {
        if (s != from && s->sendAnnounced(announce))
            ++m_relayed;
    }
}

bool BlockRelay::park(AccountKey account, ClientSession *session, quint64 id, const ContentHash &hash)
{
    int &count = m_parkedBy[session];
    if (count >= kMaxParkedPerSession)
        return false;
    ++count;
    ++m_parkedTotal;
    m_parked[account][hash].append({ session, id, m_clock.elapsed() + m_parkMs });
    if (!m_expiry.isActive())
        m_expiry.start();
    return true;
}

void BlockRelay::arrived(AccountKey account, const QList<ContentHash> &hashes)
{
    auto parked = m_parked.find(account);
    if (parked == m_parked.end())
        return;
    // Taken out of the maps first: a session may go away while it is served.
    QList<QPair<Waiter, ContentHash>> ready;
    for (const ContentHash &h : hashes) {
        auto it = parked->find(h);
        if (it == parked->end())
            continue;
        for (const Waiter &w : std::as_const(*it))
            ready.append({ w, h });
        parked->erase(it);
    }
    if (parked->isEmpty())
        m_parked.erase(parked);
    for (const auto &[w, h] : std::as_const(ready)) {
        --m_parkedTotal;
        --m_parkedBy[w.session];
    }
    if (m_parkedTotal == 0)
        m_expiry.stop();
    for (const auto &[w, h] : std::as_const(ready))
        w.session->serveParked(w.id, h);
}

void BlockRelay::expire()
{
    const qint64 now = m_clock.elapsed();
    QList<Waiter> expired;
    for (auto account = m_parked.begin(); account != m_parked.end();) {
        for (auto hash = account->begin(); hash != account->end();) {
            hash->removeIf([&](const Waiter &w) {
                if (w.deadline > now)
                    return false;
                expired.append(w);
                return true;
            });
            hash = hash->isEmpty() ? account->erase(hash) : std::next(hash);
        }
        account = account->isEmpty() ? m_parked.erase(account) : std::next(account);
    }
    for (const Waiter &w : std::as_const(expired)) {
        --m_parkedTotal;
        --m_parkedBy[w.session];
        w.session->expireParked(w.id);
    }
    if (m_parkedTotal == 0)
        m_expiry.stop();
}

} // namespace filesync
