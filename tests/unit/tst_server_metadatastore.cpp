// SqliteMetadataStore on its own: the optimistic commit rules as a table, the change
// feed, accounts, proven blocks and the schema.
#include "sqlitemetadatastore.h"

#include <QFile>
#include <QSet>
#include <QSqlDatabase>
#include <QSqlQuery>
#include <QTemporaryDir>
#include <QTest>
#include <QUuid>
#include <QVariant>

using namespace filesync;
using namespace filesync::protocol;

namespace {

RelativePath P(const QString &p)
{
    return *RelativePath::fromString(p);
}

CommitOp op(CommitOpKind kind, const QString &path, quint64 base, EntryKind entryKind = EntryKind::File,
    const QByteArray &content = QByteArray())
{
    CommitOp o;
    o.op = kind;
    o.path = P(path);
    o.kind = entryKind;
    o.baseVersion = base;
    if (!content.isEmpty()) {
        o.blocks = { BlockRef { ContentHash::of(content), quint32(content.size()) } };
        o.size = content.size();
    }
    return o;
}

CommitOp moveOp(const QString &from, const QString &to, quint64 base, EntryKind kind = EntryKind::File)
{
    CommitOp o = op(CommitOpKind::Move, to, base, kind);
    o.from = P(from);
    return o;
}

// Runs a statement on a second connection to the same file.
QVariant rawQuery(const QString &path, const QString &sql)
{
    const QString name = QUuid::createUuid().toString();
    QVariant value;
    {
        QSqlDatabase db = QSqlDatabase::addDatabase(QStringLiteral("QSQLITE"), name);
        db.setDatabaseName(path);
        if (db.open()) {
            QSqlQuery q(db);
            if (q.exec(sql) && q.next())
                value = q.value(0);
        }
    }
    QSqlDatabase::removeDatabase(name);
    return value;
}

} // namespace

class tst_ServerMetadataStore : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void init();
    void cleanup();

    void commitRules_data();
    void commitRules();
    void lostBlocksCannotBeReferenced();
    void provenBlocksAreRecordedInBatches();
    void everyChangeTakesTheNextNumber();
    void changesCollapsePerPath();
    void changesPageByCountAndBudget();
    void accountsAreIsolated();
    void accountLookup();
    void reopenKeepsEverything();
    void unknownSchemaIsRefusedAndLeftAlone_data();
    void unknownSchemaIsRefusedAndLeftAlone();

private:
    QString dbPath() const { return m_dir->path() + QStringLiteral("/metadata.db"); }
    CommitResult apply(const CommitOp &o)
    {
        auto reply = m_store->commit(m_account, QStringLiteral("tester"), { o }, m_stored);
        return reply && reply->results.size() == 1 ? reply->results.first() : CommitResult {};
    }

    std::unique_ptr<QTemporaryDir> m_dir;
    std::unique_ptr<SqliteMetadataStore> m_store;
    AccountKey m_account = 0;
    QSet<ContentHash> m_lost; // blocks the block store no longer has
    MetadataStore::BlockExists m_stored = [this](const ContentHash &h) { return !m_lost.contains(h); };
};

void tst_ServerMetadataStore::provenBlocksAreRecordedInBatches()
{
    QList<ContentHash> hashes;
    for (int i = 0; i < 3000; ++i)
        hashes << ContentHash::of(QByteArray::number(i));
    QCOMPARE(m_store->unprovenBlocks(m_account, hashes)->size(), hashes.size());
    QVERIFY(m_store->recordProvenBlocks(m_account, hashes).ok());
    QVERIFY(m_store->recordProvenBlocks(m_account, hashes.mid(0, 10)).ok()); // again: no error
    QVERIFY(m_store->recordProvenBlocks(m_account, {}).ok());
    QCOMPARE(m_store->unprovenBlocks(m_account, hashes)->size(), 0);
    auto other = m_store->createAccount(QByteArray(32, 'B'));
    QVERIFY(other.ok());
    QCOMPARE(m_store->unprovenBlocks(*other, hashes)->size(), hashes.size()); // per account
}

