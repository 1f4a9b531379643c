"""A password file: clients must AUTH; the proxy authenticates to backends."""
import pytest
import redis

from conftest import Proxy, RedisServer, RespConnection, RespError

PASSWORD = "s3cret-pass"


@pytest.fixture(scope="module")
def secured(workdir):
    servers = [RedisServer(workdir, password=PASSWORD) for _ in range(3)]
    proxy = Proxy(workdir, servers, password=PASSWORD)
    yield proxy
    proxy.stop()
    for s in servers:
        s.stop()


def test_commands_before_auth_get_noauth(secured):
    c = secured.connect()
    assert c.command("GET", "a") == RespError("NOAUTH Authentication required.")
    assert c.command("PING") == RespError("NOAUTH Authentication required.")
    c.close()


def test_wrong_password_is_refused(secured):
    c = secured.connect()
    assert c.command("AUTH", "wrong") == RespError(
        "WRONGPASS invalid username-password pair or user is disabled.")
    assert c.command("AUTH", "default", "wrong") == RespError(
        "WRONGPASS invalid username-password pair or user is disabled.")
    assert c.command("GET", "a") == RespError("NOAUTH Authentication required.")
    c.close()


def test_authenticated_client_reaches_every_shard(secured):
    c = secured.connect()
    assert c.command("AUTH", PASSWORD) == b"OK"
    keys = ["auth-key-%d" % i for i in range(60)]
    assert c.command("MSET", *[x for k in keys for x in (k, k)]) == b"OK"
    assert c.command("MGET", *keys) == [k.encode() for k in keys]
    assert c.command("DEL", *keys) == len(keys)
    c.close()


def test_redis_py_with_password(secured):
    client = redis.Redis(host="127.0.0.1", port=secured.port, password=PASSWORD)
    client.set("py-key", "value")
    assert client.get("py-key") == b"value"
    # redis-py raises what it raises against a plain redis-server.
    with pytest.raises(redis.ResponseError, match="^WRONGPASS"):
        redis.Redis(host="127.0.0.1", port=secured.port, password="nope").ping()
