"""The operator on a real Kubernetes control plane (issue #13).

The control plane (kube-apiserver, controller-manager, scheduler, etcd) is
real; the harness of tools/kube-testbed plays kubelet and kube-proxy, so each
pod's containers are real processes (redis-server, redkube-proxy,
redkube-configserver, etcd, the operator itself) on the pod's own loopback
address. The operator is installed the way a user installs it
(`kubectl apply -k deploy/`) and runs in its pod with its ServiceAccount's
token, so its RBAC is the least-privilege one of deploy/rbac.

The tests of this module share one RedisCluster and run in file order:
create, data, drift, self-healing, then delete.
"""
import base64
import json
import os
import signal
import threading
import time

import pytest
import redis

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
NS = "default"
NAME = "demo"
SHARDS = 3
MEMBERS = 2  # 1 + replicasPerShard
PROXIES = 2


def cluster_yaml(name=NAME, shards=SHARDS, replicas=MEMBERS - 1, proxies=PROXIES):
    return json.dumps({
        "apiVersion": "redkube.io/v1alpha1",
        "kind": "RedisCluster",
        "metadata": {"name": name, "namespace": NS},
        "spec": {
            "shards": shards,
            "replicasPerShard": replicas,
            "proxy": {"minReplicas": proxies, "maxReplicas": proxies + 2},
            "storage": {"className": "local", "size": "1Gi"},
            "etcd": {"members": 1},
        },
    })


def get_json(tb, *args):
    return json.loads(tb.kubectl("get", *args, "-o", "json"))


def items(tb, kind, selector):
    return get_json(tb, kind, "-n", NS, "-l", selector)["items"]


def pod_ready(pod):
    for c in pod.get("status", {}).get("conditions", []):
        if c["type"] == "Ready":
            return c["status"] == "True"
    return False


def server_pods(tb, name=NAME, shard=None):
    sel = "redkube.io/cluster=%s,app.kubernetes.io/component=server" % name
    if shard is not None:
        sel += ",redkube.io/shard=shard-%d" % shard
    return [p for p in items(tb, "pods", sel) if not p["metadata"].get("deletionTimestamp")]


def proxy_pods(tb, name=NAME):
    sel = "redkube.io/cluster=%s,app.kubernetes.io/component=proxy" % name
    return [p for p in items(tb, "pods", sel) if not p["metadata"].get("deletionTimestamp")]


def secret_value(tb, key, name=NAME):
    data = get_json(tb, "secret", "-n", NS, name + "-auth")["data"]
    return base64.b64decode(data[key]).decode()


class ConfigServer:
    """The cluster's ConfigServer, through its Service (the harness forwards
    the ClusterIP)."""

    def __init__(self, tb, name=NAME):
        svc = get_json(tb, "service", "-n", NS, name + "-configserver")
        self.url = "http://%s:8080" % svc["spec"]["clusterIP"]
        self.token = secret_value(tb, "api-token", name)
        self.name = name

    def record(self):
        import urllib.request
        req = urllib.request.Request(self.url + "/v1/clusters/" + self.name,
                                     headers={"Authorization": "Bearer " + self.token})
        with urllib.request.urlopen(req, timeout=5) as r:
            return json.loads(r.read())

    def try_record(self):
        try:
            return self.record()
        except Exception:  # not up yet, or failing over: the caller polls
            return None


def shard_of(record, shard_id):
    for s in record["shards"]:
        if s["id"] == shard_id:
            return s
    raise AssertionError("no %s in %s" % (shard_id, record))


def replication_complete(record, members=MEMBERS, shards=SHARDS):
    """Every shard has its master and `members` nodes, replicas in sync."""
    if not record or len(record.get("shards", [])) != shards:
        return False
    health = record.get("health", {})
    for s in record["shards"]:
        if not s.get("master") or len(s.get("nodes", [])) != members:
            return False
        for node in s["nodes"]:
            h = health.get(node, {})
            if h.get("state", h.get("status")) not in ("up", "ok", None) or h.get("in_sync") is False:
                return False
    return True


