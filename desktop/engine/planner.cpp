// The Planner: runs the phases, then decides each path and orders the plan.
#include "planner.h"

#include <algorithm>
#include <vector>

namespace filesync::planning {

SyncPlan Planner::run()
{
    collectUnreadable();
    detectLocalMoves();
    detectRemoteMoves();
    markUnmoved();
    dropMovesInsideDeferred();
    QSet<RelativePath> paths;
    for (auto it = m_local.cbegin(); it != m_local.cend(); ++it)
        paths.insert(it.key());
    for (auto it = m_journal.cbegin(); it != m_journal.cend(); ++it)
        paths.insert(it.key());
    for (auto it = m_remote.cbegin(); it != m_remote.cend(); ++it)
        paths.insert(it.key());
    QList<RelativePath> sorted(paths.cbegin(), paths.cend());
    paths = {}; // the set and the list are 5 MB at 100,000 paths: not both while deciding
    std::sort(sorted.begin(), sorted.end());
    m_actions.reserve(sorted.size()); // about one action per path: no growth slack
    for (const RelativePath &p : sorted) {
        if (isUnder(m_deferred, p)) {
            // Decided once the server has moved the folder: its changes are read again.
            if (m_remote.contains(p))
                m_holdCursor = true;
        } else if (!isSkipped(p)) {
            decide(p);
        } else if (isUnreadable(p) && remoteTouches(p)) {
            m_holdCursor = true;
        }
    }
    // Each left the feed when a move took it, before the paths above were listed.
    for (const RelativePath &p : std::as_const(m_givenBack)) {
        if (!std::binary_search(sorted.cbegin(), sorted.cend(), p) && !isUnder(m_deferred, p) && !isSkipped(p))
            decide(p);
    }
    sorted = {};
    return order();
}

bool Planner::isUnder(const QList<RelativePath> &roots, const RelativePath &p)
{
    for (const RelativePath &s : roots) {
        if (s == p || s.isAncestorOf(p))
            return true;
    }
    return false;
}

void Planner::collectUnreadable()
{
    for (auto it = m_local.cbegin(); it != m_local.cend(); ++it) {
        if (it->unreadable)
            m_unreadable << it.key();
    }
}

// Work here under `p` that a replacement of the folder `p` would destroy: anything
// new or changed since the journal.
bool Planner::hasLocalWorkUnder(const RelativePath &p) const
{
    for (const SyncAction &m : m_moves) {
        if (m.type == ActionType::MoveRemote && p.isAncestorOf(m.path))
            return true; // moved in here (its journal entries already rebased)
    }
    for (const RelativePath &k : keysAtOrUnder(m_local, p)) {
        const LocalEntry &l = *m_local.constFind(k);
        const auto j = m_journal.constFind(k);
        // As decide() sees it: a chmod is a change too (uploaded, and refused for good
        // under a file the server put where the folder was).
        if (k != p && (j == m_journal.cend() || !((j->statMatches(l) || sameContent(l, *j)) && sameMode(l, *j))))
            return true;
    }
    return false;
}

// Something under the folder `p` is new or changed on the server since the journal.
bool Planner::remoteWorkUnder(const RelativePath &p) const
{
    for (auto [it, end] = RelativePath::subtreeRun(m_remote, p); it != end; ++it) {
        if (it.key() == p || it->deleted)
            continue;
        const auto j = m_journal.constFind(it.key());
        if (j == m_journal.cend() || j->version != it->version)
            return true;
    }
    return false;
}

bool Planner::remoteTouches(const RelativePath &p) const
{
    auto r = m_remote.constFind(p);
    if (r == m_remote.cend())
        return false;
    auto j = m_journal.constFind(p);
    return j == m_journal.cend() || j->version != r->version;
}

// The folder that held p when last synced is still that folder (not one made since in
// its place, after it was renamed away here).
bool Planner::parentStillThere(const RelativePath &p) const
{
    const auto j = m_journal.constFind(p.parent());
    return j != m_journal.cend() && stillThere(p.parent(), *j);
}

// The entry the journal knows at p is on the disk there still. A path that holds
// another inode now had its entry renamed away and a new one made in its place.
bool Planner::stillThere(const RelativePath &p, const JournalEntry &j) const
{
    const auto l = m_local.constFind(p);
    return l != m_local.cend() && (l->unreadable || l->inode == j.inode);
}

// The source of a remote move must be gone on the server (a tombstone or nothing).
bool Planner::remoteTouchesAlive(const RelativePath &p) const
{
    auto r = m_remote.constFind(p);
    return r != m_remote.cend() && !r->deleted;
}

void Planner::add(ActionType type, const RelativePath &p, EntryKind kind)
{
    SyncAction a;
    a.type = type;
    a.path = p;
    a.kind = kind;
    if (m_local.contains(p))
        a.local = m_local.value(p);
    if (m_remote.contains(p))
        a.remote = m_remote.value(p);
    m_actions << a;
}

void Planner::addUpload(const RelativePath &p, quint64 base)
{
    add(ActionType::Upload, p, m_local.value(p).kind);
    m_actions.last().base = base;
}

void Planner::addRecord(const RelativePath &p, quint64 version)
{
    add(ActionType::Record, p, m_local.value(p).kind);
    m_actions.last().version = version;
}

void Planner::addConflict(const RelativePath &p)
{
    const LocalEntry l = m_local.value(p);
    add(ActionType::ConflictCopy, p, l.kind);
    m_actions.last().conflictCopy = Reconciler::conflictName(
        p, m_session, m_now, [this](const RelativePath &c) { return m_local.contains(c) || m_remote.contains(c); });
    if (l.isDir())
        m_setAside << p; // its content moves with it; the next cycle uploads the copy
    add(ActionType::Download, p, m_remote.value(p).kind);
    m_actions.last().local.reset(); // by then our version is aside: the path is free
    m_followUp = true;
}

void Planner::decide(const RelativePath &p)
{
    const bool hasL = m_local.contains(p), hasJ = m_journal.contains(p), hasR = m_remote.contains(p);
    const LocalEntry l = m_local.value(p);
    const JournalEntry j = m_journal.value(p);
    const FileEntry r = m_remote.value(p);
    if (hasJ && !hasL && j.isDir())
        m_missingFolders.insert(p);

    Side local = Side::None;
    if (hasL && !hasJ)
        local = Side::New;
    else if (!hasL && hasJ)
        local = Side::Deleted;
    else if (hasL && hasJ)
        local = (j.statMatches(l) || sameContent(l, j)) && sameMode(l, j) ? Side::Unchanged : Side::Modified;

    Side remote = Side::Unchanged;
    if (hasR) {
        if (r.deleted)
            remote = !hasJ ? Side::None : (j.version == r.version ? Side::Unchanged : Side::Deleted);
        else if (!hasJ)
            remote = Side::New;
        else
            remote
                = (j.version == r.version || (sameContent(j, r) && sameMode(j, r))) ? Side::Unchanged : Side::Modified;
    } else if (!hasJ) {
        remote = Side::None;
    }
    // The version to build on: the server's when it told us one.
    const quint64 base = hasR ? r.version : j.version;
    const bool versionMoved = hasR && hasJ && !r.deleted && r.version != j.version;

    switch (local) {
    case Side::None:
        if (remote == Side::New)
            add(ActionType::Download, p, r.kind);
        else if (hasJ)
            add(ActionType::Forget, p, j.kind);
        break;
    case Side::Unchanged:
        if (remote == Side::Modified && l.isDir() && r.kind == EntryKind::File && hasLocalWorkUnder(p)) {
            addConflict(p); // a file replaced the folder there; new work here stays
            dropMovesInto(p);
        } else if (remote == Side::Modified)
            add(ActionType::Download, p, r.kind); // also a type change of an unchanged path
        else if (remote == Side::Deleted)
            add(ActionType::DeleteLocal, p, l.kind);
        else if (versionMoved || !j.statMatches(l) || l.mode != j.mode || provenAnew(l, j))
            addRecord(p, base);
        break;
    case Side::New:
        if (remote == Side::New) {
            if (sameContent(l, r) && !sameMode(l, r))
                addUpload(p, r.version); // the same bytes: our mode goes on top of theirs
            else if (sameContent(l, r))
                addRecord(p, r.version);
            else if (l.isDir() && r.kind == EntryKind::Directory)
                addRecord(p, r.version);
            else
                addConflict(p);
        } else {
            addUpload(p, hasR ? r.version : 0); // over a tombstone, or brand new
        }
        break;
    case Side::Modified:
        if (remote == Side::Modified) {
            if (sameContent(l, r) && !sameMode(l, r))
                addUpload(p, r.version); // the same bytes: our mode goes on top of theirs
            else if (sameContent(l, r))
                addRecord(p, r.version);
            else
                addConflict(p);
        } else if (hasJ && j.isDir() && !l.isDir() && remote != Side::Deleted && remoteWorkUnder(p)) {
            // The folder became a file here while the server got new work inside it
            // (the server refuses the file over it, for ever): the file goes aside and
            // the folder comes back with that work, at the server's version (deleted and
            // made again there meanwhile, it has a newer one than the journal's).
            addConflict(p);
            SyncAction &restore = m_actions.last();
            restore.kind = EntryKind::Directory;
            restore.remote.path = p;
            restore.remote.kind = EntryKind::Directory;
            restore.remote.version = base;
        } else {
            addUpload(p, base); // remote unchanged, or deleted: an edit wins
        }
        break;
    case Side::Deleted:
        if (remote == Side::Modified || remote == Side::New)
            add(ActionType::Download, p, r.kind); // an edit wins over our delete
        else if (remote == Side::Deleted || (hasR && r.deleted))
            add(ActionType::Forget, p, j.kind);
        else {
            add(ActionType::DeleteRemote, p, j.kind);
            m_actions.last().base = base;
        }
        break;
    }
}

// Moves first, then local work (deletes deepest first, downloads shallowest first),
// then remote work (deletes deepest first, uploads shallowest first).
// The actions are sorted where they are and the list becomes the plan: no second list.
// Lists of actions per type, a sorted copy beside the decided list, and
// stable_sort's buffer of half the actions were each in turn the client's memory
// peak with 100,000 files (tests/bench/profile.md). So the order is found on a list of indexes
// (4 bytes an action) and the actions are moved into it in place, one cycle at a time.
SyncPlan Planner::order()
{
    SyncPlan plan;
    plan.needsFollowUp = m_followUp || !m_moves.isEmpty();
    plan.holdCursor = m_holdCursor;
    plan.missingFolders = std::move(m_missingFolders);
    auto rank = [](ActionType t) {
        switch (t) {
        case ActionType::MoveRemote:
        case ActionType::MoveLocal:
            return -1; // only from m_moves, in the order they were found
        case ActionType::ConflictCopy:
            return 0;
        case ActionType::DeleteLocal:
            return 1;
        case ActionType::Download:
            return 2;
        case ActionType::DeleteRemote:
            return 3;
        case ActionType::Upload:
            return 4;
        case ActionType::Record:
            return 5;
        case ActionType::Forget:
            return 6;
        }
        return 7;
    };
    auto deepestFirst = [](ActionType t) { return t == ActionType::DeleteLocal || t == ActionType::DeleteRemote; };
    // Same order as before: by phase, deletes deepest first, the rest as decided (stable).
    for (SyncAction &a : m_moves)
        m_actions.append(std::move(a));
    m_moves.clear();
    SyncAction *actions = m_actions.data();
    std::vector<int> order(size_t(m_actions.size()));
    for (size_t i = 0; i < order.size(); ++i)
        order[i] = int(i);
    std::stable_sort(order.begin(), order.end(), [&](int x, int y) {
        const SyncAction &a = actions[x];
        const SyncAction &b = actions[y];
        const int ra = rank(a.type), rb = rank(b.type);
        if (ra != rb)
            return ra < rb;
        return deepestFirst(a.type) && b.path < a.path;
    });
    // Position k takes the action at order[k]: each cycle of the permutation is walked
    // once, with one action aside.
    for (int start = 0; start < int(order.size()); ++start) {
        if (order[size_t(start)] == start)
            continue;
        SyncAction aside = std::move(actions[start]);
        int k = start;
        for (;;) {
            const int from = order[size_t(k)];
            order[size_t(k)] = k;
            if (from == start) {
                actions[k] = std::move(aside);
                break;
            }
            actions[k] = std::move(actions[from]);
            k = from;
        }
    }
    plan.actions = std::move(m_actions);
    m_actions.clear();
    return plan;
}

} // namespace filesync::planning
