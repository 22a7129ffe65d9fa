"""The three systems under test, each as two computers A and B on 127.0.0.1.

FileSync: filesync-server plus two `filesync --headless` clients (A -> server -> B).
rsync:    an rsync daemon on 127.0.0.1; a sync is `rsync A/ daemon` then `rsync daemon B/`
          (the same extra hop as FileSync; rsync has no watcher, so the sync is started
          right after the change).
Syncthing: two instances with their own homes, discovery (global and local), relays, NAT
          traversal, usage reporting, crash reporting and upgrades switched off in the
          config before the first start; devices introduced with explicit
          tcp://127.0.0.1 addresses.

Every process is started here and stopped by stop(); traffic stays on 127.0.0.1.
"""
import os
import re
import signal
import socket
import subprocess
import time
import urllib.request
import xml.etree.ElementTree as ET

import cbor


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate, timeout, what, interval=0.01):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")


def port_open(port):
    try:
        socket.create_connection(("127.0.0.1", port), 1).close()
        return True
    except OSError:
        return False


def peak_rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


class FileSync:
    name = "FileSync"
    marker = ".filesync"

    def __init__(self, bindir, work, interval=3600):
        self.server_bin = os.path.join(bindir, "server", "filesync-server")
        self.client_bin = os.path.join(bindir, "desktop", "filesync")
        self.work = work
        self.a = os.path.join(work, "A")
        self.b = os.path.join(work, "B")
        self.interval = interval
        self.procs = []

    def version(self):
        out = subprocess.run([self.client_bin, "--version"], capture_output=True, text=True).stdout.strip()
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                              cwd=os.path.dirname(__file__)).stdout.strip()
        return f"{out} ({head})"

    def _client(self, folder, name, account=None):
        args = [self.client_bin, "--headless", "127.0.0.1", str(self.port), folder, str(self.interval)]
        if account:
            args.append(account)
        log = open(os.path.join(self.work, f"client-{name}.log"), "w")
        env = dict(os.environ, FILESYNC_SESSION_NAME=name, QT_LOGGING_RULES="filesync.protocol=false")
        p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=log, text=True, env=env)
        self.procs.append(p)
        line = wait_until(lambda: p.stdout.readline(), 30, f"client {name} to print its account", 0)
        m = re.match(r"account: ([a-z2-7]{32})", line)
        if not m:
            raise RuntimeError(f"client {name} printed {line!r}")
        return p, m.group(1)

    def start(self):
        os.makedirs(self.a, exist_ok=True)
        os.makedirs(self.b, exist_ok=True)
        self.metrics_port = free_port()
        self.server = subprocess.Popen(
            [self.server_bin, "--port", "0", "--listen", "127.0.0.1", "--data", os.path.join(self.work, "server"),
             "--metrics", f"127.0.0.1:{self.metrics_port}"],
            stdout=subprocess.PIPE, stderr=open(os.path.join(self.work, "server.log"), "w"), text=True)
        self.procs.append(self.server)
        line = self.server.stdout.readline()
        self.port = int(line.strip().rsplit(":", 1)[1])
        self.client_a, self.account = self._client(self.a, "A")
        self.client_b, _ = self._client(self.b, "B", self.account)

    def settle(self):
        pass  # live: the watcher and the server's push do the work

    def sync(self):
        pass  # nothing to start by hand

    def wire_bytes(self):
        text = urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=5).read().decode()
        total = 0
        for metric in ("filesync_bytes_received_total", "filesync_bytes_sent_total"):
            total += int(re.search(rf"^{metric} (\d+)$", text, re.M).group(1))
        return total

    def rescan_seconds(self):
        """Asks A for a full scan (SIGUSR1) and reads the cycle's own timing from its log."""
        log_path = os.path.join(self.work, "client-A.log")
        before = open(log_path).read().count("cycle done in")
        self.client_a.send_signal(signal.SIGUSR1)

        def done():
            lines = [l for l in open(log_path).read().splitlines() if "cycle done in" in l]
            return lines[-1] if len(lines) > before else None
        line = wait_until(done, 60, "the rescan to finish")
        return int(re.search(r"cycle done in (\d+) ms", line).group(1)) / 1000.0

    def rss_kib(self):
        return {"client A": peak_rss_kib(self.client_a.pid), "client B": peak_rss_kib(self.client_b.pid),
                "server": peak_rss_kib(self.server.pid)}

    def stop(self):
        for p in self.procs:
            if p.poll() is None:
                p.terminate()
        for p in self.procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()


class Rsync:
    name = "rsync"
    marker = None

    def __init__(self, work):
        self.work = work
        self.a = os.path.join(work, "A")
        self.b = os.path.join(work, "B")
        self.store = os.path.join(work, "daemon")
        self.bytes = 0

    def version(self):
        return subprocess.run(["rsync", "--version"], capture_output=True, text=True).stdout.splitlines()[0]

    def start(self):
        for d in (self.a, self.b, self.store):
            os.makedirs(d, exist_ok=True)
        self.port = free_port()
        conf = os.path.join(self.work, "rsyncd.conf")
        with open(conf, "w") as f:
            f.write(f"use chroot = no\nmax connections = 8\npid file = {self.work}/rsyncd.pid\n"
                    f"[m]\npath = {self.store}\nread only = no\nuid = {os.getuid()}\ngid = {os.getgid()}\n")
        self.daemon = subprocess.Popen(["rsync", "--daemon", "--no-detach", f"--config={conf}", f"--port={self.port}",
                                        "--address=127.0.0.1"], stderr=open(os.path.join(self.work, "rsyncd.log"), "w"))
        wait_until(lambda: port_open(self.port), 10, "rsyncd")

    def _run(self, src, dst):
        out = subprocess.run(["rsync", "-a", "--delete", "--stats", src, dst], capture_output=True, text=True, check=True)
        sent = int(re.search(r"Total bytes sent: ([\d,]+)", out.stdout).group(1).replace(",", ""))
        received = int(re.search(r"Total bytes received: ([\d,]+)", out.stdout).group(1).replace(",", ""))
        self.bytes += sent + received

    def settle(self):
        pass

    def sync(self):
        url = f"rsync://127.0.0.1:{self.port}/m/"
        self._run(self.a + "/", url)
        self._run(url, self.b + "/")

    def wire_bytes(self):
        return self.bytes

    def rescan_seconds(self):
        t = time.monotonic()
        self._run(self.a + "/", f"rsync://127.0.0.1:{self.port}/m/")
        return time.monotonic() - t

    def rss_kib(self):
        return {}

    def stop(self):
        self.daemon.terminate()
        self.daemon.wait(10)


