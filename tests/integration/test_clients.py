"""The clients people use, unchanged, against redkube and against a plain
redis-server: go-redis, ioredis, Jedis and Lettuce run the same workload (strings,
hashes, a pipeline, a transaction, a Lua script, pub/sub, a blocking pop,
SCAN) from tests/clients/, built by scripts/install-client-libs.sh. redis-py
runs the workload below."""
import os
import subprocess
import threading
import time

import pytest
import redis

from conftest import REPO

CLIENTS = os.path.join(REPO, "tests", "clients")

WORKLOADS = {
    "go-redis": lambda host, port, prefix: [os.path.join(CLIENTS, "go", "bin", "workload"),
                                            "-addr", "%s:%d" % (host, port), "-prefix", prefix],
    # go-redis v9 asks for RESP3 (HELLO 3) by itself; pinned to RESP2 here.
    "go-redis-resp2": lambda host, port, prefix: [os.path.join(CLIENTS, "go", "bin", "workload"),
                                                  "-addr", "%s:%d" % (host, port), "-prefix", prefix,
                                                  "-protocol", "2"],
    "ioredis": lambda host, port, prefix: ["node", os.path.join(CLIENTS, "node", "workload.js"),
                                           host, str(port), "", prefix],
    "jedis": lambda host, port, prefix: ["java", "-cp", "%s:%s/*" % (
        os.path.join(CLIENTS, "java", "target", "classes"), os.path.join(CLIENTS, "java", "target", "dependency")),
        "redkube.Workload", host, str(port), "", prefix],
    # Jedis 5 speaks RESP2 unless asked for RESP3.
    "jedis-resp3": lambda host, port, prefix: ["java", "-cp", "%s:%s/*" % (
        os.path.join(CLIENTS, "java", "target", "classes"), os.path.join(CLIENTS, "java", "target", "dependency")),
        "redkube.Workload", host, str(port), "", prefix, "3"],
    # Lettuce asks for RESP3 (HELLO 3) first, by itself.
    "lettuce": lambda host, port, prefix: ["java", "-cp", "%s:%s/*" % (
        os.path.join(CLIENTS, "java", "target", "classes"), os.path.join(CLIENTS, "java", "target", "dependency")),
        "redkube.LettuceWorkload", host, str(port), "", prefix],
}


@pytest.mark.parametrize("client", sorted(WORKLOADS))
@pytest.mark.parametrize("target", ["redkube", "redis-server"])
def test_client_workload(client, target, flushed, reference):
    port = flushed.port if target == "redkube" else reference.port
    prefix = "%s-%d" % (client, time.monotonic_ns())
    done = subprocess.run(WORKLOADS[client]("127.0.0.1", port, prefix), capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0 and done.stdout.startswith("OK"), done.stdout + done.stderr
    if client.startswith(("go-redis", "jedis", "lettuce")):
        # The protocol the client negotiated, as the proxy (or server) saw it.
        want = "resp=3" if client in ("go-redis", "jedis-resp3", "lettuce") else "resp=2"
        assert done.stdout.split()[-1] == want, done.stdout


@pytest.mark.parametrize("target", ["redkube", "redis-server"])
def test_redis_py_workload(target, flushed, reference):
    port = flushed.port if target == "redkube" else reference.port
    r = redis.Redis(port=port, socket_timeout=10, decode_responses=True)
    p = "py"
    r.set(p + ":s", "hello")
    assert r.get(p + ":s") == "hello"
    r.hset(p + ":h", mapping={"a": "1", "b": "2"})
    assert r.hgetall(p + ":h") == {"a": "1", "b": "2"}
    pipe = r.pipeline(transaction=False)
    for i in range(100):
        pipe.set("%s:p%d" % (p, i), i)
    pipe.execute()
    assert r.mget(["%s:p%d" % (p, i) for i in range(100)]) == [str(i) for i in range(100)]
    tx = r.pipeline(transaction=True)
    tx.incrby("{py}:acct", 10).lpush("{py}:log", "deposit")
    assert tx.execute() == [10, 1]
    script = r.register_script(
        "return redis.call('INCRBY', KEYS[1], ARGV[1]) + redis.call('INCRBY', KEYS[2], ARGV[1])")
    assert script(keys=["{py}:x", "{py}:y"], args=[5]) == 10
    sub = r.pubsub()
    sub.subscribe(p + ":events")
    assert sub.get_message(timeout=2)["type"] == "subscribe"
    assert r.publish(p + ":events", "ping") == 1
    message = sub.get_message(timeout=2)
    assert (message["channel"], message["data"]) == (p + ":events", "ping")
    sub.close()
    pusher = threading.Timer(0.1, lambda: redis.Redis(port=port).rpush(p + ":queue", "job"))
    pusher.start()
    assert r.blpop([p + ":queue"], timeout=5) == (p + ":queue", "job")
    pusher.join()
    assert len(set(r.scan_iter(match=p + ":p*", count=50))) == 100
