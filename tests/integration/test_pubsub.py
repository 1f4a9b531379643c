"""Pub/sub through the proxy (three shards): Redis's exact confirmations and
subscribed-mode rules, delivery exactly once across two proxies, PUBSUB
introspection, redis-py's PubSub object, and subscriptions that outlive a
failover and a server restart."""
import signal
import time

import pytest
import redis

from conftest import (Proxy, RedisServer, RespConnection, RespError, http, key_slot, shard_of, start_replica,
                      topology_doc, wait_until)


def exchange(conn, *cmd, replies=1):
    conn.sock.sendall(conn.encode(*cmd))
    return [conn.read() for _ in range(replies)]


def test_confirmations_and_subscribed_mode_match_redis(pc, rc):
    script = [
        (("SUBSCRIBE", "a", "b", "a"), 3),
        (("PSUBSCRIBE", "news.*"), 1),
        (("SSUBSCRIBE", "{s}x"), 1),
        (("GET", "k"), 1),
        (("PING",), 1),
        (("PING", "hello"), 1),
        (("UNSUBSCRIBE", "a", "never"), 2),
        (("UNSUBSCRIBE",), 1),
        (("PUNSUBSCRIBE",), 1),
        (("SUNSUBSCRIBE", "{s}x"), 1),
        (("PUNSUBSCRIBE",), 1),      # nothing left: a null name, count 0
        (("SET", "k", "v"), 1),      # back to normal mode
        (("GET", "k"), 1),
    ]
    for cmd, n in script:
        via_proxy, direct = exchange(pc, *cmd, replies=n), exchange(rc, *cmd, replies=n)
        assert via_proxy == direct, "%r: proxy %r != redis %r" % (cmd, via_proxy, direct)


def test_messages_reach_each_subscription_once_across_proxies(flushed, shards, workdir):
    other = Proxy(workdir, shards)
    try:
        channels = ["ch%d" % i for i in range(30)]
        assert len({shard_of(c) for c in channels}) == 3  # every shard has some
        sub = flushed.connect()
        replies = exchange(sub, "SUBSCRIBE", *channels, replies=len(channels))
        assert [r[2] for r in replies] == list(range(1, 31))
        assert exchange(sub, "PSUBSCRIBE", "ch1*")[0] == [b"psubscribe", b"ch1*", 31]

        pub = other.connect()
        expected = []
        for c in channels:
            receivers = pub.command("PUBLISH", c, "to-" + c)
            matches_pattern = c.startswith("ch1")
            assert receivers == (2 if matches_pattern else 1), (c, receivers)
            expected.append([b"message", c.encode(), ("to-" + c).encode()])
            if matches_pattern:
                expected.append([b"pmessage", b"ch1*", c.encode(), ("to-" + c).encode()])
        got = [sub.read() for _ in expected]
        key = repr
        assert sorted(got, key=key) == sorted(expected, key=key)
        # Nothing more arrives: a PING is answered next, no duplicate first.
        assert exchange(sub, "PING")[0] == [b"pong", b""]
        # PUBSUB introspection through either proxy sums the shards.
        assert sorted(pub.command("PUBSUB", "CHANNELS", "ch2*")) == [b"ch2", b"ch20", b"ch21", b"ch22", b"ch23",
                                                                  b"ch24", b"ch25", b"ch26", b"ch27", b"ch28",
                                                                  b"ch29"]
        assert pub.command("PUBSUB", "NUMSUB", "ch1", "ch2", "none") == [b"ch1", 1, b"ch2", 1, b"none", 0]
        assert pub.command("PUBSUB", "NUMPAT") == 1
        sub.close()
        # A closed subscriber's subscriptions go with it.
        deadline = time.monotonic() + 5
        while pub.command("PUBSUB", "NUMSUB", "ch1")[1] != 0:
            assert time.monotonic() < deadline, "subscription outlived its client"
            time.sleep(0.02)
        assert pub.command("PUBLISH", "ch1", "nobody") == 0
    finally:
        other.stop()


