// Commits, blocks and the change feed through the real SyncServer over real sockets:
// the optimistic rules as a client meets them. The rule table itself is tested against
// the store in tst_server_metadatastore.cpp.
#include "rawclient.h"
#include "syncserver.h"

#include <QMap>
#include <QTemporaryDir>
#include <QTest>

using namespace filesync;
using namespace filesync::protocol;
using namespace filesync::servertest;

namespace {

BlockRef ref(const QByteArray &data)
{
    return BlockRef { ContentHash::of(data), quint32(data.size()) };
}

CommitOp deltaPut(const char *path, quint64 base, const QList<BlockRef> &baseBlocks, const QList<BlockRef> &target)
{
    CommitOp op;
    op.path = P(path);
    op.baseVersion = base;
    op.size = totalSize(target);
    op.delta = BlockListDelta::between(baseBlocks, target);
    return op;
}

QMap<QString, FileEntry> byPath(const Changes &changes)
{
    QMap<QString, FileEntry> map;
    for (const FileEntry &e : changes.entries)
        map.insert(e.path.toString(), e);
    return map;
}

} // namespace

class tst_ServerCommits : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void init();
    void cleanup();

    void optimisticCommits();
    void directoriesDeleteOnlyWhenEmpty();
    void movesAreOneOperation();
    void invalidMovesChangeNothing();
    void subtreeOpsLeaveSiblingsOfTheSameStem();
    void parentsStayTrueWithinOneCommit();
    void folderMoveTakesTheCurrentSubtree();
    void folderMoveWritesEachEntryInPathOrder();
    void newInsideAMovedFolderConflicts();
    void blocksCannotBeClaimedByHash();
    void blocksAreStoredOnce();
    void changesCollapseAndPage();
    void changesStayUnderTheBudget();
    void deltaCommitsApplyAgainstTheirBase();

private:
    std::unique_ptr<QTemporaryDir> m_dir;
    std::unique_ptr<SyncServer> m_server;
};

void tst_ServerCommits::init()
{
    m_dir = std::make_unique<QTemporaryDir>();
    m_server = std::make_unique<SyncServer>(ServerConfig { m_dir->path(), QHostAddress::LocalHost, 0, {}, {} });
    QVERIFY(m_server->start().ok());
}

void tst_ServerCommits::cleanup()
{
    m_server.reset();
    m_dir.reset();
}

void tst_ServerCommits::optimisticCommits()
{
    RawClient c(m_server->port());
    QVERIFY(!c.login().isEmpty());
    QVERIFY(c.putBlock("one"));
    QVERIFY(c.putBlock("two"));
    CommitReply r = c.commit({ put("a.txt", "one") });
    QCOMPARE(r.results.first().status, CommitStatus::Applied);
    const quint64 v1 = r.results.first().version;
    QCOMPARE(r.head, v1);

    // Creating again (base 0) or editing with a stale base: conflict, nothing overwritten.
    r = c.commit({ put("a.txt", "two", 0), put("a.txt", "two", v1 + 100) });
    QCOMPARE(r.results.at(0).status, CommitStatus::Conflict);
    QCOMPARE(r.results.at(0).currentVersion, v1);
    QCOMPARE(r.results.at(1).status, CommitStatus::Conflict);
    QCOMPARE(r.head, v1);
    QCOMPARE(c.changes(0).entries.first().blocks.first().hash, ContentHash::of("one"));

    // With the right base it applies; parents are created implicitly.
    r = c.commit({ put("a.txt", "two", v1), put("deep/er/b.txt", "one") });
    QCOMPARE(r.results.at(0).status, CommitStatus::Applied);
    QCOMPARE(r.results.at(1).status, CommitStatus::Applied);
    QCOMPARE(r.head, v1 + 4); // a.txt, deep, deep/er, deep/er/b.txt: each takes a number
    const Changes all = c.changes(0);
    QStringList paths;
    for (const FileEntry &e : all.entries)
        paths << e.path.toString();
    QCOMPARE(paths,
        (QStringList { QStringLiteral("a.txt"), QStringLiteral("deep"), QStringLiteral("deep/er"),
            QStringLiteral("deep/er/b.txt") }));
    QCOMPARE(all.entries.at(1).kind, EntryKind::Directory);
    QCOMPARE(all.entries.first().origin, QStringLiteral("t"));

    // A file cannot be a parent; an unknown block is refused; the others still apply.
    r = c.commit({ put("a.txt/inside", "one"), put("c.txt", "never uploaded"), put("d.txt", "two") });
    QCOMPARE(r.results.at(0).status, CommitStatus::Rejected);
    QCOMPARE(r.results.at(1).status, CommitStatus::Rejected);
    QVERIFY(r.results.at(1).reason.contains(QStringLiteral("missing block")));
    QCOMPARE(r.results.at(2).status, CommitStatus::Applied);

    // Delete, then re-create over the tombstone with its version or 0.
    const quint64 v2 = c.changes(0).entries.first().version;
    r = c.commit({ del("a.txt", v2) });
    QCOMPARE(r.results.first().status, CommitStatus::Applied);
    const quint64 tomb = r.results.first().version;
    const FileEntry gone = c.changes(tomb - 1).entries.first();
    QVERIFY(gone.deleted);
    QVERIFY(gone.blocks.isEmpty());
    // It names what it removed: a computer whose put went unanswered knows it landed.
    QCOMPARE(gone.removedContent, blockListDigest({ BlockRef { ContentHash::of("two"), 3 } }));
    r = c.commit({ put("a.txt", "one", tomb) });
    QCOMPARE(r.results.first().status, CommitStatus::Applied);
}

