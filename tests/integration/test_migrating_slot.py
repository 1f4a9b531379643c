"""The proxy's side of an online slot migration (docs/migration.md), on
three real redis-servers and a proxy following a topology file (SIGHUP
applies a new one): the epoch it reports applied, keys written on a
migrating slot ending on the importer only, a key the importer already
holds winning over the source's copy (BUSYKEY), requests for a key the
mover holds waiting for the hold to be lifted, transactions, scripts and
split commands on a migrating slot. Every key is checked on the servers
themselves afterwards."""
import select
import signal
import socket
import time

import pytest

from conftest import (SLOT_RANGES, ConfigServer, Etcd, Proxy, RedisServer, RespConnection, RespError, http,
                      info_field, key_slot, keys_on_shard, shard_of, wait_until)


def layout(servers, epoch, migrations=()):
    """Shard i on servers[i] with SLOT_RANGES[i]; migrations: (slot, from, to, held keys)."""
    shards = [{"id": "shard-%d" % i, "master": s.address, "replicas": [], "slots": SLOT_RANGES[i]}
              for i, s in enumerate(servers)]
    return {"cluster": "test", "epoch": epoch, "shards": shards,
            "migrations": [{"slots": [[slot, slot]], "from": "shard-%d" % src, "to": "shard-%d" % dst,
                            "held_keys": [k.encode().hex() for k in held]}
                           for slot, src, dst, held in migrations]}


def apply(proxy, conn, doc):
    proxy.write_topology(doc)
    proxy.signal(signal.SIGHUP)
    wait_until(lambda: info_field(conn, "applied_epoch") == str(doc["epoch"]), 10, "epoch %d" % doc["epoch"])


class Cluster:
    """Three servers, a proxy on them, and a direct connection to each server."""

    def __init__(self, workdir, extra_args=()):
        self.servers = [RedisServer(workdir) for _ in range(3)]
        self.proxy = Proxy(workdir, self.servers, extra_args=extra_args)
        self.conn = self.proxy.connect()
        self.direct = [RespConnection(s.port) for s in self.servers]

    def migrate(self, epoch, slot, held=()):
        """Epoch `epoch`: `slot` (shard 0's) migrates to shard 1, holding `held`."""
        apply(self.proxy, self.conn, layout(self.servers, epoch, migrations=[(slot, 0, 1, held)]))

    def stop(self):
        for c in self.direct:
            c.close()
        self.proxy.stop()
        for s in self.servers:
            s.stop()


def on_importer_only(cluster, *keys):
    """Every key is on shard 1 (the importer) and none on shard 0 (the source)."""
    return (cluster.direct[0].command("EXISTS", *keys) == 0 and
            cluster.direct[1].command("EXISTS", *keys) == len(keys))


def no_reply_within(conn, seconds):
    """Nothing arrives on `conn` for `seconds` (the request is waiting)."""
    readable, _, _ = select.select([conn.sock], [], [], seconds)
    return not readable


def test_the_proxy_reports_its_id_and_the_epoch_every_worker_applied(workdir):
    servers = [RedisServer(workdir) for _ in range(3)]
    named = Proxy(workdir, servers, extra_args=["--id", "proxy-a"])
    unnamed = Proxy(workdir, servers)
    try:
        conn = named.connect()
        assert info_field(conn, "proxy_id") == "proxy-a"
        assert info_field(conn, "applied_epoch") == "1"
        apply(named, conn, layout(servers, 7))
        assert info_field(conn, "topology_epoch") == "7"
        status, text = http("GET", "http://127.0.0.1:%d/metrics" % named.admin_port)
        assert status == 200
        assert "\nredkube_proxy_applied_epoch 7\n" in text, text
        assert '\nredkube_proxy_info{id="proxy-a"} 1\n' in text
        # By default: the host name and the client port.
        other = unnamed.connect()
        assert info_field(other, "proxy_id") == "%s:%d" % (socket.gethostname(), unnamed.port)
        conn.close()
        other.close()
    finally:
        named.stop()
        unnamed.stop()
        for s in servers:
            s.stop()