def test_sharded_pubsub_and_a_blocked_reader_of_another_client(flushed):
    sub, pub = flushed.connect(), flushed.connect()
    assert exchange(sub, "SSUBSCRIBE", "{room}a", "{room}b", replies=2)[1] == [b"ssubscribe", b"{room}b", 2]
    assert pub.command("SPUBLISH", "{room}a", "hi") == 1
    assert sub.read() == [b"smessage", b"{room}a", b"hi"]
    # A command that crosses slots in SSUBSCRIBE is not special: each channel
    # goes to its own shard.
    assert pub.command("PUBSUB", "SHARDNUMSUB", "{room}a", "{room}b") == [b"{room}a", 1, b"{room}b", 1]


def test_redis_py_pubsub(flushed):
    r = redis.Redis(port=flushed.port, socket_timeout=5)
    p = r.pubsub()
    p.subscribe("events")
    p.psubscribe("log.*")
    confirmations = [p.get_message(timeout=2) for _ in range(2)]
    assert [c["type"] for c in confirmations] == ["subscribe", "psubscribe"]
    assert r.publish("events", "one") == 1
    assert r.publish("log.error", "two") == 1
    got = []
    deadline = time.monotonic() + 5
    while len(got) < 2 and time.monotonic() < deadline:
        m = p.get_message(timeout=1)
        if m:
            got.append((m["type"], m["channel"], m["data"]))
    assert got == [("message", b"events", b"one"), ("pmessage", b"log.error", b"two")]
    p.close()


def first_on_shard(shard, prefix):
    return next(name for name in ("%s%d" % (prefix, i) for i in range(1000)) if shard_of(name) == shard)


def check_delivery_once(sub, pub, channels, sharded, rounds=20):
    """Publishes `rounds` messages to each channel (and SPUBLISHes to the
    sharded one): the subscriber, subscribed to them all and to the pattern
    `ch*`, gets every one exactly once (twice for channels the pattern
    matches: a message and a pmessage), and nothing more."""
    expected = []
    for i in range(rounds):
        for c in channels:
            assert pub.command("PUBLISH", c, "m%d" % i) == 2, (c, i)
            expected += [[b"message", c.encode(), b"m%d" % i], [b"pmessage", b"ch*", c.encode(), b"m%d" % i]]
        assert pub.command("SPUBLISH", sharded, "m%d" % i) == 1
        expected.append([b"smessage", sharded.encode(), b"m%d" % i])
    got = [sub.read() for _ in expected]
    assert sorted(got, key=repr) == sorted(expected, key=repr)
    sub.sock.sendall(sub.encode("PING"))
    assert sub.read() == [b"pong", b""]  # no duplicate came first


def drain_probes(sub, deliveries):
    """Reads the `deliveries` messages the probing PUBLISHes said they made."""
    for _ in range(deliveries):
        message = sub.read()
        assert message[-1] == b"probe", message


