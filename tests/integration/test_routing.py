"""Routing across topology changes (three shards, topologies applied by
SIGHUP): subscribers follow their channel's slot to another shard, SCAN
returns every key present for the whole scan while slots move between its
calls, and a key of a slot in migration is handed over to the importing
shard before the command runs there."""
import signal

from conftest import (SLOT_RANGES, Proxy, RedisServer, RespConnection, RespError, info_field, key_slot, keys_on_shard,
                      wait_until)


def ranges_without(ranges, slots):
    """`ranges` ([[first, last], ...]) with the slots of `slots` taken out."""
    out = []
    for first, last in ranges:
        start = first
        for s in sorted(x for x in slots if first <= x <= last):
            if s > start:
                out.append([start, s - 1])
            start = s + 1
        if start <= last:
            out.append([start, last])
    return out


def layout(servers, epoch, moved=None, migrations=()):
    """A topology of `servers` (shard i on servers[i], SLOT_RANGES[i]), with
    moved = {slot: shard index} giving some slots to another shard."""
    moved = moved or {}
    shards = []
    for i, s in enumerate(servers):
        ranges = ranges_without(SLOT_RANGES[i], moved.keys())
        ranges += [[slot, slot] for slot, owner in sorted(moved.items()) if owner == i]
        shards.append({"id": "shard-%d" % i, "master": s.address, "replicas": [], "slots": ranges})
    return {"cluster": "test", "epoch": epoch, "shards": shards,
            "migrations": [{"slots": [[slot, slot]], "from": "shard-%d" % src, "to": "shard-%d" % dst}
                           for slot, src, dst in migrations]}


def apply(proxy, conn, doc):
    proxy.write_topology(doc)
    proxy.signal(signal.SIGHUP)
    wait_until(lambda: info_field(conn, "topology_epoch") == str(doc["epoch"]), 10, "epoch %d" % doc["epoch"])


def numsub(server, channel, shard=False):
    c = RespConnection(server.port)
    reply = c.command("PUBSUB", "SHARDNUMSUB" if shard else "NUMSUB", channel)
    c.close()
    return reply[1]


def test_subscribers_follow_their_channels_slot_to_another_shard(workdir):
    servers = [RedisServer(workdir) for _ in range(3)]
    proxy = Proxy(workdir, servers)
    try:
        conn, pub, sub = proxy.connect(), proxy.connect(), proxy.connect()
        channel = keys_on_shard(2, 1, prefix="news")[0]
        room = keys_on_shard(2, 1, prefix="room")[0]
        moving = keys_on_shard(1, 1, prefix="feed")[0]
        sub.sock.sendall(sub.encode("SUBSCRIBE", channel, moving))
        assert sub.read()[0] == b"subscribe" and sub.read()[0] == b"subscribe"
        sub.sock.sendall(sub.encode("SSUBSCRIBE", room))
        assert sub.read() == [b"ssubscribe", room.encode(), 1]

        # Epoch 2: the channels' slots go to shard 0; the masters stay.
        apply(proxy, conn, layout(servers, 2, moved={key_slot(channel): 0, key_slot(room): 0}))
        # PUBLISH now goes to shard 0, where the subscriber must be.
        wait_until(lambda: numsub(servers[0], channel) == 1 and numsub(servers[0], room, shard=True) == 1, 10,
                   "subscriptions made on the channels' new shard")
        assert numsub(servers[2], channel) == 0 and numsub(servers[2], room, shard=True) == 0
        assert pub.command("PUBLISH", channel, "after-move") == 1
        assert sub.read() == [b"message", channel.encode(), b"after-move"]
        assert pub.command("SPUBLISH", room, "after-move") == 1
        assert sub.read() == [b"smessage", room.encode(), b"after-move"]

        # Epoch 3: `moving`'s slot migrates from shard 1 to shard 2: the
        # subscriber listens on both, so messages published on either side
        # (proxies that have flipped and proxies that have not) arrive once.
        moved = {key_slot(channel): 0, key_slot(room): 0}
        apply(proxy, conn, layout(servers, 3, moved=moved, migrations=[(key_slot(moving), 1, 2)]))
        wait_until(lambda: numsub(servers[1], moving) == 1 and numsub(servers[2], moving) == 1, 10,
                   "a moving channel subscribed on both sides")
        for i in (1, 2):
            direct = RespConnection(servers[i].port)
            assert direct.command("PUBLISH", moving, "via-%d" % i) == 1
            direct.close()
            assert sub.read() == [b"message", moving.encode(), ("via-%d" % i).encode()]
        # Epoch 4: the flip. The old side lets go.
        moved[key_slot(moving)] = 2
        apply(proxy, conn, layout(servers, 4, moved=moved))
        wait_until(lambda: numsub(servers[1], moving) == 0, 10, "the old side unsubscribed after the flip")
        assert numsub(servers[2], moving) == 1
        assert pub.command("PUBLISH", moving, "flipped") == 1
        assert sub.read() == [b"message", moving.encode(), b"flipped"]
        # Still one subscriber as far as the client knows.
        sub.sock.sendall(sub.encode("UNSUBSCRIBE", channel))
        assert sub.read() == [b"unsubscribe", channel.encode(), 1]
        wait_until(lambda: numsub(servers[0], channel) == 0, 10, "unsubscribed where the channel lives")
    finally:
        proxy.stop()
        for s in servers:
            s.stop()


