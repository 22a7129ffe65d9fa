#include "reconciler.h"

#include "planner.h"

namespace filesync {

using planning::Planner;
using planning::provenAnew;

SyncPlan Reconciler::reconcile(const LocalSnapshot &local, const JournalState &journal, const RemoteChanges &remote,
    const QString &sessionName, const QDateTime &now, const Feed &feed)
{
    return Planner(local, journal, remote, sessionName, now, feed).run();
}

RelativePath Reconciler::conflictName(const RelativePath &path, const QString &sessionName, const QDateTime &now,
    const std::function<bool(const RelativePath &)> &taken)
{
    const QString name = path.fileName();
    const qsizetype dot = name.lastIndexOf(u'.');
    const QString stem = dot > 0 ? name.left(dot) : name;
    const QString ext = dot > 0 ? name.mid(dot) : QString();
    QString session = sessionName;
    session.replace(u'/', u'_');
    const QString stamp = now.toString(QStringLiteral("yyyy-MM-dd HHmmss"));
    for (int n = 1;; ++n) {
        const QString suffix = n == 1 ? QString() : QStringLiteral(" %1").arg(n);
        QString candidate = QStringLiteral("%1 (conflict from %2 %3%4)%5").arg(stem, session, stamp, suffix, ext);
        if (candidate.toUtf8().size() > RelativePath::kMaxComponentBytes)
            candidate = QStringLiteral("conflict %1%2%3").arg(stamp, suffix, ext);
        auto result = RelativePath::fromString(
            path.parent().isRoot() ? candidate : path.parent().toString() + u'/' + candidate);
        if (result && !taken(*result))
            return *result;
        if (n > 1000)
            return path; // unreachable in practice
    }
}

bool Reconciler::isInSync(const LocalSnapshot &local, const JournalState &journal, const RemoteChanges &remote)
{
    if (!remote.isEmpty() || local.size() != journal.size())
        return false;
    auto j = journal.cbegin();
    for (auto l = local.cbegin(); l != local.cend(); ++l, ++j) {
        if (l.key() != j.key() || l->unreadable || l->kind != j->kind || l->mode != j->mode)
            return false;
        if (!l->isDir()
            && (l->size != j->size || l->mtimeNs != j->mtimeNs || l->inode != j->inode || l->blocks != j->blocks
                || provenAnew(*l, *j)))
            return false;
    }
    return true;
}

} // namespace filesync
