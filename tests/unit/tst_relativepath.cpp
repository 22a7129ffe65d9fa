#include "accountid.h"
#include "contenthash.h"
#include "relativepath.h"

#include <QMap>
#include <QSet>
#include <QTest>

using namespace filesync;

class tst_RelativePath : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void validation_data();
    void validation();
    void navigation();
    void rebase();
    void pathOrder_data();
    void pathOrder();
    void pathOrderAtEveryPosition();
    void subtreesAreRuns_data();
    void subtreesAreRuns();
    void descendantBounds_data();
    void descendantBounds();
    void hashes();
    void hashValueSemantics_data();
    void hashValueSemantics();
    void nullHash();
    void accountIds();
};

void tst_RelativePath::validation_data()
{
    QTest::addColumn<QString>("path");
    QTest::addColumn<bool>("valid");

    QTest::newRow("simple") << QStringLiteral("a.txt") << true;
    QTest::newRow("nested") << QStringLiteral("dir/sub/file") << true;
    QTest::newRow("root") << QString() << true;
    QTest::newRow("unicode NFC") << QStringLiteral("Caf\u00e9/\u05e9\u05dc\u05d5\u05dd.txt") << true;
    QTest::newRow("spaces and dots") << QStringLiteral(" a. b /..c/d..") << true;
    QTest::newRow("hidden file") << QStringLiteral(".bashrc") << true;
    QTest::newRow("reserved name deeper is fine") << QStringLiteral("x/.filesync") << true;
    QTest::newRow("absolute") << QStringLiteral("/etc/passwd") << false;
    QTest::newRow("dotdot") << QStringLiteral("a/../b") << false;
    QTest::newRow("leading dotdot") << QStringLiteral("../b") << false;
    QTest::newRow("dot") << QStringLiteral("a/./b") << false;
    QTest::newRow("empty component") << QStringLiteral("a//b") << false;
    QTest::newRow("trailing slash") << QStringLiteral("a/") << false;
    QTest::newRow("NUL") << QString(QStringLiteral("a") + QChar(0) + QStringLiteral("b")) << false;
    QTest::newRow("newline") << QStringLiteral("a\nb") << false;
    QTest::newRow("DEL") << QStringLiteral("a\x7f") << false;
    QTest::newRow("C1 control") << QString(QStringLiteral("a") + QChar(0x85)) << false;
    QTest::newRow("backslash") << QStringLiteral("a\\b") << false;
    QTest::newRow("drive letter") << QStringLiteral("C:/x") << false;
    QTest::newRow("NFD") << QStringLiteral("Cafe\u0301") << false;
    QTest::newRow("reserved metadata dir") << QStringLiteral(".filesync") << false;
    QTest::newRow("inside metadata dir") << QStringLiteral(".filesync/journal.db") << false;
    QTest::newRow("replacement char (bad UTF-8)") << QStringLiteral("a\ufffd") << false;
    QTest::newRow("emoji (surrogate pair)") << QStringLiteral("\U0001F600.txt") << true;
    QTest::newRow("lone surrogate") << QString(QStringLiteral("a") + QChar(0xd800)) << false;
    QTest::newRow("long name") << QString(256, u'x') << false;
    QTest::newRow("max name") << QString(255, u'x') << true;
    QTest::newRow("long multibyte name") << QString(128, QChar(0x05d0)) << false; // 256 bytes
    QString longPath;
    for (int i = 0; i < 20; ++i)
        longPath += QString(250, u'y') + u'/';
    longPath += u'z';
    QTest::newRow("long path") << longPath << false;
}

void tst_RelativePath::validation()
{
    QFETCH(QString, path);
    QFETCH(bool, valid);
    const auto result = RelativePath::fromString(path);
    QCOMPARE(result.ok(), valid);
    if (valid)
        QCOMPARE(result->toString(), path);
    else
        QVERIFY(!result.errorMessage().isEmpty());
}

void tst_RelativePath::navigation()
{
    const RelativePath p = *RelativePath::fromString(QStringLiteral("a/b/c.txt"));
    QCOMPARE(p.fileName(), QStringLiteral("c.txt"));
    QCOMPARE(p.parent().toString(), QStringLiteral("a/b"));
    QCOMPARE(p.parent().parent().parent(), RelativePath());
    QCOMPARE(p.depth(), 3);
    QVERIFY(p.parent().isAncestorOf(p));
    QVERIFY(!p.isAncestorOf(p));
    QVERIFY(!RelativePath::fromString(QStringLiteral("a/bb"))->isAncestorOf(p));
    QVERIFY(!RelativePath::fromString(QStringLiteral("a/b"))
                 ->isAncestorOf(*RelativePath::fromString(QStringLiteral("a/bc"))));
    QVERIFY(RelativePath().isAncestorOf(p));
    QCOMPARE(RelativePath().child(QStringLiteral("x")).toString(), QStringLiteral("x"));
}

