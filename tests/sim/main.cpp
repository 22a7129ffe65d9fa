// filesync_sim: a seeded, randomized simulation of one server and 2-4 computers
// (tests/sim/README.md).
#include "scenario.h"
#include "simulation.h"

#include <QCommandLineParser>
#include <QCoreApplication>
#include <QElapsedTimer>
#include <QFile>
#include <QLoggingCategory>

#include <cstdio>

using namespace filesync::sim;

namespace {

struct SeedSpec
{
    quint64 seed = 0;
    int computers = 0; // 0: from the seed
    int steps = 0; // 0: --steps
};

int computersFor(quint64 seed, int requested)
{
    return requested > 0 ? requested : 2 + int(seed % 3);
}

void printFailure(const Scenario &scenario, const RunResult &result)
{
    fprintf(stdout, "FAIL seed %llu (%d computers, %d steps)\n", static_cast<unsigned long long>(scenario.seed),
        scenario.computers, int(scenario.steps.size()));
    for (const Violation &v : result.violations)
        fprintf(stdout, "  invariant %s: %s\n", qPrintable(v.invariant), qPrintable(v.detail));
    fprintf(stdout, "--- op log of seed %llu ---\n%s--- end of op log ---\n",
        static_cast<unsigned long long>(scenario.seed), qPrintable(result.log));
}

// The same failure: one of the invariants the original run broke.
bool sameFailure(const RunResult &r, const QSet<QString> &invariants)
{
    for (const Violation &v : r.violations) {
        if (invariants.contains(v.invariant))
            return true;
    }
    return false;
}

// Delta debugging (Zeller's ddmin) over the scenario's ops, the steps' slices and
// quiescent points kept; bounded in time. A candidate counts as failing when one run of it
// breaks one of the original invariants (timing may make a failing subset pass once).
Scenario shrink(
    const Scenario &scenario, const QSet<QString> &invariants, const RunOptions &options, int seconds, int tries)
{
    QElapsedTimer budget;
    budget.start();
    // Nothing after the quiescent point that failed matters.
    Scenario cut = scenario;
    const RunResult first = runScenario(scenario, options);
    if (!first.ok()) {
        int point = 0;
        for (int i = 0; i < cut.steps.size(); ++i) {
            if (cut.steps.at(i).quiesce && ++point == first.quiescentPoints) {
                cut.steps = cut.steps.mid(0, i + 1);
                break;
            }
        }
    }
    const int total = cut.opCount();
    QList<int> kept;
    for (int i = 0; i < total; ++i)
        kept << i;
    auto build = [&](const QList<int> &indices) {
        QList<bool> keep(total, false);
        for (int i : indices)
            keep[i] = true;
        return subset(cut, keep);
    };
    auto fails = [&](const QList<int> &indices) {
        RunResult r;
        // A timing-dependent failure: a subset gets a few tries before it counts as passing.
        for (int attempt = 0; attempt < tries; ++attempt) {
            r = runScenario(build(indices), options);
            if (!r.ok() && sameFailure(r, invariants))
                break;
        }
        QStringList broken;
        for (const Violation &v : r.violations)
            broken << v.invariant;
        broken.removeDuplicates();
        fprintf(stdout, "  shrink: %d ops -> %s (%.1f s)\n", int(indices.size()),
            r.ok() ? "passes" : qPrintable(QStringLiteral("fails: ") + broken.join(u' ')), r.seconds);
        fflush(stdout);
        return !r.ok() && sameFailure(r, invariants);
    };
    int n = 2;
    while (kept.size() >= 2 && budget.elapsed() < qint64(seconds) * 1000) {
        const int chunk = int((kept.size() + n - 1) / n);
        bool reduced = false;
        for (int start = 0; start < kept.size() && budget.elapsed() < qint64(seconds) * 1000; start += chunk) {
            const QList<int> part = kept.mid(start, chunk);
            QList<int> complement = kept.mid(0, start) + kept.mid(start + chunk);
            if (n > 2 && fails(part)) {
                kept = part;
                n = 2;
                reduced = true;
                break;
            }
            if (fails(complement)) {
                kept = complement;
                n = std::max(n - 1, 2);
                reduced = true;
                break;
            }
        }
        if (!reduced) {
            if (n >= kept.size())
                break;
            n = std::min(int(kept.size()), n * 2);
        }
    }
    // Steps left with no ops and no quiescent point only add time: fold their slices.
    Scenario out = build(kept);
    QList<Step> steps;
    int slices = 0;
    for (const Step &s : out.steps) {
        if (s.ops.isEmpty() && !s.quiesce) {
            slices += s.slices;
            continue;
        }
        Step t = s;
        if (!steps.isEmpty())
            steps.last().slices += slices;
        slices = 0;
        steps << t;
    }
    out.steps = steps;
    return out;
}

QList<SeedSpec> readSeedFile(const QString &path, bool knownFailures, QString *error)
{
    QList<SeedSpec> seeds;
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly)) {
        *error = QStringLiteral("cannot read %1").arg(path);
        return seeds;
    }
    // "SEED [COMPUTERS [STEPS]] # comment"; a comment with "known-failing" marks a seed
    // that fails on main until its fix lands.
    for (const QByteArray &raw : f.readAll().split('\n')) {
        const QString line = QString::fromUtf8(raw).trimmed();
        if (line.isEmpty() || line.startsWith(u'#'))
            continue;
        const qsizetype hash = line.indexOf(u'#');
        const QString comment = hash >= 0 ? line.mid(hash) : QString();
        if (comment.contains(QStringLiteral("known-failing")) != knownFailures)
            continue;
        const QStringList f = line.left(hash >= 0 ? hash : line.size()).simplified().split(u' ');
        SeedSpec s;
        s.seed = f.value(0).toULongLong();
        s.computers = f.value(1).toInt();
        s.steps = f.value(2).toInt();
        seeds << s;
    }
    return seeds;
}

} // namespace

