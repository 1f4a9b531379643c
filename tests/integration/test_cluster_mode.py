"""Cluster-mode clients through the proxy (docs/proxy.md, "Cluster-mode
clients"): each proxy presents itself as the primary of every slot and the
other live proxies, which the ConfigServer lists, as its replicas. The
CLUSTER replies are checked for their shapes (against a real cluster-enabled
redis-server's where they have one), the proxy list as proxies join and
stop, and real cluster clients (redis-py RedisCluster, go-redis
ClusterClient, ioredis Cluster, Jedis JedisCluster, Lettuce RedisClusterClient) run against one proxy of a 2-proxy cluster.
Real etcd, a real ConfigServer, real redis-servers."""
import hashlib
import os
import re
import socket
import subprocess
import tempfile

import pytest
from redis.cluster import ClusterNode, RedisCluster

from conftest import REPO, RespConnection, RespError, http, key_slot, spawn, stop_process, wait_for_ping, \
    wait_until, free_port
from test_configserver import PASSWORD, ControlPlane

CLIENTS = os.path.join(REPO, "tests", "clients")


@pytest.fixture(scope="module")
def plane(workdir):
    p = ControlPlane(workdir, name="cm", shards=3, replicas=0, configservers=1)
    p.start_proxy()
    p.start_proxy()
    try:
        wait_until(lambda: all(len(nodes_of(x)) == 2 for x in p.proxies), 20, "both proxies listing both")
        yield p
    finally:
        p.close()


def connect(proxy):
    c = RespConnection(proxy.port)
    assert c.command("AUTH", PASSWORD) == b"OK"
    return c


def command(proxy, *args):
    c = connect(proxy)
    try:
        return c.command(*args)
    finally:
        c.close()


def nodes_of(proxy):
    """CLUSTER NODES through `proxy`: its lines, split into fields."""
    return [line.split(" ") for line in command(proxy, "CLUSTER", "NODES").decode().splitlines()]


def node_id(proxy_id):
    return hashlib.sha1(proxy_id.encode()).hexdigest()


def proxy_id(proxy):
    # The conftest proxies take the default --id, HOSTNAME:PORT.
    return "%s:%d" % (socket.gethostname(), proxy.port)


@pytest.fixture(scope="module")
def real_cluster_node(workdir):
    """One cluster-enabled redis-server owning every slot: the reference
    for the shapes of the CLUSTER replies."""
    # Its cluster bus listens on port + 10000, which must be a port too.
    port = free_port()
    while port + 10000 > 65535:
        port = free_port()
    d = tempfile.mkdtemp(dir=workdir, prefix="cluster-node-")
    proc = spawn(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--cluster-enabled", "yes",
                  "--cluster-config-file", os.path.join(d, "nodes.conf"), "--dir", d, "--save", "",
                  "--appendonly", "no", "--logfile", os.path.join(d, "redis.log")], stdout=subprocess.DEVNULL)
    try:
        wait_for_ping(port, deadline_s=30)
        c = RespConnection(port)
        assert c.command("CLUSTER", "ADDSLOTSRANGE", 0, 16383) == b"OK"
        wait_until(lambda: b"cluster_state:ok" in c.command("CLUSTER", "INFO"), 10, "the real node ok")
        yield c
        c.close()
    finally:
        stop_process(proc, "cluster-enabled redis-server")


def info_fields(text):
    return dict(line.split(":", 1) for line in text.decode().split("\r\n") if line)


def test_cluster_info_has_the_fields_of_redis_and_counts_the_proxies(plane, real_cluster_node):
    a = plane.proxies[0]
    ours = info_fields(command(a, "CLUSTER", "INFO"))
    theirs = info_fields(real_cluster_node.command("CLUSTER", "INFO"))
    assert list(ours) == list(theirs)
    assert ours["cluster_state"] == "ok"
    assert ours["cluster_slots_assigned"] == ours["cluster_slots_ok"] == "16384"
    assert ours["cluster_known_nodes"] == "2"
    assert ours["cluster_size"] == "1"
    assert ours["cluster_current_epoch"] == ours["cluster_my_epoch"] == str(plane.topology()["epoch"])


