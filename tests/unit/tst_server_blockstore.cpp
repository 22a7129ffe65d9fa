// LocalBlockStore on its own: layout (packs), codecs, verification, dedup, crash
// leftovers, and the refusal of a pack format it does not know.
#include "blockstore.h"

#include <QDir>
#include <QDirIterator>
#include <QFile>
#include <QRandomGenerator>
#include <QTemporaryDir>
#include <QTest>
#include <QtEndian>

#include <cstring>

#include <unistd.h>

using namespace filesync;
using namespace filesync::protocol;

namespace {

QByteArray randomBytes(qsizetype size, quint32 seed)
{
    QByteArray bytes(size, Qt::Uninitialized);
    QRandomGenerator generator(seed);
    for (qsizetype i = 0; i < size; ++i)
        bytes[i] = char(generator.generate());
    return bytes;
}

QStringList filesUnder(const QString &dir)
{
    QStringList files;
    QDirIterator it(dir, QDir::Files | QDir::Hidden, QDirIterator::Subdirectories);
    while (it.hasNext())
        files << it.next();
    return files;
}

QByteArray readAll(const QString &path)
{
    QFile file(path);
    return file.open(QIODevice::ReadOnly) ? file.readAll() : QByteArray();
}

} // namespace

class tst_ServerBlockStore : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void init();
    void cleanup();

    void roundTrip_data();
    void roundTrip();
    void wrongHashStoresNothing();
    void storedOnce();
    void sendersZstdIsKept();
    void verifiedBlocksAreStoredAsSent();
    void leftoversAreRemoved();
    void syncMakesBatchesDurable_data();
    void syncMakesBatchesDurable();
    void packsAreReadBackAfterARestart();
    void damagedUnsyncedPackTailIsCut();
    void partialPackRecordIsCut();
    void packsRollOver();
    void bigBlocksArePackedByDefault();
    void bigBlocksArePackedAcrossRestartsAndCrashes();
    void sendersZstdThatDoesNotPayIsStoredRaw();
    void unwritableStoreFailsToOpen();
    void newPacksCarryTheirFormat();
    void unknownPackFormatIsRefused_data();
    void unknownPackFormatIsRefused();
    void packCutOffWhileCreatedIsWrittenAgain();

private:
    QString root() const { return m_dir->path() + QStringLiteral("/blocks"); }
    // Stops `store` as a crash would (its unsynced list kept, not emptied by a clean
    // stop) and zeroes 100 bytes of `pack` at `offset`: the unsynced data a crash lost.
    void crashAndDamage(std::unique_ptr<LocalBlockStore> &store, const QString &pack, qint64 offset);
    std::unique_ptr<QTemporaryDir> m_dir;
    std::unique_ptr<LocalBlockStore> m_store;
};

void tst_ServerBlockStore::init()
{
    m_dir = std::make_unique<QTemporaryDir>();
    m_store = std::make_unique<LocalBlockStore>(root());
    QVERIFY(m_store->open().ok());
}

void tst_ServerBlockStore::cleanup()
{
    m_store.reset();
    m_dir.reset();
}

void tst_ServerBlockStore::crashAndDamage(
    std::unique_ptr<LocalBlockStore> &store, const QString &packPath, qint64 offset)
{
    QFile journal(root() + QStringLiteral("/unsynced"));
    QVERIFY(journal.open(QIODevice::ReadOnly));
    const QByteArray listed = journal.readAll();
    journal.close();
    QVERIFY2(listed.startsWith("pack 0 "), listed.constData());
    store.reset(); // a clean stop would empty the journal: put back what a crash leaves
    QVERIFY(journal.open(QIODevice::WriteOnly));
    journal.write(listed);
    journal.close();
    QFile pack(packPath);
    QVERIFY(pack.open(QIODevice::ReadWrite));
    QVERIFY(pack.seek(offset));
    pack.write(QByteArray(100, '\0'));
}

