#include "contenthash.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <algorithm>

namespace filesync {

Result<ContentHash> ContentHash::fromBytes(QByteArrayView raw)
{
    if (raw.size() != kSize)
        return makeError(QStringLiteral("a content hash must be %1 bytes, not %2").arg(kSize).arg(raw.size()));
    ContentHash h;
    std::copy(raw.begin(), raw.end(), h.m_bytes.begin());
    h.m_set = true;
    return h;
}

Result<ContentHash> ContentHash::fromHex(QByteArrayView hex)
{
    if (hex.size() != kSize * 2)
        return makeError(QStringLiteral("a content hash must be %1 hex digits").arg(kSize * 2));
    for (const char c : hex) {
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))
            return makeError(QStringLiteral("a content hash must be hexadecimal"));
    }
    return fromBytes(QByteArray::fromHex(hex.toByteArray()));
}

ContentHash ContentHash::of(QByteArrayView data)
{
    Sha256 h;
    h.addData(data);
    return h.result();
}

struct Sha256::Ctx
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    ~Ctx() { EVP_MD_CTX_free(ctx); }
};

Sha256::Sha256()
    : d(std::make_unique<Ctx>())
{
    reset();
}

Sha256::~Sha256() = default;

void Sha256::reset()
{
    EVP_DigestInit_ex(d->ctx, EVP_sha256(), nullptr);
}

void Sha256::addData(QByteArrayView data)
{
    EVP_DigestUpdate(d->ctx, data.data(), size_t(data.size()));
}

ContentHash Sha256::result()
{
    ContentHash h;
    unsigned int len = 0;
    EVP_DigestFinal_ex(d->ctx, h.m_bytes.data(), &len);
    Q_ASSERT(len == ContentHash::kSize);
    h.m_set = true;
    reset();
    return h;
}

bool constantTimeEquals(QByteArrayView a, QByteArrayView b)
{
    if (a.size() != b.size())
        return false;
    return CRYPTO_memcmp(a.data(), b.data(), size_t(a.size())) == 0;
}

} // namespace filesync
