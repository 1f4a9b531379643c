"""Issue #12's acceptance run: `redkube scale` 3 -> 5 -> 2 shards while
clients work through both proxies (redis-py): counters, values with
read-your-writes checks, MSET/MGET, a transaction and a script on
hash-tagged keys, and a subscriber. Afterwards every acknowledged write
reads back with its last acknowledged value (or, for a counter, exactly the
acknowledged count), no read went back in time, the subscriber got every
message published while it was subscribed exactly once and in order, and
all 16384 slots are owned once."""
import threading
import time

import redis

from test_redkube_scale import assert_every_slot_owned_once, migrations, scalable, scale
from test_redkube_up import clusters  # noqa: F401

RETRYABLE = ("TRYAGAIN", "READONLY", "LOADING", "MOVED")


class Load(threading.Thread):
    """One client's loop of `step(i)` through one proxy, bounded in count
    and time. A Redis error that says retry is counted, not a failure; any
    other error is kept for the test to show."""

    def __init__(self, cluster, proxy, name, max_ops=200000, max_s=240.0):
        super().__init__(daemon=True, name=name)
        self.client = cluster.client(proxy=proxy, timeout=10.0)
        self.max_ops, self.max_s = max_ops, max_s
        self.ops = self.retries = 0
        self.failures = []
        self.stopping = threading.Event()

    def run(self):
        start = time.monotonic()
        for i in range(self.max_ops):
            if self.stopping.is_set() or time.monotonic() - start > self.max_s:
                break
            try:
                self.step(i)
            except redis.ResponseError as e:
                if str(e).startswith(RETRYABLE):
                    self.retries += 1
                    time.sleep(0.002)
                else:
                    self.failures.append(repr(e))
            except redis.RedisError as e:
                self.failures.append(repr(e))
                time.sleep(0.01)
            self.ops += 1

    def stop(self):
        self.stopping.set()
        self.join(60)
        assert not self.is_alive(), self.name


class Counters(Load):
    """INCR of 200 counters; the final value of each must equal its
    acknowledged INCRs, and a GET never sees less than already acknowledged."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.acked = {}
        self.stale = []

    def step(self, i):
        key = "ctr:%d" % (i % 200)
        value = self.client.incr(key)
        self.acked[key] = self.acked.get(key, 0) + 1
        if value != self.acked[key]:
            self.stale.append((key, self.acked[key], value))
        if i % 4 == 0:
            got = int(self.client.get(key))
            if got < self.acked[key]:
                self.stale.append((key, self.acked[key], got))


class Values(Load):
    """SET of 500 keys to a growing number; GET after each SET must read it."""

    def __init__(self, *args, prefix="val", **kwargs):
        super().__init__(*args, **kwargs)
        self.prefix = prefix
        self.acked = {}
        self.stale = []

    def step(self, i):
        key = "%s:%d" % (self.prefix, i % 500)
        self.client.set(key, i)
        self.acked[key] = i
        got = self.client.get(key)
        if got is None or int(got) < i:
            self.stale.append((key, i, got))


class MultiKey(Load):
    """MSET of 5 keys of different slots, then MGET of them."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.acked = {}
        self.stale = []

    def step(self, i):
        keys = ["mk:%d" % ((i * 5 + j) % 400) for j in range(5)]
        self.client.mset({k: i for k in keys})
        for k in keys:
            self.acked[k] = i
        for k, got in zip(keys, self.client.mget(keys)):
            if got is None or int(got) < i:
                self.stale.append((k, i, got))


class TransactionAndScript(Load):
    """MULTI/EXEC of two INCRs on {tx} keys, and a script INCRing two {sc}
    keys: each pair stays equal to the acknowledged count."""

    SCRIPT = "redis.call('INCR', KEYS[1]); return redis.call('INCR', KEYS[2])"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.transactions = self.scripts = 0
        self.mismatched = []

    def step(self, i):
        if i % 2 == 0:
            pipe = self.client.pipeline(transaction=True)
            pipe.incr("{tx}a")
            pipe.incr("{tx}b")
            a, b = pipe.execute()
            self.transactions += 1
            if a != b or a != self.transactions:
                self.mismatched.append(("tx", a, b, self.transactions))
        else:
            n = self.client.eval(self.SCRIPT, 2, "{sc}a", "{sc}b")
            self.scripts += 1
            if n != self.scripts:
                self.mismatched.append(("script", n, self.scripts))