def proxy_client(tb, password, pod=None):
    if pod is None:
        pod = [p for p in proxy_pods(tb) if pod_ready(p)][0]
    return redis.Redis(host=pod["status"]["podIP"], port=6379, password=password, socket_timeout=5,
                       decode_responses=True)


@pytest.fixture(scope="module")
def operator(testbed):
    testbed.kubectl("apply", "-k", os.path.join(REPO, "deploy"))
    testbed.wait_for(lambda: any(pod_ready(p) for p in get_json(
        testbed, "pods", "-n", "redkube-system", "-l", "app.kubernetes.io/component=operator")["items"]),
        120, "the operator pod ready")
    return testbed


def watch_creation(tb, name=NAME, shards=SHARDS, members=MEMBERS, seconds=240, on_look=None):
    """Polls a RedisCluster until Ready: at every look, a Proxy Deployment
    may exist only once every server pod is ready and the ConfigServer has
    every shard's master and replicas in sync (the design's order).
    `on_look(rc)` runs at each look (a test may act mid-creation)."""
    configserver = None
    deadline = time.monotonic() + seconds
    while True:
        assert time.monotonic() < deadline, "not Ready in %d s: %s" % (seconds, tb.kubectl(
            "get", "rediscluster", name, "-n", NS, "-o", "yaml"))
        deployments = items(tb, "deployments", "redkube.io/cluster=" + name)
        if any(d["metadata"]["name"] == name + "-proxy" for d in deployments):
            pods = server_pods(tb, name)
            assert len(pods) == shards * members and all(pod_ready(p) for p in pods), \
                "the Proxy Deployment came before every server pod was ready"
            configserver = configserver or ConfigServer(tb, name)
            assert replication_complete(configserver.record(), members, shards), \
                "the Proxy Deployment came before registration and replication"
        rc = get_json(tb, "rediscluster", name, "-n", NS)
        if on_look:
            on_look(rc)
        if rc.get("status", {}).get("phase") == "Ready":
            return rc
        time.sleep(0.3)


@pytest.fixture(scope="module")
def created(operator):
    operator.kubectl("apply", "-f", "-", input=cluster_yaml())
    watch_creation(operator)
    return operator


def test_created_in_order_with_each_shard_on_different_nodes(created):
    tb = created
    for k in range(SHARDS):
        sts = get_json(tb, "statefulset", "-n", NS, "%s-shard-%d" % (NAME, k))
        assert sts["spec"]["replicas"] == MEMBERS
        nodes = [p["spec"]["nodeName"] for p in server_pods(tb, shard=k)]
        assert len(nodes) == MEMBERS and len(set(nodes)) == MEMBERS, \
            "shard-%d's pods share a node: %s" % (k, nodes)
    rc = get_json(tb, "rediscluster", NAME, "-n", NS)
    status = rc["status"]
    assert status["readyShards"] == SHARDS
    assert status["observedGeneration"] == rc["metadata"]["generation"]
    assert status["topologyEpoch"] > 0
    ready = [c for c in status["conditions"] if c["type"] == "Ready"]
    assert ready and ready[0]["status"] == "True"
    table = tb.kubectl("get", "redisclusters", "-n", NS).splitlines()
    header, row = table[0].split(), table[1].split()
    assert header[:5] == ["NAME", "SHARDS", "READY", "PHASE", "EPOCH"], header
    assert row[:4] == [NAME, str(SHARDS), str(SHARDS), "Ready"], row
    for kind in ("secret", "configmap", "service", "poddisruptionbudget", "horizontalpodautoscaler"):
        assert items(tb, kind, "redkube.io/cluster=" + NAME), "no %s made" % kind
    hpa = get_json(tb, "hpa", "-n", NS, NAME + "-proxy")
    assert hpa["spec"]["minReplicas"] == PROXIES


