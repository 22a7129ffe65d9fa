#!/usr/bin/env python3
"""Runs each budget attack of docs/operations.md ("Budgets") against a real filesync-server
on 127.0.0.1 and prints the server's peak RSS (VmHWM) and the longest wait of another
account's Ping while the attack is under way. Not part of ctest: tests/budgets/attack.sh."""
import hashlib, os, signal, socket, struct, subprocess, sys, tempfile, threading, time

SERVER = sys.argv[1]
MiB = 1024 * 1024


# --- CBOR, as much as the protocol needs -------------------------------------------------
def head(major, n):
    if n < 24:
        return bytes([major << 5 | n])
    for size, code in ((1, 24), (2, 25), (4, 26), (8, 27)):
        if n < 1 << (8 * size):
            return bytes([major << 5 | code]) + n.to_bytes(size, 'big')


def cbor(v):
    if isinstance(v, bool):
        return b'\xf5' if v else b'\xf4'
    if isinstance(v, int):
        return head(0, v)
    if isinstance(v, bytes):
        return head(2, len(v)) + v
    if isinstance(v, str):
        b = v.encode()
        return head(3, len(b)) + b
    if isinstance(v, list):
        return head(4, len(v)) + b''.join(cbor(x) for x in v)
    if isinstance(v, dict):
        return head(5, len(v)) + b''.join(cbor(k) + cbor(x) for k, x in v.items())
    raise TypeError(v)


def frame(payload):
    return struct.pack('>I', len(payload)) + payload


def msg(type_, id_, body):
    return frame(cbor([type_, id_, body]))


HELLO, LOGIN, CREATE, PUTBLOCK, GETBLOCK, COMMIT, PING, PUTBLOCKS, GETCHANGES = 1, 3, 4, 10, 11, 13, 20, 24, 6
HELLO_BODY = {'magic': 'FSYN', 'version': 1, 'software': 'attack'}


class Conn:
    def __init__(self, port):
        self.s = socket.create_connection(('127.0.0.1', port), timeout=60)
        self.buf = b''
        self.id = 100

    def send(self, data):
        self.s.sendall(data)

    def read_frame(self, timeout=60):
        self.s.settimeout(timeout)
        while True:
            if len(self.buf) >= 4:
                n = struct.unpack('>I', self.buf[:4])[0]
                if len(self.buf) >= 4 + n:
                    f, self.buf = self.buf[4:4 + n], self.buf[4 + n:]
                    return f
            chunk = self.s.recv(1 << 20)
            if not chunk:
                return None
            self.buf += chunk

    def call(self, type_, body, timeout=60):
        self.id += 1
        self.send(msg(type_, self.id, body))
        # replies carry the id as the second item: [type, id, body]
        want = cbor(self.id)
        while True:
            f = self.read_frame(timeout)
            if f is None:
                return None
            t = f[1] if f[1] < 24 else f[2]
            rest = f[2:] if f[1] < 24 else f[3:]
            if rest.startswith(want) or (t == 19 and rest.startswith(b'\x00')):  # Error{id 0}
                return t, f

    def login(self, acct=None):
        """A new account, or `acct` (accounts created per address are limited)."""
        self.call(HELLO, HELLO_BODY)
        if acct:
            return self.call(LOGIN, {'account': acct, 'session': 'attack'})
        return self.call(CREATE, {'session': 'attack'})

    def close(self):
        self.s.close()


def account_id(login_ok):
    # LoginOk{account: "...", ...}: the text after the "account" key.
    f = login_ok[1]
    at = f.index(b'account') + 7
    n = f[at] & 0x1f
    if n == 24:  # a one-byte length follows
        return f[at + 2:at + 2 + f[at + 1]].decode()
    return f[at + 1:at + 1 + n].decode()


