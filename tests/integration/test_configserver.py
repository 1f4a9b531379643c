"""ConfigServer against a real etcd, real redis-servers and a real proxy:
the API's validation, automatic failover under load, planned switchover
without loss, leader takeover, etcd and ConfigServer restarts, and the
return of an old master."""
import threading
import time

import pytest

from conftest import (ConfigServer, Etcd, Proxy, RedisServer, RespConnection, RespError,
                      free_port, http, keys_of_shard, slot_owner, wait_for_ping, wait_until)

PASSWORD = "cs-test-password"


def authed(port, timeout=10.0):
    """A connection to a server or proxy of the cluster, authenticated."""
    conn = RespConnection(port, timeout=timeout)
    assert conn.command("AUTH", PASSWORD) == b"OK"
    return conn


class ControlPlane:
    """etcd, two ConfigServers and `shards` x (1 + replicas) redis-servers,
    registered as cluster `name`, with one proxy following it."""

    def __init__(self, workdir, name="demo", shards=3, replicas=1, persistent=False,
                 configservers=2, token=None, configserver_args=()):
        self.workdir = workdir
        self.configserver_args = list(configserver_args)
        self.name = name
        self.token = token
        self.servers = {}
        self.proxies = []
        self.configservers = []
        self.etcd = Etcd(workdir)
        try:
            self._start(shards, replicas, persistent, configservers)
        except BaseException:
            self.close()  # what did start must not outlive a failed setup
            raise

    def _start(self, shards, replicas, persistent, configservers):
        name = self.name
        workdir = self.workdir
        for _ in range(configservers):
            self.configservers.append(ConfigServer(workdir, self.etcd, password=PASSWORD, token=self.token,
                                                   extra_args=self.configserver_args))
        cs = self.configservers[0]
        assert cs.call("POST", "/v1/clusters", {"name": name, "shards": shards})[0] == 201
        for i in range(shards):
            group = [RedisServer(workdir, password=PASSWORD, persistent=persistent)
                     for _ in range(1 + replicas)]
            self.servers["shard-%d" % i] = group
            status, body = cs.call("PUT", "/v1/clusters/%s/shards/shard-%d" % (name, i),
                                   {"nodes": [s.address for s in group]})
            assert status == 200, body
        # Every replica in sync and in the read set.
        wait_until(lambda: all(len(s["replicas"]) == replicas for s in self.topology()["shards"]),
                   20, "replicas in sync")

    def urls(self):
        return ",".join(c.url for c in self.configservers)

    def start_proxy(self):
        proxy = Proxy(self.workdir, None, password=PASSWORD, configserver=self.urls(),
                      cluster=self.name)
        self.proxies.append(proxy)
        return proxy

    def live_configserver(self):
        for c in self.configservers:
            if c.proc.poll() is None:
                return c
        raise AssertionError("no ConfigServer running")

    def topology(self):
        status, body = self.live_configserver().call("GET", "/v1/clusters/%s/topology" % self.name)
        assert status == 200, body
        return body

    def record(self):
        status, body = self.live_configserver().call("GET", "/v1/clusters/" + self.name)
        assert status == 200, body
        return body

    def server(self, address):
        for group in self.servers.values():
            for s in group:
                if s.address == address:
                    return s
        raise KeyError(address)

    def leader(self):
        leaders = [c for c in self.configservers if c.proc.poll() is None and c.is_leader()]
        return leaders[0] if len(leaders) == 1 else None

    def close(self):
        """Stops everything, even if some part fails to stop; then reports it."""
        failures = []
        parts = (self.proxies + self.configservers +
                 [s for group in self.servers.values() for s in group] + [self.etcd])
        for part in parts:
            try:
                part.stop()
            except Exception as e:  # noqa: BLE001 - keep stopping the rest
                failures.append(repr(e))
        assert not failures, failures


@pytest.fixture
def plane_factory(workdir):
    planes = []

    def make(**kwargs):
        plane = ControlPlane(workdir, **kwargs)
        planes.append(plane)
        return plane

    yield make
    for p in planes:
        p.close()


