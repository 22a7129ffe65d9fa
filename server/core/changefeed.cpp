#include "changefeed.h"

#include "clientsession.h"

namespace filesync {

void ChangeFeed::subscribe(AccountKey account, ClientSession *session)
{
    m_sessions[account].insert(session);
}

void ChangeFeed::unsubscribe(AccountKey account, ClientSession *session)
{
    auto it = m_sessions.find(account);
    if (it == m_sessions.end())
        return;
    it->remove(session);
    if (it->isEmpty())
        m_sessions.erase(it);
}

void ChangeFeed::publish(AccountKey account, quint64 head)
{
    const QSet<ClientSession *> sessions = m_sessions.value(account);
    for (ClientSession *session : sessions)
        session->notifyAdvanced(head);
}

int ChangeFeed::subscriberCount(AccountKey account) const
{
    return int(m_sessions.value(account).size());
}

} // namespace filesync
