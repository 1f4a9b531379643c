"""Network partitions for integration tests: nftables rules keyed on cgroup v2.

Every server of a test listens on 127.0.0.1, so partitions cannot be made by
address. They are made by *who opens the connection*: a process is started
inside a cgroup v2 group, every socket it creates belongs to that group, and
an nft rule `socket cgroupv2 level L "GROUP" tcp dport PORT drop` (output)
plus the same with `tcp sport PORT` (input) silences every TCP connection
between the group's processes, as clients, and whatever listens on PORT:
new connections never complete, established ones stop getting anything in
either direction (packets are dropped, not refused: like a real partition,
the peers only notice by timeouts). Processes outside the group, and the
group's connections to other ports, are untouched.

A process must be BORN in its group: a socket stays in the group of the
process that created it, so moving a running process moves none of its open
connections. `placement(name)` therefore wraps the command line
(`sh -c 'echo $$ > GROUP/cgroup.procs; exec "$@"'`: same PID, the program
starts inside the group) instead of using a preexec_fn, which is unsafe when
the test runs threads.

Usage (the `partition` fixture of conftest.py, one Partition per test):

    def test_x(workdir, partition):
        cs = partition.placement("cs")
        master = RedisServer(workdir, cgroup=partition.placement("m"))
        c1 = ConfigServer(workdir, etcd, cgroup=cs)   # both ConfigServers in "cs"
        proxy = Proxy(workdir, None, configserver=..., cluster=...,
                      cgroup=partition.placement("proxies"))
        partition.cut("cs", master.port)       # ConfigServers -/-> master
        ...                                     # proxies still reach it
        partition.heal("cs", master.port)      # or heal_all()

    partition.cut_many([("cs", p1), ("proxies", p1)])   # one atomic nft batch
    client = partition.client("cs")   # a RESP client process inside "cs"
    conn = client.open(port); client.command(conn, "PING")

At the end (fixture teardown, even when the test failed) the nft table is
deleted first, then the processes still in a group are stopped (the ones the
test started, by PID, through the `stop` callback) and the groups removed; a
removal that fails is reported as an error of the test's teardown, never
waited for beyond a few seconds. Groups live at
CGROUP2/redkube-test-<pid>-<n>/NAME, the table is `inet redkube_test_<pid>_<n>`;
leftovers of a run that died are removed by the next one.

Needs root, the `nft` tool (scripts/install-deps.sh installs nftables), the
nft `socket cgroupv2` match (Linux >= 5.13) and a writable cgroup2 hierarchy
under /sys/fs/cgroup (as /sys/fs/cgroup itself or a hybrid
/sys/fs/cgroup/unified). Without them the fixture skips, saying which is
missing; REDKUBE_REQUIRE_PARTITION=1 turns that skip into a failure.
"""
import itertools
import json
import os
import re
import select
import shutil
import socket
import subprocess
import sys
import time

# nft resolves the path of `socket cgroupv2 ... "PATH"` under this directory.
NFT_CGROUP_ROOT = "/sys/fs/cgroup"
NAME_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_counter = itertools.count()
_probe_result = None  # (level offset, cgroup2 mount) or the reason it is unusable


class PartitionUnavailable(Exception):
    """nftables or cgroup v2 cannot be used here; the message says why."""