void tst_ServerMetadataStore::init()
{
    m_dir = std::make_unique<QTemporaryDir>();
    m_store = std::make_unique<SqliteMetadataStore>(dbPath());
    QVERIFY(m_store->open().ok());
    auto account = m_store->createAccount(QByteArray(32, 'A'));
    QVERIFY(account.ok());
    m_account = *account;
    QVERIFY(m_store->recordProvenBlock(m_account, ContentHash::of("x")).ok());
    // f: file v1; d: folder v2 holding d/x v3; t: tombstone v5 (was v4); e: empty folder v6.
    const QList<CommitOp> setup = { op(CommitOpKind::Put, QStringLiteral("f"), 0, EntryKind::File, "x"),
        op(CommitOpKind::Put, QStringLiteral("d/x"), 0, EntryKind::File, "x"),
        op(CommitOpKind::Put, QStringLiteral("t"), 0), op(CommitOpKind::Delete, QStringLiteral("t"), 4),
        op(CommitOpKind::Put, QStringLiteral("e"), 0, EntryKind::Directory) };
    auto reply = m_store->commit(m_account, QStringLiteral("setup"), setup, m_stored);
    QVERIFY(reply.ok());
    QCOMPARE(reply->head, 6u);
    for (const CommitResult &r : reply->results)
        QCOMPARE(r.status, CommitStatus::Applied);
}

void tst_ServerMetadataStore::cleanup()
{
    m_store.reset();
    m_dir.reset();
}

void tst_ServerMetadataStore::commitRules_data()
{
    QTest::addColumn<CommitOp>("commitOp");
    QTest::addColumn<int>("status");
    QTest::addColumn<quint64>("version"); // Applied: the new (or existing) version; Conflict: cur
    QTest::addColumn<quint64>("head");
    const auto A = int(CommitStatus::Applied), C = int(CommitStatus::Conflict), R = int(CommitStatus::Rejected);
    const auto Put = CommitOpKind::Put, Del = CommitOpKind::Delete;
    const auto Dir = EntryKind::Directory, File = EntryKind::File;
    auto S = [](const char *s) { return QString::fromUtf8(s); };
    // clang-format off
    QTest::newRow("put: edit with the right base") << op(Put, S("f"), 1, File, "x") << A << 7ull << 7ull;
    QTest::newRow("put: create where a file is") << op(Put, S("f"), 0) << C << 1ull << 6ull;
    QTest::newRow("put: stale base") << op(Put, S("f"), 9) << C << 1ull << 6ull;
    QTest::newRow("put: new path") << op(Put, S("n"), 0) << A << 7ull << 7ull;
    QTest::newRow("put: new path, unseen base") << op(Put, S("n"), 3) << C << 0ull << 6ull;
    QTest::newRow("put: over a tombstone, base 0") << op(Put, S("t"), 0) << A << 7ull << 7ull;
    QTest::newRow("put: over a tombstone, its version") << op(Put, S("t"), 5) << A << 7ull << 7ull;
    QTest::newRow("put: over a tombstone, older base") << op(Put, S("t"), 4) << C << 5ull << 6ull;
    QTest::newRow("put: a folder that exists") << op(Put, S("d"), 0, Dir) << A << 2ull << 6ull;
    QTest::newRow("put: file over a folder with content") << op(Put, S("d"), 2) << C << 2ull << 6ull;
    QTest::newRow("put: file over an empty folder") << op(Put, S("e"), 6) << A << 7ull << 7ull;
    QTest::newRow("put: folder over a file") << op(Put, S("f"), 1, Dir) << A << 7ull << 7ull;
    QTest::newRow("put: inside a file") << op(Put, S("f/inner"), 0) << R << 0ull << 6ull;
    QTest::newRow("put: deep inside a file") << op(Put, S("d/x/y/z"), 0) << R << 0ull << 6ull;
    QTest::newRow("put: unproven block") << op(Put, S("n"), 0, File, "y") << R << 0ull << 6ull;
    QTest::newRow("put: parents created") << op(Put, S("p/q/r"), 0) << A << 9ull << 9ull;
    QTest::newRow("put: parent over a tombstone") << op(Put, S("t/child"), 0) << A << 8ull << 8ull;
    QTest::newRow("delete: right base") << op(Del, S("f"), 1) << A << 7ull << 7ull;
    QTest::newRow("delete: stale base") << op(Del, S("f"), 0) << C << 1ull << 6ull;
    QTest::newRow("delete: folder with content") << op(Del, S("d"), 2, Dir) << C << 2ull << 6ull;
    QTest::newRow("delete: empty folder") << op(Del, S("e"), 6, Dir) << A << 7ull << 7ull;
    QTest::newRow("delete: gone, its version") << op(Del, S("t"), 5) << A << 5ull << 6ull;
    QTest::newRow("delete: gone, base 0") << op(Del, S("t"), 0) << A << 5ull << 6ull;
    QTest::newRow("delete: deleted since") << op(Del, S("t"), 4) << C << 5ull << 6ull;
    QTest::newRow("delete: never existed") << op(Del, S("z"), 0) << A << 0ull << 6ull;
    QTest::newRow("move: file") << moveOp(S("f"), S("g"), 1) << A << 8ull << 8ull;
    QTest::newRow("move: stale base") << moveOp(S("f"), S("g"), 0) << C << 1ull << 6ull;
    QTest::newRow("move: onto a live path") << moveOp(S("f"), S("e"), 1) << C << 6ull << 6ull;
    QTest::newRow("move: onto a tombstone") << moveOp(S("f"), S("t"), 1) << A << 8ull << 8ull;
    QTest::newRow("move: folder tree") << moveOp(S("d"), S("m/n"), 2, Dir) << A << 9ull << 11ull;
    QTest::newRow("move: deleted source") << moveOp(S("t"), S("u"), 5) << C << 5ull << 6ull;
    QTest::newRow("move: missing source") << moveOp(S("nope"), S("u"), 0) << C << 0ull << 6ull;
    QTest::newRow("move: into itself") << moveOp(S("d"), S("d/y"), 2, Dir) << R << 0ull << 6ull;
    QTest::newRow("move: onto itself") << moveOp(S("d"), S("d"), 2, Dir) << R << 0ull << 6ull;
    QTest::newRow("move: under a file") << moveOp(S("e"), S("f/e"), 6, Dir) << R << 0ull << 6ull;
    // clang-format on
}

