"""Online slot migration against real etcd, ConfigServers, redis-servers and
proxies: rebalancing onto a new shard and draining one under load with
every acknowledged key checked, the API's validation, pause / resume /
cancel, the throttle, and kills mid-move (leader ConfigServer, source and
target masters). docs/migration.md is the design."""
import signal
import threading
import time

import pytest

from conftest import Proxy, RedisServer, RespError, http, key_slot, wait_until
from test_configserver import PASSWORD, ControlPlane, authed

SLOTS = 16384


class LoadWriter(threading.Thread):
    """SETs its keys round and round through a proxy (bounded in count and
    time), remembering the last value acknowledged for each key, and checks
    every GET it makes against what it knows: a read never returns a value
    older than one already acknowledged for that key."""

    def __init__(self, port, prefix, keys=2000, max_ops=400000, max_s=120.0):
        super().__init__(daemon=True)
        self.port, self.prefix, self.nkeys = port, prefix, keys
        self.max_ops, self.max_s = max_ops, max_s
        self.acked = {}
        self.ops = 0
        self.errors = []
        self.stale = []
        self.stopping = threading.Event()

    def run(self):
        conn = None
        start = time.monotonic()
        for i in range(self.max_ops):
            if self.stopping.is_set() or time.monotonic() - start > self.max_s:
                break
            key = "%s:%d" % (self.prefix, i % self.nkeys)
            value = "%d" % i
            try:
                if conn is None:
                    conn = authed(self.port, timeout=5.0)
                reply = conn.command("SET", key, value)
                if reply == b"OK":
                    self.acked[key] = value
                else:
                    self.errors.append(str(reply))
                if i % 3 == 0 and key in self.acked:
                    got = conn.command("GET", key)
                    if isinstance(got, bytes) and int(got) < int(self.acked[key]):
                        self.stale.append((key, self.acked[key], got))
                    elif not isinstance(got, bytes):
                        self.errors.append("GET %s: %r" % (key, got))
            except OSError as e:
                self.errors.append("connection: %s" % e)
                conn = None
                time.sleep(0.01)
            self.ops += 1
        if conn:
            conn.close()

    def stop(self):
        self.stopping.set()
        self.join(60)
        assert not self.is_alive()


def missing_keys(port, acked, or_later=False):
    """Keys that do not read back with their last acknowledged value. With
    or_later, a later value is fine too (the writer's connection died with a
    write in flight: applied, never acknowledged)."""
    conn = authed(port)
    keys = sorted(acked)
    missing = []
    for i in range(0, len(keys), 200):
        batch = keys[i:i + 200]
        values = conn.command("MGET", *batch)
        if isinstance(values, RespError):  # a split MGET touching a moving slot may ask to retry
            values = [conn.command("GET", k) for k in batch]
        for k, v in zip(batch, values):
            if v == acked[k].encode():
                continue
            if or_later and isinstance(v, bytes) and v.isdigit() and int(v) > int(acked[k]):
                continue
            missing.append((k, acked[k], v))
    conn.close()
    return missing


def load_keys(port, prefix, count, size=20):
    conn = authed(port)
    values = {}
    for i in range(0, count, 500):
        args = []
        for j in range(i, min(count, i + 500)):
            key = "%s:%d" % (prefix, j)
            values[key] = ("%s-%d-" % (prefix, j)).ljust(size, "x")
            args += [key, values[key]]
        assert conn.command("MSET", *args) == b"OK"
    conn.close()
    return values


def add_shard(plane, shard_id, replicas=1):
    cs = plane.live_configserver()
    status, body = cs.call("POST", "/v1/clusters/%s/shards" % plane.name, {"id": shard_id})
    assert status == 201, body
    group = [RedisServer(plane.workdir, password=PASSWORD) for _ in range(1 + replicas)]
    plane.servers[shard_id] = group
    status, body = cs.call("PUT", "/v1/clusters/%s/shards/%s" % (plane.name, shard_id),
                           {"nodes": [s.address for s in group]})
    assert status == 200, body
    wait_until(lambda: any(s["id"] == shard_id and len(s["replicas"]) == replicas
                           for s in plane.topology()["shards"]), 20, "new shard's replica in sync")
    return group


