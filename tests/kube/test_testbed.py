"""The test bed itself: real controllers, pods run by the harness as local processes."""

import ipaddress
import json
import os
import signal

import redis

NS = "default"

STATEFULSET = {
    "apiVersion": "apps/v1", "kind": "StatefulSet",
    "metadata": {"name": "kv", "namespace": NS},
    "spec": {
        "serviceName": "kv", "replicas": 3,
        "selector": {"matchLabels": {"app": "kv"}},
        "template": {
            "metadata": {"labels": {"app": "kv"}},
            "spec": {
                "terminationGracePeriodSeconds": 5,
                "affinity": {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
                    {"labelSelector": {"matchLabels": {"app": "kv"}}, "topologyKey": "kubernetes.io/hostname"}]}},
                "containers": [{
                    "name": "redis", "image": "redis:7.0",
                    "command": ["redis-server"],
                    "args": ["--bind", "$(POD_IP)", "--port", "6379", "--dir", "/data", "--appendonly", "yes",
                             "--save", ""],
                    "env": [{"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}],
                    "ports": [{"name": "redis", "containerPort": 6379}],
                    "readinessProbe": {"tcpSocket": {"port": "redis"}, "periodSeconds": 1},
                    "volumeMounts": [{"name": "data", "mountPath": "/data"}],
                }],
            },
        },
        "volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {
            "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}],
    },
}

SERVICE = {
    "apiVersion": "v1", "kind": "Service", "metadata": {"name": "kv", "namespace": NS},
    "spec": {"selector": {"app": "kv"}, "ports": [{"name": "redis", "port": 6379, "targetPort": "redis"}]},
}


def apply(testbed, obj):
    testbed.kubectl("apply", "-f", "-", input=json.dumps(obj))


def ready(pod):
    return pod is not None and any(c["type"] == "Ready" and c["status"] == "True"
                                   for c in pod.get("status", {}).get("conditions", []))


def kv_pods(testbed):
    pods = [testbed.pod(NS, f"kv-{i}") for i in range(3)]
    return pods if all(ready(p) and not p["metadata"].get("deletionTimestamp") for p in pods) else None


def client(host, port=6379):
    return redis.Redis(host=host, port=port, socket_timeout=5, socket_connect_timeout=5, decode_responses=True)


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie still answers kill 0; the harness reaps its children, so check the state too
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ")[1][0] != "Z"
    except FileNotFoundError:
        return False


def test_nodes_and_storage_class(testbed):
    nodes = testbed.api("GET", "/api/v1/nodes")["items"]
    assert sorted(n["metadata"]["name"] for n in nodes) == ["node-0", "node-1", "node-2"]
    for n in nodes:
        assert n["metadata"]["labels"]["kubernetes.io/hostname"] == n["metadata"]["name"]
        assert {c["type"]: c["status"] for c in n["status"]["conditions"]}["Ready"] == "True"
    sc = testbed.api("GET", "/apis/storage.k8s.io/v1/storageclasses/local")
    assert sc["volumeBindingMode"] == "WaitForFirstConsumer"
    assert sc["metadata"]["annotations"]["storageclass.kubernetes.io/is-default-class"] == "true"
    kubernetes = testbed.api("GET", "/api/v1/namespaces/default/services/kubernetes")
    assert ipaddress.ip_address(kubernetes["spec"]["clusterIP"]) in ipaddress.ip_network(testbed.service_cidr)


def test_statefulset_ready_one_pod_per_node(testbed):
    apply(testbed, SERVICE)
    apply(testbed, STATEFULSET)
    pods = testbed.wait_for(lambda: kv_pods(testbed), 180, "3 ready kv pods")
    assert sorted(p["spec"]["nodeName"] for p in pods) == ["node-0", "node-1", "node-2"]
    ips = [p["status"]["podIP"] for p in pods]
    assert len(set(ips)) == 3
    for p, ip in zip(pods, ips):
        assert ipaddress.ip_address(ip) in ipaddress.ip_network(testbed.pod_cidr)
        assert p["status"]["hostIP"] == "127.0.0.1"
        c = client(ip)
        assert c.set("whoami", p["metadata"]["name"])
        assert c.get("whoami") == p["metadata"]["name"]
        # bound to the pod IP only, the $(POD_IP) expansion and the /data rewrite took effect
        assert c.config_get("bind")["bind"] == ip
        assert c.config_get("dir")["dir"].startswith(testbed.state_dir + "/volumes/")
    for i in range(3):
        pvc = testbed.api("GET", f"/api/v1/namespaces/{NS}/persistentvolumeclaims/data-kv-{i}")
        assert pvc["status"]["phase"] == "Bound"


def test_service_cluster_ip_forwards(testbed):
    svc = testbed.api("GET", f"/api/v1/namespaces/{NS}/services/kv")
    ip = svc["spec"]["clusterIP"]
    assert ipaddress.ip_address(ip) in ipaddress.ip_network(testbed.service_cidr)
    names = set()

    def served():
        names.add(client(ip).get("whoami"))
        return len(names) == 3

    # round robin over the ready endpoints: all three pods answer within a few connections
    testbed.wait_for(served, 30, "the ClusterIP forwarding to all 3 pods")
    assert names == {"kv-0", "kv-1", "kv-2"}


