"""WAIT through the proxy (every master asked, on the client's own
connections, for an offset covering the client's writes), and the order of
a client's requests when some go on its own connections (WAIT, EXEC, WATCH,
blocking commands) and earlier ones on the shared ones."""
import os
import signal
import threading
import time

import pytest

from conftest import (Proxy, RedisServer, RespConnection, RespError, keys_on_shard, start_replica, topology_doc,
                      wait_until)
from test_differential import E, run


@pytest.fixture(scope="module")
def replicated(workdir):
    """Three masters with one replica each, behind a proxy that knows them."""
    masters = [RedisServer(workdir) for _ in range(3)]
    replicas = [start_replica(workdir, m) for m in masters]
    proxy = Proxy(workdir, masters, replicas=[[r] for r in replicas])
    yield masters, replicas, proxy
    proxy.stop()
    for s in replicas + masters:
        s.stop()


def test_wait_returns_once_every_shards_replica_has_the_writes(replicated):
    """The count and the replicas' data after WAIT. (On one machine the
    replicas are quick enough to pass this even if WAIT did not wait; the
    write offset the PUBLISH moves is what the stopped-replica test checks.)"""
    masters, replicas, proxy = replicated
    c = proxy.connect()
    keys = [k for shard in range(3) for k in keys_on_shard(shard, 20, prefix="wait-")]
    for i in range(5):
        # Writes and WAIT in one pipeline: WAIT must count these writes.
        replies = c.pipeline([("SET", k, "v%d" % i) for k in keys] + [("WAIT", 1, 5000)])
        assert replies[-1] == 1
        for shard, r in enumerate(replicas):
            rc = RespConnection(r.port)
            for k in keys_on_shard(shard, 20, prefix="wait-"):
                assert rc.command("GET", k) == b"v%d" % i, (shard, k)
            rc.close()
    c.close()


def test_wait_for_more_replicas_than_exist_times_out_with_the_count(replicated):
    _, _, proxy = replicated
    c = proxy.connect()
    c.command("SET", "wait-more", "1")
    started = time.monotonic()
    assert c.command("WAIT", 2, 300) == 1
    assert time.monotonic() - started >= 0.29
    c.close()


def test_wait_counts_the_least_replicated_shard(replicated):
    masters, replicas, proxy = replicated
    c = proxy.connect()
    os.kill(replicas[1].proc.pid, signal.SIGSTOP)  # the replica stops acknowledging
    try:
        c.pipeline([("SET", k, "x") for s in range(3) for k in keys_on_shard(s, 3, prefix="least-")])
        assert c.command("WAIT", 1, 300) == 0
    finally:
        os.kill(replicas[1].proc.pid, signal.SIGCONT)
    assert c.command("WAIT", 1, 5000) == 1
    c.close()


def test_a_waiting_client_delays_no_one(replicated):
    _, _, proxy = replicated
    waiter = proxy.connect()
    waiter.command("SET", "wait-slow", "1")
    result = {}

    def wait():
        result["reply"] = waiter.command("WAIT", 5, 1500)  # cannot be met: waits 1.5 s
    t = threading.Thread(target=wait)
    t.start()
    try:
        other = proxy.connect()
        time.sleep(0.1)  # let the WAIT reach the servers first
        started = time.monotonic()
        for i in range(50):
            assert other.command("SET", "other-%d" % i, i) == b"OK"
        assert time.monotonic() - started < 1.0
        other.close()
    finally:
        t.join(5)
    assert result["reply"] == 1
    waiter.close()


def test_wait_argument_errors_match_redis(pc, rc):
    run(pc, rc, [
        E("WAIT", "x", 0),
        E("WAIT", 1, "x"),
        E("WAIT", 1, -1),
        E("WAIT", 1),
        ("WAIT", 0, 0),
    ])


def test_exec_after_pipelined_writes_sees_them(pc, rc):
    """SET on a shared connection, then MULTI/GET/EXEC on the client's own:
    the transaction runs after the write, as on one server."""
    commands = []
    for i in range(200):
        commands += [("SET", "{o}a", i), ("MULTI",), ("GET", "{o}a"), ("EXEC",)]
    replies = pc.pipeline(commands)
    assert replies == rc.pipeline(commands)
    assert [replies[4 * i + 3] for i in range(200)] == [[b"%d" % i] for i in range(200)]


def test_blocking_pop_after_pipelined_delete_sees_it(pc, rc):
    """DEL then BLPOP with a timeout: the pop must not run before the delete."""
    commands = []
    for i in range(50):
        commands += [("RPUSH", "{o}l", "stale"), ("DEL", "{o}l"), ("RPUSH", "{o}m", i),
                     ("BLPOP", "{o}l", "{o}m", 1)]
    replies = pc.pipeline(commands)
    assert replies == rc.pipeline(commands)
    assert [replies[4 * i + 3] for i in range(50)] == [[b"{o}m", b"%d" % i] for i in range(50)]


