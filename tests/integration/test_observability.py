"""The proxy's admin endpoint (/metrics, /healthz, /readyz) and INFO
commandstats, checked against the traffic the test itself sent."""
import re
import time

from conftest import Proxy, RedisServer, RespError, http, shard_of, wait_until


def metric(text, name, **labels):
    """The value of one sample of `name` with exactly these labels, or None."""
    want = ",".join('%s="%s"' % kv for kv in sorted(labels.items()))
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        m = re.match(r'^([a-z_]+)(?:\{(.*)\})? (\S+)$', line)
        if not m or m.group(1) != name:
            continue
        got = ",".join(sorted((m.group(2) or "").split(","))) if m.group(2) else ""
        if got == want:
            return float(m.group(3))
    return None


def test_metrics_count_what_was_sent(workdir, shards):
    proxy = Proxy(workdir, shards)
    admin = proxy.admin_port
    try:
        url = "http://127.0.0.1:%d" % admin
        wait_until(lambda: http("GET", url + "/readyz")[0] == 200, 10, "/readyz")
        assert http("GET", url + "/healthz")[0] == 200
        c = proxy.connect()
        for i in range(25):
            assert c.command("SET", "m%d" % i, "v") == b"OK"
        for i in range(10):
            assert c.command("GET", "m%d" % i) == b"v"
        assert isinstance(c.command("LPUSH", "m0", "x"), RespError)      # WRONGTYPE, from the server
        assert isinstance(c.command("MSET", "{a}1", "1", "{b}2"), RespError)  # odd count
        assert c.command("PING") == b"PONG"

        status, text = http("GET", url + "/metrics")
        assert status == 200
        assert metric(text, "redkube_proxy_command_calls_total", command="set") == 25
        assert metric(text, "redkube_proxy_command_calls_total", command="get") == 10
        assert metric(text, "redkube_proxy_command_errors_total", command="get") == 0
        assert metric(text, "redkube_proxy_command_errors_total", command="lpush") == 1
        assert metric(text, "redkube_proxy_command_calls_total", command="ping") == 2  # + the start-up check
        # Latency: every GET answered by a server is in the histogram.
        assert metric(text, "redkube_proxy_command_duration_seconds_count", command="get") == 10
        assert metric(text, "redkube_proxy_command_duration_seconds_bucket", command="get", le="+Inf") == 10
        # Per backend: each shard got its share of the 25 SETs and 10 GETs.
        for s in range(3):
            backend = "127.0.0.1:%d" % shards[s].port
            sets = sum(1 for i in range(25) if shard_of("m%d" % i) == s)
            assert metric(text, "redkube_proxy_backend_duration_seconds_count", backend=backend) >= sets
            assert metric(text, "redkube_proxy_backend_connections", backend=backend) >= 1
        assert metric(text, "redkube_proxy_client_bytes_in_total") > 25 * len("*3\r\n$3\r\nSET\r\n")
        assert metric(text, "redkube_proxy_client_bytes_out_total") >= 25 * len("+OK\r\n")
        assert metric(text, "redkube_proxy_ready") == 1
        assert metric(text, "redkube_proxy_topology_epoch") == 1

        info = c.command("INFO", "commandstats").decode()
        assert "cmdstat_set:calls=25," in info
        assert re.search(r"cmdstat_lpush:calls=1,.*failed_calls=1", info)
        assert "cmdstat_" not in c.command("INFO").decode()  # not a default section, as in Redis
        c.close()
    finally:
        proxy.stop()


def test_readyz_follows_the_masters(workdir):
    servers = [RedisServer(workdir) for _ in range(3)]
    proxy = Proxy(workdir, servers)
    admin = proxy.admin_port
    try:
        url = "http://127.0.0.1:%d/readyz" % admin
        wait_until(lambda: http("GET", url)[0] == 200, 10, "ready")
        servers[1].kill()
        wait_until(lambda: http("GET", url)[0] == 503, 10, "not ready once a master is gone")
        servers[1].start()
        wait_until(lambda: http("GET", url)[0] == 200, 15, "ready again")
    finally:
        proxy.stop()
        for s in servers:
            s.stop()