void tst_RelativePath::rebase()
{
    const RelativePath p = *RelativePath::fromString(QStringLiteral("a/b/c.txt"));
    const RelativePath from = *RelativePath::fromString(QStringLiteral("a"));
    const RelativePath to = *RelativePath::fromString(QStringLiteral("x/y"));
    QCOMPARE(p.rebased(from, to).toString(), QStringLiteral("x/y/b/c.txt"));
    QCOMPARE(from.rebased(from, to), to);
}

namespace {
RelativePath P(const QString &s)
{
    return *RelativePath::fromString(s);
}

// Path order as specified: the names compared one by one as UTF-8 bytes, a path that
// runs out first is smaller. What RelativePath::compare must agree with.
int referenceCompare(const QString &a, const QString &b)
{
    const QStringList na = a.isEmpty() ? QStringList() : a.split(u'/');
    const QStringList nb = b.isEmpty() ? QStringList() : b.split(u'/');
    for (qsizetype i = 0; i < std::min(na.size(), nb.size()); ++i) {
        const QByteArray x = na.at(i).toUtf8(), y = nb.at(i).toUtf8();
        if (x != y)
            return x < y ? -1 : 1;
    }
    return na.size() == nb.size() ? 0 : (na.size() < nb.size() ? -1 : 1);
}

// A folder "X" with everything whose name starts with "X" around it, at the top and deeper.
const QStringList kTree = {
    QStringLiteral("W"),
    QStringLiteral("X"),
    QStringLiteral("X/a"),
    QStringLiteral("X/a/b"),
    QStringLiteral("X/a b"),
    QStringLiteral("X/~"),
    QStringLiteral("X 2"),
    QStringLiteral("X 2/in"),
    QStringLiteral("X+c"),
    QStringLiteral("X-1"),
    QStringLiteral("X.pm"),
    QStringLiteral("X0"),
    QStringLiteral("Xa"),
    QStringLiteral("X\u00e9"),
    QStringLiteral("X\ue000"),
    QStringLiteral("X\U0001F600"),
    QStringLiteral("X\U0001F600/in"),
    QStringLiteral("Y"),
    QStringLiteral("d/X"),
    QStringLiteral("d/X/in.txt"),
    QStringLiteral("d/X/sub/deep.txt"),
    QStringLiteral("d/X 2/in.txt"),
    QStringLiteral("d/X-1"),
    QStringLiteral("d/X.pm"),
    QStringLiteral("d/X0"),
    QStringLiteral("d/Xa"),
    QStringLiteral("lzma.h"),
    QStringLiteral("lzma/base.h"),
};
} // namespace

void tst_RelativePath::pathOrder_data()
{
    QTest::addColumn<QString>("a");
    QTest::addColumn<QString>("b");
    QTest::addColumn<int>("expected"); // sign of compare(a, b)
    QTest::newRow("equal") << QStringLiteral("d/X") << QStringLiteral("d/X") << 0;
    QTest::newRow("root first") << QString() << QStringLiteral("a") << -1;
    QTest::newRow("folder before its content") << QStringLiteral("d/X") << QStringLiteral("d/X/a") << -1;
    QTest::newRow("content before 'X 2'") << QStringLiteral("d/X/a") << QStringLiteral("d/X 2") << -1;
    QTest::newRow("content before 'X-1'") << QStringLiteral("d/X/z/z") << QStringLiteral("d/X-1") << -1;
    QTest::newRow("content before 'X+c'") << QStringLiteral("d/X/~") << QStringLiteral("d/X+c") << -1;
    QTest::newRow("content before 'X.pm'") << QStringLiteral("d/X/~") << QStringLiteral("d/X.pm") << -1;
    QTest::newRow("content before 'X0'") << QStringLiteral("d/X/a") << QStringLiteral("d/X0") << -1;
    QTest::newRow("'X.pm' after content") << QStringLiteral("d/X.pm") << QStringLiteral("d/X/in") << 1;
    QTest::newRow("lzma") << QStringLiteral("lzma/base.h") << QStringLiteral("lzma.h") << -1;
    QTest::newRow("names as strings") << QStringLiteral("X 2") << QStringLiteral("X.pm") << -1;
    QTest::newRow("shorter name first") << QStringLiteral("a/b") << QStringLiteral("a/bc") << -1;
    QTest::newRow("by code point, not case") << QStringLiteral("B") << QStringLiteral("a") << -1;
    QTest::newRow("latin-1 after ASCII") << QStringLiteral("\u00e9") << QStringLiteral("z") << 1;
    // UTF-16 puts U+1F600 (a surrogate pair) before U+E000; code points and UTF-8 do not.
    QTest::newRow("above U+FFFF after U+E000") << QStringLiteral("\U0001F600") << QStringLiteral("\ue000") << 1;
    QTest::newRow("two above U+FFFF") << QStringLiteral("\U0001F600") << QStringLiteral("\U0001F601") << -1;
    QTest::newRow("above U+FFFF vs '/'") << QStringLiteral("a/b") << QStringLiteral("a\U0001F600") << -1;
}