class Writer(threading.Thread):
    """SETs key i = value i through the proxy, one at a time, until stopped
    (bounded by max_writes and max_s). Records when each write was
    acknowledged or failed."""

    def __init__(self, port, keys, max_writes=200000, max_s=60.0):
        super().__init__(daemon=True)
        self.port, self.keys = port, keys
        self.max_writes, self.max_s = max_writes, max_s
        self.acked = {}        # key -> value of the last acknowledged SET
        self.acked_count = 0
        self.events = []       # (time, ok, error text)
        self.crash = None
        self.stopping = threading.Event()

    def run(self):
        try:
            self.write_loop()
        except Exception as e:  # noqa: BLE001 - reported by wait_for_writes
            self.crash = repr(e)

    def write_loop(self):
        conn = None
        start = time.monotonic()
        for i in range(self.max_writes):
            if self.stopping.is_set() or time.monotonic() - start > self.max_s:
                break
            key = self.keys[i % len(self.keys)]
            value = "v%d" % i
            try:
                if conn is None:
                    conn = authed(self.port, timeout=2.0)
                reply = conn.command("SET", key, value)
            except OSError as e:
                reply = RespError("connection: %s" % e)
                conn = None
            now = time.monotonic()
            if reply == b"OK":
                self.acked[key] = value
                self.acked_count += 1
                self.events.append((now, True, None))
            else:
                self.events.append((now, False, str(reply)))
                time.sleep(0.005)  # pacing while the shard is unavailable
        if conn:
            conn.close()

    def stop(self):
        self.stopping.set()
        self.join(30)

    def outage(self, since):
        """(first failure, first success after it) after `since`, or None."""
        first_fail = None
        for t, ok, _ in self.events:
            if t < since:
                continue
            if not ok and first_fail is None:
                first_fail = t
            if ok and first_fail is not None:
                return first_fail, t
        return (first_fail, None) if first_fail else None

    def errors(self):
        return [e for _, ok, e in self.events if not ok]


def wait_for_writes(writer, count):
    wait_until(lambda: writer.acked_count >= count or not writer.is_alive(), 20,
               "%d acknowledged writes" % count)
    assert writer.is_alive(), "writer stopped early: %s %s" % (writer.crash, writer.errors()[-3:])


def check_every_key(proxy, acked):
    """Every acknowledged key reads back with its last acknowledged value."""
    conn = authed(proxy.port)
    keys = sorted(acked)
    missing = []
    for i in range(0, len(keys), 100):
        batch = keys[i:i + 100]
        values = conn.command("MGET", *batch)
        for k, v in zip(batch, values):
            if v != acked[k].encode():
                missing.append((k, acked[k], v))
    conn.close()
    return missing


# ------------------------------------------------------------------ API

