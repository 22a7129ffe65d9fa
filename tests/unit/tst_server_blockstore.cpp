// LocalBlockStore on its own: layout, codecs, verification, dedup, crash leftovers.
#include "blockstore.h"

#include <QDir>
#include <QDirIterator>
#include <QFile>
#include <QRandomGenerator>
#include <QTemporaryDir>
#include <QTest>

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

// Stored blocks only: files named by a SHA-256, not the journal or temporary files.
QStringList blocksUnder(const QString &root)
{
    QStringList blocks;
    for (const QString &path : filesUnder(root)) {
        if (QFileInfo(path).fileName().size() == 64) // temporary files have a suffix
            blocks << path;
    }
    return blocks;
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
    void olderLayoutIsStillRead();
    void leftoversAreRemoved();
    void syncMakesBatchesDurable_data();
    void syncMakesBatchesDurable();
    void damagedRecentBlocksAreDropped();
    void corruptBlocksAreRefused_data();
    void corruptBlocksAreRefused();
    void unwritableStoreFailsToOpen();

private:
    QString root() const { return m_dir->path() + QStringLiteral("/blocks"); }
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
    const QString hex = hash.toString();
    QCOMPARE(m_store->pathFor(hash), QStringLiteral("%1/%2/%3").arg(root(), hex.left(2), hex));
    QVERIFY(QFile::exists(m_store->pathFor(hash)));
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
    QVERIFY(blocksUnder(root()).isEmpty());
    QVERIFY(!m_store->get(ContentHash::of("claimed")).ok());
    QVERIFY(!m_store->put(ContentHash::of(""), QByteArray()).ok()); // no empty blocks
}

void tst_ServerBlockStore::storedOnce()
{
    const QByteArray raw = randomBytes(5000, 2);
    const ContentHash hash = ContentHash::of(raw);
    QVERIFY(m_store->put(hash, raw).ok());
    const QDateTime written = QFileInfo(m_store->pathFor(hash)).lastModified();
    QVERIFY(m_store->put(hash, raw).ok());
    QCOMPARE(blocksUnder(root()).size(), 1);
    QCOMPARE(QFileInfo(m_store->pathFor(hash)).lastModified(), written);
}

// A store written by a server of the two-level layout (ab/cd/<hex>): its blocks are
// found and served where they are, and not stored a second time.
void tst_ServerBlockStore::olderLayoutIsStillRead()
{
    const QByteArray raw = randomBytes(3000, 7);
    const ContentHash hash = ContentHash::of(raw);
    QVERIFY(m_store->put(hash, raw).ok());
    QVERIFY(m_store->sync().ok());
    const QString legacy = m_store->legacyPathFor(hash);
    QVERIFY(QDir().mkpath(QFileInfo(legacy).absolutePath()));
    QVERIFY(QFile::rename(m_store->pathFor(hash), legacy));
    QVERIFY(m_store->has(hash));
    const auto stored = m_store->get(hash);
    QVERIFY(stored.ok());
    QCOMPARE(*decodeAndVerify(BlockPayload { hash, stored->codec, stored->rawSize, stored->data }), raw);
    QVERIFY(m_store->put(hash, raw).ok());
    QVERIFY(!QFile::exists(m_store->pathFor(hash))); // kept once, where it was
    QCOMPARE(blocksUnder(root()).size(), 1);
    QVERIFY(!m_store->has(ContentHash::of("absent")));
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
    QTest::newRow("one, fdatasync") << 1;
    QTest::newRow("a batch, syncfs") << LocalBlockStore::kSyncEachUpTo + 10;
}

void tst_ServerBlockStore::syncMakesBatchesDurable()
{
    QFETCH(int, blocks);
    for (int i = 0; i < blocks; ++i) {
        const QByteArray raw = randomBytes(1000, quint32(i));
        QVERIFY(m_store->put(ContentHash::of(raw), raw).ok());
    }
    QCOMPARE(m_store->pendingCount(), blocks);
    QCOMPARE(QFileInfo(root() + QStringLiteral("/unsynced")).size(), qint64(blocks) * 65);
    QVERIFY(m_store->sync().ok());
    QCOMPARE(m_store->pendingCount(), 0);
    QCOMPARE(QFileInfo(root() + QStringLiteral("/unsynced")).size(), 0);
    QVERIFY(m_store->sync().ok()); // nothing pending: nothing to do
}

void tst_ServerBlockStore::damagedRecentBlocksAreDropped()
{
    // Two blocks written, the server "crashes" before sync(): one of them lost its data.
    const QByteArray intact = randomBytes(3000, 3);
    const QByteArray damaged = randomBytes(3000, 4);
    QVERIFY(m_store->put(ContentHash::of(intact), intact).ok());
    QVERIFY(m_store->put(ContentHash::of(damaged), damaged).ok());
    QFile journal(root() + QStringLiteral("/unsynced"));
    QVERIFY(journal.open(QIODevice::ReadOnly));
    const QByteArray listed = journal.readAll();
    journal.close();
    QFile file(m_store->pathFor(ContentHash::of(damaged)));
    QVERIFY(file.open(QIODevice::ReadWrite));
    QVERIFY(file.seek(100));
    file.write(QByteArray(100, '\0'));
    file.close();
    m_store.reset(); // a clean stop would empty the journal: put back what a crash leaves
    QVERIFY(journal.open(QIODevice::WriteOnly));
    journal.write(listed);
    journal.close();

    LocalBlockStore restarted(root());
    QVERIFY(restarted.open().ok());
    QVERIFY(restarted.has(ContentHash::of(intact)));
    QVERIFY(!restarted.has(ContentHash::of(damaged))); // clients will be asked to upload it again
    QCOMPARE(QFileInfo(journal.fileName()).size(), 0);
}

void tst_ServerBlockStore::corruptBlocksAreRefused_data()
{
    QTest::addColumn<QByteArray>("content");
    QTest::newRow("empty file") << QByteArray();
    QTest::newRow("header only") << QByteArray("\x00\x00\x00\x00\x04", 5);
    QTest::newRow("unknown codec") << QByteArray("\x07\x00\x00\x00\x04"
                                                 "data",
        9);
    QTest::newRow("raw size mismatch") << QByteArray("\x00\x00\x00\x00\x09"
                                                     "data",
        9);
    QTest::newRow("over the block cap") << QByteArray("\x01\x7f\x00\x00\x00"
                                                      "data",
        9);
}

void tst_ServerBlockStore::corruptBlocksAreRefused()
{
    QFETCH(QByteArray, content);
    const ContentHash hash = ContentHash::of("data");
    QVERIFY(m_store->put(hash, QByteArray("data")).ok());
    QFile f(m_store->pathFor(hash));
    QVERIFY(f.open(QIODevice::WriteOnly | QIODevice::Truncate));
    f.write(content);
    f.close();
    QVERIFY(!m_store->get(hash).ok());
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

QTEST_GUILESS_MAIN(tst_ServerBlockStore)
#include "tst_server_blockstore.moc"