def test_blocking_xreadgroup_of_a_group_named_streams_blocks_only_its_client(flushed, pc):
    """XREADGROUP GROUP streams ... BLOCK: the group's name is not the
    STREAMS keyword. Taken for a non-blocking read, it went on the shard's
    shared connection and blocked everyone's requests to that shard."""
    assert pc.command("XGROUP", "CREATE", "{x}s", "streams", "$", "MKSTREAM") == b"OK"
    pc.send_raw(RespConnection.encode("XREADGROUP", "GROUP", "streams", "c1", "BLOCK", "0",
                                      "STREAMS", "{x}s", ">"))
    other = flushed.connect()
    started = time.monotonic()
    assert other.command("SET", "{x}other", "1") == b"OK"  # same shard
    entry = other.command("XADD", "{x}s", "*", "f", "v")
    assert time.monotonic() - started < 1.0  # not held behind the blocked read
    assert pc.read() == [[b"{x}s", [[entry, [b"f", b"v"]]]]]
    other.close()


def test_watch_after_pipelined_write_does_not_see_it_as_a_conflict(pc, rc):
    commands = []
    for i in range(100):
        commands += [("SET", "{o}w", i), ("WATCH", "{o}w"), ("MULTI",), ("INCR", "{o}w"), ("EXEC",)]
    replies = pc.pipeline(commands)
    assert replies == rc.pipeline(commands)
    assert [replies[5 * i + 4] for i in range(100)] == [[i + 1] for i in range(100)]


def blocked_clients(servers):
    total = 0
    for s in servers:
        c = RespConnection(s.port)
        info = c.command("INFO", "clients").decode()
        c.close()
        total += int(info.split("blocked_clients:")[1].split("\r\n")[0])
    return total


def proxy_cpu_seconds(proxy):
    with open("/proc/%d/stat" % proxy.proc.pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@pytest.mark.parametrize("how", ["close", "reset"])
def test_a_client_that_leaves_while_blocked_is_let_go(flushed, shards, how):
    """A client gone while blocked (BLPOP 0) must not stay blocked on the
    server, where it would pop, and lose, the next element pushed."""
    import socket
    import struct
    key = "{left}list"
    c = flushed.connect()
    c.send_raw(RespConnection.encode("BLPOP", key, 0) + RespConnection.encode("PING"))
    wait_until(lambda: blocked_clients(shards) == 1, 10, "the BLPOP blocked on its shard")
    if how == "reset":
        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    c.close()
    wait_until(lambda: blocked_clients(shards) == 0, 10, "the blocked client let go")
    cpu = proxy_cpu_seconds(flushed)
    time.sleep(0.5)
    assert proxy_cpu_seconds(flushed) - cpu < 0.25, "the proxy spins on the closed socket"
    other = flushed.connect()
    assert other.command("RPUSH", key, "precious") == 1
    assert other.command("LLEN", key) == 1
    other.close()


def test_a_client_blocked_on_a_master_left_behind_by_a_failover_is_answered(workdir):
    """BLPOP 0 on a master that then freezes (SIGSTOP: nothing closes the
    connection, as with a partition) and is replaced: once the topology names
    the new master the client gets -TRYAGAIN instead of waiting for ever, and
    its retry blocks on the new master."""
    servers = [RedisServer(workdir) for _ in range(3)]
    replica = start_replica(workdir, servers[0])
    proxy = Proxy(workdir, servers)
    frozen = servers[0].proc.pid
    try:
        key = keys_on_shard(0, 1, prefix="frozen")[0]
        client = proxy.connect()
        client.send_raw(RespConnection.encode("BLPOP", key, 0))
        admin = RespConnection(servers[0].port)
        wait_until(lambda: b"blocked_clients:1" in admin.command("INFO", "clients"), 5, "the BLPOP on the master")
        admin.close()
        os.kill(frozen, signal.SIGSTOP)
        try:
            promote = RespConnection(replica.port)
            assert promote.command("REPLICAOF", "NO", "ONE") == b"OK"
            promote.close()
            proxy.write_topology(topology_doc([replica, servers[1], servers[2]], epoch=2))
            proxy.signal(signal.SIGHUP)
            reply = client.read()
            assert isinstance(reply, RespError) and str(reply).startswith("TRYAGAIN"), reply
            client.send_raw(RespConnection.encode("BLPOP", key, 5))
            other = proxy.connect()
            assert other.command("RPUSH", key, "v") == 1
            assert client.read() == [key.encode(), b"v"]
            other.close()
        finally:
            os.kill(frozen, signal.SIGCONT)
        client.close()
    finally:
        proxy.stop()
        for s in servers + [replica]:
            s.stop()