def test_ten_thousand_keys_through_a_proxy_pod(created):
    tb = created
    password = secret_value(tb, "password")
    client = proxy_client(tb, password)
    pipe = client.pipeline(transaction=False)
    for i in range(10000):
        pipe.set("key:%d" % i, "value:%d" % i)
    assert all(pipe.execute())
    for start in range(0, 10000, 1000):
        got = client.mget(["key:%d" % i for i in range(start, start + 1000)])
        assert got == ["value:%d" % i for i in range(start, start + 1000)]
    # The keys are spread over every shard's master.
    record = ConfigServer(tb).record()
    for s in record["shards"]:
        host, port = s["master"].rsplit(":", 1)
        direct = redis.Redis(host=host, port=int(port), password=password, socket_timeout=5)
        assert direct.dbsize() > 2000, "%s holds too few keys" % s["id"]
    with pytest.raises((redis.AuthenticationError, redis.ResponseError), match="WRONGPASS|invalid"):
        redis.Redis(host=client.connection_pool.connection_kwargs["host"], port=6379,
                    password="wrong", socket_timeout=5).ping()


def test_drift_is_put_back(created):
    tb = created
    svc_uid = get_json(tb, "service", "-n", NS, NAME + "-shard-0")["metadata"]["uid"]
    dep_uid = get_json(tb, "deployment", "-n", NS, NAME + "-proxy")["metadata"]["uid"]
    tb.kubectl("delete", "service", "-n", NS, NAME + "-shard-0", "--wait=false")
    tb.kubectl("delete", "deployment", "-n", NS, NAME + "-proxy", "--wait=false")

    def recreated(kind, name, old_uid):
        try:
            return get_json(tb, kind, "-n", NS, name)["metadata"]["uid"] != old_uid
        except Exception:
            return False

    tb.wait_for(lambda: recreated("service", NAME + "-shard-0", svc_uid), 60, "the shard Service back")
    tb.wait_for(lambda: recreated("deployment", NAME + "-proxy", dep_uid), 60, "the proxy Deployment back")
    tb.wait_for(lambda: len([p for p in proxy_pods(tb) if pod_ready(p)]) == PROXIES, 90, "proxies ready")


OWNED_KINDS = ("statefulsets", "deployments", "services", "secrets", "configmaps", "poddisruptionbudgets",
               "horizontalpodautoscalers")


# Controllers write the status of these (so their resourceVersion moves on
# its own): their spec's generation says whether anyone changed them.
BY_GENERATION = ("statefulsets", "deployments", "poddisruptionbudgets", "horizontalpodautoscalers")


def owned_versions(tb, name=NAME):
    versions = {}
    for kind in OWNED_KINDS:
        for obj in items(tb, kind, "redkube.io/cluster=" + name):
            meta = obj["metadata"]
            versions[(kind, meta["name"])] = meta["generation"] if kind in BY_GENERATION else meta["resourceVersion"]
    return versions


def test_an_edit_by_hand_is_put_back_and_nothing_else_is_rewritten(created):
    """A reconcile applies every object again: the one edited by hand is put
    back, and every other object is left as it was (applying the same object
    twice changes nothing)."""
    tb = created
    tb.wait_for(lambda: len([p for p in proxy_pods(tb) if pod_ready(p)]) == PROXIES, 90, "proxies ready")
    before = owned_versions(tb)
    edited = ("services", NAME + "-shard-1")
    tb.kubectl("label", "service", "-n", NS, NAME + "-shard-1", "app.kubernetes.io/managed-by-")

    def put_back():
        svc = get_json(tb, "service", "-n", NS, NAME + "-shard-1")
        return svc["metadata"]["labels"].get("app.kubernetes.io/managed-by") == "redkube-operator"
    tb.wait_for(put_back, 60, "the label put back")
    after = owned_versions(tb)
    assert set(after) == set(before), "objects came or went: %s" % (set(after) ^ set(before))
    changed = sorted(k for k in before if k != edited and after[k] != before[k])
    assert not changed, "objects rewritten by a reconcile that had nothing to change: %s" % changed


