#pragma once

#include <QByteArray>
#include <QMap>
#include <QString>

namespace filesync::test {

// Real files in real folders: writing trees and comparing them.

// Deterministic pseudo-random bytes (so a failure can be reproduced).
QByteArray randomBytes(qint64 size, quint32 seed);

// Writes `data` to root/rel, creating parent directories. Not atomic on purpose: it is
// what a user's program does.
void writeFile(const QString &root, const QString &rel, const QByteArray &data);
QByteArray readFile(const QString &root, const QString &rel);
void makeDir(const QString &root, const QString &rel);
bool exists(const QString &root, const QString &rel);

// A folder's synced content: path -> "dir" or the file's SHA-256 in hex. The metadata
// directory is left out.
using TreeState = QMap<QString, QString>;
TreeState treeState(const QString &root);

// A readable difference, empty when equal; for QVERIFY2 messages.
QString treeDiff(const TreeState &a, const TreeState &b);

// Paths in a tree whose name marks a conflict copy.
QStringList conflictCopies(const QString &root);

} // namespace filesync::test