void tst_RelativePath::pathOrder()
{
    QFETCH(QString, a);
    QFETCH(QString, b);
    QFETCH(int, expected);
    const auto sign = [](int v) { return v < 0 ? -1 : (v > 0 ? 1 : 0); };
    QCOMPARE(referenceCompare(a, b), expected); // the row itself is right
    QCOMPARE(sign(RelativePath::compare(a, b)), expected);
    QCOMPARE(sign(RelativePath::compare(b, a)), -expected);
    QCOMPARE(P(a) < P(b), expected < 0);
    QCOMPARE(P(b) < P(a), expected > 0);
}

// compare() looks at several code units at once: a difference at any position (a word's
// first, middle or last unit, or the tail past the last whole word), in either string,
// and a prefix of any length must give the reference order.
void tst_RelativePath::pathOrderAtEveryPosition()
{
    const QString stem = QStringLiteral("abcdefgh/ijklmnopq");
    const QList<QString> others
        = { QStringLiteral("/"), QStringLiteral(" "), QStringLiteral("."), QStringLiteral("\u00e9"),
              QStringLiteral("\ue000"), QStringLiteral("\U0001F600"), QStringLiteral("0"), QStringLiteral("~") };
    const auto sign = [](int v) { return v < 0 ? -1 : (v > 0 ? 1 : 0); };
    for (qsizetype at = 0; at <= stem.size(); ++at) {
        for (const QString &other : others) {
            const QString a = stem.left(at) + other + stem.mid(at);
            for (const QString &b : { stem, stem.left(at), QString(stem.left(at) + QStringLiteral("b")) }) {
                const int expected = referenceCompare(a, b);
                QCOMPARE(sign(RelativePath::compare(a, b)), expected);
                QCOMPARE(sign(RelativePath::compare(b, a)), -expected);
            }
        }
    }
}

void tst_RelativePath::subtreesAreRuns_data()
{
    QTest::addColumn<QString>("root");
    QTest::newRow("the root") << QString();
    for (const QString &p : kTree)
        QTest::newRow(qPrintable(p)) << p;
    QTest::newRow("not a key itself") << QStringLiteral("d");
    QTest::newRow("no such folder") << QStringLiteral("X/q");
}

// In a map in path order, a path's subtree is the run [lowerBound(root), subtreeEnd):
// exactly the keys at or under it, and nothing else.
void tst_RelativePath::subtreesAreRuns()
{
    QFETCH(QString, root);
    QMap<RelativePath, int> map;
    for (const QString &p : kTree)
        map.insert(P(p), 0);
    // The map's order is the specified one.
    const QList<RelativePath> keys = map.keys();
    for (qsizetype i = 1; i < keys.size(); ++i)
        QVERIFY2(referenceCompare(keys.at(i - 1).toString(), keys.at(i).toString()) < 0,
            qPrintable(keys.at(i - 1).toString() + QStringLiteral(" | ") + keys.at(i).toString()));
    const RelativePath r = P(root);
    QStringList run, expected;
    for (auto [it, end] = RelativePath::subtreeRun(map, r); it != end; ++it)
        run << it.key().toString();
    for (const RelativePath &k : keys) {
        if (k == r || r.isAncestorOf(k))
            expected << k.toString();
    }
    QCOMPARE(run, expected);
}

void tst_RelativePath::descendantBounds_data()
{
    QTest::addColumn<QString>("dir");
    for (const QString &p : kTree)
        QTest::newRow(qPrintable(p)) << p;
    QTest::newRow("d") << QStringLiteral("d");
}

// The SQL range selects exactly the descendants, whether the text is compared as
// UTF-16 (QString) or as UTF-8 bytes (SQLite's BINARY collation).
void tst_RelativePath::descendantBounds()
{
    QFETCH(QString, dir);
    const auto [below, above] = P(dir).descendantBounds();
    for (const QString &p : kTree) {
        const bool under = P(dir).isAncestorOf(P(p));
        QCOMPARE(below < p && p < above, under);
        QCOMPARE(below.toUtf8() < p.toUtf8() && p.toUtf8() < above.toUtf8(), under);
    }
}

