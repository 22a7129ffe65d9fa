#pragma once

#include "result.h"

#include <QHashFunctions>
#include <QMetaType>
#include <QString>
#include <QStringList>

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

    friend bool operator==(const RelativePath &a, const RelativePath &b) { return a.m_path == b.m_path; }
    friend bool operator!=(const RelativePath &a, const RelativePath &b) { return a.m_path != b.m_path; }
    friend bool operator<(const RelativePath &a, const RelativePath &b) { return a.m_path < b.m_path; }

private:
    explicit RelativePath(QString path)
        : m_path(std::move(path))
    { }
    static Result<void> validateComponent(const QString &name);

    QString m_path;
};

inline size_t qHash(const RelativePath &p, size_t seed = 0)
{
    return qHash(p.toString(), seed);
}

} // namespace filesync

Q_DECLARE_METATYPE(filesync::RelativePath)