def test_a_spec_with_zero_shards_is_refused(operator):
    with pytest.raises(Exception) as refused:
        operator.kubectl("apply", "-f", "-", input=cluster_yaml(name="bad", shards=0))
    assert "spec.shards" in str(refused.value)
    with pytest.raises(Exception) as refused:
        operator.kubectl("apply", "-f", "-", input=cluster_yaml(name="bad", replicas=-1))
    assert "spec.replicasPerShard" in str(refused.value)


class Writer:
    """Writes distinct keys through the proxy Service until stopped (bounded
    by count and time), keeping each acknowledged one."""

    def __init__(self, tb, password, prefix, limit=20000, seconds=120):
        svc = get_json(tb, "service", "-n", NS, NAME + "-proxy")
        self.client = redis.Redis(host=svc["spec"]["clusterIP"], port=6379, password=password,
                                  socket_timeout=3, socket_connect_timeout=3)
        self.prefix, self.limit, self.seconds = prefix, limit, seconds
        self.acked, self.errors = [], 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        deadline = time.monotonic() + self.seconds
        i = 0
        while not self.stop.is_set() and i < self.limit and time.monotonic() < deadline:
            key = "%s:%d" % (self.prefix, i)
            try:
                if self.client.set(key, "v%d" % i):
                    self.acked.append(key)
                i += 1
            except redis.RedisError:
                self.errors += 1
                time.sleep(0.02)

    def finish(self):
        self.stop.set()
        self.thread.join(30)
        assert len(self.acked) > 100, "too few writes went through (%d errors)" % self.errors

    def check_every_key(self, client):
        for start in range(0, len(self.acked), 500):
            chunk = self.acked[start:start + 500]
            got = client.mget(chunk)
            want = ["v" + k.rsplit(":", 1)[1] for k in chunk]
            lost = [k for k, v, w in zip(chunk, got, want) if v not in (w, w.encode())]
            assert not lost, "acknowledged writes lost: %s" % lost[:10]


def wait_cluster_ready(tb, configserver, seconds=180):
    def ready():
        rc = get_json(tb, "rediscluster", NAME, "-n", NS)
        return rc.get("status", {}).get("phase") == "Ready" and replication_complete(configserver.try_record())
    tb.wait_for(ready, seconds, "the cluster Ready again, every shard in sync")


def test_master_pod_deleted_fails_over_and_rejoins(created):
    tb = created
    password = secret_value(tb, "password")
    configserver = ConfigServer(tb)
    old_master = shard_of(configserver.record(), "shard-0")["master"]
    victim = [p for p in server_pods(tb, shard=0) if p["status"]["podIP"] == old_master.rsplit(":", 1)[0]][0]
    writer = Writer(tb, password, "heal-pod")
    tb.wait_for(lambda: len(writer.acked) > 200, 30, "writes flowing")
    tb.kubectl("delete", "pod", "-n", NS, victim["metadata"]["name"], "--wait=false")

    tb.wait_for(lambda: (configserver.try_record() or {"shards": []}) and
                shard_of(configserver.record(), "shard-0")["master"] != old_master, 60, "failover of shard-0")

    def rejoined():
        pods = server_pods(tb, shard=0)
        new = [p for p in pods if p["metadata"]["name"] == victim["metadata"]["name"]]
        if not new or new[0]["metadata"]["uid"] == victim["metadata"]["uid"] or not pod_ready(new[0]):
            return False
        record = configserver.try_record()
        addr = new[0]["status"]["podIP"] + ":6379"
        return record is not None and addr in shard_of(record, "shard-0")["nodes"]
    tb.wait_for(rejoined, 120, "the recreated pod registered again")
    new_ip = [p for p in server_pods(tb, shard=0) if p["metadata"]["name"] == victim["metadata"]["name"]][0][
        "status"]["podIP"]
    assert new_ip != victim["status"]["podIP"], "the recreated pod kept its address: not the case tested"
    wait_cluster_ready(tb, configserver)
    assert old_master not in shard_of(configserver.record(), "shard-0")["nodes"], \
        "the old address is still registered"
    writer.finish()
    writer.check_every_key(proxy_client(tb, password))


