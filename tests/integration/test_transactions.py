"""MULTI/EXEC/DISCARD/WATCH/UNWATCH through the proxy (three shards), compared
reply by reply with a plain redis-server where Redis Cluster's one-slot rule
does not apply, and driven by redis-py's own transaction helper."""
import threading

import redis

from conftest import RespConnection, RespError, key_slot, wait_until
from test_differential import CROSSSLOT, E, run

EXECABORT = RespError("EXECABORT Transaction discarded because of previous errors.")


def test_transaction_replies_match_redis(pc, rc):
    replies = run(pc, rc, [
        ("MULTI",),
        ("SET", "{t}a", "1"),
        ("INCR", "{t}a"),
        ("GET", "{t}a"),
        ("LPUSH", "{t}list", "x", "y"),
        ("MSET", "{t}b", "2", "{t}c", "3"),
        ("MGET", "{t}a", "{t}b", "{t}c"),
        ("DEL", "{t}b", "{t}c"),
        ("PING",),
        ("ECHO", "hi"),
        ("EXEC",),
        ("GET", "{t}a"),
    ])
    assert replies[-2] == [b"OK", 2, b"2", 2, b"OK", [b"2", b"2", b"3"], 2, b"PONG", b"hi"]


def test_errors_outside_and_inside_multi_match_redis(pc, rc):
    run(pc, rc, [
        E("EXEC",),
        E("DISCARD",),
        ("MULTI",),
        E("MULTI",),                     # nested: an error, the transaction goes on
        ("SET", "{t}a", "1"),
        E("WATCH", "{t}a"),              # not allowed inside MULTI, not fatal either
        ("EXEC",),
        ("MULTI",),
        ("SET", "{t}a", "2"),
        ("DISCARD",),
        ("GET", "{t}a"),
        ("MULTI",),
        ("SET", "{t}a", "3"),
        E("NOSUCHCOMMAND", "x"),         # queuing error: EXEC aborts
        E("EXEC",),
        ("GET", "{t}a"),
        ("MULTI",),
        E("GET",),                       # wrong arity: EXEC aborts
        E("EXEC",),
        ("MULTI",),
        ("INCR", "{t}s"),
        ("LPUSH", "{t}s", "x"),          # runtime error: only that reply is an error
        ("EXEC",),
        ("UNWATCH",),
    ])


def test_keys_of_two_slots_abort_the_transaction(pc):
    assert key_slot("{a}x") != key_slot("{b}y")
    assert pc.command("MULTI") == b"OK"
    assert pc.command("SET", "{a}x", "1") == b"QUEUED"
    assert pc.command("SET", "{b}y", "2") == CROSSSLOT
    assert pc.command("EXEC") == EXECABORT
    assert pc.command("MGET", "{a}x", "{b}y") == [None, None]
    # One command crossing slots on its own aborts too.
    assert pc.command("MULTI") == b"OK"
    assert pc.command("MSET", "{a}x", "1", "{b}y", "2") == CROSSSLOT
    assert pc.command("EXEC") == EXECABORT
    # Commands answered by every shard cannot join a one-shard transaction.
    assert pc.command("MULTI") == b"OK"
    reply = pc.command("DBSIZE")
    assert isinstance(reply, RespError) and "inside MULTI" in str(reply), reply
    assert pc.command("EXEC") == EXECABORT
    # The connection is usable afterwards.
    assert pc.command("SET", "{b}y", "ok") == b"OK"


