"""CLIENT subcommands and MONITOR through the proxy, compared with a plain
redis-server (`reference`) where they have a single-server meaning.

The proxy runs --threads 2 (conftest.Proxy); SO_REUSEPORT spreads the
connections over both workers by their source ports, so with 16 clients
the chance that all land on one worker is 2^-15: the CLIENT LIST and KILL
tests exercise the gathering across threads."""
import os
import select
import socket
import subprocess
import time

import pytest
import redis

from conftest import Proxy, RespConnection, RespError, keys_on_shard, shard_of, wait_until

CLIENTS = 16


@pytest.fixture(scope="module")
def own_proxy(workdir, shards):
    """A proxy of this module's own, so that client counts are this test's."""
    p = Proxy(workdir, shards)
    yield p
    p.stop()


def fields(line):
    """CLIENT LIST line -> [(name, value)] in order."""
    return [tuple(part.split("=", 1)) for part in line.strip().split(" ")]


def list_lines(conn, *args):
    reply = conn.command("CLIENT", "LIST", *args)
    assert not isinstance(reply, RespError), reply
    return [dict(fields(line)) for line in reply.decode().splitlines() if line]


def connect_many(proxy, count, prefix):
    conns = []
    for i in range(count):
        c = proxy.connect()
        assert c.command("CLIENT", "SETNAME", "%s%d" % (prefix, i)) == b"OK"
        conns.append(c)
    return conns


def close_all(conns):
    for c in conns:
        c.close()


def silent_for(conn, seconds):
    """Whether nothing arrives on `conn` for `seconds` (its reader holds no
    unread bytes: every earlier reply was read in full)."""
    readable, _, _ = select.select([conn.sock], [], [], seconds)
    return not readable


def closed_soon(conn, deadline_s=5.0):
    """Whether the peer closes `conn` within the deadline."""
    conn.sock.settimeout(deadline_s)
    try:
        return conn.file.read(1) == b""
    except (ConnectionResetError, socket.timeout):
        return False


# ------------------------------------------------------------ CLIENT LIST / INFO

def test_client_list_has_redis_servers_fields_in_its_order(own_proxy, reference):
    pc = own_proxy.connect()
    rc = RespConnection(reference.port)
    try:
        mine = fields(pc.command("CLIENT", "LIST").decode().splitlines()[0])
        theirs = fields(rc.command("CLIENT", "LIST").decode().splitlines()[0])
        assert [k for k, _ in mine] == [k for k, _ in theirs]
        info_mine = fields(pc.command("CLIENT", "INFO").decode())
        info_theirs = fields(rc.command("CLIENT", "INFO").decode())
        assert [k for k, _ in info_mine] == [k for k, _ in info_theirs]
        # The values of the asker's own line are true ones.
        me = dict(info_mine)
        assert int(me["id"]) == pc.command("CLIENT", "ID")
        assert me["addr"] == "%s:%d" % pc.sock.getsockname()
        assert me["laddr"] == "127.0.0.1:%d" % own_proxy.port
        assert me["flags"] == "N" and me["db"] == "0" and me["multi"] == "-1"
        assert me["cmd"] == "client|info" and me["user"] == "default" and me["resp"] == "2"
        assert int(me["age"]) >= 0 and int(me["idle"]) >= 0 and int(me["fd"]) > 0
        mine_by_id = {l["id"]: l for l in list_lines(pc)}
        assert mine_by_id[me["id"]]["cmd"] == "client|list"
    finally:
        pc.close()
        rc.close()


