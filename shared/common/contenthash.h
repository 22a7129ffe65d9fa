#pragma once

#include "result.h"

#include <QByteArray>
#include <QByteArrayView>
#include <QHashFunctions>
#include <QMetaType>

#include <array>
#include <memory>

namespace filesync {

// The SHA-256 of a block or a file: 32 raw bytes. Computed with OpenSSL EVP (about 8x
// faster than QCryptographicHash here, see shared/qt-on-debian12.md).
// The bytes are held inline, not in a QByteArray: a client holds one hash per block of
// every file it knows, several times over (journal, scan, plan), and a QByteArray cost a
// 64-byte heap chunk per hash on top of its 24 bytes inline.
class ContentHash
{
public:
    static constexpr int kSize = 32;

    ContentHash() = default; // null
    static Result<ContentHash> fromBytes(QByteArrayView raw); // exactly 32 bytes
    static Result<ContentHash> fromHex(QByteArrayView hex);
    static ContentHash of(QByteArrayView data);

    bool isNull() const { return !m_set; }
    // A copy of the 32 bytes (empty when null); view() reads them without allocating.
    QByteArray bytes() const { return view().toByteArray(); }
    // Valid as long as this hash is.
    QByteArrayView view() const
    {
        return m_set ? QByteArrayView(reinterpret_cast<const char *>(m_bytes.data()), kSize) : QByteArrayView();
    }
    QByteArray toHex() const { return bytes().toHex(); }
    QString toString() const { return QString::fromLatin1(toHex()); }

    friend bool operator==(const ContentHash &a, const ContentHash &b)
    {
        return a.m_set == b.m_set && a.m_bytes == b.m_bytes;
    }
    friend bool operator!=(const ContentHash &a, const ContentHash &b) { return !(a == b); }
    // The order of the raw bytes (unsigned, as QByteArray compares), a null hash first.
    friend bool operator<(const ContentHash &a, const ContentHash &b)
    {
        return a.m_set != b.m_set ? b.m_set : a.m_bytes < b.m_bytes;
    }

private:
    std::array<unsigned char, kSize> m_bytes {}; // all zero when null
    bool m_set = false;
    friend class Sha256;
};

inline size_t qHash(const ContentHash &h, size_t seed = 0)
{
    return qHash(h.view(), seed);
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
