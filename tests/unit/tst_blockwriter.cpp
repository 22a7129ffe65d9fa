// BlockWriter: blocks checked against their hashes and written on its pool (or at once
// when small), into descriptors the caller may close meanwhile, never past a closed gate.
#include "blockwriter.h"
#include "testtree.h"

#include <QFile>
#include <QFileInfo>
#include <QRandomGenerator>
#include <QTemporaryDir>
#include <QTest>

#include <fcntl.h>
#include <optional>
#include <unistd.h>

using namespace filesync;
using namespace filesync::protocol;
using filesync::test::randomBytes;
using filesync::test::readFile;

namespace {
BlockPayload payloadOf(const QByteArray &data)
{
    return { ContentHash::of(data), BlockCodec::Raw, quint32(data.size()), data };
}

} // namespace

class tst_BlockWriter : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void writesEveryTargetEvenAfterTheCallerClosed_data();
    void writesEveryTargetEvenAfterTheCallerClosed();
    void aBadBlockWritesNothing();
    void aClosedGateStopsLaterWrites();
    void aFailedWriteIsReportedPerTarget();
    void noCallbackAfterTheWriterIsGone();

private:
    QTemporaryDir m_dir;
};

void tst_BlockWriter::writesEveryTargetEvenAfterTheCallerClosed_data()
{
    QTest::addColumn<int>("size");
    QTest::newRow("small: written at once") << 1000;
    QTest::newRow("big: written on the pool") << int(BlockWriter::kPoolFromBytes) + 1;
}

void tst_BlockWriter::writesEveryTargetEvenAfterTheCallerClosed()
{
    QFETCH(int, size);
    QObject context;
    BlockWriter writer(&context);
    const QByteArray data = randomBytes(size, 1);
    const QString a = m_dir.filePath(QStringLiteral("a%1").arg(size)),
                  b = m_dir.filePath(QStringLiteral("b%1").arg(size));
    const int fa = ::open(QFile::encodeName(a).constData(), O_RDWR | O_CREAT | O_TRUNC, 0600);
    const int fb = ::open(QFile::encodeName(b).constData(), O_RDWR | O_CREAT | O_TRUNC, 0600);
    QVERIFY(fa >= 0 && fb >= 0);
    std::optional<BlockWriter::Outcome> outcome;
    writer.write(payloadOf(data), { { fa, 0 }, { fb, 10 } }, true, [&](const BlockWriter::Outcome &o) { outcome = o; });
    ::close(fa); // the job has its own descriptors
    ::close(fb);
    QTRY_VERIFY(outcome.has_value());
    QVERIFY(outcome->verified());
    QCOMPARE(outcome->size, qint64(size));
    QCOMPARE(outcome->writeErrors, QList<int>({ 0, 0 }));
    QVERIFY(outcome->check.has_value());
    QCOMPARE(readFile(m_dir.path(), QFileInfo(a).fileName()), data);
    QCOMPARE(readFile(m_dir.path(), QFileInfo(b).fileName()).mid(10), data);
}

void tst_BlockWriter::aBadBlockWritesNothing()
{
    QObject context;
    BlockWriter writer(&context);
    const QString path = m_dir.filePath(QStringLiteral("bad"));
    const int fd = ::open(QFile::encodeName(path).constData(), O_RDWR | O_CREAT | O_TRUNC, 0600);
    BlockPayload forged = payloadOf(randomBytes(BlockWriter::kPoolFromBytes * 2, 2));
    forged.hash = ContentHash::of("something else");
    std::optional<BlockWriter::Outcome> outcome;
    writer.write(forged, { { fd, 0 } }, false, [&](const BlockWriter::Outcome &o) { outcome = o; });
    QTRY_VERIFY(outcome.has_value());
    QVERIFY(!outcome->verified());
    QVERIFY(!outcome->error.isEmpty());
    QCOMPARE(QFileInfo(path).size(), 0);
    ::close(fd);
}

void tst_BlockWriter::aClosedGateStopsLaterWrites()
{
    QObject context;
    BlockWriter writer(&context);
    const QString path = m_dir.filePath(QStringLiteral("gated"));
    const int fd = ::open(QFile::encodeName(path).constData(), O_RDWR | O_CREAT | O_TRUNC, 0600);
    auto gate = std::make_shared<BlockWriter::Gate>();
    gate->close(); // the file was handed on before the job ran
    std::optional<BlockWriter::Outcome> outcome;
    writer.write(
        payloadOf(randomBytes(BlockWriter::kPoolFromBytes * 2, 3)), { { fd, 0 } }, false,
        [&](const BlockWriter::Outcome &o) { outcome = o; }, gate);
    QTRY_VERIFY(outcome.has_value());
    QVERIFY(outcome->verified());
    QCOMPARE(outcome->writeErrors, QList<int>({ EBADF }));
    QCOMPARE(QFileInfo(path).size(), 0);
    ::close(fd);
}

void tst_BlockWriter::aFailedWriteIsReportedPerTarget()
{
    QObject context;
    BlockWriter writer(&context);
    const QString path = m_dir.filePath(QStringLiteral("readonly"));
    const int good = ::open(
        QFile::encodeName(m_dir.filePath(QStringLiteral("good"))).constData(), O_RDWR | O_CREAT | O_TRUNC, 0600);
    QVERIFY(QFile(path).open(QIODevice::WriteOnly));
    const int readOnly = ::open(QFile::encodeName(path).constData(), O_RDONLY);
    std::optional<BlockWriter::Outcome> outcome;
    writer.write(payloadOf(randomBytes(BlockWriter::kPoolFromBytes * 2, 4)), { { readOnly, 0 }, { good, 0 } }, false,
        [&](const BlockWriter::Outcome &o) { outcome = o; });
    QTRY_VERIFY(outcome.has_value());
    QVERIFY(outcome->verified());
    QCOMPARE(outcome->writeErrors.at(0), EBADF);
    QCOMPARE(outcome->writeErrors.at(1), 0);
    ::close(readOnly);
    ::close(good);
}

void tst_BlockWriter::noCallbackAfterTheWriterIsGone()
{
    QObject context;
    const QString path = m_dir.filePath(QStringLiteral("orphan"));
    const int fd = ::open(QFile::encodeName(path).constData(), O_RDWR | O_CREAT | O_TRUNC, 0600);
    const QByteArray data = randomBytes(BlockWriter::kPoolFromBytes * 4, 5);
    bool called = false;
    {
        BlockWriter writer(&context);
        writer.write(payloadOf(data), { { fd, 0 } }, false, [&](const BlockWriter::Outcome &) { called = true; });
    }
    ::close(fd);
    // The job still writes (into a file its owner may already have removed); it only
    // reports to nobody.
    QTRY_COMPARE(readFile(m_dir.path(), QFileInfo(path).fileName()), data);
    QTest::qWait(50); // room for a stray callback to show; the assertion above already synchronised
    QVERIFY(!called);
}

QTEST_GUILESS_MAIN(tst_BlockWriter)
#include "tst_blockwriter.moc"