def test_client_list_shows_every_client_of_every_thread(own_proxy):
    conns = connect_many(own_proxy, CLIENTS, "spread")
    asker = own_proxy.connect()
    try:
        conns[3].command("SET", "x", "1")
        conns[4].command("MULTI")
        conns[4].command("GET", "x")
        conns[5].command("SUBSCRIBE", "news")
        lines = list_lines(asker)
        by_name = {l["name"]: l for l in lines}
        for i in range(CLIENTS):
            assert "spread%d" % i in by_name
        ids = [int(l["id"]) for l in lines]
        assert ids == sorted(ids), "lines come in connection order"
        assert by_name["spread3"]["cmd"] == "set"
        assert by_name["spread4"]["flags"] == "x" and by_name["spread4"]["multi"] == "1"
        assert by_name["spread5"]["flags"] == "P" and by_name["spread5"]["sub"] == "1"
        # TYPE pubsub: the subscriber only; TYPE normal: everyone else.
        assert [l["name"] for l in list_lines(asker, "TYPE", "pubsub")] == ["spread5"]
        normal = {l["name"] for l in list_lines(asker, "TYPE", "normal")}
        assert "spread5" not in normal and "spread6" in normal
        assert list_lines(asker, "TYPE", "master") == []
        # ID: those asked for, in the order asked, unknown ids left out.
        wanted = [by_name["spread%d" % i]["id"] for i in (9, 1, 14)]
        got = list_lines(asker, "ID", wanted[0], "999999", wanted[1], wanted[2])
        assert [l["id"] for l in got] == wanted
    finally:
        close_all(conns)
        asker.close()


def test_client_list_replies_keep_their_place_in_a_pipeline(own_proxy):
    conn = own_proxy.connect()
    try:
        replies = conn.pipeline([("SET", "pipe", "a"), ("CLIENT", "LIST"), ("GET", "pipe"),
                                 ("CLIENT", "LIST", "ID", "1"), ("PING",)])
        assert replies[0] == b"OK"
        assert b"cmd=" in replies[1]
        assert replies[2] == b"a"
        assert replies[3] == b"" or replies[3].startswith(b"id=1 ")
        assert replies[4] == b"PONG"
    finally:
        conn.close()


def test_a_client_that_leaves_before_its_client_list_reply_breaks_nothing(own_proxy):
    for _ in range(50):
        s = socket.create_connection(("127.0.0.1", own_proxy.port))
        s.sendall(RespConnection.encode("CLIENT", "LIST") * 20)
        s.close()
    conn = own_proxy.connect()
    try:
        assert conn.command("PING") == b"PONG"
        assert list_lines(conn)
    finally:
        conn.close()


ERRORS_COMPARED = [
    ("CLIENT", "LIST", "TYPE", "foo"),
    ("CLIENT", "LIST", "ID", "abc"),
    ("CLIENT", "LIST", "foo"),
    ("CLIENT", "KILL", "1.2.3.4:5"),
    ("CLIENT", "KILL", "foo", "bar"),
    ("CLIENT", "KILL", "ID", "abc"),
    ("CLIENT", "KILL", "ID", "0"),
    ("CLIENT", "KILL", "ID", "999999"),
    ("CLIENT", "KILL", "ADDR", "1.2.3.4:5"),
    ("CLIENT", "KILL", "TYPE", "foo"),
    ("CLIENT", "KILL", "TYPE", "master"),
    ("CLIENT", "KILL", "USER", "nobody"),
    ("CLIENT", "KILL", "SKIPME", "maybe"),
    ("CLIENT", "KILL", "ID", "999999", "SKIPME"),
    ("CLIENT", "REPLY", "foo"),
    ("CLIENT", "PAUSE", "abc"),
    ("CLIENT", "PAUSE", "-1"),
    ("CLIENT", "PAUSE", "10", "foo"),
    ("CLIENT", "NO-EVICT", "foo"),
    ("CLIENT", "NO-EVICT", "on"),
    ("CLIENT", "NO-EVICT", "off"),
    ("CLIENT", "TRACKINGINFO"),
    ("CLIENT", "GETREDIR"),
    ("CLIENT", "UNBLOCK", "1234"),
    ("CLIENT", "UNBLOCK", "1234", "foo"),
    ("CLIENT", "UNBLOCK", "abc"),
]


@pytest.mark.parametrize("command", ERRORS_COMPARED, ids=lambda c: " ".join(c[1:]))
def test_client_replies_equal_redis_servers(own_proxy, reference, command):
    pc = own_proxy.connect()
    rc = RespConnection(reference.port)
    try:
        assert pc.command(*command) == rc.command(*command)
    finally:
        pc.close()
        rc.close()


def test_client_tracking_and_caching_are_refused_with_the_reason(own_proxy):
    conn = own_proxy.connect()
    try:
        for cmd in (("CLIENT", "TRACKING", "on"), ("CLIENT", "CACHING", "yes")):
            reply = conn.command(*cmd)
            assert isinstance(reply, RespError) and "client-side caching" in str(reply)
        assert conn.command("CLIENT", "NO-TOUCH", "on") == b"OK"
        assert conn.command("CLIENT", "NO-EVICT", "on") == b"OK"
        assert dict(fields(conn.command("CLIENT", "INFO").decode()))["flags"] == "eT"
        help_lines = conn.command("CLIENT", "HELP")
        assert any(b"PAUSE" in l for l in help_lines)
    finally:
        conn.close()


