"""Fences and the ConfigServer lease (docs/proxy.md, "Fences and the
ConfigServer lease"), with real redis-servers, proxies, etcd and
ConfigServers: a fenced shard's master gets nothing (its keys answer
-TRYAGAIN at once, a BLPOP blocked there ends), the other shards go on; a
proxy that no ConfigServer answers for its lease refuses writes with
-CLUSTERDOWN and goes on reading; and every long-poll reports the masters
the proxy cannot reach (`unreachable=ADDR~MS,...`)."""
import http.server
import json
import os
import signal
import threading
import time
import urllib.parse

from conftest import (ConfigServer, Etcd, Proxy, RedisServer, RespConnection, RespError, http as http_call,
                      info_field, keys_of_shard, keys_on_shard, topology_doc, wait_until)

PASSWORD = "fence-test-password"


def applied(proxy, epoch):
    proxy.signal(signal.SIGHUP)
    wait_until(lambda: metric(proxy, "redkube_proxy_applied_epoch") == epoch, 10, "epoch %d applied" % epoch)


def metric(proxy, name):
    status, text = http_call("GET", "http://127.0.0.1:%d/metrics" % proxy.admin_port)
    assert status == 200
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return None


def blocked_clients(server):
    c = RespConnection(server.port)
    try:
        return info_field(c, "blocked_clients")
    finally:
        c.close()


def test_a_fenced_shard_gets_nothing_and_the_others_go_on(workdir):
    servers = [RedisServer(workdir) for _ in range(3)]
    proxy = Proxy(workdir, servers)
    try:
        conn, blocked = proxy.connect(), proxy.connect()
        fenced_key, fenced_list = keys_on_shard(1, 2, prefix="f")
        other_key = keys_on_shard(0, 1, prefix="o")[0]
        assert conn.command("SET", fenced_key, "before") == b"OK"
        assert conn.command("SET", other_key, "v") == b"OK"
        # A BLPOP that blocks on shard-1's master, on the client's own connection.
        blocked.send_raw(RespConnection.encode("BLPOP", fenced_list, "0"))
        wait_until(lambda: blocked_clients(servers[1]) == "1", 10, "BLPOP blocked on shard-1")

        doc = topology_doc(servers, epoch=2)
        doc["shards"][1]["fenced"] = True
        proxy.write_topology(doc)
        started = time.monotonic()
        applied(proxy, 2)
        # Ended at once (with the epoch), not by a timeout: the socket's is 10 s.
        reply = blocked.read()
        ended_s = time.monotonic() - started
        assert isinstance(reply, RespError) and str(reply).startswith("TRYAGAIN"), reply
        assert "shard-1" in str(reply), reply
        assert ended_s < 2.0, ended_s
        print("BLPOP on the fenced master ended %.0f ms after the SIGHUP" % (ended_s * 1000))
        wait_until(lambda: blocked_clients(servers[1]) == "0", 5, "the BLPOP gone from the server")

        for command in (("GET", fenced_key), ("SET", fenced_key, "during"), ("BLPOP", fenced_list, "0")):
            reply = conn.command(*command)
            assert isinstance(reply, RespError), (command, reply)
            assert str(reply).startswith("TRYAGAIN backend " + servers[1].address), reply
            assert "shard shard-1 is failing over" in str(reply), reply
        assert conn.command("GET", other_key) == b"v"
        assert conn.command("SET", other_key, "w") == b"OK"
        direct = RespConnection(servers[1].port)
        assert direct.command("GET", fenced_key) == b"before"  # the SET was never sent
        assert metric(proxy, "redkube_proxy_fenced_shards") == 1
        assert metric(proxy, "redkube_proxy_fenced_shards") == 1
        assert metric(proxy, "redkube_proxy_ready") == 1  # fenced on purpose: still ready

        doc = topology_doc(servers, epoch=3)
        proxy.write_topology(doc)
        applied(proxy, 3)
        wait_until(lambda: conn.command("SET", fenced_key, "after") == b"OK", 5, "SET after the unfence")
        assert direct.command("GET", fenced_key) == b"after"
        assert conn.command("LPUSH", fenced_list, "x") == 1
        assert conn.command("BLPOP", fenced_list, "0") == [fenced_list.encode(), b"x"]
        assert metric(proxy, "redkube_proxy_fenced_shards") == 0
        direct.close()
    finally:
        proxy.stop()
        for s in servers:
            s.stop()


