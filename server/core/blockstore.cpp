#include "blockstore.h"

#include "privatefiles.h"
#include "serverlogging.h"

#include <QDir>
#include <QFileInfo>
#include <QtEndian>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <fcntl.h>
#include <sys/uio.h>
#include <unistd.h>

namespace filesync {

using protocol::BlockCodec;

namespace {

constexpr char kPackMagic[] = "FSP1"; // of a record
constexpr int kPackMagicSize = 4;
constexpr char kPackFileMagic[] = "FSPK"; // of a .fsp pack's file header
constexpr QFileDevice::Permissions kPrivateFile = QFileDevice::ReadOwner | QFileDevice::WriteOwner;

QByteArray packFileHeader()
{
    QByteArray header(LocalBlockStore::kPackFileHeaderSize, '\0');
    std::memcpy(header.data(), kPackFileMagic, 4);
    qToBigEndian(LocalBlockStore::kPackFormat, header.data() + 4);
    return header;
}

// fsync / fdatasync on a path; false (and a warning) when it fails.
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

LocalBlockStore::LocalBlockStore(const QString &root, qint64 maxPackBytes)
    : m_root(root)
    , m_maxPackBytes(maxPackBytes)
    , m_journal(root + QStringLiteral("/unsynced"))
{ }

QString LocalBlockStore::packPath(quint32 number) const
{
    return QStringLiteral("%1/packs/%2.fsp").arg(m_root).arg(number, 8, 16, QLatin1Char('0'));
}

Result<void> LocalBlockStore::findPacks()
{
    m_packNumbers.clear();
    const QString dir = m_root + QStringLiteral("/packs");
    const QStringList names = QDir(dir).entryList({ QStringLiteral("*.fsp") }, QDir::Files, QDir::Name);
    for (const QString &name : names) {
        bool ok = false;
        const quint32 number = name.section(u'.', 0, 0).toUInt(&ok, 16);
        if (!ok || name.section(u'.', 0, 0).size() != 8)
            continue; // not ours
        m_packNumbers.insert(number);
        // A file header shorter than its size is a pack cut off while it was created (no
        // record can follow yet): openPack() writes it again. Else it must be ours.
        QFile pack(dir + u'/' + name);
        if (!pack.open(QIODevice::ReadOnly))
            return makeError(QStringLiteral("cannot read %1: %2").arg(pack.fileName(), pack.errorString()));
        if (pack.size() < kPackFileHeaderSize)
            continue;
        const QByteArray header = pack.read(kPackFileHeaderSize);
        if (header.size() != kPackFileHeaderSize || !header.startsWith(kPackFileMagic))
            return makeError(QStringLiteral("%1 is not a block pack (its file header is damaged): not started; "
                                            "see docs/operations.md, \"Pack formats\"")
                                 .arg(pack.fileName()));
        if (const quint32 format = qFromBigEndian<quint32>(header.constData() + 4); format != kPackFormat)
            return makeError(QStringLiteral("%1 has pack format %2, this filesync-server reads only format %3: "
                                            "not started, nothing changed")
                                 .arg(pack.fileName())
                                 .arg(format)
                                 .arg(kPackFormat));
    }
    return {};
}

LocalBlockStore::~LocalBlockStore()
{
    if (m_journal.isOpen())
        (void)sync();
    for (const int fd : std::as_const(m_readers))
        ::close(fd);
}

int LocalBlockStore::readerFor(quint32 pack) const
{
    if (const auto it = m_readers.constFind(pack); it != m_readers.cend())
        return *it;
    const int fd = ::open(QFile::encodeName(packPath(pack)).constData(), O_RDONLY | O_CLOEXEC);
    if (fd >= 0)
        m_readers.insert(pack, fd);
    return fd;
}

Result<void> LocalBlockStore::open()
{
    // Everybody's file contents: the owner's alone, whatever the umask. A store that was
    // not (made by hand, or before) has every file fixed once; later ones are made so.
    if (QFileInfo(m_root).isDir() && !privatefiles::isPrivateDir(m_root))
        privatefiles::fixTree(m_root);
    const QString tmp = m_root + QStringLiteral("/tmp");
    if (!privatefiles::makeDir(m_root) || !privatefiles::makeDir(tmp)
        || !privatefiles::makeDir(m_root + QStringLiteral("/packs")))
        return makeError(QStringLiteral("cannot create the block store at %1").arg(m_root));
    // Every pack's format checked before anything is cut, removed or written.
    if (auto found = findPacks(); !found)
        return found;
    // A probe cut off by a crash; nothing refers to it.
    const QStringList leftovers = QDir(tmp).entryList(QDir::Files | QDir::Hidden);
    for (const QString &name : leftovers)
        QFile::remove(tmp + u'/' + name);
    if (!leftovers.isEmpty())
        qCInfo(lcBlocks) << "removed" << leftovers.size() << "leftover files from" << tmp;
    QFile probe(tmp + QStringLiteral("/probe"));
    if (!probe.open(QIODevice::WriteOnly))
        return makeError(QStringLiteral("the block store %1 is not writable: %2").arg(m_root, probe.errorString()));
    probe.remove();
    recover();
    if (!m_journal.open(QIODevice::WriteOnly | QIODevice::Truncate | QIODevice::Unbuffered, kPrivateFile))
        return makeError(QStringLiteral("cannot open %1: %2").arg(m_journal.fileName(), m_journal.errorString()));
    // Appends go to the last pack if it has room, else to a new one.
    quint32 last = 0;
    if (!m_packNumbers.isEmpty()) {
        last = *std::max_element(m_packNumbers.cbegin(), m_packNumbers.cend());
        if (QFileInfo(packPath(last)).size() >= m_maxPackBytes)
            ++last;
    }
    return openPack(last);
}

Result<void> LocalBlockStore::openPack(quint32 number)
{
    m_pack.close();
    m_pack.setFileName(packPath(number));
    const bool existed = m_pack.exists();
    if (!m_pack.open(QIODevice::WriteOnly | QIODevice::Append | QIODevice::Unbuffered, kPrivateFile))
        return makeError(QStringLiteral("cannot open %1: %2").arg(m_pack.fileName(), m_pack.errorString()));
    m_packNumber = number;
    m_packSize = m_pack.size();
    if (m_packSize < kPackFileHeaderSize) {
        // New, or cut off while it was created: its file header first, made durable with
        // its first records (the "pack N OFFSET" line of a batch points past it).
        const QByteArray header = packFileHeader();
        if (!m_pack.resize(0) || m_pack.write(header) != header.size())
            return makeError(QStringLiteral("cannot write %1: %2").arg(m_pack.fileName(), m_pack.errorString()));
        // Durable before any record: a crash can then never leave records behind a
        // damaged file header (which open() refuses).
        ::fdatasync(m_pack.handle());
        m_packSize = header.size();
        m_packNumbers.insert(number);
    }
    m_writebackFrom = m_packSize;
    if (!existed) { // its name (and packs/ itself) made durable with its first records
        m_pendingDirectories.insert(m_root + QStringLiteral("/packs"));
        m_pendingDirectories.insert(m_root);
    }
    return {};
}

void LocalBlockStore::recover()
{
    QHash<quint32, qint64> unsyncedFrom; // pack -> where its unverified part begins
    QFile journal(m_journal.fileName());
    if (journal.open(QIODevice::ReadOnly) && journal.size() > 0) {
        while (!journal.atEnd()) {
            const QList<QByteArray> parts = journal.readLine().trimmed().split(' ');
            if (parts.value(0) != "pack")
                continue;
            bool numberOk = false;
            bool offsetOk = false;
            const quint32 number = parts.value(1).toUInt(&numberOk);
            const qint64 offset = parts.value(2).toLongLong(&offsetOk);
            if (numberOk && offsetOk && offset >= 0)
                unsyncedFrom[number] = std::min(unsyncedFrom.value(number, offset), offset);
        }
    }
    loadPacks(unsyncedFrom);
}

void LocalBlockStore::loadPacks(const QHash<quint32, qint64> &unsyncedFrom)
{
    for (const quint32 number : std::as_const(m_packNumbers)) {
        QFile pack(packPath(number));
        if (!pack.open(QIODevice::ReadWrite)) {
            qCWarning(lcBlocks) << "cannot read" << pack.fileName() << ":" << pack.errorString();
            continue;
        }
        const qint64 size = pack.size();
        const qint64 verifyFrom = unsyncedFrom.value(number, size);
        // findPacks() checked the file header (a shorter one: no records yet).
        qint64 offset = qMin(size, qint64(kPackFileHeaderSize));
        int verified = 0;
        while (offset < size) {
            // Any record that does not parse ends the pack: only a crash leaves one.
            if (!pack.seek(offset))
                break;
            const QByteArray header = pack.read(kPackHeaderSize);
            if (header.size() != kPackHeaderSize || !header.startsWith(QByteArrayView(kPackMagic, kPackMagicSize)))
                break;
            Location at;
            at.pack = number;
            at.offset = offset;
            at.codec = quint8(header.at(kPackMagicSize + ContentHash::kSize));
            at.rawSize = qFromBigEndian<quint32>(header.constData() + kPackMagicSize + ContentHash::kSize + 1);
            at.dataSize = qFromBigEndian<quint32>(header.constData() + kPackMagicSize + ContentHash::kSize + 5);
            const auto hash = ContentHash::fromBytes(header.mid(kPackMagicSize, ContentHash::kSize));
            if (!hash || at.codec > quint8(BlockCodec::Zstd) || at.rawSize == 0 || at.rawSize > protocol::kMaxBlockSize
                || at.dataSize == 0 || at.dataSize > protocol::kMaxBlockSize
                || offset + kPackHeaderSize + at.dataSize > size)
                break;
            if (offset >= verifyFrom) {
                const QByteArray data = pack.read(at.dataSize);
                if (!protocol::decodeAndVerify({ *hash, BlockCodec(at.codec), at.rawSize, data }))
                    break;
                ++verified;
            }
            m_packed.insert(*hash, at);
            offset += kPackHeaderSize + at.dataSize;
        }
        if (offset < size) {
            qCWarning(lcBlocks) << "after an unclean stop: cut" << pack.fileName() << "from" << size << "to" << offset
                                << "bytes (a damaged or partial record)";
            pack.resize(offset);
        } else if (verified > 0) {
            qCInfo(lcBlocks) << "after an unclean stop: checked" << verified << "recent records of" << pack.fileName();
        }
    }
}

std::optional<LocalBlockStore::PackedAt> LocalBlockStore::packedAt(const ContentHash &hash) const
{
    const auto it = m_packed.constFind(hash);
    if (it == m_packed.cend())
        return std::nullopt;
    return PackedAt { packPath(it->pack), it->offset };
}

bool LocalBlockStore::has(const ContentHash &hash) const
{
    return m_packed.contains(hash);
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
    return store(hash, raw, wireForm);
}

Result<void> LocalBlockStore::put(const protocol::VerifiedBlock &block)
{
    return store(block.hash(), block.raw(), block.wireForm());
}

Result<void> LocalBlockStore::store(
    const ContentHash &hash, const QByteArray &raw, const protocol::EncodedBlock &wireForm)
{
    if (raw.isEmpty() || raw.size() > protocol::kMaxBlockSize)
        return makeError(QStringLiteral("a block must hold 1 byte to 16 MiB"));
    if (has(hash))
        return {}; // stored once per server
    // A sender's zstd that does not pay is stored raw: a record's data never exceeds the
    // block cap, which open() checks each record against.
    const protocol::EncodedBlock asRaw { BlockCodec::Raw, raw };
    const protocol::EncodedBlock &encoded = wireForm.data.size() < raw.size() ? wireForm : asRaw;
    if (auto written = append(hash, encoded, quint32(raw.size())); !written)
        return written;
    if (pendingCount() >= kMaxPending) // bounds the memory and what a crash can damage
        return sync();
    return {};
}

Result<void> LocalBlockStore::append(const ContentHash &hash, const protocol::EncodedBlock &encoded, quint32 rawSize)
{
    const qint64 recordSize = kPackHeaderSize + encoded.data.size();
    if (m_packSize > 0 && m_packSize + recordSize > m_maxPackBytes) {
        // The unsynced part of the store stays within one pack.
        if (auto synced = sync(); !synced)
            return synced;
        if (auto opened = openPack(m_packNumber + 1); !opened)
            return opened;
    }
    if (m_pendingPacked == 0) {
        // Durable before the records it announces, so that a crash never hides them from
        // recover(): one flush per batch.
        m_journal.write(
            QByteArray("pack ") + QByteArray::number(m_packNumber) + ' ' + QByteArray::number(m_packSize) + '\n');
        ::fdatasync(m_journal.handle());
    }
    // The header and the data go in one writev(): no copy of the data into a record
    // buffer first (a 1 GiB upload is 1 GiB of memmove less).
    char header[kPackHeaderSize];
    std::memcpy(header, kPackMagic, kPackMagicSize);
    std::memcpy(header + kPackMagicSize, hash.view().data(), ContentHash::kSize);
    header[kPackMagicSize + ContentHash::kSize] = char(encoded.codec);
    qToBigEndian(rawSize, header + kPackMagicSize + ContentHash::kSize + 1);
    qToBigEndian(quint32(encoded.data.size()), header + kPackMagicSize + ContentHash::kSize + 5);
    iovec parts[2]
        = { { header, sizeof header }, { const_cast<char *>(encoded.data.constData()), size_t(encoded.data.size()) } };
    qint64 written = 0;
    int error = 0;
    while (written < recordSize) { // the pack is opened O_APPEND: each part lands at its end
        ssize_t n = ::writev(m_pack.handle(), parts, 2);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            error = n < 0 ? errno : ENOSPC;
            break;
        }
        written += n;
        for (iovec &part : parts) { // past what was written
            const size_t done = std::min(part.iov_len, size_t(n));
            part.iov_base = static_cast<char *>(part.iov_base) + done;
            part.iov_len -= done;
            n -= ssize_t(done);
        }
    }
    if (written != recordSize) {
        const QString reason = QString::fromLocal8Bit(strerror(error));
        m_pack.resize(m_packSize); // a partial record would end the pack at the next open()
        qCWarning(lcBlocks) << "cannot append a block to" << m_pack.fileName() << ":" << reason;
        return makeError(QStringLiteral("the server cannot store a block: %1").arg(reason));
    }
    m_packed.insert(
        hash, Location { m_packNumber, quint8(encoded.codec), rawSize, quint32(encoded.data.size()), m_packSize });
    m_packSize += recordSize;
    ++m_pendingPacked;
    if (m_packSize - m_writebackFrom >= kWritebackEvery) {
        // Started now, waited for in sync(): the disk writes while the upload goes on.
        ::sync_file_range(m_pack.handle(), m_writebackFrom, m_packSize - m_writebackFrom, SYNC_FILE_RANGE_WRITE);
        m_writebackFrom = m_packSize;
    }
    return {};
}

Result<void> LocalBlockStore::sync()
{
    if (m_pendingPacked == 0)
        return {};
    bool ok = true;
    if (::fdatasync(m_pack.handle()) != 0) {
        qCWarning(lcBlocks) << "cannot sync" << m_pack.fileName();
        ok = false;
    }
    for (const QString &dir : std::as_const(m_pendingDirectories))
        ok = syncPath(dir, ::fsync, O_RDONLY | O_DIRECTORY) && ok;
    if (!ok)
        return makeError(QStringLiteral("the server cannot make uploaded blocks durable"));
    m_pendingDirectories.clear();
    m_pendingPacked = 0;
    m_writebackFrom = m_packSize;
    m_journal.resize(0);
    m_journal.seek(0);
    return {};
}

Result<StoredBlock> LocalBlockStore::get(const ContentHash &hash) const
{
    if (const auto at = m_packed.constFind(hash); at != m_packed.cend()) {
        // One descriptor per pack, kept open: opening the pack for every GetBlock cost
        // more than reading the block.
        const int fd = readerFor(at->pack);
        if (fd < 0)
            return makeError(
                QStringLiteral("cannot read a block pack: %1").arg(QString::fromLocal8Bit(strerror(errno))));
        StoredBlock block;
        block.codec = BlockCodec(at->codec);
        block.rawSize = at->rawSize;
        block.data = QByteArray(qsizetype(at->dataSize), Qt::Uninitialized);
        qint64 done = 0;
        while (done < qint64(at->dataSize)) {
            const ssize_t n = ::pread(
                fd, block.data.data() + done, size_t(at->dataSize - done), off_t(at->offset + kPackHeaderSize + done));
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                break;
            done += n;
        }
        if (done != qint64(at->dataSize)
            || (block.codec == BlockCodec::Raw && block.data.size() != qsizetype(block.rawSize))) {
            qCWarning(lcBlocks) << "corrupt block" << hash.toString() << "in" << packPath(at->pack);
            return makeError(QStringLiteral("a corrupt block in the store"));
        }
        return block;
    }
    return makeError(QStringLiteral("no such block"));
}

} // namespace filesync
