#include "accountid.h"
#include "contenthash.h"

#include <QRandomGenerator>

namespace filesync {

namespace {
constexpr char kAlphabet[] = "abcdefghijklmnopqrstuvwxyz234567";
}

AccountId AccountId::generate()
{
    quint32 words[kBits / 32];
    QRandomGenerator::system()->fillRange(words);
    const QByteArray raw(reinterpret_cast<const char *>(words), sizeof(words));
    QString text;
    text.reserve(kChars);
    quint64 buffer = 0;
    int bits = 0;
    for (const char byte : raw) {
        buffer = (buffer << 8) | quint8(byte);
        bits += 8;
        while (bits >= 5) {
            text.append(QLatin1Char(kAlphabet[(buffer >> (bits - 5)) & 31]));
            bits -= 5;
        }
    }
    Q_ASSERT(bits == 0 && text.size() == kChars);
    AccountId id;
    id.m_text = text;
    return id;
}

Result<AccountId> AccountId::parse(const QString &input)
{
    QString text;
    for (const QChar c : input) {
        if (c == u' ' || c == u'-')
            continue;
        const QChar l = c.toLower();
        const bool valid = (l >= u'a' && l <= u'z') || (l >= u'2' && l <= u'7');
        if (!valid)
            return makeError(QStringLiteral("an account ID has only the letters a-z and the digits 2-7"));
        text.append(l);
    }
    if (text.size() != kChars)
        return makeError(
            QStringLiteral("an account ID has %1 characters, this one has %2").arg(kChars).arg(text.size()));
    AccountId id;
    id.m_text = text;
    return id;
}

QByteArray AccountId::hash() const
{
    return ContentHash::of(m_text.toLatin1()).bytes();
}

} // namespace filesync
