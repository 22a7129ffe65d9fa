#include "messagefields.h"

namespace filesync::protocol::fields {

Error fieldError(const char *field, const char *what)
{
    return makeError(QStringLiteral("field '%1' %2").arg(QLatin1String(field), QLatin1String(what)));
}

Result<quint64> readUInt(const QCborMap &map, const char *field, bool required, quint64 fallback)
{
    const QCborValue v = map.value(QLatin1String(field));
    if (v.isUndefined())
        return required ? Result<quint64>(fieldError(field, "is missing")) : Result<quint64>(fallback);
    if (!v.isInteger() || v.toInteger() < 0)
        return fieldError(field, "must be a non-negative integer");
    return quint64(v.toInteger());
}

Result<qint64> readInt(const QCborMap &map, const char *field, bool required)
{
    const QCborValue v = map.value(QLatin1String(field));
    if (v.isUndefined())
        return required ? Result<qint64>(fieldError(field, "is missing")) : Result<qint64>(qint64(0));
    if (!v.isInteger())
        return fieldError(field, "must be an integer");
    return v.toInteger();
}

Result<QString> readText(const QCborMap &map, const char *field, bool required, qsizetype maxChars)
{
    const QCborValue v = map.value(QLatin1String(field));
    if (v.isUndefined())
        return required ? Result<QString>(fieldError(field, "is missing")) : Result<QString>(QString());
    if (!v.isString())
        return fieldError(field, "must be a text string");
    QString s = v.toString();
    if (s.size() > maxChars)
        return fieldError(field, "is too long");
    return s;
}

Result<bool> readBool(const QCborMap &map, const char *field)
{
    const QCborValue v = map.value(QLatin1String(field));
    if (v.isUndefined())
        return false;
    if (!v.isBool())
        return fieldError(field, "must be a boolean");
    return v.toBool();
}

Result<QByteArray> readBytes(const QCborMap &map, const char *field)
{
    const QCborValue v = map.value(QLatin1String(field));
    if (!v.isByteArray())
        return fieldError(field, v.isUndefined() ? "is missing" : "must be a byte string");
    return v.toByteArray();
}

Result<QCborArray> readArray(const QCborMap &map, const char *field, qsizetype maxItems, bool required)
{
    const QCborValue v = map.value(QLatin1String(field));
    if (v.isUndefined())
        return required ? Result<QCborArray>(fieldError(field, "is missing")) : Result<QCborArray>(QCborArray());
    if (!v.isArray())
        return fieldError(field, "must be an array");
    QCborArray a = v.toArray();
    if (a.size() > maxItems)
        return fieldError(field, "has too many items");
    return a;
}

Result<ContentHash> readHash(const QCborMap &map, const char *field)
{
    auto bytes = readBytes(map, field);
    if (!bytes)
        return bytes.error();
    return ContentHash::fromBytes(*bytes);
}

Result<RelativePath> readPath(const QCborMap &map, const char *field)
{
    auto text = readText(map, field, true, RelativePath::kMaxBytes);
    if (!text)
        return text.error();
    auto path = RelativePath::fromString(*text);
    if (!path)
        return makeError(QStringLiteral("bad path in '%1': %2").arg(QLatin1String(field), path.errorMessage()));
    if (path->isRoot())
        return makeError(QStringLiteral("bad path in '%1': empty").arg(QLatin1String(field)));
    return path;
}

Result<quint32> readU32(const QCborMap &map, const char *field, bool required)
{
    auto v = readUInt(map, field, required);
    if (!v)
        return v.error();
    if (*v > 0xffffffffu)
        return fieldError(field, "is out of range");
    return quint32(*v);
}

QCborValue u(quint64 v)
{
    return QCborValue(qint64(v));
}

QCborArray blocksToCbor(const QList<BlockRef> &blocks)
{
    QCborArray a;
    for (const BlockRef &b : blocks)
        a.append(QCborArray { b.hash.bytes(), qint64(b.size) });
    return a;
}

Result<QList<BlockRef>> blocksFromCbor(const QCborMap &map, const char *field)
{
    auto array = readArray(map, field, kMaxBlocksPerEntry, false);
    if (!array)
        return array.error();
    QList<BlockRef> blocks;
    blocks.reserve(array->size());
    for (const QCborValue &item : *array) {
        const QCborArray pair = item.toArray();
        if (!item.isArray() || pair.size() != 2 || !pair.at(0).isByteArray() || !pair.at(1).isInteger())
            return fieldError(field, "must hold [hash, size] pairs");
        auto hash = ContentHash::fromBytes(pair.at(0).toByteArray());
        if (!hash)
            return hash.error();
        const qint64 size = pair.at(1).toInteger();
        if (size <= 0 || size > kMaxBlockSize)
            return fieldError(field, "has a block size out of range");
        blocks.append(BlockRef { *hash, quint32(size) });
    }
    return blocks;
}

Result<EntryKind> readKind(const QCborMap &map)
{
    auto k = readUInt(map, "kind", false, 0);
    if (!k)
        return k.error();
    if (*k > 1)
        return fieldError("kind", "must be 0 (file) or 1 (directory)");
    return EntryKind(*k);
}

// Checks that a file's fields agree: directories have no content, files' size = sum of blocks.
Result<void> checkContent(EntryKind kind, qint64 size, const QList<BlockRef> &blocks)
{
    if (size < 0)
        return makeError(QStringLiteral("negative size"));
    if (kind == EntryKind::Directory && (size != 0 || !blocks.isEmpty()))
        return makeError(QStringLiteral("a directory has no content"));
    if (kind == EntryKind::File && totalSize(blocks) != size)
        return makeError(QStringLiteral("size does not match the block list"));
    return {};
}

} // namespace filesync::protocol::fields
