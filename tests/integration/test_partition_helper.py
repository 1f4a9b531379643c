"""The partition helper (partition.py) itself: a cut silences new and
established connections of a group to one port, both ways, and nothing else;
heal restores exactly what was cut; a real replication link stalls and then
catches up."""
import os
import time

import pytest

from conftest import ConfigServer, Etcd, Proxy, RedisServer, RespConnection, start_replica, wait_until
from partition import ClientTimeout


def info(port):
    """INFO replication of the server on `port` as a dict (from outside any group)."""
    c = RespConnection(port, timeout=5.0)
    try:
        text = c.command("INFO", "replication").decode()
    finally:
        c.close()
    return dict(line.split(":", 1) for line in text.splitlines() if ":" in line)


def replica_field(master_info, field):
    """A field (lag, offset, ...) of the master's single replica (slave0)."""
    parts = dict(kv.split("=", 1) for kv in master_info["slave0"].split(","))
    return int(parts[field])


def reachable(client, port):
    """True if a NEW connection from the group's client gets PONG."""
    try:
        conn = client.open(port, timeout=1.0)
    except (ClientTimeout, ConnectionError):
        return False
    try:
        return client.command(conn, "PING", timeout=1.0) == "PONG"
    except (ClientTimeout, ConnectionError):
        return False
    finally:
        try:
            client.close_conn(conn)
        except (ClientTimeout, ConnectionError):
            pass


def test_cut_silences_new_and_established_connections_and_nothing_else(workdir, partition):
    a, b = RedisServer(workdir), RedisServer(workdir)
    try:
        inside = partition.client("g")
        other_group = partition.client("h")
        established = inside.open(a.port)
        assert inside.command(established, "SET", "k", "before") == "OK"
        to_b = inside.open(b.port)
        outside = RespConnection(a.port, timeout=5.0)

        partition.cut("g", a.port)
        assert partition.cuts() == {("g", a.port)}
        # (a) a new connection does not complete, an established one gets no reply.
        with pytest.raises(ClientTimeout):
            inside.open(a.port, timeout=1.0)
        with pytest.raises(ClientTimeout):
            inside.command(established, "GET", "k", timeout=1.0)
        # (b) the same group to another port, another group and a process
        # outside every group are untouched, on the same server.
        assert inside.command(to_b, "PING") == "PONG"
        assert reachable(inside, b.port)
        assert reachable(other_group, a.port)
        assert outside.command("SET", "k", "during") == b"OK"
        # The server still has the established connection (dropped, not reset).
        clients = RespConnection(a.port).command("CLIENT", "LIST").decode()
        assert clients.count("\n") >= 3  # it, `outside` and CLIENT LIST's own

        # (c) heal: new connections work at once; the established one gets
        # its (retransmitted) command through, then the reply to GET after it.
        partition.heal("g", a.port)
        assert partition.cuts() == set()
        assert reachable(inside, a.port)
        replies = []

        def established_answers():
            try:
                replies.append(inside.command(established, "GET", "k", timeout=1.0))
                return True
            except ClientTimeout:
                return False
        # TCP retransmits with exponential backoff: the stalled GET gets through
        # within a few seconds of the heal.
        wait_until(established_answers, 20, "the established connection to answer after heal", step_s=0)
        assert replies[-1] == "during"  # the GET sent during the cut, answered after the heal
        assert inside.command(established, "GET", "k", timeout=5.0) == "during"
        outside.close()
    finally:
        a.stop()
        b.stop()


def test_heal_removes_exactly_its_own_rules_and_cut_many_is_one_batch(workdir, partition):
    a, b = RedisServer(workdir), RedisServer(workdir)
    try:
        g = partition.client("g")
        h = partition.client("h")
        partition.cut_many([("g", a.port), ("g", b.port), ("h", a.port)])
        partition.cut("g", a.port)  # already cut: nothing more
        assert partition.cuts() == {("g", a.port), ("g", b.port), ("h", a.port)}
        assert not reachable(g, a.port) and not reachable(g, b.port) and not reachable(h, a.port)
        assert reachable(h, b.port)

        partition.heal("g", b.port)
        assert reachable(g, b.port)
        assert not reachable(g, a.port) and not reachable(h, a.port)
        with pytest.raises(KeyError):
            partition.heal("g", b.port)

        partition.heal_all()
        assert partition.cuts() == set()
        assert reachable(g, a.port) and reachable(h, a.port)
    finally:
        a.stop()
        b.stop()