def test_api_validates_requests_and_applies_nothing_half(workdir):
    etcd = Etcd(workdir)
    cs = ConfigServer(workdir, etcd, token="s3cret")
    try:
        # No token, wrong token.
        assert cs.call("GET", "/v1/clusters")[0] == 200
        cs.token = None
        status, body = cs.call("GET", "/v1/clusters")
        assert status == 401 and "token" in body["error"]
        cs.token = "wrong"
        assert cs.call("GET", "/v1/clusters")[0] == 401
        cs.token = "s3cret"

        for bad, why in [({"name": "Bad_Name", "shards": 3}, "name"),
                         ({"name": "x", "shards": 0}, "shards"),
                         ({"name": "x", "shards": "3"}, "shards"),
                         ({"name": "x"}, "shards")]:
            status, body = cs.call("POST", "/v1/clusters", bad)
            assert status == 400 and why in body["error"], (bad, body)
        assert cs.call("POST", "/v1/clusters", {"name": "c1", "shards": 2})[0] == 201
        status, body = cs.call("POST", "/v1/clusters", {"name": "c1", "shards": 2})
        assert status == 409 and "exists" in body["error"]

        record = cs.call("GET", "/v1/clusters/c1")[1]
        assert [s["slots"] for s in record["shards"]] == [[[0, 8191]], [[8192, 16383]]]
        # Incomplete: no topology for proxies yet.
        status, body = cs.call("GET", "/v1/clusters/c1/topology")
        assert status == 503 and "not complete" in body["error"]

        server = RedisServer(workdir)
        try:
            dead = "127.0.0.1:%d" % server.port
            for path, body, code in [
                ("/v1/clusters/c1/shards/shard-9", {"nodes": [server.address]}, 404),
                ("/v1/clusters/nope/shards/shard-0", {"nodes": [server.address]}, 404),
                ("/v1/clusters/c1/shards/shard-0", {"nodes": []}, 400),
                ("/v1/clusters/c1/shards/shard-0", {"nodes": ["no-port"]}, 400),
                ("/v1/clusters/c1/shards/shard-0", {"nodes": [server.address, server.address]}, 400),
                ("/v1/clusters/c1/shards/shard-0", {"nodes": "x"}, 400),
            ]:
                status, reply = cs.call("PUT", path, body)
                assert status == code, (path, body, reply)
                assert reply["error"]
            server.kill()
            status, reply = cs.call("PUT", "/v1/clusters/c1/shards/shard-0",
                                    {"nodes": [dead]})
            assert status == 400 and "cannot reach" in reply["error"]
            # Nothing was half-applied.
            after = cs.call("GET", "/v1/clusters/c1")[1]
            assert after["epoch"] == record["epoch"]
            assert [s["nodes"] for s in after["shards"]] == [[], []]
        finally:
            server.stop()
        status, body = cs.call("POST", "/v1/clusters/c1/shards/shard-0/switchover", {"to": 5})
        assert status == 400
        assert cs.call("DELETE", "/v1/clusters/c1")[0] == 200
        assert cs.call("GET", "/v1/clusters/c1")[0] == 404
    finally:
        cs.stop()
        etcd.stop()


class NotEtcd:
    """An HTTP service that is not etcd behind --etcd (a wrong port in the
    configuration): it answers every POST with 200 and JSON of other
    shapes. A stand-in, as no real etcd answers this way."""

    REPLIES = [b'{"kvs": "none", "succeeded": "yes", "ID": "abc", "TTL": []}',
               b'{"kvs": [7], "result": 5, "ID": 1.5}',
               b'[1, 2, 3]',
               b'{"kvs": [{"key": 5, "mod_revision": "x"}], "ID": "99999999999999999999999"}']

    def __init__(self):
        import http.server

        replies = self.REPLIES
        self.count = 0
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                body = replies[outer.count % len(replies)]
                outer.count += 1
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def test_a_service_that_is_not_etcd_is_an_error_not_a_crash(workdir):
    fake = NotEtcd()
    cs = None
    try:
        cs = ConfigServer(workdir, fake, wait_healthy=False)
        # Its campaign, cache refresh and API calls all meet the odd replies.
        wait_until(lambda: fake.count >= 40, 10, "40 requests to the service")
        for _ in range(10):
            assert cs.call("GET", "/v1/clusters/demo")[0] in (404, 503)  # nothing read
            status, body = cs.call("POST", "/v1/clusters", {"name": "demo", "shards": 1})
            assert status >= 400, (status, body)
        assert cs.proc.poll() is None, "the ConfigServer exited"
        assert "unexpected reply" in cs.log_text() or "malformed reply" in cs.log_text()
        assert not cs.is_leader()
        assert http("GET", cs.url + "/healthz")[1]["etcd"] == "unreachable"
    finally:
        if cs is not None:
            cs.stop()
        fake.stop()


def test_registration_sets_up_replication_and_publishes_topology(plane_factory):
    plane = plane_factory(shards=2, replicas=2)
    topo = plane.topology()
    assert [s["id"] for s in topo["shards"]] == ["shard-0", "shard-1"]
    for shard in topo["shards"]:
        group = plane.servers[shard["id"]]
        assert shard["master"] == group[0].address
        assert sorted(shard["replicas"]) == sorted(s.address for s in group[1:])
        for replica in group[1:]:
            conn = authed(replica.port)
            role = conn.command("ROLE")
            assert role[0] == b"slave" and role[2] == group[0].port
            conn.close()
    # The proxy follows: a write lands on the shard's master and replicates.
    proxy = plane.start_proxy()
    conn = authed(proxy.port)
    assert conn.command("SET", "hello", "world") == b"OK"
    owner = slot_owner(topo, "hello")
    replica = plane.server(owner["replicas"][0])
    r = authed(replica.port)
    wait_until(lambda: r.command("GET", "hello") == b"world", 5, "replicated write")


