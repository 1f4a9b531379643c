"""CONFIG through the proxy, with the real ConfigServer, etcd and
redis-servers (masters and replicas): GET answered as a plain redis-server
answers, SET applied to every server all-or-none and kept by the ConfigServer
for the servers started later (a restarted replica, a failover, a new shard),
the platform's parameters refused, RESETSTAT and REWRITE."""
import pytest
import redis

from conftest import RespConnection, RespError, wait_until
from test_configserver import ControlPlane, authed
from test_redkube_scale import scalable, scale
from test_redkube_up import clusters  # noqa: F401 - the fixture


@pytest.fixture(scope="module")
def plane(workdir):
    p = ControlPlane(workdir, name="cfg", shards=2, replicas=1, configservers=1)
    try:
        p.start_proxy()
        yield p
    finally:
        p.close()


@pytest.fixture
def pc(plane):
    conn = authed(plane.proxies[0].port)
    yield conn
    conn.close()


def every_server(plane):
    return [s for group in plane.servers.values() for s in group]


def get_on(server, param):
    conn = authed(server.port)
    try:
        reply = conn.command("CONFIG", "GET", param)
    finally:
        conn.close()
    return dict(zip(reply[::2], reply[1::2])).get(param.encode())


def values_everywhere(plane, param):
    return {s.address: get_on(s, param) for s in every_server(plane)}


def error_of(conn, *args):
    reply = conn.command(*args)
    assert isinstance(reply, RespError), (args, reply)
    return str(reply)


def as_dict(reply):
    assert isinstance(reply, list), reply
    return dict(zip(reply[::2], reply[1::2]))


@pytest.mark.parametrize("patterns", [
    ("maxmemory",), ("maxmemory*",), ("hash-max-*",), ("notify-keyspace-events",),
    ("timeout", "databases"), ("*-max-*-entries",), ("no-such-parameter*",),
])
def test_config_get_answers_as_a_plain_server(plane, pc, reference, patterns):
    ref = RespConnection(reference.port)
    try:
        expected = ref.command("CONFIG", "GET", *patterns)
        wrong_arity = ref.command("CONFIG", "GET")
    finally:
        ref.close()
    got = pc.command("CONFIG", "GET", *patterns)
    assert len(got) == len(expected)
    assert as_dict(got) == as_dict(expected)
    assert pc.command("CONFIG", "GET") == wrong_arity


def test_config_set_reaches_every_master_and_replica_and_is_kept(plane, pc):
    assert pc.command("CONFIG", "SET", "maxmemory-policy", "allkeys-lru",
                      "notify-keyspace-events", "Ex") == b"OK"
    # Applied before the reply: no waiting.
    assert set(values_everywhere(plane, "maxmemory-policy").values()) == {b"allkeys-lru"}
    assert set(values_everywhere(plane, "notify-keyspace-events").values()) == {b"xE"}
    assert as_dict(pc.command("CONFIG", "GET", "maxmemory-policy")) == {b"maxmemory-policy": b"allkeys-lru"}
    status, kept = plane.live_configserver().call("GET", "/v1/clusters/cfg/config")
    assert status == 200, kept
    assert kept["settings"]["maxmemory-policy"] == "allkeys-lru"
    assert kept["settings"]["notify-keyspace-events"] == "Ex"
    # A pipeline stays in order around a CONFIG SET: the GET after it sees it.
    replies = pc.pipeline([("CONFIG", "SET", "maxmemory-policy", "volatile-lru"),
                           ("CONFIG", "GET", "maxmemory-policy"), ("PING",)])
    assert replies == [b"OK", [b"maxmemory-policy", b"volatile-lru"], b"PONG"]


def test_a_client_gone_before_the_answer_harms_nothing(plane, pc):
    gone = authed(plane.proxies[0].port)
    gone.send_raw(RespConnection.encode("CONFIG", "SET", "lazyfree-lazy-eviction", "yes"))
    gone.close()
    wait_until(lambda: set(values_everywhere(plane, "lazyfree-lazy-eviction").values()) == {b"yes"}, 10,
               "the abandoned CONFIG SET applied")
    assert pc.command("PING") == b"PONG"
    assert pc.command("CONFIG", "SET", "lazyfree-lazy-eviction", "no") == b"OK"


