#pragma once

#include <QList>
#include <QString>
#include <QStringList>

namespace filesync::sim {

// What one step of a simulation does: user operations on a computer's folder, and
// events (an engine stopped, killed or started again, the server restarted or cut off).
enum class OpKind {
    Write, // create or overwrite `path` with `n` bytes (content from the seed and `tag`)
    Append, // `n` bytes at the end of `path`
    Truncate, // `path` cut to `n` bytes (skipped unless shorter than it is)
    Rename, // `path` (file or folder) to `to`, skipped when `to` exists
    Delete, // a file, or a folder and everything in it
    Mkdir,
    Chmod, // n = 1: rwxr-xr-x, n = 0: rw-r--r--
    Touch, // mtime set to a fixed time + n seconds
    CleanConflicts, // the user deletes the conflict copies the computer holds
    Stop, // the computer goes offline: a clean stop of its engine
    Kill, // the engine is destroyed where it is, mid-cycle or not
    Start, // the computer's engine starts again
    ServerRestart,
    NetCut, // the server stops until NetRestore (or the next quiescent point)
    NetRestore,
};

struct Op
{
    OpKind kind = OpKind::Write;
    int computer = -1; // -1 for server events
    QString path;
    QString to;
    qint64 n = 0;
    quint64 tag = 0; // unique within a scenario: names the content this op writes
};

// A batch of ops, then `slices` short runs of the event loop; a quiescent point after
// it when `quiesce`.
struct Step
{
    QList<Op> ops;
    int slices = 0;
    bool quiesce = false;
};

struct Scenario
{
    quint64 seed = 0;
    int computers = 2;
    QList<Step> steps;

    int opCount() const;
};

QString kindName(OpKind kind);
QString opText(const Op &op); // one line of the op log and of a replay file
// `prefixSiblings` false: no folder is named `X` (the same op sequence otherwise).
Scenario generate(quint64 seed, int computers, int steps, bool prefixSiblings = true);
// A replay file (the op log printed on a failure); empty steps and a message on error.
Scenario parseScenario(const QString &text, QString *error);
QString scenarioText(const Scenario &scenario);
// The same scenario with only the ops whose index (in order over all steps) is kept.
Scenario subset(const Scenario &scenario, const QList<bool> &keep);

// The bytes an op writes: unique per (seed, tag), starting with a readable header.
QByteArray contentFor(quint64 seed, quint64 tag, qint64 size);

} // namespace filesync::sim