void tst_ServerBlockStore::roundTrip_data()
{
    QTest::addColumn<QByteArray>("raw");
    QTest::addColumn<int>("codec");
    QTest::newRow("one byte") << QByteArray("x") << int(BlockCodec::Raw);
    QTest::newRow("random") << randomBytes(100000, 1) << int(BlockCodec::Raw);
    QTest::newRow("text") << QByteArray("int main() { return 0; }\n").repeated(4000) << int(BlockCodec::Zstd);
    QTest::newRow("largest, zeros") << QByteArray(int(kMaxBlockSize), '\0') << int(BlockCodec::Zstd);
}

void tst_ServerBlockStore::roundTrip()
{
    QFETCH(QByteArray, raw);
    QFETCH(int, codec);
    const ContentHash hash = ContentHash::of(raw);
    QVERIFY(!m_store->has(hash));
    QVERIFY(m_store->put(hash, raw).ok());
    QVERIFY(m_store->has(hash));
    QCOMPARE(m_store->packedAt(hash)->path, root() + QStringLiteral("/packs/00000000.fsp"));
    const auto stored = m_store->get(hash);
    QVERIFY(stored.ok());
    QCOMPARE(int(stored->codec), codec);
    QCOMPARE(stored->rawSize, quint32(raw.size()));
    QCOMPARE(*decodeAndVerify(BlockPayload { hash, stored->codec, stored->rawSize, stored->data }), raw);
    QVERIFY(filesUnder(root() + QStringLiteral("/tmp")).isEmpty());
}

void tst_ServerBlockStore::wrongHashStoresNothing()
{
    const auto put = m_store->put(ContentHash::of("claimed"), QByteArray("actual"));
    QVERIFY(!put.ok());
    QVERIFY(!m_store->has(ContentHash::of("claimed")));
    QVERIFY(!m_store->has(ContentHash::of("actual")));
    QCOMPARE(m_store->pendingCount(), 0);
    QVERIFY(!m_store->get(ContentHash::of("claimed")).ok());
    QVERIFY(!m_store->put(ContentHash::of(""), QByteArray()).ok()); // no empty blocks
}

void tst_ServerBlockStore::storedOnce()
{
    // Appended once.
    const QByteArray small = randomBytes(5000, 12);
    QVERIFY(m_store->put(ContentHash::of(small), small).ok());
    const qint64 packSize = QFileInfo(m_store->packedAt(ContentHash::of(small))->path).size();
    QCOMPARE(packSize, qint64(LocalBlockStore::kPackFileHeaderSize + LocalBlockStore::kPackHeaderSize + small.size()));
    QVERIFY(m_store->put(ContentHash::of(small), small).ok());
    QCOMPARE(QFileInfo(m_store->packedAt(ContentHash::of(small))->path).size(), packSize);
    QCOMPARE(m_store->pendingCount(), 1);
}

void tst_ServerBlockStore::sendersZstdIsKept()
{
    const QByteArray raw = QByteArray("abcdefgh").repeated(10000);
    const EncodedBlock wire = encodeBlock(raw, 19); // not what the store would produce itself
    QCOMPARE(wire.codec, BlockCodec::Zstd);
    const ContentHash hash = ContentHash::of(raw);
    QVERIFY(m_store->put(hash, raw, wire).ok());
    const auto stored = m_store->get(hash);
    QCOMPARE(stored->codec, BlockCodec::Zstd);
    QCOMPARE(stored->data, wire.data);
}

