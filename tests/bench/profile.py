#!/usr/bin/env python3
"""Where FileSync spends a workload: runs one benchmark workload on FileSync (server and
two headless clients on 127.0.0.1, as bench.py does) with a profiler attached to each
process, and writes the profiler's summaries.

  python3 tests/bench/profile.py --bindir build-bench [--workload W1] [--quick]
                                 [--tool perf|strace] [--out DIR]

perf:   `perf record -e cpu-clock -g -p PID` (on-CPU time; hardware counters are not
        available on this kind of VM), summarised with `perf report --no-children`.
strace: `strace -f -c -w -p PID` (wall time inside each system call, threads included):
        shows waits that perf's on-CPU samples cannot, e.g. fsync. strace slows the
        processes down a lot: read its shares, not the workload's time.
The workload's own time is printed too (with the profiler's overhead in it).
"""
import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402
import peers  # noqa: E402


def attach(tool, pid, name, out):
    if tool == "perf":
        # PROFILE_CALL_GRAPH=dwarf: whole user stacks (Release builds have no frame pointers).
        graph = os.environ.get("PROFILE_CALL_GRAPH")
        args = ["perf", "record", "-q", "-e", "cpu-clock", "-F", "999",
                *(["--call-graph", graph] if graph else ["-g"]), "-p", str(pid),
                "-o", os.path.join(out, f"perf-{name}.data")]
    else:
        args = ["strace", "-f", "-c", "-w", "-S", "time", "-p", str(pid), "-o", os.path.join(out, f"strace-{name}.txt")]
    return peers.spawn(args, stdout=subprocess.DEVNULL, stderr=open(os.path.join(out, f"{tool}-{name}.err"), "w"))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bindir", required=True)
    ap.add_argument("--workload", default="W1", choices=["W1", "W2", "W3", "W3b"])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--tool", default="perf", choices=["perf", "strace"])
    ap.add_argument("--out", default=os.path.join(bench.HERE, "results", "profile"))
    args = ap.parse_args()
    if not shutil.which(args.tool):
        sys.exit(f"profile: {args.tool} is not installed (Debian: linux-perf or strace)")
    os.makedirs(args.out, exist_ok=True)
    base = tempfile.mkdtemp(prefix="filesync-profile-")
    stage = os.path.join(base, "stage")
    os.makedirs(stage)
    sizes = bench.Sizes(args.quick)
    peer = peers.FileSync(os.path.abspath(args.bindir), os.path.join(base, "fs"))
    tools = []
    try:
        peer.start()
        for name, p in (("server", peer.server), ("client-A", peer.client_a), ("client-B", peer.client_b)):
            tools.append((name, attach(args.tool, p.pid, name, args.out)))
        time.sleep(1.0)
        only = {args.workload}

        def record(w, sample):
            if w == args.workload:
                print(f"{w} under {args.tool}: {bench.fmt_s(sample['seconds'])}, cpu {sample['cpu']:.2f} s, "
                      f"{bench.fmt_b(sample['hop'])} on A's link", flush=True)
        bench.run_workloads(peer, sizes, 1, only, stage, record, lambda w: None)
        time.sleep(0.5)
    finally:
        for _, t in tools:
            t.send_signal(signal.SIGINT)
        for _, t in tools:
            try:
                t.wait(120)
            except subprocess.TimeoutExpired:
                t.kill()
        peer.stop()
        peers.stop_all()
        shutil.rmtree(base, ignore_errors=True)
    for name, _ in tools:
        if args.tool == "perf":
            data = os.path.join(args.out, f"perf-{name}.data")
            text = subprocess.run(["perf", "report", "-i", data, "--no-children", "--sort", "dso,symbol",
                                   "--stdio", "-g", "none", "--percent-limit", "1.5"],
                                  capture_output=True, text=True, timeout=300).stdout
            summary = os.path.join(args.out, f"perf-{name}.txt")
            with open(summary, "w") as f:
                f.write(text)
            lines = [l for l in text.splitlines() if l.strip() and not l.startswith("#")]
        else:
            summary = os.path.join(args.out, f"strace-{name}.txt")
            lines = open(summary).read().splitlines()[:14] if os.path.exists(summary) else []
        print(f"\n== {name} ({summary})")
        print("\n".join(lines[:16]))


if __name__ == "__main__":
    main()
