#include "blockstore.h"

#include "serverlogging.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QRandomGenerator>
#include <QtEndian>

#include <fcntl.h>
#include <unistd.h>

namespace filesync {

using protocol::BlockCodec;

namespace {

constexpr int kHeaderSize = 5; // codec, raw size (big-endian)
constexpr char kTmpDir[] = "tmp";

// Makes a rename in `dir` durable.
void syncDirectory(const QString &dir)
{
    const int fd = ::open(QFile::encodeName(dir).constData(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return;
    if (::fsync(fd) != 0)
        qCWarning(lcBlocks) << "cannot sync the directory" << dir;
    ::close(fd);
}

} // namespace

LocalBlockStore::LocalBlockStore(const QString &root)
    : m_root(root)
{ }

Result<void> LocalBlockStore::open()
{
    const QString tmp = m_root + u'/' + QLatin1String(kTmpDir);
    if (!QDir().mkpath(tmp))
        return makeError(QStringLiteral("cannot create the block store at %1").arg(m_root));
    // Writes cut off by a crash; nothing refers to them.
    const QStringList leftovers = QDir(tmp).entryList(QDir::Files | QDir::Hidden);
    for (const QString &name : leftovers)
        QFile::remove(tmp + u'/' + name);
    if (!leftovers.isEmpty())
        qCInfo(lcBlocks) << "removed" << leftovers.size() << "unfinished block writes";
    QFile probe(tmp + QStringLiteral("/probe"));
    if (!probe.open(QIODevice::WriteOnly))
        return makeError(QStringLiteral("the block store %1 is not writable: %2").arg(m_root, probe.errorString()));
    probe.remove();
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

Result<void> LocalBlockStore::put(
    const ContentHash &hash, const QByteArray &raw, const protocol::EncodedBlock &wireForm)
{
    if (raw.isEmpty() || raw.size() > protocol::kMaxBlockSize)
        return makeError(QStringLiteral("a block must hold 1 byte to 16 MiB"));
    const QString path = pathFor(hash);
    if (QFileInfo::exists(path))
        return {}; // stored once per server
    if (ContentHash::of(raw) != hash)
        return makeError(QStringLiteral("the block's bytes do not match its hash"));

    const protocol::EncodedBlock encoded
        = wireForm.codec == BlockCodec::Zstd ? wireForm : protocol::encodeBlock(raw, 1);
    QByteArray header(kHeaderSize, Qt::Uninitialized);
    header[0] = char(encoded.codec);
    qToBigEndian(quint32(raw.size()), header.data() + 1);

    const QString tmpPath = QStringLiteral("%1/%2/%3.%4")
                                .arg(m_root, QLatin1String(kTmpDir), hash.toString())
                                .arg(QRandomGenerator::global()->generate64(), 16, 16, QLatin1Char('0'));
    QFile file(tmpPath);
    auto failed = [&file](const QString &what) {
        const QString reason = file.errorString();
        file.close();
        file.remove();
        qCWarning(lcBlocks) << "cannot" << what << "a block:" << reason;
        return makeError(QStringLiteral("the server cannot store a block: %1").arg(reason));
    };
    if (!file.open(QIODevice::WriteOnly | QIODevice::NewOnly))
        return failed(QStringLiteral("create"));
    if (file.write(header) != header.size() || file.write(encoded.data) != encoded.data.size() || !file.flush())
        return failed(QStringLiteral("write"));
    if (::fdatasync(file.handle()) != 0)
        return failed(QStringLiteral("sync"));
    file.close();
    const QString dir = QFileInfo(path).absolutePath();
    if (!QDir().mkpath(dir))
        return failed(QStringLiteral("make the directory of"));
    if (::rename(QFile::encodeName(tmpPath).constData(), QFile::encodeName(path).constData()) != 0)
        return failed(QStringLiteral("rename"));
    syncDirectory(dir);
    return {};
}

Result<StoredBlock> LocalBlockStore::get(const ContentHash &hash) const
{
    QFile file(pathFor(hash));
    if (!file.open(QIODevice::ReadOnly))
        return makeError(QStringLiteral("no such block"));
    if (file.size() > kHeaderSize + protocol::kMaxBlockFrame)
        return makeError(QStringLiteral("a corrupt block in the store"));
    const QByteArray bytes = file.readAll();
    auto corrupt = [&hash] {
        qCWarning(lcBlocks) << "corrupt block" << hash.toString();
        return makeError(QStringLiteral("a corrupt block in the store"));
    };
    if (bytes.size() < kHeaderSize || quint8(bytes.at(0)) > quint8(BlockCodec::Zstd))
        return corrupt();
    StoredBlock block;
    block.codec = BlockCodec(quint8(bytes.at(0)));
    block.rawSize = qFromBigEndian<quint32>(bytes.constData() + 1);
    block.data = bytes.mid(kHeaderSize);
    if (block.rawSize == 0 || block.rawSize > protocol::kMaxBlockSize || block.data.isEmpty()
        || (block.codec == BlockCodec::Raw && quint32(block.data.size()) != block.rawSize))
        return corrupt();
    return block;
}

} // namespace filesync
