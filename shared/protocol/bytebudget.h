#pragma once

#include <QObject>

namespace filesync::protocol {

// A count of bytes held in memory against a limit, shared by the connections of one
// server: what they buffer, what their requests decode to, or their replies not read yet.
// A holder takes before it holds and gives back when it lets go; one that finds the
// budget spent waits for released(), emitted when the count falls back under the limit.
// Holders that may not wait (a small share each) can take past the limit: beyond the
// overdraft, overdrawn() tells the owner to close the biggest holders. Keeps the peak
// for tests and the metrics. One thread (the server's event thread); owned by the server.
class ByteBudget : public QObject
{
    Q_OBJECT
public:
    explicit ByteBudget(qint64 limit, QObject *parent = nullptr);

    // Whether `bytes` fit under the limit (or nothing is held at all: one holder can
    // always make progress); when they do not, released() tells when to ask again.
    bool fits(qint64 bytes) const;
    // Takes whatever the limit says (bytes already in memory that must be counted).
    void take(qint64 bytes);
    void give(qint64 bytes);
    bool exhausted() const { return m_used >= m_limit; }
    qint64 used() const { return m_used; }
    qint64 peak() const { return m_peak; }
    qint64 limit() const { return m_limit; }
    void setLimit(qint64 limit) { m_limit = limit; }
    // How far past the limit the count may go before overdrawn() (default: no signal).
    void setOverdraft(qint64 bytes) { m_overdraft = bytes; }
    bool overdrawn() const { return m_overdraft >= 0 && m_used > m_limit + m_overdraft; }

Q_SIGNALS:
    void released(); // the count fell under the limit after having reached it
    void overdrawnBy(qint64 bytes); // a take() went past limit + overdraft (by `bytes`)

private:
    qint64 m_limit;
    qint64 m_used = 0;
    qint64 m_peak = 0;
    qint64 m_overdraft = -1; // -1: never overdrawn
    mutable bool m_wasExhausted = false; // someone waits for released()
};

} // namespace filesync::protocol