def test_cluster_slots_and_shards_have_redis_shapes_with_myself_primary(plane, real_cluster_node):
    a, b = plane.proxies
    for me, other in ((a, b), (b, a)):
        slots = command(me, "CLUSTER", "SLOTS")
        assert len(slots) == 1 and slots[0][:2] == [0, 16383]
        assert [n[:3] for n in slots[0][2:]] == [
            [b"127.0.0.1", me.port, node_id(proxy_id(me)).encode()],
            [b"127.0.0.1", other.port, node_id(proxy_id(other)).encode()]]
        real = real_cluster_node.command("CLUSTER", "SLOTS")
        assert [len(n) for n in slots[0][2:3]] == [len(n) for n in real[0][2:]]  # ip, port, id, metadata
        assert slots[0][2][3] == real[0][2][3] == []

        shards = command(me, "CLUSTER", "SHARDS")
        real = real_cluster_node.command("CLUSTER", "SHARDS")
        assert len(shards) == 1
        assert shards[0][0::2] == real[0][0::2] == [b"slots", b"nodes"]
        assert shards[0][1] == [0, 16383]
        nodes = shards[0][3]
        assert [n[0::2] for n in nodes] == [real[0][3][0][0::2]] * 2  # the same fields, in order
        fields = [dict(zip(n[0::2], n[1::2])) for n in nodes]
        assert [(f[b"port"], f[b"role"], f[b"health"]) for f in fields] == [
            (me.port, b"master", b"online"), (other.port, b"replica", b"online")]


def test_cluster_nodes_lines_have_redis_layout(plane, real_cluster_node):
    a, b = plane.proxies
    real = real_cluster_node.command("CLUSTER", "NODES").decode().splitlines()[0].split(" ")
    lines = nodes_of(a)
    assert len(lines) == 2
    me, other = lines
    assert len(me) == len(real)
    assert me[0] == node_id(proxy_id(a))
    assert re.fullmatch(r"127\.0\.0\.1:%d@\d+" % a.port, me[1])
    assert me[2:4] == ["myself,master", "-"] and real[2:4] == ["myself,master", "-"]
    assert me[7:] == ["connected", "0-16383"]
    assert other[0] == node_id(proxy_id(b))
    assert other[2:4] == ["slave", me[0]]
    assert other[7] == "connected" and len(other) == 8
    replicas = command(a, "CLUSTER", "REPLICAS", me[0])
    assert [r.decode().split(" ")[0] for r in replicas] == [other[0]]


def test_myid_is_stable_and_known_alike_to_every_proxy(plane):
    a, b = plane.proxies
    ids = {command(a, "CLUSTER", "MYID") for _ in range(3)}
    assert ids == {node_id(proxy_id(a)).encode()}
    assert nodes_of(b)[1][0].encode() in ids


def test_keyslot_countkeysinslot_getkeysinslot(plane):
    a = plane.proxies[0]
    c = connect(a)
    try:
        for key in ("foo", "{user1}:a", "", "a{}b"):
            assert c.command("CLUSTER", "KEYSLOT", key) == key_slot(key)
        keys = ["{slot-test}:%d" % i for i in range(25)]
        slot = key_slot(keys[0])
        # Keys of other slots on the same shard as well, which the scan skips.
        assert c.command("MSET", *[x for k in keys for x in (k, "v")]) == b"OK"
        for i in range(3000):
            c.send_raw(RespConnection.encode("SET", "filler:%d" % i, "x"))
        for _ in range(3000):
            assert c.read() == b"OK"
        assert c.command("CLUSTER", "COUNTKEYSINSLOT", slot) == 25
        assert sorted(c.command("CLUSTER", "GETKEYSINSLOT", slot, 100)) == sorted(k.encode() for k in keys)
        assert len(c.command("CLUSTER", "GETKEYSINSLOT", slot, 10)) == 10
        assert c.command("CLUSTER", "GETKEYSINSLOT", slot, 0) == []
        empty = next(s for s in range(16384) if s != slot and not any(
            key_slot("filler:%d" % i) == s for i in range(3000)))
        assert c.command("CLUSTER", "COUNTKEYSINSLOT", empty) == 0
        # Redis's errors for bad arguments.
        assert c.command("CLUSTER", "COUNTKEYSINSLOT", 16384) == RespError("ERR Invalid slot")
        assert c.command("CLUSTER", "COUNTKEYSINSLOT", "x") == RespError(
            "ERR value is not an integer or out of range")
        assert c.command("CLUSTER", "GETKEYSINSLOT", slot, -1) == RespError("ERR Invalid slot or number of keys")
        assert c.command("CLUSTER", "GETKEYSINSLOT", -1, 1) == RespError("ERR Invalid slot or number of keys")
        # Answered in order within a pipeline.
        replies = c.pipeline([("SET", "after", "1"), ("CLUSTER", "COUNTKEYSINSLOT", slot), ("GET", "after")])
        assert replies == [b"OK", 25, b"1"]
        assert c.command("FLUSHALL") == b"OK"
    finally:
        c.close()