void tst_ServerCommits::directoriesDeleteOnlyWhenEmpty()
{
    RawClient c(m_server->port());
    c.login();
    QVERIFY(c.putBlock("x"));
    CommitReply r = c.commit({ dirOp(CommitOpKind::Put, "d"), put("d/f", "x"), dirOp(CommitOpKind::Put, "d") });
    const quint64 dirVersion = r.results.at(0).version;
    const quint64 fileVersion = r.results.at(1).version;
    QCOMPARE(r.results.at(2).status, CommitStatus::Applied); // a folder that exists: nothing to do
    QCOMPARE(r.results.at(2).version, dirVersion);
    r = c.commit({ dirOp(CommitOpKind::Delete, "d", dirVersion) });
    QCOMPARE(r.results.first().status, CommitStatus::Conflict); // not empty: an edit wins
    r = c.commit({ del("d/f", fileVersion), dirOp(CommitOpKind::Delete, "d", dirVersion) });
    QCOMPARE(r.results.at(0).status, CommitStatus::Applied);
    QCOMPARE(r.results.at(1).status, CommitStatus::Applied);
}

void tst_ServerCommits::movesAreOneOperation()
{
    RawClient c(m_server->port());
    c.login();
    QVERIFY(c.putBlock("x"));
    CommitReply r = c.commit({ put("a/1", "x"), put("a/sub/2", "x"), put("file", "x"), put("a b", "x") });
    const quint64 head = r.head;
    const auto before = byPath(c.changes(0));
    r = c.commit({ move("a", "b/renamed", before[QStringLiteral("a")].version, EntryKind::Directory),
        move("file", "b/renamed/1", before[QStringLiteral("file")].version),
        move("file", "file2", before[QStringLiteral("file")].version) });
    QCOMPARE(r.results.at(0).status, CommitStatus::Applied);
    QCOMPARE(r.results.at(1).status, CommitStatus::Conflict); // the target is live now
    QCOMPARE(r.results.at(2).status, CommitStatus::Applied);
    // a, a/1, a/sub, a/sub/2 each: a tombstone and a new entry; b; file: tombstone and new entry.
    QCOMPARE(r.head, head + 8 + 1 + 2);
    const auto after = byPath(c.changes(head));
    QVERIFY(after.value(QStringLiteral("a")).deleted);
    QVERIFY(after.value(QStringLiteral("a/sub/2")).deleted);
    // A tombstone left by a move names the file's content too; a folder's names none.
    const ContentHash x = blockListDigest({ BlockRef { ContentHash::of("x"), 1 } });
    QCOMPARE(after.value(QStringLiteral("a/sub/2")).removedContent, x);
    QCOMPARE(after.value(QStringLiteral("file")).removedContent, x);
    QVERIFY(!after.value(QStringLiteral("a")).removedContent);
    QVERIFY(!after.value(QStringLiteral("b/renamed/sub/2")).removedContent);
    QVERIFY(!after.contains(QStringLiteral("a b"))); // a sibling with a similar name stays
    QCOMPARE(after.value(QStringLiteral("b/renamed/sub/2")).movedFrom, P("a/sub/2"));
    QCOMPARE(after.value(QStringLiteral("b/renamed/sub/2")).blocks.first().hash, ContentHash::of("x"));
    QCOMPARE(after.value(QStringLiteral("b/renamed")).movedFrom, P("a"));
    QCOMPARE(after.value(QStringLiteral("b/renamed")).version, r.results.at(0).version);
    QVERIFY(!after.value(QStringLiteral("b")).deleted);
    QVERIFY(!after.value(QStringLiteral("b")).movedFrom);
    QCOMPARE(after.value(QStringLiteral("file2")).movedFrom, P("file"));
    // A stale move is a conflict.
    r = c.commit({ move("b/renamed/1", "elsewhere", 1) });
    QCOMPARE(r.results.first().status, CommitStatus::Conflict);
    QCOMPARE(r.results.first().currentVersion, after.value(QStringLiteral("b/renamed/1")).version);
}

