// SyncCycle's adoption of unanswered commits: the puts and moves of a Commit whose answer
// never came, found in the feed and taken into the journal as the answer would have.
#include "synccycle.h"

#include "enginelogging.h"
#include "journal.h"

namespace filesync {

namespace {

// Moves every key at or under `from` to `to`, as Journal::moveTree() does.
void moveKeys(JournalState &map, const RelativePath &from, const RelativePath &to)
{
    QList<RelativePath> keys;
    for (auto [it, end] = RelativePath::subtreeRun(map, from); it != end; ++it)
        keys << it.key();
    for (const RelativePath &k : std::as_const(keys))
        map.insert(k.rebased(from, to), map.take(k));
}

} // namespace

// Puts and moves of a Commit whose answer never came (the engine stopped or crashed in
// between, or the connection broke): a server row with the same content and mode at a
// put's path is that put, and one at a move's target moved from its source is that move,
// so the journal takes them as it would have taken the answer. Without this, a file
// deleted here afterwards came back (the server's row looked like somebody else's new
// file, or somebody else's move, which wins over a delete), one edited here again became
// a conflict copy of itself, and a folder renamed here again went back to the first name.
// Only on a full scan (a partial one would read the new journal entry out of its scope as
// deleted here); forgotten once a whole feed has been read after it.
void SyncCycle::adoptSent()
{
    const Journal::SentPuts sent = m_journal.sent();
    const Journal::SentMoves moves = m_journal.sentMoves();
    const quint64 knownHead = m_journal.sentKnownHead(); // read once: each read decodes the record
    if (sent.isEmpty() && moves.isEmpty())
        return;
    if (!m_fullScan) {
        qCDebug(lcUpload) << "unanswered ops wait for a full scan:" << sent.size() << "puts," << moves.size()
                          << "moves";
        return;
    }
    for (const Journal::SentMove &m : moves) {
        const auto r = m_changes.constFind(m.to);
        if (r != m_changes.cend() && r->deleted) {
            adoptRemoved(m.from, m.to, m.entry, *r, knownHead);
            continue;
        }
        const auto known = m_reconcileJournal.constFind(m.from);
        if (r == m_changes.cend() || r->deleted || r->movedFrom != m.from || r->kind != m.entry.kind
            || known == m_reconcileJournal.cend() || known->kind != r->kind || known->version >= r->version
            || m_reconcileJournal.contains(m.to)
            || (!known->isDir() && (known->blocks != r->blocks || syncedMode(known->mode) != syncedMode(r->mode)))) {
            qCDebug(lcUpload) << "not our unanswered move of" << m.from.toString() << "to" << m.to.toString()
                              << "- in the feed:" << (r != m_changes.cend())
                              << "known:" << (known != m_reconcileJournal.cend());
            continue;
        }
        // As the answer's opApplied would have it: the tree under its new name, the moved
        // entry with the stat sent and the row's version.
        JournalEntry adopted = *known;
        adopted.size = m.entry.size;
        adopted.mtimeNs = m.entry.mtimeNs;
        adopted.inode = m.entry.inode;
        adopted.mode = m.entry.mode;
        adopted.ctimeNs = m.entry.ctimeNs;
        adopted.readAfterCtime = m.entry.readAfterCtime;
        adopted.version = r->version;
        m_journal.moveTree(m.from, m.to);
        m_journal.put(m.to, adopted);
        for (JournalState *state : { &m_reconcileJournal, &m_journalAtStart }) {
            moveKeys(*state, m.from, m.to);
            state->insert(m.to, adopted);
        }
        qCInfo(lcUpload) << "the server has our unanswered move of" << m.from.toString() << "to" << m.to.toString()
                         << "at version" << r->version;
    }
    for (const auto &[path, e] : sent) {
        const auto r = m_changes.constFind(path);
        if (r != m_changes.cend() && r->deleted) {
            adoptRemoved(std::nullopt, path, e, *r, knownHead);
            continue;
        }
        if (r == m_changes.cend() || r->kind != e.kind || syncedMode(r->mode) != syncedMode(e.mode)
            || protocol::blockListDigest(r->blocks) != e.blocks.value(0).hash)
            continue;
        const auto known = m_reconcileJournal.constFind(path);
        if (known != m_reconcileJournal.cend() && known->version >= r->version)
            continue;
        JournalEntry adopted = e;
        adopted.version = r->version;
        adopted.blocks = r->blocks;
        m_journal.put(path, adopted);
        m_reconcileJournal.insert(path, adopted);
        m_journalAtStart.insert(path, adopted);
        qCInfo(lcUpload) << "the server has our unanswered upload of" << path.toString() << "at version" << r->version;
    }
    if (!m_sliced)
        m_journal.clearSent();
}

// An unanswered put (or move) whose path is a tombstone now: removed there after it
// landed, by a delete or a move away. Only a tombstone newer than all this computer knew
// of the server when the Commit went out counts: an older one removed something else (and
// the Commit may never have been applied). A file's tombstone names the content it
// removed, which must be what we sent, with the mode sent; a folder's names none, and a
// folder removed there since is the one we made or moved. Taken as synced, still here as
// sent, the entry is then deleted or moved here like any other; unknown, it was uploaded
// again. Its version is any below the tombstone's.
void SyncCycle::adoptRemoved(const std::optional<RelativePath> &from, const RelativePath &path,
    const JournalEntry &sent, const protocol::FileEntry &r, quint64 knownHead)
{
    const auto l = m_snapshot.constFind(path);
    if (r.kind != sent.kind || r.version < 2 || r.version <= knownHead || l == m_snapshot.cend()
        || !sent.statMatches(*l) || syncedMode(sent.mode) != syncedMode(l->mode)
        || (!sent.isDir() && syncedMode(r.mode) != syncedMode(sent.mode)))
        return;
    if (!sent.isDir()
        && (r.removedContent != sent.blocks.value(0).hash || protocol::blockListDigest(l->blocks) != *r.removedContent))
        return;
    if (from) {
        const auto source = m_changes.constFind(*from);
        if (!m_reconcileJournal.contains(*from) || m_reconcileJournal.contains(path) || source == m_changes.cend()
            || !source->deleted)
            return;
    }
    const auto known = m_reconcileJournal.constFind(path);
    if (known != m_reconcileJournal.cend() && known->version >= r.version)
        return;
    JournalEntry adopted = sent;
    adopted.blocks = l->blocks;
    adopted.version = r.version - 1;
    if (from)
        m_journal.moveTree(*from, path);
    m_journal.put(path, adopted);
    for (JournalState *state : { &m_reconcileJournal, &m_journalAtStart }) {
        if (from)
            moveKeys(*state, *from, path);
        state->insert(path, adopted);
    }
    qCInfo(lcUpload) << "the server had our unanswered" << (from ? "move to" : "upload of") << path.toString()
                     << "before it was removed there at version" << r.version;
}

} // namespace filesync