def scan_all(conn, cursor=b"0", calls=None, count=1000):
    """SCANs from `cursor` to the end (or for `calls` calls); returns (keys,
    the cursor reached)."""
    keys, n = set(), 0
    while True:
        cursor, batch = conn.command("SCAN", cursor, "COUNT", str(count))
        keys.update(batch)
        n += 1
        if cursor == b"0" or (calls is not None and n >= calls):
            return keys, cursor


def move_keys(src, dst, keys):
    c = RespConnection(src.port)
    assert c.command("MIGRATE", "127.0.0.1", dst.port, "", 0, 5000, "KEYS", *keys) == b"OK"
    c.close()


def test_scan_returns_every_key_present_for_the_whole_scan_while_slots_move(workdir):
    servers = [RedisServer(workdir) for _ in range(3)]
    spare = RedisServer(workdir)
    proxy = Proxy(workdir, servers)
    try:
        conn = proxy.connect()
        keys = {i: keys_on_shard(i, 100, prefix="scan") for i in range(3)}
        for shard_keys in keys.values():
            for k in shard_keys:
                assert conn.command("SET", k, k) == b"OK"
        everything = {k.encode() for ks in keys.values() for k in ks}
        assert scan_all(conn)[0] == everything

        # Shard 0 is walked (COUNT 1000: in one call), then half of shard 2's
        # keys move to shard 0, which the walk has passed.
        seen, cursor = scan_all(conn, calls=1)
        assert seen == {k.encode() for k in keys[0]} and cursor != b"0"
        moving = keys[2][:50]
        move_keys(servers[2], servers[0], moving)
        apply(proxy, conn, layout(servers, 2, moved={key_slot(k): 0 for k in moving}))
        rest, _ = scan_all(conn, cursor)
        assert everything - (seen | rest) == set(), "keys present for the whole scan were skipped"
        assert proxy_metric(proxy, "redkube_proxy_scans_restarted_total") >= 1

        # A master change in the middle of a shard's walk (shard 1 now
        # served by another server holding the same keys): the old server's
        # cursor means nothing there, so the walk starts again and misses
        # nothing either.
        seen, cursor = scan_all(conn, calls=1)  # shard 0, whole
        part, cursor = scan_all(conn, cursor, calls=2, count=10)  # into shard 1
        seen |= part
        assert cursor != b"0" and not {k.encode() for k in keys[1]} <= seen
        move_keys(servers[1], spare, keys[1])
        doc = layout([servers[0], spare, servers[2]], 3, moved={key_slot(k): 0 for k in moving})
        apply(proxy, conn, doc)
        rest, _ = scan_all(conn, cursor)
        assert everything - (seen | rest) == set()
    finally:
        proxy.stop()
        for s in servers + [spare]:
            s.stop()