def test_readonly_readwrite_asking_answer_ok_and_administration_is_refused(plane):
    c = connect(plane.proxies[0])
    try:
        for cmd in ("READONLY", "READWRITE", "ASKING"):
            assert c.command(cmd) == b"OK"
        for args in (("CLUSTER", "ADDSLOTS", 1), ("CLUSTER", "MEET", "127.0.0.1", 1),
                     ("CLUSTER", "FAILOVER"), ("CLUSTER", "RESET"), ("CLUSTER", "SETSLOT", 1, "STABLE")):
            reply = c.command(*args)
            assert isinstance(reply, RespError) and "ConfigServer assigns slots" in str(reply), reply
            assert str(reply).startswith("ERR CLUSTER %s is not supported" % args[1])
        help_lines = c.command("CLUSTER", "HELP")
        assert help_lines[0].startswith(b"CLUSTER <subcommand>")
    finally:
        c.close()


def test_the_list_follows_a_proxy_that_joins_and_one_that_stops(plane):
    a, b = plane.proxies
    status, body = plane.configservers[0].call("GET", "/v1/clusters/cm/proxies")
    assert status == 200
    listed = body["proxies"]
    assert [p["id"] for p in listed] == sorted(p["id"] for p in listed)
    assert {p["address"] for p in listed} == {"127.0.0.1:%d" % a.port, "127.0.0.1:%d" % b.port}
    assert all(p["seen_ms"] > 0 and p["epoch"] > 0 for p in listed)

    third = plane.start_proxy()
    try:
        wait_until(lambda: len(nodes_of(a)) == 3 and len(nodes_of(b)) == 3, 15, "the third proxy listed")
        assert "127.0.0.1:%d" % third.port in [line[1].split("@")[0] for line in nodes_of(a)]
        assert info_fields(command(b, "CLUSTER", "INFO"))["cluster_known_nodes"] == "3"
        assert len(nodes_of(third)) == 3 and nodes_of(third)[0][2] == "myself,master"
    finally:
        third.stop()
        plane.proxies.remove(third)
    # Gone once its report expires (7 s) and the next fetch (2 s) has run.
    wait_until(lambda: len(nodes_of(a)) == 2 and len(nodes_of(b)) == 2, 15, "the stopped proxy unlisted")


def cluster_client(proxy, **kwargs):
    # redis-py first checks INFO's cluster_enabled, which the INFO work of
    # issue #14 sets (info_command.cc, not this feature's).
    if "cluster_enabled:1" not in command(proxy, "INFO", "cluster").decode():
        pytest.skip("redis-py RedisCluster needs INFO's Cluster section to say cluster_enabled:1")
    return RedisCluster(startup_nodes=[ClusterNode("127.0.0.1", proxy.port)], password=PASSWORD,
                        decode_responses=True, socket_timeout=10, **kwargs)


