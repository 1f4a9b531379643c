"""Fixtures for integration tests: real redis-servers and a real redkube-proxy.

Every process is started on 127.0.0.1 with a free port, waited for by an
actual PING (never a sleep), and stopped by its PID.
"""
import json
import os
import signal
import socket
import subprocess
import tempfile
import time

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PROXY_BIN = os.path.join(os.environ.get("REDKUBE_BUILD_DIR", os.path.join(REPO, "build")), "bin", "redkube-proxy")
SLOT_RANGES = ([[0, 5460]], [[5461, 10922]], [[10923, 16383]])


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RespError(Exception):
    """An error reply. Returned (not raised) by RespConnection.command."""

    def __eq__(self, other):
        return isinstance(other, RespError) and str(self) == str(other)

    def __hash__(self):
        return hash(str(self))

    def __repr__(self):
        return "RespError(%r)" % str(self)


class RespConnection:
    """A minimal RESP2 client that keeps error replies as values, so that a
    test can compare the exact replies of two servers."""

    def __init__(self, port, host="127.0.0.1", timeout=10.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.file = self.sock.makefile("rb")

    def close(self):
        self.file.close()
        self.sock.close()

    def send_raw(self, data):
        self.sock.sendall(data)

    @staticmethod
    def encode(*args):
        out = [b"*%d\r\n" % len(args)]
        for a in args:
            if not isinstance(a, bytes):
                a = str(a).encode()
            out.append(b"$%d\r\n%s\r\n" % (len(a), a))
        return b"".join(out)

    def command(self, *args):
        self.sock.sendall(self.encode(*args))
        return self.read()

    def pipeline(self, commands):
        self.sock.sendall(b"".join(self.encode(*c) for c in commands))
        return [self.read() for _ in commands]

    def read(self):
        line = self.file.readline()
        if not line:
            raise ConnectionError("connection closed")
        kind, rest = line[:1], line[1:-2]
        if kind == b"+":
            return rest
        if kind == b"-":
            return RespError(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            if n < 0:
                return None
            data = self.file.read(n + 2)
            return data[:-2]
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self.read() for _ in range(n)]
        raise AssertionError("unexpected reply line %r" % line)

    def closed_by_peer(self):
        """True if the server closed the connection (reads EOF)."""
        try:
            return self.file.read(1) == b""
        except (ConnectionResetError, socket.timeout):
            return False


def stop_process(proc, name, timeout_s=15.0, must_stop=True):
    """SIGTERM and wait; after the timeout SIGKILL, and fail if it had to stop
    in time (never leaves the process behind)."""
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        if must_stop:
            raise AssertionError("%s did not stop on SIGTERM within %.0f s" % (name, timeout_s))


# Every process the helpers below start, so that none outlives the test run
# even when a test fails halfway through building its cluster.
STARTED = []


def spawn(args, cgroup=None, **kwargs):
    """Popen, remembered in STARTED; cgroup: a Placement of the test's
    Partition (partition.py), the process is then born in that group."""
    if cgroup is not None:
        args = cgroup.wrap(args)
    proc = subprocess.Popen(args, **kwargs)
    STARTED.append(proc)
    return proc


def stop_started(pid):
    """SIGKILLs and reaps the process `pid` if this run started it (True)."""
    for p in STARTED:
        if p.pid == pid and p.poll() is None:
            p.kill()
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                pass
            return True
    return False


@pytest.fixture
def partition():
    """A Partition (partition.py) of the test's own: groups to start processes
    in, cut()/heal() between them and servers' ports; skipped, saying why,
    where nftables or cgroup v2 cannot be used (a failure instead with
    REDKUBE_REQUIRE_PARTITION=1)."""
    from partition import Partition, PartitionUnavailable

    try:
        p = Partition(stop=stop_started)
    except PartitionUnavailable as e:
        if os.environ.get("REDKUBE_REQUIRE_PARTITION") == "1":
            pytest.fail("partitions are required (REDKUBE_REQUIRE_PARTITION=1): %s" % e)
        pytest.skip("network partitions unavailable: %s" % e)
    try:
        yield p
    finally:
        p.close()


@pytest.fixture(scope="session", autouse=True)
def no_process_left_behind():
    yield
    left = [p for p in STARTED if p.poll() is None]
    for p in left:
        p.kill()
        p.wait()
    if left:
        print("\nstopped %d process(es) that tests left running: %s"
              % (len(left), ", ".join(str(p.args[0]) for p in left)))


def write_secret(path, text):
    """A password or token file, as the binaries take them."""
    with open(path, "w") as f:
        f.write(text + "\n")
    return path


def wait_for_ping(port, password=None, deadline_s=10.0):
    deadline = time.monotonic() + deadline_s
    last = None
    while time.monotonic() < deadline:
        try:
            c = RespConnection(port, timeout=1.0)
            try:
                if password is not None:
                    c.command("AUTH", password)
                last = c.command("PING")
                if last == b"PONG":
                    return
            finally:
                c.close()
        except OSError as e:
            last = e
        time.sleep(0.02)
    raise AssertionError("nothing answered PING on port %d: %r" % (port, last))


class RedisServer:
    """A redis-server on a free port; start() after kill() reuses port, dir
    and cgroup (a Placement of the test's Partition)."""

    def __init__(self, workdir, password=None, persistent=False, cgroup=None):
        self.cgroup = cgroup
        self.port = free_port()
        self.dir = tempfile.mkdtemp(dir=workdir, prefix="redis-%d-" % self.port)
        self.password = password
        self.persistent = persistent
        self.proc = None
        self.start()

    def start(self):
        args = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                "--save", "", "--dir", self.dir,
                # Replicas start syncing at once instead of waiting 5 s for
                # more replicas to share a diskless transfer.
                "--repl-diskless-sync-delay", "0",
                "--logfile", os.path.join(self.dir, "redis.log")]
        if self.persistent:
            args += ["--appendonly", "yes", "--appendfsync", "always"]
        else:
            args += ["--appendonly", "no"]
        if self.password:
            args += ["--requirepass", self.password, "--masterauth", self.password]
        self.proc = spawn(args, stdout=subprocess.DEVNULL, cgroup=self.cgroup)
        wait_for_ping(self.port, self.password)

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def stop(self):
        stop_process(self.proc, "redis-server " + self.address, timeout_s=10)

    @property
    def address(self):
        return "127.0.0.1:%d" % self.port


