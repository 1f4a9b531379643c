"""Scripts loaded through the proxy (SCRIPT LOAD) keep working on servers
that lost their script cache: a restarted server here, a replica promoted
by a failover in test_redkube_up. Every new connection the proxy opens
loads them before any client request, so EVALSHA also keeps its place in
the client's pipeline."""
import pytest

from conftest import Proxy, RedisServer, RespConnection, RespError, keys_on_shard, wait_until

SET_SCRIPT = "return redis.call('set', KEYS[1], 'from-script')"


@pytest.fixture
def cluster(workdir):
    servers = [RedisServer(workdir) for _ in range(3)]
    proxy = Proxy(workdir, servers)
    yield servers, proxy
    proxy.stop()
    for s in servers:
        s.stop()


def restart_all(servers, proxy):
    for s in servers:
        s.kill()
        s.start()  # same port, empty: no data, no scripts
    c = proxy.connect()
    keys = [keys_on_shard(i, 1, prefix="probe")[0] for i in range(3)]
    wait_until(lambda: c.pipeline([("SET", k, "1") for k in keys]) == [b"OK"] * 3, 10,
               "the proxy reconnected to every restarted server")
    c.close()


def test_evalsha_works_after_servers_restart_and_keeps_pipeline_order(cluster):
    servers, proxy = cluster
    c = proxy.connect()
    sha = c.command("SCRIPT", "LOAD", SET_SCRIPT)
    restart_all(servers, proxy)
    for s in servers:
        direct = RespConnection(s.port)
        assert direct.command("SCRIPT", "EXISTS", sha) == [1]  # loaded again by the proxy
        direct.close()
    keys = [k for i in range(3) for k in keys_on_shard(i, 3, prefix="sc")]
    commands = []
    for k in keys:
        commands += [("SET", k, "before"), ("EVALSHA", sha, "1", k), ("GET", k)]
    replies = c.pipeline(commands)
    assert replies == [b"OK", b"OK", b"from-script"] * len(keys)
    c.send_raw(b"EVALSHA %s 1 %s\r\n" % (sha, keys[0].encode()))  # inline, too
    assert c.read() == b"OK"
    c.close()


def test_script_flush_through_the_proxy_forgets_them(cluster):
    servers, proxy = cluster
    c = proxy.connect()
    sha = c.command("SCRIPT", "LOAD", SET_SCRIPT)
    assert c.command("SCRIPT", "FLUSH") == b"OK"
    restart_all(servers, proxy)
    gone = c.command("EVALSHA", sha, "1", "k")
    assert isinstance(gone, RespError) and str(gone).startswith("NOSCRIPT"), gone
    c.close()
