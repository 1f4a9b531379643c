"""`redkube scale` end to end: a cluster run by `redkube up --detach` grows
and shrinks online (the scale workflow through the supervisor's control
socket and the ConfigServer's migration engine), keeps every key, and an
interrupted scale is finished by running it again."""
import json
import os
import signal
import subprocess
import time

from conftest import http, wait_until
from test_redkube_up import (REDKUBE_BIN, LocalCluster, alive, clusters, free_base_port,  # noqa: F401
                             missing_keys, write_keys)

MAX_SHARDS = 5


def scalable(clusters, shards=2, **kwargs):
    """A cluster whose block of ports has room for MAX_SHARDS shards."""
    c = clusters(shards=shards, **kwargs)
    c.port = free_base_port(MAX_SHARDS)
    return c


def token(c):
    with open(os.path.join(c.cluster_dir, "token")) as f:
        return f.read().strip()


def topology(c):
    status, doc = http("GET", "http://127.0.0.1:%d/v1/clusters/%s/topology" % (c.port + 20, c.name),
                       token=token(c))
    assert status == 200, doc
    return doc


def assert_every_slot_owned_once(c, shards):
    doc = topology(c)
    owners = [0] * 16384
    for shard in doc["shards"]:
        for first, last in shard["slots"]:
            for slot in range(first, last + 1):
                owners[slot] += 1
    assert owners == [1] * 16384, "slots owned other than once"
    assert sorted(s["id"] for s in doc["shards"]) == ["shard-%d" % i for i in range(shards)]
    assert not doc.get("migrations"), doc.get("migrations")


def saved_shards(c):
    with open(os.path.join(c.cluster_dir, "cluster.json")) as f:
        return json.load(f)["shards"]


def migrations(c):
    status, doc = http("GET", "http://127.0.0.1:%d/v1/clusters/%s/migrations" % (c.port + 20, c.name),
                       token=token(c))
    assert status == 200, doc
    return doc["migrations"]


def scale(c, shards, *extra, timeout=300):
    done = c.cli("scale", "--shards", str(shards), *extra, timeout=timeout)
    assert done.returncode == 0, done.stdout + done.stderr + c.diagnostics()
    return done


def test_scale_out_and_in_keeps_every_key_and_removes_drained_shards(clusters):
    c = scalable(clusters, shards=2)
    c.up()
    client = c.client()
    write_keys(client, 3000, "k")

    out = scale(c, 4)
    assert "scaled from 2 to 4 shards" in out.stdout, out.stdout
    assert "added:      shard-2, shard-3" in out.stdout, out.stdout
    assert saved_shards(c) == 4
    assert_every_slot_owned_once(c, 4)
    assert missing_keys(client, 3000, "k") == []
    shards = c.status()["shards"]
    assert [s["id"] for s in shards] == ["shard-0", "shard-1", "shard-2", "shard-3"]
    assert all(sum(m.get("keys") or 0 for m in s["members"]) > 0 for s in shards), shards

    again = scale(c, 4)  # at the current size: nothing changes
    assert "nothing to do" in again.stdout, again.stdout

    removed_pids = [c.pid("shard-%d-%d" % (s, m)) for s in (2, 3) for m in (0, 1)]
    out = scale(c, 2)
    assert "removed:    shard-3, shard-2" in out.stdout, out.stdout
    assert saved_shards(c) == 2
    assert_every_slot_owned_once(c, 2)
    assert missing_keys(client, 3000, "k") == []
    c.wait_until(lambda: not any(alive(p) for p in removed_pids), 30, "removed shards' servers gone")
    for s in (2, 3):
        for m in (0, 1):
            assert not os.path.exists(os.path.join(c.cluster_dir, "shard-%d-%d" % (s, m)))
    assert [s["id"] for s in c.status()["shards"]] == ["shard-0", "shard-1"]

    refused = c.cli("up", "--detach", "--shards", "5")
    assert refused.returncode != 0
    assert "redkube scale" in refused.stderr and "--shards 5" in refused.stderr, refused.stderr

    # The scaled cluster comes back as it now is.
    c.down()
    c.up(shape=False)
    assert missing_keys(c.client(), 3000, "k") == []
    assert_every_slot_owned_once(c, 2)


def test_scale_refuses_a_stopped_cluster_and_a_size_that_does_not_fit(clusters):
    c = scalable(clusters, shards=1, proxies=1)
    c.up()
    too_many = c.cli("scale", "--shards", "100")
    assert too_many.returncode != 0 and "--shards must be between 1 and" in too_many.stderr, too_many.stderr
    c.down()
    stopped = c.cli("scale", "--shards", "2")
    assert stopped.returncode != 0
    assert "is not running" in stopped.stderr and "redkube up" in stopped.stderr, stopped.stderr