def test_keys_written_on_a_migrating_slot_end_on_the_importer_only(workdir):
    c = Cluster(workdir)
    try:
        tag = keys_on_shard(0, 1, prefix="w")[0]
        keys = ["{%s}%d" % (tag, i) for i in range(20)]
        for k in keys[:10]:  # half exist on the source before the move
            assert c.direct[0].command("SET", k, "old-" + k) == b"OK"
        c.migrate(2, key_slot(tag))
        for k in keys:
            assert c.conn.command("APPEND", k, "+") > 0
        for k in keys[:10]:
            assert c.direct[1].command("GET", k) == ("old-%s+" % k).encode()
        for k in keys[10:]:
            assert c.direct[1].command("GET", k) == b"+"
        assert on_importer_only(c, *keys)
    finally:
        c.stop()


def test_a_key_the_importer_already_holds_wins_over_the_sources_copy(workdir):
    c = Cluster(workdir)
    try:
        tag = keys_on_shard(0, 1, prefix="b")[0]
        both, moving = "{%s}both" % tag, "{%s}moving" % tag
        # As after a source failover brought back a copy already moved.
        assert c.direct[0].command("SET", both, "stale") == b"OK"
        assert c.direct[1].command("SET", both, "current") == b"OK"
        assert c.direct[0].command("SET", moving, "m") == b"OK"
        c.migrate(2, key_slot(tag))
        assert c.conn.command("GET", both) == b"current"
        # With a busy key among them, the others still move.
        assert c.conn.command("MGET", both, moving) == [b"current", b"m"]
        assert c.conn.command("APPEND", both, "!") == len("current!")
        assert c.direct[1].command("GET", both) == b"current!"
        assert c.direct[1].command("GET", moving) == b"m"
        assert c.direct[0].command("EXISTS", moving) == 0
        # The source's stale copy is untouched: the mover deletes it.
        assert c.direct[0].command("GET", both) == b"stale"
    finally:
        c.stop()


def test_a_request_for_a_held_key_waits_until_the_hold_is_lifted(workdir):
    c = Cluster(workdir)
    try:
        tag = keys_on_shard(0, 1, prefix="h")[0]
        held, free = "{%s}big" % tag, "{%s}small" % tag
        assert c.direct[0].command("SET", held, "v-big") == b"OK"
        assert c.direct[0].command("SET", free, "v-small") == b"OK"
        c.migrate(2, key_slot(tag), held=[held])
        waiting = c.proxy.connect()
        # GET of the held key, and a PING behind it that must wait its turn.
        waiting.sock.sendall(waiting.encode("GET", held) + waiting.encode("PING"))
        # Other keys of the slot are served meanwhile (and moved).
        assert c.conn.command("GET", free) == b"v-small"
        assert on_importer_only(c, free)
        # Neither reply comes while the key is held; the mover's key stays put.
        assert no_reply_within(waiting, 0.3)
        assert c.direct[0].command("GET", held) == b"v-big"
        assert c.direct[1].command("EXISTS", held) == 0
        # The mover moved it and lifted the hold (epoch 3, same migration).
        assert c.direct[0].command("MIGRATE", "127.0.0.1", c.servers[1].port, held, 0, 5000) == b"OK"
        c.migrate(3, key_slot(tag))
        assert waiting.read() == b"v-big"
        assert waiting.read() == b"PONG"
        assert on_importer_only(c, held, free)
        # Counted once each, however often the waiting GET was dispatched.
        stats = c.conn.command("INFO", "commandstats").decode()
        assert "cmdstat_get:calls=2," in stats, stats
        waiting.close()
    finally:
        c.stop()


