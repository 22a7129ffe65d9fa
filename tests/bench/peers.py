"""The systems under test, each as two computers A and B on 127.0.0.1.

FileSync:  filesync-server plus two `filesync --headless` clients (A -> server -> B);
           B is given A's account ID. Interval 3600 s: only the watcher and the server's
           push act during a timed change.
rsync:     an rsync daemon on 127.0.0.1 with its own config; one sync is `rsync A/ daemon`
           then `rsync daemon B/` (the same extra hop as FileSync). rsync has no watcher,
           so the two runs are started right after the change and are inside the time.
Syncthing: two instances with their own --home; before the first start their config has
           global and local discovery, relays, NAT traversal, usage reporting (urAccepted
           -1), crash reporting and upgrades switched off, the GUI/REST on 127.0.0.1 with
           an API key, each device introduced to the other by tcp://127.0.0.1:PORT, and
           the folder shared with fsWatcher on at its minimum delay (1 s).

Every process is started through spawn(): it is registered, dies with this script
(PR_SET_PDEATHSIG) and is stopped by stop_all() on any exit. Traffic stays on 127.0.0.1.
"""
import ctypes
import json
import os
import re
import signal
import socket
import subprocess
import time
import urllib.request
import xml.etree.ElementTree as ET

import cbor

LOOPBACK = "127.0.0.1"
CLK_TCK = os.sysconf("SC_CLK_TCK")
_PROCS = []
_libc = ctypes.CDLL(None, use_errno=True)


class BenchFailure(Exception):
    """A system did not do what a workload needed; recorded in the report."""


def _die_with_parent():
    _libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG: never outlive the benchmark


def spawn(args, **kwargs):
    p = subprocess.Popen(args, preexec_fn=_die_with_parent, **kwargs)
    _PROCS.append(p)
    return p


def stop(procs, grace=15):
    for p in procs:
        if p.poll() is None:
            try:
                p.terminate()
            except ProcessLookupError:
                pass
    deadline = time.monotonic() + grace
    for p in procs:
        try:
            p.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(5)


def stop_all():
    stop(list(_PROCS), grace=10)


def free_port():
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


def wait_until(predicate, timeout, what, interval=0.01):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise BenchFailure(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


def port_open(port):
    try:
        socket.create_connection((LOOPBACK, port), 1).close()
        return True
    except OSError:
        return False


def proc_status_kib(pid, field):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):  # gone, or exiting (the kernel says ESRCH)
        pass
    return 0