def test_masters_that_differ_answer_the_first_shards_and_are_logged(plane, pc):
    shards = plane.topology()["shards"]
    second = authed(plane.server(shards[1]["master"]).port)
    try:
        assert second.command("CONFIG", "SET", "slowlog-max-len", "999") == b"OK"
        first = get_on(plane.server(shards[0]["master"]), "slowlog-max-len")
        assert first != b"999"
        assert as_dict(pc.command("CONFIG", "GET", "slowlog-max-len")) == {b"slowlog-max-len": first}
        wait_until(lambda: "not configured alike" in plane.proxies[0].log_text() and
                   "slowlog-max-len" in plane.proxies[0].log_text(), 5, "the difference logged")
    finally:
        assert second.command("CONFIG", "SET", "slowlog-max-len", first.decode()) == b"OK"
        second.close()


def test_platform_parameters_are_refused_and_change_nothing(plane, pc):
    before = values_everywhere(plane, "dir")
    for args in (("dir", "/tmp"), ("requirepass", "x"), ("replicaof", "127.0.0.1 1"),
                 ("cluster-enabled", "yes"), ("min-replicas-to-write", "3"), ("repl-timeout", "1")):
        e = error_of(pc, "CONFIG", "SET", *args)
        assert "not allowed through the redkube proxy" in e and args[0] in e, e
    assert values_everywhere(plane, "dir") == before
    # With an allowed one beside it: nothing of the request is applied.
    timeout_before = values_everywhere(plane, "timeout")
    e = error_of(pc, "CONFIG", "SET", "timeout", "41", "port", "1")
    assert "port" in e
    assert values_everywhere(plane, "timeout") == timeout_before
    assert "wrong number of arguments" in error_of(pc, "CONFIG", "SET", "timeout")
    assert "Unknown option" in error_of(pc, "CONFIG", "SET", "time*", "1")


def test_an_invalid_value_is_refused_by_the_first_server_and_changes_nothing(plane, pc):
    before = values_everywhere(plane, "timeout")
    policy = values_everywhere(plane, "maxmemory-policy")
    e = error_of(pc, "CONFIG", "SET", "timeout", "42", "maxmemory-policy", "no-such-policy")
    first_master = plane.topology()["shards"][0]["master"]
    assert "CONFIG SET refused by %s (shard shard-0)" % first_master in e, e
    assert "maxmemory-policy" in e, e
    assert values_everywhere(plane, "timeout") == before
    assert values_everywhere(plane, "maxmemory-policy") == policy


def test_one_server_refusing_puts_back_the_ones_already_set(plane, pc):
    # The last server in the ConfigServer's order (shard-1's replica) is
    # made to refuse CONFIG SET for real: an ACL takes the command away
    # from the user the platform logs in as. Every server before it accepts.
    shard = plane.topology()["shards"][1]
    refusing = plane.server(shard["replicas"][0])
    admin = authed(refusing.port)
    assert admin.command("ACL", "SETUSER", "default", "-config|set") == b"OK"
    try:
        before = values_everywhere(plane, "timeout")
        assert len(set(before.values())) == 1
        e = error_of(pc, "CONFIG", "SET", "timeout", "77")
        assert "CONFIG SET refused by %s (shard shard-1)" % refusing.address in e, e
        assert "NOPERM" in e, e
        # The three that had accepted are back to their value.
        assert values_everywhere(plane, "timeout") == before
        status, kept = plane.live_configserver().call("GET", "/v1/clusters/cfg/config")
        assert "timeout" not in kept["settings"], kept
    finally:
        assert admin.command("ACL", "SETUSER", "default", "+config|set") == b"OK"
        admin.close()