def migrations(plane):
    status, body = plane.live_configserver().call("GET", "/v1/clusters/%s/migrations" % plane.name)
    assert status == 200, body
    return body


def wait_migrations_finished(plane, deadline_s=120):
    def finished():
        ms = migrations(plane)["migrations"]
        return ms and all(m["state"] in ("done", "cancelled", "failed") for m in ms)
    wait_until(finished, deadline_s, "migrations finished")
    return migrations(plane)["migrations"]


def slot_counts(plane):
    topo = plane.topology()
    owned = [0] * SLOTS
    counts = {}
    for s in topo["shards"]:
        n = 0
        for first, last in s["slots"]:
            for slot in range(first, last + 1):
                owned[slot] += 1
            n += last - first + 1
        counts[s["id"]] = n
    assert owned == [1] * SLOTS, "every slot owned exactly once"
    assert topo["migrations"] == []
    return counts


def keys_on_server(server):
    conn = authed(server.port)
    keys, cursor = [], b"0"
    while True:
        cursor, page = conn.command("SCAN", cursor, "COUNT", "1000")
        keys += page
        if cursor == b"0":
            break
    conn.close()
    return keys


def assert_keys_only_on_owners(plane):
    """Every key on a master lives in a slot that shard owns."""
    topo = plane.topology()
    for shard in topo["shards"]:
        owned = set()
        for first, last in shard["slots"]:
            owned.update(range(first, last + 1))
        master = plane.server(shard["master"])
        strays = [k for k in keys_on_server(master) if key_slot(k) not in owned]
        assert not strays, "%s holds keys of slots it does not own: %r" % (shard["id"], strays[:5])


@pytest.fixture
def plane(workdir):
    p = ControlPlane(workdir, shards=2, replicas=1,
                     configservers=2)
    yield p
    p.close()


def test_rebalance_onto_a_new_shard_then_drain_it_under_load_loses_nothing(plane):
    proxies = [plane.start_proxy(), plane.start_proxy()]
    loaded = load_keys(proxies[0].port, "seed", 20000)
    writers = [LoadWriter(p.port, "w%d" % i) for i, p in enumerate(proxies)]
    for w in writers:
        w.start()
    wait_until(lambda: all(w.ops > 200 for w in writers), 20, "writers running")

    add_shard(plane, "shard-2")
    status, body = plane.live_configserver().call("POST", "/v1/clusters/%s/rebalance" % plane.name, {})
    assert status == 200, body
    assert len(body["migrations"]) == 2
    done = wait_migrations_finished(plane)
    assert all(m["state"] == "done" for m in done), done
    counts = slot_counts(plane)
    assert sorted(counts.values()) == [5461, 5461, 5462]
    assert sum(m["keys_moved"] for m in done) >= 20000 // 3
    metrics = http("GET", plane.live_configserver().url + "/metrics")[1]
    assert 'redkube_configserver_migrations{cluster="demo",state="done"} 2' in metrics, metrics

    # Scale in: shard-0 drains to the other two, then is deleted.
    status, body = plane.live_configserver().call(
        "POST", "/v1/clusters/%s/rebalance" % plane.name, {"shards": ["shard-1", "shard-2"]})
    assert status == 200, body
    wait_migrations_finished(plane)
    counts = slot_counts(plane)
    assert counts["shard-0"] == 0 and counts["shard-1"] + counts["shard-2"] == SLOTS
    status, body = plane.live_configserver().call("DELETE", "/v1/clusters/%s/shards/shard-0" % plane.name)
    assert status == 200, body
    for w in writers:
        w.stop()
    assert [s["id"] for s in plane.topology()["shards"]] == ["shard-1", "shard-2"]

    for w in writers:
        assert not w.stale, w.stale[:5]
        assert len(w.acked) == w.nkeys
        assert not missing_keys(proxies[1].port, w.acked)
    assert not missing_keys(proxies[1].port, loaded)
    assert_keys_only_on_owners(plane)
    # Both proxies confirmed the epochs the mover waited for.
    ids = {p["id"] for p in migrations(plane)["proxies"]}
    assert len(ids) == 2, migrations(plane)["proxies"]