# ------------------------------------------------------------ CLIENT KILL

def test_client_kill_by_id_and_addr_reaches_every_thread(own_proxy):
    conns = connect_many(own_proxy, CLIENTS, "victim")
    asker = own_proxy.connect()
    try:
        by_name = {l["name"]: l for l in list_lines(asker)}
        for i, conn in enumerate(conns):
            line = by_name["victim%d" % i]
            if i % 2 == 0:
                assert asker.command("CLIENT", "KILL", "ID", line["id"]) == 1
            else:
                assert asker.command("CLIENT", "KILL", "ADDR", line["addr"]) == 1
            assert closed_soon(conn), "victim%d still connected" % i
        names = {l["name"] for l in list_lines(asker)}
        assert not any(n.startswith("victim") for n in names)
        # Old form: +OK, or the error when no client has that address.
        extra = own_proxy.connect()
        addr = "%s:%d" % extra.sock.getsockname()
        assert asker.command("CLIENT", "KILL", addr) == b"OK"
        assert closed_soon(extra)
        assert asker.command("CLIENT", "KILL", addr) == RespError("ERR No such client")
        assert asker.command("PING") == b"PONG"
    finally:
        close_all(conns)
        asker.close()


def unblock_sequence(port):
    """CLIENT UNBLOCK against `port`: of a BLPOP (TIMEOUT, then ERROR), of
    an XREAD BLOCK, of a client not blocked, of an unknown id; then what the
    lists hold. The replies, in order."""
    waiter, asker = RespConnection(port), RespConnection(port)
    try:
        assert waiter.command("CLIENT", "SETNAME", "waiter") == b"OK"
        waiter_id = waiter.command("CLIENT", "ID")
        out = []
        for mode, blocking in (((), ("BLPOP", "unblock-q", "0")), (("ERROR",), ("BLPOP", "unblock-q", "0")),
                               (("TIMEOUT",), ("XREAD", "BLOCK", "0", "STREAMS", "unblock-s", "$"))):
            waiter.sock.sendall(RespConnection.encode(*blocking))
            wait_until(lambda: any(l.get("name") == "waiter" and "b" in l.get("flags", "")
                                   for l in list_lines(asker)), 5, "the waiter to block")
            out.append(asker.command("CLIENT", "UNBLOCK", str(waiter_id), *mode))
            out.append(waiter.read())
        out.append(asker.command("CLIENT", "UNBLOCK", str(waiter_id)))  # not blocked
        out.append(asker.command("CLIENT", "UNBLOCK", "987654321"))
        # The waiter still works, and the unblocked pops took nothing.
        out.append(asker.command("RPUSH", "unblock-q", "job"))
        out.append(waiter.command("BLPOP", "unblock-q", "1"))
        return out
    finally:
        waiter.close()
        asker.close()


def test_client_unblock_answers_what_redis_server_answers(own_proxy, reference):
    via_proxy = unblock_sequence(own_proxy.port)
    assert via_proxy == unblock_sequence(reference.port)
    assert via_proxy[0] == 1 and via_proxy[1] is None
    assert via_proxy[3] == RespError("UNBLOCKED client unblocked via CLIENT UNBLOCK")
    assert via_proxy[6:8] == [0, 0]


def test_an_unblock_never_reaches_the_clients_next_blocking_request(own_proxy):
    waiter, asker = own_proxy.connect(), own_proxy.connect()
    try:
        waiter_id = waiter.command("CLIENT", "ID")
        for _ in range(5):
            waiter.sock.sendall(RespConnection.encode("BLPOP", "unblock-next", "0"))
            wait_until(lambda: any(l["id"] == str(waiter_id) and "b" in l["flags"] for l in list_lines(asker)),
                       5, "the waiter to block")
            assert asker.command("CLIENT", "UNBLOCK", str(waiter_id)) == 1
            assert waiter.read() is None
            waiter.sock.sendall(RespConnection.encode("BLPOP", "unblock-next", "0"))  # the next, at once
            assert silent_for(waiter, 0.3), "the next BLPOP was unblocked too"
            assert asker.command("RPUSH", "unblock-next", "job") == 1
            assert waiter.read() == [b"unblock-next", b"job"]
    finally:
        waiter.close()
        asker.close()


