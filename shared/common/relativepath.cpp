#include "relativepath.h"

#include <QSysInfo>
#include <QtAlgorithms>

#include <algorithm>
#include <cstring>

namespace filesync {

const QString RelativePath::kMetadataDirName = QStringLiteral(".filesync");

Result<void> RelativePath::validateComponent(const QString &name)
{
    if (name.isEmpty())
        return makeError(QStringLiteral("empty path component"));
    if (name == u"." || name == u"..")
        return makeError(QStringLiteral("'.' or '..' in a path"));
    if (name.toUtf8().size() > kMaxComponentBytes)
        return makeError(QStringLiteral("a name is longer than %1 bytes").arg(kMaxComponentBytes));
    for (const QChar c : name) {
        const char16_t u = c.unicode();
        if (u < 0x20 || u == 0x7f || (u >= 0x80 && u < 0xa0))
            return makeError(QStringLiteral("control character in a path"));
        if (u == u'\\')
            return makeError(QStringLiteral("backslash in a path"));
        if (u == u'/')
            return makeError(QStringLiteral("'/' inside a name"));
    }
    return {};
}

Result<RelativePath> RelativePath::fromString(const QString &path)
{
    if (path.isEmpty())
        return RelativePath();
    if (path.toUtf8().size() > kMaxBytes)
        return makeError(QStringLiteral("path is longer than %1 bytes").arg(kMaxBytes));
    if (path.startsWith(u'/'))
        return makeError(QStringLiteral("absolute path"));
    if (path.size() >= 2 && path.at(1) == u':' && path.at(0).isLetter())
        return makeError(QStringLiteral("path starts with a drive letter"));
    if (path.contains(QChar(0xfffd)))
        return makeError(QStringLiteral("path is not valid UTF-8"));
    for (qsizetype i = 0; i < path.size(); ++i) {
        const QChar c = path.at(i);
        const bool pairedHigh = c.isHighSurrogate() && i + 1 < path.size() && path.at(i + 1).isLowSurrogate();
        if (pairedHigh)
            ++i;
        else if (c.isSurrogate())
            return makeError(QStringLiteral("path is not valid Unicode (unpaired surrogate)"));
    }
    if (path != path.normalized(QString::NormalizationForm_C))
        return makeError(QStringLiteral("path is not in Unicode NFC"));
    const QStringList parts = path.split(u'/');
    for (const QString &part : parts) {
        if (auto r = validateComponent(part); !r)
            return r.error();
    }
    if (parts.first() == kMetadataDirName)
        return makeError(QStringLiteral("path is inside the reserved %1 directory").arg(kMetadataDirName));
    return RelativePath(path);
}

QString RelativePath::fileName() const
{
    const qsizetype slash = m_path.lastIndexOf(u'/');
    return slash < 0 ? m_path : m_path.mid(slash + 1);
}

RelativePath RelativePath::parent() const
{
    const qsizetype slash = m_path.lastIndexOf(u'/');
    return slash < 0 ? RelativePath() : RelativePath(m_path.left(slash));
}

RelativePath RelativePath::child(const QString &name) const
{
    Q_ASSERT(validateComponent(name).ok());
    if (isRoot()) {
        Q_ASSERT(name != kMetadataDirName);
        return RelativePath(name);
    }
    return RelativePath(m_path + u'/' + name);
}

bool RelativePath::isAncestorOf(const RelativePath &other) const
{
    if (isRoot())
        return !other.isRoot();
    return other.m_path.size() > m_path.size() && other.m_path.startsWith(m_path)
        && other.m_path.at(m_path.size()) == u'/';
}

int RelativePath::depth() const
{
    return isRoot() ? 0 : int(m_path.count(u'/')) + 1;
}

namespace {
// A UTF-16 code unit's rank in path order: '/' below everything, then code point order
// (surrogates, which encode the code points above U+FFFF, after U+E000..U+FFFF).
inline int pathRank(char16_t u)
{
    if (u == u'/')
        return 0;
    if (u >= 0xd800 && u < 0xe000)
        return int(u) + 0x2000 + 1;
    if (u >= 0xe000)
        return int(u) - 0x800 + 1;
    return int(u) + 1;
}
} // namespace

int RelativePath::compare(QStringView a, QStringView b)
{
    const qsizetype n = std::min(a.size(), b.size());
    const char16_t *pa = a.utf16();
    const char16_t *pb = b.utf16();
    qsizetype i = 0;
    // The common prefix four code units at a time: this runs in every map lookup and sort.
    for (; i + 4 <= n; i += 4) {
        quint64 x, y;
        std::memcpy(&x, pa + i, sizeof x);
        std::memcpy(&y, pb + i, sizeof y);
        if (x != y) {
            const quint64 d = x ^ y;
            if constexpr (QSysInfo::ByteOrder == QSysInfo::LittleEndian)
                i += qCountTrailingZeroBits(d) / 16;
            else
                i += qCountLeadingZeroBits(d) / 16;
            return pathRank(pa[i]) < pathRank(pb[i]) ? -1 : 1;
        }
    }
    while (i < n && pa[i] == pb[i])
        ++i;
    if (i == n)
        return a.size() == b.size() ? 0 : (a.size() < b.size() ? -1 : 1); // a prefix comes first
    return pathRank(pa[i]) < pathRank(pb[i]) ? -1 : 1;
}

std::pair<QString, QString> RelativePath::descendantBounds() const
{
    Q_ASSERT(!isRoot());
    return { m_path + u'/', m_path + u'0' };
}

RelativePath RelativePath::rebased(const RelativePath &from, const RelativePath &to) const
{
    Q_ASSERT(*this == from || from.isAncestorOf(*this));
    if (*this == from)
        return to;
    const QString rest = from.isRoot() ? m_path : m_path.mid(from.m_path.size() + 1);
    return to.isRoot() ? RelativePath(rest) : RelativePath(to.m_path + u'/' + rest);
}

} // namespace filesync