void tst_ServerCommits::invalidMovesChangeNothing()
{
    // (A move into itself never gets here: the schema refuses it as a bad request.)
    RawClient c(m_server->port());
    c.login();
    QVERIFY(c.putBlock("x"));
    const CommitReply r = c.commit({ put("d/f", "x"), put("file", "x") });
    const auto state = byPath(c.changes(0));
    const quint64 d = state[QStringLiteral("d")].version;
    const QByteArray longName = QByteArray(250, 'n') + '/' + QByteArray(250, 'm');
    const CommitReply bad = c.commit({ move("file", "d/f/x", state[QStringLiteral("file")].version),
        move("gone", "there", 1), move("d", longName.constData(), d, EntryKind::Directory) });
    QCOMPARE(bad.results.size(), 3);
    QCOMPARE(bad.results.at(0).status, CommitStatus::Rejected); // d/f is a file
    QCOMPARE(bad.results.at(1).status, CommitStatus::Conflict); // no such source
    QCOMPARE(bad.results.at(1).currentVersion, 0u);
    QCOMPARE(bad.results.at(2).status, CommitStatus::Applied); // long, yet within the caps
    QCOMPARE(bad.head, r.head + 1 + 4); // one parent created, then d and d/f moved
    QVERIFY(byPath(c.changes(0)).value(QString::fromLatin1(longName + "/f")).movedFrom == P("d/f"));
}

