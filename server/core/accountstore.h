#pragma once

#include "accountid.h"
#include "metadatastore.h"

#include <QDeadlineTimer>
#include <QHash>
#include <QHostAddress>

namespace filesync {

// Creates and verifies accounts. Keeps only the SHA-256 of an ID, never the ID, and
// never logs one. Failed logins are counted per peer address: after kMaxFailures within
// kWindowMs, that address is refused for kLockoutMs without any lookup. Event thread;
// owned by SyncServer.
class AccountStore
{
public:
    static constexpr int kMaxFailures = 5;
    static constexpr int kWindowMs = 60 * 1000;
    static constexpr int kLockoutMs = 60 * 1000;

    explicit AccountStore(MetadataStore &metadata);

    struct Created
    {
        AccountId id;
        AccountKey key = 0;
    };
    Result<Created> create();

    enum class Verdict { Ok, Unknown, RateLimited, Failed };
    struct Verification
    {
        Verdict verdict = Verdict::Failed;
        AccountKey key = 0;
        QString error;
    };
    Verification verify(const QString &idText, const QHostAddress &peer);

private:
    struct Failures
    {
        int count = 0;
        QDeadlineTimer windowEnds;
        QDeadlineTimer lockedUntil;
    };
    void recordFailure(const QHostAddress &peer);

    MetadataStore &m_metadata;
    QHash<QString, Failures> m_failures; // by peer address
};

} // namespace filesync