def test_a_request_for_a_held_key_answers_tryagain_after_the_hold_timeout(workdir):
    c = Cluster(workdir, extra_args=["--hold-timeout-ms", "300"])
    try:
        tag = keys_on_shard(0, 1, prefix="t")[0]
        held = "{%s}big" % tag
        assert c.direct[0].command("SET", held, "v") == b"OK"
        c.migrate(2, key_slot(tag), held=[held])
        start = time.monotonic()
        reply = c.conn.command("SET", held, "w")
        assert isinstance(reply, RespError) and str(reply) == "TRYAGAIN key is being moved to another shard, retry"
        assert 0.25 <= time.monotonic() - start < 5
        # The write ran nowhere; the next request is served as usual.
        assert c.direct[0].command("GET", held) == b"v" and c.direct[1].command("EXISTS", held) == 0
        assert c.conn.command("PING") == b"PONG"
        # A held key in a transaction or a script waits too.
        assert c.conn.pipeline([("MULTI",), ("GET", held), ("EXEC",)])[2] == RespError(
            "TRYAGAIN key is being moved to another shard, retry")
        assert isinstance(c.conn.command("EVAL", "return redis.call('GET', KEYS[1])", 1, held), RespError)
        assert c.direct[0].command("GET", held) == b"v"
    finally:
        c.stop()


def test_a_transaction_on_a_migrating_slot_runs_on_the_importer(workdir):
    c = Cluster(workdir)
    try:
        tag = keys_on_shard(0, 1, prefix="x")[0]
        a, b, n = "{%s}a" % tag, "{%s}b" % tag, "{%s}n" % tag
        assert c.direct[0].command("SET", a, "on-source") == b"OK"
        assert c.direct[0].command("SET", n, "41") == b"OK"
        c.migrate(2, key_slot(tag))
        replies = c.conn.pipeline([("MULTI",), ("GET", a), ("SET", b, "new"), ("INCR", n), ("EXEC",), ("PING",)])
        assert replies == [b"OK", b"QUEUED", b"QUEUED", b"QUEUED", [b"on-source", b"OK", 42], b"PONG"]
        assert on_importer_only(c, a, b, n)
        assert c.direct[1].command("GET", n) == b"42"
        # WATCH of a moving key stays a retryable refusal.
        reply = c.conn.command("WATCH", a)
        assert isinstance(reply, RespError) and str(reply).startswith("TRYAGAIN")
        # A transaction watched before the move began cannot be checked: nil.
        c2 = Cluster(workdir)
        try:
            tag2 = keys_on_shard(0, 1, prefix="y")[0]
            w = "{%s}w" % tag2
            assert c2.conn.command("WATCH", w) == b"OK"
            c2.migrate(2, key_slot(tag2))
            assert c2.conn.pipeline([("MULTI",), ("SET", w, "1"), ("EXEC",)]) == [b"OK", b"QUEUED", None]
            assert c2.direct[0].command("EXISTS", w) == 0 and c2.direct[1].command("EXISTS", w) == 0
        finally:
            c2.stop()
    finally:
        c.stop()


def test_scripts_and_functions_on_a_migrating_slot_run_on_the_importer(workdir):
    c = Cluster(workdir)
    try:
        tag = keys_on_shard(0, 1, prefix="s")[0]
        k1, k2, k3, k4 = ("{%s}%d" % (tag, i) for i in range(4))
        for k in (k1, k2, k3):
            assert c.direct[0].command("SET", k, "v" + k) == b"OK"
        body = "redis.call('SET', KEYS[2], redis.call('GET', KEYS[1])) return redis.call('GET', KEYS[2])"
        sha = c.conn.command("SCRIPT", "LOAD", body)
        library = ("#!lua name=mig\nredis.register_function('copy', function(keys, args) "
                   "redis.call('SET', keys[2], redis.call('GET', keys[1])) return redis.call('GET', keys[2]) end)")
        assert c.conn.command("FUNCTION", "LOAD", library) == b"mig"
        c.migrate(2, key_slot(tag))
        assert c.conn.command("EVAL", body, 2, k1, k4) == ("v" + k1).encode()
        assert on_importer_only(c, k1, k4)
        assert c.conn.command("EVALSHA", sha, 2, k2, k4) == ("v" + k2).encode()
        assert c.conn.command("FCALL", "copy", 2, k3, k4) == ("v" + k3).encode()
        assert on_importer_only(c, k1, k2, k3, k4)
        assert c.direct[1].command("GET", k4) == ("v" + k3).encode()
    finally:
        c.stop()


