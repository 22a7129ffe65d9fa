#pragma once

#include "metadatastore.h"

#include <QHash>
#include <QObject>
#include <QSet>

namespace filesync {

class ClientSession;

// Who is connected to which account, and telling them when the account advances:
// after every commit that moved an account's head, each connected session of that
// account (the committer included) gets Advanced{head}. Event thread; owned by
// SyncServer; sessions register and unregister themselves.
class ChangeFeed
{
public:
    void subscribe(AccountKey account, ClientSession *session);
    void unsubscribe(AccountKey account, ClientSession *session);
    void publish(AccountKey account, quint64 head);
    int subscriberCount(AccountKey account) const;

private:
    QHash<AccountKey, QSet<ClientSession *>> m_sessions;
};

} // namespace filesync
