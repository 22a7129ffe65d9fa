#include "processpool.h"

#include <QThreadPool>

namespace filesync {

QThreadPool *newProcessPool(int maxThreads)
{
    auto *pool = new QThreadPool; // never deleted: see the header
    pool->setMaxThreadCount(maxThreads);
    pool->setExpiryTimeout(5000);
    return pool;
}

} // namespace filesync
