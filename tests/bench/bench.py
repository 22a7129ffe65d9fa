#!/usr/bin/env python3
"""FileSync beside rsync and Syncthing, in one run, on 127.0.0.1. See tests/bench/README.md.

Time is measured from the moment the change on computer A is complete (file closed)
until computer B holds identical bytes (sizes, then SHA-256 of every expected file).
"""
import argparse
import datetime
import hashlib
import os
import platform
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
import peers  # noqa: E402

MiB = 1024 * 1024


class Sizes:
    def __init__(self, quick):
        self.big = 64 * MiB if quick else 1024 * MiB
        self.small_files = 2000 if quick else 20000
        self.small_dirs = 20 if quick else 200
        self.w6_files = 10000 if quick else 100000
        self.w6_sessions = 200 if quick else 1000


def random_file(path, size, seed):
    """Writes `size` pseudo-random bytes; returns their SHA-256."""
    rng = random.Random(seed)
    h = hashlib.sha256()
    with open(path, "wb") as f:
        left = size
        while left:
            n = min(left, 4 * MiB)
            block = rng.randbytes(n)
            f.write(block)
            h.update(block)
            left -= n
    return h.hexdigest()


def digest(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(4 * MiB):
            h.update(chunk)
    return h.hexdigest()


def wait_identical(root, expected, timeout, poll):
    """Polls until every expected file under `root` has its size and SHA-256.
    Returns the monotonic time of the poll that first found everything in place."""
    deadline = time.monotonic() + timeout
    verified = {}
    while time.monotonic() < deadline:
        stamp = time.monotonic()
        ready = True
        for rel, (size, sha) in expected.items():
            try:
                st = os.stat(os.path.join(root, rel))
            except FileNotFoundError:
                ready = False
                break
            if st.st_size != size:
                ready = False
                break
        if ready:
            good = True
            for rel, (size, sha) in expected.items():
                path = os.path.join(root, rel)
                st = os.stat(path)
                key = (st.st_ino, st.st_mtime_ns, st.st_size)
                if verified.get(rel) != key:
                    if digest(path) != sha:
                        good = False
                        break
                    verified[rel] = key
            if good:
                return stamp
        time.sleep(poll)
    missing = [r for r, (s, _) in expected.items() if not os.path.exists(os.path.join(root, r))]
    raise TimeoutError(f"B never held identical bytes ({len(missing)} of {len(expected)} files missing)")


def timed(peer, expected, timeout, change_done, poll=0.01):
    before = peer.wire_bytes()
    peer.sync()
    end = wait_identical(peer.b, expected, timeout, poll)
    time.sleep(0.3)  # let acknowledgements and pushes finish before reading the counters
    return end - change_done, peer.wire_bytes() - before


def run_workloads(peer, sizes, run, results, only):
    rng = random.Random(f"edits-{run}")  # never the sequence the big file was written with
    big = "big.bin"
    big_path = os.path.join(peer.a, big)

    def record(name, seconds, wire=None):
        results.setdefault((name, peer.name), []).append((seconds, wire))
        extra = f", {wire / 1e6:.2f} MB on the wire" if wire is not None else ""
        print(f"  {peer.name:9} {name:4} run {run}: {seconds:.3f} s{extra}", flush=True)

    if only & {"W1", "W3", "W3b"}:
        sha = random_file(big_path, sizes.big, seed=run)
        done = time.monotonic()
        t, w = timed(peer, {big: (sizes.big, sha)}, 600, done)
        if "W1" in only:
            record("W1", t, w)

    if "W3" in only:
        time.sleep(1.1)  # a new second: rsync's quick check compares whole-second mtimes
        middle = sizes.big // 2
        patch = rng.randbytes(MiB)
        h = hashlib.sha256()  # the expected content: prefix, patch, suffix
        with open(big_path, "rb") as f:
            h.update(f.read(middle))
            h.update(patch)
            f.seek(middle + MiB)
            while chunk := f.read(4 * MiB):
                h.update(chunk)
        with open(big_path, "r+b") as f:
            f.seek(middle)
            f.write(patch)
        done = time.monotonic()
        t, w = timed(peer, {big: (sizes.big, h.hexdigest())}, 600, done)
        record("W3", t, w)

    if "W3b" in only:
        time.sleep(1.1)
        with open(big_path, "rb") as f:
            data = f.read()
        middle = len(data) // 2
        data = data[:middle] + b"!" + data[middle:]
        sha = hashlib.sha256(data).hexdigest()
        with open(big_path, "r+b") as f:  # rewritten in place, as an editor without temp files would
            f.write(data)
        done = time.monotonic()
        del data
        t, w = timed(peer, {big: (sizes.big + 1, sha)}, 600, done)
        record("W3b", t, w)

    if only & {"W2", "W5"}:
        expected = {}
        for i in range(sizes.small_files):
            rel = f"tree/d{i % sizes.small_dirs:03}/f{i:05}.txt"
            data = rng.randbytes(rng.randint(1024, 16 * 1024))
            os.makedirs(os.path.dirname(os.path.join(peer.a, rel)), exist_ok=True)
            with open(os.path.join(peer.a, rel), "wb") as f:
                f.write(data)
            expected[rel] = (len(data), hashlib.sha256(data).hexdigest())
        done = time.monotonic()
        t, w = timed(peer, expected, 900, done, poll=0.05)
        if "W2" in only:
            record("W2", t, w)

    if "W4" in only:
        for i in range(10):
            time.sleep(0.5)  # idle and in sync before each new file
            data = rng.randbytes(4096)
            rel = f"w4-{i}.txt"
            with open(os.path.join(peer.a, rel), "wb") as f:
                f.write(data)
            done = time.monotonic()
            t, _ = timed(peer, {rel: (4096, hashlib.sha256(data).hexdigest())}, 120, done, poll=0.002)
            results.setdefault(("W4", peer.name), []).append((t, None))
        w4 = [t for t, _ in results[("W4", peer.name)][-10:]]
        print(f"  {peer.name:9} W4   run {run}: median {statistics.median(w4):.3f} s, max {max(w4):.3f} s", flush=True)

    if "W5" in only:
        time.sleep(1.0)
        record("W5", peer.rescan_seconds())


def w6(make_peer, sizes, base, report):
    """Peak memory with many files in sync, and the server with many sessions."""
    for factory in make_peer:
        work = tempfile.mkdtemp(dir=base)
        peer = factory(work)
        os.makedirs(peer.a, exist_ok=True)
        rng = random.Random(6)
        for i in range(sizes.w6_files):
            rel = f"w6/d{i % 1000:04}/f{i:06}"
            os.makedirs(os.path.dirname(os.path.join(peer.a, rel)), exist_ok=True)
            with open(os.path.join(peer.a, rel), "wb") as f:
                f.write(rng.randbytes(64))
        if peer.name == "rsync":
            continue
        t0 = time.monotonic()
        peer.start()
        try:
            expected_count = sizes.w6_files

            def all_there():
                n = sum(len(files) for _, _, files in os.walk(os.path.join(peer.b, "w6")))
                return n >= expected_count
            peers.wait_until(all_there, 3600, "W6 files to reach B", 0.5)
            took = time.monotonic() - t0
            rss = peer.rss_kib()
            line = {k: v / 1024 for k, v in rss.items()}
            report[peer.name] = {"files": sizes.w6_files, "seconds": took, "rss_mib": line}
            if peer.name == "FileSync":
                socks = peers.open_sessions(peer.port, peer.account, sizes.w6_sessions)
                time.sleep(1.0)
                report[peer.name]["sessions"] = len(socks) + 2
                report[peer.name]["server_rss_mib_sessions"] = peers.peak_rss_kib(peer.server.pid) / 1024
                for s in socks:
                    s.close()
            print(f"  W6 {peer.name}: {report[peer.name]}", flush=True)
        finally:
            peer.stop()
            shutil.rmtree(work, ignore_errors=True)


def machine():
    cpu = subprocess.run(["sh", "-c", "lscpu | sed -n 's/^Model name: *//p'"], capture_output=True, text=True).stdout.strip()
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    disk = subprocess.run(["df", "-h", "--output=source,size", tempfile.gettempdir()], capture_output=True,
                          text=True).stdout.splitlines()[-1]
    return f"{cpu}, {os.cpu_count()} cores, {mem:.0f} GiB RAM, {platform.platform()}, temp on {disk.split()[0]}"


def table(results, names, workloads):
    rows = []
    header = "| workload | " + " | ".join(names) + " | FileSync / rsync | FileSync / Syncthing |"
    rows.append(header)
    rows.append("|" + "---|" * (len(names) + 3))
    for w in workloads:
        cells, med = [], {}
        for n in names:
            vals = results.get((w, n))
            if not vals:
                cells.append("—")
                continue
            ts = [t for t, _ in vals]
            m = statistics.median(ts)
            med[n] = m
            wires = [b for _, b in vals if b is not None]
            wire = f"<br>{statistics.median(wires) / 1e6:.2f} MB" if wires else ""
            extra = f" (max {max(ts):.3f})" if w == "W4" else f" ({min(ts):.3f}–{max(ts):.3f})" if len(ts) > 1 else ""
            cells.append(f"{m:.3f} s{extra}{wire}")
        ratio = lambda p: f"{med['FileSync'] / med[p]:.2f}×" if "FileSync" in med and med.get(p) else "—"
        rows.append(f"| {w} | " + " | ".join(cells) + f" | {ratio('rsync')} | {ratio('Syncthing')} |")
    return "\n".join(rows)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bindir", required=True)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--workloads", default="W1,W2,W3,W3b,W4,W5,W6")
    ap.add_argument("--peers", default="FileSync,rsync,Syncthing")
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 8192), hard))

    sizes = Sizes(args.quick)
    only = set(args.workloads.split(","))
    wanted = args.peers.split(",")
    base = tempfile.mkdtemp(prefix="filesync-bench-")
    factories = {
        "FileSync": lambda work: peers.FileSync(args.bindir, work),
        "rsync": lambda work: peers.Rsync(work),
        "Syncthing": lambda work: peers.Syncthing(work),
    }
    versions = {}
    results = {}
    report6 = {}
    try:
        for run in range(1, args.runs + 1):
            for name in wanted:
                work = tempfile.mkdtemp(dir=base)
                peer = factories[name](work)
                versions[name] = peer.version()
                print(f"run {run}: {name}", flush=True)
                peer.start()
                try:
                    run_workloads(peer, sizes, run, results, only)
                except Exception as e:  # recorded honestly, the others go on
                    print(f"  {name} FAILED in run {run}: {e}", flush=True)
                    results.setdefault(("failures", name), []).append(str(e))
                finally:
                    peer.stop()
                    shutil.rmtree(work, ignore_errors=True)
        if "W6" in only:
            w6([factories[n] for n in wanted], sizes, base, report6)
    finally:
        shutil.rmtree(base, ignore_errors=True)

    workloads = [w for w in ("W1", "W2", "W3", "W3b", "W4", "W5") if w in only]
    text = table(results, wanted, workloads)
    print(text)
    if args.out:
        write_report(args, sizes, versions, text, report6, results)


