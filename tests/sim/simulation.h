#pragma once

#include "scenario.h"

#include <QList>
#include <QString>

namespace filesync::sim {

struct RunOptions
{
    // One slice of the event loop between batches of ops: it handles what is pending, then
    // sleeps the rest of the slice while the thread pools and the kernel go on. The
    // engines' timers are set in slices, so the slice length scales time and keeps the
    // interleavings a seed explores.
    int sliceMs = 1;
    int debounceSlices = 4; // the engines' watcher debounce
    int reconnectMinSlices = 10, reconnectMaxSlices = 60; // the engines' reconnect backoff
    int pollSlices = 4; // a quiescent point looks again at least this often while not ready ...
    int settleSlices = 6; // ... and confirms a ready observation after this long (more than the debounce)
    int quiesceTimeoutMs = 15000; // how long a quiescent point may take to settle
    int intervalSeconds = 4; // the engines' safety-net rescan
    bool noChmod = false; // skip chmod ops (the same seeds, without exec-bit changes)
    bool verbose = false; // print the op log as it runs
};

// One broken invariant at a quiescent point.
struct Violation
{
    QString invariant; // "diverged", "lost", "resurrected", "sentinel", "tempfile", "fatal", "not-quiescent", "harness"
    QString detail;
};

struct RunResult
{
    QList<Violation> violations;
    QString log; // the op log: the scenario with what each op did
    double seconds = 0;
    int quiescentPoints = 0; // reached; on a failure, the last is the one that failed
    qint64 longestQuiesceMs = 0;
    // Where the wall time went, in ms: set-up (server, first engines, account), the ops,
    // the steps' slices, the quiescent points (waits and checks), and tear-down.
    qint64 setUpMs = 0, opsMs = 0, slicesMs = 0, quiesceMs = 0, tearDownMs = 0;
    int appliedOps = 0;
    int skippedOps = 0;
    bool ok() const { return violations.isEmpty(); }
};

// Runs a scenario on a fresh server and fresh folders: each step's ops, then its slices
// of the event loop, and the invariants at each quiescent point (the run stops at the
// first point that breaks one).
RunResult runScenario(const Scenario &scenario, const RunOptions &options);

} // namespace filesync::sim
