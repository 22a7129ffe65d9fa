#include "replyto.h"

namespace filesync {

void ReplyTo::Handle::post(std::function<void()> function) const
{
    QMutexLocker lock(&m_link->mutex);
    if (!m_link->owner)
        return;
    // Checked again when it runs: the ReplyTo may be gone by then while its owner lives on.
    QMetaObject::invokeMethod(
        m_link->owner,
        [link = m_link, function = std::move(function)] {
            bool alive = false;
            {
                QMutexLocker check(&link->mutex);
                alive = link->owner != nullptr;
            }
            if (alive)
                function();
        },
        Qt::QueuedConnection);
}

ReplyTo::ReplyTo(QObject *owner)
{
    m_handle.m_link = std::make_shared<Handle::Link>();
    m_handle.m_link->owner = owner;
}

ReplyTo::~ReplyTo()
{
    QMutexLocker lock(&m_handle.m_link->mutex);
    m_handle.m_link->owner = nullptr;
}

} // namespace filesync
