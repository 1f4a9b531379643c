"""redkube-server-start (the server start step, docs/workflows.md) against a
real ConfigServer, etcd and redis-servers: what it writes for a new member,
for a returning master that sees no failover, and with no record."""

import json
import os
import subprocess
import time

from conftest import REPO, free_port
from test_configserver import PASSWORD, ControlPlane

BIN = os.path.join(os.environ.get("REDKUBE_BUILD_DIR", os.path.join(REPO, "build")), "bin",
                   "redkube-server-start")


def run_start(workdir, plane, cluster, port, member_dir, wait_ms=300):
    for name, value in (("password", PASSWORD), ("token", "unused")):
        with open(os.path.join(workdir, "ss-" + name), "w") as f:
            f.write(value)
    out = os.path.join(member_dir, "redkube.conf")
    started = time.monotonic()
    proc = subprocess.run(
        [BIN, "--configserver", plane.urls(), "--token-file", os.path.join(workdir, "ss-token"),
         "--cluster", cluster, "--shard", "shard-0", "--password-file", os.path.join(workdir, "ss-password"),
         "--bind", "127.0.0.1", "--port", str(port), "--dir", member_dir,
         "--include", os.path.join(workdir, "absent.conf"), "--out", out, "--failover-wait-ms", str(wait_ms)],
        capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    with open(out) as f:
        return f.read(), proc.stdout, time.monotonic() - started


def test_new_member_replicates_returning_master_waits_and_no_record_is_a_master(workdir):
    plane = ControlPlane(workdir, shards=1, replicas=1)
    try:
        master = plane.topology()["shards"][0]["master"]
        host, master_port = master.split(":")

        member = os.path.join(workdir, "new-member")
        conf, said, _ = run_start(workdir, plane, "demo", free_port(), member)
        assert "replicaof %s %s\n" % (host, master_port) in conf, conf
        assert 'requirepass "%s"\n' % PASSWORD in conf and "appendonly yes\n" in conf
        assert "include" not in conf  # the file does not exist
        assert "starts as replica of " + master in said, said
        with open(os.path.join(member, "redkube-member.json")) as f:
            assert json.load(f)["address"].startswith("127.0.0.1:")

        # The recorded master, back at a new address, with no failover coming.
        returning = os.path.join(workdir, "returning")
        os.makedirs(returning)
        with open(os.path.join(returning, "redkube-member.json"), "w") as f:
            json.dump({"address": master}, f)
        conf, said, took = run_start(workdir, plane, "demo", free_port(), returning, wait_ms=400)
        assert "replicaof" not in conf, conf
        assert took >= 0.4, took
        assert "no failover came" in said, said

        conf, said, _ = run_start(workdir, plane, "nosuch", free_port(), os.path.join(workdir, "x"))
        assert "replicaof" not in conf and "starts as master" in said, said
    finally:
        plane.close()


def test_a_member_that_ran_before_never_starts_without_a_configserver_answer(workdir):
    """No ConfigServer answering: a first start is a new shard's master, but a
    member that ran before (it may have been failed over) exits instead, so
    the kubelet retries rather than it taking writes as a stale master."""
    for name, value in (("password", PASSWORD), ("token", "unused")):
        with open(os.path.join(workdir, "ss-" + name), "w") as f:
            f.write(value)
    nobody = "http://127.0.0.1:%d" % free_port()
    member = os.path.join(workdir, "member")

    def start():
        return subprocess.run(
            [BIN, "--configserver", nobody, "--token-file", os.path.join(workdir, "ss-token"),
             "--cluster", "demo", "--shard", "shard-0", "--password-file", os.path.join(workdir, "ss-password"),
             "--bind", "127.0.0.1", "--port", "7999", "--dir", member, "--out", os.path.join(member, "redkube.conf"),
             "--failover-wait-ms", "300"], capture_output=True, text=True, timeout=30)

    first = start()
    assert first.returncode == 0, first.stderr
    with open(os.path.join(member, "redkube.conf")) as f:
        assert "replicaof" not in f.read()
    os.unlink(os.path.join(member, "redkube.conf"))
    again = start()
    assert again.returncode == 1, again.stdout
    assert "never starts without one" in again.stderr
    assert not os.path.exists(os.path.join(member, "redkube.conf")), "a config was written anyway"
