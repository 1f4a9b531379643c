"""`redkube up` end to end: the local runtime starts real etcd, ConfigServers,
redis-servers and proxies as processes, keeps them running, and brings a
cluster back with its data. Clients are redis-py (Debian's python3-redis)."""
import json
import os
import signal
import socket
import subprocess
import threading
import time

import pytest
import redis

from conftest import REPO, key_slot, wait_until

REDKUBE_BIN = os.path.join(os.environ.get("REDKUBE_BUILD_DIR", os.path.join(REPO, "build")), "bin", "redkube")


def port_free(port):
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


_next_base_port = [20000]  # below the ephemeral range, where free_port() picks


def free_base_port(shards):
    """A base port whose whole block is free (the local layout: base..base+39
    and base+100..base+100+10*shards)."""
    while _next_base_port[0] < 32000:
        base = _next_base_port[0]
        _next_base_port[0] += 100 + 10 * shards + 50
        ports = list(range(base, base + 40)) + list(range(base + 100, base + 100 + 10 * shards))
        if all(port_free(p) for p in ports):
            return base
    raise AssertionError("no free block of ports below 32000")


class LocalCluster:
    """One cluster run by `redkube up --detach` in its own --dir."""

    def __init__(self, workdir, name="demo", shards=3, replicas=1, proxies=2):
        self.dir = os.path.join(workdir, "clusters")
        self.name, self.shards, self.replicas, self.proxies = name, shards, replicas, proxies
        self.port = free_base_port(shards)
        self.cluster_dir = os.path.join(self.dir, name)

    def cli(self, *args, timeout=120):
        return subprocess.run([REDKUBE_BIN, *args, "--name", self.name, "--dir", self.dir],
                              capture_output=True, text=True, timeout=timeout)

    def up(self, shape=True):
        args = ["up", "--detach"]
        if shape:
            args += ["--shards", str(self.shards), "--replicas", str(self.replicas),
                     "--proxies", str(self.proxies), "--port", str(self.port)]
        done = self.cli(*args)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "redkube is ready" in done.stdout
        return done

    def down(self, *extra):
        done = self.cli("down", *extra)
        assert done.returncode == 0, done.stdout + done.stderr
        return done

    def status(self):
        done = self.cli("status", "--json", timeout=30)
        assert done.returncode in (0, 3), done.stderr
        return json.loads(done.stdout)

    @property
    def password(self):
        with open(os.path.join(self.cluster_dir, "password")) as f:
            return f.read().strip()

    def client(self, proxy=0, timeout=2.0):
        return redis.Redis(host="127.0.0.1", port=self.port + proxy, password=self.password,
                           socket_timeout=timeout, socket_connect_timeout=timeout)

    def diagnostics(self, lines=15):
        """The status and the tail of every log, for a failure's message."""
        out = [json.dumps(self.status(), indent=1)]
        logs = os.path.join(self.cluster_dir, "logs")
        for name in sorted(os.listdir(logs)) if os.path.isdir(logs) else []:
            with open(os.path.join(logs, name), errors="replace") as f:
                out.append("--- %s\n%s" % (name, "".join(f.readlines()[-lines:])))
        return "\n".join(out)

    def wait_until(self, predicate, deadline_s, what, step_s=0.3):
        """wait_until that shows the cluster's status and logs on a timeout."""
        try:
            return wait_until(predicate, deadline_s, what, step_s)
        except AssertionError as e:
            raise AssertionError("%s\n%s" % (e, self.diagnostics())) from None

    def processes(self):
        with open(os.path.join(self.cluster_dir, "run", "processes.json")) as f:
            return {p["name"]: p for p in json.load(f)["processes"]}

    def pid(self, name):
        return self.processes()[name]["pid"]

    def member(self, name):
        for shard in self.status()["shards"]:
            for m in shard["members"]:
                if m["name"] == name:
                    return m
        raise KeyError(name)