def start_replica(workdir, master, cgroup=None):
    """A redis-server replicating `master`, returned once its link is up and
    it has the master's data set (INFO replication says so)."""
    replica = RedisServer(workdir, cgroup=cgroup)
    c = RespConnection(replica.port)
    assert c.command("REPLICAOF", "127.0.0.1", master.port) == b"OK"

    def synced():
        info = c.command("INFO", "replication").decode()
        return "master_link_status:up" in info and "master_sync_in_progress:0" in info
    wait_until(synced, 15, "replica of %s in sync" % master.address)
    c.close()
    return replica


def topology_doc(servers, epoch=1, cluster="test", replicas=None):
    """replicas: per shard, a list of RedisServer (none by default)."""
    return {
        "cluster": cluster,
        "epoch": epoch,
        "shards": [
            {"id": "shard-%d" % i, "master": s.address,
             "replicas": [r.address for r in (replicas[i] if replicas else [])],
             "slots": SLOT_RANGES[i]}
            for i, s in enumerate(servers)
        ],
        "migrations": [],
    }


class Proxy:
    """redkube-proxy on a free port, routing by a topology file written from
    `servers`, or (servers=None) following `configserver` for `cluster`."""

    def __init__(self, workdir, servers, extra_args=(), password=None, wait=True,
                 configserver=None, cluster=None, replicas=None, env=None, wrapper=(), cgroup=None):
        self.port = free_port()
        self.admin_port = free_port()
        self.workdir = workdir
        self.password = password
        # wrapper: a command that execs the proxy (same PID), e.g. into a
        # mount namespace with a /etc/hosts of the test's.
        args = list(wrapper) + [PROXY_BIN, "--port", str(self.port), "--bind", "127.0.0.1",
                "--threads", "2", "--admin-port", str(self.admin_port)]
        if servers is not None:
            self.topology_path = os.path.join(workdir, "topology-%d.json" % self.port)
            self.write_topology(topology_doc(servers, replicas=replicas))
            args += ["--topology", self.topology_path]
        else:
            args += ["--configserver", configserver, "--cluster", cluster]
        if password:
            args += ["--password-file",
                     write_secret(os.path.join(workdir, "password-%d" % self.port), password)]
        self.log_path = os.path.join(workdir, "proxy-%d.log" % self.port)
        self.log = open(self.log_path, "wb")
        self.proc = spawn(list(args) + list(extra_args), stdout=self.log,
                          stderr=subprocess.STDOUT, env=env, cgroup=cgroup)
        if wait:
            wait_for_ping(self.port, password)

    def write_topology(self, doc):
        tmp = self.topology_path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(doc, f)
        os.replace(tmp, self.topology_path)

    def connect(self):
        return RespConnection(self.port)

    def log_text(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self):
        stop_process(self.proc, "redkube-proxy", must_stop=False)
        self.log.close()