class Server:
    def __init__(self, extra=(), flags=()):
        self.dir = tempfile.mkdtemp(prefix='attack-')
        # SIGXFSZ ignored (inherited through exec): past RLIMIT_FSIZE a write fails instead
        self.p = subprocess.Popen(['prlimit', *extra, '--', SERVER, '--port', '0', '--data', self.dir,
                                   '--listen', '127.0.0.1', *flags],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                  preexec_fn=lambda: signal.signal(signal.SIGXFSZ, signal.SIG_IGN))
        self.port = None
        deadline = time.time() + 30
        while time.time() < deadline and self.port is None:
            line = self.p.stdout.readline()
            if 'listening on' in line:
                self.port = int(line.strip().rsplit(':', 1)[1])
        if self.port is None:
            raise RuntimeError('the server did not start')
        self.log = []
        threading.Thread(target=lambda: self.log.extend(self.p.stderr), daemon=True).start()

    def status(self, key):
        for line in open(f'/proc/{self.p.pid}/status'):
            if line.startswith(key):
                return int(line.split()[1]) // 1024  # MiB
        return 0

    def cpu_seconds(self):
        fields = open(f'/proc/{self.p.pid}/stat').read().rsplit(')', 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK')

    def stop(self):
        self.p.terminate()
        try:
            self.p.wait(30)
        except subprocess.TimeoutExpired:
            self.p.kill()


class Watcher:
    """Another account pinging every 20 ms; the longest wait for its Pong."""

    def __init__(self, port):
        self.c = Conn(port)
        self.c.login()
        self.longest = 0.0
        self.failed = False
        self.running = True
        self.t = threading.Thread(target=self.run, daemon=True)
        self.t.start()

    def run(self):
        while self.running:
            t0 = time.time()
            r = self.c.call(PING, {}, timeout=120)
            if r is None:
                self.failed = True
                return
            self.longest = max(self.longest, time.time() - t0)
            time.sleep(0.02)

    def stop(self):
        self.running = False
        self.t.join(130)
        return self.longest


def report(name, server, watcher, note=''):
    stall = watcher.stop()
    print(f'{name:<44} peak RSS {server.status("VmHWM"):>5} MiB   longest Ping {stall * 1000:>7.0f} ms'
          f'{"  (watcher lost)" if watcher.failed else ""}  {note}', flush=True)


def wait_closed(c, seconds):
    end = time.time() + seconds
    try:
        while time.time() < end:
            if c.read_frame(timeout=max(0.1, end - time.time())) is None:
                return True
    except (socket.timeout, ConnectionError):
        pass
    return False


def attack_a():
    srv = Server()
    w = Watcher(srv.port)
    zeros = bytes(16 * MiB)
    z = subprocess.run(['zstd', '-1', '-c'], input=zeros, capture_output=True).stdout
    h = hashlib.sha256(zeros).digest()
    acct = account_id(Conn(srv.port).login())
    conns = []
    for _ in range(8):  # 8 connections, each a PutBlocks of 64 frames of 16 MiB each
        c = Conn(srv.port)
        c.login(acct)
        blocks = [[h, 1, 16 * MiB, len(z)] for _ in range(64)]
        c.send(frame(cbor([PUTBLOCKS, 7, {'blocks': blocks, 'data': z * 64}])))
        conns.append(c)
    closed = sum(wait_closed(c, 10) for c in conns)
    report('a. PutBlocks of 64 x 16 MiB zstd frames x 8', srv, w, f'{closed}/8 closed')
    srv.stop()


def attack_b(peers=4):
    srv = Server()
    w = Watcher(srv.port)
    owner = Conn(srv.port)
    acct = account_id(owner.login())
    big = os.urandom(16 * MiB)
    owner.call(PUTBLOCK, {'hash': hashlib.sha256(big).digest(), 'codec': 0, 'size': len(big), 'data': big})
    greedy = []
    for _ in range(peers):
        g = socket.create_connection(('127.0.0.1', srv.port))
        g.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
        data = msg(HELLO, 1, HELLO_BODY) + msg(LOGIN, 2, {'account': acct, 'session': 'g'})
        data += b''.join(msg(GETBLOCK, 3 + i, {'hash': hashlib.sha256(big).digest()}) for i in range(8))
        pad = msg(GETCHANGES, 20, {'since': 0, 'limit': 10, 'pad': b'p' * (1000 * 1000)})
        g.setblocking(False)
        sent, want = 0, data + pad * 40
        end = time.time() + 5
        while sent < len(want) and time.time() < end:  # as much as the server takes in 5 s
            try:
                sent += g.send(want[sent:sent + (1 << 20)])
            except BlockingIOError:
                time.sleep(0.01)
            except ConnectionError:
                break
        greedy.append((g, sent, len(want)))
    time.sleep(2)
    note = 'sent/asked ' + ', '.join(f'{s // MiB}/{n // MiB} MiB' for _, s, n in greedy)
    note += f'; {sum("replies not read while" in l for l in srv.log)} closed for the replies budget'
    report(f'{"b" if peers == 4 else "m"}. {peers} peers x 8 GetBlock(16 MiB) + 40 x 1 MB, unread', srv, w, note)
    srv.stop()


def attack_c():
    srv = Server()
    w = Watcher(srv.port)
    conns = []
    for _ in range(8):
        c = Conn(srv.port)
        body = b'\x83\x18\x18\x01\xa1\x66blocks\x9a' + struct.pack('>I', 16 * MiB - 20) + b'\x80' * (16 * MiB - 20)
        try:
            c.send(frame(body))
        except ConnectionError:
            pass
        conns.append(c)
    closed = sum(wait_closed(c, 10) for c in conns)
    report('c. 16 MiB block frame of arrays before Hello x 8', srv, w, f'{closed}/8 closed')
    srv.stop()


def stalled_peers(name, what, flags, timeout, peers=200):
    """`peers` logged-in connections that each send `what` after the login, then nothing:
    all must be closed by the server within `timeout` seconds."""
    srv = Server(flags=flags)
    w = Watcher(srv.port)
    acct = account_id(Conn(srv.port).login())
    conns = []
    for i in range(peers):
        c = Conn(srv.port)
        c.login(acct)
        if what:
            c.send(what)
        conns.append(c)
    t0 = time.time()
    end = t0 + timeout + 30
    open_ = list(conns)
    while open_ and time.time() < end:
        still = []
        for c in open_:
            try:
                c.s.settimeout(0.01)
                chunk = c.s.recv(1 << 16)
                if chunk:
                    still.append(c)
            except socket.timeout:
                still.append(c)
            except ConnectionError:
                pass
        open_ = still
    took = time.time() - t0
    report(name, srv, w, f'{peers - len(open_)}/{peers} closed, the last {took:.1f} s after the attack began')
    srv.stop()


# a frame announced at 16 MiB, 1 MiB of it sent, the rest never
PARTIAL = struct.pack('>I', 16 * MiB) + b'\x83\x0a\x01' + b'x' * MiB


def attack_d():
    srv = Server()
    w = Watcher(srv.port)
    acct = account_id(Conn(srv.port).login())
    conns = []
    for i in range(200):
        c = Conn(srv.port)
        c.login(acct)
        c.send(PARTIAL)
        conns.append(c)
    time.sleep(2)
    report('d. 200 logged-in peers, 1 MiB of a 16 MiB frame', srv, w,
           'closed after the frame timeout (5 min), not waited for')
    srv.stop()


def attack_m():
    attack_b(12)


def attack_i():
    stalled_peers('i. d with --frame-timeout 5', PARTIAL, ('--frame-timeout', '5'), 5)


def attack_j():
    stalled_peers('j. 200 logged-in peers, 2 bytes of a header', b'\x00\x01', ('--header-timeout', '2'), 2)


def attack_k():
    stalled_peers('k. 200 logged-in peers, silent', b'', ('--idle-timeout', '5'), 5)


def attack_l():
    """Full disk: nothing can be written (RLIMIT_FSIZE of the running server set to 1 byte)."""
    srv = Server()
    w = Watcher(srv.port)
    owner = Conn(srv.port)
    acct = account_id(owner.login())
    subprocess.run(['prlimit', '--pid', str(srv.p.pid), '--fsize=1:unlimited'], check=True)
    ok = 0
    t0 = time.time()
    for _ in range(100):
        c = Conn(srv.port)
        r = c.login(acct)
        ok += r is not None and r[0] == 5  # LoginOk
        c.close()
    took = time.time() - t0
    created = Conn(srv.port).login()
    commit = owner.call(COMMIT, {'ops': [{'op': 0, 'path': 'd', 'kind': 1, 'base': 0, 'size': 0, 'mtime': 0,
                                           'mode': 493}]})
    subprocess.run(['prlimit', '--pid', str(srv.p.pid), '--fsize=unlimited:unlimited'], check=True)
    again = owner.call(COMMIT, {'ops': [{'op': 0, 'path': 'd', 'kind': 1, 'base': 0, 'size': 0, 'mtime': 0,
                                          'mode': 493}]})
    code = lambda r: 'none' if r is None else ('error' if r[0] == 19 else f'type {r[0]}')
    report('l. full disk: 100 logins, a CreateAccount, a Commit', srv, w,
           f'{ok}/100 logged in ({took:.1f} s); CreateAccount: {code(created)}; Commit: {code(commit)}; '
           f'Commit after: {code(again)}')
    srv.stop()


def attack_e():
    srv = Server()
    c = Conn(srv.port)
    c.login()
    folders, files = 100, 1000
    for d in range(folders):
        ops = [{'op': 0, 'path': f'd{d}/f{i}', 'kind': 0, 'base': 0, 'size': 0, 'mtime': 0, 'mode': 420}
               for i in range(files)]
        c.call(COMMIT, {'ops': ops}, timeout=120)
    w = Watcher(srv.port)
    # every folder "dN" is at version 1 + N * (files + 1): made by the first put under it
    ops = [{'op': 2, 'from': f'd{d}', 'path': f'm{d}', 'kind': 1, 'base': 1 + d * (files + 1)} for d in range(folders)]
    t0 = time.time()
    r = c.call(COMMIT, {'ops': ops}, timeout=300)
    took = time.time() - t0
    report(f'e. 1 Commit moving {folders} folders of {files} files', srv, w,
           f'commit took {took * 1000:.0f} ms, {r[1].count(bytes([0x66]) + b"status" + bytes([2])) if r else "?"} ops rejected')
    srv.stop()


def attack_g(files=10000):
    srv = Server()
    c = Conn(srv.port)
    c.login()
    for start in range(0, files, 2000):
        ops = [{'op': 0, 'path': f'd/f{i}', 'kind': 0, 'base': 0, 'size': 0, 'mtime': 0, 'mode': 420}
               for i in range(start, min(files, start + 2000))]
        c.call(COMMIT, {'ops': ops}, timeout=300)
    w = Watcher(srv.port)
    time.sleep(0.5)
    t0 = time.time()
    # "d" is version 1: made by the first put under it
    r = c.call(COMMIT, {'ops': [{'op': 2, 'from': 'd', 'path': 'm', 'kind': 1, 'base': 1}]}, timeout=300)
    took = time.time() - t0
    time.sleep(0.5)
    applied = r is not None and (bytes([0x66]) + b'status' + bytes([0])) in r[1]
    report(f'{"g" if files == 10000 else "h"}. a folder of {files} files moved alone ({2 * files + 2} rows)', srv, w,
           f'commit took {took * 1000:.0f} ms, {"applied" if applied else "NOT applied"}')
    srv.stop()


def attack_h():
    attack_g(50000)


def attack_f():
    srv = Server(('--nofile=64',))
    w = Watcher(srv.port)
    conns = []
    for _ in range(100):
        try:
            conns.append(socket.create_connection(('127.0.0.1', srv.port), timeout=2))
        except OSError:
            break
    cpu0 = srv.cpu_seconds()
    time.sleep(3)
    cpu = (srv.cpu_seconds() - cpu0) / 3
    lines = sum('cannot accept' in l for l in srv.log)
    report('f. 100 connections, 64 descriptors', srv, w, f'server CPU {cpu * 100:.0f} %, {lines} log line(s)')
    srv.stop()


for attack in sys.argv[2:] or ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm']:
    globals()['attack_' + attack]()
