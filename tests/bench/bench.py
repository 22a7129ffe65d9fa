#!/usr/bin/env python3
"""FileSync beside rsync and Syncthing, in one run, on 127.0.0.1. See tests/bench/README.md.

Time runs from the moment the change on computer A is complete (the rename into A, the
last write closed) until computer B holds identical bytes: every expected file with its
size, then its SHA-256, checked by a bounded poll of B's folder.
"""
import argparse
import atexit
import datetime
import hashlib
import json
import os
import platform
import random
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peers  # noqa: E402
from peers import BenchFailure  # noqa: E402

MiB = 1024 * 1024
HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
ALL_WORKLOADS = ["W1", "W2", "W3", "W3b", "W4", "W5", "W6"]
TIMED = ["W1", "W2", "W3", "W3b", "W4", "W5"]


class Sizes:
    def __init__(self, quick):
        self.quick = quick
        self.big = 64 * MiB if quick else 1024 * MiB
        self.small_files = 2000 if quick else 20000
        self.small_dirs = 20 if quick else 200
        self.w4_samples = 10
        self.w5_samples = 3
        self.w6_files = 10000 if quick else 100000
        self.w6_dirs = 100 if quick else 1000
        self.w6_sessions = 1000


# ---------------------------------------------------------------- files and checks

def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(4 * MiB):
            h.update(chunk)
    return h.hexdigest()


def write_random(path, size, rng):
    """Writes `size` pseudo-random bytes; returns their SHA-256."""
    h = hashlib.sha256()
    with open(path, "wb") as f:
        left = size
        while left:
            block = rng.randbytes(min(left, 4 * MiB))
            f.write(block)
            h.update(block)
            left -= len(block)
    return h.hexdigest()