@pytest.fixture(scope="module")
def workdir():
    with tempfile.TemporaryDirectory(prefix="redkube-it-") as d:
        yield d


@pytest.fixture(scope="module")
def shards(workdir):
    servers = [RedisServer(workdir) for _ in range(3)]
    yield servers
    for s in servers:
        s.stop()


@pytest.fixture(scope="module")
def reference(workdir):
    """One plain redis-server: what the proxy's answers are compared with."""
    server = RedisServer(workdir)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def proxy(workdir, shards):
    p = Proxy(workdir, shards)
    yield p
    p.stop()


@pytest.fixture
def flushed(proxy, shards, reference):
    """Empties every server before a test."""
    for s in list(shards) + [reference]:
        c = RespConnection(s.port)
        c.command("FLUSHALL")
        c.command("SCRIPT", "FLUSH")
        c.command("FUNCTION", "FLUSH")
        c.close()
    return proxy


@pytest.fixture
def pc(flushed):
    """A raw connection through the proxy, on emptied servers."""
    c = flushed.connect()
    yield c
    c.close()


@pytest.fixture
def rc(reference, flushed):
    """A raw connection to the reference redis-server, emptied."""
    c = RespConnection(reference.port)
    yield c
    c.close()


def crc16(data):
    """CRC16-CCITT (XMODEM), as Redis Cluster uses for key slots."""
    crc = 0
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return crc


def key_slot(key):
    if isinstance(key, str):
        key = key.encode()
    start = key.find(b"{")
    if start >= 0:
        end = key.find(b"}", start + 1)
        if end > start + 1:
            key = key[start + 1:end]
    return crc16(key) % 16384


def shard_of(key):
    slot = key_slot(key)
    return next(i for i, r in enumerate(SLOT_RANGES) if r[0][0] <= slot <= r[0][1])


def info_field(conn, field):
    """One field of INFO through `conn` (a RespConnection), or None."""
    for line in conn.command("INFO").decode().splitlines():
        if line.startswith(field + ":"):
            return line.split(":", 1)[1]
    return None


def keys_on_shard(shard, count, prefix="k"):
    """`count` distinct key names that live on `shard` (0..2)."""
    out, i = [], 0
    while len(out) < count:
        k = "%s%d" % (prefix, i)
        if shard_of(k) == shard:
            out.append(k)
        i += 1
    return out


# ---------------------------------------------------------------- control plane

CONFIGSERVER_BIN = os.path.join(os.environ.get("REDKUBE_BUILD_DIR", os.path.join(REPO, "build")), "bin", "redkube-configserver")


def http(method, url, body=None, token=None, timeout=30.0):
    """(status, parsed JSON or text) of one HTTP request."""
    import urllib.error
    import urllib.request

    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            status, text = resp.status, resp.read().decode()
    except urllib.error.HTTPError as e:
        status, text = e.code, e.read().decode()
    try:
        return status, json.loads(text) if text else None
    except ValueError:
        return status, text