// A commit remembers the folders it found or created (so that 256 files in one folder
// look the folder up once): a folder deleted or moved later in the same commit must be
// created again for the ops after it, never assumed.
// "d/X.pm", "d/X-1", "d/X 2/..." and "d/X+c" start with "d/X" but are not in the folder
// d/X: a move, a delete and the emptiness check of d/X never see them.
// A folder move writes, for the folder and then each live entry under it in path order
// (every folder before its content, "a" before "a b" before "a/z"), the old path's
// tombstone and then the new path, at consecutive versions; contents, kinds and modes go
// along; tombstones and the names that only start like the folder stay where they are.
void tst_ServerCommits::folderMoveWritesEachEntryInPathOrder()
{
    RawClient c(m_server->port());
    c.login();
    QVERIFY(c.putBlock("x"));
    QVERIFY(c.putBlock("yy"));
    CommitOp executable = put("d/X/run", "yy");
    executable.mode = 0755;
    CommitReply r = c.commit({ put("d/X/in.txt", "x"), put("d/X/sub/deep.txt", "yy"), put("d/X/a/z", "x"),
        put("d/X/a b", "x"), put("d/X/a-", "x"), put("d/X/\xc3\xa9", "x"), put("d/X/\xe4\xb8\xad", "x"),
        put("d/X/\xf0\x9f\x98\x80", "x"), put("d/X/Z", "x"), executable, dirOp(CommitOpKind::Put, "d/X/empty"),
        put("d/X/gone", "x"), put("d/X 2", "x"), put("d/X.pm", "x"), put("d/X0", "x") });
    for (const CommitResult &result : r.results)
        QCOMPARE(result.status, CommitStatus::Applied);
    auto state = byPath(c.changes(0));
    r = c.commit({ del("d/X/gone", state[QStringLiteral("d/X/gone")].version) });
    QCOMPARE(r.results.first().status, CommitStatus::Applied);
    state = byPath(c.changes(0));
    const quint64 head = r.head;

    r = c.commit({ move("d/X", "e/Y", state[QStringLiteral("d/X")].version, EntryKind::Directory) });
    QCOMPARE(r.results.first().status, CommitStatus::Applied);
    const Changes changes = c.changes(head);
    // e, made for the move; then d/X and e/Y; then each entry under d/X in path order.
    QList<RelativePath> moving;
    for (auto it = state.cbegin(); it != state.cend(); ++it) {
        if (P("d/X").isAncestorOf(it->path) && !it->deleted)
            moving.append(it->path);
    }
    std::sort(moving.begin(), moving.end());
    moving.prepend(P("d/X"));
    QCOMPARE(changes.entries.size(), 1 + 2 * moving.size());
    QCOMPARE(changes.entries.first().path, P("e"));
    QCOMPARE(r.results.first().version, head + 3);
    for (qsizetype i = 0; i < moving.size(); ++i) {
        const FileEntry &before = state.value(moving.at(i).toString());
        const FileEntry &tombstone = changes.entries.at(1 + 2 * i);
        const FileEntry &moved = changes.entries.at(2 + 2 * i);
        QCOMPARE(tombstone.path, moving.at(i));
        QVERIFY(tombstone.deleted);
        QCOMPARE(tombstone.version, head + 2 + 2 * quint64(i));
        QVERIFY(!tombstone.movedFrom);
        QCOMPARE(moved.path, moving.at(i).rebased(P("d/X"), P("e/Y")));
        QVERIFY(!moved.deleted);
        QCOMPARE(moved.version, head + 3 + 2 * quint64(i));
        QCOMPARE(moved.movedFrom, moving.at(i));
        QCOMPARE(moved.kind, before.kind);
        QCOMPARE(moved.size, before.size);
        QCOMPARE(moved.mode, before.mode);
        QCOMPARE(moved.mtimeMs, before.mtimeMs);
        QCOMPARE(moved.blocks, before.blocks);
    }
    QCOMPARE(r.head, head + 1 + 2 * quint64(moving.size()));
    const auto after = byPath(c.changes(0));
    QCOMPARE(after.value(QStringLiteral("d/X/gone")).version, state.value(QStringLiteral("d/X/gone")).version);
    QVERIFY(!after.contains(QStringLiteral("e/Y/gone")));
    for (const char *sibling : { "d/X 2", "d/X.pm", "d/X0" })
        QCOMPARE(after.value(QString::fromUtf8(sibling)).version, state.value(QString::fromUtf8(sibling)).version);
    // A put into the moved folder's old place is a conflict at its tombstone (the move's
    // versions say it was moved).
    r = c.commit({ put("d/X/sub/new", "x") });
    QCOMPARE(r.results.first().status, CommitStatus::Conflict);
    QCOMPARE(r.results.first().currentVersion, after.value(QStringLiteral("d/X/sub")).version);
}

void tst_ServerCommits::subtreeOpsLeaveSiblingsOfTheSameStem()
{
    RawClient c(m_server->port());
    c.login();
    QVERIFY(c.putBlock("x"));
    CommitReply r
        = c.commit({ put("d/X/in", "x"), put("d/X.pm", "x"), put("d/X-1", "x"), put("d/X 2/in", "x"), put("d/X+c", "x"),
            put("d/X0", "x"), dirOp(CommitOpKind::Put, "d/E"), put("d/E.pm", "x"), put("d/E 2/in", "x") });
    for (const CommitResult &result : r.results)
        QCOMPARE(result.status, CommitStatus::Applied);
    auto state = byPath(c.changes(0));
    quint64 head = r.head;
    // An empty folder beside siblings of its name is empty: it may go, they stay.
    r = c.commit({ dirOp(CommitOpKind::Delete, "d/E", state[QStringLiteral("d/E")].version) });
    QCOMPARE(r.results.first().status, CommitStatus::Applied);
    QCOMPARE(byPath(c.changes(head)).keys(), QStringList { QStringLiteral("d/E") });
    head = r.head;
    // A move of d/X takes d/X/in along, and nothing else.
    r = c.commit({ move("d/X", "d/Y", state[QStringLiteral("d/X")].version, EntryKind::Directory) });
    QCOMPARE(r.results.first().status, CommitStatus::Applied);
    const auto moved = byPath(c.changes(head));
    QCOMPARE(moved.keys(),
        (QStringList {
            QStringLiteral("d/X"), QStringLiteral("d/X/in"), QStringLiteral("d/Y"), QStringLiteral("d/Y/in") }));
    QCOMPARE(moved.value(QStringLiteral("d/Y/in")).movedFrom, P("d/X/in"));
    head = r.head;
    r = c.commit({ del("d/Y/in", moved.value(QStringLiteral("d/Y/in")).version),
        dirOp(CommitOpKind::Delete, "d/Y", moved.value(QStringLiteral("d/Y")).version) });
    QCOMPARE(r.results.at(0).status, CommitStatus::Applied);
    QCOMPARE(r.results.at(1).status, CommitStatus::Applied);
    const auto after = byPath(c.changes(0));
    for (const char *sibling : { "d/X.pm", "d/X-1", "d/X 2", "d/X 2/in", "d/X+c", "d/X0", "d/E.pm", "d/E 2/in" }) {
        QVERIFY2(!after.value(QString::fromUtf8(sibling)).deleted, sibling);
        QCOMPARE(after.value(QString::fromUtf8(sibling)).version, state.value(QString::fromUtf8(sibling)).version);
    }
}

