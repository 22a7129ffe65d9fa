#pragma once

#include <QByteArray>
#include <QElapsedTimer>
#include <QHash>
#include <QHostAddress>
#include <QString>

namespace filesync {

// One token bucket: `burst` failures at once, then one more every `refillMs`.
struct TokenBucketLimit
{
    int burst = 1;
    int refillMs = 1000;
};

// The failed-login limits (docs/operations.md "Security"). A failed login takes a token
// from each of its buckets; a login is refused, without looking its ID up, while one of
// them is empty. Success takes nothing. Account creation has a bucket of its own, per
// address, which every account created takes from.
struct LoginLimits
{
    // Per (address, attempted ID): a client stuck with a wrong ID, without slowing the
    // right ID from the same address.
    TokenBucketLimit perId { 5, 12 * 1000 };
    // Per address (IPv6: per /64): generous, so a NAT's users are not refused for each
    // other's typos; caps what one address can guess.
    TokenBucketLimit perAddress { 30, 2 * 1000 };
    // All failures together; it refuses only addresses that failed recently, so an
    // attack from elsewhere does not lock out the others.
    TokenBucketLimit global { 600, 100 };
    // Accounts created per address (IPv6: per /64): a row each, asked for before any
    // login, so a stranger could otherwise grow the database as fast as it can ask.
    TokenBucketLimit creationsPerAddress { 20, 10 * 1000 };
};

// Keeps the buckets of LoginLimits. Only a 64-bit prefix of the attempted ID's SHA-256 is
// kept, never the ID. Buckets that have refilled are forgotten, which bounds the memory.
// Event thread; owned by AccountStore.
class LoginLimiter
{
public:
    enum class Scope { None, Account, Address, Global };
    struct Refusal
    {
        Scope scope = Scope::None;
        int retryAfterSeconds = 0; // until the bucket holds a token again
        explicit operator bool() const { return scope != Scope::None; }
    };

    explicit LoginLimiter(const LoginLimits &limits = {});

    // `idHash`: SHA-256 of the attempted ID (whatever was sent, when it does not parse).
    Refusal check(const QHostAddress &peer, const QByteArray &idHash) const;
    void recordFailure(const QHostAddress &peer, const QByteArray &idHash);
    // Account creation: refused (Scope::Address) while the address's bucket is empty.
    Refusal checkCreation(const QHostAddress &peer) const;
    void recordCreation(const QHostAddress &peer);

    static QString scopeName(Scope scope); // the wire's "account" / "address" / "global"
    static QString addressKey(const QHostAddress &peer); // IPv4, or the IPv6 /64

private:
    // GCRA form of a token bucket: the time at which it is full again.
    using FullAt = qint64;
    qint64 now() const { return m_clock.elapsed(); }
    static qint64 waitMs(FullAt fullAt, const TokenBucketLimit &limit, qint64 now);
    static void take(FullAt &fullAt, const TokenBucketLimit &limit, qint64 now);
    void prune(qint64 now);

    LoginLimits m_limits;
    QElapsedTimer m_clock;
    QHash<QByteArray, FullAt> m_perId; // address key + ID hash prefix
    QHash<QString, FullAt> m_perAddress;
    QHash<QString, FullAt> m_creations; // per address key
    FullAt m_global = 0;
    qint64 m_prunedAt = 0;
};

} // namespace filesync
