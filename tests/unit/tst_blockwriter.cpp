// BlockWriter: blocks checked against their hashes and written on its pool (or at once
// when small), into descriptors the caller may close meanwhile, never past a closed gate.
#include "blockwriter.h"
#include "enginepools.h"
#include "replyto.h"
#include "testtree.h"

#include <QFile>
#include <QRandomGenerator>
#include <QTemporaryDir>
#include <QTest>

#include <fcntl.h>
#include <memory>
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
    void aJobOutlivesItsWriter();
    void nothingRunsOnceTheReplyToIsGone();

private:
    // A new, empty file in the test's folder, open for reading and writing.
    int create(const QString &name) const
    {
        return ::open(QFile::encodeName(m_dir.filePath(name)).constData(), O_RDWR | O_CREAT | O_TRUNC, 0600);
    }
    QByteArray contentOf(const QString &name) const { return readFile(m_dir.path(), name); }

    QTemporaryDir m_dir;
    EnginePools m_pools;
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
    BlockWriter writer(m_pools, &context);
    const QByteArray data = randomBytes(size, 1);
    const QString a = QStringLiteral("a%1").arg(size), b = QStringLiteral("b%1").arg(size);
    const int fa = create(a);
    const int fb = create(b);
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
    QCOMPARE(contentOf(a), data);
    QCOMPARE(contentOf(b).mid(10), data);
}

void tst_BlockWriter::aBadBlockWritesNothing()
{
    QObject context;
    BlockWriter writer(m_pools, &context);
    const int fd = create(QStringLiteral("bad"));
    BlockPayload forged = payloadOf(randomBytes(BlockWriter::kPoolFromBytes * 2, 2));
    forged.hash = ContentHash::of("something else");
    std::optional<BlockWriter::Outcome> outcome;
    writer.write(forged, { { fd, 0 } }, false, [&](const BlockWriter::Outcome &o) { outcome = o; });
    QTRY_VERIFY(outcome.has_value());
    QVERIFY(!outcome->verified());
    QVERIFY(!outcome->error.isEmpty());
    QCOMPARE(contentOf(QStringLiteral("bad")), QByteArray());
    ::close(fd);
}

void tst_BlockWriter::aClosedGateStopsLaterWrites()
{
    QObject context;
    BlockWriter writer(m_pools, &context);
    const int fd = create(QStringLiteral("gated"));
    auto gate = std::make_shared<BlockWriter::Gate>();
    gate->close(); // the file was handed on before the job ran
    std::optional<BlockWriter::Outcome> outcome;
    writer.write(
        payloadOf(randomBytes(BlockWriter::kPoolFromBytes * 2, 3)), { { fd, 0 } }, false,
        [&](const BlockWriter::Outcome &o) { outcome = o; }, gate);
    QTRY_VERIFY(outcome.has_value());
    QVERIFY(outcome->verified());
    QCOMPARE(outcome->writeErrors, QList<int>({ EBADF }));
    QCOMPARE(contentOf(QStringLiteral("gated")), QByteArray());
    ::close(fd);
}

void tst_BlockWriter::aFailedWriteIsReportedPerTarget()
{
    QObject context;
    BlockWriter writer(m_pools, &context);
    const QString path = m_dir.filePath(QStringLiteral("readonly"));
    const int good = create(QStringLiteral("good"));
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

// The job still writes after its writer is gone (into a file its owner may already have
// removed); what it reports goes nowhere (ReplyTo, below).
void tst_BlockWriter::aJobOutlivesItsWriter()
{
    QObject context;
    const int fd = create(QStringLiteral("orphan"));
    const QByteArray data = randomBytes(BlockWriter::kPoolFromBytes * 4, 5);
    {
        BlockWriter writer(m_pools, &context);
        writer.write(payloadOf(data), { { fd, 0 } }, false, [](const BlockWriter::Outcome &) {});
    }
    ::close(fd);
    QTRY_COMPARE(contentOf(QStringLiteral("orphan")), data);
}

// What a job posts runs on the owner's thread while the ReplyTo lives; a post still queued
// when the ReplyTo goes (its owner living on), or made after, never runs.
void tst_BlockWriter::nothingRunsOnceTheReplyToIsGone()
{
    QObject owner;
    auto replyTo = std::make_unique<ReplyTo>(&owner);
    const ReplyTo::Handle handle = replyTo->handle();
    int ran = 0;
    handle.post([&ran] { ++ran; });
    QCoreApplication::sendPostedEvents(&owner, QEvent::MetaCall);
    QCOMPARE(ran, 1);
    handle.post([&ran] { ++ran; }); // queued while the ReplyTo lives
    replyTo.reset();
    handle.post([&ran] { ++ran; }); // after it
    QCoreApplication::sendPostedEvents(&owner, QEvent::MetaCall);
    QCOMPARE(ran, 1);
}

QTEST_GUILESS_MAIN(tst_BlockWriter)
#include "tst_blockwriter.moc"
