#pragma once

#include "result.h"

#include <QHashFunctions>
#include <QMetaType>
#include <QString>
#include <QStringList>
#include <QStringView>

#include <utility>

namespace filesync {

// A path inside a synced folder, validated on construction: relative, '/'-separated, NFC,
// no empty, '.' or '..' components, no control characters, no backslash or drive letter,
// within the length caps, and never inside our own metadata directory. Every path that
// arrives from the network or the disk becomes a RelativePath before it is used.
class RelativePath
{
public:
    static constexpr int kMaxBytes = 4096; // whole path, UTF-8
    static constexpr int kMaxComponentBytes = 255; // one name, UTF-8 (Linux NAME_MAX)
    static const QString kMetadataDirName; // ".filesync"

    RelativePath() = default; // the empty path: the root of the folder

    static Result<RelativePath> fromString(const QString &path);

    QString toString() const { return m_path; }
    bool isRoot() const { return m_path.isEmpty(); }
    QString fileName() const;
    RelativePath parent() const;
    RelativePath child(const QString &name) const; // name must be valid (asserted)
    bool isAncestorOf(const RelativePath &other) const; // strict ancestor
    int depth() const;
    // Replaces the prefix `from` (an ancestor or the path itself) with `to`.
    RelativePath rebased(const RelativePath &from, const RelativePath &to) const;

    // Path order, the one order of paths everywhere (docs/architecture.md, "Path order"):
    // name by name, each name by Unicode code point, so a folder is followed at once by
    // everything in it: "d/X", "d/X/a", "d/X 2", "d/X-1", "d/X.pm". As strings, "d/X 2"
    // and "d/X.pm" would sort between "d/X" and "d/X/a" (' ', '-' and '.' precede '/').
    // Returns <0, 0 or >0; for path text too (a QStringList of paths, a sort in a tool).
    static int compare(QStringView a, QStringView b);

    // The keys at or under `root` in a map ordered by path order are one run:
    // [map.lowerBound(root), subtreeEnd(map, root)), both returned by subtreeRun().
    template<typename Map> static typename Map::const_iterator subtreeEnd(const Map &map, const RelativePath &root)
    {
        return root.isRoot() ? map.cend() : map.lowerBound(root.pastSubtree());
    }
    template<typename Map>
    static std::pair<typename Map::const_iterator, typename Map::const_iterator> subtreeRun(
        const Map &map, const RelativePath &root)
    {
        return { map.lowerBound(root), subtreeEnd(map, root) };
    }

    // Text bounds for SQL: the paths strictly under this one (not the root) are exactly
    // the texts t with first < t < second, "path/" and "path0" ('0' follows '/'), in any
    // order of code units or UTF-8 bytes (SQLite's BINARY). A prefix test, so it holds
    // whatever order the rows are kept in; the siblings "path 2" and "path.pm" are outside.
    std::pair<QString, QString> descendantBounds() const;

    friend bool operator==(const RelativePath &a, const RelativePath &b) { return a.m_path == b.m_path; }
    friend bool operator!=(const RelativePath &a, const RelativePath &b) { return a.m_path != b.m_path; }
    friend bool operator<(const RelativePath &a, const RelativePath &b) { return compare(a.m_path, b.m_path) < 0; }

private:
    explicit RelativePath(QString path)
        : m_path(std::move(path))
    { }
    // A key after this path and everything under it and before every later path; not a
    // valid path (it ends in U+0001), so it exists only as a bound for lowerBound().
    RelativePath pastSubtree() const { return RelativePath(m_path + QChar(0x0001)); }
    static Result<void> validateComponent(const QString &name);

    QString m_path;
};

inline size_t qHash(const RelativePath &p, size_t seed = 0)
{
    return qHash(p.toString(), seed);
}

} // namespace filesync

Q_DECLARE_METATYPE(filesync::RelativePath)
