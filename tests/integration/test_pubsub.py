"""Pub/sub through the proxy (three shards): Redis's exact confirmations and
subscribed-mode rules, delivery exactly once across two proxies, PUBSUB
introspection, and redis-py's PubSub object."""
import time

import pytest
import redis

from conftest import Proxy, RespConnection, RespError, key_slot, shard_of


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
