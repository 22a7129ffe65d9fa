#pragma once

#include <QMutex>
#include <QObject>

#include <functional>
#include <memory>

namespace filesync {

// Where a job on another thread reports back: post() runs a function on the owner's
// thread, never after the ReplyTo is destroyed. Make it a member of the object it names
// (declared last, so destroyed first) and hand copies of handle() to the jobs.
//
// The owner's pointer is read and the event posted under a mutex, and the destructor
// clears the pointer under the same mutex: a job never posts to an object being
// destroyed; an event posted before that is discarded with the object, and one that
// arrives after the ReplyTo is gone (its owner living on) does nothing.
class ReplyTo
{
public:
    class Handle
    {
    public:
        void post(std::function<void()> function) const;

    private:
        friend class ReplyTo;
        struct Link
        {
            QMutex mutex;
            QObject *owner = nullptr;
        };
        std::shared_ptr<Link> m_link;
    };

    explicit ReplyTo(QObject *owner);
    ~ReplyTo();
    Q_DISABLE_COPY_MOVE(ReplyTo)

    const Handle &handle() const { return m_handle; }

private:
    Handle m_handle;
};

} // namespace filesync