def write_report(args, sizes, versions, text, report6, results):
    when = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    lines = [
        "# Benchmarks", "",
        f"Measured {when} by `tests/bench/run.sh{' --quick' if args.quick else ''} --runs {args.runs}` on {machine()}.", "",
        "Versions: " + "; ".join(f"{k}: {v}" for k, v in versions.items()) + ".", "",
        f"Sizes: W1/W3/W3b on a {sizes.big // MiB} MiB file; W2 {sizes.small_files:,} files of 1–16 KiB in "
        f"{sizes.small_dirs} folders; W6 {sizes.w6_files:,} files and {sizes.w6_sessions:,} extra sessions.", "",
        "Each cell: median seconds (min–max over the runs; W4: max of its 10 samples), and the median bytes "
        "on the wire. Time runs from the change on A being complete until B holds identical bytes.", "",
        text, "",
    ]
    if report6:
        lines += ["## W6: memory", "", "| system | files in sync | time to sync them | peak RSS |", "|---|---|---|---|"]
        for name, r in report6.items():
            rss = ", ".join(f"{k} {v:.0f} MiB" for k, v in r["rss_mib"].items())
            lines.append(f"| {name} | {r['files']:,} | {r['seconds']:.1f} s | {rss} |")
        fs = report6.get("FileSync", {})
        if "sessions" in fs:
            lines += ["", f"FileSync server with {fs['sessions']:,} connected sessions: peak RSS "
                          f"{fs['server_rss_mib_sessions']:.0f} MiB."]
        lines.append("")
    failures = {k[1]: v for k, v in results.items() if k[0] == "failures"}
    if failures:
        lines += ["## Failures", ""] + [f"- {k}: {'; '.join(v)}" for k, v in failures.items()] + [""]
    lines += open(os.path.join(os.path.dirname(__file__), "method.md")).read().splitlines()
    with open(args.out, "w") as f:
        f.write("\n".join(lines) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