def test_a_restarted_replica_and_a_failover_get_the_kept_settings(plane, pc):
    assert pc.command("CONFIG", "SET", "notify-keyspace-events", "KEA", "hash-max-listpack-entries", "77") == b"OK"
    want = b"AKE"  # how redis-server spells KEA back

    # A replica killed and started again comes back with its defaults; the
    # ConfigServer gives it the kept settings.
    shard0 = plane.topology()["shards"][0]
    replica = plane.server(shard0["replicas"][0])
    replica.kill()
    replica.start()
    wait_until(lambda: get_on(replica, "notify-keyspace-events") == want and
               get_on(replica, "hash-max-listpack-entries") == b"77", 10, "restarted replica set")

    # A failover: the master of shard-1 killed. The promoted replica keeps
    # what it had; the old master, started again, rejoins as a replica with
    # its defaults and is given the settings too.
    shard1 = plane.topology()["shards"][1]
    old = plane.server(shard1["master"])
    old.kill()
    wait_until(lambda: plane.topology()["shards"][1]["master"] != old.address, 15, "failover")
    new_master = plane.server(plane.topology()["shards"][1]["master"])
    assert get_on(new_master, "notify-keyspace-events") == want
    old.start()
    wait_until(lambda: get_on(old, "notify-keyspace-events") == want and
               get_on(old, "hash-max-listpack-entries") == b"77", 15, "old master set again")
    wait_until(lambda: old.address in plane.topology()["shards"][1]["replicas"], 20, "old master back in sync")


def test_resetstat_rewrite_and_help(plane, pc):
    for _ in range(5):
        assert pc.command("PING") == b"PONG"
    master = plane.server(plane.topology()["shards"][0]["master"])
    direct = authed(master.port)
    try:
        # The earlier tests' CONFIG SETs reached it (from the ConfigServer).
        assert "cmdstat_config|set:" in direct.command("INFO", "commandstats").decode()
        assert pc.command("CONFIG", "RESETSTAT") == b"OK"
        # The master's stats are zeroed: only what came since is counted.
        stats = direct.command("INFO", "commandstats").decode()
        assert "cmdstat_config|set:" not in stats and "cmdstat_config|resetstat:calls=1," in stats, stats
    finally:
        direct.close()
    proxy_stats = pc.command("INFO", "commandstats").decode()
    assert "cmdstat_ping:" not in proxy_stats, proxy_stats
    e = error_of(pc, "CONFIG", "REWRITE")
    assert "kept by the ConfigServer" in e, e
    help_lines = pc.command("CONFIG", "HELP")
    assert any(b"RESETSTAT" in line for line in help_lines)


def test_a_proxy_on_a_topology_file_refuses_config_set(proxy):
    conn = proxy.connect()
    try:
        e = error_of(conn, "CONFIG", "SET", "timeout", "5")
        assert "--topology" in e and "ConfigServer" in e, e
        assert as_dict(conn.command("CONFIG", "GET", "timeout")) == {b"timeout": b"0"}
    finally:
        conn.close()


def test_a_new_shard_of_redkube_scale_gets_the_kept_settings(clusters):
    c = scalable(clusters, shards=2, replicas=1, proxies=1)
    c.up()
    client = c.client(timeout=40.0)
    assert client.config_set("notify-keyspace-events", "Ex") is True
    assert client.config_get("notify-keyspace-events") == {"notify-keyspace-events": "xE"}
    scale(c, 3)

    def members(shard_id):
        shard = [s for s in c.status()["shards"] if s["id"] == shard_id][0]
        return [m["address"] for m in shard["members"]]

    def new_shard_set():
        for address in members("shard-2"):
            host, port = address.rsplit(":", 1)
            server = redis.Redis(host=host, port=int(port), password=c.password, socket_timeout=2)
            try:
                if server.config_get("notify-keyspace-events") != {"notify-keyspace-events": "xE"}:
                    return False
            finally:
                server.close()
        return len(members("shard-2")) == 2
    c.wait_until(new_shard_set, 20, "shard-2's master and replica given the kept settings")