def test_deleted_pod_recreated_with_its_data(testbed):
    old = testbed.pod(NS, "kv-1")
    old_ip, old_uid = old["status"]["podIP"], old["metadata"]["uid"]
    old_pid = testbed.pid(NS, "kv-1", "redis")
    c = client(old_ip)
    assert c.set("persist", "kept")
    testbed.kubectl("delete", "pod", "kv-1", "--wait=false")

    def recreated():
        p = testbed.pod(NS, "kv-1")
        return p if ready(p) and p["metadata"]["uid"] != old_uid else None

    new = testbed.wait_for(recreated, 120, "kv-1 recreated and ready")
    assert new["status"]["podIP"] != old_ip
    assert not alive(old_pid)
    assert client(new["status"]["podIP"]).get("persist") == "kept"


def test_killed_container_restarted(testbed):
    pid = testbed.pid(NS, "kv-0", "redis")
    ip = testbed.pod(NS, "kv-0")["status"]["podIP"]
    os.kill(pid, signal.SIGKILL)

    def restarted():
        p = testbed.pod(NS, "kv-0")
        cs = p["status"]["containerStatuses"][0]
        return p if cs["restartCount"] == 1 and cs["ready"] and ready(p) else None

    p = testbed.wait_for(restarted, 60, "kv-0's redis restarted")
    cs = p["status"]["containerStatuses"][0]
    assert "running" in cs["state"]
    assert cs["lastState"]["terminated"]["exitCode"] == 137
    assert p["status"]["podIP"] == ip
    assert testbed.pid(NS, "kv-0", "redis") != pid
    assert client(ip).ping()


def test_deployment_scaled_down_pods_finished(testbed):
    deploy = {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "sleeper", "namespace": NS},
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "sleeper"}},
                 "template": {"metadata": {"labels": {"app": "sleeper"}}, "spec": {
                     "terminationGracePeriodSeconds": 3,
                     "containers": [{"name": "main", "image": "busybox", "command": ["sleep", "3600"]}]}}},
    }
    apply(testbed, deploy)

    def pods():
        items = testbed.api("GET", f"/api/v1/namespaces/{NS}/pods?labelSelector=app%3Dsleeper")["items"]
        return [p for p in items]

    running = testbed.wait_for(lambda: (lambda ps: ps if len(ps) == 3 and all(ready(p) for p in ps) else None)(pods()),
                               90, "3 ready sleeper pods")
    pids = {p["metadata"]["name"]: testbed.pid(NS, p["metadata"]["name"], "main", p["metadata"]["uid"])
            for p in running}
    testbed.kubectl("scale", "deployment", "sleeper", "--replicas=1")
    left = testbed.wait_for(lambda: (lambda ps: ps if len(ps) == 1 else None)(pods()), 60,
                            "the scaled-down pods deleted")
    survivor = left[0]["metadata"]["name"]
    assert survivor in pids
    for name, pid in pids.items():
        assert alive(pid) == (name == survivor), name


def test_pod_env_volumes_and_path_rewriting(testbed):
    apply(testbed, {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s1", "namespace": NS},
                    "stringData": {"password": "hunter2"}})
    apply(testbed, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c1", "namespace": NS},
                    "data": {"greeting": "hello", "MODE": "test"}})
    script = ('echo "$PASSWORD $GREETING $MODE $WHO $MSG" > /out/env; cat /etc/s/password > /out/secret; '
              'cat /etc/c/greeting > /out/config; cat /var/run/secrets/kubernetes.io/serviceaccount/namespace '
              '> /out/ns; test -s /var/run/secrets/kubernetes.io/serviceaccount/token && echo ok > /out/token')
    pod = {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "envtest", "namespace": NS},
        "spec": {
            "restartPolicy": "Never",
            "initContainers": [{"name": "first", "image": "busybox", "command": ["sh", "-c", "echo init > /out/init"],
                                "volumeMounts": [{"name": "out", "mountPath": "/out"}]}],
            "containers": [{
                "name": "main", "image": "busybox", "command": ["sh", "-c", script],
                "envFrom": [{"configMapRef": {"name": "c1"}}],
                "env": [{"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": "s1", "key": "password"}}},
                        {"name": "GREETING", "valueFrom": {"configMapKeyRef": {"name": "c1", "key": "greeting"}}},
                        {"name": "WHO", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                        {"name": "MSG", "value": "$(GREETING)-$(WHO)-$$(WHO)-$(NOPE)"}],
                "volumeMounts": [{"name": "out", "mountPath": "/out"}, {"name": "s", "mountPath": "/etc/s"},
                                 {"name": "c", "mountPath": "/etc/c"}]}],
            "volumes": [{"name": "out", "emptyDir": {}}, {"name": "s", "secret": {"secretName": "s1"}},
                        {"name": "c", "configMap": {"name": "c1"}}],
        },
    }
    apply(testbed, pod)

    def done():
        p = testbed.pod(NS, "envtest")
        return p if p and p.get("status", {}).get("phase") in ("Succeeded", "Failed") else None

    p = testbed.wait_for(done, 60, "envtest finished")
    d = testbed.pod_dir(NS, "envtest")
    assert p["status"]["phase"] == "Succeeded", testbed.log(NS, "envtest", "main")
    out = os.path.join(d, "volumes", "out")
    read = lambda f: open(os.path.join(out, f)).read().strip()  # noqa: E731
    assert read("init") == "init"
    assert read("env") == "hunter2 hello test envtest hello-envtest-$(WHO)-$(NOPE)"
    assert read("secret") == "hunter2"
    assert read("config") == "hello"
    assert read("ns") == NS
    assert read("token") == "ok"
    assert p["status"]["initContainerStatuses"][0]["state"]["terminated"]["exitCode"] == 0
    assert p["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"] == 0
