#pragma once

// The CBOR field readers and writers that the messages' toCbor() and fromCbor() share:
// for shared/protocol/messages*.cpp only, not part of the library's interface.
#include "messages.h"

#include <QCborArray>
#include <QCborMap>
#include <QCborValue>

namespace filesync::protocol::fields {

// Field readers: each checks the CBOR type and range and names the field in its error.
Error fieldError(const char *field, const char *what);
Result<quint64> readUInt(const QCborMap &map, const char *field, bool required = true, quint64 fallback = 0);
Result<qint64> readInt(const QCborMap &map, const char *field, bool required = true);
Result<QString> readText(const QCborMap &map, const char *field, bool required = true, qsizetype maxChars = 4096);
Result<bool> readBool(const QCborMap &map, const char *field);
Result<QByteArray> readBytes(const QCborMap &map, const char *field);
Result<QCborArray> readArray(const QCborMap &map, const char *field, qsizetype maxItems, bool required = true);
Result<ContentHash> readHash(const QCborMap &map, const char *field);
Result<RelativePath> readPath(const QCborMap &map, const char *field);
Result<quint32> readU32(const QCborMap &map, const char *field, bool required = true);
QCborValue u(quint64 v);
QCborArray blocksToCbor(const QList<BlockRef> &blocks);
Result<QList<BlockRef>> blocksFromCbor(const QCborMap &map, const char *field);
Result<EntryKind> readKind(const QCborMap &map);
Result<void> checkContent(EntryKind kind, qint64 size, const QList<BlockRef> &blocks);

} // namespace filesync::protocol::fields

#define TRY(var, expr)                                                                                                 \
    auto var = (expr);                                                                                                 \
    if (!var)                                                                                                          \
        return var.error();