def proc_cpu_seconds(pid, children=False):
    """user + system CPU seconds of a running process (and of its reaped children)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):  # gone, or exiting (the kernel says ESRCH)
        return 0.0
    ticks = int(fields[11]) + int(fields[12])  # utime, stime
    if children:
        ticks += int(fields[13]) + int(fields[14])  # cutime, cstime
    return ticks / CLK_TCK


def descendants(pid):
    """pid and every process below it (Syncthing runs a monitor with the real worker as its child)."""
    children = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            children.setdefault(ppid, []).append(int(d))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += children.get(p, [])
    return out


def tree_cpu_seconds(pid):
    return sum(proc_cpu_seconds(p, children=True) for p in descendants(pid))


def tree_rss_kib(pid):
    """The largest VmHWM / VmRSS of any single process in the tree."""
    procs = descendants(pid)
    return {"hwm": max(proc_status_kib(p, "VmHWM") for p in procs),
            "rss": max(proc_status_kib(p, "VmRSS") for p in procs)}


def max_child_hwm(pid):
    """The largest VmHWM among the processes below pid (the rsync daemon's per-connection ones)."""
    return max([proc_status_kib(p, "VmHWM") for p in descendants(pid)[1:]], default=0)


def tail(path, lines=8):
    try:
        with open(path, errors="replace") as f:
            return f.read().splitlines()[-lines:]
    except OSError:
        return []


def read_line(proc, timeout, what):
    """One line of a child's stdout, bounded in time (select on the pipe)."""
    import selectors
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if sel.select(timeout=0.05):
                line = proc.stdout.readline()
                if line:
                    return line
            if proc.poll() is not None:
                raise BenchFailure(f"{what}: the process exited with code {proc.returncode}")
    finally:
        sel.close()
    raise BenchFailure(f"timed out after {timeout:.0f} s waiting for {what}")


class FileSync:
    name = "FileSync"

    def __init__(self, bindir, work, interval=3600):
        self.server_bin = os.path.join(bindir, "server", "filesync-server")
        self.client_bin = os.path.join(bindir, "desktop", "filesync")
        self.work = work
        self.a = os.path.join(work, "A")
        self.b = os.path.join(work, "B")
        self.interval = interval
        self.procs = []
        self.client_a = self.client_b = self.server = None

    def version(self):
        out = subprocess.run([self.client_bin, "--version"], capture_output=True, text=True, timeout=10).stdout
        return out.strip()

    def logs(self):
        return [os.path.join(self.work, n) for n in ("server.log", "client-A.log", "client-B.log")]

    def _client(self, folder, name, account=None):
        args = [self.client_bin, "--headless", LOOPBACK, str(self.port), folder, str(self.interval)]
        if account:
            args.append(account)
        env = dict(os.environ, FILESYNC_SESSION_NAME=name)
        p = spawn(args, stdout=subprocess.PIPE, stderr=open(os.path.join(self.work, f"client-{name}.log"), "w"),
                  text=True, env=env)
        self.procs.append(p)
        line = read_line(p, 60, f"FileSync client {name} to print 'account: ID'")
        m = re.match(r"account: (\S+)", line)
        if not m:
            raise BenchFailure(f"FileSync client {name} printed {line!r} instead of 'account: ID'")
        return p, m.group(1)

    def start(self, b_too=True):
        os.makedirs(self.a, exist_ok=True)
        os.makedirs(self.b, exist_ok=True)
        self.metrics_port = free_port()
        self.server = spawn(
            [self.server_bin, "--port", "0", "--listen", LOOPBACK, "--data", os.path.join(self.work, "server"),
             "--metrics", f"{LOOPBACK}:{self.metrics_port}"],
            stdout=subprocess.PIPE, stderr=open(os.path.join(self.work, "server.log"), "w"), text=True)
        self.procs.append(self.server)
        line = read_line(self.server, 30, "filesync-server to print 'listening on ADDR:PORT'")
        m = re.search(r"listening on (\S+):(\d+)", line)
        if not m:
            raise BenchFailure(f"filesync-server printed {line!r}")
        self.port = int(m.group(2))
        wait_until(lambda: self._metrics_text(), 10, "the server's /metrics endpoint")
        self.client_a, self.account = self._client(self.a, "A")
        # A's session is the only one connected now: remember its id for the per-hop bytes.
        sessions = wait_until(lambda: self._session_bytes(), 30, "client A's session in /metrics")
        self.session_a = next(iter(sessions))
        if b_too:
            self.start_b()

    def start_b(self):
        self.client_b, account_b = self._client(self.b, "B", self.account)
        if account_b != self.account:
            raise BenchFailure(f"client B joined account {account_b}, not A's {self.account}")

    def _metrics_text(self):
        try:
            return urllib.request.urlopen(f"http://{LOOPBACK}:{self.metrics_port}/metrics", timeout=5).read().decode()
        except OSError:
            return ""

    def metric(self, name, text=None):
        text = text if text is not None else self._metrics_text()
        m = re.search(rf"^{name} (\d+)$", text, re.M)
        if not m:
            raise BenchFailure(f"/metrics has no {name}")
        return int(m.group(1))

    def _session_bytes(self, text=None):
        text = text if text is not None else self._metrics_text()
        per = {}
        for direction in ("received", "sent"):
            for sid, value in re.findall(rf'^filesync_session_bytes_{direction}_total{{session="(\d+)"}} (\d+)$',
                                         text, re.M):
                per[sid] = per.get(sid, 0) + int(value)
        return per

    def wire(self):
        """Bytes on the wire so far: A's link (in + out of A's session) and all sessions."""
        text = self._metrics_text()
        total = self.metric("filesync_bytes_received_total", text) + self.metric("filesync_bytes_sent_total", text)
        return {"hop": self._session_bytes(text).get(self.session_a, 0), "total": total}

    def cpu(self):
        return sum(proc_cpu_seconds(p.pid) for p in self.procs if p.poll() is None)

    def after_change(self):
        pass  # live: the watcher and the server's push do the work

    def rescan(self):
        """SIGUSR1 asks A for a full scan and sync; timed from the signal until A logs the
        cycle's end. Returns (wall seconds, the cycle's own 'done in' seconds)."""
        log_path = os.path.join(self.work, "client-A.log")
        before = open(log_path, errors="replace").read().count("cycle done in")
        t0 = time.monotonic()
        self.client_a.send_signal(signal.SIGUSR1)

        def done():
            lines = [l for l in open(log_path, errors="replace").read().splitlines() if "cycle done in" in l]
            return lines[-1] if len(lines) > before else None
        line = wait_until(done, 120, "FileSync client A to log 'cycle done in' after SIGUSR1", 0.002)
        wall = time.monotonic() - t0
        m = re.search(r"cycle done in (\d+) ms", line)
        return wall, (int(m.group(1)) / 1000.0 if m else None)

    def rss_kib(self):
        out = {}
        for label, p in (("client A", self.client_a), ("client B", self.client_b), ("server", self.server)):
            if p is not None:
                out[label] = {"hwm": proc_status_kib(p.pid, "VmHWM"), "rss": proc_status_kib(p.pid, "VmRSS")}
        return out

    def check_alive(self):
        for label, p in (("server", self.server), ("client A", self.client_a), ("client B", self.client_b)):
            if p is not None and p.poll() is not None:
                raise BenchFailure(f"FileSync {label} exited with code {p.returncode}")

    def stop(self):
        stop(self.procs)


class Rsync:
    name = "rsync"

    def __init__(self, work, fsync=False):
        self.work = work
        self.a = os.path.join(work, "A")
        self.b = os.path.join(work, "B")
        self.store = os.path.join(work, "daemon")
        self.fsync = fsync
        if fsync:
            self.name = "rsync --fsync"
        self.hop = self.total = 0
        self.client_cpu = 0.0
        self.daemon = None

    def version(self):
        return subprocess.run(["rsync", "--version"], capture_output=True, text=True, timeout=10).stdout.splitlines()[0]

    def logs(self):
        return [os.path.join(self.work, "rsyncd.log")]

    def start(self):
        for d in (self.a, self.b, self.store):
            os.makedirs(d, exist_ok=True)
        self.port = free_port()
        conf = os.path.join(self.work, "rsyncd.conf")
        with open(conf, "w") as f:
            f.write(f"use chroot = no\nmax connections = 8\npid file = {self.work}/rsyncd.pid\n"
                    f"log file = {self.work}/rsyncd.log\n"
                    f"[m]\npath = {self.store}\nread only = no\nuid = {os.getuid()}\ngid = {os.getgid()}\n")
        self.daemon = spawn(["rsync", "--daemon", "--no-detach", f"--config={conf}", f"--port={self.port}",
                             f"--address={LOOPBACK}"], stderr=open(os.path.join(self.work, "rsyncd.err"), "w"))
        wait_until(lambda: port_open(self.port), 10, "the rsync daemon to listen")

    def run(self, src, dst, timeout=900):
        """One rsync run; returns (wall seconds, bytes sent + received, max RSS KiB of the
        client). Reaped with wait4 so that its own CPU and peak RSS are known."""
        args = ["rsync", "-a", "--delete", "--stats", src, dst]
        if self.fsync:
            args.insert(1, "--fsync")
        import tempfile
        with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
            t0 = time.monotonic()
            p = subprocess.Popen(args, stdout=out, stderr=err, preexec_fn=_die_with_parent)
            peak, next_sample = 0, 0.0
            while True:
                pid, status, usage = os.wait4(p.pid, os.WNOHANG)
                if pid:
                    break
                if time.monotonic() >= next_sample:  # ru_maxrss would count this script's pages at fork
                    peak = max(peak, tree_rss_kib(p.pid)["hwm"], max_child_hwm(self.daemon.pid))
                    next_sample = time.monotonic() + 0.02
                if time.monotonic() - t0 > timeout:
                    p.kill()
                    os.wait4(p.pid, 0)
                    p.returncode = -9
                    raise BenchFailure(f"rsync {src} -> {dst} took over {timeout} s")
                time.sleep(0.002)
            wall = time.monotonic() - t0
            p.returncode = os.waitstatus_to_exitcode(status)
            out.seek(0)
            err.seek(0)
            stdout, stderr = out.read(), err.read()
        self.client_cpu += usage.ru_utime + usage.ru_stime
        if p.returncode != 0:
            raise BenchFailure(f"rsync {src} -> {dst} failed ({p.returncode}): {stderr.strip()[-300:]}")
        sent = int(re.search(r"Total bytes sent: ([\d,]+)", stdout).group(1).replace(",", ""))
        received = int(re.search(r"Total bytes received: ([\d,]+)", stdout).group(1).replace(",", ""))
        return wall, sent + received, peak

    def sync(self):
        url = f"rsync://{LOOPBACK}:{self.port}/m/"
        _, up, _ = self.run(self.a + "/", url)
        _, down, _ = self.run(url, self.b + "/")
        self.hop += up
        self.total += up + down

    def after_change(self):
        self.sync()

    def wire(self):
        return {"hop": self.hop, "total": self.total}

    def cpu(self):
        daemon = proc_cpu_seconds(self.daemon.pid, children=True) if self.daemon else 0.0
        return self.client_cpu + daemon

    def rescan(self):
        wall, nbytes, _ = self.run(self.a + "/", f"rsync://{LOOPBACK}:{self.port}/m/")
        self.hop += nbytes
        self.total += nbytes
        return wall, None

    def rss_kib(self):
        return {}

    def check_alive(self):
        if self.daemon.poll() is not None:
            raise BenchFailure(f"the rsync daemon exited with code {self.daemon.returncode}")

    def stop(self):
        if self.daemon:
            stop([self.daemon])


class Syncthing:
    name = "Syncthing"
    api_key = "filesync-bench-api-key"

    def __init__(self, work, watcher_delay_s=1):
        self.work = work
        self.a = os.path.join(work, "A")
        self.b = os.path.join(work, "B")
        self.delay = watcher_delay_s
        self.procs = []
        self.proc_a = self.proc_b = None

    def version(self):
        out = subprocess.run(["syncthing", "--version"], capture_output=True, text=True, timeout=10).stdout
        return out.split('"')[0].strip()

    def logs(self):
        return [os.path.join(self.work, f"syncthing-{n}.log") for n in ("A", "B")]

    def _generate(self, name):
        home = os.path.join(self.work, f"home-{name}")
        env = dict(os.environ, STNODEFAULTFOLDER="1", STNOUPGRADE="1")
        subprocess.run(["syncthing", "generate", f"--home={home}", "--no-default-folder", "--skip-port-probing"],
                       capture_output=True, check=True, env=env, timeout=60)
        device = subprocess.run(["syncthing", "serve", f"--home={home}", "--device-id"], capture_output=True,
                                text=True, check=True, env=env, timeout=60).stdout.strip()
        return home, device

    def _configure(self, home, folder, me, other, listen, gui, other_listen):
        """Edits config.xml before the first start: nothing may leave 127.0.0.1."""
        path = os.path.join(home, "config.xml")
        tree = ET.parse(path)
        root = tree.getroot()
        for tag in ("folder", "device"):
            for e in root.findall(tag):
                root.remove(e)
        options = root.find("options")
        settings = {
            "listenAddress": f"tcp://{LOOPBACK}:{listen}",
            "globalAnnounceEnabled": "false", "localAnnounceEnabled": "false", "relaysEnabled": "false",
            "natEnabled": "false", "urAccepted": "-1", "urSeen": "3", "autoUpgradeIntervalH": "0",
            "crashReportingEnabled": "false", "startBrowser": "false", "announceLANAddresses": "false",
            "setLowPriority": "false",  # run at the same priority as the others
        }
        for key, value in settings.items():
            for e in options.findall(key):
                options.remove(e)
            ET.SubElement(options, key).text = value
        g = root.find("gui")
        g.set("enabled", "true")
        g.set("tls", "false")
        g.find("address").text = f"{LOOPBACK}:{gui}"
        (g.find("apikey") if g.find("apikey") is not None else ET.SubElement(g, "apikey")).text = self.api_key
        for device_id, name, address in ((me, "self", "dynamic"), (other, "peer", f"tcp://{LOOPBACK}:{other_listen}")):
            d = ET.SubElement(root, "device", id=device_id, name=name, compression="metadata", introducer="false",
                              autoAcceptFolders="false")
            ET.SubElement(d, "address").text = address
        f = ET.SubElement(root, "folder", id="bench", label="bench", path=folder, type="sendreceive",
                          rescanIntervalS="3600", fsWatcherEnabled="true", fsWatcherDelayS=str(self.delay))
        ET.SubElement(f, "device", id=me)
        ET.SubElement(f, "device", id=other)
        tree.write(path)

    def start(self, wait_idle=True):
        """wait_idle: timed workloads start once both folders are idle; W6 times from the
        start itself (the first scan of 100,000 files is part of getting them in sync)."""
        for d in (self.a, self.b):
            os.makedirs(os.path.join(d, ".stfolder"), exist_ok=True)
        home_a, id_a = self._generate("A")
        home_b, id_b = self._generate("B")
        ports = [free_port() for _ in range(4)]
        self._configure(home_a, self.a, id_a, id_b, ports[0], ports[1], ports[2])
        self._configure(home_b, self.b, id_b, id_a, ports[2], ports[3], ports[0])
        self.gui_a, self.gui_b = ports[1], ports[3]
        env = dict(os.environ, STNOUPGRADE="1", STNORESTART="1", STNODEFAULTFOLDER="1")
        for name, home in (("A", home_a), ("B", home_b)):
            p = spawn(["syncthing", "serve", f"--home={home}", "--no-browser", "--no-restart", "--no-upgrade",
                       f"--logfile={self.work}/syncthing-{name}.log"], env=env,
                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            self.procs.append(p)
        self.proc_a, self.proc_b = self.procs
        wait_until(lambda: self.check_alive() or self._connected(), 300, "the two Syncthing instances to connect",
                   0.2)
        if wait_idle:
            wait_until(lambda: self._folder_idle(self.gui_a) and self._folder_idle(self.gui_b), 300,
                       "both Syncthing folders to be idle", 0.2)

    def rest(self, port, path, method="GET", timeout=600):
        req = urllib.request.Request(f"http://{LOOPBACK}:{port}{path}", method=method,
                                     headers={"X-API-Key": self.api_key})
        return urllib.request.urlopen(req, timeout=timeout).read()

    def _connected(self):
        try:
            conns = json.loads(self.rest(self.gui_a, "/rest/system/connections", timeout=5))["connections"]
            return any(c.get("connected") for c in conns.values())
        except (OSError, ValueError):
            return False

    def _folder_idle(self, port):
        try:
            return json.loads(self.rest(port, "/rest/db/status?folder=bench", timeout=5)).get("state") == "idle"
        except (OSError, ValueError):
            return False

    def wire(self):
        """A's connection totals (in + out): Syncthing's one hop A <-> B."""
        total = json.loads(self.rest(self.gui_a, "/rest/system/connections", timeout=10))["total"]
        n = total["inBytesTotal"] + total["outBytesTotal"]
        return {"hop": n, "total": n}

    def cpu(self):
        return sum(tree_cpu_seconds(p.pid) for p in self.procs if p.poll() is None)

    def after_change(self):
        pass

    def rescan(self):
        t0 = time.monotonic()
        self.rest(self.gui_a, "/rest/db/scan?folder=bench", "POST")  # answers when the scan is done
        return time.monotonic() - t0, None

    def rss_kib(self):
        return {f"instance {n}": tree_rss_kib(p.pid) for n, p in (("A", self.proc_a), ("B", self.proc_b))
                if p is not None}

    def check_alive(self):
        for n, p in (("A", self.proc_a), ("B", self.proc_b)):
            if p is not None and p.poll() is not None:
                raise BenchFailure(f"Syncthing instance {n} exited with code {p.returncode}")

    def stop(self):
        stop(self.procs)


def open_sessions(port, account, count, timeout=300):
    """Opens `count` FileSync sessions on 127.0.0.1:port, each doing the handshake
    (Hello -> Welcome) and logging in to `account` (Login -> LoginOk). Returns the open
    sockets of the sessions that got LoginOk and a list of problems."""
    import selectors
    sel = selectors.DefaultSelector()
    socks, problems, state = [], [], {}
    deadline = time.monotonic() + timeout
    for i in range(count):
        if time.monotonic() > deadline:
            problems.append(f"only {i} connections opened in {timeout} s")
            break
        try:
            s = socket.create_connection((LOOPBACK, port), 10)
        except OSError as e:
            problems.append(f"connection {i}: {e}")
            break
        s.sendall(cbor.frame(1, 1, {"magic": "FSYN", "version": 1, "software": "filesync-bench"}) +
                  cbor.frame(3, 2, {"account": account, "session": f"load-{i}"}))
        s.setblocking(False)
        state[s] = {"reader": cbor.FrameReader(), "types": []}
        sel.register(s, selectors.EVENT_READ)
        socks.append(s)
    waiting = set(socks)
    while waiting and time.monotonic() < deadline:
        for key, _ in sel.select(timeout=0.1):
            s = key.fileobj
            try:
                data = s.recv(65536)
            except BlockingIOError:
                continue
            except OSError as e:
                data = b""
                problems.append(str(e))
            if not data:
                problems.append("the server closed a load session before LoginOk")
                sel.unregister(s)
                waiting.discard(s)
                continue
            for message in state[s]["reader"].feed(data):
                state[s]["types"].append(message[0])
                if message[0] == 19:
                    problems.append(f"server error: {message[2]}")
            if 5 in state[s]["types"] or 19 in state[s]["types"]:
                waiting.discard(s)
    sel.close()
    if waiting:
        problems.append(f"{len(waiting)} sessions got no LoginOk in {timeout} s")
    good = [s for s in socks if 5 in state[s]["types"]]
    for s in socks:
        if s not in good:
            s.close()
    return good, problems
