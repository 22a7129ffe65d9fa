#include "accountstore.h"

#include "contenthash.h"

namespace filesync {

AccountStore::AccountStore(MetadataStore &metadata, const LoginLimits &limits)
    : m_metadata(metadata)
    , m_limiter(limits)
{ }

AccountStore::Created AccountStore::create(const QHostAddress &peer)
{
    if (const auto refusal = m_limiter.checkCreation(peer))
        return { Verdict::RateLimited, {}, 0, {}, refusal };
    const AccountId id = AccountId::generate();
    auto key = m_metadata.createAccount(id.hash());
    if (!key)
        return { Verdict::Failed, {}, 0, key.errorMessage(), {} };
    m_limiter.recordCreation(peer);
    return { Verdict::Ok, id, *key, {}, {} };
}

AccountStore::Verification AccountStore::verify(const QString &idText, const QHostAddress &peer)
{
    const auto parsed = AccountId::parse(idText);
    // Text that is no ID counts against its own bucket too (hashed, as it may be a typo of one).
    const QByteArray hash = parsed ? parsed->hash() : ContentHash::of(idText.toUtf8()).bytes();
    if (const auto refusal = m_limiter.check(peer, hash))
        return { Verdict::RateLimited, 0, {}, refusal };
    if (!parsed) {
        m_limiter.recordFailure(peer, hash);
        return { Verdict::Unknown, 0, {}, {} };
    }
    auto found = m_metadata.findAccount(hash);
    if (!found)
        return { Verdict::Failed, 0, found.errorMessage(), {} };
    // The lookup is by the hash of a 160-bit secret, so its timing reveals nothing
    // usable; the final comparison is constant-time all the same.
    if (!*found || !constantTimeEquals((*found)->idHash, hash)) {
        m_limiter.recordFailure(peer, hash);
        return { Verdict::Unknown, 0, {}, {} };
    }
    return { Verdict::Ok, (*found)->key, {}, {} };
}

} // namespace filesync