void tst_ServerCommits::parentsStayTrueWithinOneCommit()
{
    RawClient c(m_server->port());
    c.login();
    QVERIFY(c.putBlock("x"));
    CommitReply r = c.commit({ put("p/a", "x") });
    const quint64 head = r.head;
    const auto before = byPath(c.changes(0));
    const quint64 pv = before[QStringLiteral("p")].version;
    const quint64 av = before[QStringLiteral("p/a")].version;
    // p/b is head + 1; then p empties and goes; p/c needs p again.
    r = c.commit({ put("p/b", "x"), del("p/b", head + 1), del("p/a", av), dirOp(CommitOpKind::Delete, "p", pv),
        put("p/c", "x") });
    for (const CommitResult &result : std::as_const(r.results))
        QCOMPARE(result.status, CommitStatus::Applied);
    auto after = byPath(c.changes(0));
    QVERIFY(!after.value(QStringLiteral("p")).deleted);
    QCOMPARE(after.value(QStringLiteral("p")).kind, EntryKind::Directory);
    QVERIFY(after.value(QStringLiteral("p")).version > r.results.at(3).version); // created again
    QVERIFY(!after.value(QStringLiteral("p/c")).deleted);

    // m and m/a are made here (m first), then m moves away: m/b is not put into a folder
    // assumed live; without a new m first it is a conflict (newInsideAMovedFolderConflicts).
    const quint64 h2 = r.head;
    r = c.commit({ put("m/a", "x"), move("m", "n", h2 + 1, EntryKind::Directory), put("m/b", "x") });
    QCOMPARE(r.results.at(0).status, CommitStatus::Applied);
    QCOMPARE(r.results.at(1).status, CommitStatus::Applied);
    QCOMPARE(r.results.at(2).status, CommitStatus::Conflict);
    after = byPath(c.changes(0));
    QVERIFY(after.value(QStringLiteral("m")).deleted);
    QVERIFY(!after.contains(QStringLiteral("m/b")));
    QVERIFY(!after.contains(QStringLiteral("n/b")));
    QVERIFY(after.value(QStringLiteral("m/a")).deleted);
    QVERIFY(!after.value(QStringLiteral("n/a")).deleted);
}

// A folder move applies to what the server holds under the folder when it commits, not
// to what the mover saw: a file deleted meanwhile stays deleted, one created or renamed
// inside meanwhile moves along.
void tst_ServerCommits::folderMoveTakesTheCurrentSubtree()
{
    RawClient mover(m_server->port());
    const QString account = mover.login();
    QVERIFY(mover.putBlock("x"));
    QVERIFY(mover.putBlock("y"));
    mover.commit({ put("D/f0", "x"), put("D/f1", "x"), put("D/f2", "y") });
    const auto seen = byPath(mover.changes(0)); // what the mover knows

    RawClient other(m_server->port());
    other.login(account, QStringLiteral("other"));
    CommitReply r = other.commit({ del("D/f1", seen[QStringLiteral("D/f1")].version),
        move("D/f2", "D/g2", seen[QStringLiteral("D/f2")].version), put("D/new", "x") });
    for (const CommitResult &result : std::as_const(r.results))
        QCOMPARE(result.status, CommitStatus::Applied);

    const quint64 head = r.head;
    r = mover.commit({ move("D", "E", seen[QStringLiteral("D")].version, EntryKind::Directory) });
    QCOMPARE(r.results.first().status, CommitStatus::Applied);
    const auto after = byPath(mover.changes(head));
    for (const char *moved : { "E/f0", "E/g2", "E/new" })
        QVERIFY2(!after.value(QString::fromLatin1(moved)).deleted && after.contains(QString::fromLatin1(moved)), moved);
    QCOMPARE(after.value(QStringLiteral("E/g2")).movedFrom, P("D/g2"));
    QCOMPARE(after.value(QStringLiteral("E/g2")).blocks.first().hash, ContentHash::of("y"));
    // Nothing comes back that was gone: no row at all under the new name.
    QVERIFY(!after.contains(QStringLiteral("E/f1")));
    QVERIFY(!after.contains(QStringLiteral("E/f2")));
    for (const char *gone : { "D", "D/f0", "D/g2", "D/new" })
        QVERIFY2(after.value(QString::fromLatin1(gone)).deleted, gone);
    // Two rows for each of D, f0, g2, new: nothing else was written.
    QCOMPARE(r.head, head + 8);
}