# ------------------------------------------------------------------ failover

def test_master_killed_under_load_fails_over_within_3s(plane_factory):
    plane = plane_factory(shards=3, replicas=1)
    proxy = plane.start_proxy()
    topo = plane.topology()
    keys = keys_of_shard(topo, "shard-0", 500, prefix="fo")
    writer = Writer(proxy.port, keys)
    writer.start()
    wait_for_writes(writer, 300)
    old_master = plane.server(topo["shards"][0]["master"])
    killed_at = time.monotonic()
    old_master.kill()
    wait_until(lambda: writer.outage(killed_at) and writer.outage(killed_at)[1], 10,
               "writes to succeed again after the kill")
    first_fail, recovered = writer.outage(killed_at)
    window = recovered - killed_at
    print("\nkill -9 of master %s: writes failed from +%.3f s, succeeded again at +%.3f s"
          % (old_master.address, first_fail - killed_at, window))
    assert window < 3.0, "writes unavailable for %.2f s" % window
    wait_for_writes(writer, writer.acked_count + 200)
    writer.stop()

    new_topo = plane.topology()
    assert new_topo["epoch"] > topo["epoch"]
    assert new_topo["shards"][0]["master"] == topo["shards"][0]["replicas"][0]
    assert new_topo["shards"][0]["replicas"] == []
    # Writes acknowledged after the failover are all there. (Asynchronous
    # replication may lose writes acknowledged just before the kill; the
    # failover benchmark counts those.)
    missing = check_every_key(proxy, writer.acked)
    print("acknowledged keys: %d, missing or stale after failover: %d"
          % (len(writer.acked), len(missing)))
    late = [m for m in missing if int(m[1][1:]) > len(writer.events) - 150]
    assert not late, late[:5]
    # The other shards never noticed (their clients were not affected).
    assert "proxy" not in proxy.log_text().lower() or proxy.proc.poll() is None


def test_returning_old_master_becomes_replica_and_its_stale_keys_never_reach_clients(plane_factory):
    plane = plane_factory(shards=1, replicas=1, persistent=True)
    proxy = plane.start_proxy()
    conn = authed(proxy.port)
    topo = plane.topology()
    old = plane.server(topo["shards"][0]["master"])
    replica = plane.server(topo["shards"][0]["replicas"][0])
    # Written on the master directly, so WAIT can confirm both reached the
    # replica (the proxy does not offer WAIT yet).
    m = authed(old.port)
    assert m.command("SET", "x", "old") == b"OK"
    assert m.command("SET", "y", "doomed") == b"OK"
    assert m.command("WAIT", "1", "2000") == 1
    m.close()
    assert conn.command("GET", "x") == b"old"
    old.kill()
    wait_until(lambda: plane.topology()["shards"][0]["master"] == replica.address, 10,
               "failover to the replica")

    def write_after_failover():
        try:
            return conn.command("SET", "x", "new") == b"OK"
        except OSError:
            return False
    wait_until(write_after_failover, 5, "a write on the new master")
    assert conn.command("DEL", "y") == 1

    old.start()  # comes back from its AOF with x=old and y
    wait_until(lambda: (old.address in plane.topology()["shards"][0]["replicas"]), 15,
               "the old master back as an in-sync replica")
    for _ in range(50):
        assert conn.command("GET", "x") == b"new"
        assert conn.command("EXISTS", "y") == 0
    direct = authed(old.port)
    assert direct.command("ROLE")[0] == b"slave"
    assert direct.command("GET", "x") == b"new"
    assert direct.command("EXISTS", "y") == 0
    masters = sum(authed(s.port).command("ROLE")[0] == b"master" for s in (old, replica))
    assert masters == 1