void tst_ServerMetadataStore::commitRules()
{
    QFETCH(CommitOp, commitOp);
    QFETCH(int, status);
    QFETCH(quint64, version);
    QFETCH(quint64, head);
    const auto before = m_store->changesSince(m_account, 0, 100, kMetadataBudget);
    const CommitResult r = apply(commitOp);
    QCOMPARE(int(r.status), status);
    if (r.status == CommitStatus::Applied)
        QCOMPARE(r.version, version);
    else if (r.status == CommitStatus::Conflict)
        QCOMPARE(r.currentVersion, version);
    else
        QVERIFY(!r.reason.isEmpty());
    QCOMPARE(*m_store->head(m_account), head);
    if (head == 6) { // nothing changed at all
        const auto after = m_store->changesSince(m_account, 0, 100, kMetadataBudget);
        QCOMPARE(after->entries, before->entries);
    }
}

void tst_ServerMetadataStore::lostBlocksCannotBeReferenced()
{
    // Proven once, but gone from the block store (e.g. dropped after a crash).
    m_lost.insert(ContentHash::of("x"));
    const CommitResult r = apply(op(CommitOpKind::Put, QStringLiteral("again"), 0, EntryKind::File, "x"));
    QCOMPARE(r.status, CommitStatus::Rejected);
    QVERIFY(r.reason.contains(QStringLiteral("missing block")));
    m_lost.clear();
    QCOMPARE(
        apply(op(CommitOpKind::Put, QStringLiteral("again"), 0, EntryKind::File, "x")).status, CommitStatus::Applied);
}