def test_redis_py_cluster_client(plane):
    a = plane.proxies[0]
    command(a, "FLUSHALL")
    rc = cluster_client(a)
    try:
        assert len(rc.get_primaries()) == 1 and len(rc.get_replicas()) == 1
        assert rc.set("s", "hello") and rc.get("s") == "hello"
        assert rc.incr("n") == 1
        pipe = rc.pipeline()
        for i in range(100):
            pipe.set("p%d" % i, i)
        assert pipe.execute() == [True] * 100
        pipe = rc.pipeline()
        for i in range(100):
            pipe.get("p%d" % i)
        assert pipe.execute() == [str(i) for i in range(100)]
        assert rc.mset({"{t}:a": "1", "{t}:b": "2"})
        assert rc.mget(["{t}:a", "{t}:b"]) == ["1", "2"]
        assert rc.delete("{t}:a", "{t}:b") == 2
        assert rc.rpush("{t}:list", "x", "y") == 2
        assert rc.rpoplpush("{t}:list", "{t}:other") == "y"
        sub = rc.pubsub()
        sub.subscribe("events")
        wait_until(lambda: (sub.get_message(timeout=0.2) or {}).get("type") == "subscribe", 5, "subscribed")
        assert rc.publish("events", "ping") == 1
        message = wait_until(lambda: sub.get_message(timeout=0.2), 5, "the message")
        assert (message["channel"], message["data"]) == ("events", "ping")
        sub.close()
        keys = list(rc.scan_iter(count=50))
        assert len(keys) == len(set(keys)) == 104  # s, n, 100 pipelined, 2 lists
        assert rc.dbsize() == 104
        assert set(rc.keys()) == set(keys)
    finally:
        rc.close()
        command(a, "FLUSHALL")


def get_calls(proxy):
    status, text = http("GET", "http://127.0.0.1:%d/metrics" % proxy.admin_port)
    for line in text.splitlines():
        if line.startswith('redkube_proxy_command_calls_total{command="get"}'):
            return int(float(line.split()[1]))
    return 0


def test_reads_from_replicas_spread_over_both_proxies(plane):
    a, b = plane.proxies
    command(a, "SET", "r", "v")
    before = get_calls(a), get_calls(b)
    rc = cluster_client(a, read_from_replicas=True)
    try:
        for _ in range(200):
            assert rc.get("r") == "v"
    finally:
        rc.close()
    served = get_calls(a) - before[0], get_calls(b) - before[1]
    assert sum(served) >= 200
    assert served[0] >= 50 and served[1] >= 50, served


WORKLOADS = {
    "go-redis": lambda port, prefix: [os.path.join(CLIENTS, "go", "bin", "workload"), "-addr",
                                      "127.0.0.1:%d" % port, "-password", PASSWORD, "-prefix", prefix,
                                      "-cluster"],
    "ioredis": lambda port, prefix: ["node", os.path.join(CLIENTS, "node", "workload.js"), "127.0.0.1",
                                     str(port), PASSWORD, prefix, "cluster"],
    "jedis": lambda port, prefix: ["java", "-cp", "%s:%s/*" % (
        os.path.join(CLIENTS, "java", "target", "classes"), os.path.join(CLIENTS, "java", "target", "dependency")),
        "redkube.ClusterWorkload", "127.0.0.1", str(port), PASSWORD, prefix],
    "lettuce": lambda port, prefix: ["java", "-cp", "%s:%s/*" % (
        os.path.join(CLIENTS, "java", "target", "classes"), os.path.join(CLIENTS, "java", "target", "dependency")),
        "redkube.LettuceClusterWorkload", "127.0.0.1", str(port), PASSWORD, prefix],
}


@pytest.mark.parametrize("client", sorted(WORKLOADS))
def test_cluster_client_workload(plane, client):
    a = plane.proxies[0]
    command(a, "FLUSHALL")
    done = subprocess.run(WORKLOADS[client](a.port, client), capture_output=True, text=True, timeout=120)
    command(a, "FLUSHALL")
    assert done.returncode == 0 and done.stdout.startswith("OK"), done.stdout + done.stderr
