"""Online slot migration against real etcd, ConfigServers, redis-servers and
proxies: rebalancing onto a new shard and draining one under load with
every acknowledged key checked, the API's validation, pause / resume /
cancel, the throttle, and kills mid-move (leader ConfigServer, source and
target masters). docs/migration.md is the design."""
import threading
import time

import pytest

from conftest import RedisServer, RespError, key_slot, wait_until
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


def missing_keys(port, acked):
    conn = authed(port)
    keys = sorted(acked)
    missing = []
    for i in range(0, len(keys), 200):
        batch = keys[i:i + 200]
        values = conn.command("MGET", *batch)
        if isinstance(values, RespError):  # a split MGET touching a moving slot may ask to retry
            values = [conn.command("GET", k) for k in batch]
        for k, v in zip(batch, values):
            if v != acked[k].encode():
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
    moved = migrations(plane)["migrations"][0]["keys_moved"]
    time.sleep(1.0)  # a paused migration must not move: measured over a second
    assert migrations(plane)["migrations"][0]["keys_moved"] <= moved + 256
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


def kill_and_check(plane, victim):
    proxy = plane.start_proxy()
    loaded = load_keys(proxy.port, "k", 40000)
    writer = LoadWriter(proxy.port, "w", keys=1000)
    writer.start()
    add_shard(plane, "shard-2")
    cs = plane.live_configserver()
    status, body = cs.call("POST", "/v1/clusters/%s/migrations" % plane.name,
                           {"from": "shard-0", "to": "shard-2", "slots": [[0, 4095]],
                            "throttle": {"keys_per_s": 5000}})
    assert status == 201, body
    wait_until(lambda: migrations(plane)["migrations"][0]["keys_moved"] > 2000, 30, "keys moving")
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