void tst_ServerMetadataStore::everyChangeTakesTheNextNumber()
{
    // A folder tree move: each old path a tombstone, each new one a copy with `from`.
    auto reply = m_store->commit(m_account, QStringLiteral("mover"),
        { moveOp(QStringLiteral("d"), QStringLiteral("m/n"), 2, EntryKind::Directory),
            op(CommitOpKind::Put, QStringLiteral("f"), 0), op(CommitOpKind::Put, QStringLiteral("new"), 0) },
        m_stored);
    QVERIFY(reply.ok());
    QCOMPARE(reply->head, 12u); // m, d, m/n, d/x, m/n/x, then new (f conflicts)
    const auto changes = m_store->changesSince(m_account, 6, 100, kMetadataBudget);
    QStringList seen;
    quint64 expected = 7;
    for (const FileEntry &e : changes->entries) {
        QCOMPARE(e.version, expected++);
        QCOMPARE(e.origin, QStringLiteral("mover"));
        seen << e.path.toString() + (e.deleted ? QStringLiteral("-") : QString())
                + (e.movedFrom ? QStringLiteral("<") + e.movedFrom->toString() : QString());
    }
    QCOMPARE(seen,
        (QStringList { QStringLiteral("m"), QStringLiteral("d-"), QStringLiteral("m/n<d"), QStringLiteral("d/x-"),
            QStringLiteral("m/n/x<d/x"), QStringLiteral("new") }));
    QCOMPARE(changes->entries.at(4).blocks.first().hash, ContentHash::of("x")); // content moved along
    QVERIFY(changes->entries.at(3).blocks.isEmpty());
}

void tst_ServerMetadataStore::changesCollapsePerPath()
{
    quint64 v = 1;
    for (int i = 0; i < 4; ++i)
        v = apply(op(CommitOpKind::Put, QStringLiteral("f"), v, EntryKind::File, i % 2 ? "x" : "")).version;
    const auto all = m_store->changesSince(m_account, 0, 100, kMetadataBudget);
    QStringList paths;
    for (const FileEntry &e : all->entries)
        paths << e.path.toString();
    QCOMPARE(paths,
        (QStringList { QStringLiteral("d"), QStringLiteral("d/x"), QStringLiteral("t"), QStringLiteral("e"),
            QStringLiteral("f") }));
    QVERIFY(all->entries.at(2).deleted); // tombstones are kept
    QCOMPARE(all->entries.last().version, v);
    QCOMPARE(all->head, v);
    QCOMPARE(all->next, v);
    QVERIFY(!all->more);
    const auto recent = m_store->changesSince(m_account, 5, 100, kMetadataBudget);
    QCOMPARE(recent->entries.size(), 2); // e and f
    QVERIFY(m_store->changesSince(m_account, v, 100, kMetadataBudget)->entries.isEmpty());
}

void tst_ServerMetadataStore::changesPageByCountAndBudget()
{
    for (const auto &[limit, budget] : { std::pair { 2, kMetadataBudget }, std::pair { 100, qint64(1) } }) {
        quint64 since = 0;
        int total = 0;
        int pages = 0;
        for (;;) {
            const auto page = m_store->changesSince(m_account, since, limit, budget);
            QVERIFY(page.ok());
            QVERIFY(!page->entries.isEmpty());
            QVERIFY(page->entries.size() <= (budget == 1 ? 1 : limit)); // the first entry always goes
            total += int(page->entries.size());
            ++pages;
            if (!page->more)
                break;
            QCOMPARE(page->next, page->entries.last().version);
            since = page->next;
        }
        QCOMPARE(total, 5);
        QCOMPARE(pages, budget == 1 ? 5 : 3);
    }
}

void tst_ServerMetadataStore::accountsAreIsolated()
{
    auto other = m_store->createAccount(QByteArray(32, 'B'));
    QVERIFY(other.ok());
    QCOMPARE(*m_store->head(*other), 0u);
    QVERIFY(m_store->changesSince(*other, 0, 100, kMetadataBudget)->entries.isEmpty());
    // Blocks are proven per account: the other one cannot reference "x".
    QCOMPARE(*m_store->unprovenBlocks(*other, { ContentHash::of("x") }), QList<ContentHash> { ContentHash::of("x") });
    QVERIFY(m_store->unprovenBlocks(m_account, { ContentHash::of("x") })->isEmpty());
    QVERIFY(!*m_store->isProvenBlock(*other, ContentHash::of("x")));
    auto reply
        = m_store->commit(*other, QStringLiteral("o"), { op(CommitOpKind::Put, QStringLiteral("f"), 0) }, m_stored);
    QCOMPARE(reply->results.first().version, 1u); // its own sequence
    QCOMPARE(*m_store->head(m_account), 6u);
}

