"""Client limits: a subscriber (or a monitor) that stops reading is
disconnected once its unread messages pass the limit (the proxy's memory
stays bounded), and idle
clients are closed after the idle timeout, but not subscribers or blocked
clients."""
import os
import socket
import time

from conftest import Proxy, RespConnection, http, proc_status_kb, wait_until


def rss_mb(pid):
    return proc_status_kb(pid, "VmRSS") / 1024


def stalled_subscriber(port, channel):
    """A subscriber with a tiny receive buffer that never reads again."""
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(("127.0.0.1", port))
    s.sendall(RespConnection.encode("SUBSCRIBE", channel))
    return s


def small_asan_quarantine():
    """The environment with AddressSanitizer's quarantine of freed memory
    (256 MB by default) cut to 4 MB: otherwise every freed message buffer is
    held back and the proxy's RSS measures the quarantine, not the proxy.
    No effect on a build without ASan."""
    env = dict(os.environ)
    env["ASAN_OPTIONS"] = ":".join(filter(None, [env.get("ASAN_OPTIONS"), "quarantine_size_mb=4"]))
    return env


def test_stalled_subscriber_is_disconnected_and_memory_stays_bounded(workdir, shards):
    proxy = Proxy(workdir, shards, extra_args=("--pubsub-output-limit-mb", "2"),
                  env=small_asan_quarantine())
    try:
        sub = stalled_subscriber(proxy.port, "firehose")
        pub = proxy.connect()
        wait_until(lambda: pub.command("PUBSUB", "NUMSUB", "firehose")[1] == 1, 5, "the subscription")
        start_rss = rss_mb(proxy.proc.pid)
        payload = "x" * 100_000
        sent = 0
        while pub.command("PUBLISH", "firehose", payload) == 1:  # bounded: 100 MB at most
            sent += 1
            assert sent < 1000, "the stalled subscriber was never disconnected"
        # Disconnected after a few MB (the limit plus socket buffers), not 100.
        assert sent * len(payload) < 20 * 1024 * 1024, sent
        assert rss_mb(proxy.proc.pid) - start_rss < 30, (start_rss, rss_mb(proxy.proc.pid))
        assert pub.command("PING") == b"PONG"  # everyone else is served
        _, text = http("GET", "http://127.0.0.1:%d/metrics" % proxy.admin_port)
        assert "redkube_proxy_output_limit_disconnects_total 1" in text
        assert "over the 2097152 byte limit for subscribers" in proxy.log_text()
        sub.close()
    finally:
        proxy.stop()


def test_stalled_monitor_is_held_to_the_subscribers_limit(workdir, shards):
    # The normal limit stays 256 MB: only a MONITOR stream counts as pushed.
    proxy = Proxy(workdir, shards, extra_args=("--pubsub-output-limit-mb", "2"),
                  env=small_asan_quarantine())
    try:
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.connect(("127.0.0.1", proxy.port))
        s.sendall(RespConnection.encode("MONITOR"))
        assert s.recv(5) == b"+OK\r\n"
        writer = proxy.connect()
        payload = "y" * 100_000
        metric = "redkube_proxy_output_limit_disconnects_total 1"
        sent = 0
        while metric not in http("GET", "http://127.0.0.1:%d/metrics" % proxy.admin_port)[1]:
            for _ in range(10):
                assert writer.command("SET", "monitored", payload) == b"OK"
            sent += 10
            assert sent < 1000, "the stalled monitor was never disconnected"  # 100 MB of lines
        assert sent * len(payload) < 20 * 1024 * 1024, sent
        assert "over the 2097152 byte limit for subscribers" in proxy.log_text()
        assert writer.command("GET", "monitored") == payload.encode()
        s.close()
    finally:
        proxy.stop()


def test_idle_clients_are_closed_but_not_subscribers_or_blocked_clients(workdir, shards):
    proxy = Proxy(workdir, shards, extra_args=("--client-idle-timeout-s", "1"))
    try:
        idle = proxy.connect()
        assert idle.command("PING") == b"PONG"
        subscriber = proxy.connect()
        subscriber.sock.sendall(RespConnection.encode("SUBSCRIBE", "news"))
        assert subscriber.read() == [b"subscribe", b"news", 1]
        blocked = proxy.connect()
        blocked.sock.sendall(RespConnection.encode("BLPOP", "idle-queue", "0"))
        # The idle client is closed within the timeout plus the 1 s check.
        idle.sock.settimeout(5)
        start = time.monotonic()
        assert idle.sock.recv(1) == b""
        assert time.monotonic() - start < 4
        busy = proxy.connect()
        for _ in range(3):  # the others stay well past it
            time.sleep(0.5)
            assert busy.command("PING") == b"PONG"
        assert busy.command("PUBLISH", "news", "still here") == 1
        assert subscriber.read() == [b"message", b"news", b"still here"]
        assert busy.command("RPUSH", "idle-queue", "job") == 1
        assert blocked.read() == [b"idle-queue", b"job"]
        _, text = http("GET", "http://127.0.0.1:%d/metrics" % proxy.admin_port)
        assert "redkube_proxy_idle_disconnects_total 1" in text
    finally:
        proxy.stop()
