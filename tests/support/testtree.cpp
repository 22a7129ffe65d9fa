#include "testtree.h"

#include "contenthash.h"

#include <QDir>
#include <QDirIterator>
#include <QFile>
#include <QFileInfo>
#include <QRandomGenerator>
#include <QTest>

namespace filesync::test {

QByteArray randomBytes(qint64 size, quint32 seed)
{
    QByteArray data(size, Qt::Uninitialized);
    QRandomGenerator rng(seed);
    const qint64 words = size / 4;
    rng.fillRange(reinterpret_cast<quint32 *>(data.data()), words);
    for (qint64 i = words * 4; i < size; ++i)
        data[i] = char(rng.generate());
    return data;
}

void writeFile(const QString &root, const QString &rel, const QByteArray &data)
{
    const QString path = root + u'/' + rel;
    QDir().mkpath(QFileInfo(path).absolutePath());
    QFile f(path);
    if (!f.open(QIODevice::WriteOnly | QIODevice::Truncate))
        qFatal("cannot write %s", qPrintable(path));
    f.write(data);
}

QByteArray readFile(const QString &root, const QString &rel)
{
    QFile f(root + u'/' + rel);
    if (!f.open(QIODevice::ReadOnly))
        return {};
    return f.readAll();
}

void makeDir(const QString &root, const QString &rel)
{
    QDir().mkpath(root + u'/' + rel);
}

bool exists(const QString &root, const QString &rel)
{
    return QFileInfo::exists(root + u'/' + rel);
}

TreeState treeState(const QString &root)
{
    TreeState state;
    const QString metadata = root + u'/' + QStringLiteral(".filesync");
    QDirIterator it(
        root, QDir::AllEntries | QDir::Hidden | QDir::System | QDir::NoDotAndDotDot, QDirIterator::Subdirectories);
    while (it.hasNext()) {
        const QString path = it.next();
        if (path == metadata || path.startsWith(metadata + u'/'))
            continue;
        const QString rel = path.mid(root.size() + 1);
        const QFileInfo info = it.fileInfo();
        if (info.isDir()) {
            state.insert(rel, QStringLiteral("dir"));
        } else {
            QFile f(path);
            if (!f.open(QIODevice::ReadOnly)) {
                state.insert(rel, QStringLiteral("unreadable"));
                continue;
            }
            Sha256 h;
            while (!f.atEnd())
                h.addData(f.read(1 << 20));
            state.insert(rel, h.result().toString());
        }
    }
    return state;
}

QString treeDiff(const TreeState &a, const TreeState &b)
{
    QStringList lines;
    for (auto it = a.cbegin(); it != a.cend(); ++it) {
        if (!b.contains(it.key()))
            lines << QStringLiteral("only in first: ") + it.key();
        else if (b.value(it.key()) != it.value())
            lines << QStringLiteral("differs: ") + it.key();
    }
    for (auto it = b.cbegin(); it != b.cend(); ++it) {
        if (!a.contains(it.key()))
            lines << QStringLiteral("only in second: ") + it.key();
    }
    if (lines.size() > 20) {
        const qsizetype more = lines.size() - 20;
        lines = lines.mid(0, 20);
        lines << QStringLiteral("... and %1 more").arg(more);
    }
    return lines.join(u'\n');
}

QStringList conflictCopies(const QString &root)
{
    QStringList found;
    const TreeState state = treeState(root);
    for (auto it = state.cbegin(); it != state.cend(); ++it) {
        if (it.key().contains(QStringLiteral("(conflict from ")))
            found << it.key();
    }
    return found;
}

} // namespace filesync::test