void tst_ServerMetadataStore::accountLookup()
{
    QCOMPARE(*m_store->accountCount(), 1);
    auto found = m_store->findAccount(QByteArray(32, 'A'));
    QVERIFY(found.ok() && found->has_value());
    QCOMPARE((*found)->key, m_account);
    QCOMPARE((*found)->idHash, QByteArray(32, 'A'));
    QVERIFY(!m_store->findAccount(QByteArray(32, 'C'))->has_value());
    QVERIFY(!m_store->createAccount(QByteArray(32, 'A')).ok()); // hashes are unique
}

void tst_ServerMetadataStore::reopenKeepsEverything()
{
    const auto before = m_store->changesSince(m_account, 0, 100, kMetadataBudget);
    m_store.reset();
    QCOMPARE(rawQuery(dbPath(), QStringLiteral("PRAGMA user_version")).toInt(), SqliteMetadataStore::kSchemaVersion);
    QCOMPARE(rawQuery(dbPath(), QStringLiteral("PRAGMA journal_mode")).toString(), QStringLiteral("wal"));
    m_store = std::make_unique<SqliteMetadataStore>(dbPath());
    QVERIFY(m_store->open().ok());
    QCOMPARE(m_store->changesSince(m_account, 0, 100, kMetadataBudget)->entries, before->entries);
    QCOMPARE(*m_store->head(m_account), 6u);
    QCOMPARE(apply(op(CommitOpKind::Put, QStringLiteral("after"), 0)).version, 7u);
}

void tst_ServerMetadataStore::unknownSchemaIsRefusedAndLeftAlone_data()
{
    QTest::addColumn<bool>("fresh"); // a database of somebody else's tables, else ours
    QTest::addColumn<int>("version"); // set on it, and named in the refusal
    QTest::newRow("a newer schema") << false << 2;
    QTest::newRow("tables without a version") << true << 0;
}

// A database whose schema this build does not know: open() fails with one line naming
// the version found and the one supported, and the file keeps every byte.
void tst_ServerMetadataStore::unknownSchemaIsRefusedAndLeftAlone()
{
    QFETCH(bool, fresh);
    QFETCH(int, version);
    m_store.reset();
    QString path = dbPath();
    if (fresh) {
        path = m_dir->path() + QStringLiteral("/other.db");
        rawQuery(path, QStringLiteral("CREATE TABLE notes(text TEXT)"));
        rawQuery(path, QStringLiteral("INSERT INTO notes VALUES('x')"));
    }
    rawQuery(path, QStringLiteral("PRAGMA user_version=%1").arg(version));
    const auto bytes = [&path] {
        QFile f(path);
        return f.open(QIODevice::ReadOnly) ? f.readAll() : QByteArray();
    };
    const QByteArray before = bytes();
    QVERIFY(!before.isEmpty());
    QString message;
    {
        SqliteMetadataStore store(path);
        const auto opened = store.open();
        QVERIFY(!opened.ok());
        message = opened.errorMessage();
    }
    QVERIFY2(message.contains(QStringLiteral("schema version %1").arg(version))
            && message.contains(QStringLiteral("only version %1").arg(SqliteMetadataStore::kSchemaVersion))
            && !message.contains(u'\n'),
        qPrintable(message));
    QCOMPARE(bytes(), before);
    QCOMPARE(rawQuery(path, QStringLiteral("PRAGMA user_version")).toInt(), version);
    SqliteMetadataStore nowhere(m_dir->path() + QStringLiteral("/missing/dir/metadata.db"));
    QVERIFY(!nowhere.open().ok());
}

QTEST_GUILESS_MAIN(tst_ServerMetadataStore)
#include "tst_server_metadatastore.moc"
