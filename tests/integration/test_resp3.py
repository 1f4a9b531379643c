"""RESP3 through the proxy, differential: the same command sequences, after
HELLO 3, through the proxy (three shards) and on one plain redis-server,
compared byte for byte as raw replies. Normalised only where the two must
differ: client ids, ports, INFO's contents, SCAN cursors.
"""
import re
import socket
import time

import pytest

from conftest import RespConnection, keys_on_shard, wait_until


class Resp3Raw:
    """A raw connection that reads each reply whole, as the bytes it came in."""

    def __init__(self, port, timeout=10.0):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.file = self.sock.makefile("rb")

    def close(self):
        self.file.close()
        self.sock.close()

    def send(self, *args):
        self.sock.sendall(RespConnection.encode(*args))

    def command(self, *args):
        self.send(*args)
        return self.read()

    def read(self):
        line = self.file.readline()
        if not line:
            raise ConnectionError("connection closed")
        kind, rest = line[:1], line[1:-2]
        if kind in b"$=!":
            n = int(rest)
            return line if n < 0 else line + self.file.read(n + 2)
        if kind in b"*~>":
            n = int(rest)
            return line + b"".join(self.read() for _ in range(max(n, 0)))
        if kind in b"%|":
            n = int(rest)
            body = b"".join(self.read() for _ in range(2 * n))
            return line + body + (self.read() if kind == b"|" else b"")
        return line  # + - : _ , # (


def hello3(port):
    c = Resp3Raw(port)
    reply = c.command("HELLO", "3")
    assert reply.startswith(b"%7\r\n"), reply
    return c


@pytest.fixture
def p3(flushed):
    c = hello3(flushed.port)
    yield c
    c.close()


@pytest.fixture
def r3(reference, flushed):
    c = hello3(reference.port)
    yield c
    c.close()


def same(p3, r3, *cmd):
    via_proxy, direct = p3.command(*cmd), r3.command(*cmd)
    assert via_proxy == direct, "%r: proxy %r != reference %r" % (cmd, via_proxy, direct)
    return via_proxy


def run(p3, r3, commands):
    return [same(p3, r3, *c) for c in commands]


def without_id(hello_reply):
    return re.sub(rb"\$2\r\nid\r\n:\d+\r\n", b"$2\r\nid\r\n:N\r\n", hello_reply)


def test_hello_3_answers_the_map_redis_server_does(flushed, reference):
    for port in (flushed.port, reference.port):
        c = Resp3Raw(port)
        try:
            reply = c.command("HELLO", "3")
            if port == flushed.port:
                via_proxy = reply
            else:
                direct = reply
        finally:
            c.close()
    assert without_id(via_proxy) == without_id(direct)
    assert b"$5\r\nproto\r\n:3\r\n" in via_proxy


def test_types_of_one_key_commands(p3, r3):
    run(p3, r3, [
        ("SET", "s", "v"), ("GET", "s"), ("GET", "missing"),
        ("HSET", "h", "f", "v"), ("HGETALL", "h"), ("HGETALL", "nohash"), ("HGET", "h", "nofield"),
        ("SADD", "set", "m"), ("SMEMBERS", "set"),
        ("ZADD", "z", "1.5", "a", "2", "b"), ("ZRANGE", "z", "0", "-1", "WITHSCORES"),
        ("ZSCORE", "z", "a"), ("ZSCORE", "z", "nomember"), ("ZPOPMIN", "z"),
        ("INCRBYFLOAT", "f", "0.5"), ("LPOP", "nolist"), ("LPOP", "nolist", "2"),
        ("HRANDFIELD", "h", "1", "WITHVALUES"),
        ("INCR", "s"), ("LPUSH", "s", "x"),  # errors: not an integer, wrong type
        ("OBJECT", "ENCODING", "missing"), ("TTL", "s"),
        ("CLIENT", "GETNAME"),
    ])


