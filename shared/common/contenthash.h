#pragma once

#include "result.h"

#include <QByteArray>
#include <QByteArrayView>
#include <QHashFunctions>
#include <QMetaType>

#include <memory>

namespace filesync {

// The SHA-256 of a block or a file: 32 raw bytes. Computed with OpenSSL EVP (about 8x
// faster than QCryptographicHash here, see shared/qt-on-debian12.md).
class ContentHash
{
public:
    static constexpr int kSize = 32;

    ContentHash() = default; // null
    static Result<ContentHash> fromBytes(QByteArrayView raw); // exactly 32 bytes
    static Result<ContentHash> fromHex(QByteArrayView hex);
    static ContentHash of(QByteArrayView data);

    bool isNull() const { return m_bytes.isEmpty(); }
    const QByteArray &bytes() const { return m_bytes; }
    QByteArray toHex() const { return m_bytes.toHex(); }
    QString toString() const { return QString::fromLatin1(toHex()); }

    friend bool operator==(const ContentHash &a, const ContentHash &b) { return a.m_bytes == b.m_bytes; }
    friend bool operator!=(const ContentHash &a, const ContentHash &b) { return a.m_bytes != b.m_bytes; }
    friend bool operator<(const ContentHash &a, const ContentHash &b) { return a.m_bytes < b.m_bytes; }

private:
    QByteArray m_bytes;
    friend class Sha256;
};

inline size_t qHash(const ContentHash &h, size_t seed = 0)
{
    return qHash(h.bytes(), seed);
}

// Incremental SHA-256 over OpenSSL's EVP interface.
class Sha256
{
public:
    Sha256();
    ~Sha256();
    Sha256(const Sha256 &) = delete;
    Sha256 &operator=(const Sha256 &) = delete;

    void addData(QByteArrayView data);
    ContentHash result(); // finishes; the hasher is reset afterwards
    void reset();

private:
    struct Ctx;
    std::unique_ptr<Ctx> d;
};

// Constant-time comparison of two byte strings of equal length (for secrets).
bool constantTimeEquals(QByteArrayView a, QByteArrayView b);

} // namespace filesync

Q_DECLARE_METATYPE(filesync::ContentHash)