@pytest.fixture
def clusters(workdir):
    """Makes LocalClusters; every one is brought down (by its own `down`,
    which stops only the processes its supervisor started) at the end."""
    made = []

    def make(**kwargs):
        c = LocalCluster(workdir, **kwargs)
        made.append(c)
        return c

    yield make
    failed = []
    for c in made:
        if not os.path.exists(c.cluster_dir):
            continue  # never created
        done = c.cli("down", "--purge")
        if done.returncode != 0:
            failed.append(done.stdout + done.stderr)
    assert not failed, failed


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open("/proc/%d/stat" % pid) as f:
        return f.read().split()[2] != "Z"


def write_keys(client, count, prefix):
    pipe = client.pipeline(transaction=False)
    for i in range(count):
        pipe.set("%s:%d" % (prefix, i), "value-%d" % i)
    assert all(pipe.execute())


def missing_keys(client, count, prefix):
    keys = ["%s:%d" % (prefix, i) for i in range(count)]
    missing = []
    for i in range(0, count, 500):
        batch = keys[i:i + 500]
        for k, v in zip(batch, client.mget(batch)):
            if v != ("value-%s" % k.split(":")[1]).encode():
                missing.append(k)
    return missing


def keys_in_slots(ranges, count, prefix):
    out, i = [], 0
    while len(out) < count:
        k = "%s%d" % (prefix, i)
        if any(a <= key_slot(k) <= b for a, b in ranges):
            out.append(k)
        i += 1
    return out


def slot_ranges(text):
    return [tuple(int(x) for x in r.split("-")) for r in text.split(",")]


class Writer(threading.Thread):
    """SETs keys one at a time through a proxy with redis-py until stopped
    (bounded in count and time); records acknowledged values and failures."""

    def __init__(self, cluster, keys, max_writes=100000, max_s=60.0):
        super().__init__(daemon=True)
        self.cluster, self.keys = cluster, keys
        self.max_writes, self.max_s = max_writes, max_s
        self.acked, self.events = {}, []
        self.stopping = threading.Event()

    def run(self):
        client = self.cluster.client(timeout=1.0)
        start = time.monotonic()
        for i in range(self.max_writes):
            if self.stopping.is_set() or time.monotonic() - start > self.max_s:
                break
            key = self.keys[i % len(self.keys)]
            try:
                ok = client.set(key, "v%d" % i)
            except redis.RedisError as e:
                ok = False
                self.events.append((time.monotonic(), False, str(e)))
                time.sleep(0.005)
                continue
            if ok:
                self.acked[key] = "v%d" % i
            self.events.append((time.monotonic(), bool(ok), None))

    def outage_after(self, since):
        """Seconds from the first failed write after `since` to the next
        acknowledged one; None until there was a failure and a recovery."""
        first_fail = None
        for t, ok, _ in list(self.events):
            if t >= since and not ok and first_fail is None:
                first_fail = t
            if ok and first_fail is not None:
                return t - first_fail
        return None


# ----------------------------------------------------------------- tests

def test_up_writes_down_up_brings_every_key_back(clusters):
    c = clusters()
    c.up()
    status = c.status()
    assert status["running"] and status["slots_served"] == 16384
    write_keys(c.client(0), 10000, "k")
    assert missing_keys(c.client(1), 10000, "k") == []

    # `up` on a running cluster says so and changes nothing.
    pids = {n: p["pid"] for n, p in c.processes().items()}
    again = c.cli("up", "--detach")
    assert again.returncode == 1 and "already running" in again.stderr
    assert {n: p["pid"] for n, p in c.processes().items()} == pids

    c.down()
    assert not any(alive(p) for p in pids.values())
    assert c.status()["running"] is False

    c.up(shape=False)  # the saved shape: no flags needed
    assert missing_keys(c.client(0), 10000, "k") == []
    assert c.client(1).dbsize() == 10000