def test_client_kill_type_and_skipme(own_proxy):
    conns = connect_many(own_proxy, CLIENTS, "typed")
    subscriber = own_proxy.connect()
    asker = own_proxy.connect()
    try:
        subscriber.command("SUBSCRIBE", "kill-news")
        assert asker.command("CLIENT", "KILL", "TYPE", "pubsub") == 1
        assert closed_soon(subscriber)
        # Every normal client but the asker (SKIPME yes is the default).
        killed = asker.command("CLIENT", "KILL", "TYPE", "normal")
        assert killed >= CLIENTS
        for c in conns:
            assert closed_soon(c)
        assert asker.command("PING") == b"PONG"
        assert [l["id"] for l in list_lines(asker, "TYPE", "normal")] == [str(asker.command("CLIENT", "ID"))]
        # SKIPME no: the asker too, after its reply.
        # SKIPME no: the asker too, after its reply; what it pipelined after
        # is not run (as on redis-server).
        my_id = asker.command("CLIENT", "ID")
        asker.sock.sendall(RespConnection.encode("CLIENT", "KILL", "ID", my_id, "SKIPME", "no") +
                           RespConnection.encode("PING"))
        assert asker.read() == 1
        assert closed_soon(asker)
    finally:
        close_all(conns)
        subscriber.close()
        asker.close()


def test_client_kill_laddr_user_and_maxage(own_proxy):
    conn = own_proxy.connect()
    asker = own_proxy.connect()
    try:
        assert asker.command("CLIENT", "KILL", "LADDR", "127.0.0.1:1", "SKIPME", "yes") == 0
        assert asker.command("CLIENT", "KILL", "MAXAGE", "100000") == 0
        my_id = conn.command("CLIENT", "ID")
        assert asker.command("CLIENT", "KILL", "USER", "default", "ID", my_id,
                             "LADDR", "127.0.0.1:%d" % own_proxy.port) == 1
        assert closed_soon(conn)
    finally:
        conn.close()
        asker.close()


# ------------------------------------------------------------ CLIENT REPLY

REPLY_SEQUENCES = [
    [("CLIENT", "REPLY", "OFF"), ("SET", "r1", "a"), ("GET", "r1"), ("NOSUCHCOMMAND",), ("GET",),
     ("MGET", "r1", "r2", "r3", "r4"), ("CLIENT", "REPLY", "ON"), ("GET", "r1")],
    [("CLIENT", "REPLY", "SKIP"), ("SET", "r1", "b"), ("GET", "r1"), ("CLIENT", "REPLY", "SKIP"),
     ("CLIENT", "REPLY", "SKIP"), ("GET", "r1"), ("GET", "r1"), ("GET", "r1")],
    [("CLIENT", "REPLY", "SKIP"), ("CLIENT", "REPLY", "ON"), ("GET", "r1")],
    [("CLIENT", "REPLY", "OFF"), ("CLIENT", "REPLY", "SKIP"), ("GET", "r1"), ("CLIENT", "REPLY", "ON"),
     ("GET", "r1")],
    [("CLIENT", "REPLY", "SKIP"), ("MULTI",), ("SET", "r1", "c"), ("EXEC",), ("GET", "r1")],
    [("CLIENT", "REPLY", "OFF"), ("MULTI",), ("SET", "r1", "d"), ("EXEC",), ("CLIENT", "REPLY", "ON"),
     ("GET", "r1")],
    [("CLIENT", "REPLY", "SKIP"), ("CLIENT", "LIST"), ("DEL", "r1", "r2", "r3"), ("PING",)],
    [("CLIENT", "REPLY", "SKIP"), ("BLPOP", "nolist", "0.05"), ("PING",)],
]