// A new entry sent for a folder that was moved meanwhile, by a client that had not seen
// the move, is a conflict at the folder's tombstone; a client that makes the folder again
// first gets a new folder at the old name.
void tst_ServerCommits::newInsideAMovedFolderConflicts()
{
    RawClient c(m_server->port());
    c.login();
    QVERIFY(c.putBlock("x"));
    c.commit({ put("D/f0", "x") });
    const auto seen = byPath(c.changes(0));
    CommitReply r = c.commit({ move("D", "E", seen[QStringLiteral("D")].version, EntryKind::Directory) });
    QCOMPARE(r.results.first().status, CommitStatus::Applied);
    const quint64 head = r.head;
    const quint64 tombstone = byPath(c.changes(0)).value(QStringLiteral("D")).version;

    // Nothing is made at the old name, nor placed in the moved folder: the client is sent
    // back to the move (cur = the folder's tombstone), which it has not read yet.
    r = c.commit({ put("D/new", "x"), put("D/sub/deep", "x"), put("D/f0", "x", seen[QStringLiteral("D/f0")].version) });
    for (const CommitResult &result : std::as_const(r.results))
        QCOMPARE(result.status, CommitStatus::Conflict);
    QCOMPARE(r.results.at(0).currentVersion, tombstone);
    QCOMPARE(r.results.at(1).currentVersion, tombstone);
    QCOMPARE(r.head, head);
    auto after = byPath(c.changes(head));
    QVERIFY(after.isEmpty());

    // The folder made again first: what follows is put there.
    r = c.commit({ dirOp(CommitOpKind::Put, "D", 0), put("D/again", "x") });
    QCOMPARE(r.results.at(0).status, CommitStatus::Applied);
    QCOMPARE(r.results.at(1).status, CommitStatus::Applied);
    after = byPath(c.changes(head));
    QVERIFY(!after.value(QStringLiteral("D")).deleted);
    QVERIFY(!after.value(QStringLiteral("D/again")).deleted);
    QVERIFY(!after.value(QStringLiteral("D/again")).movedFrom);
    QVERIFY(!after.contains(QStringLiteral("E/again")));
}

void tst_ServerCommits::blocksCannotBeClaimedByHash()
{
    RawClient owner(m_server->port());
    owner.login();
    QVERIFY(owner.putBlock("secret payroll"));
    QCOMPARE(owner.commit({ put("pay.txt", "secret payroll") }).results.first().status, CommitStatus::Applied);
    const ContentHash h = ContentHash::of("secret payroll");
    auto query = [](RawClient &c, const QList<ContentHash> &hashes) {
        return QueryBlocksReply::fromCbor(c.call(MessageType::QueryBlocks, QueryBlocks { hashes }).body)->missing;
    };
    QVERIFY(query(owner, { h }).isEmpty());

    RawClient thief(m_server->port());
    thief.login(); // another account
    QCOMPARE(query(thief, { h }), QList<ContentHash> { h }); // must upload the bytes to use it
    QCOMPARE(thief.commit({ put("stolen.txt", "secret payroll") }).results.first().status, CommitStatus::Rejected);
    QCOMPARE(thief.errorCode(thief.call(MessageType::GetBlock, GetBlock { h })), QStringLiteral("not-found"));
    QCOMPARE(owner.errorCode(owner.call(MessageType::GetBlock, GetBlock { ContentHash::of("nothing") })),
        QStringLiteral("not-found"));
    QVERIFY(thief.isConnected()); // not-found is an answer, not a protocol error

    // Whoever really has the bytes may use them (stored once, deduplicated).
    QVERIFY(thief.putBlock("secret payroll"));
    QVERIFY(query(thief, { h }).isEmpty());
    QCOMPARE(thief.commit({ put("mine.txt", "secret payroll") }).results.first().status, CommitStatus::Applied);
    const Envelope data = owner.call(MessageType::GetBlock, GetBlock { h });
    QCOMPARE(*decodeAndVerify(*BlockPayload::fromEnvelope(data)), QByteArray("secret payroll"));
    // A block whose bytes do not match its hash is refused and the connection closed.
    const Envelope bad
        = thief.call(MessageType::PutBlock, BlockPayload { ContentHash::of("a"), BlockCodec::Raw, 1, "b" });
    QCOMPARE(thief.errorCode(bad), QStringLiteral("bad-request"));
    QTRY_VERIFY(!thief.isConnected());
}

