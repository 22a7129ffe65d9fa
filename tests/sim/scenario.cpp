#include "scenario.h"

#include "splitmix.h"

#include <QMap>

namespace filesync::sim {

namespace {

struct KindName
{
    OpKind kind;
    const char16_t *name;
};
constexpr KindName kKindNames[] = {
    { OpKind::Write, u"write" },
    { OpKind::Append, u"append" },
    { OpKind::Truncate, u"truncate" },
    { OpKind::Rename, u"rename" },
    { OpKind::Delete, u"delete" },
    { OpKind::Mkdir, u"mkdir" },
    { OpKind::Chmod, u"chmod" },
    { OpKind::Touch, u"touch" },
    { OpKind::CleanConflicts, u"clean-conflicts" },
    { OpKind::Stop, u"stop" },
    { OpKind::Kill, u"kill" },
    { OpKind::Start, u"start" },
    { OpKind::ServerRestart, u"server-restart" },
    { OpKind::NetCut, u"net-cut" },
    { OpKind::NetRestore, u"net-restore" },
};

// Names drawn from small pools so that ops meet: prefix siblings of a folder `X`
// (`X.pm`, `X-1`, `X 2`, `X+c` sort around `X/`), and Unicode names in NFC.
// Without prefix siblings (to tell their defects from others): no folder is named like
// a file's stem.
bool g_prefixSiblings = true;

const QStringList &dirNames()
{
    static const QStringList names { QStringLiteral("X"), QStringLiteral("d"), QStringLiteral("\u03A9mega"),
        QStringLiteral("n\u00E9") };
    static const QStringList apart { QStringLiteral("D"), QStringLiteral("d"), QStringLiteral("\u03A9mega"),
        QStringLiteral("n\u00E9") };
    return g_prefixSiblings ? names : apart;
}
const QStringList &fileNames()
{
    static const QStringList names { QStringLiteral("X"), QStringLiteral("X.pm"), QStringLiteral("X-1"),
        QStringLiteral("X 2"), QStringLiteral("X+c"), QStringLiteral("a.txt"), QStringLiteral("\u00E9t\u00E9.txt"),
        QStringLiteral("\u65E5\u672C.md") };
    return names;
}

constexpr int kMaxParentDepth = 2;

// The generator's guess of the shared tree: what the ops would leave if every one applied
// and synced at once. It only steers the choice of paths (so most ops find their target);
// the seed alone decides the ops, never the real folders.
class Model
{
public:
    QStringList dirs() const { return filtered(true); }
    QStringList files() const { return filtered(false); }
    QStringList all() const { return m_entries.keys(); }
    bool contains(const QString &p) const { return m_entries.contains(p); }
    void add(const QString &p, bool dir)
    {
        const qsizetype slash = p.lastIndexOf(u'/');
        if (slash > 0)
            add(p.left(slash), true);
        m_entries.insert(p, dir);
    }
    void remove(const QString &p)
    {
        for (const QString &k : m_entries.keys()) {
            if (k == p || k.startsWith(p + u'/'))
                m_entries.remove(k);
        }
    }
    void move(const QString &from, const QString &to)
    {
        QMap<QString, bool> moved;
        for (auto it = m_entries.cbegin(); it != m_entries.cend(); ++it) {
            if (it.key() == from)
                moved.insert(to, it.value());
            else if (it.key().startsWith(from + u'/'))
                moved.insert(to + it.key().mid(from.size()), it.value());
        }
        remove(from);
        for (auto it = moved.cbegin(); it != moved.cend(); ++it)
            add(it.key(), it.value());
    }

private:
    QStringList filtered(bool dir) const
    {
        QStringList out;
        for (auto it = m_entries.cbegin(); it != m_entries.cend(); ++it) {
            if (it.value() == dir)
                out << it.key();
        }
        return out;
    }
    QMap<QString, bool> m_entries;
};

QString pick(SplitMix64 &rng, const QStringList &list)
{
    return list.isEmpty() ? QString() : list.at(rng.below(int(list.size())));
}

int depth(const QString &p)
{
    return p.isEmpty() ? 0 : int(p.count(u'/')) + 1;
}

// A parent folder for a new entry: the root, or a folder the model has.
QString pickParent(SplitMix64 &rng, const Model &model)
{
    QStringList candidates;
    for (const QString &d : model.dirs()) {
        if (depth(d) <= kMaxParentDepth)
            candidates << d;
    }
    if (candidates.isEmpty() || rng.chance(300))
        return QString();
    return pick(rng, candidates);
}

QString join(const QString &parent, const QString &name)
{
    return parent.isEmpty() ? name : parent + u'/' + name;
}

Op userOp(SplitMix64 &rng, Model &model, int computers, quint64 tag)
{
    Op op;
    op.computer = rng.below(computers);
    op.tag = tag;
    const QStringList files = model.files();
    const QStringList all = model.all();
    const int r = rng.below(100);
    if (r < 28 || all.isEmpty()) {
        op.kind = OpKind::Write;
        op.path = (!files.isEmpty() && rng.chance(450)) ? pick(rng, files)
                                                        : join(pickParent(rng, model), pick(rng, fileNames()));
        op.n = rng.between(8, 400);
        model.add(op.path, false);
    } else if (r < 36) {
        op.kind = OpKind::Append;
        op.path = files.isEmpty() ? join(QString(), pick(rng, fileNames())) : pick(rng, files);
        op.n = rng.between(1, 200);
    } else if (r < 41) {
        op.kind = OpKind::Truncate;
        op.path = files.isEmpty() ? join(QString(), pick(rng, fileNames())) : pick(rng, files);
        op.n = rng.between(0, 120);
    } else if (r < 55) {
        op.kind = OpKind::Rename;
        op.path = pick(rng, all);
        const bool dir = model.dirs().contains(op.path);
        QString parent = pickParent(rng, model);
        if (parent == op.path || parent.startsWith(op.path + u'/'))
            parent.clear();
        op.to = join(parent, pick(rng, dir ? dirNames() : fileNames()));
        if (op.to == op.path) // a rename to itself: another name in the same folder
            op.to = join(parent, pick(rng, dir ? dirNames() : fileNames()) + QStringLiteral(" 2"));
        if (!model.contains(op.to) && op.to != op.path)
            model.move(op.path, op.to);
    } else if (r < 67) {
        op.kind = OpKind::Delete;
        // Mostly files: a folder delete takes a whole subtree with it.
        op.path = (!files.isEmpty() && rng.chance(700)) ? pick(rng, files) : pick(rng, all);
        model.remove(op.path);
    } else if (r < 77) {
        op.kind = OpKind::Mkdir;
        QString parent = pickParent(rng, model);
        if (depth(parent) >= kMaxParentDepth)
            parent.clear();
        op.path = join(parent, pick(rng, dirNames()));
        if (!model.contains(op.path))
            model.add(op.path, true);
    } else if (r < 86) {
        op.kind = OpKind::Chmod;
        op.path = files.isEmpty() ? join(QString(), pick(rng, fileNames())) : pick(rng, files);
        op.n = rng.below(2);
    } else if (r < 98) {
        op.kind = OpKind::Touch;
        op.path = files.isEmpty() ? join(QString(), pick(rng, fileNames())) : pick(rng, files);
        op.n = rng.between(0, 100000);
    } else {
        op.kind = OpKind::CleanConflicts;
    }
    return op;
}

} // namespace

int Scenario::opCount() const
{
    int n = 0;
    for (const Step &s : steps)
        n += int(s.ops.size());
    return n;
}

QString kindName(OpKind kind)
{
    for (const KindName &k : kKindNames) {
        if (k.kind == kind)
            return QString::fromUtf16(k.name);
    }
    return QStringLiteral("?");
}

QString opText(const Op &op)
{
    return QStringLiteral("op\t%1\t%2\t%3\t%4\t%5\t%6")
        .arg(kindName(op.kind))
        .arg(op.computer)
        .arg(op.n)
        .arg(op.tag)
        .arg(op.path, op.to);
}

Scenario generate(quint64 seed, int computers, int steps, bool prefixSiblings)
{
    g_prefixSiblings = prefixSiblings;
    SplitMix64 rng(seed);
    Scenario s;
    s.seed = seed;
    s.computers = computers;
    Model model;
    QList<bool> online(computers, true);
    bool serverUp = true;
    quint64 tag = 1;
    int nextQuiesce = rng.between(6, 14);
    for (int i = 0; i < steps; ++i) {
        Step step;
        const int userOps = rng.chance(200) ? 0 : rng.between(1, 4);
        for (int k = 0; k < userOps; ++k)
            step.ops << userOp(rng, model, computers, tag++);
        // Events, each at a random place among the step's ops.
        auto insertEvent = [&](Op event) {
            event.tag = tag++;
            step.ops.insert(rng.below(int(step.ops.size()) + 1), event);
        };
        for (int c = 0; c < computers; ++c) {
            if (online[c] && rng.chance(25)) {
                insertEvent(Op { OpKind::Stop, c, {}, {}, 0, 0 });
                online[c] = false;
            } else if (online[c] && rng.chance(30)) {
                insertEvent(Op { OpKind::Kill, c, {}, {}, 0, 0 });
                online[c] = false;
            } else if (!online[c] && rng.chance(250)) {
                insertEvent(Op { OpKind::Start, c, {}, {}, 0, 0 });
                online[c] = true;
            }
        }
        if (serverUp && rng.chance(15)) {
            insertEvent(Op { OpKind::ServerRestart, -1, {}, {}, 0, 0 });
        } else if (serverUp && rng.chance(15)) {
            insertEvent(Op { OpKind::NetCut, -1, {}, {}, 0, 0 });
            serverUp = false;
        } else if (!serverUp && rng.chance(300)) {
            insertEvent(Op { OpKind::NetRestore, -1, {}, {}, 0, 0 });
            serverUp = true;
        }
        step.slices = rng.chance(150) ? 0 : rng.between(1, 12);
        if (--nextQuiesce == 0 || i == steps - 1) {
            step.quiesce = true;
            nextQuiesce = rng.between(6, 14);
            online.fill(true);
            serverUp = true;
        }
        s.steps << step;
    }
    return s;
}

QString scenarioText(const Scenario &scenario)
{
    QString out = QStringLiteral("scenario\t%1\t%2\n").arg(scenario.seed).arg(scenario.computers);
    for (const Step &step : scenario.steps) {
        for (const Op &op : step.ops)
            out += opText(op) + u'\n';
        out += QStringLiteral("step\t%1\t%2\n").arg(step.slices).arg(step.quiesce ? 1 : 0);
    }
    return out;
}

Scenario parseScenario(const QString &text, QString *error)
{
    Scenario s;
    Step current;
    int lineNo = 0;
    auto fail = [&](const QString &why) {
        *error = QStringLiteral("line %1: %2").arg(lineNo).arg(why);
        return Scenario {};
    };
    for (const QString &line : text.split(u'\n')) {
        ++lineNo;
        if (line.isEmpty() || line.startsWith(u'#') || line.startsWith(u' '))
            continue;
        const QStringList f = line.split(u'\t');
        if (f.at(0) == QStringLiteral("scenario") && f.size() >= 3) {
            s.seed = f.at(1).toULongLong();
            s.computers = f.at(2).toInt();
        } else if (f.at(0) == QStringLiteral("step") && f.size() >= 3) {
            current.slices = f.at(1).toInt();
            current.quiesce = f.at(2) == QStringLiteral("1");
            s.steps << current;
            current = Step {};
        } else if (f.at(0) == QStringLiteral("op") && f.size() >= 7) {
            Op op;
            bool known = false;
            for (const KindName &k : kKindNames) {
                if (QString::fromUtf16(k.name) == f.at(1)) {
                    op.kind = k.kind;
                    known = true;
                }
            }
            if (!known)
                return fail(QStringLiteral("unknown op %1").arg(f.at(1)));
            op.computer = f.at(2).toInt();
            op.n = f.at(3).toLongLong();
            op.tag = f.at(4).toULongLong();
            op.path = f.at(5);
            op.to = f.at(6);
            if (op.computer >= s.computers)
                return fail(QStringLiteral("computer %1 of %2").arg(op.computer).arg(s.computers));
            current.ops << op;
        } else {
            return fail(QStringLiteral("cannot read: %1").arg(line));
        }
    }
    if (!current.ops.isEmpty()) {
        current.quiesce = true;
        s.steps << current;
    }
    if (s.steps.isEmpty() || s.computers < 1)
        return fail(QStringLiteral("no scenario"));
    s.steps.last().quiesce = true;
    return s;
}

Scenario subset(const Scenario &scenario, const QList<bool> &keep)
{
    Scenario out = scenario;
    int i = 0;
    for (Step &step : out.steps) {
        QList<Op> kept;
        for (const Op &op : step.ops) {
            if (keep.value(i++, true))
                kept << op;
        }
        step.ops = kept;
    }
    return out;
}

QByteArray contentFor(quint64 seed, quint64 tag, qint64 size)
{
    SplitMix64 rng(seed * 0x9E3779B97F4A7C15ULL + tag);
    QByteArray data = "v" + QByteArray::number(tag) + "\n";
    while (data.size() < size)
        data += char('a' + rng.below(26));
    return data;
}

} // namespace filesync::sim