def test_killed_master_fails_over_restarts_and_rejoins_as_replica(clusters):
    c = clusters()
    c.up()
    shard0 = c.status()["shards"][0]
    master = next(m for m in shard0["members"] if m["role"] == "master")
    keys = keys_in_slots(slot_ranges(shard0["slots"]), 200, "w")
    # A script loaded before the failover (the promoted replica has no
    # script cache: the proxy must load it there again).
    sha = c.client(0).script_load("return redis.call('incr', KEYS[1])")
    writer = Writer(c, keys)
    writer.start()
    wait_until(lambda: len(writer.acked) >= 50, 20, "50 acknowledged writes")

    killed_at = time.monotonic()
    os.kill(c.pid(master["name"]), signal.SIGKILL)
    wait_until(lambda: writer.outage_after(killed_at) is not None, 10,
               "writes to the shard to fail and then succeed again")
    outage = writer.outage_after(killed_at)
    print("writes to the killed master's shard failed for %.3f s" % outage)
    assert outage < 3.0, "shard unavailable for %.2f s" % outage

    # The supervisor restarted it; it came back as a replica of the new master.
    def rejoined():
        m = c.member(master["name"])
        return m if m.get("role") == "replica" and m["health"] == "up" and m["restarts"] == 1 else None
    rejoined_member = c.wait_until(rejoined, 30, "the killed master back as an in-sync replica")
    assert rejoined_member["link"] == "up"
    new_master = c.status()["shards"][0]["master"]
    assert new_master != master["address"]
    # It waited for the failover and started as a replica, never as a master
    # serving its own (older) AOF.
    with open(os.path.join(c.cluster_dir, "logs", "supervisor.log")) as f:
        assert "%s starts again as a replica of %s" % (master["name"], new_master) in f.read()

    writer.stopping.set()
    writer.join(30)
    client = c.client(1)
    # (through the proxy it was loaded through: each proxy knows its own)
    assert c.client(0).evalsha(sha, 1, "script-counter{%s}" % keys[0]) == 1
    acked = dict(writer.acked)
    values = client.mget(list(acked))
    assert [k for k, v in zip(acked, values) if v != acked[k].encode()] == []
    # The rejoined replica holds the same data as the new master.
    replica = redis.Redis(port=int(master["address"].split(":")[1]), password=c.password)
    wait_until(lambda: replica.info("replication")["master_link_status"] == "up", 10, "replica link")
    wait_until(lambda: all(replica.get(k) == acked[k].encode() for k in acked), 10,
               "every acknowledged key on the rejoined replica")


def test_killed_proxy_and_configserver_are_restarted_and_clients_reconnect(clusters):
    c = clusters(proxies=2)
    c.up()
    client = c.client(0)
    client.set("before", "1")
    leader = next(s for s in c.status()["control_plane"] if s.get("leader"))
    os.kill(c.pid("proxy-0"), signal.SIGKILL)
    os.kill(c.pid(leader["name"]), signal.SIGKILL)

    def restarted():
        s = c.status()
        by_name = {p["name"]: p for p in s["proxies"] + s["control_plane"]}
        return (by_name["proxy-0"]["restarts"] == 1 and by_name["proxy-0"]["health"] == "up" and
                by_name[leader["name"]]["restarts"] == 1 and by_name[leader["name"]]["health"] == "up")
    c.wait_until(restarted, 30, "proxy-0 and %s restarted" % leader["name"])

    # redis-py reconnects on its own; the data is intact and writes work.
    def works():
        try:
            return client.get("before") == b"1" and client.set("after", "2")
        except redis.ConnectionError:
            return False
    wait_until(works, 10, "the client to work through the restarted proxy", step_s=0.1)
    # The control plane still leads and fails over: one ConfigServer leads again.
    wait_until(lambda: any(s.get("leader") for s in c.status()["control_plane"]), 10, "a leader", step_s=0.3)