void tst_ServerCommits::blocksAreStoredOnce()
{
    RawClient a(m_server->port());
    a.login();
    RawClient b(m_server->port());
    b.login();
    const QByteArray text = QByteArray("compressible text, ").repeated(1000);
    QVERIFY(a.putBlock(text, BlockCodec::Zstd));
    QVERIFY(b.putBlock(text, BlockCodec::Raw));
    QVERIFY(a.putBlock(text, BlockCodec::Raw));
    // Small: packed, one record, kept compressed.
    const QFileInfo stored(m_dir->path() + QStringLiteral("/blocks/packs/00000000.fsp"));
    QVERIFY(stored.exists());
    QVERIFY(stored.size() < text.size() / 10);
    const Envelope data = b.call(MessageType::GetBlock, GetBlock { ContentHash::of(text) });
    const auto payload = BlockPayload::fromEnvelope(data);
    QCOMPARE(payload->codec, BlockCodec::Zstd); // and sent as stored
    QCOMPARE(*decodeAndVerify(*payload), text);
}

void tst_ServerCommits::changesCollapseAndPage()
{
    RawClient c(m_server->port());
    c.login();
    QVERIFY(c.putBlock("v"));
    quint64 version = 0;
    for (int i = 0; i < 5; ++i) // one path changed five times appears once
        version = c.commit({ put("same", i % 2 ? "" : "v", version) }).results.first().version;
    for (int i = 0; i < 30; ++i)
        c.commit({ put(qPrintable(QStringLiteral("f%1").arg(i)), "v") });
    const Changes all = c.changes(0);
    QCOMPARE(all.entries.size(), 31);
    QVERIFY(!all.more);
    QCOMPARE(all.next, all.head);
    quint64 last = 0;
    for (const FileEntry &e : all.entries) { // ascending versions
        QVERIFY(e.version > last);
        last = e.version;
    }
    quint64 since = 0;
    int pages = 0;
    QSet<QString> seen;
    for (;;) {
        const Changes page = c.changes(since, 7);
        for (const FileEntry &e : page.entries)
            seen.insert(e.path.toString());
        ++pages;
        if (!page.more)
            break;
        QCOMPARE(page.next, page.entries.last().version);
        since = page.next;
    }
    QCOMPARE(seen.size(), 31);
    QCOMPARE(pages, 5);
    QVERIFY(c.changes(all.head).entries.isEmpty());
}

void tst_ServerCommits::changesStayUnderTheBudget()
{
    // Files with the largest block lists allowed: a page must split by size, not count.
    RawClient c(m_server->port());
    c.login();
    QVERIFY(c.putBlock("b"));
    for (int f = 0; f < 4; ++f) {
        CommitOp op = put(qPrintable(QStringLiteral("huge%1").arg(f)), "b");
        op.blocks = QList<BlockRef>(kMaxBlocksPerEntry, BlockRef { ContentHash::of("b"), 1 });
        op.size = kMaxBlocksPerEntry;
        QCOMPARE(c.commit({ op }).results.first().status, CommitStatus::Applied);
    }
    quint64 since = 0;
    int entries = 0;
    for (int pages = 1;; ++pages) {
        const Changes page = c.changes(since);
        QVERIFY(page.toCbor().toCborValue().toCbor().size() < kMetadataBudget);
        QVERIFY(!page.entries.isEmpty());
        entries += int(page.entries.size());
        if (!page.more) {
            QVERIFY(pages > 1);
            break;
        }
        since = page.next;
    }
    QCOMPARE(entries, 4);
}