def test_subscriptions_follow_a_failover_and_a_restart_on_the_same_connection(workdir):
    """One raw subscriber connection lives through a failover (master killed,
    replica promoted), a switchover (old master alive as a replica) and a
    restart in place; after each, every message arrives exactly once."""
    servers = [RedisServer(workdir) for _ in range(3)]
    replica, replica1 = start_replica(workdir, servers[0]), start_replica(workdir, servers[1])
    proxy = Proxy(workdir, servers)
    try:
        channels = [first_on_shard(i, "ch") for i in range(3)]
        sharded = first_on_shard(0, "room")
        sub, pub = proxy.connect(), proxy.connect()
        assert [r[2] for r in exchange(sub, "SUBSCRIBE", *channels, replies=3)] == [1, 2, 3]
        assert exchange(sub, "PSUBSCRIBE", "ch*")[0] == [b"psubscribe", b"ch*", 4]
        assert exchange(sub, "SSUBSCRIBE", sharded)[0] == [b"ssubscribe", sharded.encode(), 1]
        check_delivery_once(sub, pub, channels, sharded)

        # Shard 0's master dies; its replica is promoted and the topology
        # says so. Meanwhile the other shards' messages keep coming.
        servers[0].kill()
        assert pub.command("PUBLISH", channels[1], "probe") == 2
        drain_probes(sub, 2)
        # A SUBSCRIBE meanwhile fails, but is made with the rest (the name
        # is the client's now: SUBSCRIBE again would only be confirmed).
        late = first_on_shard(0, "late")
        failed = exchange(sub, "SUBSCRIBE", late)[0]
        assert isinstance(failed, RespError) and str(failed).startswith("TRYAGAIN"), failed
        promote = RespConnection(replica.port)
        assert promote.command("REPLICAOF", "NO", "ONE") == b"OK"
        promote.close()
        proxy.write_topology(topology_doc([replica, servers[1], servers[2]], epoch=2))
        proxy.signal(signal.SIGHUP)
        delivered = []

        def restored():
            # The channel, the pattern and the shard channel, all on the
            # promoted replica (PUBLISH counts the receivers).
            n = pub.command("PUBLISH", channels[0], "probe")
            delivered.append(n if isinstance(n, int) else 0)
            return n == 2 and pub.command("SPUBLISH", sharded, "probe") == 1
        wait_until(restored, 15, "subscriptions made again on the promoted replica", step_s=0.05)
        drain_probes(sub, sum(delivered) + 1)
        assert pub.command("PUBLISH", late, "after") == 1
        assert sub.read() == [b"message", late.encode(), b"after"]
        check_delivery_once(sub, pub, channels, sharded)

        # A switchover of shard 1: its master is demoted to a replica of the
        # promoted one, alive. It would still deliver (PUBLISH replicates),
        # but UNSUBSCRIBE goes to masters: the subscriptions move.
        direct_new, direct_old = RespConnection(replica1.port), RespConnection(servers[1].port)
        assert direct_new.command("REPLICAOF", "NO", "ONE") == b"OK"
        assert direct_old.command("REPLICAOF", "127.0.0.1", replica1.port) == b"OK"
        proxy.write_topology(topology_doc([replica, replica1, servers[2]], epoch=3))
        proxy.signal(signal.SIGHUP)
        wait_until(lambda: direct_new.command("PUBSUB", "NUMSUB", channels[1])[1] == 1 and
                   direct_new.command("PUBSUB", "NUMPAT") == 1, 15, "subscriptions moved to the new master")
        assert direct_old.command("PUBSUB", "NUMSUB", channels[1])[1] == 0
        assert direct_old.command("PUBSUB", "NUMPAT") == 0
        check_delivery_once(sub, pub, channels, sharded)
        direct_new.close()
        direct_old.close()

        # Shard 2's master restarts in place (no failover): same address,
        # empty server; the subscriptions are made there again.
        servers[2].kill()
        servers[2].start()
        delivered.clear()

        def back():
            n = pub.command("PUBLISH", channels[2], "probe")
            delivered.append(n if isinstance(n, int) else 0)
            return n == 2
        wait_until(back, 15, "subscriptions made again on the restarted server", step_s=0.05)
        drain_probes(sub, sum(delivered))
        check_delivery_once(sub, pub, channels, sharded)

        def restores():  # counted once the proxy saw the confirmations
            status, body = http("GET", "http://127.0.0.1:%d/metrics" % proxy.admin_port)
            assert status == 200
            line = next(line for line in body.splitlines()
                        if line.startswith("redkube_proxy_subscriptions_restored_total "))
            return float(line.split()[1])
        wait_until(lambda: restores() == 3, 5, "three restores counted")

        # The restored subscriptions are the client's: UNSUBSCRIBE still
        # counts them and leaves nothing behind on the servers.
        assert exchange(sub, "UNSUBSCRIBE", replies=4)[-1][2] == 1
        assert exchange(sub, "PUNSUBSCRIBE")[0] == [b"punsubscribe", b"ch*", 0]
        assert pub.command("PUBSUB", "NUMSUB", *channels, late) == [x for c in channels + [late]
                                                                    for x in (c.encode(), 0)]
        assert pub.command("PUBSUB", "NUMPAT") == 0

        sub.close()
        pub.close()
    finally:
        proxy.stop()
        for s in servers + [replica, replica1]:
            s.stop()