def test_api_refuses_bad_migrations_and_changes_nothing(plane):
    cs = plane.live_configserver()
    base = "/v1/clusters/%s" % plane.name
    before = plane.record()
    for body, code in [({"from": "shard-0", "to": "shard-0", "slots": [[0, 1]]}, 400),
                       ({"from": "shard-0", "to": "shard-1", "slots": [[9000, 9001]]}, 409),
                       ({"from": "shard-0", "to": "shard-9", "slots": [[0, 1]]}, 404),
                       ({"from": "shard-0", "to": "shard-1", "slots": [[5, 2]]}, 400),
                       ({"from": "shard-0", "to": "shard-1", "slots": [[0, 16384]]}, 400),
                       ({"from": "shard-0", "to": "shard-1"}, 400),
                       ({"from": "shard-0", "to": "shard-1", "slots": [[0, 1]],
                         "throttle": {"keys_per_s": -1}}, 400)]:
        status, reply = cs.call("POST", base + "/migrations", body)
        assert status == code, (body, reply)
        assert "error" in reply
    assert cs.call("POST", base + "/shards", {"id": "Bad_Name"})[0] == 400
    assert cs.call("POST", base + "/shards", {"id": "shard-1"})[0] == 409
    assert cs.call("DELETE", base + "/shards/shard-1")[0] == 409  # owns slots
    assert cs.call("POST", base + "/rebalance", {"shards": ["shard-7"]})[0] == 400
    assert cs.call("POST", base + "/migrations/m-404/pause")[0] == 404
    after = plane.record()
    assert after["epoch"] == before["epoch"] and after["migrations"] == []
    # A new shard without nodes keeps the cluster routable.
    assert cs.call("POST", base + "/shards", {"id": "shard-5"})[0] == 201
    assert plane.record()["complete"]
    status, reply = cs.call("POST", base + "/migrations", {"from": "shard-0", "to": "shard-5",
                                                           "slots": [[0, 1]]})
    assert status == 409 and "master" in reply["error"]


def test_pause_resume_cancel_and_throttle(plane):
    proxy = plane.start_proxy()
    loaded = load_keys(proxy.port, "p", 30000)
    cs = plane.live_configserver()
    base = "/v1/clusters/%s/migrations" % plane.name
    # 2000 keys/s over ~15000 keys of shard-0: paused and resumed mid-way.
    status, m = cs.call("POST", base, {"from": "shard-0", "to": "shard-1", "slots": [[0, 8191]],
                                       "throttle": {"keys_per_s": 2000}})
    assert status == 201, m
    mid = m["id"]
    wait_until(lambda: migrations(plane)["migrations"][0]["keys_moved"] > 1000, 30, "keys moving")
    assert cs.call("POST", "%s/%s/pause" % (base, mid))[0] == 200
    wait_until(lambda: migrations(plane)["migrations"][0]["message"] == "paused", 10, "paused")
    # The batch in flight finishes and its count is written; then nothing
    # moves (measured over a second).
    readings = []
    wait_until(lambda: readings.append(migrations(plane)["migrations"][0]["keys_moved"]) or
               (len(readings) > 3 and readings[-1] == readings[-4]), 10, "the mover stopped", step_s=0.1)
    moved = readings[-1]
    time.sleep(1.0)
    assert migrations(plane)["migrations"][0]["keys_moved"] == moved
    assert not missing_keys(proxy.port, loaded)  # readable while paused mid-step
    started = time.monotonic()
    assert cs.call("POST", "%s/%s/resume" % (base, mid))[0] == 200
    wait_until(lambda: migrations(plane)["migrations"][0]["keys_moved"] > moved + 2000, 30, "moving again")
    rate = migrations(plane)["migrations"][0]["keys_per_s"]
    assert rate < 3000, "throttle of 2000 keys/s exceeded: %s" % rate
    assert time.monotonic() - started >= 0.9  # 2000 keys at 2000 keys/s take a second
    assert cs.call("POST", "%s/%s/throttle" % (base, mid), {"keys_per_s": 0})[0] == 200
    status, m = cs.call("POST", "%s/%s/cancel" % (base, mid))
    assert status == 200 and m["state"] in ("cancelling", "cancelled"), m
    final = wait_migrations_finished(plane)[0]
    assert final["state"] == "cancelled", final
    counts = slot_counts(plane)
    assert 0 < final["slots_done"] < 8192
    assert counts["shard-1"] == 8192 + final["slots_done"]
    assert not missing_keys(proxy.port, loaded)
    assert_keys_only_on_owners(plane)


