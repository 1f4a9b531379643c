"""--read-from replica|prefer-replica: read-only commands go to replicas in
sync, spread over them; a replica that lags (its process stopped) or is down
is skipped, with the master answering (prefer-replica) or a -TRYAGAIN
(replica). Writes always go to masters. Counted on the servers themselves
(INFO commandstats), so a read that went to the wrong server fails the test."""
import os
import re
import signal

import pytest

from conftest import Proxy, RedisServer, RespConnection, RespError, http, keys_on_shard, start_replica, wait_until
from test_observability import metric


def calls(server, command):
    c = RespConnection(server.port)
    stats = c.command("INFO", "commandstats").decode()
    c.close()
    m = re.search(r"cmdstat_%s:calls=(\d+)," % command, stats)
    return int(m.group(1)) if m else 0


def readable(proxy):
    status, text = http("GET", "http://127.0.0.1:%d/metrics" % proxy.admin_port)
    assert status == 200
    return metric(text, "redkube_proxy_readable_replicas")


@pytest.fixture(scope="module")
def cluster(workdir):
    masters = [RedisServer(workdir) for _ in range(3)]
    replicas = [start_replica(workdir, m) for m in masters]
    by_shard = [[r] for r in replicas]
    proxies = {
        mode: Proxy(workdir, masters, replicas=by_shard,
                    extra_args=["--read-from", mode, "--replica-max-lag-s", "1"])
        for mode in ("master", "replica", "prefer-replica")
    }
    for mode in ("replica", "prefer-replica"):
        wait_until(lambda: readable(proxies[mode]) == 3, 10, "3 readable replicas via %s" % mode)
    yield masters, replicas, proxies
    for p in proxies.values():
        p.stop()
    for s in replicas + masters:
        s.stop()


def write_keys(proxy, keys):
    c = proxy.connect()
    assert c.pipeline([("SET", k, "v-" + k) for k in keys]) == [b"OK"] * len(keys)
    assert c.command("WAIT", 1, 5000) == 1
    c.close()


def test_reads_go_to_replicas_and_writes_to_masters(cluster):
    masters, replicas, proxies = cluster
    keys = [k for s in range(3) for k in keys_on_shard(s, 10, prefix="rf-")]
    write_keys(proxies["replica"], keys)  # writes through the replica-reading proxy too
    for mode in ("replica", "prefer-replica"):
        before_m = [calls(m, "get") for m in masters]
        before_r = [calls(r, "get") for r in replicas]
        before_mget = [calls(r, "mget") for r in replicas]
        c = proxies[mode].connect()
        for _ in range(10):
            assert c.pipeline([("GET", k) for k in keys]) == [b"v-" + k.encode() for k in keys]
        assert c.command("MGET", *keys) == [b"v-" + k.encode() for k in keys]
        c.close()
        assert [calls(m, "get") for m in masters] == before_m, mode
        assert [calls(r, "get") - b for r, b in zip(replicas, before_r)] == [100, 100, 100], mode
        assert [calls(r, "mget") - b for r, b in zip(replicas, before_mget)] == [1, 1, 1], mode


def test_default_reads_from_masters(cluster):
    masters, replicas, proxies = cluster
    keys = keys_on_shard(0, 5, prefix="rm-")
    write_keys(proxies["master"], keys)
    before_r = calls(replicas[0], "get")
    before_m = calls(masters[0], "get")
    c = proxies["master"].connect()
    assert c.pipeline([("GET", k) for k in keys]) == [b"v-" + k.encode() for k in keys]
    c.close()
    assert calls(replicas[0], "get") == before_r
    assert calls(masters[0], "get") == before_m + 5


def test_a_lagging_replica_is_skipped(cluster):
    masters, replicas, proxies = cluster
    keys = keys_on_shard(1, 5, prefix="lag-")
    write_keys(proxies["master"], keys)
    os.kill(replicas[1].proc.pid, signal.SIGSTOP)  # stops acknowledging: its lag grows
    try:
        wait_until(lambda: readable(proxies["prefer-replica"]) == 2, 10, "the stopped replica skipped")
        wait_until(lambda: readable(proxies["replica"]) == 2, 10, "the stopped replica skipped")
        before = calls(masters[1], "get")
        c = proxies["prefer-replica"].connect()
        assert c.pipeline([("GET", k) for k in keys]) == [b"v-" + k.encode() for k in keys]
        c.close()
        assert calls(masters[1], "get") == before + 5
        c = proxies["replica"].connect()
        reply = c.command("GET", keys[0])
        assert isinstance(reply, RespError) and str(reply).startswith("TRYAGAIN no replica of shard-1"), reply
        other = keys_on_shard(0, 1, prefix="lag-")[0]
        assert c.command("GET", other) is None  # other shards keep their replica
        c.close()
    finally:
        os.kill(replicas[1].proc.pid, signal.SIGCONT)
    wait_until(lambda: readable(proxies["replica"]) == 3, 10, "the replica readable again")


def test_a_replica_that_dies_is_skipped_and_reads_keep_working(cluster):
    masters, replicas, proxies = cluster
    keys = keys_on_shard(2, 20, prefix="dead-")
    write_keys(proxies["master"], keys)
    c = proxies["prefer-replica"].connect()
    replicas[2].kill()
    # Every read is answered with the right value, first perhaps by the
    # replica's last moments, then by the master; none fails for longer than
    # the proxy needs to notice (a -TRYAGAIN for requests in flight on the
    # dead connection is allowed, as for any backend that dies).
    failures = 0
    for _ in range(10):
        for k, reply in zip(keys, c.pipeline([("GET", k) for k in keys])):
            if isinstance(reply, RespError):
                assert str(reply).startswith("TRYAGAIN"), reply
                failures += 1
            else:
                assert reply == b"v-" + k.encode()
    assert failures <= len(keys)
    wait_until(lambda: readable(proxies["prefer-replica"]) == 2, 10, "the dead replica skipped")
    assert c.pipeline([("GET", k) for k in keys]) == [b"v-" + k.encode() for k in keys]
    c.close()
    replicas[2].start()
    r = RespConnection(replicas[2].port)
    assert r.command("REPLICAOF", "127.0.0.1", masters[2].port) == b"OK"
    r.close()
    wait_until(lambda: readable(proxies["prefer-replica"]) == 3, 15, "the restarted replica readable")
    wait_until(lambda: readable(proxies["replica"]) == 3, 15, "the restarted replica readable")


def test_read_from_rejects_unknown_modes(workdir):
    import subprocess
    from conftest import PROXY_BIN
    out = subprocess.run([PROXY_BIN, "--port", "1", "--topology", "/dev/null", "--read-from", "nearest"],
                         capture_output=True, text=True, timeout=10)
    assert out.returncode != 0
    assert "read-from" in out.stderr + out.stdout