def test_replication_link_stalls_while_cut_and_catches_up_after_heal(workdir, partition):
    master = RedisServer(workdir)
    replica = None
    try:
        replica = start_replica(workdir, master, cgroup=partition.placement("r"))
        assert replica.proc.pid in partition.placement("r").pids()
        writer = RespConnection(master.port, timeout=5.0)
        assert writer.command("SET", "before", "1") == b"OK"
        wait_until(lambda: info(replica.port)["slave_repl_offset"] == info(master.port)["master_repl_offset"],
                   10, "replica in step before the cut")

        partition.cut("r", master.port)
        cut_at = time.monotonic()
        # The master keeps serving a client outside the group; its writes
        # (and the replica's once-a-second ACKs) no longer cross the link.
        for i in range(50):
            assert writer.command("SET", "during-%d" % i, "x") == b"OK"

        def stalled():
            m, r = info(master.port), info(replica.port)
            writer.command("INCR", "ticks")
            return (replica_field(m, "lag") >= 3 and int(r["master_last_io_seconds_ago"]) >= 3
                    and int(r["slave_repl_offset"]) < int(m["master_repl_offset"]))
        wait_until(stalled, 15, "the replica's ack lag and last-io to grow past 3 s", step_s=0.2)
        assert time.monotonic() - cut_at < 30  # well under repl-timeout (60 s): the link is not dropped
        # The replica still serves clients outside its group (only its link to the master is cut).
        assert RespConnection(replica.port).command("EXISTS", "during-0") == 0

        partition.heal("r", master.port)

        def caught_up():
            m, r = info(master.port), info(replica.port)
            return (r["master_link_status"] == "up"
                    and int(r["slave_repl_offset"]) == int(m["master_repl_offset"])
                    and replica_field(m, "offset") == int(m["master_repl_offset"]))
        wait_until(caught_up, 30, "the replica to catch up after heal", step_s=0.1)
        assert RespConnection(replica.port).command("EXISTS", "during-49") == 1
        assert replica_field(info(master.port), "lag") <= 2
        writer.close()
    finally:
        if replica is not None:
            replica.stop()
        master.stop()


def test_a_restarted_server_stays_in_its_group_and_leftovers_are_stopped(workdir, partition):
    group = partition.placement("restart")
    server = RedisServer(workdir, cgroup=group)
    first = server.proc.pid
    assert group.pids() == [first]
    server.kill()
    server.start()
    assert server.proc.pid != first and group.pids() == [server.proc.pid]
    # Left running on purpose: the partition's cleanup stops it by PID and
    # removes the group (checked below, after close()).
    partition.close()
    assert server.proc.poll() is not None
    assert not os.path.exists(group.path)


def test_configservers_and_proxies_start_in_their_groups_and_a_cut_of_one_spares_the_other(workdir,
                                                                                          partition):
    servers = [RedisServer(workdir, cgroup=partition.placement("m%d" % i)) for i in range(3)]
    etcd = configservers = proxy = None
    try:
        etcd = Etcd(workdir)
        cs = partition.placement("cs")
        configservers = [ConfigServer(workdir, etcd, cgroup=cs) for _ in range(2)]
        proxy = Proxy(workdir, servers, cgroup=partition.placement("proxies"))
        assert sorted(cs.pids()) == sorted(c.proc.pid for c in configservers)
        assert partition.placement("proxies").pids() == [proxy.proc.pid]
        configservers[1].kill()
        configservers[1].start()  # a restart stays in its group
        assert sorted(cs.pids()) == sorted(c.proc.pid for c in configservers)

        partition.cut_many([("cs", s.port) for s in servers])
        assert not reachable(partition.client("cs"), servers[0].port)
        conn = proxy.connect()
        for key in ("a", "b", "c"):  # one on each shard
            assert conn.command("SET", key, "v") == b"OK"
        assert sorted(RespConnection(s.port).command("DBSIZE") for s in servers) == [1, 1, 1]
        conn.close()
    finally:
        for part in [proxy] + (configservers or []) + [etcd] + servers:
            if part is not None:
                part.stop()