@pytest.mark.parametrize("sequence", REPLY_SEQUENCES, ids=lambda s: str(len(s)))
def test_client_reply_pipelines_answer_what_redis_server_answers(own_proxy, reference, sequence):
    marker = ("ECHO", "end-of-sequence")
    outputs = []
    for port in (own_proxy.port, reference.port):
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        s.sendall(b"".join(RespConnection.encode(*c) for c in [("DEL", "r1")] + sequence + [marker]))
        data = b""
        expected_end = b"$15\r\nend-of-sequence\r\n"
        deadline = time.monotonic() + 10
        while not data.endswith(expected_end) and time.monotonic() < deadline:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        s.close()
        outputs.append(data)
    assert outputs[0] == outputs[1]


def test_client_reply_off_with_redis_py(own_proxy):
    r = redis.Redis(host="127.0.0.1", port=own_proxy.port, single_connection_client=True)
    conn = r.connection
    conn.send_command("CLIENT", "REPLY", "OFF")
    for i in range(50):
        conn.send_command("SET", "quiet%d" % i, i)
    conn.send_command("CLIENT", "REPLY", "ON")
    assert conn.read_response() == b"OK"
    assert r.get("quiet49") == b"49"
    r.close()


# ------------------------------------------------------------ CLIENT PAUSE

def test_client_pause_write_holds_writes_until_unpause_and_lets_reads_pass(own_proxy):
    admin = own_proxy.connect()
    writers = connect_many(own_proxy, 8, "writer")
    reader = own_proxy.connect()
    try:
        keys = keys_on_shard(0, 4, "pause") + keys_on_shard(2, 4, "pause")
        assert admin.command("CLIENT", "PAUSE", "20000", "WRITE") == b"OK"
        for w, k in zip(writers, keys):
            w.sock.sendall(RespConnection.encode("SET", k, "v") + RespConnection.encode("GET", k))
        # Reads pass while the writes wait (their GETs behind them too).
        for k in keys:
            assert reader.command("GET", k) is None
        assert reader.command("PING") == b"PONG"
        assert silent_for(writers[0], 0.3)
        assert admin.command("CLIENT", "UNPAUSE") == b"OK"
        for w in writers:
            assert w.read() == b"OK"
            assert w.read() == b"v"
        for k in keys:
            assert reader.command("GET", k) == b"v"
    finally:
        admin.command("CLIENT", "UNPAUSE")
        close_all(writers)
        admin.close()
        reader.close()


def test_client_pause_ends_at_its_timeout(own_proxy):
    admin = own_proxy.connect()
    writer = own_proxy.connect()
    try:
        started = time.monotonic()
        assert admin.command("CLIENT", "PAUSE", "400", "WRITE") == b"OK"
        assert writer.command("SET", "timed", "1") == b"OK"
        assert time.monotonic() - started >= 0.35
        # EVAL counts as a write, a read-only MULTI's EXEC too (kRouteWrites).
        assert admin.command("CLIENT", "PAUSE", "300", "WRITE") == b"OK"
        started = time.monotonic()
        assert writer.command("EVAL", "return 1", "0") == 1
        assert time.monotonic() - started >= 0.25
    finally:
        admin.close()
        writer.close()


def test_client_pause_all_holds_reads_and_unpause_too(own_proxy):
    admin = own_proxy.connect()
    reader = own_proxy.connect()
    try:
        started = time.monotonic()
        assert admin.command("CLIENT", "PAUSE", "700", "ALL") == b"OK"
        reader.sock.sendall(RespConnection.encode("PING"))
        # As on redis-server, ALL holds everything, CLIENT UNPAUSE included;
        # QUIT passes.
        admin.sock.sendall(RespConnection.encode("CLIENT", "UNPAUSE"))
        quitter = own_proxy.connect()
        assert quitter.command("QUIT") == b"OK"
        quitter.close()
        assert silent_for(reader, 0.3)
        assert reader.read() == b"PONG"
        assert admin.read() == b"OK"
        assert time.monotonic() - started >= 0.65
    finally:
        admin.close()
        reader.close()


# ------------------------------------------------------------ MONITOR

def is_monitor_line(reply):
    return isinstance(reply, bytes) and reply[:1].isdigit() and b" [0 " in reply


def next_reply(conn):
    """The next reply that is not a monitor line."""
    while True:
        reply = conn.read()
        if not is_monitor_line(reply):
            return reply