def test_split_commands_with_keys_of_a_migrating_slot_and_others(workdir):
    c = Cluster(workdir)
    try:
        tag = keys_on_shard(0, 1, prefix="m")[0]
        moving = ["{%s}%d" % (tag, i) for i in range(3)]
        elsewhere = keys_on_shard(0, 2, prefix="e") + keys_on_shard(2, 2, prefix="e")
        elsewhere = [k for k in elsewhere if key_slot(k) != key_slot(tag)]
        assert c.direct[0].command("SET", moving[0], "old") == b"OK"
        c.migrate(2, key_slot(tag))
        # The moving slot's keys go in two steps, the others straight to their shards.
        keys = [moving[0], elsewhere[0], moving[1], elsewhere[-1]]
        assert c.conn.command("MGET", *keys) == [b"old", None, None, None]
        assert on_importer_only(c, moving[0])
        pairs = []
        for k in moving + elsewhere:
            pairs += [k, "v-" + k]
        assert c.conn.command("MSET", *pairs) == b"OK"
        assert on_importer_only(c, *moving)
        assert c.conn.command("MGET", *(moving + elsewhere)) == [("v-" + k).encode() for k in moving + elsewhere]
        for k in elsewhere:  # on their own shards, as without a migration
            assert c.direct[shard_of(k)].command("GET", k) == ("v-" + k).encode()
        assert c.conn.command("EXISTS", *(moving + elsewhere)) == len(moving + elsewhere)
        assert c.conn.pipeline([("DEL", moving[2], elsewhere[0]), ("PING",)]) == [2, b"PONG"]
        assert c.direct[1].command("EXISTS", moving[2]) == 0 and c.direct[0].command("EXISTS", moving[2]) == 0
        assert on_importer_only(c, moving[0], moving[1])
    finally:
        c.stop()


def test_a_proxy_following_a_configserver_confirms_each_epoch_at_once(workdir):
    """The report rides on the long-poll: a new epoch is confirmed within a
    poll's round trip, not after the poll's 10 s wait. Needs a ConfigServer
    that records the reports (GET .../proxies); skipped against one that
    does not yet."""
    etcd = Etcd(workdir)
    cs = ConfigServer(workdir, etcd)
    server, replica = RedisServer(workdir), RedisServer(workdir)
    proxy = None
    try:
        assert cs.call("POST", "/v1/clusters", {"name": "conf", "shards": 1})[0] == 201
        status, body = cs.call("PUT", "/v1/clusters/conf/shards/shard-0", {"nodes": [server.address]})
        assert status == 200, body
        status, _ = cs.call("GET", "/v1/clusters/conf/proxies")
        if status == 404:
            pytest.skip("this ConfigServer does not record proxy reports yet")
        proxy = Proxy(workdir, None, configserver=cs.url, cluster="conf", extra_args=["--id", "proxy-conf"])
        conn = proxy.connect()

        def reported():
            status, body = cs.call("GET", "/v1/clusters/conf/proxies")
            assert status == 200, body
            return {p["id"]: p["epoch"] for p in body["proxies"]}.get("proxy-conf")
        epoch = int(info_field(conn, "applied_epoch"))
        wait_until(lambda: reported() == epoch, 15, "the proxy's report of epoch %d" % epoch)
        # A new epoch (a replica joins the shard): applied and confirmed
        # well within one long-poll wait.
        status, body = cs.call("PUT", "/v1/clusters/conf/shards/shard-0",
                               {"nodes": [server.address, replica.address]})
        assert status == 200, body
        started = time.monotonic()
        wait_until(lambda: int(info_field(conn, "applied_epoch")) > epoch, 10, "a newer epoch applied")
        newer = int(info_field(conn, "applied_epoch"))
        applied_s = time.monotonic() - started
        wait_until(lambda: reported() == newer, 10, "the proxy's report of epoch %d" % newer)
        assert time.monotonic() - started - applied_s < 3, "confirmed only after a long-poll wait"
        conn.close()
    finally:
        if proxy is not None:
            proxy.stop()
        server.stop()
        replica.stop()
        cs.stop()
        etcd.stop()
