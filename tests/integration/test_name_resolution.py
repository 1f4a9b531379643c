"""Backends named by host name: resolved off the worker threads, an
unresolvable name failing only its shard (also behind a DNS server that never
answers), and a name whose address changes followed without a topology change.

The proxy resolves through the system resolver. To change what a name
resolves to without touching the machine's /etc/hosts, the proxy runs in a
mount namespace of its own (unshare) where /etc/hosts (and /etc/resolv.conf)
are bind mounts of files the test owns; the network namespace is shared, so
127.0.0.1 is the same everywhere.
"""
import os
import signal
import socket
import subprocess
import time

import pytest

from conftest import Proxy, RespConnection, RespError, keys_on_shard, topology_doc, wait_until

# A namespace that sees the test's hosts file (and resolv.conf, if given), then
# execs the proxy: same PID, so the fixtures stop it as usual.
NAMESPACE_SCRIPT = ('mount --bind "$1" /etc/hosts && '
                    '{ [ -z "$2" ] || mount --bind "$2" /etc/resolv.conf; } && shift 2 && exec "$@"')


class Named:
    """Stands in for a RedisServer in topology_doc: a server by name."""

    def __init__(self, host, port):
        self.address = "%s:%d" % (host, port)


def private_resolver(hosts_path, resolv_path=""):
    return ["unshare", "-Urm", "sh", "-c", NAMESPACE_SCRIPT, "redkube-ns", hosts_path, resolv_path]


def rewrite_in_place(path, text):
    # The bind mount holds the file's inode: replacing the file (rename) would
    # not be seen inside the namespace.
    with open(path, "r+") as f:
        f.truncate(0)
        f.write(text)