def test_ctrl_c_leaves_the_migration_running_and_a_second_scale_finishes_it(clusters):
    c = scalable(clusters, shards=2)
    c.up()
    client = c.client()
    write_keys(client, 30000, "k")
    # Throttled so the move is still running when Ctrl-C comes.
    proc = subprocess.Popen([REDKUBE_BIN, "scale", "--name", c.name, "--dir", c.dir, "--shards", "3",
                             "--throttle-keys", "500"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        c.wait_until(lambda: any(m["state"] == "running" and m["keys_moved"] > 0 for m in migrations(c)), 120,
                     "a migration moving keys")
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode != 0
    assert "keep running" in out and "redkube migrations cancel" in out and "--shards 3" in out, out + err
    active = [m for m in migrations(c) if m["state"] in ("queued", "running")]
    assert active, migrations(c)
    status = c.status()
    assert status["migrations"], status
    assert saved_shards(c) == 3

    # Lift the throttle so the finish is quick, through the migration API.
    for m in active:
        code, body = http("POST", "http://127.0.0.1:%d/v1/clusters/%s/migrations/%s/throttle"
                          % (c.port + 20, c.name, m["id"]), {"keys_per_s": 0, "bytes_per_s": 0}, token=token(c))
        assert code // 100 == 2, body
    out = scale(c, 3)
    assert "migration(s) already in progress" in out.stdout, out.stdout
    assert_every_slot_owned_once(c, 3)
    assert missing_keys(client, 30000, "k") == []
    assert not c.status()["migrations"]


def control(c, method, path, body=None):
    """One request to the supervisor's control socket (run/control.sock)."""
    import http.client
    import socket

    class UnixConnection(http.client.HTTPConnection):
        def connect(self):
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.settimeout(60)
            self.sock.connect(os.path.join(c.cluster_dir, "run", "control.sock"))

    conn = UnixConnection("localhost")
    try:
        conn.request(method, path, body=None if body is None else json.dumps(body))
        resp = conn.getresponse()
        return resp.status, json.loads(resp.read() or b"null")
    finally:
        conn.close()


def test_up_after_a_scale_interrupted_between_starting_servers_and_adding_the_shard(clusters):
    """The state a Ctrl-C (or a dead supervisor) can leave: shard-2's servers
    started (cluster.json says 3) but the shard not yet in the ConfigServer's
    record. `up` brings all three groups back; `scale` finishes the job."""
    c = scalable(clusters, shards=2, proxies=1)
    c.up()
    write_keys(c.client(), 2000, "k")
    code, body = control(c, "PUT", "/v1/groups/shard-2", {"size": 2})
    assert code == 200, body
    assert saved_shards(c) == 3
    code, body = control(c, "GET", "/v1/groups")
    assert code == 200 and body["groups"] == ["shard-0", "shard-1", "shard-2"], body
    code, body = control(c, "PUT", "/v1/groups/shard-4", {"size": 2})
    assert code == 500 and "shard-3 comes first" in body["error"], body

    c.down()
    back = c.up(shape=False)
    assert "shard-2 is not in the cluster record" in back.stdout, back.stdout
    assert c.member("shard-2-0")["health"] == "unregistered"
    assert_every_slot_owned_once(c, 2)

    out = scale(c, 3)
    assert "added:      shard-2" in out.stdout, out.stdout
    assert_every_slot_owned_once(c, 3)
    assert missing_keys(c.client(), 2000, "k") == []


def test_scale_in_interrupted_after_deleting_the_shard_removes_its_servers_next_time(clusters):
    """The other state a scale in can leave: shard-2 drained and deleted from
    the record, its servers still running (cluster.json still says 3)."""
    c = scalable(clusters, shards=2, proxies=1)
    c.up()
    write_keys(c.client(), 2000, "k")
    scale(c, 3)
    base = "http://127.0.0.1:%d/v1/clusters/%s" % (c.port + 20, c.name)
    code, body = http("POST", base + "/rebalance", {"shards": ["shard-0", "shard-1"]}, token=token(c))
    assert code == 200, body
    ids = [m["id"] for m in body["migrations"]]
    c.wait_until(lambda: all(m["state"] == "done" for m in migrations(c) if m["id"] in ids), 120, "drained")
    code, body = http("DELETE", base + "/shards/shard-2", token=token(c))
    assert code == 200, body

    c.down()
    c.up(shape=False)  # record: 2 shards, groups: 3
    assert saved_shards(c) == 3
    pids = [c.pid("shard-2-0"), c.pid("shard-2-1")]
    out = scale(c, 2)
    assert "removed:    shard-2" in out.stdout, out.stdout
    assert saved_shards(c) == 2
    c.wait_until(lambda: not any(alive(p) for p in pids), 30, "shard-2's servers gone")
    assert not os.path.exists(os.path.join(c.cluster_dir, "shard-2-0"))
    assert_every_slot_owned_once(c, 2)
    assert missing_keys(c.client(), 2000, "k") == []
