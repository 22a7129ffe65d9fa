#include "blockstore.h"

#include "serverlogging.h"

#include <QDir>
#include <QFileInfo>
#include <QRandomGenerator>
#include <QtEndian>

#include <fcntl.h>
#include <unistd.h>

namespace filesync {

using protocol::BlockCodec;

namespace {

constexpr int kHeaderSize = 5; // codec, raw size (big-endian)

// fsync / fdatasync / syncfs on a path; false (and a warning) when it fails.
bool syncPath(const QString &path, int (*call)(int), int flags = O_RDONLY)
{
    const int fd = ::open(QFile::encodeName(path).constData(), flags | O_CLOEXEC);
    if (fd < 0)
        return false;
    const bool ok = call(fd) == 0;
    ::close(fd);
    if (!ok)
        qCWarning(lcBlocks) << "cannot sync" << path;
    return ok;
}

} // namespace

LocalBlockStore::LocalBlockStore(const QString &root)
    : m_root(root)
    , m_journal(root + QStringLiteral("/unsynced"))
{ }

LocalBlockStore::~LocalBlockStore()
{
    if (m_journal.isOpen())
        (void)sync();
}

Result<void> LocalBlockStore::open()
{
    const QString tmp = m_root + QStringLiteral("/tmp");
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
    recover();
    if (!m_journal.open(QIODevice::WriteOnly | QIODevice::Truncate | QIODevice::Unbuffered))
        return makeError(QStringLiteral("cannot open %1: %2").arg(m_journal.fileName(), m_journal.errorString()));
    return {};
}

void LocalBlockStore::recover()
{
    QFile journal(m_journal.fileName());
    if (!journal.open(QIODevice::ReadOnly) || journal.size() == 0)
        return;
    int checked = 0;
    int dropped = 0;
    while (!journal.atEnd()) {
        const auto hash = ContentHash::fromHex(journal.readLine().trimmed());
        if (!hash || !has(*hash))
            continue;
        ++checked;
        const auto stored = get(*hash);
        if (stored && protocol::decodeAndVerify({ *hash, stored->codec, stored->rawSize, stored->data }))
            continue;
        QFile::remove(existingPathFor(*hash));
        ++dropped;
    }
    qCInfo(lcBlocks) << "after an unclean stop: checked" << checked << "recent blocks, dropped" << dropped
                     << "damaged ones";
}

QString LocalBlockStore::pathFor(const ContentHash &hash) const
{
    const QString hex = hash.toString();
    return QStringLiteral("%1/%2/%3").arg(m_root, hex.left(2), hex);
}

QString LocalBlockStore::legacyPathFor(const ContentHash &hash) const
{
    const QString hex = hash.toString();
    return QStringLiteral("%1/%2/%3/%4").arg(m_root, hex.left(2), hex.mid(2, 2), hex);
}

QString LocalBlockStore::existingPathFor(const ContentHash &hash) const
{
    QString path = pathFor(hash);
    if (QFileInfo::exists(path))
        return path;
    path = legacyPathFor(hash);
    return QFileInfo::exists(path) ? path : QString();
}

bool LocalBlockStore::has(const ContentHash &hash) const
{
    return !existingPathFor(hash).isEmpty();
}

Result<void> LocalBlockStore::put(
    const ContentHash &hash, const QByteArray &raw, const protocol::EncodedBlock &wireForm)
{
    if (raw.isEmpty() || raw.size() > protocol::kMaxBlockSize)
        return makeError(QStringLiteral("a block must hold 1 byte to 16 MiB"));
    if (has(hash))
        return {}; // stored once per server
    if (ContentHash::of(raw) != hash)
        return makeError(QStringLiteral("the block's bytes do not match its hash"));
    const protocol::EncodedBlock encoded
        = wireForm.codec == BlockCodec::Zstd ? wireForm : protocol::encodeBlock(raw, 1);
    if (auto written = write(hash, encoded, quint32(raw.size())); !written)
        return written;
    if (m_pending.size() >= kMaxPending) // bounds the memory and what a crash can damage
        return sync();
    return {};
}

Result<void> LocalBlockStore::write(const ContentHash &hash, const protocol::EncodedBlock &encoded, quint32 rawSize)
{
    QByteArray header(kHeaderSize, Qt::Uninitialized);
    header[0] = char(encoded.codec);
    qToBigEndian(rawSize, header.data() + 1);
    const QString path = pathFor(hash);
    const QString tmpPath = QStringLiteral("%1/tmp/%2.%3")
                                .arg(m_root, hash.toString())
                                .arg(QRandomGenerator::global()->generate64(), 16, 16, QLatin1Char('0'));
    QFile file(tmpPath);
    auto failed = [&file](const char *what) {
        const QString reason = file.errorString();
        file.close();
        file.remove();
        qCWarning(lcBlocks) << "cannot" << what << "a block:" << reason;
        return makeError(QStringLiteral("the server cannot store a block: %1").arg(reason));
    };
    if (!file.open(QIODevice::WriteOnly | QIODevice::NewOnly))
        return failed("create");
    if (file.write(header) != header.size() || file.write(encoded.data) != encoded.data.size() || !file.flush())
        return failed("write");
    ::sync_file_range(file.handle(), 0, 0, SYNC_FILE_RANGE_WRITE); // start the write-back now, wait in sync()
    file.close();

    // A new directory is an entry in the root: remember whose entries changed.
    const QString dir = QFileInfo(path).absolutePath();
    const bool newDir = !QFileInfo::exists(dir);
    if (newDir && !QDir().mkpath(dir))
        return failed("make the directory of");
    // Listed before it appears under its name, so that a crash never hides it from recover().
    m_journal.write(hash.toHex() + '\n');
    if (::rename(QFile::encodeName(tmpPath).constData(), QFile::encodeName(path).constData()) != 0)
        return failed("rename");
    m_pending.append(path);
    m_pendingDirectories.insert(dir);
    if (newDir)
        m_pendingDirectories.insert(m_root);
    return {};
}

Result<void> LocalBlockStore::sync()
{
    if (m_pending.isEmpty())
        return {};
    bool ok = true;
    if (m_pending.size() <= kSyncEachUpTo) {
        for (const QString &path : std::as_const(m_pending))
            ok = syncPath(path, ::fdatasync) && ok;
        for (const QString &dir : std::as_const(m_pendingDirectories))
            ok = syncPath(dir, ::fsync, O_RDONLY | O_DIRECTORY) && ok;
    } else {
        ok = syncPath(m_root, ::syncfs, O_RDONLY | O_DIRECTORY);
    }
    if (!ok)
        return makeError(QStringLiteral("the server cannot make uploaded blocks durable"));
    m_pending.clear();
    m_pendingDirectories.clear();
    m_journal.resize(0);
    m_journal.seek(0);
    return {};
}

Result<StoredBlock> LocalBlockStore::get(const ContentHash &hash) const
{
    QFile file(pathFor(hash));
    if (!file.exists())
        file.setFileName(legacyPathFor(hash));
    if (!file.open(QIODevice::ReadOnly))
        return makeError(QStringLiteral("no such block"));
    auto corrupt = [&hash] {
        qCWarning(lcBlocks) << "corrupt block" << hash.toString();
        return makeError(QStringLiteral("a corrupt block in the store"));
    };
    if (file.size() > kHeaderSize + protocol::kMaxBlockFrame)
        return corrupt();
    const QByteArray bytes = file.readAll();
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