def proxy_metric(proxy, name):
    import urllib.request
    text = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % proxy.admin_port, timeout=10).read().decode()
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return None


def test_a_key_of_a_migrating_slot_is_handed_to_the_importer_before_the_command(workdir):
    servers = [RedisServer(workdir) for _ in range(3)]
    proxy = Proxy(workdir, servers)
    try:
        conn = proxy.connect()
        direct = [RespConnection(s.port) for s in servers]
        tag = keys_on_shard(0, 1, prefix="t")[0]
        slot = key_slot(tag)
        old, fresh, h = "{%s}old" % tag, "{%s}fresh" % tag, "{%s}h" % tag
        assert direct[0].command("SET", old, "v-old") == b"OK"
        assert direct[0].command("HSET", h, "f1", "1", "f2", "2") == 2
        apply(proxy, conn, layout(servers, 2, migrations=[(slot, 0, 1)]))

        # Read through the proxy: moved to shard 1 on first touch, not copied.
        assert conn.command("GET", old) == b"v-old"
        assert direct[0].command("EXISTS", old) == 0
        assert direct[1].command("GET", old) == b"v-old"
        # A write of a key the source never had lands on the importer.
        assert conn.command("SET", fresh, "v-new") == b"OK"
        assert direct[0].command("EXISTS", fresh) == 0 and direct[1].command("GET", fresh) == b"v-new"
        # Several keys of the slot in one command (a script) move together.
        assert conn.command("EVAL", "return redis.call('HGET', KEYS[1], 'f2') .. redis.call('GET', KEYS[2])",
                            2, h, old) == b"2v-old"
        assert direct[0].command("EXISTS", h) == 0 and direct[1].command("HLEN", h) == 2
        # A split command whose keys share the migrating slot runs whole.
        assert conn.command("MSET", "{%s}m1" % tag, "a", "{%s}m2" % tag, "b") == b"OK"
        assert conn.command("MGET", old, "{%s}m2" % tag) == [b"v-old", b"b"]
        assert direct[1].command("EXISTS", "{%s}m1" % tag, "{%s}m2" % tag) == 2
        # In order with the client's other requests, pipelined.
        replies = conn.pipeline([("SET", "{%s}p" % tag, "1"), ("INCR", "{%s}p" % tag), ("PING",),
                                 ("GET", "{%s}p" % tag)])
        assert replies == [b"OK", 2, b"PONG", b"2"]

        # A request pipelined behind a two-step one waits for it: a FLUSHALL
        # sent right after a SET of a moving key must not reach the importer
        # before the SET's second step does.
        assert conn.pipeline([("SET", "{%s}f" % tag, "x"), ("FLUSHALL",)]) == [b"OK", b"OK"]
        assert direct[1].command("EXISTS", "{%s}f" % tag) == 0, "FLUSHALL overtook the SET's second step"
        assert conn.command("MSET", old, "v-old", fresh, "v-new", h, "x") == b"OK"
        assert conn.command("DEL", h) == 1
        assert conn.command("HSET", h, "f1", "1", "f2", "2") == 2

        # A split command with keys of the moving slot and others: that part
        # goes in two steps, the others as usual.
        other = keys_on_shard(2, 1, prefix="o")[0]
        assert conn.command("MGET", old, other) == [b"v-old", None]
        # What cannot run across the move yet answers a retryable error.
        for cmd in (("WATCH", old), ("BLPOP", "{%s}l" % tag, "0.1")):
            reply = conn.command(*cmd)
            assert isinstance(reply, RespError) and str(reply).startswith("TRYAGAIN"), (cmd, reply)

        # The flip: shard 1 owns the slot; everything is where it went.
        apply(proxy, conn, layout(servers, 3, moved={slot: 1}))
        assert conn.command("GET", old) == b"v-old" and conn.command("GET", fresh) == b"v-new"
        assert conn.command("MGET", old, other) == [b"v-old", None]
        for c in direct:
            c.close()
    finally:
        proxy.stop()
        for s in servers:
            s.stop()
