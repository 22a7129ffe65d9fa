#include "blockstore.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QSaveFile>

namespace filesync {

LocalBlockStore::LocalBlockStore(const QString &root)
    : m_root(root)
{ }

Result<void> LocalBlockStore::open()
{
    if (!QDir().mkpath(m_root))
        return makeError(QStringLiteral("cannot create the block store at %1").arg(m_root));
    return {};
}

QString LocalBlockStore::pathFor(const ContentHash &hash) const
{
    const QString hex = hash.toString();
    return QStringLiteral("%1/%2/%3/%4").arg(m_root, hex.left(2), hex.mid(2, 2), hex);
}

bool LocalBlockStore::has(const ContentHash &hash) const
{
    return QFileInfo::exists(pathFor(hash));
}

Result<void> LocalBlockStore::put(const ContentHash &hash, const QByteArray &raw)
{
    const QString path = pathFor(hash);
    if (QFileInfo::exists(path))
        return {};
    if (!QDir().mkpath(QFileInfo(path).absolutePath()))
        return makeError(QStringLiteral("cannot create a block directory"));
    const protocol::EncodedBlock encoded = protocol::encodeBlock(raw, 3);
    QSaveFile file(path); // temp file + fsync + rename on commit()
    if (!file.open(QIODevice::WriteOnly))
        return makeError(QStringLiteral("cannot write a block: %1").arg(file.errorString()));
    const char header = char(encoded.codec);
    if (file.write(&header, 1) != 1 || file.write(encoded.data) != encoded.data.size() || !file.commit())
        return makeError(QStringLiteral("cannot write a block: %1").arg(file.errorString()));
    return {};
}

Result<StoredBlock> LocalBlockStore::read(const ContentHash &hash) const
{
    QFile file(pathFor(hash));
    if (!file.open(QIODevice::ReadOnly))
        return makeError(QStringLiteral("block not found"));
    QByteArray bytes = file.readAll();
    if (bytes.isEmpty() || quint8(bytes.at(0)) > 1)
        return makeError(QStringLiteral("corrupt block in the store"));
    StoredBlock block;
    block.codec = protocol::BlockCodec(quint8(bytes.at(0)));
    block.data = bytes.mid(1);
    if (block.codec == protocol::BlockCodec::Raw) {
        block.rawSize = quint32(block.data.size());
    } else {
        const qint64 rawSize = protocol::zstdContentSize(block.data);
        if (rawSize <= 0 || rawSize > protocol::kMaxBlockSize)
            return makeError(QStringLiteral("corrupt block in the store"));
        block.rawSize = quint32(rawSize);
    }
    return block;
}

} // namespace filesync