// The server's path: a block verifyBlock() checked goes in without a second hash, in the
// form it travelled in; one that fails the check never becomes a VerifiedBlock at all.
void tst_ServerBlockStore::verifiedBlocksAreStoredAsSent()
{
    const QByteArray raw = QByteArray("abcdefgh").repeated(10000);
    const EncodedBlock wire = encodeBlock(raw, 19);
    const ContentHash hash = ContentHash::of(raw);
    const auto verified = verifyBlock(BlockPayload { hash, wire.codec, quint32(raw.size()), wire.data });
    QVERIFY(verified.ok());
    QVERIFY(m_store->put(*verified).ok());
    QVERIFY(m_store->has(hash));
    const auto stored = m_store->get(hash);
    QCOMPARE(stored->codec, BlockCodec::Zstd);
    QCOMPARE(stored->data, wire.data);
    QCOMPARE(*decodeAndVerify(BlockPayload { hash, stored->codec, stored->rawSize, stored->data }), raw);
    QVERIFY(m_store->put(*verified).ok()); // stored once
    QCOMPARE(m_store->pendingCount(), 1);

    const QByteArray other = randomBytes(3000, 5);
    QVERIFY(
        !verifyBlock(BlockPayload { ContentHash::of("claimed"), BlockCodec::Raw, quint32(other.size()), other }).ok());
    QVERIFY(!m_store->has(ContentHash::of("claimed")));
    QCOMPARE(m_store->pendingCount(), 1);
}

void tst_ServerBlockStore::leftoversAreRemoved()
{
    const QString tmp = root() + QStringLiteral("/tmp");
    for (const char *name : { "abc.123", ".hidden" }) {
        QFile f(tmp + u'/' + QLatin1String(name));
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write("partial");
    }
    QVERIFY(m_store->put(ContentHash::of("kept"), QByteArray("kept")).ok());
    LocalBlockStore reopened(root());
    QVERIFY(reopened.open().ok());
    QVERIFY(filesUnder(tmp).isEmpty());
    QCOMPARE(reopened.get(ContentHash::of("kept"))->data, QByteArray("kept"));
}

void tst_ServerBlockStore::syncMakesBatchesDurable_data()
{
    QTest::addColumn<int>("blocks");
    QTest::addColumn<int>("size");
    QTest::addColumn<qint64>("journalSize");
    QTest::newRow("one packed, fdatasync") << 1 << 1000 << qint64(strlen("pack 0 16\n"));
    QTest::newRow("packed, one line for the batch") << 50 << 1000 << qint64(strlen("pack 0 16\n"));
}

void tst_ServerBlockStore::syncMakesBatchesDurable()
{
    QFETCH(int, blocks);
    QFETCH(int, size);
    QFETCH(qint64, journalSize);
    for (int i = 0; i < blocks; ++i) {
        const QByteArray raw = randomBytes(size, quint32(i));
        QVERIFY(m_store->put(ContentHash::of(raw), raw).ok());
    }
    QCOMPARE(m_store->pendingCount(), blocks);
    QCOMPARE(QFileInfo(root() + QStringLiteral("/unsynced")).size(), journalSize);
    QVERIFY(m_store->sync().ok());
    QCOMPARE(m_store->pendingCount(), 0);
    QCOMPARE(QFileInfo(root() + QStringLiteral("/unsynced")).size(), 0);
    QVERIFY(m_store->sync().ok()); // nothing pending: nothing to do
}

void tst_ServerBlockStore::packsAreReadBackAfterARestart()
{
    QList<QByteArray> blocks;
    for (int i = 0; i < 200; ++i) {
        blocks << randomBytes(1 + i * 97, quint32(100 + i));
        QVERIFY(m_store->put(ContentHash::of(blocks.last()), blocks.last()).ok());
    }
    QVERIFY(m_store->sync().ok());
    m_store.reset();
    LocalBlockStore restarted(root());
    QVERIFY(restarted.open().ok());
    for (const QByteArray &raw : std::as_const(blocks)) {
        const ContentHash hash = ContentHash::of(raw);
        QVERIFY(restarted.has(hash));
        const auto stored = restarted.get(hash);
        QVERIFY(stored.ok());
        QCOMPARE(*decodeAndVerify(BlockPayload { hash, stored->codec, stored->rawSize, stored->data }), raw);
    }
    // Appends go on at the end of the same pack.
    const QByteArray more = randomBytes(300, 999);
    QVERIFY(restarted.put(ContentHash::of(more), more).ok());
    QCOMPARE(restarted.packedAt(ContentHash::of(more))->path, root() + QStringLiteral("/packs/00000000.fsp"));
    QVERIFY(restarted.packedAt(ContentHash::of(more))->offset > 0);
}