void tst_RelativePath::hashes()
{
    // FIPS 180-2 test vector.
    QCOMPARE(
        ContentHash::of("abc").toHex(), QByteArray("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
    Sha256 incremental;
    incremental.addData("a");
    incremental.addData("bc");
    QCOMPARE(incremental.result(), ContentHash::of("abc"));
    QVERIFY(!ContentHash::fromBytes("short").ok());
    QVERIFY(!ContentHash::fromHex("zz").ok());
    QCOMPARE(*ContentHash::fromHex(ContentHash::of("abc").toHex()), ContentHash::of("abc"));
    QVERIFY(constantTimeEquals("abc", "abc"));
    QVERIFY(!constantTimeEquals("abc", "abd"));
    QVERIFY(!constantTimeEquals("abc", "ab"));
}

// ContentHash holds its bytes inline: equality, order and qHash must be those of the raw
// bytes as a QByteArray compared them (unsigned), so sorted block lists, QMap/QSet keys
// and everything persisted in that order stay the same.
void tst_RelativePath::hashValueSemantics_data()
{
    QTest::addColumn<QByteArray>("a");
    QTest::addColumn<QByteArray>("b");
    const QByteArray zeros(ContentHash::kSize, '\0');
    auto with = [&](int at, char c) {
        QByteArray r = zeros;
        r[at] = c;
        return r;
    };
    QTest::newRow("equal") << ContentHash::of("abc").bytes() << ContentHash::of("abc").bytes();
    QTest::newRow("all zero vs first byte") << zeros << with(0, 1);
    QTest::newRow("last byte") << with(31, 2) << with(31, 1);
    QTest::newRow("high bit is unsigned") << with(0, char(0x80)) << with(0, char(0x7f));
    QTest::newRow("0xff vs 0x00 late") << with(5, char(0xff)) << with(4, 1);
    QTest::newRow("two digests") << ContentHash::of("a").bytes() << ContentHash::of("b").bytes();
}

void tst_RelativePath::hashValueSemantics()
{
    QFETCH(QByteArray, a);
    QFETCH(QByteArray, b);
    const ContentHash ha = *ContentHash::fromBytes(a), hb = *ContentHash::fromBytes(b);
    QVERIFY(!ha.isNull());
    QCOMPARE(ha.bytes(), a);
    QCOMPARE(ha.view(), QByteArrayView(a));
    QCOMPARE(ha.toHex(), a.toHex());
    QCOMPARE(ha == hb, a == b);
    QCOMPARE(ha != hb, a != b);
    QCOMPARE(ha < hb, a < b);
    QCOMPARE(hb < ha, b < a);
    if (a == b)
        QCOMPARE(qHash(ha, 7), qHash(hb, 7));
    QSet<ContentHash> set { ha, hb };
    QCOMPARE(set.size(), a == b ? 1 : 2);
    QVERIFY(set.contains(*ContentHash::fromHex(a.toHex())));
}

void tst_RelativePath::nullHash()
{
    const ContentHash null;
    QVERIFY(null.isNull());
    QVERIFY(null.bytes().isEmpty());
    QVERIFY(null.view().isEmpty());
    QVERIFY(null.toHex().isEmpty());
    QCOMPARE(null, ContentHash());
    // 32 zero bytes are a hash like any other, not the null one.
    const ContentHash zeros = *ContentHash::fromBytes(QByteArray(ContentHash::kSize, '\0'));
    QVERIFY(!zeros.isNull());
    QVERIFY(zeros != null);
    QVERIFY(null < zeros);
    QVERIFY(!(zeros < null));
    QVERIFY(!(null < null));
    // The hasher starts afresh after each result.
    Sha256 h;
    h.addData("x");
    QCOMPARE(h.result(), ContentHash::of("x"));
    h.addData("abc");
    QCOMPARE(h.result(), ContentHash::of("abc"));
}

void tst_RelativePath::accountIds()
{
    const AccountId a = AccountId::generate();
    const AccountId b = AccountId::generate();
    QCOMPARE(a.toString().size(), AccountId::kChars);
    QVERIFY(!(a == b));
    QCOMPARE(*AccountId::parse(a.toString().toUpper()), a);
    QString grouped = a.toString();
    grouped.insert(8, u'-').insert(17, u' ');
    QCOMPARE(*AccountId::parse(grouped), a);
    QVERIFY(!AccountId::parse(QStringLiteral("abc")).ok());
    QVERIFY(!AccountId::parse(QString(32, u'1')).ok()); // '1' is not base32
    QCOMPARE(a.hash().size(), 32);
}

QTEST_GUILESS_MAIN(tst_RelativePath)
#include "tst_relativepath.moc"
