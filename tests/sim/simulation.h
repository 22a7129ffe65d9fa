#pragma once

#include "scenario.h"

#include <QList>
#include <QString>

namespace filesync::sim {

struct RunOptions
{
    int sliceMs = 5; // one slice of the event loop between batches of ops
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
    int appliedOps = 0;
    int skippedOps = 0;
    bool ok() const { return violations.isEmpty(); }
};

// Runs a scenario on a fresh server and fresh folders: each step's ops, then its slices
// of the event loop, and the invariants at each quiescent point (the run stops at the
// first point that breaks one).
RunResult runScenario(const Scenario &scenario, const RunOptions &options);

} // namespace filesync::sim