def test_planned_switchover_under_load_loses_nothing(plane_factory):
    plane = plane_factory(shards=2, replicas=1)
    proxy = plane.start_proxy()
    topo = plane.topology()
    keys = keys_of_shard(topo, "shard-0", 1000, prefix="sw")
    writer = Writer(proxy.port, keys)
    writer.start()
    wait_for_writes(writer, 500)
    started = time.monotonic()
    status, body = plane.configservers[1].call("POST", "/v1/clusters/demo/shards/shard-0/switchover")
    assert status == 200, body
    assert body["shards"][0]["master"] == topo["shards"][0]["replicas"][0]
    wait_for_writes(writer, writer.acked_count + 500)
    writer.stop()
    outage = writer.outage(started)
    if outage:
        first_fail, recovered = outage
        last_fail = max(t for t, ok, _ in writer.events if not ok)
        print("\nswitchover: errors from +%.3f s to +%.3f s (%d failed writes: %s)"
              % (first_fail - started, last_fail - started, len(writer.errors()),
                 sorted(set(writer.errors()))[:3]))
        assert last_fail - first_fail < 1.0
    else:
        print("\nswitchover: no write failed")
    missing = check_every_key(proxy, writer.acked)
    print("acknowledged keys: %d, missing: %d" % (len(writer.acked), len(missing)))
    assert not missing, missing[:5]
    # The old master is now a replica of the new one.
    old = plane.server(topo["shards"][0]["master"])
    r = authed(old.port)
    role = r.command("ROLE")
    assert role[0] == b"slave" and role[2] == plane.server(body["shards"][0]["master"]).port


def role_of(server):
    conn = authed(server.port)
    try:
        return conn.command("ROLE")
    finally:
        conn.close()


def writes_through(proxy, key, value):
    """Whether a SET through the proxy is acknowledged now (a -READONLY or
    -TRYAGAIN while the topology moves is a no)."""
    conn = authed(proxy.port)
    try:
        return conn.command("SET", key, value) == b"OK"
    except RespError:
        return False
    finally:
        conn.close()


def test_switchover_done_but_not_recorded_is_adopted_not_made_a_cycle(plane_factory):
    """A FAILOVER that finished without being recorded (what a ConfigServer
    that dies mid-switchover leaves; sent by hand here) leaves the recorded
    master replicating the new one. The leader records the new master; it
    must not point the new master back at the old one (two servers
    replicating each other: no master, every write refused, forever)."""
    plane = plane_factory(shards=1, replicas=1)
    proxy = plane.start_proxy()
    topo = plane.topology()
    old = plane.server(topo["shards"][0]["master"])
    new = plane.server(topo["shards"][0]["replicas"][0])
    assert writes_through(proxy, "before", "1")
    conn = authed(old.port)
    assert conn.command("FAILOVER", "TO", "127.0.0.1", str(new.port), "TIMEOUT", "5000") == b"OK"
    conn.close()
    wait_until(lambda: plane.topology()["shards"][0]["master"] == new.address, 10,
               "the record to name the new master")
    wait_until(lambda: writes_through(proxy, "after", "2"), 10, "writes through the proxy")
    assert role_of(new)[0] == b"master"
    old_role = role_of(old)
    assert old_role[0] == b"slave" and old_role[2] == new.port, old_role
    conn = authed(proxy.port)
    assert conn.command("MGET", "before", "after") == [b"1", b"2"]
    assert "already master: recorded as master" in plane.leader().log_text()


def test_recorded_master_made_a_replica_by_hand_is_made_master_again(plane_factory):
    """The recorded master re-pointed at a server that does not exist (a
    promotion that stopped half way looks the same: a recorded master that
    still replicates): the leader makes it master again and no data goes."""
    plane = plane_factory(shards=1, replicas=1)
    proxy = plane.start_proxy()
    master = plane.server(plane.topology()["shards"][0]["master"])
    assert writes_through(proxy, "kept", "yes")
    conn = authed(master.port)
    assert conn.command("REPLICAOF", "127.0.0.1", str(free_port())) == b"OK"
    conn.close()
    wait_until(lambda: role_of(master)[0] == b"master", 10, "the master to be master again")
    wait_until(lambda: writes_through(proxy, "new", "write"), 10, "writes through the proxy")
    assert plane.topology()["shards"][0]["master"] == master.address
    conn = authed(proxy.port)
    assert conn.command("MGET", "kept", "new") == [b"yes", b"write"]
    assert "making it master again" in plane.leader().log_text()