def test_master_process_killed_is_restarted_and_rejoins(created):
    tb = created
    password = secret_value(tb, "password")
    configserver = ConfigServer(tb)
    master = shard_of(configserver.record(), "shard-1")["master"]
    pod = [p for p in server_pods(tb, shard=1) if p["status"]["podIP"] == master.rsplit(":", 1)[0]][0]
    name = pod["metadata"]["name"]
    writer = Writer(tb, password, "heal-proc")
    tb.wait_for(lambda: len(writer.acked) > 200, 30, "writes flowing")
    os.kill(tb.pid(NS, name, "redis"), signal.SIGKILL)

    def restarted():
        p = get_json(tb, "pod", "-n", NS, name)
        statuses = {c["name"]: c for c in p["status"].get("containerStatuses", [])}
        return statuses.get("redis", {}).get("restartCount", 0) >= 1 and pod_ready(p)
    tb.wait_for(restarted, 90, "the redis container restarted")
    wait_cluster_ready(tb, configserver)
    writer.finish()
    writer.check_every_key(proxy_client(tb, password))


def test_a_proxy_pod_deleted_clients_reconnect_to_another(created):
    tb = created
    password = secret_value(tb, "password")
    svc = get_json(tb, "service", "-n", NS, NAME + "-proxy")
    client = redis.Redis(host=svc["spec"]["clusterIP"], port=6379, password=password, socket_timeout=3,
                         retry_on_error=[redis.ConnectionError], retry=redis.retry.Retry(
                             redis.backoff.ConstantBackoff(0.2), 25))
    assert client.set("before-proxy-delete", "1")
    victim = proxy_pods(tb)[0]["metadata"]["name"]
    tb.kubectl("delete", "pod", "-n", NS, victim, "--wait=false")
    for i in range(200):
        assert client.set("after-proxy-delete:%d" % i, "1")
    assert client.get("before-proxy-delete") == b"1"
    tb.wait_for(lambda: len([p for p in proxy_pods(tb) if pod_ready(p)]) == PROXIES, 90,
                "the Deployment back to %d ready proxies" % PROXIES)


def test_delete_removes_everything_it_made(created):
    tb = created
    tb.kubectl("delete", "rediscluster", NAME, "-n", NS, "--wait=false")
    selector = "redkube.io/cluster=" + NAME

    def gone():
        for kind in ("statefulsets", "deployments", "services", "secrets", "configmaps",
                     "poddisruptionbudgets", "horizontalpodautoscalers", "pods", "persistentvolumeclaims"):
            if items(tb, kind, selector):
                return False
        return not get_json(tb, "redisclusters", "-n", NS)["items"]
    tb.wait_for(gone, 120, "everything of %s deleted" % NAME)
    events = get_json(tb, "events", "-n", NS, "--field-selector", "involvedObject.name=" + NAME)["items"]
    assert any(e["reason"] == "Deregistered" for e in events), \
        "the ConfigServer was not told: %s" % [e["reason"] for e in events]


def operator_pods(tb):
    return [p for p in get_json(tb, "pods", "-n", "redkube-system", "-l",
                                "app.kubernetes.io/component=operator")["items"]
            if not p["metadata"].get("deletionTimestamp")]


def lease_holder(tb):
    lease = get_json(tb, "lease", "-n", "redkube-system", "redkube-operator")
    return lease["spec"].get("holderIdentity", "")