def test_two_shards_two_replicas_three_proxies_beside_another_cluster(clusters):
    c = clusters(name="wide", shards=2, replicas=2, proxies=3)
    other = clusters(name="small", shards=1, replicas=0, proxies=1)
    c.up()
    other.up()

    status = c.status()
    assert [s["id"] for s in status["shards"]] == ["shard-0", "shard-1"]
    assert status["slots_served"] == 16384
    for shard in status["shards"]:
        roles = sorted(m["role"] for m in shard["members"])
        assert roles == ["master", "replica", "replica"], shard
        assert all(m["health"] == "up" for m in shard["members"]), shard
    assert [p["health"] for p in status["proxies"]] == ["up"] * 3

    # Every proxy serves every slot range; the other cluster is separate.
    for proxy in range(3):
        write_keys(c.client(proxy), 300, "p%d" % proxy)
    for proxy in range(3):
        for written in range(3):
            assert missing_keys(c.client(proxy), 300, "p%d" % written) == []
    per_shard = [sum(m["keys"] for m in s["members"] if m["role"] == "master") for s in c.status()["shards"]]
    assert sum(per_shard) == 900 and min(per_shard) > 0
    assert other.client(0).dbsize() == 0
    other.client(0).set("mine", "small")
    assert c.client(0).get("mine") is None

    # Cluster-mode clients are shown every proxy at the address `redkube up`
    # announces for it (the list is fetched every 2 s).
    def presented():
        lines = c.client(0).execute_command("CLUSTER", "NODES").decode().splitlines()
        return {line.split(" ")[1].split("@")[0] for line in lines}
    expected = {"127.0.0.1:%d" % (c.port + i) for i in range(3)}
    wait_until(lambda: presented() == expected, 15, "CLUSTER NODES listing the three proxies")


def test_port_taken_gives_clear_error_and_starts_nothing(clusters):
    c = clusters(name="blocked")
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", c.port + 10))  # the etcd client port
        squatter.listen()
        done = c.cli("up", "--detach", "--port", str(c.port))
    assert done.returncode == 1
    assert "port %d" % (c.port + 10) in done.stderr and "already in use" in done.stderr
    assert not os.path.exists(c.cluster_dir)


def test_foreground_up_stops_everything_on_ctrl_c(clusters):
    c = clusters(name="fg", shards=1, replicas=1, proxies=1)
    proc = subprocess.Popen([REDKUBE_BIN, "up", "--name", c.name, "--dir", c.dir, "--shards", "1",
                             "--replicas", "1", "--proxies", "1", "--port", str(c.port)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    # Bounded: a stalled `up` is killed, which ends the read below.
    watchdog = threading.Timer(60, proc.kill)
    watchdog.start()
    lines = []
    try:
        for line in proc.stdout:
            lines.append(line)
            if "redkube is ready" in line:
                break
    finally:
        watchdog.cancel()
    if not any("redkube is ready" in l for l in lines):
        proc.kill()
        proc.wait()
        raise AssertionError("".join(lines))
    pids = [p["pid"] for p in c.processes().values()]
    assert len(pids) == 1 + 2 + 2 + 1 and all(alive(p) for p in pids)
    c.client(0).set("kept", "yes")
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out
    assert "stopped" in out
    assert not any(alive(p) for p in pids)
    # The data stays: the next up has it.
    c.up(shape=False)
    assert c.client(0).get("kept") == b"yes"


def test_killed_supervisor_leaves_cluster_serving_and_down_cleans_up(clusters):
    c = clusters(name="orphaned", shards=1, replicas=1, proxies=1)
    c.up()
    c.client(0).set("survives", "1")
    supervisor = c.status()["supervisor_pid"]
    children = [p["pid"] for p in c.processes().values()]
    os.kill(supervisor, signal.SIGKILL)
    wait_until(lambda: not alive(supervisor), 10, "the supervisor to die")
    # Like pods whose kubelet died: the processes keep serving.
    assert c.client(0).get("survives") == b"1"
    refused = c.cli("up", "--detach")
    assert refused.returncode == 1 and "without their supervisor" in refused.stderr, refused.stderr
    done = c.down()
    assert "stopping the %d processes it left" % len(children) in done.stdout
    assert not any(alive(p) for p in children)
    c.up(shape=False)
    assert c.client(0).get("survives") == b"1"