def _nft(script, echo=False, timeout=10):
    """Runs an nft batch (read from stdin); returns its stdout, raises on failure."""
    args = ["nft"] + (["--echo", "--handle"] if echo else []) + ["-f", "-"]
    done = subprocess.run(args, input=script, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError("nft failed (%d): %s\nscript:\n%s"
                           % (done.returncode, done.stderr.strip(), script))
    return done.stdout


def cgroup2_mount():
    """(mount point, root inside the hierarchy) of the cgroup2 file system, or None."""
    with open("/proc/self/mountinfo") as f:
        for line in f:
            left, _, right = line.partition(" - ")
            if right.split()[:1] == ["cgroup2"]:
                fields = left.split()
                return fields[4], fields[3]
    return None


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def _remove_leftovers(mount):
    """Groups and tables of earlier runs whose process is gone (a crash, a
    SIGKILL), when nothing is left in them."""
    for entry in os.listdir(mount):
        m = re.match(r"^redkube-test-(\d+)-\w+$", entry)
        if not m or _pid_alive(int(m.group(1))):
            continue
        base = os.path.join(mount, entry)
        for child in os.listdir(base):
            if os.path.isdir(os.path.join(base, child)):
                try:
                    os.rmdir(os.path.join(base, child))
                except OSError:
                    pass
        try:
            os.rmdir(base)
        except OSError:
            pass
    try:
        tables = _nft("list tables\n")
    except (RuntimeError, OSError, subprocess.TimeoutExpired):
        return
    for m in re.finditer(r"^table inet (redkube_test_(\d+)_\w+)$", tables, re.M):
        if not _pid_alive(int(m.group(2))):
            try:
                _nft("delete table inet %s\n" % m.group(1))
            except (RuntimeError, subprocess.TimeoutExpired):
                pass


def _probe():
    """Checks everything a Partition needs, once per process, and finds the
    `level` nft must be given: the kernel compares the ancestor of the
    socket's cgroup at that ABSOLUTE depth, which differs from the depth
    under the mount point when the mount is not the hierarchy's root (a
    cgroup namespace). A process in a probe group connects once to a local
    listener while one counting rule per candidate level watches; the rule
    that counted tells the level (and that the whole mechanism works)."""
    if os.geteuid() != 0:
        return "partitions need root (nft rules, cgroup groups); running as uid %d" % os.geteuid()
    if shutil.which("nft") is None:
        return "the nft tool is not installed (scripts/install-deps.sh installs nftables)"
    found = cgroup2_mount()
    if found is None:
        return "no cgroup2 file system is mounted"
    mount, root = found
    rel = os.path.relpath(mount, NFT_CGROUP_ROOT)
    if rel.startswith(".."):
        return ("cgroup2 is mounted at %s, outside %s where nft resolves cgroup paths"
                % (mount, NFT_CGROUP_ROOT))
    _remove_leftovers(mount)
    base = os.path.join(mount, "redkube-test-%d-probe" % os.getpid())
    group = os.path.join(base, "probe")
    table = "redkube_test_%d_probe" % os.getpid()
    depth = 2 + len([p for p in root.split("/") if p])
    listener = socket.socket()
    created_table = False
    try:
        try:
            os.makedirs(group, exist_ok=True)
        except OSError as e:
            return "cannot create a cgroup under %s: %s" % (mount, e)
        listener.bind(("127.0.0.1", 0))
        listener.listen(4)
        port = listener.getsockname()[1]
        nft_path = os.path.relpath(group, NFT_CGROUP_ROOT)
        script = ["add table inet %s" % table,
                  "add chain inet %s out { type filter hook output priority 0; policy accept; }" % table]
        script += ['add rule inet %s out socket cgroupv2 level %d "%s" tcp dport %d counter'
                   % (table, level, nft_path, port) for level in range(depth, depth + 12)]
        try:
            _nft("\n".join(script) + "\n")
            created_table = True
        except (RuntimeError, OSError, subprocess.TimeoutExpired) as e:
            return "nft cannot add a socket cgroupv2 rule: %s" % e
        code = ("import socket; socket.create_connection(('127.0.0.1', %d), timeout=5).close()" % port)
        probe = subprocess.run(Placement("probe", group).wrap([sys.executable, "-c", code]),
                               capture_output=True, text=True, timeout=15)
        if probe.returncode != 0:
            return "a process could not be started in cgroup %s: %s" % (group, probe.stderr.strip())
        listing = _nft("list chain inet %s out\n" % table)
        for m in re.finditer(r"level (\d+) .* counter packets (\d+)", listing):
            if int(m.group(2)) > 0:
                return (int(m.group(1)) - 2, mount)
        return "no nft socket cgroupv2 rule matched a connection made from cgroup %s" % group
    finally:
        listener.close()
        if created_table:
            try:
                _nft("delete table inet %s\n" % table)
            except (RuntimeError, subprocess.TimeoutExpired):
                pass
        for d in (group, base):
            try:
                os.rmdir(d)
            except OSError:
                pass


def availability():
    """(True, None) when partitions work here, else (False, the reason)."""
    global _probe_result
    if _probe_result is None:
        _probe_result = _probe()
    if isinstance(_probe_result, str):
        return False, _probe_result
    return True, None


class Placement:
    """Where a process is started: group `name`, directory `path`. Give it to
    spawn(..., cgroup=) / RedisServer(..., cgroup=) and the like."""

    def __init__(self, name, path):
        self.name = name
        self.path = path

    def wrap(self, args):
        """`args` (a list) made to start inside the group, with the same PID:
        the shell enters the group, then execs the program."""
        script = ('echo $$ > "$0/cgroup.procs" || { echo "cannot enter cgroup $0" >&2; exit 126; }; '
                  'exec "$@"')
        return ["sh", "-c", script, self.path] + list(args)

    def pids(self):
        try:
            with open(os.path.join(self.path, "cgroup.procs")) as f:
                return [int(x) for x in f.read().split()]
        except FileNotFoundError:
            return []

    def __repr__(self):
        return "Placement(%r)" % self.name


class Partition:
    """One test's groups and nft table. `stop(pid)` stops a process the test
    started (and reaps it), returning False if `pid` is none of its own."""

    def __init__(self, stop=None):
        ok, reason = availability()
        if not ok:
            raise PartitionUnavailable(reason)
        self.level_offset, self.mount = _probe_result
        n = next(_counter)
        self.base = os.path.join(self.mount, "redkube-test-%d-%d" % (os.getpid(), n))
        self.table = "redkube_test_%d_%d" % (os.getpid(), n)
        self.stop = stop
        self.groups = {}
        self.rules = {}  # (group, port) -> (output rule handle, input rule handle)
        self.clients = []
        self.closed = False
        os.makedirs(self.base)
        try:
            _nft("add table inet %s\n"
                 "add chain inet %s out { type filter hook output priority 0; policy accept; }\n"
                 "add chain inet %s in { type filter hook input priority 0; policy accept; }\n"
                 % (self.table, self.table, self.table))
        except BaseException:
            os.rmdir(self.base)
            raise

    def __enter__(self):
        return self

    def __exit__(self, kind, value, tb):
        try:
            self.close()
        except AssertionError as e:
            if kind is None:
                raise
            print("\npartition cleanup: %s" % e, file=sys.stderr)
        return False

    # ------------------------------------------------------------ groups

    def placement(self, name):
        """The group `name` of this test (created on first use)."""
        if name not in self.groups:
            if not NAME_RE.match(name):
                raise ValueError("group name %r: letters, digits, '_' and '-' only" % name)
            path = os.path.join(self.base, name)
            os.mkdir(path)
            self.groups[name] = Placement(name, path)
        return self.groups[name]

    def _group(self, group):
        """A name (the group is created if new) or a Placement of this partition."""
        if isinstance(group, Placement):
            if self.groups.get(group.name) is not group:
                raise KeyError("%r is not a group of this partition" % group)
            return group
        return self.placement(group)

    # ------------------------------------------------------------ cuts

    def _match(self, placement):
        rel = os.path.relpath(placement.path, NFT_CGROUP_ROOT)
        return 'socket cgroupv2 level %d "%s"' % (2 + self.level_offset, rel)

    def cut(self, group, port):
        """Cuts `group` (as clients) from whatever listens on `port`, both
        directions, new and established connections. Cutting a pair that is
        already cut does nothing."""
        self.cut_many([(group, port)])

    def cut_many(self, pairs):
        """Several cuts in one atomic nft batch: [(group, port), ...]."""
        todo = []
        for group, port in pairs:
            key = (self._group(group).name, int(port))
            if key not in self.rules and key not in todo:
                todo.append(key)
        if not todo:
            return
        lines = []
        for name, port in todo:
            match = self._match(self.groups[name])
            lines.append("add rule inet %s out %s tcp dport %d drop" % (self.table, match, port))
            lines.append("add rule inet %s in %s tcp sport %d drop" % (self.table, match, port))
        out = _nft("\n".join(lines) + "\n", echo=True)
        handles = [int(h) for h in re.findall(r"# handle (\d+)", out)]
        if len(handles) != len(lines):
            raise RuntimeError("nft echoed %d handles for %d rules:\n%s" % (len(handles), len(lines), out))
        for i, key in enumerate(todo):
            self.rules[key] = (handles[2 * i], handles[2 * i + 1])

    def heal(self, group, port):
        """Removes exactly the rules of cut(group, port); KeyError if not cut."""
        key = (self._group(group).name, int(port))
        if key not in self.rules:
            raise KeyError("%s is not cut from port %d" % key)
        self._delete([key])

    def heal_all(self):
        self._delete(list(self.rules))

    def _delete(self, keys):
        if not keys:
            return
        lines = []
        for key in keys:
            out_handle, in_handle = self.rules[key]
            lines.append("delete rule inet %s out handle %d" % (self.table, out_handle))
            lines.append("delete rule inet %s in handle %d" % (self.table, in_handle))
        _nft("\n".join(lines) + "\n")
        for key in keys:
            del self.rules[key]

    def cuts(self):
        """The (group, port) pairs cut now."""
        return set(self.rules)

    # ------------------------------------------------------------ clients

    def client(self, group):
        """A RESP client process born in `group` (see GroupClient)."""
        c = GroupClient(self._group(group))
        self.clients.append(c)
        return c

    # ------------------------------------------------------------ cleanup

    def close(self):
        """Deletes the table, stops what is left in the groups, removes them.
        Raises AssertionError naming what could not be removed."""
        if self.closed:
            return
        self.closed = True
        errors = []
        try:
            _nft("delete table inet %s\n" % self.table)
            self.rules.clear()
        except (RuntimeError, OSError, subprocess.TimeoutExpired) as e:
            errors.append("nft table %s: %s" % (self.table, e))
        for c in self.clients:
            c.close()
        for placement in self.groups.values():
            # Ours are stopped by PID; any other (a fork of a server, say)
            # gets a few seconds to end with its parent.
            for pid in placement.pids():
                if self.stop is not None:
                    self.stop(pid)
            deadline = time.monotonic() + 5.0
            while placement.pids() and time.monotonic() < deadline:
                time.sleep(0.05)
            try:
                os.rmdir(placement.path)
            except OSError as e:
                errors.append("cgroup %s (processes %s): %s" % (placement.path, placement.pids(), e))
        try:
            os.rmdir(self.base)
        except OSError as e:
            errors.append("cgroup %s: %s" % (self.base, e))
        if errors:
            raise AssertionError("partition cleanup left behind: " + "; ".join(errors))


# A RESP client driven over stdin/stdout (one JSON object a line), so that its
# sockets are created by a process inside the group.
_AGENT = r"""
import json, socket, sys
conns, ids = {}, 0

class Conn:
    # Its own buffer: a socket file object refuses every read after a timeout,
    # and a reply that arrives late must still be read by the next command.
    def __init__(self, sock):
        self.sock, self.buf = sock, b""

    def fill(self):
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionError("connection closed")
        self.buf += data

    def line(self):
        while b"\r\n" not in self.buf:
            self.fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def exact(self, n):
        while len(self.buf) < n + 2:
            self.fill()
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def reply(self):
        line = self.line()
        kind, rest = line[:1], line[1:].decode(errors="replace")
        if kind in (b"+", b":"):
            return rest
        if kind == b"-":
            return {"error": rest}
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else self.exact(n).decode(errors="replace")
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self.reply() for _ in range(n)]
        raise ValueError("bad reply line %r" % line)

def encode(args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a.encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)

for line in sys.stdin:
    req = json.loads(line)
    try:
        if req["op"] == "open":
            s = socket.create_connection(("127.0.0.1", req["port"]), timeout=req["timeout"])
            ids += 1
            conns[ids] = Conn(s)
            res = {"ok": True, "id": ids}
        elif req["op"] == "command":
            c = conns[req["id"]]
            c.sock.settimeout(req["timeout"])
            c.sock.sendall(encode(req["args"]))
            res = {"ok": True, "reply": c.reply()}
        else:
            conns.pop(req["id"]).sock.close()
            res = {"ok": True}
    except socket.timeout:
        res = {"ok": False, "error": "timeout"}
    except Exception as e:
        res = {"ok": False, "error": "%s: %s" % (type(e).__name__, e)}
    sys.stdout.write(json.dumps(res) + "\n")
    sys.stdout.flush()
"""


class ClientTimeout(Exception):
    """The group's client got no reply (or no connection) in time."""


class GroupClient:
    """A client process inside a group. open(port) -> connection id;
    command(id, *args) -> the reply (str / int as str / list / None, an error
    reply as {"error": text}); raises ClientTimeout when the server does not
    answer within `timeout` s, ConnectionError for any other failure. A reply
    that comes after its command timed out is the next command's reply."""

    def __init__(self, placement):
        self.placement = placement
        self.proc = subprocess.Popen(placement.wrap([sys.executable, "-c", _AGENT]),
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def _call(self, req, timeout):
        self.proc.stdin.write(json.dumps(req) + "\n")
        self.proc.stdin.flush()
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout + 10.0)
        if not ready:
            raise AssertionError("the client in group %s did not answer" % self.placement.name)
        line = self.proc.stdout.readline()
        if not line:
            raise AssertionError("the client in group %s exited (%s)"
                                 % (self.placement.name, self.proc.poll()))
        res = json.loads(line)
        if res["ok"]:
            return res
        if res["error"] == "timeout":
            raise ClientTimeout("no answer within %.1f s" % timeout)
        raise ConnectionError(res["error"])

    def open(self, port, timeout=2.0):
        return self._call({"op": "open", "port": int(port), "timeout": timeout}, timeout)["id"]

    def command(self, conn, *args, timeout=2.0):
        req = {"op": "command", "id": conn, "args": [str(a) for a in args], "timeout": timeout}
        return self._call(req, timeout)["reply"]

    def close_conn(self, conn):
        self._call({"op": "close", "id": conn}, 2.0)

    def close(self):
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stdout.close()
