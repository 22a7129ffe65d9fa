// The messages of a session: handshake and login, Stats, ErrorReply.
#include "messages.h"

#include "messagefields.h"

namespace filesync::protocol {

using namespace fields;

// ---- handshake and login ----

QCborMap Hello::toCbor() const
{
    return QCborMap { { QLatin1String("magic"), QLatin1String(kMagic) }, { QLatin1String("version"), qint64(version) },
        { QLatin1String("software"), software } };
}

Result<Hello> Hello::fromCbor(const QCborMap &m)
{
    TRY(magic, readText(m, "magic", true, 16));
    if (*magic != QLatin1String(kMagic))
        return makeError(QStringLiteral("not a FileSync client (bad magic)"));
    TRY(version, readU32(m, "version"));
    TRY(software, readText(m, "software", false, 256));
    return Hello { *version, *software };
}

QCborMap Welcome::toCbor() const
{
    return QCborMap { { QLatin1String("version"), qint64(version) }, { QLatin1String("software"), software } };
}

Result<Welcome> Welcome::fromCbor(const QCborMap &m)
{
    TRY(version, readU32(m, "version"));
    TRY(software, readText(m, "software", false, 256));
    return Welcome { *version, *software };
}

QCborMap Login::toCbor() const
{
    return QCborMap { { QLatin1String("account"), account }, { QLatin1String("session"), session } };
}

Result<Login> Login::fromCbor(const QCborMap &m)
{
    TRY(account, readText(m, "account", true, 128));
    TRY(session, readText(m, "session", false, 128));
    return Login { *account, *session };
}

QCborMap CreateAccount::toCbor() const
{
    return QCborMap { { QLatin1String("session"), session } };
}

Result<CreateAccount> CreateAccount::fromCbor(const QCborMap &m)
{
    TRY(session, readText(m, "session", false, 128));
    return CreateAccount { *session };
}

QCborMap LoginOk::toCbor() const
{
    QCborMap m { { QLatin1String("session"), u(sessionId) }, { QLatin1String("head"), u(head) } };
    if (!account.isEmpty())
        m.insert(QLatin1String("account"), account);
    return m;
}

Result<LoginOk> LoginOk::fromCbor(const QCborMap &m)
{
    TRY(account, readText(m, "account", false, 128));
    TRY(session, readUInt(m, "session"));
    TRY(head, readUInt(m, "head"));
    return LoginOk { *account, *session, *head };
}

QCborMap Stats::toCbor() const
{
    return QCborMap { { QLatin1String("in"), u(bytesIn) }, { QLatin1String("out"), u(bytesOut) },
        { QLatin1String("serverIn"), u(serverBytesIn) }, { QLatin1String("serverOut"), u(serverBytesOut) },
        { QLatin1String("sessions"), u(sessions) } };
}

Result<Stats> Stats::fromCbor(const QCborMap &m)
{
    TRY(in, readUInt(m, "in"));
    TRY(out, readUInt(m, "out"));
    TRY(sin, readUInt(m, "serverIn"));
    TRY(sout, readUInt(m, "serverOut"));
    TRY(sessions, readUInt(m, "sessions"));
    return Stats { *in, *out, *sin, *sout, *sessions };
}

QCborMap ErrorReply::toCbor() const
{
    QCborMap m { { QLatin1String("code"), code }, { QLatin1String("message"), message } };
    if (!scope.isEmpty())
        m.insert(QLatin1String("scope"), scope);
    if (retryAfter > 0)
        m.insert(QLatin1String("retryAfter"), qint64(retryAfter));
    return m;
}

Result<ErrorReply> ErrorReply::fromCbor(const QCborMap &m)
{
    TRY(code, readText(m, "code", true, 64));
    TRY(message, readText(m, "message", false, 1024));
    TRY(scope, readText(m, "scope", false, 16));
    TRY(retryAfter, readU32(m, "retryAfter", false));
    return ErrorReply { *code, *message, *scope, *retryAfter };
}

} // namespace filesync::protocol
