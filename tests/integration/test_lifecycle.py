"""The proxy's life: startup checks, SIGHUP topology reload without dropping
clients, a backend killed and restarted, SIGTERM drain."""
import os
import signal
import subprocess
import time

import pytest

from conftest import (PROXY_BIN, Proxy, RedisServer, RespConnection, RespError,
                      free_port, info_field, keys_on_shard, topology_doc)


def wait_until(predicate, timeout_s=10.0, what="condition"):
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "timed out waiting for " + what
        time.sleep(0.02)


def run_proxy_expecting_failure(workdir, topology_text):
    path = os.path.join(workdir, "bad-%d.json" % free_port())
    with open(path, "w") as f:
        f.write(topology_text)
    result = subprocess.run([PROXY_BIN, "--port", str(free_port()), "--bind", "127.0.0.1",
                             "--topology", path], capture_output=True, timeout=10)
    return result.returncode, (result.stdout + result.stderr).decode()


@pytest.mark.parametrize("doc, problem", [
    ('{"cluster": "x", "epoch": 1, "shards": [{"id": "a", "master": "127.0.0.1:1", '
     '"replicas": [], "slots": [[0, 100]]}], "migrations": []}', "101"),
    ('{"cluster": "x", "epoch": 1, "shards": [{"id": "a", "master": "127.0.0.1:1", '
     '"replicas": [], "slots": [[0, 16383]]}, {"id": "b", "master": "127.0.0.1:2", '
     '"replicas": [], "slots": [[5, 5]]}], "migrations": []}', "5"),
    ('{"cluster": "x", "epoch": 1, "shards": [{"id": "a", "master": "nohost", '
     '"replicas": [], "slots": [[0, 16383]]}], "migrations": []}', "nohost"),
    ('{"cluster": "x", "epoch": 1, "shards": [', "JSON"),
])
def test_invalid_topology_is_refused_naming_the_problem(workdir, doc, problem):
    code, output = run_proxy_expecting_failure(workdir, doc)
    assert code != 0
    assert problem.lower() in output.lower(), output


def test_taken_port_is_a_clear_error(workdir, shards):
    p = Proxy(workdir, shards)
    try:
        path = os.path.join(workdir, "ok.json")
        import json
        with open(path, "w") as f:
            json.dump(topology_doc(shards), f)
        result = subprocess.run([PROXY_BIN, "--port", str(p.port), "--bind", "127.0.0.1",
                                 "--topology", path], capture_output=True, timeout=10)
        assert result.returncode != 0
        assert str(p.port) in (result.stdout + result.stderr).decode()
    finally:
        p.stop()


def test_sighup_applies_newer_epoch_without_dropping_clients(workdir, shards):
    spare = RedisServer(workdir)
    p = Proxy(workdir, shards)
    try:
        conn = p.connect()
        key = keys_on_shard(2, 1, prefix="moved")[0]
        assert conn.command("SET", key, "old-home") == b"OK"

        # Epoch 2 points shard-2's slots at the spare server.
        doc = topology_doc(shards[:2] + [spare], epoch=2)
        p.write_topology(doc)
        p.signal(signal.SIGHUP)
        wait_until(lambda: info_field(conn, "topology_epoch") == "2", what="epoch 2")
        assert conn.command("GET", key) is None  # served by the spare now
        assert conn.command("SET", key, "new-home") == b"OK"
        assert RespConnection(spare.port).command("GET", key) == b"new-home"

        # An older epoch and a broken document are both ignored.
        p.write_topology(topology_doc(shards, epoch=1))
        p.signal(signal.SIGHUP)
        with open(p.topology_path, "w") as f:
            f.write("{not json")
        p.signal(signal.SIGHUP)
        wait_until(lambda: "not reloaded" in p.log_text(), what="reload refusal in log")
        assert info_field(conn, "topology_epoch") == "2"
        assert conn.command("GET", key) == b"new-home"
        assert p.proc.poll() is None
    finally:
        p.stop()
        spare.stop()


def test_killed_backend_fails_only_its_own_requests(workdir):
    servers = [RedisServer(workdir) for _ in range(3)]
    p = Proxy(workdir, servers, extra_args=["--backend-timeout-ms", "500",
                                            "--connect-timeout-ms", "300"])
    try:
        conn = p.connect()
        on = [keys_on_shard(i, 5, prefix="down") for i in range(3)]
        for keys in on:
            for k in keys:
                assert conn.command("SET", k, k) == b"OK"

        servers[1].kill()
        started = time.monotonic()
        reply = conn.command("GET", on[1][0])
        assert isinstance(reply, RespError), reply
        assert str(reply).startswith(("TRYAGAIN", "ERR")), reply
        assert time.monotonic() - started < 3.0
        for k in on[0] + on[2]:
            assert conn.command("GET", k) == k.encode()
        # A multi-key request touching the dead shard fails as a whole.
        assert isinstance(conn.command("MGET", on[0][0], on[1][0]), RespError)

        # Restarted on the same port (empty: no persistence), it is used again.
        servers[1].start()
        wait_until(lambda: conn.command("SET", on[1][0], "back") == b"OK", what="reconnect")
        assert conn.command("GET", on[1][0]) == b"back"
        assert conn.command("GET", on[0][0]) == on[0][0].encode()
    finally:
        p.stop()
        for s in servers:
            s.stop()


def test_sigterm_finishes_in_flight_requests_and_exits_zero(workdir, shards):
    p = Proxy(workdir, shards)
    conn = p.connect()
    n = 2000
    conn.send_raw(b"".join(RespConnection.encode("SET", "term%d" % i, i) for i in range(n)))
    # Requests still in the socket when SIGTERM comes are not read (the proxy
    # stops reading at once): signal once the proxy has read them all.
    probe = p.connect()
    def sets_read():
        stats = probe.command("INFO", "commandstats").decode()
        return "cmdstat_set:calls=%d," % n in stats
    wait_until(sets_read, 10, "the requests read")
    probe.close()
    p.signal(signal.SIGTERM)
    replies = [conn.read() for _ in range(n)]
    assert replies == [b"OK"] * n
    assert p.proc.wait(15) == 0
    p.stop()
    with pytest.raises(OSError):
        RespConnection(p.port, timeout=1).command("PING")