def test_eval_in_resp3_returns_maps_doubles_booleans_big_numbers(p3, r3):
    run(p3, r3, [
        ("EVAL", "redis.setresp(3); return {map={a=1}}", "0"),
        ("EVAL", "redis.setresp(3); return {double=3.5}", "0"),
        ("EVAL", "redis.setresp(3); return true", "0"),
        ("EVAL", "redis.setresp(3); return false", "0"),
        ("EVAL", "redis.setresp(3); return {big_number='123456789012345678901234567890'}", "0"),
        ("EVAL", "redis.setresp(3); return redis.call('HGETALL', KEYS[1])", "1", "h"),
        ("EVAL", "return redis.call('GET', KEYS[1])", "1", "nokey"),
    ])


def test_merged_replies_across_shards(p3, r3):
    keys = [keys_on_shard(s, 2, prefix="m%d-" % s) for s in range(3)]
    flat = [k for ks in keys for k in ks]
    for k in flat[::2]:
        same(p3, r3, "SET", k, "v-" + k)
    run(p3, r3, [
        ("MGET", *flat), ("EXISTS", *flat), ("DBSIZE",),
        ("SCRIPT", "EXISTS", "0000000000000000000000000000000000000000"),
        ("PUBSUB", "NUMSUB", "c1", "c2"), ("TOUCH", *flat),
    ])
    assert p3.command("RANDOMKEY").startswith(b"$")  # a random one: only its form
    # KEYS: hash-table order differs; the same elements.
    kp, kr = p3.command("KEYS", "*"), r3.command("KEYS", "*")
    assert kp.split(b"\r\n")[0] == kr.split(b"\r\n")[0]
    assert sorted(kp.split(b"\r\n")[1:]) == sorted(kr.split(b"\r\n")[1:])
    # SCAN: the proxy's cursors are its own; the same keys in the end, each
    # reply of the same shape (a two-element array: cursor, array of keys).
    seen, cursor = set(), b"0"
    for _ in range(100):
        reply = p3.command("SCAN", cursor)
        m = re.match(rb"\*2\r\n\$\d+\r\n(\d+)\r\n\*(\d+)\r\n", reply)
        assert m, reply
        seen |= set(re.findall(rb"\$\d+\r\n([^\r]+)\r\n", reply[m.end():]))
        cursor = m.group(1)
        if cursor == b"0":
            break
    assert seen == set(k.encode() for k in flat[::2])
    run(p3, r3, [("DEL", *flat), ("DBSIZE",), ("RANDOMKEY",), ("MGET", *flat)])


def test_info_and_client_info_are_verbatim_strings(p3, r3):
    for cmd in (("INFO",), ("INFO", "keyspace"), ("CLIENT", "INFO"), ("CLIENT", "LIST")):
        for reply in (p3.command(*cmd), r3.command(*cmd)):
            header, _, body = reply.partition(b"\r\n")
            assert header.startswith(b"="), (cmd, reply[:40])
            assert body.startswith(b"txt:") and body.endswith(b"\r\n")
            assert int(header[1:]) == len(body) - 2
    info = p3.command("CLIENT", "INFO")
    assert b" resp=3\n" in info
    fields_proxy = [f.split(b"=")[0] for f in info.split(b"\r\n")[1][4:].split()]
    fields_direct = [f.split(b"=")[0] for f in r3.command("CLIENT", "INFO").split(b"\r\n")[1][4:].split()]
    assert fields_proxy == fields_direct


def shape(raw):
    """A RESP3 reply's form without its values: a map becomes {key: shape},
    an array [shape...], a scalar its type byte. Returns (shape, rest)."""
    line, _, rest = raw.partition(b"\r\n")
    kind, body = line[:1], line[1:]
    if kind in b"$=" and int(body) >= 0:
        return kind, rest[int(body) + 2:]
    if kind in b"*~":
        items = []
        for _ in range(int(body)):
            item, rest = shape(rest)
            items.append(item)
        return items, rest
    if kind == b"%":
        entries = {}
        for _ in range(int(body)):
            header, _, rest = rest.partition(b"\r\n")  # a key: a bulk or simple string
            if header[:1] == b"$":
                key, rest = rest[:int(header[1:])], rest[int(header[1:]) + 2:]
            else:
                key = header[1:]
            entries[key], rest = shape(rest)
        return entries, rest
    return kind, rest


def whole_shape(raw):
    form, rest = shape(raw)
    assert rest == b"", raw
    return form