@pytest.fixture(scope="module")
def namespaces():
    try:
        ok = subprocess.run(["unshare", "-Urm", "true"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        ok = False
    if not ok:
        pytest.skip("unshare -Urm (an unprivileged mount namespace) is not available here")


@pytest.fixture
def silent_dns(namespaces, workdir):
    """A resolv.conf naming a DNS server on 127.0.0.1:53 that takes queries
    and never answers: every lookup of a name not in /etc/hosts takes the
    full timeout (2 s), as with a DNS server that is down."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.bind(("127.0.0.1", 53))
    except OSError as e:
        sock.close()
        pytest.skip("cannot take 127.0.0.1:53 for a silent DNS server: %s" % e)
    path = os.path.join(workdir, "resolv-silent.conf")
    with open(path, "w") as f:
        f.write("nameserver 127.0.0.1\noptions timeout:2 attempts:1\n")
    yield path
    sock.close()


def hosts_file(workdir, name, text):
    path = os.path.join(workdir, name)
    with open(path, "w") as f:
        f.write(text)
    return path


def timed(conn, *args):
    start = time.monotonic()
    reply = conn.command(*args)
    return reply, time.monotonic() - start


def assert_names(reply, host):
    assert isinstance(reply, RespError), reply
    assert str(reply).startswith("TRYAGAIN") and host in str(reply), reply


def test_backends_named_by_host_name(workdir, shards):
    servers = [Named("localhost", s.port) for s in shards]
    p = Proxy(workdir, servers)
    try:
        conn = p.connect()
        for i, s in enumerate(shards):
            key = keys_on_shard(i, 1, prefix="named")[0]
            assert conn.command("SET", key, "v%d" % i) == b"OK"
            assert conn.command("GET", key) == b"v%d" % i
            assert RespConnection(s.port).command("GET", key) == b"v%d" % i  # on the right server
        assert "backend host localhost resolves to 127.0.0.1" in p.log_text()

        # Epoch 2 (SIGHUP) names shard-1's master by a name that does not
        # resolve: applied all the same, only that shard fails, naming it.
        bad = Named("no-such-host.invalid", shards[1].port)
        doc_servers = [servers[0], bad, servers[2]]
        p.write_topology(topology_doc(doc_servers, epoch=2))
        p.signal(signal.SIGHUP)
        wait_until(lambda: "topology epoch 2 applied" in p.log_text(), 10, "epoch 2 applied")
        assert_names(conn.command("GET", keys_on_shard(1, 1, prefix="named")[0]), "no-such-host.invalid")
        assert conn.command("GET", keys_on_shard(0, 1, prefix="named")[0]) == b"v0"
        assert conn.command("GET", keys_on_shard(2, 1, prefix="named")[0]) == b"v2"
        assert p.proc.poll() is None
    finally:
        p.stop()


def test_unresolvable_master_behind_a_silent_dns_fails_only_its_shard(workdir, shards, silent_dns):
    hosts = hosts_file(workdir, "hosts-silent", "127.0.0.1 localhost\n")
    servers = [Named("localhost", shards[0].port), Named("no-such-host.invalid", shards[1].port),
               Named("127.0.0.1", shards[2].port)]
    p = Proxy(workdir, servers, wrapper=private_resolver(hosts, silent_dns))
    try:
        # Several clients, so that both worker threads (--threads 2) serve
        # requests for the unresolvable shard.
        conns = [p.connect() for _ in range(4)]
        good = [keys_on_shard(0, 1, prefix="s")[0], keys_on_shard(2, 1, prefix="s")[0]]
        bad = keys_on_shard(1, 1, prefix="s")[0]
        for c in conns:
            for k in good:
                assert c.command("SET", k, "ok") == b"OK"
        # Longer than two DNS timeouts: a reconnect resolving on a worker thread
        # would stall its clients for 2 s at least once in this window.
        worst_good = worst_bad = 0.0
        deadline = time.monotonic() + 5.0
        rounds = 0
        while time.monotonic() < deadline:
            for c in conns:
                reply, took = timed(c, "GET", bad)
                assert_names(reply, "no-such-host.invalid")
                worst_bad = max(worst_bad, took)
                for k in good:
                    reply, took = timed(c, "GET", k)
                    assert reply == b"ok", reply
                    worst_good = max(worst_good, took)
            rounds += 1
        assert worst_good < 0.5, "a request to a healthy shard took %.2f s" % worst_good
        assert worst_bad < 0.5, "the unresolvable shard's error took %.2f s" % worst_bad
        assert rounds > 50, rounds

        # A topology with another unresolvable name (a replica) is applied
        # after its 2 s lookup, on the signal thread: requests go on meanwhile.
        doc = topology_doc(servers, epoch=2)
        doc["shards"][0]["replicas"] = ["replica-0.invalid:%d" % shards[0].port]
        p.write_topology(doc)
        p.signal(signal.SIGHUP)
        worst_good = 0.0
        deadline = time.monotonic() + 10.0
        while "topology epoch 2 applied" not in p.log_text():
            assert time.monotonic() < deadline, "epoch 2 was not applied"
            reply, took = timed(conns[0], "GET", good[0])
            assert reply == b"ok", reply
            worst_good = max(worst_good, took)
        assert worst_good < 0.5, "a request took %.2f s while a topology was being resolved" % worst_good
        assert "cannot resolve host replica-0.invalid" in p.log_text()
        assert_names(conns[0].command("GET", bad), "no-such-host.invalid")
    finally:
        p.stop()


def test_a_name_whose_address_changes_is_followed_without_a_topology_change(workdir, shards, namespaces):
    # redis-1's pod was at 127.0.0.2 (nothing listens there: connections are
    # refused) and comes back at 127.0.0.1, under the same name.
    name = "redis-1.shard-1.ns.svc"
    hosts = hosts_file(workdir, "hosts-moving", "127.0.0.1 localhost\n127.0.0.2 %s\n" % name)
    servers = [Named("localhost", shards[0].port), Named(name, shards[1].port),
               Named("localhost", shards[2].port)]
    p = Proxy(workdir, servers, wrapper=private_resolver(hosts))
    try:
        conn = p.connect()
        key = keys_on_shard(1, 1, prefix="moving")[0]
        assert_names(conn.command("SET", key, "here"), name)
        assert "backend host %s resolves to 127.0.0.2" % name in p.log_text()

        rewrite_in_place(hosts, "127.0.0.1 localhost\n127.0.0.1 %s\n" % name)
        wait_until(lambda: conn.command("SET", key, "here") == b"OK", 10,
                   "shard-1 reachable at its new address")
        assert RespConnection(shards[1].port).command("GET", key) == b"here"
        assert "backend host %s now resolves to 127.0.0.1 (was 127.0.0.2)" % name in p.log_text()
    finally:
        p.stop()