def file_key(st):
    return (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def stat_key(path):
    try:
        return file_key(os.stat(path))
    except OSError:
        return None


def snapshot_keys(root, rels):
    """What B holds now for these paths: known not to be the new bytes."""
    keys = {}
    for rel in rels:
        k = stat_key(os.path.join(root, rel))
        if k:
            keys[rel] = k
    return keys


def wait_identical(peer, expected, timeout, poll, stale):
    """Polls B until every expected file has its size and SHA-256. Returns the monotonic
    time at the start of the poll that found the last one in place (a file whose stat
    key has not changed since a failed check is not hashed again)."""
    root = peer.b
    deadline = time.monotonic() + timeout
    pending = dict(expected)
    bad = dict(stale)
    good = {}
    next_alive_check = 0.0
    while True:
        stamp = time.monotonic()
        for rel in list(pending):
            size, sha = pending[rel]
            path = os.path.join(root, rel)
            try:
                st = os.stat(path)
            except OSError:
                continue
            if st.st_size != size:
                continue
            key = file_key(st)
            if bad.get(rel) == key:
                continue
            if sha256_file(path) == sha and stat_key(path) == key:
                good[rel] = key
                del pending[rel]
            else:
                bad[rel] = key
        if not pending:
            changed = [rel for rel, key in good.items() if stat_key(os.path.join(root, rel)) != key]
            if not changed:
                return stamp
            for rel in changed:  # replaced after it was checked: check it again
                pending[rel] = expected[rel]
                del good[rel]
        now = time.monotonic()
        if now > next_alive_check:
            peer.check_alive()
            next_alive_check = now + 1.0
        if now > deadline:
            sample = []
            for rel in list(pending)[:5]:
                k = stat_key(os.path.join(root, rel))
                sample.append(f"{rel}: " + ("missing" if k is None else f"{k[1]} bytes, want {expected[rel][0]}"
                                             + (" (same size, other bytes)" if k[1] == expected[rel][0] else "")))
            raise BenchFailure(f"B did not hold identical bytes within {timeout:.0f} s: {len(pending)} of "
                               f"{len(expected)} files not there yet ({'; '.join(sample)})")
        time.sleep(poll)


def settle_counters(peer, timeout=5.0):
    """Reads the byte counters until two reads 100 ms apart agree (acknowledgements and
    index updates that follow the data), bounded in time."""
    deadline = time.monotonic() + timeout
    last = peer.wire()
    while time.monotonic() < deadline:
        time.sleep(0.1)
        now = peer.wire()
        if now == last:
            return now
        last = now
    return last


def measure(peer, change, expected, timeout, poll=0.01):
    """Applies `change` to A (a callable; it returns the moment the change is complete),
    starts the peer's sync where it has no watcher, and waits for B. Returns a sample."""
    stale = snapshot_keys(peer.b, expected)
    wire0, cpu0 = peer.wire(), peer.cpu()
    done = change()
    peer.after_change()
    end = wait_identical(peer, expected, timeout, poll, stale)
    wire1 = settle_counters(peer)
    return {"seconds": end - done, "hop": wire1["hop"] - wire0["hop"], "total": wire1["total"] - wire0["total"],
            "cpu": peer.cpu() - cpu0}


# ---------------------------------------------------------------- workloads

def run_workloads(peer, sizes, run, only, stage, record, mark):
    """The timed sequence on one fresh pair A/B: W1, W3, W3b, W2, W4, W5, in that order,
    nothing deleted in between (deleting many files slows creating many right after)."""
    rng = random.Random(f"bench-run-{run}")
    big = "big.bin"
    big_a = os.path.join(peer.a, big)
    staged = os.path.join(stage, big)

    if only & {"W1", "W3", "W3b"}:
        mark("W1" if "W1" in only else "W1 (setup for W3/W3b)")
        # W1: a new file of random bytes appears in A by one rename (written beside A first).
        sha = write_random(staged, sizes.big, rng)
        os.sync()

        def appear():
            os.rename(staged, big_a)
            return time.monotonic()
        s = measure(peer, appear, {big: (sizes.big, sha)}, 900)
        if "W1" in only:
            record("W1", s)

    if "W3" in only:
        mark("W3")
        # W3: 1 MiB overwritten in place in the middle of the big file.
        middle = sizes.big // 2
        patch = rng.randbytes(MiB)
        h = hashlib.sha256()
        with open(big_a, "rb") as f:
            h.update(f.read(middle))
            h.update(patch)
            f.seek(middle + MiB)
            while chunk := f.read(4 * MiB):
                h.update(chunk)
        os.sync()

        def overwrite():
            fd = os.open(big_a, os.O_WRONLY)
            try:
                os.pwrite(fd, patch, middle)
            finally:
                os.close(fd)
            return time.monotonic()
        record("W3", measure(peer, overwrite, {big: (sizes.big, h.hexdigest())}, 600))

    if "W3b" in only:
        mark("W3b")
        # W3b: one byte inserted in the middle; the new version is written beside A and
        # renamed over the old one (an editor's safe save), so the change is one instant.
        size = os.path.getsize(big_a)
        middle = size // 2
        h = hashlib.sha256()
        with open(big_a, "rb") as src, open(staged, "wb") as dst:
            left = middle
            while left:
                chunk = src.read(min(left, 4 * MiB))
                h.update(chunk)
                dst.write(chunk)
                left -= len(chunk)
            h.update(b"!")
            dst.write(b"!")
            while chunk := src.read(4 * MiB):
                h.update(chunk)
                dst.write(chunk)
        os.sync()

        def insert():
            os.rename(staged, big_a)
            return time.monotonic()
        record("W3b", measure(peer, insert, {big: (size + 1, h.hexdigest())}, 600))

    if only & {"W2", "W4", "W5"}:
        mark("W2" if "W2" in only else "W2 (setup for W4/W5)")
        # W2: 20,000 new files of 1-16 KiB in 200 folders, written straight into A; the
        # time runs from the last file closed (the creation time is recorded beside it).
        expected = {}
        contents = []
        for i in range(sizes.small_files):
            data = rng.randbytes(rng.randint(1024, 16 * 1024))
            rel = f"tree/d{i % sizes.small_dirs:03}/f{i:05}.bin"
            contents.append((rel, data))
            expected[rel] = (len(data), hashlib.sha256(data).hexdigest())
        os.sync()
        created = {}

        def create_tree():
            t0 = time.monotonic()
            for rel, data in contents:
                path = os.path.join(peer.a, rel)
                try:
                    f = open(path, "wb")
                except FileNotFoundError:
                    os.makedirs(os.path.dirname(path), exist_ok=True)
                    f = open(path, "wb")
                with f:
                    f.write(data)
            t1 = time.monotonic()
            created["seconds"] = t1 - t0
            return t1
        s = measure(peer, create_tree, expected, 1800, poll=0.05)
        s["creation"] = created["seconds"]
        if "W2" in only:
            record("W2", s)

    if "W4" in only:
        mark("W4")
        # W4: one new 4 KiB file while everything is idle and in sync, 10 times.
        for i in range(sizes.w4_samples):
            time.sleep(1.0)
            data = rng.randbytes(4096)
            rel = f"w4-{i:02}.bin"

            def new_file():
                with open(os.path.join(peer.a, rel), "wb") as f:
                    f.write(data)
                return time.monotonic()
            record("W4", measure(peer, new_file, {rel: (4096, hashlib.sha256(data).hexdigest())}, 120, poll=0.002))

    if "W5" in only:
        mark("W5")
        # W5: a full rescan of the unchanged tree on A (nothing to send).
        for _ in range(sizes.w5_samples):
            time.sleep(1.0)
            wire0, cpu0 = peer.wire(), peer.cpu()
            wall, own = peer.rescan()
            wire1 = settle_counters(peer)
            record("W5", {"seconds": wall, "own": own, "hop": wire1["hop"] - wire0["hop"],
                          "total": wire1["total"] - wire0["total"], "cpu": peer.cpu() - cpu0})


def make_tree(root, count, dirs, seed):
    rng = random.Random(seed)
    for d in range(dirs):
        os.makedirs(os.path.join(root, "w6", f"d{d:04}"), exist_ok=True)
    for i in range(count):
        with open(os.path.join(root, "w6", f"d{i % dirs:04}", f"f{i:06}.txt"), "wb") as f:
            f.write(rng.randbytes(rng.randint(16, 256)))


def count_files(root):
    return sum(len(files) for _, _, files in os.walk(os.path.join(root, "w6")))


def same_tree(a, b, sample=200):
    """Sizes of every file and the SHA-256 of a sample are equal on both sides."""
    rels = []
    for dirpath, _, files in os.walk(os.path.join(a, "w6")):
        rels += [os.path.relpath(os.path.join(dirpath, f), a) for f in files]
    for rel in rels:
        if stat_key(os.path.join(b, rel)) is None or os.path.getsize(os.path.join(a, rel)) != \
                os.path.getsize(os.path.join(b, rel)):
            return f"{rel} differs"
    for rel in random.Random(1).sample(rels, min(sample, len(rels))):
        if sha256_file(os.path.join(a, rel)) != sha256_file(os.path.join(b, rel)):
            return f"{rel} has other bytes"
    return None


def w6(factories, wanted, sizes, base, report, failures):
    """Peak memory with many files in sync, and FileSync's server with many sessions."""
    for name in wanted:
        work = tempfile.mkdtemp(dir=base, prefix=f"w6-{name.replace(' ', '')}-")
        peer = factories[name](work)
        print(f"W6: {name}: writing {sizes.w6_files:,} files into A", flush=True)
        os.makedirs(peer.a, exist_ok=True)
        make_tree(peer.a, sizes.w6_files, sizes.w6_dirs, seed=6)
        os.sync()
        entry = {"files": sizes.w6_files}
        try:
            if isinstance(peer, peers.Rsync):
                peer.start()
                url = f"rsync://{peers.LOOPBACK}:{peer.port}/m/"
                t0 = time.monotonic()
                _, _, rss_up = peer.run(peer.a + "/", url, timeout=3600)
                _, _, rss_down = peer.run(url, peer.b + "/", timeout=3600)
                entry["seconds"] = time.monotonic() - t0
                entry["rss_mib"] = {"largest rsync process (client or daemon's, either run)": max(rss_up, rss_down) / 1024}
                wall, _ = peer.rescan()
                entry["rescan_seconds"] = wall
            else:
                t0 = time.monotonic()
                peer.start(**({"wait_idle": False} if isinstance(peer, peers.Syncthing) else {}))
                peers.wait_until(lambda: (peer.check_alive() or True) and count_files(peer.b) >= sizes.w6_files,
                                 3600, f"{name} B to hold all {sizes.w6_files:,} W6 files", 0.5)
                entry["seconds"] = time.monotonic() - t0
                problem = same_tree(peer.a, peer.b)
                if problem:
                    raise BenchFailure(f"W6 trees differ: {problem}")
                time.sleep(2.0)
                wall, _ = peer.rescan()  # a full rescan of the 100,000 files is part of keeping them in sync
                entry["rescan_seconds"] = wall
                time.sleep(1.0)
                entry["rss_mib"] = {k: v["hwm"] / 1024 for k, v in peer.rss_kib().items()}
                entry["rss_now_mib"] = {k: v["rss"] / 1024 for k, v in peer.rss_kib().items()}
                if isinstance(peer, peers.FileSync):
                    before = peer.rss_kib()["server"]
                    t1 = time.monotonic()
                    socks, problems = peers.open_sessions(peer.port, peer.account, sizes.w6_sessions)
                    entry["sessions_open_seconds"] = time.monotonic() - t1
                    time.sleep(2.0)
                    connected = peer.metric("filesync_sessions_connected")
                    after = peer.rss_kib()["server"]
                    entry["sessions"] = {"asked": sizes.w6_sessions, "logged_in": len(socks),
                                         "connected_per_metrics": connected, "problems": problems[:5],
                                         "server_rss_before_mib": before["rss"] / 1024,
                                         "server_rss_with_mib": after["rss"] / 1024,
                                         "server_hwm_mib": after["hwm"] / 1024}
                    for s in socks:
                        s.close()
            report[name] = entry
            print(f"W6: {name}: {json.dumps(entry)}", flush=True)
        except Exception as e:  # noqa: BLE001 - recorded; the other systems go on
            print(f"W6: {name} FAILED: {type(e).__name__}: {e}", flush=True)
            failures.append({"system": name, "run": "W6", "workload": "W6", "error": f"{type(e).__name__}: {e}",
                             "logs": {os.path.basename(p): peers.tail(p) for p in getattr(peer, "logs", lambda: [])()}})
        finally:
            peer.stop()


# ---------------------------------------------------------------- report

def sh(cmd):
    try:
        return subprocess.run(cmd, shell=True, capture_output=True, text=True, timeout=30).stdout.strip()
    except subprocess.TimeoutExpired:
        return ""


def machine(base):
    cpu = sh("lscpu | sed -n 's/^Model name: *//p'") or platform.processor()
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    src, fstype, size = (sh(f"findmnt -no SOURCE,FSTYPE,SIZE -T {base}").split() + ["?", "?", "?"])[:3]
    dev = os.path.basename(src)
    rot = sh(f"cat /sys/block/{dev}/queue/rotational 2>/dev/null")
    kind = {"0": "SSD/virtual (non-rotational)", "1": "rotational or virtual disk (kernel reports rotational)"}
    return {"cpu": cpu, "cores": os.cpu_count(), "ram_gib": round(mem, 1),
            "disk": f"{src} ({fstype}, {size}, {kind.get(rot, 'unknown kind')})",
            "kernel": platform.release(), "os": sh(". /etc/os-release && echo $PRETTY_NAME")}


def filesync_version(bindir, fs_version):
    if os.environ.get("FILESYNC_SOURCE"):
        return f"{fs_version}, {os.environ['FILESYNC_SOURCE']}"
    head = sh(f"git -C {REPO} rev-parse --short HEAD")
    dirty = subprocess.run(["git", "-C", REPO, "status", "--porcelain", "--", "shared", "server", "desktop",
                            "CMakeLists.txt", "cmake"], capture_output=True, text=True, timeout=30).stdout
    note = f"{fs_version}, git {head}"
    if dirty.strip():
        files = [l[3:] for l in dirty.splitlines() if l.strip()]
        note += f" plus uncommitted changes in {len(files)} product file(s) ({', '.join(files[:6])}" + \
                (", …" if len(files) > 6 else "") + ")"
    binary = os.path.join(bindir, "desktop", "filesync")
    if os.path.exists(binary):
        note += f"; binaries in {os.path.relpath(bindir, REPO) if bindir.startswith(REPO) else bindir}, built " + \
            datetime.datetime.utcfromtimestamp(os.path.getmtime(binary)).strftime("%Y-%m-%d %H:%M UTC")
    return note


def fmt_s(x):
    return "—" if x is None else (f"{x * 1000:.0f} ms" if x < 1 else f"{x:.2f} s")


def fmt_b(n):
    if n is None:
        return "—"
    if n < 1e3:
        return f"{n:.0f} B"
    if n < 1e6:
        return f"{n / 1e3:.1f} kB"
    return f"{n / 1e6:.2f} MB"


def summarize(samples, field):
    vals = [s[field] for s in samples if s.get(field) is not None]
    if not vals:
        return None
    return {"median": statistics.median(vals), "min": min(vals), "max": max(vals), "n": len(vals)}


def build_tables(results, names, workloads):
    time_rows, wire_rows, cpu_rows = [], [], []
    others = [n for n in names if n != "FileSync"]
    header = "| workload | " + " | ".join(names) + "".join(f" | FileSync / {o}" for o in others if "FileSync" in names) + " |"
    sep = "|" + "---|" * (1 + len(names) + (len(others) if "FileSync" in names else 0))
    time_rows += [header, sep]
    wire_rows += ["| workload | " + " | ".join(names) + " |", "|" + "---|" * (1 + len(names))]
    cpu_rows += ["| workload | " + " | ".join(names) + " |", "|" + "---|" * (1 + len(names))]
    medians = {}
    for w in workloads:
        cells, wcells, ccells = [], [], []
        for n in names:
            samples = results.get(w, {}).get(n, [])
            t = summarize(samples, "seconds")
            if not t:
                cells.append("failed" if any(f["system"] == n and f["workload"] == w for f in FAILURES) else "—")
                wcells.append("—")
                ccells.append("—")
                continue
            medians[(w, n)] = t["median"]
            cells.append(f"{fmt_s(t['median'])} ({fmt_s(t['min'])}–{fmt_s(t['max'])}, n={t['n']})")
            hop, total = summarize(samples, "hop"), summarize(samples, "total")
            if hop:
                per = " per file" if w == "W4" else " per scan" if w == "W5" else ""
                wcells.append(f"{fmt_b(hop['median'])}" + (f" / {fmt_b(total['median'])}" if total and
                                                            total["median"] != hop["median"] else "") + per)
            else:
                wcells.append("—")
            c = summarize(samples, "cpu")
            ccells.append(f"{c['median']:.2f} s" if c else "—")
        ratios = []
        if "FileSync" in names:
            for o in others:
                f, p = medians.get((w, "FileSync")), medians.get((w, o))
                ratios.append(f"{f / p:.2f}×" if f is not None and p else "—")
        time_rows.append(f"| {w} | " + " | ".join(cells + ratios) + " |")
        wire_rows.append(f"| {w} | " + " | ".join(wcells) + " |")
        cpu_rows.append(f"| {w} | " + " | ".join(ccells) + " |")
    return "\n".join(time_rows), "\n".join(wire_rows), "\n".join(cpu_rows), medians


def targets_table(results, medians, report6, sizes):
    def med(w, n, field="seconds"):
        s = summarize(results.get(w, {}).get(n, []), field)
        return s["median"] if s else None
    rows = ["| target (issue 4) | FileSync | verdict |", "|---|---|---|"]

    def row(text, value, limit, shown, unit_fmt):
        if value is None:
            rows.append(f"| {text} | — | not measured |")
            return
        verdict = "met" if value <= limit else f"not met: {value / limit:.1f}× the target"
        rows.append(f"| {text} | {unit_fmt(shown)} | {verdict} |")
    w1f, w1r = med("W1", "FileSync"), med("W1", "rsync")
    if w1f is not None and w1r:
        row("W1 ≤ 0.5× rsync", w1f / w1r, 0.5, w1f / w1r, lambda r: f"{r:.2f}× rsync ({fmt_s(w1f)})")
    else:
        row("W1 ≤ 0.5× rsync", None, 0, 0, str)
    row("W2 ≤ 3 s", med("W2", "FileSync"), 3.0, med("W2", "FileSync"), fmt_s)
    row("W3 ≤ 1 s", med("W3", "FileSync"), 1.0, med("W3", "FileSync"), fmt_s)
    row("W3 ≤ 1.2 MB on A's link", med("W3", "FileSync", "hop"), 1.2e6, med("W3", "FileSync", "hop"), fmt_b)
    row("W3b ≤ 0.3 MB on A's link", med("W3b", "FileSync", "hop"), 0.3e6, med("W3b", "FileSync", "hop"), fmt_b)
    row("W4 median ≤ 150 ms", med("W4", "FileSync"), 0.15, med("W4", "FileSync"), fmt_s)
    row("W5 ≤ 0.2 s", med("W5", "FileSync"), 0.2, med("W5", "FileSync"), fmt_s)
    fs6 = report6.get("FileSync", {})
    client = max((v for k, v in fs6.get("rss_mib", {}).items() if k.startswith("client")), default=None)
    row(f"W6 client ≤ 100 MB ({fs6.get('files', sizes.w6_files):,} files)", client and client * 1.048576, 100,
        client, lambda v: f"{v:.0f} MiB")
    sess = fs6.get("sessions", {})
    srv = sess.get("server_rss_with_mib")
    row(f"W6 server ≤ 300 MB ({sess.get('logged_in', 0):,} sessions)", srv and srv * 1.048576, 300, srv,
        lambda v: f"{v:.0f} MiB")
    return "\n".join(rows)


FAILURES = []


def write_report(path, args, sizes, info, versions, results, report6, names, workloads, started, elapsed,
                 extra=()):
    time_t, wire_t, cpu_t, medians = build_tables(results, names, workloads)
    cmd = command_of(args)
    L = ["# Benchmarks", "",
         f"Measured {started} UTC by `{cmd}`" + (f" ({elapsed / 60:.0f} min in all)" if elapsed else "")
         + (" — **quick mode: sizes scaled down, not comparable with the targets**" if args.quick else "") + ".", ""]
    if extra:
        L += ["Added from a later invocation of the benchmark:", ""] + [f"- {e}" for e in extra] + [""]
    L += [
         "## Machine and versions", "",
         f"- CPU: {info['cpu']}, {info['cores']} cores; RAM {info['ram_gib']} GiB; disk {info['disk']}",
         f"- OS: {info['os']}, kernel {info['kernel']}; Python {platform.python_version()} drives the runs",
         ] + [f"- {k}: {v}" for k, v in versions.items()] + [
        "", "## Sizes", "",
        f"- W1, W3, W3b: one file of {sizes.big // MiB:,} MiB of random bytes",
        f"- W2, W5: {sizes.small_files:,} files of 1–16 KiB of random bytes in {sizes.small_dirs} folders",
        f"- W4: {sizes.w4_samples} new 4 KiB files per run; W5: {sizes.w5_samples} rescans per run",
        f"- W6: {sizes.w6_files:,} files of 16–256 bytes in {sizes.w6_dirs:,} folders; {sizes.w6_sessions:,} extra "
        "FileSync sessions",
        "", "## Time until B holds identical bytes", "",
        "Median over all samples (min–max, n = samples: one per run, W4 ten per run, W5 three per run). "
        "Ratios are FileSync's median over the peer's: below 1 FileSync is faster.", "",
        time_t, "",
        "## Bytes on the wire", "",
        "Median per sample. First figure: A's own link (FileSync: A's session at the server, both "
        "directions; rsync: the A → daemon run; Syncthing: the one A ↔ B connection, both directions). "
        "After the slash: every link (FileSync: all sessions at the server, i.e. A → server and "
        "server → B; rsync: both runs).", "",
        wire_t, "",
        "## CPU seconds (user + system, all of the system's processes)", "",
        cpu_t, ""]
    notes = []
    w2 = {n: summarize(results.get("W2", {}).get(n, []), "creation") for n in names}
    if any(w2.values()):
        notes.append("W2: writing the files into A took " + ", ".join(
            f"{fmt_s(v['median'])} ({n})" for n, v in w2.items() if v) + "; that is before the time starts.")
    own = summarize(results.get("W5", {}).get("FileSync", []), "own")
    if own:
        notes.append(f"W5: FileSync's own log put the rescan cycle at {fmt_s(own['median'])} (median); the table "
                     "has the time from SIGUSR1 to that log line.")
    loads = [s["load1"] for w in results.values() for ss in w.values() for s in ss if "load1" in s]
    if loads:
        notes.append(f"The machine's 1-minute load average when samples ended: median {statistics.median(loads):.1f}, "
                     f"max {max(loads):.1f} on {os.cpu_count()} cores (other work on the machine shows up here; "
                     "the benchmark itself adds about 1).")
    if notes:
        L += ["Notes on these figures:", ""] + [f"- {n}" for n in notes] + [""]
    L += ["## Targets", "", targets_table(results, medians, report6, sizes), ""]
    if report6:
        L += ["## W6: memory", "",
              "| system | files in sync | time to sync them | full rescan after | peak RSS (VmHWM) |",
              "|---|---|---|---|---|"]
        for name, r in report6.items():
            rss = ", ".join(f"{k} {v:.0f} MiB" for k, v in r.get("rss_mib", {}).items())
            L.append(f"| {name} | {r['files']:,} | {fmt_s(r.get('seconds'))} | {fmt_s(r.get('rescan_seconds'))} | {rss} |")
        sess = report6.get("FileSync", {}).get("sessions")
        if sess:
            L += ["", f"FileSync server with {sess['logged_in']:,} extra logged-in sessions (of {sess['asked']:,} asked; "
                  f"`filesync_sessions_connected` said {sess['connected_per_metrics']:,}): RSS "
                  f"{sess['server_rss_before_mib']:.0f} MiB before, {sess['server_rss_with_mib']:.0f} MiB with them "
                  f"(peak {sess['server_hwm_mib']:.0f} MiB). Opening them took "
                  f"{report6['FileSync'].get('sessions_open_seconds', 0):.1f} s."
                  + (f" Problems: {'; '.join(sess['problems'])}." if sess["problems"] else "")]
        L.append("")
    L += ["## Failures", ""]
    if FAILURES:
        for f in FAILURES:
            sup = f" (superseded: {f['superseded']})" if f.get("superseded") else ""
            where = f"{f['workload']}" if f["run"] == "W6" else f"run {f['run']}, {f['workload']}"
            L.append(f"- {f['system']}, {where}{sup}: {f['error']}")
            for log, lines in f.get("logs", {}).items():
                if lines:
                    L.append(f"  - last lines of {log}: " + " / ".join(f"`{l[:160]}`" for l in lines[-4:]))
    else:
        L.append("None: every system finished every workload it ran.")
    L.append("")
    profile = os.path.join(HERE, "profile.md")  # hand-written: where the time goes (tests/bench/profile.py)
    if os.path.exists(profile):
        L += open(profile).read().splitlines() + [""]
    L += open(os.path.join(HERE, "method.md")).read().splitlines()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        f.write("\n".join(L) + "\n")
    return time_t


# ---------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--bindir", required=True, help="build dir holding server/filesync-server and desktop/filesync")
    ap.add_argument("--quick", action="store_true", help="scaled-down sizes for a smoke run")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--workloads", default=",".join(ALL_WORKLOADS))
    ap.add_argument("--peers", default="FileSync,rsync,Syncthing",
                    help="any of FileSync, rsync, Syncthing, 'rsync --fsync'")
    ap.add_argument("--out", default=None, help="the report (default docs/benchmarks.md; with --quick "
                                                "tests/bench/results/quick.md)")
    ap.add_argument("--report-from", metavar="RAW_JSON", help="write the report again from a raw-*.json of an "
                    "earlier run (after editing method.md or profile.md), without measuring")
    args = ap.parse_args()
    if args.report_from:
        return report_from(args.report_from, args.out)
    only = set(args.workloads.split(","))
    unknown = only - set(ALL_WORKLOADS)
    if unknown or args.runs < 1:
        ap.error(f"unknown workloads {sorted(unknown)}" if unknown else "--runs must be at least 1")
    wanted = args.peers.split(",")
    out = args.out or os.path.join(REPO, "tests/bench/results/quick.md" if args.quick else "docs/benchmarks.md")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 16384), hard))

    sizes = Sizes(args.quick)
    if hard < sizes.w6_sessions + 200:
        sizes.w6_sessions = max(0, hard - 200)
    base = tempfile.mkdtemp(prefix="filesync-bench-")
    keep_logs = os.path.join(HERE, "results", "logs")

    def cleanup():
        peers.stop_all()
        if os.environ.get("BENCH_KEEP_TEMP"):
            print(f"BENCH_KEEP_TEMP: left {base} in place", flush=True)
        else:
            shutil.rmtree(base, ignore_errors=True)
    atexit.register(cleanup)

    def on_signal(signum, _frame):
        raise SystemExit(128 + signum)
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, on_signal)

    factories = {
        "FileSync": lambda work: peers.FileSync(args.bindir, work),
        "rsync": lambda work: peers.Rsync(work),
        "rsync --fsync": lambda work: peers.Rsync(work, fsync=True),
        "Syncthing": lambda work: peers.Syncthing(work),
    }
    for n in wanted:
        if n not in factories:
            ap.error(f"unknown peer {n!r}")
    started = datetime.datetime.utcnow().strftime("%Y-%m-%d %H:%M")
    t_start = time.monotonic()
    info = machine(base)
    versions = {}
    for n in wanted:
        v = factories[n](base).version()
        versions[n] = filesync_version(args.bindir, v) if n == "FileSync" else v
    print(f"machine: {info}\nversions: {versions}\ntemp: {base}", flush=True)
    results = {}
    report6 = {}
    stage = os.path.join(base, "stage")
    os.makedirs(stage)
    # Every run's trees stay until the end (no deletes between timed sequences): about
    # three copies of the big file per system and run (A, B, the server or daemon).
    runs_needed = args.runs if only & set(TIMED) else 0
    need = runs_needed * len(wanted) * (3 * sizes.big + 2 * 200 * MiB) + 4 * 1024 * MiB
    free = shutil.disk_usage(base).free
    if free < need:
        sys.exit(f"bench: {base} has {free / 2**30:.1f} GiB free; this run keeps about {need / 2**30:.1f} GiB "
                 "until it ends (use fewer --runs or --peers, or TMPDIR on a bigger disk)")
    timed = only & set(TIMED)
    completed = False
    try:
        for run in range(1, args.runs + 1 if timed else 1):
            order = wanted[(run - 1) % len(wanted):] + wanted[:(run - 1) % len(wanted)]  # rotate against drift
            for name in order:
                work = tempfile.mkdtemp(dir=base, prefix=f"run{run}-{name.replace(' ', '')}-")
                peer = factories[name](work)
                current = {"w": "start"}

                def record(w, sample, name=name, run=run):
                    sample["run"] = run
                    sample["load1"] = os.getloadavg()[0]
                    results.setdefault(w, {}).setdefault(name, []).append(sample)
                    extra = f", {fmt_b(sample['hop'])} on A's link, {fmt_b(sample['total'])} in all" \
                        if sample.get("hop") is not None else ""
                    print(f"  {name:13} {w:4} run {run}: {fmt_s(sample['seconds'])}{extra}, cpu {sample['cpu']:.2f} s",
                          flush=True)
                print(f"run {run}: {name}", flush=True)
                try:
                    peer.start()
                    run_workloads(peer, sizes, run, only, stage, record, lambda w: current.update(w=w))
                except Exception as e:  # noqa: BLE001 - recorded; the other systems go on
                    if not isinstance(e, BenchFailure):
                        e = BenchFailure(f"{type(e).__name__}: {e}")
                    failed_w = current["w"]
                    print(f"  {name} FAILED in run {run} ({failed_w}): {e}", flush=True)
                    logs = {os.path.basename(p): peers.tail(p) for p in peer.logs()}
                    FAILURES.append({"system": name, "run": run, "workload": failed_w, "error": str(e), "logs": logs})
                    dest = os.path.join(keep_logs, f"run{run}-{name.replace(' ', '')}")
                    os.makedirs(dest, exist_ok=True)
                    for p in peer.logs():
                        if os.path.exists(p):
                            shutil.copy(p, dest)
                finally:
                    peer.stop()
                    # Nothing is deleted until every run is over: this disk is mounted with
                    # `discard`, and freeing the last system's 3 GiB of big files slowed the
                    # next system's W1 by seconds (2026-12-01: FileSync 4.7 s when it ran
                    # first, 11.7 s right after another system's deletes). Leftovers of the
                    # stage only move aside.
                    for leftover in os.listdir(stage):
                        os.rename(os.path.join(stage, leftover), os.path.join(work, f"staged-{leftover}"))
        if "W6" in only:
            w6(factories, wanted, sizes, base, report6, FAILURES)
        completed = True
    finally:
        elapsed = time.monotonic() - t_start
        peers.stop_all()
        workloads = [w for w in TIMED if w in only]
        raw = os.path.join(HERE, "results", f"raw-{datetime.datetime.utcnow().strftime('%Y-%m-%dT%H%M%S')}.json")
        os.makedirs(os.path.dirname(raw), exist_ok=True)
        with open(raw, "w") as f:
            json.dump({"args": vars(args), "machine": info, "versions": versions, "results": results,
                       "w6": report6, "failures": FAILURES, "started": started, "elapsed": elapsed,
                       "w6_sessions": sizes.w6_sessions}, f, indent=1)
        if not completed:  # interrupted: keep the last complete report where it is
            out = os.path.join(HERE, "results", "interrupted.md")
            print("interrupted: the partial report goes to tests/bench/results/interrupted.md", flush=True)
        if results or report6 or FAILURES:
            table = write_report(out, args, sizes, info, versions, results, report6, wanted, workloads, started,
                                 elapsed)
            if workloads:
                print(table)
            print(f"wrote {os.path.relpath(out, REPO)} and {os.path.relpath(raw, REPO)}")
        print("cleaning up the temp folders", flush=True)