void tst_ServerCommits::deltaCommitsApplyAgainstTheirBase()
{
    RawClient c(m_server->port());
    QVERIFY(!c.login().isEmpty());
    const QList<QByteArray> parts { "alpha", "beta", "gamma", "delta", "NEW", "other" };
    for (const QByteArray &p : parts)
        QVERIFY(c.putBlock(p));
    const QList<BlockRef> v1Blocks { ref("alpha"), ref("beta"), ref("gamma"), ref("delta") };
    CommitOp first;
    first.path = P("big.bin");
    first.size = totalSize(v1Blocks);
    first.blocks = v1Blocks;
    CommitReply r = c.commit({ first });
    QCOMPARE(r.results.first().status, CommitStatus::Applied);
    const quint64 v1 = r.results.first().version;
    QCOMPARE(r.prev, v1 - 1);

    // A delta against v1: keep 0..1, a new block, keep 3. The server expands it.
    const QList<BlockRef> v2Blocks { ref("alpha"), ref("beta"), ref("NEW"), ref("delta") };
    const CommitOp edit = deltaPut("big.bin", v1, v1Blocks, v2Blocks);
    QCOMPARE(edit.delta->keptBlocks(), 3);
    QCOMPARE(edit.delta->newRefs().size(), 1);
    r = c.commit({ edit });
    QCOMPARE(r.results.first().status, CommitStatus::Applied);
    const quint64 v2 = r.results.first().version;
    QCOMPARE(r.prev, v1);
    QCOMPARE(r.head, v2);
    QCOMPARE(c.changes(v1).entries.first().blocks, v2Blocks);

    // The same delta against a base that is no longer current: a conflict, nothing changed.
    r = c.commit({ deltaPut("big.bin", v1, v1Blocks, v2Blocks) });
    QCOMPARE(r.results.first().status, CommitStatus::Conflict);
    QCOMPARE(r.results.first().currentVersion, v2);

    // A delta built from another list than the server's base (right version, wrong
    // idea of its blocks): the digest does not match, refused, nothing changed.
    const QList<BlockRef> imagined { ref("gamma"), ref("alpha"), ref("beta"), ref("delta") };
    r = c.commit({ deltaPut("big.bin", v2, imagined, { ref("gamma"), ref("alpha"), ref("other") }) });
    QCOMPARE(r.results.first().status, CommitStatus::Rejected);
    QVERIFY2(r.results.first().reason.contains(QStringLiteral("digest")), qPrintable(r.results.first().reason));

    // Runs past the end of the base: refused.
    CommitOp past = deltaPut("big.bin", v2, v2Blocks, v2Blocks);
    past.delta->items = { BlockListDelta::Item { 2, 5, {} } };
    r = c.commit({ past });
    QCOMPARE(r.results.first().status, CommitStatus::Rejected);
    QVERIFY2(r.results.first().reason.contains(QStringLiteral("base of 4")), qPrintable(r.results.first().reason));

    // A new block in a delta must be proven like any other.
    const QByteArray unknown("never uploaded");
    r = c.commit({ deltaPut("big.bin", v2, v2Blocks, { ref("alpha"), ref(unknown) }) });
    QCOMPARE(r.results.first().status, CommitStatus::Rejected);
    QVERIFY2(r.results.first().reason.contains(QStringLiteral("missing block")), qPrintable(r.results.first().reason));

    // A delta onto a path without a file at its base: refused (a directory), conflict (absent).
    QCOMPARE(c.commit({ dirOp(CommitOpKind::Put, "dir") }).results.first().status, CommitStatus::Applied);
    const quint64 dirVersion = c.changes(v2).entries.last().version;
    QCOMPARE(
        c.commit({ deltaPut("dir", dirVersion, v2Blocks, v2Blocks) }).results.first().status, CommitStatus::Rejected);
    QCOMPARE(
        c.commit({ deltaPut("nothing.bin", 7, v2Blocks, v2Blocks) }).results.first().status, CommitStatus::Conflict);

    // After all the refusals the file is still v2, and the head did not move.
    const Changes after = c.changes(v1);
    QCOMPARE(byPath(after).value(QStringLiteral("big.bin")).version, v2);
    QCOMPARE(byPath(after).value(QStringLiteral("big.bin")).blocks, v2Blocks);
    QCOMPARE(after.head, dirVersion);
}

QTEST_GUILESS_MAIN(tst_ServerCommits)
#include "tst_server_commits.moc"