def test_the_operator_account_has_least_privilege(operator):
    account = "system:serviceaccount:redkube-system:redkube-operator"

    def can(verb, resource, ns=NS):
        out = subprocess_can_i(operator, verb, resource, ns, account)
        return out == "yes"
    assert can("create", "statefulsets.apps") and can("patch", "redisclusters.redkube.io/status")
    assert can("update", "leases.coordination.k8s.io/redkube-operator", "redkube-system")
    assert not can("update", "leases.coordination.k8s.io/other", "redkube-system"), "other leases"
    assert not can("delete", "nodes", ""), "the operator may delete nodes"
    assert not can("create", "pods"), "the operator may create pods itself"
    assert not can("create", "clusterrolebindings.rbac.authorization.k8s.io", ""), "the operator may escalate"
    assert not can("update", "leases.coordination.k8s.io", "kube-system"), "leases beyond its namespace"


def subprocess_can_i(tb, verb, resource, ns, account):
    args = ["auth", "can-i", verb, resource, "--as", account]
    args += ["-n", ns] if ns else ["--all-namespaces"]
    try:
        return tb.kubectl(*args).strip()
    except Exception as e:  # kubectl exits 1 for "no"
        return "no" if "no" in str(e) else str(e)


RESUMED = "resumed"


def test_the_operator_killed_mid_creation_resumes_and_finishes(operator):
    tb = operator
    tb.kubectl("apply", "-f", "-", input=cluster_yaml(name=RESUMED, shards=1, proxies=2))
    killed = []

    def kill_once_servers_exist(rc):
        if killed or not items(tb, "statefulsets", "redkube.io/cluster=" + RESUMED):
            return
        pod = operator_pods(tb)[0]
        os.kill(tb.pid("redkube-system", pod["metadata"]["name"], "operator"), signal.SIGKILL)
        killed.append(pod["metadata"]["name"])
    rc = watch_creation(tb, RESUMED, shards=1, on_look=kill_once_servers_exist)
    assert killed, "the operator was never killed mid-creation"
    assert rc["status"]["readyShards"] == 1
    restarted = get_json(tb, "pod", "-n", "redkube-system", killed[0])
    assert restarted["status"]["containerStatuses"][0]["restartCount"] >= 1


def test_two_operator_replicas_one_leads_and_the_other_takes_over(operator):
    tb = operator
    tb.kubectl("scale", "deployment", "-n", "redkube-system", "redkube-operator", "--replicas", "2")
    tb.wait_for(lambda: len([p for p in operator_pods(tb) if pod_ready(p)]) == 2, 90, "two operator pods ready")
    names = {p["metadata"]["name"] for p in operator_pods(tb)}
    leader = tb.wait_for(lambda: lease_holder(tb) in names and lease_holder(tb), 60, "a leader among the two")
    tb.kubectl("delete", "pod", "-n", "redkube-system", leader, "--wait=false")
    # The standby, or the pod the Deployment makes in the leader's place,
    # whichever asks first once the leaving leader released the Lease.
    tb.wait_for(lambda: lease_holder(tb) not in ("", leader) and
                lease_holder(tb) in {p["metadata"]["name"] for p in operator_pods(tb)}, 60,
                "another replica leading")
    # The new leader reconciles: drift on the resumed cluster is put back.
    uid = get_json(tb, "service", "-n", NS, RESUMED + "-proxy")["metadata"]["uid"]
    tb.kubectl("delete", "service", "-n", NS, RESUMED + "-proxy", "--wait=false")

    def back():
        try:
            return get_json(tb, "service", "-n", NS, RESUMED + "-proxy")["metadata"]["uid"] != uid
        except Exception:
            return False
    tb.wait_for(back, 60, "the proxy Service put back by the new leader")
    tb.kubectl("delete", "rediscluster", RESUMED, "-n", NS, "--wait=false")
    tb.wait_for(lambda: not items(tb, "statefulsets", "redkube.io/cluster=" + RESUMED), 120, "resumed deleted")
