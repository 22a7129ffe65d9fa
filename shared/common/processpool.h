#pragma once

class QThreadPool;

namespace filesync {

// A thread pool of its own for one kind of job, made once and kept for the life of the
// process (its jobs may own descriptors and outlive the object that queued them): call it
// from a function-local static. Threads that idle for 5 s end.
QThreadPool *newProcessPool(int maxThreads);

} // namespace filesync
