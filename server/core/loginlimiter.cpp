#include "loginlimiter.h"

namespace filesync {

namespace {
constexpr int kPruneAbove = 4096; // tracked buckets before refilled ones are dropped
constexpr int kMaxTracked = 100000; // beyond it, every address is gated by the global bucket
constexpr int kIdPrefixBytes = 8;

QByteArray idKey(const QString &address, const QByteArray &idHash)
{
    return address.toUtf8() + '/' + idHash.left(kIdPrefixBytes);
}
} // namespace

LoginLimiter::LoginLimiter(const LoginLimits &limits)
    : m_limits(limits)
{
    m_clock.start();
}

QString LoginLimiter::scopeName(Scope scope)
{
    switch (scope) {
    case Scope::Account:
        return QStringLiteral("account");
    case Scope::Address:
        return QStringLiteral("address");
    case Scope::Global:
        return QStringLiteral("global");
    case Scope::None:
        break;
    }
    return QString();
}

QString LoginLimiter::addressKey(const QHostAddress &peer)
{
    bool isV4 = false;
    const quint32 v4 = peer.toIPv4Address(&isV4); // also an IPv4-mapped IPv6 address
    if (isV4)
        return QHostAddress(v4).toString();
    // One IPv6 host usually has a whole /64 to pick addresses from.
    Q_IPV6ADDR v6 = peer.toIPv6Address();
    for (int i = 8; i < 16; ++i)
        v6[i] = 0;
    return QHostAddress(v6).toString() + QStringLiteral("/64");
}

// How long until the bucket holds a token (0: it holds one now).
qint64 LoginLimiter::waitMs(FullAt fullAt, const TokenBucketLimit &limit, qint64 now)
{
    const qint64 emptyBy = fullAt - qint64(limit.burst - 1) * limit.refillMs;
    return qMax<qint64>(0, emptyBy - now);
}

void LoginLimiter::take(FullAt &fullAt, const TokenBucketLimit &limit, qint64 now)
{
    fullAt = qMax(fullAt, now) + limit.refillMs;
}

LoginLimiter::Refusal LoginLimiter::check(const QHostAddress &peer, const QByteArray &idHash) const
{
    const qint64 t = now();
    const QString address = addressKey(peer);
    const auto refusal = [](Scope scope, qint64 ms) { return Refusal { scope, int((ms + 999) / 1000) }; };
    if (const qint64 ms = waitMs(m_perId.value(idKey(address, idHash)), m_limits.perId, t))
        return refusal(Scope::Account, ms);
    const FullAt addressFullAt = m_perAddress.value(address);
    if (const qint64 ms = waitMs(addressFullAt, m_limits.perAddress, t))
        return refusal(Scope::Address, ms);
    const bool failedRecently = addressFullAt > t;
    if (failedRecently || m_perAddress.size() >= kMaxTracked) {
        if (const qint64 ms = waitMs(m_global, m_limits.global, t))
            return refusal(Scope::Global, ms);
    }
    return {};
}

void LoginLimiter::recordFailure(const QHostAddress &peer, const QByteArray &idHash)
{
    const qint64 t = now();
    const QString address = addressKey(peer);
    take(m_perId[idKey(address, idHash)], m_limits.perId, t);
    take(m_perAddress[address], m_limits.perAddress, t);
    take(m_global, m_limits.global, t);
    prune(t);
}

LoginLimiter::Refusal LoginLimiter::checkCreation(const QHostAddress &peer) const
{
    if (const qint64 ms = waitMs(m_creations.value(addressKey(peer)), m_limits.creationsPerAddress, now()))
        return Refusal { Scope::Address, int((ms + 999) / 1000) };
    return {};
}

void LoginLimiter::recordCreation(const QHostAddress &peer)
{
    const qint64 t = now();
    take(m_creations[addressKey(peer)], m_limits.creationsPerAddress, t);
    prune(t);
}

void LoginLimiter::prune(qint64 now)
{
    if (m_perId.size() + m_perAddress.size() + m_creations.size() <= kPruneAbove || now - m_prunedAt < 1000)
        return;
    m_prunedAt = now;
    m_perId.removeIf([now](const auto &it) { return it.value() <= now; });
    m_perAddress.removeIf([now](const auto &it) { return it.value() <= now; });
    m_creations.removeIf([now](const auto &it) { return it.value() <= now; });
}

} // namespace filesync