def test_redis_cli_monitor_sees_commands_on_every_shard(own_proxy):
    monitor = subprocess.Popen(["redis-cli", "-p", str(own_proxy.port), "monitor"],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    writer = own_proxy.connect()
    try:
        fd = monitor.stdout.fileno()
        output = b""
        deadline = time.monotonic() + 10
        while b"\n" not in output and time.monotonic() < deadline:
            if select.select([fd], [], [], 0.5)[0]:
                output += os.read(fd, 65536)
        assert output.split(b"\n")[0].strip() == b"OK"
        first, last = keys_on_shard(0, 1, "mon")[0], keys_on_shard(2, 1, "mon")[0]
        assert writer.command("SET", first, "a") == b"OK"
        assert writer.command("SET", last, "b") == b"OK"
        wanted = {b'"set" "%s" "a"' % first.encode(), b'"set" "%s" "b"' % last.encode()}
        seen = set()
        while seen != wanted and time.monotonic() < deadline:
            if select.select([fd], [], [], 0.5)[0]:
                chunk = os.read(fd, 65536)
                assert chunk, "redis-cli monitor ended"
                output += chunk
            for line in output.split(b"\n"):
                for w in wanted:
                    if line.rstrip().lower().endswith(w):
                        # The server's view: the client is the proxy's connection.
                        assert b"[0 127.0.0.1:" in line
                        seen.add(w)
        assert seen == wanted
    finally:
        monitor.kill()
        monitor.wait(timeout=10)
        writer.close()


def test_a_monitoring_client_may_only_ping_quit_and_reset(own_proxy, reference):
    for port in (own_proxy.port, reference.port):
        conn = RespConnection(port)
        try:
            assert conn.command("MONITOR") == b"OK"
            conn.sock.sendall(RespConnection.encode("GET", "x"))
            assert next_reply(conn) == RespError("ERR Replica can't interact with the keyspace")
            conn.sock.sendall(RespConnection.encode("SET", "x", "1"))
            assert next_reply(conn) == RespError("ERR Replica can't interact with the keyspace")
            conn.sock.sendall(RespConnection.encode("RESET"))
            assert next_reply(conn) == b"RESET"
            assert conn.command("GET", "monitor-ended") is None
        finally:
            conn.close()
    # The proxy is whole after monitors came and went.
    conn = own_proxy.connect()
    assert conn.command("PING") == b"PONG"
    conn.close()


def test_a_monitoring_client_keeps_its_rules_after_client_reply_on_and_cannot_subscribe(own_proxy):
    conn = own_proxy.connect()
    try:
        assert conn.command("MONITOR") == b"OK"
        # CLIENT REPLY ON ends OFF and SKIP, never MONITOR.
        conn.sock.sendall(RespConnection.encode("CLIENT", "REPLY", "ON"))
        assert next_reply(conn) == b"OK"
        conn.sock.sendall(RespConnection.encode("GET", "x"))
        assert next_reply(conn) == RespError("ERR Replica can't interact with the keyspace")
        # What would take one of its own server connections, which carry the
        # MONITOR streams, is refused (not read a monitor line as its reply).
        for cmd in (("SUBSCRIBE", "ch"), ("WATCH", "x"), ("MULTI",), ("WAIT", "0", "0")):
            conn.sock.sendall(RespConnection.encode(*cmd))
            reply = next_reply(conn)
            assert isinstance(reply, RespError) and "MONITOR" in str(reply), (cmd, reply)
        conn.sock.sendall(RespConnection.encode("RESET"))
        assert next_reply(conn) == b"RESET"
        assert conn.command("SUBSCRIBE", "ch") == [b"subscribe", b"ch", 1]
    finally:
        conn.close()


def test_client_text_quoted_in_errors_cannot_inject_replies(own_proxy):
    conn = own_proxy.connect()
    try:
        for cmd in (("CLIENT", "KILL", "TYPE", "x\r\n+OK"), ("CLIENT", "LIST", "TYPE", "x\r\n:1"),
                    ("CLIENT", "KILL", "USER", "u\r\n+OK"), ("CONFIG", "SET", "a\r\n:1", "v"),
                    ("CLUSTER", "REPLICAS", "n\r\n+OK"), ("HELLO", "2", "x\r\n+OK")):
            reply = conn.command(*cmd)
            assert isinstance(reply, RespError) and "\n" not in str(reply), (cmd, reply)
            # One reply only: the connection is still in step.
            assert conn.command("ECHO", "in-step") == b"in-step", cmd
    finally:
        conn.close()