int main(int argc, char *argv[])
{
    QCoreApplication app(argc, argv);
    QCommandLineParser parser;
    parser.setApplicationDescription(QStringLiteral("Randomized simulation of a FileSync server and computers."));
    parser.addHelpOption();
    parser.addOption(
        { QStringLiteral("seed"), QStringLiteral("First seed."), QStringLiteral("S"), QStringLiteral("1") });
    parser.addOption({ QStringLiteral("seeds"), QStringLiteral("How many seeds from --seed."), QStringLiteral("N"),
        QStringLiteral("1") });
    parser.addOption({ QStringLiteral("computers"), QStringLiteral("Computers (2-4); default from the seed."),
        QStringLiteral("K"), QStringLiteral("0") });
    parser.addOption(
        { QStringLiteral("steps"), QStringLiteral("Steps per seed."), QStringLiteral("M"), QStringLiteral("40") });
    parser.addOption({ QStringLiteral("replay"), QStringLiteral("Run the op log in FILE (may be repeated)."),
        QStringLiteral("FILE") });
    parser.addOption(
        { QStringLiteral("seed-list"), QStringLiteral("Run these seeds (comma-separated)."), QStringLiteral("LIST") });
    parser.addOption(
        { QStringLiteral("seed-file"), QStringLiteral("Run the seeds listed in FILE."), QStringLiteral("FILE") });
    parser.addOption({ QStringLiteral("shard"),
        QStringLiteral("Run only the K-th of N equal parts of the seeds (K/N, K from 0), for parallel runs."),
        QStringLiteral("K/N") });
    parser.addOption({ QStringLiteral("known-failures"),
        QStringLiteral("With --seed-file: run the seeds marked known-failing instead of the others.") });
    parser.addOption(
        { QStringLiteral("shrink"), QStringLiteral("Shrink a failing seed to its smallest failing op sequence.") });
    parser.addOption({ QStringLiteral("shrink-seconds"), QStringLiteral("Time budget of one shrink."),
        QStringLiteral("S"), QStringLiteral("300") });
    parser.addOption({ QStringLiteral("attempts"),
        QStringLiteral("Runs of a seed before it counts as failing (timing-dependent defects)."), QStringLiteral("N"),
        QStringLiteral("1") });
    parser.addOption({ QStringLiteral("shrink-tries"), QStringLiteral("Runs of a subset before it counts as passing."),
        QStringLiteral("N"), QStringLiteral("2") });
    parser.addOption({ QStringLiteral("interval"), QStringLiteral("Engines' rescan interval in seconds."),
        QStringLiteral("S"), QStringLiteral("4") });
    parser.addOption({ QStringLiteral("slice-ms"),
        QStringLiteral("Length of one event-loop slice; the engines' debounce and backoff scale with it."),
        QStringLiteral("MS"), QStringLiteral("1") });
    parser.addOption(
        { QStringLiteral("no-prefix-siblings"), QStringLiteral("Name no folder X (the same op sequence otherwise).") });
    parser.addOption({ QStringLiteral("no-chmod"), QStringLiteral("Skip the chmod ops (same op sequence).") });
    parser.addOption({ QStringLiteral("print"), QStringLiteral("Print the generated op sequence and exit.") });
    parser.addOption(
        { QStringLiteral("verbose"), QStringLiteral("Print the op log and the engines' logs as it runs.") });
    parser.process(app);

    RunOptions options;
    options.verbose = parser.isSet(QStringLiteral("verbose"));
    options.intervalSeconds = parser.value(QStringLiteral("interval")).toInt();
    options.noChmod = parser.isSet(QStringLiteral("no-chmod"));
    options.sliceMs = std::max(1, parser.value(QStringLiteral("slice-ms")).toInt());
    if (!options.verbose)
        QLoggingCategory::setFilterRules(QStringLiteral("*.debug=false\n*.info=false"));
    const int defaultSteps = parser.value(QStringLiteral("steps")).toInt();
    const int requestedComputers = parser.value(QStringLiteral("computers")).toInt();

    QList<Scenario> scenarios;
    if (parser.isSet(QStringLiteral("replay"))) {
        for (const QString &file : parser.values(QStringLiteral("replay"))) {
            QFile f(file);
            if (!f.open(QIODevice::ReadOnly)) {
                fprintf(stderr, "cannot read %s\n", qPrintable(file));
                return 2;
            }
            QString error;
            const Scenario s = parseScenario(QString::fromUtf8(f.readAll()), &error);
            if (!error.isEmpty()) {
                fprintf(stderr, "%s: %s\n", qPrintable(file), qPrintable(error));
                return 2;
            }
            scenarios << s;
        }
    } else {
        QList<SeedSpec> seeds;
        if (parser.isSet(QStringLiteral("seed-file"))) {
            QString error;
            seeds = readSeedFile(
                parser.value(QStringLiteral("seed-file")), parser.isSet(QStringLiteral("known-failures")), &error);
            if (!error.isEmpty()) {
                fprintf(stderr, "%s\n", qPrintable(error));
                return 2;
            }
        } else if (parser.isSet(QStringLiteral("seed-list"))) {
            for (const QString &seed : parser.value(QStringLiteral("seed-list")).split(u',', Qt::SkipEmptyParts))
                seeds << SeedSpec { seed.trimmed().toULongLong(), 0, 0 };
        } else {
            const quint64 first = parser.value(QStringLiteral("seed")).toULongLong();
            const int count = parser.value(QStringLiteral("seeds")).toInt();
            for (int i = 0; i < count; ++i)
                seeds << SeedSpec { first + quint64(i), 0, 0 };
        }
        if (parser.isSet(QStringLiteral("shard"))) {
            const QStringList kn = parser.value(QStringLiteral("shard")).split(u'/');
            const int k = kn.value(0).toInt(), n = kn.value(1).toInt();
            if (kn.size() != 2 || n < 1 || k < 0 || k >= n) {
                fprintf(stderr, "--shard wants K/N with 0 <= K < N\n");
                return 2;
            }
            QList<SeedSpec> mine;
            for (qsizetype i = k; i < seeds.size(); i += n)
                mine << seeds.at(i);
            seeds = mine;
        }
        for (const SeedSpec &s : seeds) {
            const int computers = computersFor(s.seed, s.computers > 0 ? s.computers : requestedComputers);
            scenarios << generate(s.seed, computers, s.steps > 0 ? s.steps : defaultSteps,
                !parser.isSet(QStringLiteral("no-prefix-siblings")));
        }
    }

    if (parser.isSet(QStringLiteral("print"))) {
        for (const Scenario &s : scenarios)
            fprintf(stdout, "%s", qPrintable(scenarioText(s)));
        return 0;
    }

    const int attempts = std::max(1, parser.value(QStringLiteral("attempts")).toInt());
    int failed = 0;
    QElapsedTimer all;
    all.start();
    for (const Scenario &s : scenarios) {
        RunResult r = runScenario(s, options);
        // --attempts: a timing-dependent failure is printed, and the seed runs again.
        for (int attempt = 1; !r.ok() && attempt < attempts; ++attempt) {
            fprintf(stdout, "FLAKY seed %llu failed attempt %d of %d:\n", static_cast<unsigned long long>(s.seed),
                attempt, attempts);
            printFailure(s, r);
            r = runScenario(s, options);
        }
        if (r.ok()) {
            fprintf(stdout,
                "ok seed %llu computers %d ops %d applied %d skipped %d points %d longest-quiesce %lld ms %.2f s"
                " (set-up %lld ops %lld slices %lld quiesce %lld tear-down %lld ms)\n",
                static_cast<unsigned long long>(s.seed), s.computers, s.opCount(), r.appliedOps, r.skippedOps,
                r.quiescentPoints, static_cast<long long>(r.longestQuiesceMs), r.seconds,
                static_cast<long long>(r.setUpMs), static_cast<long long>(r.opsMs), static_cast<long long>(r.slicesMs),
                static_cast<long long>(r.quiesceMs), static_cast<long long>(r.tearDownMs));
            fflush(stdout);
            continue;
        }
        ++failed;
        printFailure(s, r);
        QSet<QString> invariants;
        for (const Violation &v : r.violations)
            invariants.insert(v.invariant);
        if (parser.isSet(QStringLiteral("shrink")) && !invariants.contains(QStringLiteral("harness"))) {
            const Scenario smallest
                = shrink(s, invariants, options, parser.value(QStringLiteral("shrink-seconds")).toInt(),
                    parser.value(QStringLiteral("shrink-tries")).toInt());
            const RunResult again = runScenario(smallest, options);
            fprintf(stdout, "--- smallest failing op sequence of seed %llu (%d ops; %s on its last run) ---\n%s",
                static_cast<unsigned long long>(s.seed), smallest.opCount(), again.ok() ? "PASSED" : "failed",
                qPrintable(scenarioText(smallest)));
            for (const Violation &v : again.violations)
                fprintf(stdout, "# invariant %s: %s\n", qPrintable(v.invariant), qPrintable(v.detail));
            fprintf(stdout, "--- end of smallest sequence ---\n");
        }
        // The last line of a failing seed's report (run.sh splits its output there).
        fprintf(stdout, "failed seed %llu: %s (%.2f s)\n", static_cast<unsigned long long>(s.seed),
            qPrintable(r.violations.first().invariant), r.seconds);
        fflush(stdout);
    }
    fprintf(stdout, "%d of %d scenario(s) failed in %.1f s\n", failed, int(scenarios.size()),
        double(all.elapsed()) / 1000.0);
    return failed == 0 ? 0 : 1;
}