void tst_ServerBlockStore::damagedUnsyncedPackTailIsCut()
{
    // One synced block, then a batch of three the "crash" hits before sync(): the middle
    // one's data is lost. What follows the first damaged record is unsynced too: cut.
    const QByteArray synced = randomBytes(3000, 30);
    QVERIFY(m_store->put(ContentHash::of(synced), synced).ok());
    QVERIFY(m_store->sync().ok());
    QList<QByteArray> batch { randomBytes(3000, 31), randomBytes(3000, 32), randomBytes(3000, 33) };
    for (const QByteArray &raw : std::as_const(batch))
        QVERIFY(m_store->put(ContentHash::of(raw), raw).ok());
    const auto damagedAt = m_store->packedAt(ContentHash::of(batch.at(1)));
    QVERIFY(damagedAt);
    crashAndDamage(m_store, damagedAt->path, damagedAt->offset + LocalBlockStore::kPackHeaderSize + 100);
    if (QTest::currentTestFailed())
        return;

    LocalBlockStore restarted(root());
    QVERIFY(restarted.open().ok());
    QVERIFY(restarted.has(ContentHash::of(synced)));
    QVERIFY(restarted.has(ContentHash::of(batch.at(0))));
    QVERIFY(!restarted.has(ContentHash::of(batch.at(1))));
    QVERIFY(!restarted.has(ContentHash::of(batch.at(2))));
    QCOMPARE(QFileInfo(damagedAt->path).size(), damagedAt->offset);
    QCOMPARE(QFileInfo(root() + QStringLiteral("/unsynced")).size(), 0);
    // Uploaded again, it is stored again.
    QVERIFY(restarted.put(ContentHash::of(batch.at(2)), batch.at(2)).ok());
    QCOMPARE(restarted.get(ContentHash::of(batch.at(2)))->data, batch.at(2));
}

void tst_ServerBlockStore::partialPackRecordIsCut()
{
    const QByteArray kept = randomBytes(2000, 40);
    QVERIFY(m_store->put(ContentHash::of(kept), kept).ok());
    QVERIFY(m_store->sync().ok());
    const QString path = m_store->packedAt(ContentHash::of(kept))->path;
    const qint64 size = QFileInfo(path).size();
    m_store.reset();
    QFile pack(path);
    QVERIFY(pack.open(QIODevice::Append));
    pack.write(QByteArray("FSP1") + QByteArray(20, 'x')); // a header cut short
    pack.close();
    LocalBlockStore restarted(root());
    QVERIFY(restarted.open().ok());
    QCOMPARE(QFileInfo(path).size(), size);
    QCOMPARE(restarted.get(ContentHash::of(kept))->data, kept);
}

void tst_ServerBlockStore::packsRollOver()
{
    m_store.reset();
    LocalBlockStore store(root(), 10000);
    QVERIFY(store.open().ok());
    QList<QByteArray> blocks;
    for (int i = 0; i < 6; ++i) {
        blocks << randomBytes(4000, quint32(50 + i));
        QVERIFY(store.put(ContentHash::of(blocks.last()), blocks.last()).ok());
    }
    QCOMPARE(store.packedAt(ContentHash::of(blocks.at(0)))->path, root() + QStringLiteral("/packs/00000000.fsp"));
    QCOMPARE(store.packedAt(ContentHash::of(blocks.at(5)))->path, root() + QStringLiteral("/packs/00000002.fsp"));
    QVERIFY(QFileInfo(root() + QStringLiteral("/packs/00000000.fsp")).size() <= 10000);
    QCOMPARE(store.pendingCount(), 2); // each full pack was synced before the next began
    QVERIFY(store.sync().ok());
    LocalBlockStore restarted(root(), 10000);
    QVERIFY(restarted.open().ok());
    for (const QByteArray &raw : std::as_const(blocks))
        QCOMPARE(restarted.get(ContentHash::of(raw))->data, raw);
}