def test_admin_fan_outs_take_the_resp3_forms_of_redis_server(p3, r3):
    # The values differ (three servers summed, or the proxy's own figures);
    # the forms must not: maps, doubles, verbatim texts.
    for c in (p3, r3):
        for i in range(20):
            c.command("SET", "adm%d" % i, "v")
    proxy_stats, direct_stats = (whole_shape(c.command("MEMORY", "STATS")) for c in (p3, r3))
    assert isinstance(proxy_stats, dict) and proxy_stats[b"peak.percentage"] == b","
    assert proxy_stats == direct_stats
    proxy_hist, direct_hist = (whole_shape(c.command("LATENCY", "HISTOGRAM", "set")) for c in (p3, r3))
    assert set(proxy_hist) == {b"set"} and set(proxy_hist[b"set"]) == {b"calls", b"histogram_usec"}
    assert isinstance(proxy_hist[b"set"][b"histogram_usec"], dict)
    assert type(direct_hist[b"set"][b"histogram_usec"]) is dict
    for cmd in (("MEMORY", "DOCTOR"), ("LATENCY", "DOCTOR"), ("MEMORY", "MALLOC-STATS")):
        assert p3.command(*cmd)[:1] == r3.command(*cmd)[:1] == b"=", cmd
    for cmd in (("LATENCY", "LATEST"), ("LATENCY", "RESET"), ("MEMORY", "PURGE")):
        assert whole_shape(p3.command(*cmd)) == whole_shape(r3.command(*cmd)), cmd


def test_cluster_replies_take_the_resp3_forms_of_a_cluster_node(p3):
    # As a cluster-enabled redis-server 7.0 answers a RESP3 client: the texts
    # verbatim, CLUSTER SHARDS' shard and node entries maps.
    for cmd in (("CLUSTER", "INFO"), ("CLUSTER", "NODES")):
        reply = p3.command(*cmd)
        assert reply.startswith(b"=") and reply.split(b"\r\n")[1].startswith(b"txt:"), (cmd, reply[:40])
    shards = p3.command("CLUSTER", "SHARDS")
    assert shards.startswith(b"*1\r\n%2\r\n$5\r\nslots\r\n"), shards[:40]
    assert b"$5\r\nnodes\r\n*1\r\n%7\r\n$2\r\nid\r\n" in shards, shards


def test_transactions_and_a_failed_watch(p3, r3, flushed, reference):
    run(p3, r3, [
        ("MULTI",), ("SET", "{t}s", "1"), ("HSET", "{t}h", "f", "v"), ("HGETALL", "{t}h"),
        ("ZADD", "{t}z", "2.5", "m"), ("ZSCORE", "{t}z", "m"), ("GET", "{t}none"), ("EXEC",),
        ("WATCH", "w"),
    ])
    other_p, other_r = flushed.connect(), RespConnection(reference.port)
    other_p.command("SET", "w", "changed")
    other_r.command("SET", "w", "changed")
    other_p.close()
    other_r.close()
    run(p3, r3, [("MULTI",), ("GET", "w"), ("EXEC",)])
    assert p3.command("EXEC") == r3.command("EXEC")  # EXEC without MULTI: an error


def test_blocking_pop_timeout_is_the_resp3_null(p3, r3):
    run(p3, r3, [("BLPOP", "nolist", "0.1"), ("BZPOPMIN", "nozset", "0.1"),
                 ("RPUSH", "l", "a"), ("BLPOP", "l", "1")])