def authed(port):
    conn = RespConnection(port)
    assert conn.command("AUTH", PASSWORD) == b"OK"
    return conn


def test_writes_are_refused_once_no_configserver_answers_for_the_lease(workdir):
    etcd = Etcd(workdir)
    configservers, servers, proxy = [], [], None
    try:
        configservers = [ConfigServer(workdir, etcd, password=PASSWORD) for _ in range(2)]
        cs = configservers[0]
        assert cs.call("POST", "/v1/clusters", {"name": "lease", "shards": 2})[0] == 201
        for i in range(2):
            servers.append(RedisServer(workdir, password=PASSWORD))
            status, body = cs.call("PUT", "/v1/clusters/lease/shards/shard-%d" % i,
                                   {"nodes": [servers[-1].address]})
            assert status == 200, body
        topology = cs.call("GET", "/v1/clusters/lease/topology")[1]
        key = keys_of_shard(topology, "shard-0", 1, prefix="lease")[0]
        lease_ms = 5000
        proxy = Proxy(workdir, None, password=PASSWORD, configserver=",".join(c.url for c in configservers),
                      cluster="lease", extra_args=["--configserver-lease-ms", str(lease_ms)])
        conn = authed(proxy.port)
        wait_until(lambda: conn.command("SET", key, "1") == b"OK", 10, "SET through the proxy")
        assert info_field(conn, "writes_allowed") == "1"
        assert 0 <= int(info_field(conn, "configserver_last_answer_ms")) < 2000

        for c in configservers:
            os.kill(c.proc.pid, signal.SIGSTOP)
        stopped = time.monotonic()
        try:
            def refused():
                reply = conn.command("SET", key, "2")
                return reply if isinstance(reply, RespError) else None
            reply = wait_until(refused, lease_ms / 1000 + 1.0, "SET refused", step_s=0.05)
            refused_s = time.monotonic() - stopped
            print("SET refused %.0f ms after every ConfigServer stopped (lease %d ms)"
                  % (refused_s * 1000, lease_ms))
            assert str(reply).startswith("CLUSTERDOWN the proxy has heard from no ConfigServer for "), reply
            assert "writes are refused until one answers (reads go on)" in str(reply)
            # Not before the lease: the last poll that succeeded was sent
            # at most 1 s (its wait) before the stop.
            assert refused_s > lease_ms / 1000 - 1.2, refused_s
            assert conn.command("GET", key) == b"2"  # reads go on (the last SET before the refusals)
            assert isinstance(conn.command("DEL", key), RespError)
            assert isinstance(conn.command("EVAL", "return 1", "0"), RespError)
            assert conn.command("EVAL_RO", "return 1", "0") == 1
            # Inside MULTI a refused write aborts the transaction.
            assert conn.command("MULTI") == b"OK"
            assert isinstance(conn.command("INCR", key), RespError)
            assert conn.command("EXEC") == RespError("EXECABORT Transaction discarded because of previous errors.")
            # EXEC of writes queued before the lease ran out is refused, and ends the transaction.
            assert conn.command("MULTI") == b"OK"
            assert conn.command("GET", key) == b"QUEUED"
            reply = conn.command("EXEC")
            assert str(reply).startswith("CLUSTERDOWN"), reply
            assert conn.command("EXEC") == RespError("ERR EXEC without MULTI")
            assert info_field(conn, "writes_allowed") == "0"
            assert metric(proxy, "redkube_proxy_writes_allowed") == 0
            assert metric(proxy, "redkube_proxy_configserver_last_answer_ms") >= lease_ms
        finally:
            for c in configservers:
                os.kill(c.proc.pid, signal.SIGCONT)
        resumed = time.monotonic()
        wait_until(lambda: conn.command("SET", key, "3") == b"OK", 15, "SET once a ConfigServer answers")
        print("SET allowed again %.0f ms after the ConfigServers resumed" % ((time.monotonic() - resumed) * 1000))
        assert conn.command("GET", key) == b"3"
        assert info_field(conn, "writes_allowed") == "1"
        assert proxy.log_text().count("refusing writes until one does") == 1  # logged once
        conn.close()
    finally:
        if proxy:
            proxy.stop()
        for c in configservers:
            c.stop()
        for s in servers:
            s.stop()
        etcd.stop()