// The default store: a big file's blocks (16 KiB to 256 KiB, up to the protocol's 16 MiB)
// are appended to the pack, no inode each, and one fdatasync() of the pack makes them
// durable; the bytes written beyond kWritebackEvery change nothing in what is stored.
void tst_ServerBlockStore::bigBlocksArePackedByDefault()
{
    m_store.reset();
    LocalBlockStore store(root());
    QVERIFY(store.open().ok());
    QList<QByteArray> blocks;
    qint64 bytes = 0;
    for (int i = 0; bytes < LocalBlockStore::kWritebackEvery + 1024 * 1024; ++i) {
        blocks << randomBytes(64 * 1024 + 1 + i * 4099, quint32(200 + i));
        bytes += blocks.last().size();
        QVERIFY(store.put(ContentHash::of(blocks.last()), blocks.last()).ok());
    }
    blocks << randomBytes(int(kMaxBlockSize), 299);
    QVERIFY(store.put(ContentHash::of(blocks.last()), blocks.last()).ok());
    QCOMPARE(store.pendingCount(), int(blocks.size()));
    for (const QByteArray &raw : std::as_const(blocks)) {
        const auto at = store.packedAt(ContentHash::of(raw));
        QVERIFY(at);
        QCOMPARE(at->path, root() + QStringLiteral("/packs/00000000.fsp"));
        const auto stored = store.get(ContentHash::of(raw));
        QVERIFY(stored.ok());
        QCOMPARE(stored->data, raw);
    }
    QCOMPARE(QFileInfo(root() + QStringLiteral("/unsynced")).size(), qint64(strlen("pack 0 16\n")));
    QVERIFY(store.sync().ok());
    QCOMPARE(store.pendingCount(), 0);
    QCOMPARE(QFileInfo(root() + QStringLiteral("/unsynced")).size(), 0);
}

// Records over 64 KiB are read back after a clean restart (an index rebuilt from their
// headers), and after a crash a damaged one in the unsynced part is cut with what follows.
void tst_ServerBlockStore::bigBlocksArePackedAcrossRestartsAndCrashes()
{
    m_store.reset();
    auto store = std::make_unique<LocalBlockStore>(root());
    QVERIFY(store->open().ok());
    const QByteArray synced = randomBytes(200 * 1024, 60);
    QVERIFY(store->put(ContentHash::of(synced), synced).ok());
    QVERIFY(store->sync().ok());
    store = std::make_unique<LocalBlockStore>(root());
    QVERIFY(store->open().ok());
    QCOMPARE(store->get(ContentHash::of(synced))->data, synced);

    QList<QByteArray> batch { randomBytes(100 * 1024, 61), randomBytes(256 * 1024, 62), randomBytes(70 * 1024, 63) };
    for (const QByteArray &raw : std::as_const(batch))
        QVERIFY(store->put(ContentHash::of(raw), raw).ok());
    const auto damagedAt = store->packedAt(ContentHash::of(batch.at(1)));
    QVERIFY(damagedAt);
    QCOMPARE(damagedAt->path, root() + QStringLiteral("/packs/00000000.fsp"));
    crashAndDamage(store, damagedAt->path, damagedAt->offset + LocalBlockStore::kPackHeaderSize + 200 * 1024);
    if (QTest::currentTestFailed())
        return;

    LocalBlockStore restarted(root());
    QVERIFY(restarted.open().ok());
    QCOMPARE(restarted.get(ContentHash::of(synced))->data, synced);
    QCOMPARE(restarted.get(ContentHash::of(batch.at(0)))->data, batch.at(0));
    QVERIFY(!restarted.has(ContentHash::of(batch.at(1))));
    QVERIFY(!restarted.has(ContentHash::of(batch.at(2))));
    QCOMPARE(QFileInfo(damagedAt->path).size(), damagedAt->offset);
    QVERIFY(restarted.put(ContentHash::of(batch.at(1)), batch.at(1)).ok()); // uploaded again
    QCOMPARE(restarted.get(ContentHash::of(batch.at(1)))->data, batch.at(1));
}