class Subscriber(threading.Thread):
    def __init__(self, cluster, proxy, channel):
        super().__init__(daemon=True)
        self.pubsub = cluster.client(proxy=proxy, timeout=10.0).pubsub()
        self.pubsub.subscribe(channel)
        self.received = []
        self.stopping = threading.Event()
        self.error = None

    def run(self):
        try:
            while not self.stopping.is_set():
                message = self.pubsub.get_message(timeout=0.2)
                if message and message["type"] == "message":
                    self.received.append(int(message["data"]))
        except redis.RedisError as e:
            self.error = repr(e)

    def stop(self):
        self.stopping.set()
        self.join(30)


class Publisher(Load):
    def __init__(self, *args, channel, **kwargs):
        super().__init__(*args, **kwargs)
        self.channel = channel
        self.delivered = []  # messages PUBLISH said reached a subscriber

    def step(self, i):
        if self.client.publish(self.channel, i) >= 1:
            self.delivered.append(i)
        time.sleep(0.002)


def test_scale_3_to_5_to_2_under_load_loses_nothing(clusters):  # noqa: F811
    c = scalable(clusters, shards=3)
    c.up()
    seeded = c.client()
    seeded.mset({"seed:%d" % i: "s%d" % i for i in range(5000)})

    subscriber = Subscriber(c, 0, "news")
    subscriber.start()
    c.wait_until(lambda: c.client(proxy=1).publish("news", -1) >= 1, 10, "the subscription live")
    loads = [Counters(c, 0, "counters"), Values(c, 1, "values-1", prefix="v1"),
             Values(c, 0, "values-0", prefix="v0"), MultiKey(c, 1, "multikey"),
             TransactionAndScript(c, 0, "tx-script"), Publisher(c, 1, "publisher", channel="news")]
    for load in loads:
        load.start()
    c.wait_until(lambda: all(load.ops > 50 for load in loads), 20, "every client working")

    out = scale(c, 5)
    assert "scaled from 3 to 5 shards" in out.stdout, out.stdout
    assert_every_slot_owned_once(c, 5)
    ops_after_out = [load.ops for load in loads]
    out = scale(c, 2)
    assert "scaled from 5 to 2 shards" in out.stdout, out.stdout
    c.wait_until(lambda: all(load.ops > n + 50 for load, n in zip(loads, ops_after_out)), 20,
                 "every client still working after the scale-in")
    for load in loads:
        load.stop()
    subscriber.stop()

    assert_every_slot_owned_once(c, 2)
    assert all(m["state"] == "done" for m in migrations(c)), migrations(c)
    for load in loads:
        assert not load.failures, (load.name, load.failures[:5])
    check = c.client(proxy=1, timeout=10.0)
    counters, values0, values1, multikey, txs, publisher = loads
    for w in (counters, values0, values1, multikey):
        assert not w.stale, (w.name, w.stale[:5])
    for key, count in counters.acked.items():
        assert int(check.get(key)) == count, key
    for w in (values0, values1):
        keys = sorted(w.acked)
        assert [int(v) for v in check.mget(keys)] == [w.acked[k] for k in keys], w.name
    # An MSET refused with a retryable error may have set some of its keys
    # (its parts on other shards ran): later values, never older ones.
    keys = sorted(multikey.acked)
    assert all(int(v) >= multikey.acked[k] for k, v in zip(keys, check.mget(keys)))
    assert check.mget(["seed:%d" % i for i in range(5000)]) == [b"s%d" % i for i in range(5000)]
    assert not txs.mismatched, txs.mismatched[:5]
    assert int(check.get("{tx}a")) == int(check.get("{tx}b")) == txs.transactions
    assert int(check.get("{sc}a")) == int(check.get("{sc}b")) == txs.scripts
    assert subscriber.error is None, subscriber.error
    got = [m for m in subscriber.received if m >= 0]
    assert got == publisher.delivered, "subscriber: %d messages, %d delivered; first difference at %r" % (
        len(got), len(publisher.delivered),
        next((i for i, (a, b) in enumerate(zip(got, publisher.delivered)) if a != b), None))
    assert len(publisher.delivered) > 100