def proc_status_kb(pid, field):
    """A /proc/PID/status figure in kB ("VmRSS", "VmSize")."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise AssertionError("no %s for pid %d" % (field, pid))


def wait_until(predicate, deadline_s, what, step_s=0.02):
    """Polls `predicate` until it returns something truthy; fails naming `what`."""
    deadline = time.monotonic() + deadline_s
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(step_s)
    raise AssertionError("timed out after %.1f s waiting for %s (last: %r)" % (deadline_s, what, last))


class Etcd:
    """A single-member etcd on loopback with a data dir of its own."""

    def __init__(self, workdir, cgroup=None):
        self.cgroup = cgroup
        self.port = free_port()
        self.peer_port = free_port()
        self.dir = tempfile.mkdtemp(dir=workdir, prefix="etcd-")
        self.proc = None
        self.start()

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    def start(self):
        peer = "http://127.0.0.1:%d" % self.peer_port
        args = ["etcd", "--name", "test", "--data-dir", os.path.join(self.dir, "data"),
                "--listen-client-urls", self.url, "--advertise-client-urls", self.url,
                "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
                "--initial-cluster", "test=" + peer]
        self.log = open(os.path.join(self.dir, "etcd.log"), "ab")
        self.proc = spawn(args, stdout=self.log, stderr=subprocess.STDOUT, cgroup=self.cgroup)
        wait_until(lambda: self._healthy(), 20, "etcd health")

    def _healthy(self):
        try:
            status, body = http("GET", self.url + "/health", timeout=1)
            return status == 200 and body.get("health") == "true"
        except OSError:
            return False

    def stop(self):
        stop_process(self.proc, "etcd")
        self.log.close()


class ConfigServer:
    """redkube-configserver on a free port; started waits for /healthz to
    say OK (wait_healthy=False: only for it to answer). cgroup: a Placement
    of the test's Partition, kept across kill()/start()."""

    def __init__(self, workdir, etcd, extra_args=(), password=None, token=None, wait_healthy=True,
                 cgroup=None):
        self.cgroup = cgroup
        self.wait_healthy = wait_healthy
        self.port = free_port()
        self.workdir = workdir
        self.etcd = etcd
        self.extra_args = list(extra_args)
        self.password = password
        self.token = token
        self.proc = None
        self.start()

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    def start(self):
        args = [CONFIGSERVER_BIN, "--etcd", self.etcd.url, "--listen", "127.0.0.1:%d" % self.port]
        if self.password:
            args += ["--password-file",
                     write_secret(os.path.join(self.workdir, "cs-password"), self.password)]
        if self.token:
            args += ["--token-file", write_secret(os.path.join(self.workdir, "cs-token"), self.token)]
        self.log_path = os.path.join(self.workdir, "configserver-%d.log" % self.port)
        self.log = open(self.log_path, "ab")
        self.proc = spawn(args + self.extra_args, stdout=self.log, stderr=subprocess.STDOUT,
                          cgroup=self.cgroup)
        wait_until(self._healthy, 20, "ConfigServer /healthz")

    def _healthy(self):
        try:
            status = http("GET", self.url + "/healthz", timeout=1)[0]
            return status == 200 or (not self.wait_healthy and status == 503)
        except OSError:
            return False

    def call(self, method, path, body=None):
        return http(method, self.url + path, body, token=self.token)

    def metric(self, name):
        status, text = http("GET", self.url + "/metrics")
        for line in text.splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
        return None

    def is_leader(self):
        try:
            return self.metric("redkube_configserver_leader") == 1
        except OSError:
            return False

    def log_text(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.log.close()

    def stop(self):
        stop_process(self.proc, "ConfigServer")
        self.log.close()


def slot_owner(topology, key):
    """The shard (dict) of a published topology document owning the key's slot."""
    slot = key_slot(key)
    for shard in topology["shards"]:
        for first, last in shard["slots"]:
            if first <= slot <= last:
                return shard
    raise AssertionError("slot %d is not covered" % slot)


def keys_of_shard(topology, shard_id, count, prefix="k"):
    out, i = [], 0
    while len(out) < count:
        key = "%s%d" % (prefix, i)
        if slot_owner(topology, key)["id"] == shard_id:
            out.append(key)
        i += 1
    return out