// A sender's zstd form no smaller than the block (only a hostile sender makes one: ours
// send raw when zstd does not pay) is stored raw, so that no record's data exceeds the
// block cap: a restart reads the largest block and every record after it.
void tst_ServerBlockStore::sendersZstdThatDoesNotPayIsStoredRaw()
{
    const QByteArray raw = randomBytes(int(kMaxBlockSize), 95);
    const ContentHash hash = ContentHash::of(raw);
    QVERIFY(m_store->put(hash, raw, EncodedBlock { BlockCodec::Zstd, raw + QByteArray(100, 'z') }).ok());
    const QByteArray after = randomBytes(3000, 96);
    QVERIFY(m_store->put(ContentHash::of(after), after).ok());
    QCOMPARE(m_store->get(hash)->codec, BlockCodec::Raw);
    QVERIFY(m_store->sync().ok());
    m_store.reset();
    LocalBlockStore restarted(root());
    QVERIFY(restarted.open().ok());
    const auto stored = restarted.get(hash);
    QVERIFY(stored.ok());
    QCOMPARE(stored->codec, BlockCodec::Raw);
    QCOMPARE(stored->data, raw);
    QCOMPARE(restarted.get(ContentHash::of(after))->data, after);
}

void tst_ServerBlockStore::unwritableStoreFailsToOpen()
{
    if (::geteuid() == 0)
        QSKIP("root writes into read-only directories");
    QVERIFY(QFile::setPermissions(root() + QStringLiteral("/tmp"), QFile::ReadOwner | QFile::ExeOwner));
    LocalBlockStore store(root());
    const auto opened = store.open();
    QFile::setPermissions(root() + QStringLiteral("/tmp"), QFile::ReadOwner | QFile::WriteOwner | QFile::ExeOwner);
    QVERIFY(!opened.ok());
    QVERIFY2(opened.errorMessage().contains(QStringLiteral("not writable")), qPrintable(opened.errorMessage()));
}

// A new pack starts with its file header: magic, format 1, then the records.
void tst_ServerBlockStore::newPacksCarryTheirFormat()
{
    const QByteArray raw = randomBytes(3000, 70);
    QVERIFY(m_store->put(ContentHash::of(raw), raw).ok());
    QVERIFY(m_store->sync().ok());
    const QByteArray pack = readAll(root() + QStringLiteral("/packs/00000000.fsp"));
    QVERIFY(pack.startsWith("FSPK"));
    QCOMPARE(qFromBigEndian<quint32>(pack.constData() + 4), LocalBlockStore::kPackFormat);
    QCOMPARE(LocalBlockStore::kPackFormat, 1u);
    QCOMPARE(pack.mid(LocalBlockStore::kPackFileHeaderSize, 4), QByteArray("FSP1"));
    QCOMPARE(QDir(root() + QStringLiteral("/packs")).entryList(QDir::Files | QDir::Hidden),
        QStringList { QStringLiteral("00000000.fsp") });
}

void tst_ServerBlockStore::unknownPackFormatIsRefused_data()
{
    QTest::addColumn<int>("at");
    QTest::addColumn<QByteArray>("bytes");
    QTest::addColumn<QString>("reason");
    QTest::newRow("format 2") << 4 << QByteArray("\0\0\0\2", 4)
                              << QStringLiteral("pack format 2, this filesync-server reads only format 1");
    QTest::newRow("format 0") << 4 << QByteArray("\0\0\0\0", 4)
                              << QStringLiteral("pack format 0, this filesync-server reads only format 1");
    QTest::newRow("a damaged file header") << 0 << QByteArray("FSQK") << QStringLiteral("file header is damaged");
}

