"""The proxy's admin endpoint (/metrics, /healthz, /readyz) and INFO
commandstats, checked against the traffic the test itself sent."""
import re

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