class StandInConfigServer:
    """Stands in for the ConfigServer's topology endpoint, to see the exact
    queries a proxy sends (the real ConfigServer keeps only their effect;
    that end of the report is tested in test_partition_failover.py, whose
    alert names the proxies that reach a master and whose failovers wait for
    every proxy's report): serves `doc`, holds each long-poll for its
    wait_ms and answers 204, recording every query."""

    def __init__(self, doc):
        self.doc = doc
        self.queries = []  # (time.monotonic(), parsed query) of each request
        self.lock = threading.Lock()
        stand_in = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                url = urllib.parse.urlsplit(self.path)
                query = urllib.parse.parse_qs(url.query, keep_blank_values=True)
                with stand_in.lock:
                    stand_in.queries.append((time.monotonic(), query))
                if "after" in query and int(query["after"][0]) >= stand_in.doc["epoch"]:
                    time.sleep(min(int(query.get("wait_ms", ["0"])[0]), 2000) / 1000)
                    self.send_response(204)
                    self.end_headers()
                    return
                body = json.dumps(stand_in.doc).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                try:
                    self.wfile.write(body)
                except OSError:
                    pass  # the proxy abandoned the poll

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def polls(self):
        """The long-polls' queries (those with wait_ms), in order."""
        with self.lock:
            return [(t, q) for t, q in self.queries if "wait_ms" in q]

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def test_every_long_poll_reports_the_masters_the_proxy_cannot_reach(workdir):
    servers = [RedisServer(workdir) for _ in range(3)]
    stand_in = StandInConfigServer(topology_doc(servers, cluster="witness"))
    proxy = Proxy(workdir, None, configserver=stand_in.url, cluster="witness")
    try:
        wait_until(lambda: len(stand_in.polls()) >= 2, 10, "two long-polls")
        polls = stand_in.polls()
        # The first fetch reports too (the lease starts with it): applied 0,
        # nothing unreachable yet (which vetoes a failover, never allows one).
        assert polls[0][1]["wait_ms"] == ["0"] and polls[0][1]["applied"] == ["0"], polls[0]
        for _, query in polls:
            assert query["wait_ms"] in (["0"], ["1000"]), query
            assert query["unreachable"] == [""], query  # present, empty: every master answers
            assert "proxy" in query and "applied" in query

        servers[1].kill()
        killed = time.monotonic()

        def reported():
            for t, query in stand_in.polls():
                if t >= killed and query["unreachable"][0]:
                    return t, query["unreachable"][0]
            return None
        at, report = wait_until(reported, 5, "a poll reporting the killed master")
        print("unreachable=%s reported %.0f ms after the kill" % (report, (at - killed) * 1000))
        address, ms = report.split("~")
        assert address == servers[1].address, report
        assert 0 <= int(ms) < 5000
        # The poll in flight was abandoned for it: sooner than a whole wait
        # (1 s) plus a check (250 ms) plus its PING (refused at once).
        assert at - killed < 1.2, at - killed
        # (INFO fails while a master is down: it asks every master too.)
        wait_until(lambda: metric(proxy, "redkube_proxy_unreachable_masters") == 1, 5, "unreachable_masters")
        # The milliseconds grow from poll to poll while it stays down.
        wait_until(lambda: int(stand_in.polls()[-1][1]["unreachable"][0].split("~")[1]) >= 1500, 5,
                   "the report's age growing")

        servers[1].start()
        restarted = time.monotonic()
        wait_until(lambda: any(t >= restarted and q["unreachable"] == [""] for t, q in stand_in.polls()), 5,
                   "a poll with nothing unreachable again")
        wait_until(lambda: metric(proxy, "redkube_proxy_unreachable_masters") == 0, 5, "unreachable_masters 0")
        # It follows a ConfigServer (the stand-in), which answers: writes go on.
        assert metric(proxy, "redkube_proxy_writes_allowed") == 1
    finally:
        proxy.stop()
        stand_in.stop()
        for s in servers:
            s.stop()