def test_pubsub_pushes_and_commands_while_subscribed(p3, r3, flushed, reference):
    run(p3, r3, [("UNSUBSCRIBE",), ("SUBSCRIBE", "news", "sport")])
    assert p3.read() == r3.read() == b">3\r\n$9\r\nsubscribe\r\n$5\r\nsport\r\n:2\r\n"
    run(p3, r3, [("PSUBSCRIBE", "n*")])
    # RESP3 has no subscribed mode: any command is answered.
    run(p3, r3, [("SET", "k", "v"), ("GET", "k"), ("GET", "none"), ("PING",), ("PING", "x")])
    pub_p, pub_r = flushed.connect(), RespConnection(reference.port)
    try:
        # Each subscriber sees its own server's count: the proxy's is the sum.
        wait_until(lambda: pub_p.command("PUBSUB", "NUMSUB", "news")[1] == 1, 5, "proxy subscription")
        assert pub_p.command("PUBLISH", "news", "hello") >= 1
        assert pub_r.command("PUBLISH", "news", "hello") == 2
        kinds = set()
        for _ in range(2):  # a message and a pmessage, in the server's order
            got_p, got_r = p3.read(), r3.read()
            assert got_p == got_r
            kinds.add(got_p.split(b"\r\n")[2])
        assert kinds == {b"message", b"pmessage"}
        assert got_p.startswith(b">")
    finally:
        pub_p.close()
        pub_r.close()
    run(p3, r3, [("UNSUBSCRIBE", "news"), ("PUNSUBSCRIBE",), ("UNSUBSCRIBE",), ("GET", "k"),
                 ("UNSUBSCRIBE",)])


def test_resp2_and_resp3_clients_on_one_proxy_get_their_own_forms(flushed):
    c3 = hello3(flushed.port)
    c2 = Resp3Raw(flushed.port)
    try:
        c3.command("HSET", "both", "f", "v")
        for _ in range(3):  # interleaved on the same shared connections' servers
            assert c3.command("HGETALL", "both") == b"%1\r\n$1\r\nf\r\n$1\r\nv\r\n"
            assert c2.command("HGETALL", "both") == b"*2\r\n$1\r\nf\r\n$1\r\nv\r\n"
            assert c3.command("GET", "none") == b"_\r\n"
            assert c2.command("GET", "none") == b"$-1\r\n"
            assert c3.command("MGET", "none", "both2") == b"*2\r\n_\r\n_\r\n"
            assert c2.command("MGET", "none", "both2") == b"*2\r\n$-1\r\n$-1\r\n"
        assert c2.command("CLIENT", "INFO").startswith(b"$")
        assert b" resp=2\n" in c2.command("CLIENT", "INFO")
        # HELLO 2 goes back, for the client's own connections too.
        c3.command("SUBSCRIBE", "x")
        c3.command("UNSUBSCRIBE", "x")
        assert c3.command("BLPOP", "nolist", "0.1") == b"_\r\n"
        assert c3.command("HELLO", "2").startswith(b"*14\r\n")
        assert c3.command("BLPOP", "nolist", "0.1") == b"*-1\r\n"
        assert c3.command("HGETALL", "both") == b"*2\r\n$1\r\nf\r\n$1\r\nv\r\n"
        # RESET goes back to RESP2 as well.
        assert c3.command("HELLO", "3").startswith(b"%7\r\n")
        assert c3.command("RESET") == b"+RESET\r\n"
        assert c3.command("GET", "none") == b"$-1\r\n"
    finally:
        c3.close()
        c2.close()


def test_resp3_off_answers_noproto(workdir, shards):
    from conftest import Proxy
    p = Proxy(workdir, shards, extra_args=["--resp3=false"])
    try:
        c = Resp3Raw(p.port)
        assert c.command("HELLO", "3") == b"-NOPROTO unsupported protocol version\r\n"
        assert c.command("HELLO", "2").startswith(b"*14\r\n")
        c.close()
    finally:
        p.stop()


def calls(server, command):
    c = RespConnection(server.port)
    try:
        m = re.search(r"cmdstat_%s:calls=(\d+)," % command, c.command("INFO", "commandstats").decode())
        return int(m.group(1)) if m else 0
    finally:
        c.close()