// A pack this build does not understand stops the start, and nothing is cut or removed:
// not the pack, not its unsynced tail (listed as a crash leaves it), not the other packs,
// not a leftover in tmp/.
void tst_ServerBlockStore::unknownPackFormatIsRefused()
{
    QFETCH(int, at);
    QFETCH(QByteArray, bytes);
    QFETCH(QString, reason);
    m_store.reset();
    auto store = std::make_unique<LocalBlockStore>(root(), 10000);
    QVERIFY(store->open().ok());
    for (int i = 0; i < 3; ++i) { // packs 0 and 1
        const QByteArray raw = randomBytes(4000, quint32(80 + i));
        QVERIFY(store->put(ContentHash::of(raw), raw).ok());
    }
    const QByteArray listed = readAll(root() + QStringLiteral("/unsynced"));
    QVERIFY2(listed.startsWith("pack 1 "), listed.constData());
    store.reset();
    {
        QFile journal(root() + QStringLiteral("/unsynced"));
        QVERIFY(journal.open(QIODevice::WriteOnly));
        journal.write(listed);
    }
    const QString packPath = root() + QStringLiteral("/packs/00000001.fsp");
    QByteArray pack = readAll(packPath);
    pack.replace(at, bytes.size(), bytes);
    pack.append("FSP1 and then a record cut short"); // would be cut, were it read
    {
        QFile file(packPath);
        QVERIFY(file.open(QIODevice::WriteOnly | QIODevice::Truncate));
        file.write(pack);
    }
    const QByteArray first = readAll(root() + QStringLiteral("/packs/00000000.fsp"));
    const QString leftover = root() + QStringLiteral("/tmp/probe");
    {
        QFile probe(leftover);
        QVERIFY(probe.open(QIODevice::WriteOnly));
    }

    LocalBlockStore restarted(root(), 10000);
    const auto opened = restarted.open();
    QVERIFY(!opened.ok());
    QVERIFY2(opened.errorMessage().contains(reason) && !opened.errorMessage().contains(u'\n'),
        qPrintable(opened.errorMessage()));
    QCOMPARE(readAll(packPath), pack);
    QCOMPARE(readAll(root() + QStringLiteral("/packs/00000000.fsp")), first);
    QCOMPARE(readAll(root() + QStringLiteral("/unsynced")), listed);
    QVERIFY(QFile::exists(leftover)); // not even a crash's leftover is removed
}

// A crash while a new pack's file header was written leaves it shorter than the header
// (no record can follow yet): it is written again and the pack used.
void tst_ServerBlockStore::packCutOffWhileCreatedIsWrittenAgain()
{
    m_store.reset();
    const QString path = root() + QStringLiteral("/packs/00000000.fsp");
    {
        QFile file(path);
        QVERIFY(file.open(QIODevice::WriteOnly | QIODevice::Truncate));
        file.write("FSP");
    }
    LocalBlockStore store(root());
    QVERIFY(store.open().ok());
    const QByteArray raw = randomBytes(3000, 91);
    QVERIFY(store.put(ContentHash::of(raw), raw).ok());
    QVERIFY(store.sync().ok());
    QCOMPARE(store.packedAt(ContentHash::of(raw))->path, path);
    QCOMPARE(store.packedAt(ContentHash::of(raw))->offset, qint64(LocalBlockStore::kPackFileHeaderSize));
    LocalBlockStore restarted(root());
    QVERIFY(restarted.open().ok());
    QCOMPARE(restarted.get(ContentHash::of(raw))->data, raw);
}

QTEST_GUILESS_MAIN(tst_ServerBlockStore)
#include "tst_server_blockstore.moc"