def command_of(args):
    return "tests/bench/run.sh" + (" --quick" if args.quick else "") + f" --runs {args.runs}" + \
        (f" --workloads {args.workloads}" if args.workloads != ",".join(ALL_WORKLOADS) else "") + \
        (f" --peers {args.peers}" if args.peers != "FileSync,rsync,Syncthing" else "")


def report_from(raw_paths, out):
    """Writes the report from one raw-*.json, or from several: the first is the main run;
    a later one adds its samples and replaces W6 entries (a system re-measured after a
    failure), and the report says which figures came from which invocation."""
    raws = []
    for path in raw_paths.split(","):
        with open(path) as f:
            raws.append((path, json.load(f)))
    path0, raw = raws[0]
    args = argparse.Namespace(**raw["args"])
    sizes = Sizes(args.quick)
    sizes.w6_sessions = raw.get("w6_sessions", sizes.w6_sessions)
    results, w6r, versions = raw["results"], dict(raw["w6"]), dict(raw["versions"])
    failures = list(raw["failures"])
    names = args.peers.split(",")
    started = raw.get("started") or os.path.basename(path0)[4:-5].replace("T", " ")
    if len(started) == 15 and ":" not in started:  # raw-YYYY-MM-DDTHHMM.json
        started = started[:13] + ":" + started[13:]
    extra = []
    for path, more in raws[1:]:
        margs = argparse.Namespace(**more["args"])
        when = more.get("started", os.path.basename(path))
        if margs.quick != args.quick:
            raise SystemExit(f"{path}: quick and full runs cannot be merged")
        for w, per in more["results"].items():
            for n, samples in per.items():
                results.setdefault(w, {}).setdefault(n, []).extend(samples)
        for n, entry in more["w6"].items():
            w6r[n] = entry
            for f in failures:
                if f["system"] == n and f["workload"] == "W6":
                    f["superseded"] = f"re-measured at {when} UTC"
        versions.update({k: v for k, v in more["versions"].items() if k not in versions})
        failures += more["failures"]
        names += [n for n in margs.peers.split(",") if n not in names]
        parts = sorted({f"{w} {n}" for w, per in more["results"].items() for n in per} |
                       {f"W6 {n}" for n in more["w6"]})
        extra.append(f"{', '.join(parts)}: measured {when} UTC by `{command_of(margs)}`"
                     f" (same binaries)")
    FAILURES[:] = failures
    out = out or args.out or os.path.join(REPO, "tests/bench/results/quick.md" if args.quick else "docs/benchmarks.md")
    only = set(args.workloads.split(","))
    workloads = [w for w in TIMED if w in only]
    write_report(out, args, sizes, raw["machine"], versions, results, w6r, names, workloads, started,
                 raw.get("elapsed"), extra)
    print(f"wrote {out} from {raw_paths}")


if __name__ == "__main__":
    main()