def test_resp3_connections_are_fenced_and_unfenced_with_the_rest(workdir):
    from conftest import Proxy, RedisServer, topology_doc
    from test_fence_and_lease import applied
    servers = [RedisServer(workdir) for _ in range(3)]
    proxy = Proxy(workdir, servers)
    clients = []
    try:
        fenced_key = keys_on_shard(1, 1, prefix="f")[0]
        c2 = proxy.connect()
        assert c2.command("SET", fenced_key, "before") == b"OK"
        # RESP2 clients alone make no RESP3 connection (no HELLO reaches a server).
        assert [calls(s, "hello") for s in servers] == [0, 0, 0]
        # Some RESP3 clients (over both worker threads) before the fence:
        # their worker's RESP3 connection to shard-1 is open when it comes.
        early = [hello3(proxy.port) for _ in range(4)]
        clients += early
        for c in early:
            assert c.command("GET", fenced_key) == b"$6\r\nbefore\r\n"
        assert calls(servers[1], "hello") >= 1
        # shard-2 is fenced too, before any RESP3 connection to it exists:
        # those are born fenced.
        untouched_key = keys_on_shard(2, 1, prefix="u")[0]
        doc = topology_doc(servers, epoch=2)
        doc["shards"][1]["fenced"] = True
        doc["shards"][2]["fenced"] = True
        proxy.write_topology(doc)
        applied(proxy, 2)
        late = [hello3(proxy.port) for _ in range(4)]
        clients += late
        for c in early + late:
            for shard, key in ((1, fenced_key), (2, untouched_key)):
                for command in (("GET", key), ("SET", key, "during"), ("BLPOP", key, "0")):
                    reply = c.command(*command)
                    assert reply.startswith(b"-TRYAGAIN backend " + servers[shard].address.encode()), reply
                    assert b"shard shard-%d is failing over" % shard in reply, reply
        assert calls(servers[2], "hello") == 0
        direct = RespConnection(servers[1].port)
        assert direct.command("GET", fenced_key) == b"before"  # nothing reached it
        proxy.write_topology(topology_doc(servers, epoch=3))
        applied(proxy, 3)
        for c in early + late:
            for key in (fenced_key, untouched_key):
                wait_until(lambda: c.command("SET", key, "after") == b"+OK\r\n", 5, "SET after the unfence")
        assert direct.command("GET", fenced_key) == b"after"
        direct.close()
        c2.close()
    finally:
        for c in clients:
            c.close()
        proxy.stop()
        for s in servers:
            s.stop()


def test_resp3_reads_go_to_replicas_as_resp2_ones_do(workdir):
    from conftest import Proxy, RedisServer, start_replica
    from test_read_from import readable
    masters = [RedisServer(workdir) for _ in range(3)]
    replicas = [start_replica(workdir, m) for m in masters]
    proxy = Proxy(workdir, masters, replicas=[[r] for r in replicas], extra_args=["--read-from", "replica"])
    try:
        wait_until(lambda: readable(proxy) == 3, 10, "3 readable replicas")
        keys = [k for s in range(3) for k in keys_on_shard(s, 5, prefix="rr-")]
        c = hello3(proxy.port)
        for k in keys:
            assert c.command("HSET", k, "f", "v") == b":1\r\n"
        assert c.command("WAIT", "1", "5000") == b":1\r\n"
        before_m = [calls(m, "hgetall") for m in masters]
        before_r = [calls(r, "hgetall") for r in replicas]
        for k in keys:
            assert c.command("HGETALL", k) == b"%1\r\n$1\r\nf\r\n$1\r\nv\r\n"
        assert [calls(m, "hgetall") for m in masters] == before_m
        assert [calls(r, "hgetall") - b for r, b in zip(replicas, before_r)] == [5, 5, 5]
        assert all(calls(r, "hello") >= 1 for r in replicas)
        c.close()
    finally:
        proxy.stop()
        for s in replicas + masters:
            s.stop()


def test_a_protocol_switch_in_a_pipeline_keeps_the_clients_order(flushed):
    # The requests after HELLO 3 take RESP3 server connections, those before
    # it RESP2 ones: HELLO waits for the earlier replies, so a GET pipelined
    # after it reads what a SET before it wrote (and back with HELLO 2).
    c = Resp3Raw(flushed.port)
    try:
        for i in range(100):
            key = "switch:%d" % i
            hello = "3" if i % 2 == 0 else "2"
            c.send("SET", key, "v%d" % i)
            c.send("HELLO", hello)
            c.send("GET", key)
            assert c.read() == b"+OK\r\n"
            assert c.read().startswith(b"%7\r\n" if hello == "3" else b"*14\r\n")
            assert c.read() == b"$%d\r\nv%d\r\n" % (len("v%d" % i), i), key
    finally:
        c.close()