def start_moving(plane, to, keys_per_s, moved_before=1000):
    """A throttled migration of slots 0-4095 from shard-0 to `to`, once it
    has moved some keys."""
    status, m = plane.live_configserver().call(
        "POST", "/v1/clusters/%s/migrations" % plane.name,
        {"from": "shard-0", "to": to, "slots": [[0, 4095]], "throttle": {"keys_per_s": keys_per_s}})
    assert status == 201, m
    wait_until(lambda: migrations(plane)["migrations"][0]["keys_moved"] > moved_before, 30, "keys moving")
    return m


def kill_and_check(plane, victim):
    proxy = plane.start_proxy()
    loaded = load_keys(proxy.port, "k", 40000)
    writer = LoadWriter(proxy.port, "w", keys=1000)
    writer.start()
    add_shard(plane, "shard-2")
    start_moving(plane, "shard-2", 5000, moved_before=2000)
    record = plane.record()
    if victim == "leader":
        plane.leader().kill()
    else:
        shard = {"source": "shard-0", "target": "shard-2"}[victim]
        master = [s for s in record["shards"] if s["id"] == shard][0]["master"]
        plane.server(master).kill()
    # The rest runs unthrottled, so the test is not long.
    wait_until(lambda: plane.leader() is not None, 20, "a leader")
    mid = migrations(plane)["migrations"][0]["id"]
    wait_until(lambda: plane.live_configserver().call(
        "POST", "/v1/clusters/%s/migrations/%s/throttle" % (plane.name, mid), {"keys_per_s": 0})[0] == 200,
        20, "throttle lifted")
    done = wait_migrations_finished(plane, 120)
    writer.stop()
    assert done[0]["state"] == "done", done
    assert slot_counts(plane)["shard-2"] == 4096
    assert not missing_keys(proxy.port, loaded)
    assert not missing_keys(proxy.port, writer.acked)
    assert not writer.stale
    assert_keys_only_on_owners(plane)


@pytest.mark.parametrize("victim", ["leader", "source", "target"])
def test_kill_mid_move_completes_and_loses_nothing(plane, victim):
    kill_and_check(plane, victim)


def fill_big_keys(server, fields, members):
    """A hash of `fields` 100-byte values and a sorted set of `members`,
    written straight to the server in pipelined chunks."""
    conn = authed(server.port, timeout=60)
    value = "v" * 100
    for start in range(0, fields, 5000):
        args = []
        for i in range(start, min(fields, start + 5000)):
            args += ["f%d" % i, value]
        conn.send_raw(conn.encode("HSET", "{big}hash", *args))
    for start in range(0, members, 5000):
        args = []
        for i in range(start, min(members, start + 5000)):
            args += [str(i), "m%d" % i]
        conn.send_raw(conn.encode("ZADD", "{big}zset", *args))
    for _ in range(0, fields, 5000):
        assert isinstance(conn.read(), int)
    for _ in range(0, members, 5000):
        assert isinstance(conn.read(), int)
    assert conn.command("HLEN", "{big}hash") == fields
    assert conn.command("ZCARD", "{big}zset") == members
    conn.close()