def test_watch_conflict_returns_nil_like_redis(flushed, reference, pc, rc):
    other_p, other_r = flushed.connect(), RespConnection(reference.port)
    for conn, other in ((pc, other_p), (rc, other_r)):
        assert conn.command("SET", "{w}k", "start") == b"OK"
        assert conn.command("WATCH", "{w}k", "{w}k2") == b"OK"
        assert other.command("SET", "{w}k", "changed") == b"OK"
        assert conn.command("MULTI") == b"OK"
        assert conn.command("SET", "{w}k", "mine") == b"QUEUED"
        assert conn.command("EXEC") is None
        assert conn.command("GET", "{w}k") == b"changed"
        # Without a conflict the same transaction runs; UNWATCH drops a watch.
        assert conn.command("WATCH", "{w}k") == b"OK"
        assert conn.command("MULTI") == b"OK"
        assert conn.command("SET", "{w}k", "mine") == b"QUEUED"
        assert conn.command("EXEC") == [b"OK"]
        assert conn.command("WATCH", "{w}k") == b"OK"
        assert conn.command("UNWATCH") == b"OK"
        assert other.command("SET", "{w}k", "again") == b"OK"
        assert conn.command("MULTI") == b"OK"
        assert conn.command("GET", "{w}k") == b"QUEUED"
        assert conn.command("EXEC") == [b"again"]
    # WATCH on a second slot while one is watched: CROSSSLOT.
    assert pc.command("WATCH", "{w}k") == b"OK"
    assert pc.command("WATCH", "{z}k") == CROSSSLOT
    assert pc.command("DISCARD") == RespError("ERR DISCARD without MULTI")
    assert pc.command("RESET") == b"RESET"
    other_p.close()
    other_r.close()


def test_exec_is_nil_when_the_connection_holding_the_watch_was_lost(flushed, shards, pc):
    """The server connection that held a WATCH is killed before EXEC (a
    restart of the master does the same): the proxy must not run EXEC
    unchecked on a new connection, which would commit over another
    client's change."""
    other = flushed.connect()
    assert pc.command("SET", "{w}bal", "10") == b"OK"
    assert pc.command("WATCH", "{w}bal") == b"OK"
    killed = 0
    for server in shards:
        admin = RespConnection(server.port)
        for line in admin.command("CLIENT", "LIST").decode().splitlines():
            fields = dict(f.split("=", 1) for f in line.split(" ") if "=" in f)
            if fields.get("cmd") == "watch":
                assert admin.command("CLIENT", "KILL", "ID", fields["id"]) == 1
                killed += 1
        admin.close()
    assert killed == 1
    assert other.command("SET", "{w}bal", "20") == b"OK"
    assert pc.command("MULTI") == b"OK"
    assert pc.command("SET", "{w}bal", "11") == b"QUEUED"
    assert pc.command("EXEC") is None
    assert pc.command("GET", "{w}bal") == b"20"
    # The client's next attempt runs once the proxy has reconnected (a WATCH
    # in the reconnect's 50 ms backoff gets -TRYAGAIN: it starts over, as
    # after any error).
    def attempt():
        if pc.command("WATCH", "{w}bal") != b"OK":
            pc.command("UNWATCH")
            return False
        assert pc.command("MULTI") == b"OK"
        assert pc.command("SET", "{w}bal", "21") == b"QUEUED"
        return pc.command("EXEC") == [b"OK"]
    wait_until(attempt, 5, "a checked transaction on a new connection")
    assert pc.command("GET", "{w}bal") == b"21"
    other.close()


def test_pipelined_transaction_keeps_reply_order(pc):
    replies = pc.pipeline([
        ("SET", "plain", "1"),
        ("MULTI",),
        ("INCR", "{p}n"),
        ("INCR", "{p}n"),
        ("EXEC",),
        ("GET", "plain"),
        ("MULTI",),
        ("GET", "{p}n"),
        ("EXEC",),
    ])
    assert replies == [b"OK", b"OK", b"QUEUED", b"QUEUED", [1, 2], b"1", b"OK", b"QUEUED", [b"2"]]


def test_redis_py_optimistic_increments_from_many_clients(flushed):
    """redis-py's transaction() helper (WATCH, GET, MULTI, SET, EXEC, retry on
    a conflict) from 4 threads: no increment is lost."""
    clients = [redis.Redis(port=flushed.port, socket_timeout=10) for _ in range(4)]
    per_client = 100
    errors = []

    def bump(pipe):
        value = int(pipe.get("{c}counter") or 0)
        pipe.multi()
        pipe.set("{c}counter", value + 1)
        pipe.rpush("{c}log", value + 1)

    def worker(client):
        try:
            for _ in range(per_client):
                client.transaction(bump, "{c}counter")
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(repr(e))

    threads = [threading.Thread(target=worker, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    r = clients[0]
    assert int(r.get("{c}counter")) == 4 * per_client
    # Every value was written exactly once: each transaction saw a fresh value.
    assert sorted(int(v) for v in r.lrange("{c}log", 0, -1)) == list(range(1, 4 * per_client + 1))
