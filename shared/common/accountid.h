#pragma once

#include "result.h"

#include <QByteArray>
#include <QString>

namespace filesync {

// An account's ID: 160 bits from the system CSPRNG, written as 32 lowercase base32
// characters (RFC 4648 alphabet). It is a bearer secret: never log it; the server keeps
// only its SHA-256 (see accountHash()).
class AccountId
{
public:
    static constexpr int kBits = 160;
    static constexpr int kChars = 32;

    AccountId() = default;
    static AccountId generate();
    // Accepts upper or lower case, and ignores spaces and dashes a user may have typed.
    static Result<AccountId> parse(const QString &text);

    bool isNull() const { return m_text.isEmpty(); }
    QString toString() const { return m_text; }
    QByteArray hash() const; // SHA-256 of the text, what the server stores

    friend bool operator==(const AccountId &a, const AccountId &b) { return a.m_text == b.m_text; }

private:
    QString m_text;
};

} // namespace filesync