def test_leader_killed_standby_takes_over_and_still_fails_over(plane_factory):
    plane = plane_factory(shards=2, replicas=1)
    proxy = plane.start_proxy()
    leader = wait_until(plane.leader, 10, "one leader")
    standby = [c for c in plane.configservers if c is not leader][0]
    killed = time.monotonic()
    leader.kill()
    wait_until(standby.is_leader, 10, "the standby to lead")
    print("\nstandby leads %.2f s after kill -9 of the leader" % (time.monotonic() - killed))
    topo = plane.topology()
    old = plane.server(topo["shards"][1]["master"])
    old.kill()
    wait_until(lambda: plane.topology()["shards"][1]["master"] == topo["shards"][1]["replicas"][0],
               10, "failover by the new leader")
    conn = authed(proxy.port)
    key = keys_of_shard(topo, "shard-1", 1)[0]
    wait_until(lambda: conn.command("SET", key, "after") == b"OK", 5, "writes on shard-1")


def test_etcd_and_configserver_restarts_keep_topology(plane_factory):
    plane = plane_factory(shards=3, replicas=1)
    proxy = plane.start_proxy()
    before = plane.record()
    topo = plane.topology()
    conn = authed(proxy.port)
    assert conn.command("SET", "survivor", "1") == b"OK"

    plane.etcd.stop()
    # The proxy keeps serving with the topology it has.
    assert conn.command("GET", "survivor") == b"1"
    assert conn.command("SET", "during-outage", "2") == b"OK"
    for c in plane.configservers:
        c.stop()
    plane.etcd.start()
    for c in plane.configservers:
        c.start()
    wait_until(plane.leader, 10, "a leader after the restarts")
    after = plane.record()
    assert after["epoch"] == before["epoch"]
    assert after["shards"] == before["shards"]
    assert plane.topology() == topo
    # A proxy started now gets the same topology, and the old one still works.
    fresh = plane.start_proxy()
    c2 = authed(fresh.port)
    assert c2.command("MGET", "survivor", "during-outage") == [b"1", b"2"]
    # And the proxy that lived through it follows the next change.
    old = plane.server(topo["shards"][2]["master"])
    old.kill()
    key = keys_of_shard(topo, "shard-2", 1)[0]

    def shard2_writable():
        try:
            return conn.command("SET", key, "x") == b"OK"
        except OSError:
            return False
    wait_until(shard2_writable, 10, "the first proxy to follow a failover")


def test_add_node_then_remove_the_master_switches_over_first(plane_factory, workdir):
    plane = plane_factory(shards=1, replicas=0)
    proxy = plane.start_proxy()
    conn = authed(proxy.port)
    assert conn.command("SET", "kept", "1") == b"OK"
    cs = plane.configservers[0]
    master = plane.topology()["shards"][0]["master"]
    status, body = cs.call("DELETE", "/v1/clusters/demo/shards/shard-0/nodes/" + master)
    assert status == 409 and "only node" in body["error"]

    extra = RedisServer(workdir, password=PASSWORD)
    plane.servers["shard-0"].append(extra)
    status, body = cs.call("POST", "/v1/clusters/demo/shards/shard-0/nodes", {"node": extra.address})
    assert status == 200, body
    assert extra.address in body["shards"][0]["down"]  # not readable before it is in sync
    wait_until(lambda: plane.topology()["shards"][0]["replicas"] == [extra.address], 10,
               "the added node in sync")

    status, body = cs.call("DELETE", "/v1/clusters/demo/shards/shard-0/nodes/" + master)
    assert status == 200, body
    assert body["shards"][0]["master"] == extra.address
    assert body["shards"][0]["nodes"] == [extra.address]

    def read_after_switch():
        try:
            return conn.command("GET", "kept") == b"1" and conn.command("SET", "new", "2") == b"OK"
        except OSError:
            return False
    wait_until(read_after_switch, 5, "the proxy on the new master")