def test_big_keys_move_in_chunks_without_blocking_or_failover(plane):
    fields, members = 2_000_000, 2_000_000  # a ~200 MB hash, a 2M-member sorted set
    proxy = plane.start_proxy()
    record = plane.record()
    big_slot = key_slot("{big}hash")
    source_id = [s["id"] for s in plane.topology()["shards"]
                 if any(a <= big_slot <= b for a, b in s["slots"])][0]
    target_id = "shard-1" if source_id == "shard-0" else "shard-0"
    source = plane.server([s for s in record["shards"] if s["id"] == source_id][0]["master"])
    fill_big_keys(source, fields, members)
    assert authed(source.port).command("MEMORY", "USAGE", "{big}hash") > 150 * 1024 * 1024
    wait_until(lambda: all(len(s["replicas"]) == 1 for s in plane.topology()["shards"]), 60,
               "replicas in sync after the load")
    masters = {s["id"]: s["master"] for s in plane.record()["shards"]}
    for group in plane.servers.values():
        for s in group:
            c = authed(s.port)
            c.command("CONFIG", "SET", "latency-monitor-threshold", "50")
            c.command("LATENCY", "RESET")
            c.close()
    failovers = plane.leader().metric("redkube_configserver_failovers_total")
    writer = LoadWriter(proxy.port, "other", keys=500)
    writer.start()
    status, body = plane.live_configserver().call(
        "POST", "/v1/clusters/%s/migrations" % plane.name,
        {"from": source_id, "to": target_id, "slots": [[big_slot, big_slot]]})
    assert status == 201, body
    done = wait_migrations_finished(plane, 240)
    writer.stop()
    assert done[0]["state"] == "done", done
    assert done[0]["keys_moved"] >= 2
    target = plane.server(masters[target_id])
    conn = authed(proxy.port)
    assert conn.command("HLEN", "{big}hash") == fields
    assert conn.command("ZCARD", "{big}zset") == members
    for i in range(0, fields, fields // 997):
        assert conn.command("HGET", "{big}hash", "f%d" % i) == b"v" * 100
    for i in range(0, members, members // 997):
        assert conn.command("ZSCORE", "{big}zset", "m%d" % i) == str(i).encode()
    assert conn.command("ZRANGE", "{big}zset", "0", "2") == [b"m0", b"m1", b"m2"]
    assert authed(target.port).command("EXISTS", "{big}hash", "{big}zset") == 2
    assert authed(source.port).command("EXISTS", "{big}hash", "{big}zset") == 0
    # No server stalled for 100 ms or more, and nothing failed over.
    for group in plane.servers.values():
        for s in group:
            for event in authed(s.port).command("LATENCY", "LATEST"):
                assert event[2] < 100, (s.address, event)
    assert plane.leader().metric("redkube_configserver_failovers_total") == failovers
    assert {s["id"]: s["master"] for s in plane.record()["shards"]} == masters
    assert not writer.errors, writer.errors[:5]
    assert not missing_keys(proxy.port, writer.acked)


def named_proxy(plane, proxy_id):
    proxy = Proxy(plane.workdir, None, password=PASSWORD, configserver=plane.urls(),
                  cluster=plane.name, extra_args=["--id", proxy_id])
    plane.proxies.append(proxy)
    return proxy


def test_a_proxy_that_has_not_applied_the_epoch_holds_the_move_and_is_named(plane):
    proxy = named_proxy(plane, "lagging-proxy")
    loaded = load_keys(proxy.port, "s", 5000)
    wait_until(lambda: any(p["id"] == "lagging-proxy" for p in migrations(plane)["proxies"]), 15,
               "the proxy's first report")
    proxy.signal(signal.SIGSTOP)  # a real proxy that cannot apply anything new
    try:
        cs = plane.live_configserver()
        status, m = cs.call("POST", "/v1/clusters/%s/migrations" % plane.name,
                            {"from": "shard-0", "to": "shard-1", "slots": [[0, 1023]]})
        assert status == 201, m
        wait_until(lambda: any("lagging-proxy" in w for w in migrations(plane)["migrations"][0]["waiting_for"]),
                   15, "the lagging proxy named in the status")
        time.sleep(1.0)  # nothing moves while it lags: measured over a second
        assert migrations(plane)["migrations"][0]["keys_moved"] == 0
    finally:
        proxy.signal(signal.SIGCONT)
    done = wait_migrations_finished(plane, 60)
    assert done[0]["state"] == "done" and done[0]["waiting_for"] == []
    assert not missing_keys(proxy.port, loaded)


def test_proxy_killed_and_restarted_mid_move_loses_nothing(plane):
    first = named_proxy(plane, "proxy-a")
    other = named_proxy(plane, "proxy-b")
    loaded = load_keys(other.port, "k", 30000)
    writers = [LoadWriter(first.port, "wa", keys=500), LoadWriter(other.port, "wb", keys=500)]
    for w in writers:
        w.start()
    cs = plane.live_configserver()
    m = start_moving(plane, "shard-1", 4000)
    first.proc.kill()
    first.proc.wait()
    writers[0].stop()
    again = named_proxy(plane, "proxy-a")  # the same proxy, restarted
    writers.append(LoadWriter(again.port, "wc", keys=500))
    writers[-1].start()
    assert cs.call("POST", "/v1/clusters/%s/migrations/%s/throttle" % (plane.name, m["id"]),
                   {"keys_per_s": 0})[0] == 200
    done = wait_migrations_finished(plane, 90)
    for w in writers[1:]:
        w.stop()
    assert done[0]["state"] == "done", done
    epoch = plane.topology()["epoch"]
    wait_until(lambda: all(p["epoch"] == epoch for p in migrations(plane)["proxies"]
                           if p["id"] in ("proxy-a", "proxy-b")), 15, "both proxies on the last epoch")
    assert not missing_keys(other.port, loaded)
    for w in writers:
        assert not w.stale
        assert not missing_keys(again.port, w.acked, or_later=w is writers[0])
    assert_keys_only_on_owners(plane)


def test_a_key_deleted_while_its_batch_waits_for_a_stalled_replica_stays_deleted(workdir):
    """The target's replica stalls (SIGSTOP) while the mover copies a batch,
    so its WAIT fails (after 2 s here); a client deletes one of the copied
    keys on the target meanwhile. The retried batch must finish the move
    (delete the source's copy), not copy the old value back."""
    plane = ControlPlane(workdir, shards=2, replicas=1, configserver_args=["--replica-wait-ms", "2000"])
    try:
        check_deleted_key_stays_deleted(plane)
    finally:
        plane.close()


def check_deleted_key_stays_deleted(plane):
    proxy = plane.start_proxy()
    record = plane.record()
    target_shard = [s for s in record["shards"] if s["id"] == "shard-1"][0]
    replica = plane.server([n for n in target_shard["nodes"] if n != target_shard["master"]][0])
    keys = [k for k in ("d%d" % i for i in range(20000)) if key_slot(k) < 64][:50]
    conn = authed(proxy.port)
    for k in keys:
        assert conn.command("SET", k, "old") == b"OK"
    replica.proc.send_signal(signal.SIGSTOP)
    try:
        status, m = plane.live_configserver().call(
            "POST", "/v1/clusters/%s/migrations" % plane.name,
            {"from": "shard-0", "to": "shard-1", "slots": [[0, 63]]})
        assert status == 201, m
        # The batch is copied (the target has the keys) and waits for the replica.
        target = plane.server(target_shard["master"])
        wait_until(lambda: authed(target.port).command("EXISTS", *keys) == len(keys), 20, "batch copied")
        assert conn.command("DEL", keys[0]) == 1
        assert conn.command("SET", keys[1], "new") == b"OK"
        # The replica stays stalled until the move is done: the batch's WAIT
        # fails, the prober takes the replica out, the retry settles.
        done = wait_migrations_finished(plane, 90)
    finally:
        replica.proc.send_signal(signal.SIGCONT)
    assert done[0]["state"] == "done", done
    assert conn.command("EXISTS", keys[0]) == 0, "a deleted key came back"
    assert conn.command("GET", keys[1]) == b"new"
    assert [conn.command("GET", k) for k in keys[2:]] == [b"old"] * (len(keys) - 2)
    assert_keys_only_on_owners(plane)
