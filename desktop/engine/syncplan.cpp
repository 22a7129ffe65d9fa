#include "syncplan.h"

namespace filesync {

QString actionName(ActionType type)
{
    switch (type) {
    case ActionType::MoveRemote:
        return QStringLiteral("move-remote");
    case ActionType::DeleteRemote:
        return QStringLiteral("delete-remote");
    case ActionType::Upload:
        return QStringLiteral("upload");
    case ActionType::MoveLocal:
        return QStringLiteral("move-local");
    case ActionType::ConflictCopy:
        return QStringLiteral("conflict-copy");
    case ActionType::DeleteLocal:
        return QStringLiteral("delete-local");
    case ActionType::Download:
        return QStringLiteral("download");
    case ActionType::Record:
        return QStringLiteral("record");
    case ActionType::Forget:
        return QStringLiteral("forget");
    }
    return QString();
}

int SyncPlan::count(ActionType type) const
{
    return int(std::count_if(actions.cbegin(), actions.cend(), [type](const SyncAction &a) { return a.type == type; }));
}

QString SyncPlan::describe() const
{
    QStringList lines;
    for (const SyncAction &a : actions) {
        QString line = actionName(a.type) + u' ' + a.path.toString();
        if (a.type == ActionType::MoveRemote || a.type == ActionType::MoveLocal)
            line += QStringLiteral(" from ") + a.from.toString();
        if (a.type == ActionType::MoveLocal && !a.journalFrom.isRoot())
            line += QStringLiteral(" (was ") + a.journalFrom.toString() + u')';
        if (a.type == ActionType::ConflictCopy)
            line += QStringLiteral(" -> ") + a.conflictCopy.toString();
        lines << line;
    }
    return lines.join(u'\n');
}

} // namespace filesync
