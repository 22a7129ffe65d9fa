#include "bytebudget.h"

namespace filesync::protocol {

ByteBudget::ByteBudget(qint64 limit, QObject *parent)
    : QObject(parent)
    , m_limit(limit)
{ }

bool ByteBudget::fits(qint64 bytes) const
{
    if (m_used > 0 && m_used + bytes > m_limit) {
        m_wasExhausted = true;
        return false;
    }
    return true;
}

void ByteBudget::take(qint64 bytes)
{
    m_used += bytes;
    m_peak = qMax(m_peak, m_used);
    if (m_used >= m_limit)
        m_wasExhausted = true;
    if (bytes > 0 && overdrawn())
        Q_EMIT overdrawnBy(m_used - m_limit - m_overdraft);
}

void ByteBudget::give(qint64 bytes)
{
    m_used -= bytes;
    Q_ASSERT(m_used >= 0);
    if (m_wasExhausted && m_used < m_limit) {
        m_wasExhausted = false;
        Q_EMIT released();
    }
}

} // namespace filesync::protocol
