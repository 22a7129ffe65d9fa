#include "accountstore.h"

#include "contenthash.h"

namespace filesync {

AccountStore::AccountStore(MetadataStore &metadata)
    : m_metadata(metadata)
{ }

Result<AccountStore::Created> AccountStore::create()
{
    const AccountId id = AccountId::generate();
    auto key = m_metadata.createAccount(id.hash());
    if (!key)
        return key.error();
    return Created { id, *key };
}

AccountStore::Verification AccountStore::verify(const QString &idText, const QHostAddress &peer)
{
    const QString address = peer.toString();
    auto it = m_failures.find(address);
    if (it != m_failures.end() && !it->lockedUntil.hasExpired())
        return { Verdict::RateLimited, 0, {} };

    const auto parsed = AccountId::parse(idText);
    if (!parsed) {
        recordFailure(peer);
        return { Verdict::Unknown, 0, {} };
    }
    const QByteArray hash = parsed->hash();
    auto found = m_metadata.findAccount(hash);
    if (!found)
        return { Verdict::Failed, 0, found.errorMessage() };
    // The lookup is by the hash of a 160-bit secret, so its timing reveals nothing
    // usable; the final comparison is constant-time all the same.
    if (!*found || !constantTimeEquals((*found)->idHash, hash)) {
        recordFailure(peer);
        return { Verdict::Unknown, 0, {} };
    }
    return { Verdict::Ok, (*found)->key, {} };
}

void AccountStore::recordFailure(const QHostAddress &peer)
{
    Failures &f = m_failures[peer.toString()];
    if (f.windowEnds.hasExpired()) { // a default timer is expired
        f.count = 0;
        f.windowEnds = QDeadlineTimer(kWindowMs);
    }
    if (++f.count >= kMaxFailures) {
        f.lockedUntil = QDeadlineTimer(kLockoutMs);
        f.count = 0;
    }
    // Bound the table: forget addresses whose window and lockout are over.
    if (m_failures.size() > 10000) {
        for (auto it = m_failures.begin(); it != m_failures.end();) {
            if (it->windowEnds.hasExpired() && it->lockedUntil.hasExpired())
                it = m_failures.erase(it);
            else
                ++it;
        }
    }
}

} // namespace filesync