class Syncthing:
    name = "Syncthing"
    marker = ".stfolder"

    def __init__(self, work, watcher_delay_s=1):
        self.work = work
        self.a = os.path.join(work, "A")
        self.b = os.path.join(work, "B")
        self.delay = watcher_delay_s
        self.procs = []
        self.api_key = "filesync-bench-key"

    def version(self):
        return subprocess.run(["syncthing", "--version"], capture_output=True, text=True).stdout.split('"')[0].strip()

    def _generate(self, name):
        home = os.path.join(self.work, f"home-{name}")
        subprocess.run(["syncthing", "generate", f"--home={home}", "--no-default-folder", "--skip-port-probing"],
                       capture_output=True, check=True, env=dict(os.environ, STNODEFAULTFOLDER="1"))
        device = subprocess.run(["syncthing", "serve", f"--home={home}", "--device-id"], capture_output=True,
                                text=True, check=True).stdout.strip()
        return home, device

    def _configure(self, home, folder, me, other, listen, gui, other_listen):
        path = os.path.join(home, "config.xml")
        tree = ET.parse(path)
        root = tree.getroot()
        for f in root.findall("folder"):
            root.remove(f)
        options = root.find("options")
        settings = {"listenAddress": f"tcp://127.0.0.1:{listen}", "globalAnnounceEnabled": "false",
                    "localAnnounceEnabled": "false", "relaysEnabled": "false", "natEnabled": "false",
                    "urAccepted": "-1", "urSeen": "3", "autoUpgradeIntervalH": "0", "crashReportingEnabled": "false",
                    "startBrowser": "false", "announceLANAddresses": "false"}
        for key, value in settings.items():
            for e in options.findall(key):
                options.remove(e)
            ET.SubElement(options, key).text = value
        g = root.find("gui")
        g.set("enabled", "true")
        g.find("address").text = f"127.0.0.1:{gui}"
        (g.find("apikey") if g.find("apikey") is not None else ET.SubElement(g, "apikey")).text = self.api_key
        for d in root.findall("device"):
            root.remove(d)
        for device_id, name, address in ((me, "self", "dynamic"), (other, "peer", f"tcp://127.0.0.1:{other_listen}")):
            d = ET.SubElement(root, "device", id=device_id, name=name, compression="metadata", introducer="false")
            ET.SubElement(d, "address").text = address
        f = ET.SubElement(root, "folder", id="bench", label="bench", path=folder, type="sendreceive",
                          rescanIntervalS="3600", fsWatcherEnabled="true", fsWatcherDelayS=str(self.delay))
        ET.SubElement(f, "device", id=me)
        ET.SubElement(f, "device", id=other)
        tree.write(path)

    def start(self):
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
            p = subprocess.Popen(["syncthing", "serve", f"--home={home}", "--no-browser", "--no-restart",
                                  f"--logfile={self.work}/syncthing-{name}.log"], env=env,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            self.procs.append(p)
        self.proc_a, self.proc_b = self.procs
        wait_until(lambda: self._connected(), 60, "the two Syncthing instances to connect", 0.2)

    def _rest(self, port, path, method="GET"):
        req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method,
                                     headers={"X-API-Key": self.api_key})
        return urllib.request.urlopen(req, timeout=60).read()

    def _connected(self):
        try:
            import json
            conns = json.loads(self._rest(self.gui_a, "/rest/system/connections"))["connections"]
            return any(c.get("connected") for c in conns.values())
        except Exception:
            return False

    def settle(self):
        pass

    def sync(self):
        pass

    def wire_bytes(self):
        import json
        total = json.loads(self._rest(self.gui_a, "/rest/system/connections"))["total"]
        return total["inBytesTotal"] + total["outBytesTotal"]

    def rescan_seconds(self):
        t = time.monotonic()
        self._rest(self.gui_a, "/rest/db/scan?folder=bench", "POST")  # returns when the scan is done
        return time.monotonic() - t

    def rss_kib(self):
        return {"instance A": peak_rss_kib(self.proc_a.pid), "instance B": peak_rss_kib(self.proc_b.pid)}

    def stop(self):
        for p in self.procs:
            p.terminate()
        for p in self.procs:
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                p.kill()


def open_sessions(port, account, count):
    """Opens `count` logged-in FileSync sessions (handshake + login) and returns the sockets."""
    socks = []
    for i in range(count):
        s = socket.create_connection(("127.0.0.1", port), 10)
        s.sendall(cbor.frame(1, 1, {"magic": "FSYN", "major": 1, "minor": 0, "software": "bench"}) +
                  cbor.frame(3, 2, {"account": account, "session": f"load-{i}"}))
        socks.append(s)
    for s in socks:  # each answers Welcome and LoginOk
        got = b""
        deadline = time.monotonic() + 30
        while got.count(b"head") < 1 and time.monotonic() < deadline:
            got += s.recv(4096)
    return socks
