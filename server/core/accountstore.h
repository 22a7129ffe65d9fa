#pragma once

#include "accountid.h"
#include "loginlimiter.h"
#include "metadatastore.h"

#include <QHostAddress>

namespace filesync {

// Creates and verifies accounts. Keeps only the SHA-256 of an ID, never the ID, and
// never logs one. Failed logins are limited by LoginLimiter: a refused login is not looked
// up. Event thread; owned by SyncServer.
class AccountStore
{
public:
    explicit AccountStore(MetadataStore &metadata, const LoginLimits &limits = {});

    enum class Verdict { Ok, Unknown, RateLimited, Failed };
    struct Created
    {
        Verdict verdict = Verdict::Failed; // Ok, RateLimited or Failed
        AccountId id;
        AccountKey key = 0;
        QString error;
        LoginLimiter::Refusal refusal; // RateLimited: for how long (nothing was created)
    };
    // A new account for `peer`, unless its address has created too many lately.
    Created create(const QHostAddress &peer);

    struct Verification
    {
        Verdict verdict = Verdict::Failed;
        AccountKey key = 0;
        QString error;
        LoginLimiter::Refusal refusal; // RateLimited: which limit, and for how long
    };
    Verification verify(const QString &idText, const QHostAddress &peer);

private:
    MetadataStore &m_metadata;
    LoginLimiter m_limiter;
};

} // namespace filesync
