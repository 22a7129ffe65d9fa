// The Planner's moves: local and remote moves detected, undone, merged or carried along,
// and the unmoved rest marked.
#include "planner.h"

#include <algorithm>
#include <vector>

namespace filesync::planning {

// A path gone from the disk (or taken by a new entry) and a new one with the same inode (and, for a file, the
// same size and mtime) is a move: one server op instead of a delete and an upload.
void Planner::detectLocalMoves()
{
    QHash<quint64, RelativePath> newByInode;
    for (auto it = m_local.cbegin(); it != m_local.cend(); ++it) {
        if (!m_journal.contains(it.key()) && !it->unreadable && !remoteTouches(it.key()))
            newByInode.insert(it->inode, it.key());
    }
    if (newByInode.isEmpty())
        return;
    // Where the server moved an entry along with its folder, by its old path.
    QHash<RelativePath, RelativePath> movedTo;
    for (const FileEntry &r : m_remote) {
        if (!r.deleted && r.movedFrom)
            movedTo.insert(*r.movedFrom, r.path);
    }
    const QList<RelativePath> known = m_journal.keys();
    for (const RelativePath &p : known) {
        if (!m_journal.contains(p) || isSkipped(p))
            continue;
        const JournalEntry j = m_journal.value(p);
        if (stillThere(p, j))
            continue;
        // A folder that is still a plain folder on the server moves whatever its new
        // version: the server moves what it holds under it now.
        const auto r = m_remote.constFind(p);
        const bool liveFolder
            = r != m_remote.cend() && !r->deleted && !r->movedFrom && j.isDir() && r->kind == EntryKind::Directory;
        // Moved there along with its folder (by another computer) as it was here, and
        // moved out of that folder here: ours moves it on from its new name there. (A
        // move there of the entry itself, or here of its folder, is another rename of
        // the same entry: the server's came first and wins, see detectRemoteMoves.)
        RelativePath source = p;
        const FileEntry *there = nullptr;
        if (r != m_remote.cend() && r->deleted && parentStillThere(p)) {
            const auto to = movedTo.constFind(p);
            const auto up = movedTo.constFind(p.parent());
            const auto t = to == movedTo.cend() || up == movedTo.cend() || *up != to->parent()
                ? m_remote.cend()
                : m_remote.constFind(*to);
            if (t != m_remote.cend() && t->kind == j.kind && (j.isDir() || (t->blocks == j.blocks && sameMode(*t, j)))
                && !m_journal.contains(t->path) && !m_local.contains(t->path)) {
                source = t->path;
                there = &*t;
            }
        }
        if (remoteTouches(p) && !liveFolder && !there)
            continue;
        const auto found = newByInode.constFind(j.inode);
        if (found == newByInode.cend())
            continue;
        const RelativePath q = *found;
        const LocalEntry l = m_local.value(q);
        // A chmod on the way is no plain move (the server's move keeps the mode): a
        // delete and an upload, as for a touched file.
        if (l.kind != j.kind || (!j.isDir() && (l.size != j.size || l.mtimeNs != j.mtimeNs)) || !sameMode(l, j))
            continue;
        if (p.isAncestorOf(q) || q.isAncestorOf(p) || !m_local.contains(q) || source.isAncestorOf(q))
            continue;
        SyncAction a;
        a.type = ActionType::MoveRemote;
        a.path = q;
        a.from = source;
        a.kind = j.kind;
        a.base = there ? there->version : liveFolder ? r->version : j.version;
        a.local = l;
        m_moves << a;
        newByInode.remove(j.inode);
        rebase(m_journal, p, q);
        // A feed read from before our cursor lists the source as we last synced it:
        // that is what moves, not something to download again. So is the entry the
        // server moved along with its folder.
        if (r != m_remote.cend() && !r->deleted && !j.isDir() && r->version == j.version)
            m_remote.remove(p);
        if (there) {
            // Known now as the server's entry there (not one its folder's move left
            // behind, see markUnmoved).
            m_taken.insert(q, Taken { p, j.version, *there });
            m_journal[q].version = there->version;
            if (!j.isDir())
                m_remote.remove(source);
        }
    }
    deferFolderMoves();
}

// What is inside a folder moved here waits for the server's answer: the journal learns
// the move only once it is applied, and the server moves what it holds then (changes
// made there meanwhile included), which the next cycle reads. Found again from the
// moves planned whenever they change, so that nothing waits for a move the plan no
// longer makes (it would hold the cursor for good, with nothing to do).
void Planner::deferFolderMoves()
{
    m_deferred.clear();
    m_deferredMoves.clear();
    for (const SyncAction &m : std::as_const(m_moves)) {
        if (m.type == ActionType::MoveRemote && m.kind == EntryKind::Directory) {
            m_deferred << m.from << m.path;
            m_deferredMoves << m.path;
        }
    }
}

// Server entries that say "moved from X": rename here when X is still as we left it.
void Planner::detectRemoteMoves()
{
    QList<FileEntry> moved;
    for (const FileEntry &r : m_remote) {
        if (!r.deleted && r.movedFrom)
            moved << r;
    }
    if (moved.isEmpty())
        return; // the usual case: no index of the new paths (two lookups each) is needed
    // A folder before what was inside it: its rename carries the content along.
    std::sort(moved.begin(), moved.end(), [](const FileEntry &a, const FileEntry &b) {
        const qsizetype da = a.movedFrom->toString().count(u'/'), db = b.movedFrom->toString().count(u'/');
        return da != db ? da < db : a.version < b.version;
    });
    QHash<quint64, RelativePath> newByInode; // for sources this computer renamed too
    for (auto it = m_local.cbegin(); it != m_local.cend(); ++it) {
        if (!m_journal.contains(it.key()) && !it->unreadable && !m_remote.contains(it.key()))
            newByInode.insert(it->inode, it.key());
    }
    for (const FileEntry &r : moved) {
        const RelativePath &from = *r.movedFrom;
        const auto j = m_journal.constFind(from);
        if (j == m_journal.cend())
            continue;
        if (m_local.contains(r.path) || m_journal.contains(r.path)) {
            mergeNewInto(from, r, *j);
            continue;
        }
        // Moved here as well, to another name: the server's move came first and wins,
        // ours follows it (what was added under our name goes along).
        RelativePath source = from;
        if (!stillThere(from, *j) && !isUnder(m_deferred, from)) {
            const auto renamed = newByInode.constFind(j->inode);
            if (renamed == newByInode.cend() || isSkipped(*renamed) || renamed->isAncestorOf(r.path)
                || r.path.isAncestorOf(*renamed))
                continue;
            source = *renamed;
        }
        const auto l = m_local.constFind(source);
        if (l == m_local.cend() || !j->statMatches(*l) || !sameContent(*j, r) || isSkipped(from)
            || remoteTouchesAlive(from))
            continue;
        undoMovesInto(source, r.path);
        SyncAction a;
        a.type = ActionType::MoveLocal;
        a.path = r.path;
        a.from = source;
        if (source != from)
            a.journalFrom = from;
        a.kind = r.kind;
        a.local = *l;
        m_moves << a;
        newByInode.remove(j->inode);
        rebase(m_journal, from, r.path);
        rebase(m_local, source, r.path);
        carryMovesAlong(source, r.path);
    }
    deferFolderMoves(); // targets carried along to the server's names
}

// This computer moved a folder into `folder` while the server moved `folder` to `to`,
// into that very folder: done both ways, each would be inside the other. The server's
// move came first and wins: ours is undone here (the folder goes back to the name the
// server still has it at), then the server's is followed. What was added here in
// either goes along and is uploaded at its new path.
void Planner::undoMovesInto(const RelativePath &folder, const RelativePath &to)
{
    for (qsizetype i = 0; i < m_moves.size(); ++i) {
        const SyncAction m = m_moves.at(i);
        if (m.type != ActionType::MoveRemote || !folder.isAncestorOf(m.path)
            || !(m.from == to || m.from.isAncestorOf(to)))
            continue;
        m_moves.removeAt(i--);
        rebase(m_journal, m.path, m.from);
        rebase(m_local, m.path, m.from);
        for (SyncAction &inside : m_moves) {
            if (inside.type == ActionType::MoveRemote && m.path.isAncestorOf(inside.path))
                inside.path = inside.path.rebased(m.path, m.from);
        }
        SyncAction back;
        back.type = ActionType::MoveLocal;
        back.path = m.from;
        back.from = m.path;
        back.journalFrom = m.from; // the journal never moved it
        back.kind = m.kind;
        back.local = m_local.value(m.from);
        m_moves << back;
    }
    deferFolderMoves();
}

// The server moved the folder `from` to where this computer made a folder of its own:
// the two merge. What the server moved comes in its own entries; what is new here
// under `from` goes along (left behind, it made `from` again on the server).
void Planner::mergeNewInto(const RelativePath &from, const FileEntry &r, const JournalEntry &j)
{
    const auto target = m_local.constFind(r.path);
    const auto source = m_local.constFind(from);
    if (r.kind != EntryKind::Directory || !j.isDir() || m_journal.contains(r.path) || target == m_local.cend()
        || !target->isDir() || source == m_local.cend() || !source->isDir() || isSkipped(from)
        || remoteTouchesAlive(from))
        return;
    QList<RelativePath> fresh;
    for (const RelativePath &k : keysAtOrUnder(m_local, from)) {
        if (k == from || m_journal.contains(k) || (!fresh.isEmpty() && fresh.last().isAncestorOf(k)))
            continue;
        const RelativePath to = k.rebased(from, r.path);
        if (m_local.contains(to) || remoteTouchesAlive(to) || isSkipped(k))
            continue;
        fresh << k;
    }
    for (const RelativePath &k : std::as_const(fresh)) {
        SyncAction a;
        a.type = ActionType::MoveLocal;
        a.path = k.rebased(from, r.path);
        a.from = k;
        a.local = m_local.value(k);
        a.kind = a.local->kind;
        m_moves << a;
        rebase(m_local, k, a.path);
    }
}

// A folder moved here to follow the server: what this computer moved into it just now
// goes along, to the server's name (also when our own rename of it lost to the server's).
void Planner::carryMovesAlong(const RelativePath &folder, const RelativePath &to)
{
    for (auto m = m_moves.begin(); m != m_moves.end();) {
        if (m->type != ActionType::MoveRemote || !folder.isAncestorOf(m->path)) {
            ++m;
            continue;
        }
        const RelativePath there = m->path.rebased(folder, to);
        // The journal entry is at our old target, or already moved with the folder.
        const RelativePath at = m_journal.contains(m->path) ? m->path : there;
        const auto r = m_remote.constFind(there);
        if (r != m_remote.cend() && !r->deleted) {
            // Taken there on the server: no move. Our file is new at that path (a
            // conflict with the server's, both kept), its old name a delete.
            rebase(m_journal, at, m->from);
            m = m_moves.erase(m);
            continue;
        }
        // A tombstone there is another entry's history, never our move's (the server
        // has not seen it): compared with our entry's version, it read as a delete of it.
        if (r != m_remote.cend())
            m_remote.remove(there);
        rebase(m_journal, at, there);
        m->path = there;
        ++m;
    }
}

// A folder the server moved holds, right after the move, exactly what the server had
// under its source then: every entry of it is in the feed, at its new path, unless
// changed again later (then also in the feed). An entry the journal carries under the
// new path from before the move (from our own move, or renamed here just now) that the
// feed does not list was gone from the server when it moved the folder: deleted, or
// moved elsewhere, meanwhile. It is treated as deleted there (version 0: nothing is at
// that path on the server, so a change here is uploaded as new). Only on a complete
// feed: a slice may end between the folder and its content. A folder moved in an
// earlier slice of this read counts too: those slices brought every entry it moved to
// a newer version in the journal.
void Planner::markUnmoved()
{
    if (!m_feed.complete)
        return;
    QHash<RelativePath, quint64> movedFolders = m_feed.movedEarlier;
    for (const FileEntry &r : std::as_const(m_remote)) {
        if (!r.deleted && r.movedFrom && r.kind == EntryKind::Directory)
            movedFolders.insert(r.path, r.version);
    }
    QList<FileEntry> gone;
    for (auto folder = movedFolders.cbegin(); folder != movedFolders.cend(); ++folder) {
        const auto dir = m_journal.constFind(folder.key());
        if (dir == m_journal.cend() || !dir->isDir())
            continue; // gone or replaced since
        for (const RelativePath &k : keysAtOrUnder(m_journal, folder.key())) {
            const JournalEntry &j = *m_journal.constFind(k);
            if (k == folder.key() || j.version >= folder.value() || m_remote.contains(k)
                || movedInFromOutside(k, folder.key()))
                continue;
            FileEntry tombstone;
            tombstone.path = k;
            tombstone.kind = j.kind;
            tombstone.deleted = true;
            tombstone.version = 0;
            gone << tombstone;
        }
    }
    for (const FileEntry &t : std::as_const(gone))
        m_remote.insert(t.path, t);
}

// The journal holds `k` under `folder` because this computer moved it in from outside
// just now (rebased above): it was never under the folder the server moved.
bool Planner::movedInFromOutside(const RelativePath &k, const RelativePath &folder) const
{
    for (const SyncAction &m : m_moves) {
        if (m.type == ActionType::MoveRemote && (m.path == k || m.path.isAncestorOf(k)) && folder.isAncestorOf(m.path)
            && m.from != folder && !folder.isAncestorOf(m.from))
            return true;
    }
    return false;
}

// A move into or out of a folder whose own move waits for the server waits with it.
void Planner::dropMovesInsideDeferred()
{
    if (m_deferred.isEmpty())
        return;
    m_moves.removeIf([this](const SyncAction &a) {
        if (a.type == ActionType::MoveRemote && a.kind == EntryKind::Directory && m_deferredMoves.contains(a.path))
            return false;
        return isUnder(m_deferred, a.path) || isUnder(m_deferred, a.from);
    });
}

// The folder `p` goes aside as a conflict copy: what this computer moved into it is
// not moved on the server (into the file there: refused), but found again by the next
// cycle, under the copy's name.
// A move from the server's entry there (see detectLocalMoves) gives that entry back: it
// is no longer ours to move, and it is downloaded where the server has it.
void Planner::dropMovesInto(const RelativePath &p)
{
    m_moves.removeIf([&](const SyncAction &m) {
        if (m.type != ActionType::MoveRemote || !p.isAncestorOf(m.path))
            return false;
        const auto taken = m_taken.constFind(m.path);
        if (taken == m_taken.cend()) {
            rebase(m_journal, m.path, m.from);
            return true;
        }
        rebase(m_journal, m.path, taken->path);
        m_journal[taken->path].version = taken->version;
        if (!m_remote.contains(taken->there.path)) {
            m_remote.insert(taken->there.path, taken->there);
            m_givenBack << taken->there.path;
        }
        return true;
    });
}

} // namespace filesync::planning
