#include "enginepools.h"

namespace filesync {

namespace {
void setUp(QThreadPool &pool, int maxThreads)
{
    pool.setMaxThreadCount(maxThreads);
    pool.setExpiryTimeout(5000);
}
} // namespace

EnginePools::EnginePools()
{
    setUp(m_work, QThread::idealThreadCount());
    setUp(m_hashing, 1);
    setUp(m_sync, kSyncThreads);
    setUp(m_writeBack, 1);
    setUp(m_blockWriter, 2);
}

EnginePools::~EnginePools()
{
    waitForDone();
}

void EnginePools::waitForDone()
{
    // A scan waits for its hashing job, a batch for its syncs: their pools after them.
    m_work.waitForDone();
    m_hashing.waitForDone();
    m_sync.waitForDone();
    m_blockWriter.waitForDone();
    m_writeBack.waitForDone();
}

} // namespace filesync