# A Lua loop that keeps a redis-server busy for 50 ms by its own clock (a
# fixed count of iterations took under the 20 ms threshold on a fast machine).
SLOW_SCRIPT = ("local t = redis.call('TIME') local n = 0 repeat n = n + 1 local u = redis.call('TIME') "
               "until (u[1] - t[1]) * 1000000 + u[2] - t[2] >= 50000 return n")


def test_slowlog_keeps_slow_requests_only(workdir, shards):
    proxy = Proxy(workdir, shards, extra_args=["--slowlog-slower-than-us", "20000", "--slowlog-max-len", "3"])
    try:
        import redis
        r = redis.Redis(port=proxy.port)
        r.client_setname("slow-client")
        r.slowlog_reset()
        for i in range(200):
            r.set("fast%d" % i, i)
        r.blpop(["slow-list"], timeout=0.1)  # waits by design: not logged
        assert r.slowlog_len() == 0
        long_arg = "x" * 100
        started = time.monotonic()
        assert r.eval(SLOW_SCRIPT, 1, "slowkey", long_arg, "a3", "a4", "a5") > 0
        took_us = (time.monotonic() - started) * 1e6
        assert r.slowlog_len() == 1
        (entry,) = r.slowlog_get()
        assert 20000 <= entry["duration"] <= took_us
        assert entry["command"].startswith(b"EVAL ")
        raw = redis.Redis(port=proxy.port).execute_command("SLOWLOG", "GET")
        args = raw[0][3]
        # The first four arguments, cut at 48 bytes as redis cuts at 128,
        # then how many were left out.
        assert args[0] == b"EVAL"
        assert args[1] == SLOW_SCRIPT[:48].encode() + b"... (%d more bytes)" % (len(SLOW_SCRIPT) - 48)
        assert args[2:4] == [b"1", b"slowkey"]
        assert args[4] == b"... (4 more arguments)"
        assert raw[0][5] == b"slow-client"
        assert raw[0][4].decode() == r.client_info()["addr"]
        # max-len 3 keeps the newest three, newest first, ids counting up.
        for _ in range(3):
            r.eval(SLOW_SCRIPT, 1, "slowkey")
        ids = [e["id"] for e in r.slowlog_get(-1)]
        assert ids == [3, 2, 1]
        assert [e["id"] for e in r.slowlog_get(2)] == [3, 2]
        status, text = http("GET", "http://127.0.0.1:%d/metrics" % proxy.admin_port)
        assert metric(text, "redkube_proxy_slow_requests_total") == 4
        assert r.slowlog_reset()
        assert r.slowlog_len() == 0
        c = proxy.connect()
        assert isinstance(c.command("SLOWLOG", "GET", "-2"), RespError)
        assert isinstance(c.command("SLOWLOG", "GET", "x"), RespError)
        assert isinstance(c.command("SLOWLOG", "HELP"), list)
        c.close()
    finally:
        proxy.stop()


def test_info_latencystats_gives_percentiles_per_command(workdir, shards):
    proxy = Proxy(workdir, shards)
    try:
        c = proxy.connect()
        for i in range(100):
            c.command("SET", "lat%d" % i, i)
        c.command("EVAL", SLOW_SCRIPT, 0)
        info = c.command("INFO", "latencystats").decode()
        assert info.startswith("# Latencystats\r\n")
        lines = dict(line.split(":", 1) for line in info.split("\r\n")[1:] if ":" in line)
        assert set(lines) == {"latency_percentiles_usec_set", "latency_percentiles_usec_eval"}
        for value in lines.values():
            p = dict(kv.split("=") for kv in value.split(","))
            assert 0 < float(p["p50"]) <= float(p["p99"]) <= float(p["p99.9"])
        eval_p50 = float(dict(kv.split("=") for kv in lines["latency_percentiles_usec_eval"].split(","))["p50"])
        assert eval_p50 > 10000  # the Lua loop takes tens of milliseconds
        assert "# Latencystats" not in c.command("INFO").decode()  # not a default section
        assert "# Latencystats" in c.command("INFO", "all").decode()
        c.close()
    finally:
        proxy.stop()
