#!/usr/bin/python3
"""The test bed's node agent: plays kubelet, kube-proxy, a local volume provisioner and node
heartbeats for a real control plane on 127.0.0.1 (see docs/kube-testbed.md).

Python 3 standard library only. It talks to the API server over HTTPS with the admin client
certificate, keeps caches of Pods, Services, EndpointSlices, PVCs and PVs through list+watch
(no busy polling), and
  - runs every Pod bound to one of its nodes as local processes on a loopback address of its
    own (127.20.0.0/16, never reused within a run), probes them, restarts them per
    restartPolicy and PATCHes the pod status subresource;
  - finishes deleted pods (SIGTERM, grace period capped at 15 s, SIGKILL, DELETE grace 0);
  - forwards every Service ClusterIP:port (the Service CIDR is on 127.0.0.0/8) to a ready
    endpoint;
  - creates a PV (a directory under the state dir) for each PVC of its StorageClass once the
    scheduler has picked a node, and deletes Released ones (reclaim policy Delete, done here);
  - creates the Nodes and renews their Leases so the node lifecycle controller keeps them Ready.

There are no mount namespaces: each volume is a directory, and every occurrence of a
volumeMount's mountPath (as a path prefix) in command, args, env values, workingDir and exec
probe commands is rewritten to that directory. File contents (a redis.conf from a ConfigMap)
are not rewritten.
"""

import argparse
import base64
import copy
import datetime
import http.client
import ipaddress
import json
import logging
import os
import re
import select
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.parse

LOG = logging.getLogger("kubelet")
STOP = threading.Event()  # set on SIGTERM: every loop in this file checks it
WAKE = threading.Event()  # set when a cache changes: the main loop reconciles

POD_NET = ipaddress.ip_network("127.20.0.0/16")  # --pod-cidr
DEFAULT_PATH = None  # set from --repo in main()
MAX_GRACE = 15.0
BACKOFF_START, BACKOFF_CAP = 1.0, 10.0
PROVISIONER = "testbed.redkube.io/local"


def now_rfc3339():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def now_micro():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# --------------------------------------------------------------------------------------------
# API client


class ApiError(Exception):
    def __init__(self, code, message):
        super().__init__(f"HTTP {code}: {message}")
        self.code = code


class Api:
    """A small HTTPS client; one connection per thread (http.client is not thread-safe)."""

    def __init__(self, server, ca, cert, key):
        u = urllib.parse.urlparse(server)
        self.host, self.port = u.hostname, u.port or 443
        self.ctx = ssl.create_default_context(cafile=ca)
        self.ctx.load_cert_chain(cert, key)
        self.local = threading.local()

    def connect(self, timeout=30):
        return http.client.HTTPSConnection(self.host, self.port, context=self.ctx, timeout=timeout)

    def request(self, method, path, body=None, content_type="application/json", ok404=False):
        """Returns the decoded JSON reply; raises ApiError. Retries connection errors a few times."""
        data = None if body is None else json.dumps(body).encode()
        headers = {"Accept": "application/json"}
        if data is not None:
            headers["Content-Type"] = content_type
        for attempt in range(3):
            conn = getattr(self.local, "conn", None)
            if conn is None:
                conn = self.local.conn = self.connect()
            try:
                conn.request(method, path, body=data, headers=headers)
                resp = conn.getresponse()
                raw = resp.read()
            except (OSError, http.client.HTTPException) as e:
                conn.close()
                self.local.conn = None
                if attempt == 2 or STOP.is_set():
                    raise ApiError(0, f"{method} {path}: {e}")
                time.sleep(0.5 * (attempt + 1))
                continue
            if resp.status == 404 and ok404:
                return None
            if resp.status >= 300:
                try:
                    msg = json.loads(raw).get("message", raw.decode(errors="replace"))
                except ValueError:
                    msg = raw.decode(errors="replace")
                raise ApiError(resp.status, f"{method} {path}: {msg}")
            return json.loads(raw) if raw else {}
        raise ApiError(0, "unreachable")

    def get(self, path):
        return self.request("GET", path, ok404=True)

    def merge_patch(self, path, body):
        return self.request("PATCH", path, body, "application/merge-patch+json")


class Informer(threading.Thread):
    """List+watch of one collection into a dict keyed namespace/name; sets WAKE on changes."""

    def __init__(self, api, path, name):
        super().__init__(daemon=True, name=f"informer-{name}")
        self.api, self.path, self.kind = api, path, name
        self.items = {}
        self.lock = threading.Lock()
        self.synced = threading.Event()

    @staticmethod
    def key(obj):
        m = obj["metadata"]
        return f"{m.get('namespace', '')}/{m['name']}"

    def snapshot(self):
        with self.lock:
            return list(self.items.values())

    def get(self, key):
        with self.lock:
            return self.items.get(key)

    def run(self):
        while not STOP.is_set():
            try:
                listing = self.api.request("GET", self.path)
                with self.lock:
                    self.items = {self.key(o): o for o in listing.get("items", [])}
                rv = listing["metadata"]["resourceVersion"]
                self.synced.set()
                WAKE.set()
                self.watch(rv)
            except Exception as e:  # API down, 410 Gone, broken stream: re-list after a pause
                if not STOP.is_set():
                    LOG.warning("%s watch: %s; re-listing", self.kind, e)
                STOP.wait(1.0)

    def watch(self, rv):
        while not STOP.is_set():
            q = urllib.parse.urlencode(
                {"watch": "1", "resourceVersion": rv, "allowWatchBookmarks": "true", "timeoutSeconds": "240"})
            conn = self.api.connect(timeout=300)
            try:
                conn.request("GET", f"{self.path}?{q}", headers={"Accept": "application/json"})
                resp = conn.getresponse()
                if resp.status != 200:
                    raise ApiError(resp.status, resp.read()[:300].decode(errors="replace"))
                while not STOP.is_set():
                    line = resp.readline()
                    if not line:
                        break  # server closed the watch (timeoutSeconds): resume from rv
                    ev = json.loads(line)
                    obj = ev.get("object", {})
                    if ev["type"] == "ERROR":
                        raise ApiError(obj.get("code", 0), obj.get("message", "watch error"))
                    rv = obj.get("metadata", {}).get("resourceVersion", rv)
                    if ev["type"] == "BOOKMARK":
                        continue
                    with self.lock:
                        if ev["type"] == "DELETED":
                            self.items.pop(self.key(obj), None)
                        else:
                            self.items[self.key(obj)] = obj
                    WAKE.set()
            finally:
                conn.close()


# --------------------------------------------------------------------------------------------
# Kubernetes rules: $(VAR) expansion, path rewriting, ports


def expand(s, env):
    """Kubernetes' $(VAR) expansion (third_party/forked/golang/expansion): $$ escapes,
    unknown references stay as written."""
    out, i, n = [], 0, len(s)
    while i < n:
        c = s[i]
        if c == "$" and i + 1 < n:
            nxt = s[i + 1]
            if nxt == "$":
                out.append("$")
                i += 2
                continue
            if nxt == "(":
                close = s.find(")", i + 2)
                if close != -1:
                    name = s[i + 2:close]
                    out.append(env[name] if name in env else f"$({name})")
                    i = close + 1
                    continue
                out.append("$(")
                i += 2
                continue
            out.append("$" + nxt)
            i += 2
            continue
        out.append(c)
        i += 1
    return "".join(out)


class PathRewriter:
    """Rewrites each volumeMount's mountPath, where it starts a path, to the volume's directory.
    One regex pass, longest mount first, so a rewritten directory is never rewritten again."""

    def __init__(self, mounts):  # mounts: {mountPath: directory}
        self.mounts = {m.rstrip("/") or "/": d for m, d in mounts.items()}
        paths = sorted(self.mounts, key=len, reverse=True)
        self.re = None
        if paths:
            alt = "|".join(re.escape(p) for p in paths if p != "/")
            if alt:
                self.re = re.compile(r"(?<![\w.\-/])(" + alt + r")(?![\w.\-])")

    def __call__(self, s):
        if self.re is None or not isinstance(s, str):
            return s
        return self.re.sub(lambda m: self.mounts[m.group(1)], s)


def resolve_port(port, container_ports):
    """A probe's or Service's target port: a number, or a container port's name."""
    if isinstance(port, int):
        return port
    if isinstance(port, str) and port.isdigit():
        return int(port)
    for p in container_ports:
        if p.get("name") == port:
            return p["containerPort"]
    return None


def find_exe(cmd0, path):
    if "/" in cmd0:
        return cmd0 if os.access(cmd0, os.X_OK) else None
    return shutil.which(cmd0, path=path)


# --------------------------------------------------------------------------------------------
# One container


class Container:
    """A container run as a local process group; owned by its PodWorker thread."""

    def __init__(self, spec, kind):
        self.spec, self.kind = spec, kind  # kind: init, sidecar, main
        self.name = spec["name"]
        self.proc = None
        self.restarts = 0
        self.state = {"waiting": {"reason": "ContainerCreating"}}
        self.last_state = {}
        self.started_at = None
        self.ready = False
        self.started = False  # startup probe passed (or none)
        self.done = False  # init container exited 0
        self.backoff = 0.0
        self.next_start = 0.0
        self.probe_next = {}
        self.probe_count = {}  # probe kind -> (successes, failures)
        self.log = None
        self.start_wall = 0.0
        self.env, self.rw = {}, PathRewriter({})

    def running(self):
        return self.proc is not None and self.proc.poll() is None


class PodWorker(threading.Thread):
    """Runs one pod (by uid) until it is deleted or vanishes: volumes, env, init containers,
    containers, probes, restarts, status."""

    def __init__(self, agent, pod, pod_ip):
        uid = pod["metadata"]["uid"]
        super().__init__(daemon=True, name=f"pod-{pod['metadata']['name']}")
        self.agent, self.api = agent, agent.api
        self.pod = pod
        self.ns, self.pname, self.uid = pod["metadata"]["namespace"], pod["metadata"]["name"], uid
        self.ip = pod_ip
        self.dir = os.path.join(agent.state, "pods", f"{self.ns}_{self.pname}_{uid[:8]}")
        self.lock = threading.Lock()
        self.gone = False  # the pod vanished from the API
        self.update_evt = threading.Event()
        self.start_time = pod.get("status", {}).get("startTime") or now_rfc3339()
        self.last_status = None
        spec = pod["spec"]
        self.policy = spec.get("restartPolicy", "Always")
        self.inits = [Container(c, "sidecar" if c.get("restartPolicy") == "Always" else "init")
                      for c in spec.get("initContainers", [])]
        self.mains = [Container(c, "main") for c in spec.get("containers", [])]
        self.volumes = {}  # volume name -> directory
        self.volumes_ready = False
        self.volume_error = None
        self.token_refresh = None
        self.phase = "Pending"
        self.finished = False

    # -- inputs from the main loop
    def update(self, pod):
        with self.lock:
            self.pod = pod
        self.update_evt.set()

    def vanish(self):
        self.gone = True
        self.update_evt.set()

    def current(self):
        with self.lock:
            return self.pod

    def path(self, p):
        return f"/api/v1/namespaces/{self.ns}/{p}"

    # -- main loop of the pod
    def run(self):
        os.makedirs(self.dir, exist_ok=True)
        LOG.info("pod %s/%s (%s) on %s: ip %s, dir %s", self.ns, self.pname, self.uid[:8],
                 self.pod["spec"].get("nodeName"), self.ip, self.dir)
        try:
            while not STOP.is_set():
                pod = self.current()
                if self.gone:
                    self.stop_all(self.grace(pod))
                    LOG.info("pod %s/%s vanished: processes stopped", self.ns, self.pname)
                    return
                if pod["metadata"].get("deletionTimestamp"):
                    self.terminate(pod)
                    return
                if not self.finished:
                    self.step(pod)
                self.report(pod)
                self.update_evt.wait(0.5)
                self.update_evt.clear()
        except Exception:
            LOG.exception("pod %s/%s worker failed", self.ns, self.pname)
        finally:
            if STOP.is_set():
                self.stop_all(2.0)

    def grace(self, pod):
        g = pod["metadata"].get("deletionGracePeriodSeconds")
        if g is None:
            g = pod["spec"].get("terminationGracePeriodSeconds", 30)
        return min(float(g), MAX_GRACE)

    def terminate(self, pod):
        g = self.grace(pod)
        LOG.info("pod %s/%s deleted: stopping containers (grace %.0fs)", self.ns, self.pname, g)
        self.stop_all(g)
        self.report(pod, force_terminated=True)
        for attempt in range(20):
            try:
                self.api.request("DELETE", self.path(f"pods/{self.pname}"),
                                 {"kind": "DeleteOptions", "apiVersion": "v1", "gracePeriodSeconds": 0,
                                  "preconditions": {"uid": self.uid}}, ok404=True)
                LOG.info("pod %s/%s finished (DELETE grace 0)", self.ns, self.pname)
                return
            except ApiError as e:
                if e.code == 409:  # uid precondition: a new pod took the name; ours is gone
                    return
                LOG.warning("deleting pod %s/%s: %s", self.ns, self.pname, e)
                if STOP.wait(min(1.0 * (attempt + 1), 5.0)):
                    return

    def stop_all(self, grace):
        """SIGTERM every running container (sidecars last), SIGKILL what is left after grace."""
        groups = [[c for c in self.mains + self.inits if c.kind != "sidecar"],
                  [c for c in self.inits if c.kind == "sidecar"]]
        deadline = time.monotonic() + grace
        for group in groups:
            live = [c for c in group if c.running()]
            for c in live:
                self.signal(c, signal.SIGTERM)
            while live and time.monotonic() < deadline:
                time.sleep(0.1)
                live = [c for c in live if c.running()]
            for c in live:
                LOG.info("pod %s/%s: %s did not stop in %.0fs: SIGKILL", self.ns, self.pname, c.name, grace)
                self.signal(c, signal.SIGKILL)
            for c in group:
                self.reap(c)

    def signal(self, c, sig):
        try:
            os.killpg(c.proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            try:
                c.proc.send_signal(sig)
            except ProcessLookupError:
                pass

    def reap(self, c):
        if c.proc is None:
            return
        try:
            c.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.signal(c, signal.SIGKILL)
            c.proc.wait(timeout=5)
        self.exited(c)

    def step(self, pod):
        if not self.volumes_ready:
            self.prepare_volumes(pod)
            if not self.volumes_ready:
                return
        if self.token_refresh and time.time() > self.token_refresh:
            self.prepare_volumes(pod, refresh=True)
        # init containers in order; sidecars start and keep running
        for c in self.inits:
            self.watch_container(c)
            if c.kind == "init":
                if c.done:
                    continue
                if not c.running():
                    self.maybe_start(c)
                return  # wait for this init container
            if not c.running():
                self.maybe_start(c)
            if not c.running() and c.restarts == 0 or not c.started and c.restarts == 0:
                return  # the main containers start once the sidecar has started
        for c in self.mains:
            self.watch_container(c)
            if not c.running():
                self.maybe_start(c)
        self.check_finished()

    def check_finished(self):
        if self.policy == "Always" or not self.mains:
            return
        if all(c.proc is not None and not c.running() for c in self.mains):
            codes = [c.state.get("terminated", {}).get("exitCode", 1) for c in self.mains]
            if self.policy == "Never" or all(x == 0 for x in codes):
                self.phase = "Succeeded" if all(x == 0 for x in codes) else "Failed"
                self.finished = True
                self.stop_all(5.0)  # sidecars
                LOG.info("pod %s/%s %s", self.ns, self.pname, self.phase)

    # -- containers
    def should_restart(self, c, code):
        if c.kind == "sidecar":
            return True
        if c.kind == "init":
            return code != 0 and self.policy != "Never"
        if self.policy == "Always":
            return True
        return self.policy == "OnFailure" and code != 0

    def exited(self, c):
        """Records an exit once (the state moves to terminated)."""
        if c.proc is None or "terminated" in c.state:
            return
        code = c.proc.returncode
        if code is None:
            return
        if code < 0:
            code = 128 - code  # killed by signal N: 128+N, as the kubelet reports
        c.state = {"terminated": {"exitCode": code, "reason": "Completed" if code == 0 else "Error",
                                  "startedAt": c.started_at, "finishedAt": now_rfc3339(),
                                  "containerID": f"testbed://{c.proc.pid}"}}
        c.ready = False
        c.started = False
        c.probe_count.clear()
        if c.log:
            c.log.close()
            c.log = None
        LOG.info("pod %s/%s: container %s exited %d", self.ns, self.pname, c.name, code)

    def watch_container(self, c):
        if c.proc is None or c.running():
            if c.running():
                self.probe(c)
            return
        self.exited(c)
        code = c.state["terminated"]["exitCode"]
        if c.kind == "init" and code == 0:
            c.done = True
            return
        if not self.should_restart(c, code) or c.next_start:
            if c.kind == "init" and self.policy == "Never" and code != 0 and not self.finished:
                self.phase, self.finished = "Failed", True
            return
        ran = time.time() - c.start_wall
        c.backoff = BACKOFF_START if (c.backoff == 0 or ran > 60) else min(c.backoff * 2, BACKOFF_CAP)
        c.next_start = time.monotonic() + c.backoff
        LOG.info("pod %s/%s: restarting %s in %.0fs", self.ns, self.pname, c.name, c.backoff)

    def maybe_start(self, c):
        if c.next_start and time.monotonic() < c.next_start:
            return  # backing off
        if c.proc is not None and "terminated" in c.state:
            if not c.next_start:
                return  # exited for good (restartPolicy)
            c.last_state = {"terminated": c.state["terminated"]}
            c.restarts += 1
        self.start_container(c)

    def env_for(self, c, pod, rewrite):
        spec = c.spec
        env = {"PATH": DEFAULT_PATH, "HOSTNAME": self.pname, "HOME": self.dir,
               "KUBERNETES_SERVICE_HOST": "127.0.0.1", "KUBERNETES_SERVICE_PORT": str(self.agent.api.port),
               "KUBERNETES_SERVICE_PORT_HTTPS": str(self.agent.api.port)}
        for src in spec.get("envFrom", []):
            prefix = src.get("prefix", "")
            if "configMapRef" in src:
                data = self.lookup("configmaps", src["configMapRef"], None)
            else:
                data = self.lookup("secrets", src["secretRef"], None)
            for k, v in (data or {}).items():
                env[prefix + k] = rewrite(v)
        for e in spec.get("env", []):
            if "valueFrom" in e:
                v = self.value_from(e["valueFrom"], c, pod)
                if v is None:
                    continue
                env[e["name"]] = rewrite(v)
            else:
                env[e["name"]] = expand(rewrite(e.get("value", "")), env)
        return env

    def lookup(self, kind, ref, key):
        """A ConfigMap's/Secret's data (decoded), or one key of it; raises KeyError if missing
        and not optional."""
        obj = self.api.get(self.path(f"{kind}/{ref['name']}"))
        if obj is None:
            if ref.get("optional"):
                return None
            raise KeyError(f"{kind[:-1]} {ref['name']} not found")
        data = dict(obj.get("data", {}))
        if kind == "secrets":
            data = {k: base64.b64decode(v).decode(errors="replace") for k, v in data.items()}
        else:
            for k, v in obj.get("binaryData", {}).items():
                data[k] = base64.b64decode(v).decode(errors="replace")
        if key is None:
            return data
        if key not in data:
            if ref.get("optional"):
                return None
            raise KeyError(f"key {key} not in {kind[:-1]} {ref['name']}")
        return data[key]

    def field(self, path, pod):
        m = pod["metadata"]
        simple = {"metadata.name": m["name"], "metadata.namespace": m["namespace"], "metadata.uid": m["uid"],
                  "spec.nodeName": pod["spec"].get("nodeName", ""),
                  "spec.serviceAccountName": pod["spec"].get("serviceAccountName", ""),
                  "status.podIP": self.ip, "status.podIPs": self.ip,
                  "status.hostIP": "127.0.0.1", "status.hostIPs": "127.0.0.1"}
        if path in simple:
            return simple[path]
        mm = re.fullmatch(r"metadata\.(labels|annotations)\['(.+)'\]", path)
        if mm:
            return m.get(mm.group(1), {}).get(mm.group(2), "")
        if path in ("metadata.labels", "metadata.annotations"):
            d = m.get(path.split(".")[1], {})
            return "\n".join(f'{k}="{v}"' for k, v in sorted(d.items()))
        raise KeyError(f"unsupported fieldRef {path}")

    def value_from(self, vf, c, pod):
        if "secretKeyRef" in vf:
            return self.lookup("secrets", vf["secretKeyRef"], vf["secretKeyRef"]["key"])
        if "configMapKeyRef" in vf:
            return self.lookup("configmaps", vf["configMapKeyRef"], vf["configMapKeyRef"]["key"])
        if "fieldRef" in vf:
            return self.field(vf["fieldRef"]["fieldPath"], pod)
        if "resourceFieldRef" in vf:
            r = vf["resourceFieldRef"]["resource"]
            kind, _, name = r.partition(".")
            return str(c.spec.get("resources", {}).get(kind, {}).get(name, "0"))
        return None

    def rewriter(self, c):
        mounts = {}
        for vm in c.spec.get("volumeMounts", []):
            d = self.volumes.get(vm["name"])
            if d is None:
                continue
            if vm.get("subPath"):
                d = os.path.join(d, vm["subPath"])
                os.makedirs(d, exist_ok=True)
            mounts[vm["mountPath"]] = d
        return PathRewriter(mounts)

    def start_container(self, c):
        pod = self.current()
        c.next_start = 0.0
        rw = self.rewriter(c)
        try:
            env = self.env_for(c, pod, rw)
        except (KeyError, ApiError) as e:
            self.start_failed(c, "CreateContainerConfigError", str(e))
            return
        cmd = c.spec.get("command")
        if not cmd:
            self.start_failed(c, "CreateContainerConfigError",
                              "the test bed needs an explicit command (images are not run)")
            return
        argv = [expand(rw(a), env) for a in cmd + c.spec.get("args", [])]
        exe = find_exe(argv[0], env.get("PATH", DEFAULT_PATH))
        if exe is None:
            self.start_failed(c, "RunContainerError", f"executable {argv[0]} not found in PATH")
            return
        cwd = expand(rw(c.spec["workingDir"]), env) if c.spec.get("workingDir") else self.dir
        os.makedirs(cwd, exist_ok=True)
        c.log = open(os.path.join(self.dir, f"{c.name}.log"), "ab")
        c.log.write(f"--- {now_rfc3339()} start #{c.restarts}: {json.dumps(argv)}\n".encode())
        c.log.flush()
        try:
            c.proc = subprocess.Popen([exe] + argv[1:], env=env, cwd=cwd, stdin=subprocess.DEVNULL,
                                      stdout=c.log, stderr=subprocess.STDOUT, start_new_session=True,
                                      executable=exe)
        except OSError as e:
            c.log.close()
            c.log = None
            self.start_failed(c, "RunContainerError", str(e))
            return
        c.env, c.rw = env, rw
        with open(os.path.join(self.dir, f"{c.name}.pid"), "w") as f:
            f.write(f"{c.proc.pid}\n")
        c.started_at = now_rfc3339()
        c.start_wall = time.time()
        c.state = {"running": {"startedAt": c.started_at}}
        c.started = "startupProbe" not in c.spec
        c.probe_next = {}
        c.probe_count = {}
        c.ready = False
        LOG.info("pod %s/%s: started %s pid %d: %s", self.ns, self.pname, c.name, c.proc.pid, " ".join(argv))

    def start_failed(self, c, reason, msg):
        LOG.warning("pod %s/%s: %s: %s: %s", self.ns, self.pname, c.name, reason, msg)
        c.state = {"waiting": {"reason": reason, "message": msg}}
        c.backoff = BACKOFF_START if c.backoff == 0 else min(c.backoff * 2, BACKOFF_CAP)
        c.next_start = time.monotonic() + c.backoff
        c.proc = None

    # -- probes
    def probe(self, c):
        now = time.monotonic()
        for kind in ("startupProbe", "livenessProbe", "readinessProbe"):
            p = c.spec.get(kind)
            if kind == "readinessProbe" and p is None:
                c.ready = c.started
                continue
            if p is None or (kind != "startupProbe" and not c.started) or (kind == "startupProbe" and c.started):
                continue
            first = c.probe_next.get(kind)
            if first is None:
                c.probe_next[kind] = now + max(0, p.get("initialDelaySeconds", 0))
                continue
            if now < first:
                continue
            c.probe_next[kind] = now + max(1, p.get("periodSeconds", 10))
            ok = self.run_probe(c, p)
            succ, fail = c.probe_count.get(kind, (0, 0))
            succ, fail = (succ + 1, 0) if ok else (0, fail + 1)
            c.probe_count[kind] = (succ, fail)
            need_s = max(1, p.get("successThreshold", 1))
            need_f = max(1, p.get("failureThreshold", 3))
            if kind == "readinessProbe":
                if ok and succ >= need_s:
                    c.ready = True
                elif not ok and fail >= need_f:
                    c.ready = False
            elif kind == "startupProbe" and ok:
                c.started = True
            elif not ok and fail >= need_f:
                LOG.info("pod %s/%s: %s of %s failed %d times: killing it", self.ns, self.pname, kind, c.name, fail)
                grace = p.get("terminationGracePeriodSeconds",
                              self.current()["spec"].get("terminationGracePeriodSeconds", 30))
                self.signal(c, signal.SIGTERM)
                try:
                    c.proc.wait(timeout=min(float(grace), MAX_GRACE))
                except subprocess.TimeoutExpired:
                    self.signal(c, signal.SIGKILL)
                    c.proc.wait(timeout=5)
                return

    def run_probe(self, c, p):
        timeout = max(1, p.get("timeoutSeconds", 1))
        ports = c.spec.get("ports", [])
        try:
            if "exec" in p:
                argv = [expand(c.rw(a), c.env) for a in p["exec"].get("command", [])]
                exe = find_exe(argv[0], c.env.get("PATH", DEFAULT_PATH)) if argv else None
                if exe is None:
                    return False
                r = subprocess.run([exe] + argv[1:], env=c.env, cwd=self.dir, stdin=subprocess.DEVNULL,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=timeout)
                return r.returncode == 0
            if "tcpSocket" in p:
                port = resolve_port(p["tcpSocket"]["port"], ports)
                with socket.create_connection((p["tcpSocket"].get("host") or self.ip, port), timeout=timeout):
                    return True
            if "httpGet" in p:
                g = p["httpGet"]
                port = resolve_port(g["port"], ports)
                host = g.get("host") or self.ip
                if g.get("scheme", "HTTP").upper() == "HTTPS":
                    conn = http.client.HTTPSConnection(host, port, timeout=timeout,
                                                       context=ssl._create_unverified_context())
                else:
                    conn = http.client.HTTPConnection(host, port, timeout=timeout)
                try:
                    conn.request("GET", g.get("path", "/"),
                                 headers={h["name"]: h["value"] for h in g.get("httpHeaders", [])})
                    return 200 <= conn.getresponse().status < 400
                finally:
                    conn.close()
            return True  # grpc probes are not played: counted as passing
        except (OSError, subprocess.TimeoutExpired, http.client.HTTPException, TypeError):
            return False

    # -- volumes
    def prepare_volumes(self, pod, refresh=False):
        try:
            for v in pod["spec"].get("volumes", []):
                d = os.path.join(self.dir, "volumes", v["name"])
                if "persistentVolumeClaim" in v:
                    d = self.pvc_dir(v["persistentVolumeClaim"]["claimName"])
                    if d is None:
                        raise KeyError(f"PVC {v['persistentVolumeClaim']['claimName']} not bound yet")
                    self.volumes[v["name"]] = d
                    continue
                if refresh and "projected" not in v:
                    continue
                os.makedirs(d, exist_ok=True)
                self.volumes[v["name"]] = d
                if "secret" in v:
                    self.write_items(d, "secrets", {"name": v["secret"]["secretName"],
                                                    "optional": v["secret"].get("optional")}, v["secret"].get("items"))
                elif "configMap" in v:
                    self.write_items(d, "configmaps", v["configMap"], v["configMap"].get("items"))
                elif "downwardAPI" in v:
                    self.write_downward(d, v["downwardAPI"].get("items", []), pod)
                elif "projected" in v:
                    for src in v["projected"].get("sources", []):
                        if "secret" in src:
                            self.write_items(d, "secrets", src["secret"], src["secret"].get("items"))
                        elif "configMap" in src:
                            self.write_items(d, "configmaps", src["configMap"], src["configMap"].get("items"))
                        elif "downwardAPI" in src:
                            self.write_downward(d, src["downwardAPI"].get("items", []), pod)
                        elif "serviceAccountToken" in src:
                            self.write_token(d, src["serviceAccountToken"], pod)
                elif "hostPath" in v:
                    self.volumes[v["name"]] = v["hostPath"]["path"]
                # emptyDir and anything else: a plain directory
            self.volumes_ready = True
            self.volume_error = None
        except (KeyError, ApiError, OSError) as e:
            if self.volume_error != str(e):
                LOG.info("pod %s/%s: volumes not ready: %s", self.ns, self.pname, e)
            self.volume_error = str(e)

    def pvc_dir(self, claim):
        pvc = self.agent.pvcs.get(f"{self.ns}/{claim}")
        if not pvc or pvc.get("status", {}).get("phase") != "Bound":
            return None
        pv = self.agent.pvs.get(f"/{pvc['spec'].get('volumeName', '')}")
        if not pv:
            return None
        src = pv["spec"].get("local") or pv["spec"].get("hostPath") or {}
        d = src.get("path")
        if d:
            os.makedirs(d, exist_ok=True)
        return d

    @staticmethod
    def write_file(d, rel, content, mode=None):
        p = os.path.join(d, rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        tmp = p + ".tmp"
        with open(tmp, "wb") as f:
            f.write(content if isinstance(content, bytes) else content.encode())
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, p)

    def write_items(self, d, kind, ref, items):
        obj = self.api.get(self.path(f"{kind}/{ref['name']}"))
        if obj is None:
            if ref.get("optional"):
                return
            raise KeyError(f"{kind[:-1]} {ref['name']} not found")
        data = {}
        if kind == "secrets":
            data = {k: base64.b64decode(v) for k, v in obj.get("data", {}).items()}
        else:
            data = {k: v.encode() for k, v in obj.get("data", {}).items()}
            data.update({k: base64.b64decode(v) for k, v in obj.get("binaryData", {}).items()})
        if items:
            for it in items:
                if it["key"] in data:
                    self.write_file(d, it["path"], data[it["key"]], it.get("mode"))
                elif not ref.get("optional"):
                    raise KeyError(f"key {it['key']} not in {kind[:-1]} {ref['name']}")
        else:
            for k, v in data.items():
                self.write_file(d, k, v)

    def write_downward(self, d, items, pod):
        for it in items:
            if "fieldRef" in it:
                self.write_file(d, it["path"], self.field(it["fieldRef"]["fieldPath"], pod))

    def write_token(self, d, src, pod):
        sa = pod["spec"].get("serviceAccountName") or "default"
        exp = max(600, src.get("expirationSeconds", 3600))
        body = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
                "spec": {"audiences": [src["audience"]] if src.get("audience") else None,
                         "expirationSeconds": exp,
                         "boundObjectRef": {"kind": "Pod", "apiVersion": "v1", "name": self.pname, "uid": self.uid}}}
        if body["spec"]["audiences"] is None:
            del body["spec"]["audiences"]
        tr = self.api.request("POST", self.path(f"serviceaccounts/{sa}/token"), body)
        self.write_file(d, src.get("path", "token"), tr["status"]["token"], 0o600)
        self.token_refresh = time.time() + exp * 0.8

    # -- status
    def container_status(self, c):
        st = {"name": c.name, "image": c.spec.get("image", ""), "imageID": "", "ready": bool(c.ready and c.running()),
              "restartCount": c.restarts, "started": bool(c.running() and c.started), "state": c.state}
        if c.proc is not None:
            st["containerID"] = f"testbed://{c.proc.pid}"
        if c.next_start and "terminated" in c.state:
            st["state"] = {"waiting": {"reason": "CrashLoopBackOff",
                                       "message": f"back-off {c.backoff:.0f}s restarting failed container"}}
            st["lastState"] = {"terminated": c.state["terminated"]}
        elif c.last_state:
            st["lastState"] = c.last_state
        if c.kind == "init" and c.done:
            st["ready"] = True
        return st

    def report(self, pod, force_terminated=False):
        running = [c for c in self.mains if c.running()]
        inits_done = all(c.done if c.kind == "init" else (c.running() and c.started) for c in self.inits)
        if not self.finished:
            if force_terminated:
                pass
            elif running and inits_done:
                self.phase = "Running"
            elif self.phase == "Running" and self.policy != "Always":
                pass
        ready = (not force_terminated and self.phase == "Running" and len(running) == len(self.mains)
                 and all(c.ready for c in self.mains))
        cond_now = now_rfc3339()
        old = {x["type"]: x for x in pod.get("status", {}).get("conditions", [])}

        def cond(t, ok, reason=None):
            status = "True" if ok else "False"
            prev = old.get(t)
            c = {"type": t, "status": status,
                 "lastTransitionTime": prev["lastTransitionTime"] if prev and prev["status"] == status
                 and prev.get("lastTransitionTime") else cond_now}
            if reason and not ok:
                c["reason"] = reason
            return c

        gates_ok = all(old.get(g["conditionType"], {}).get("status") == "True"
                       for g in pod["spec"].get("readinessGates", []))
        conds = [cond("PodReadyToStartContainers", self.volumes_ready),
                 cond("Initialized", inits_done, "ContainersNotInitialized"),
                 cond("ContainersReady", ready, "ContainersNotReady"),
                 cond("Ready", ready and gates_ok, "ContainersNotReady"),
                 cond("PodScheduled", True)]
        mine = {c["type"] for c in conds}
        conds += [x for x in pod.get("status", {}).get("conditions", []) if x["type"] not in mine]
        status = {"phase": self.phase, "hostIP": "127.0.0.1", "hostIPs": [{"ip": "127.0.0.1"}],
                  "podIP": self.ip, "podIPs": [{"ip": self.ip}], "startTime": self.start_time,
                  "conditions": conds,
                  "initContainerStatuses": [self.container_status(c) for c in self.inits],
                  "containerStatuses": [self.container_status(c) for c in self.mains]}
        if self.volume_error:
            for cs in status["containerStatuses"]:
                cs["state"] = {"waiting": {"reason": "ContainerCreating", "message": self.volume_error}}
        key = json.dumps({k: v for k, v in status.items() if k != "conditions"}, sort_keys=True) + \
            json.dumps([(c["type"], c["status"]) for c in conds])
        if key == self.last_status:
            return
        try:
            self.api.merge_patch(self.path(f"pods/{self.pname}/status"),
                                 {"metadata": {"uid": self.uid}, "status": status})
            self.last_status = key
        except ApiError as e:
            if e.code not in (404, 409):
                LOG.warning("status of pod %s/%s: %s", self.ns, self.pname, e)


# --------------------------------------------------------------------------------------------
# kube-proxy


class Forwarder(threading.Thread):
    """Listens on ClusterIP:port; each connection goes to one ready endpoint (round robin)."""

    def __init__(self, ip, port):
        super().__init__(daemon=True, name=f"svc-{ip}:{port}")
        self.ip, self.port = ip, port
        self.endpoints = []  # [(ip, port)]
        self.rr = 0
        self.closed = threading.Event()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((ip, port))
        self.sock.listen(128)

    def close(self):
        self.closed.set()

    def run(self):
        try:
            while not STOP.is_set() and not self.closed.is_set():
                r, _, _ = select.select([self.sock], [], [], 0.5)
                if not r:
                    continue
                try:
                    client, _ = self.sock.accept()
                except OSError:
                    continue
                eps = list(self.endpoints)
                if not eps:
                    client.close()  # no ready endpoint: refuse, like kube-proxy's REJECT
                    continue
                ep = eps[self.rr % len(eps)]
                self.rr += 1
                threading.Thread(target=self.pipe, args=(client, ep), daemon=True).start()
        finally:
            self.sock.close()

    @staticmethod
    def pipe(client, ep):
        try:
            upstream = socket.create_connection(ep, timeout=5)
        except OSError:
            client.close()
            return
        upstream.settimeout(None)
        socks = [client, upstream]
        try:
            while not STOP.is_set():
                r, _, _ = select.select(socks, [], [], 1.0)
                for s in r:
                    data = s.recv(65536)
                    if not data:
                        return
                    (upstream if s is client else client).sendall(data)
        except OSError:
            pass
        finally:
            client.close()
            upstream.close()


# --------------------------------------------------------------------------------------------
# The agent


def selector_matches(sel, labels):
    return bool(sel) and all(labels.get(k) == v for k, v in sel.items())


class Agent:
    def __init__(self, args):
        self.api = Api(args.server, args.ca, args.cert, args.key)
        self.state = os.path.abspath(args.state_dir)
        self.nodes = [f"node-{i}" for i in range(args.nodes)]
        self.apiserver_port = self.api.port
        self.pods = Informer(self.api, "/api/v1/pods", "pods")
        self.svcs = Informer(self.api, "/api/v1/services", "services")
        self.slices = Informer(self.api, "/apis/discovery.k8s.io/v1/endpointslices", "endpointslices")
        self.pvcs = Informer(self.api, "/api/v1/persistentvolumeclaims", "pvcs")
        self.pvs = Informer(self.api, "/api/v1/persistentvolumes", "pvs")
        self.workers = {}  # pod uid -> PodWorker
        self.forwarders = {}  # (ip, port) -> Forwarder
        self.next_ip = int(POD_NET.network_address) + 256  # 127.20.1.0 upwards
        self.pv_done = set()
        self.bumped = False

    def alloc_ip(self):
        while True:
            self.next_ip += 1
            ip = ipaddress.ip_address(self.next_ip)
            if ip not in POD_NET:
                raise RuntimeError("pod IP range exhausted")
            if str(ip).split(".")[-1] not in ("0", "255"):
                return str(ip)

    def reuse_or_alloc_ip(self, pod):
        """A pod that already has an address of ours (the harness restarted) keeps it; new pods get
        addresses above every address seen, so none is ever handed out twice."""
        ip = pod.get("status", {}).get("podIP")
        if ip and ipaddress.ip_address(ip) in POD_NET and ip not in self.ips_in_use():
            self.next_ip = max(self.next_ip, int(ipaddress.ip_address(ip)))
            return ip
        return self.alloc_ip()

    def ips_in_use(self):
        return {w.ip for w in self.workers.values()}

    def bump_past_existing(self):
        for pod in self.pods.snapshot():
            ip = pod.get("status", {}).get("podIP")
            if ip and ipaddress.ip_address(ip) in POD_NET:
                self.next_ip = max(self.next_ip, int(ipaddress.ip_address(ip)))

    # -- nodes
    def node_object(self, name):
        t = now_rfc3339()
        res = {"cpu": "16", "memory": "32Gi", "pods": "110", "ephemeral-storage": "100Gi"}
        return {"apiVersion": "v1", "kind": "Node",
                "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux",
                                                      "kubernetes.io/arch": "amd64", "redkube.io/testbed": "true"}},
                "status": {"capacity": res, "allocatable": res,
                           "addresses": [{"type": "InternalIP", "address": "127.0.0.1"},
                                         {"type": "Hostname", "address": name}],
                           "conditions": self.node_conditions(t),
                           "nodeInfo": {"kubeletVersion": "v1.37.2-testbed", "operatingSystem": "linux",
                                        "architecture": "amd64", "containerRuntimeVersion": "testbed://1",
                                        "kernelVersion": os.uname().release, "osImage": "redkube test bed",
                                        "kubeProxyVersion": "", "machineID": "", "systemUUID": "", "bootID": ""}}}

    @staticmethod
    def node_conditions(t):
        conds = [("MemoryPressure", "False", "KubeletHasSufficientMemory"),
                 ("DiskPressure", "False", "KubeletHasNoDiskPressure"),
                 ("PIDPressure", "False", "KubeletHasSufficientPID"), ("Ready", "True", "KubeletReady")]
        return [{"type": ty, "status": s, "reason": r, "message": "played by the test bed",
                 "lastHeartbeatTime": t, "lastTransitionTime": t} for ty, s, r in conds]

    def heartbeat(self):
        """Creates the Nodes, then renews their Leases every 10 s and the Ready condition every 40 s."""
        last_status = 0.0
        while not STOP.is_set():
            for n in self.nodes:
                try:
                    self.heartbeat_node(n, time.monotonic() - last_status > 40)
                except ApiError as e:
                    LOG.warning("heartbeat %s: %s", n, e)
            if time.monotonic() - last_status > 40:
                last_status = time.monotonic()
            STOP.wait(10)

    def heartbeat_node(self, n, status_too):
        node = self.api.get(f"/api/v1/nodes/{n}")
        if node is None:
            body = self.node_object(n)
            self.api.request("POST", "/api/v1/nodes", body)
            self.api.merge_patch(f"/api/v1/nodes/{n}/status", {"status": body["status"]})
            LOG.info("node %s created", n)
        elif status_too:
            self.api.merge_patch(f"/api/v1/nodes/{n}/status",
                                 {"status": {"conditions": self.node_conditions(now_rfc3339())}})
        lease_path = f"/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/{n}"
        spec = {"holderIdentity": n, "leaseDurationSeconds": 40, "renewTime": now_micro()}
        if self.api.get(lease_path) is None:
            self.api.request("POST", "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases",
                             {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                              "metadata": {"name": n, "namespace": "kube-node-lease"}, "spec": spec})
        else:
            self.api.merge_patch(lease_path, {"spec": spec})

    # -- reconcile everything from the caches
    def reconcile(self):
        self.reconcile_pods()
        self.reconcile_pvs()
        self.reconcile_services()

    def reconcile_pods(self):
        seen = set()
        for pod in self.pods.snapshot():
            if pod["spec"].get("nodeName") not in self.nodes:
                continue
            uid = pod["metadata"]["uid"]
            seen.add(uid)
            w = self.workers.get(uid)
            if w is None:
                phase = pod.get("status", {}).get("phase")
                if phase in ("Succeeded", "Failed"):
                    if pod["metadata"].get("deletionTimestamp"):  # finished before: just let it go
                        w = PodWorker(self, pod, pod["status"].get("podIP") or self.alloc_ip())
                        w.finished, w.phase = True, phase
                    else:
                        continue
                else:
                    w = PodWorker(self, pod, self.reuse_or_alloc_ip(pod))
                self.workers[uid] = w
                w.start()
            else:
                w.update(pod)
        for uid, w in list(self.workers.items()):
            if uid not in seen and not w.gone:
                w.vanish()
            if not w.is_alive() and (w.gone or uid not in seen):
                del self.workers[uid]

    def reconcile_pvs(self):
        classes = {PROVISIONER}
        for pvc in self.pvcs.snapshot():
            m = pvc["metadata"]
            node = m.get("annotations", {}).get("volume.kubernetes.io/selected-node")
            if node not in self.nodes or pvc["spec"].get("volumeName") or pvc.get("status", {}).get("phase") == "Bound":
                continue
            prov = m.get("annotations", {}).get("volume.kubernetes.io/storage-provisioner") or \
                m.get("annotations", {}).get("volume.beta.kubernetes.io/storage-provisioner")
            if prov not in classes and pvc["spec"].get("storageClassName") != "local":
                continue
            name = f"pvc-{m['uid']}"
            if name in self.pv_done or self.pvs.get(f"/{name}"):
                continue
            d = os.path.join(self.state, "volumes", f"{m['namespace']}_{m['name']}_{m['uid'][:8]}")
            os.makedirs(d, exist_ok=True)
            pv = {"apiVersion": "v1", "kind": "PersistentVolume",
                  "metadata": {"name": name, "labels": {"redkube.io/testbed": "true"},
                               "annotations": {"pv.kubernetes.io/provisioned-by": PROVISIONER}},
                  "spec": {"capacity": {"storage": pvc["spec"]["resources"]["requests"]["storage"]},
                           "accessModes": pvc["spec"].get("accessModes", ["ReadWriteOnce"]),
                           "persistentVolumeReclaimPolicy": "Retain",
                           "storageClassName": pvc["spec"].get("storageClassName", ""),
                           "volumeMode": pvc["spec"].get("volumeMode", "Filesystem"),
                           "local": {"path": d},
                           "claimRef": {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                                        "namespace": m["namespace"], "name": m["name"], "uid": m["uid"]},
                           "nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": [
                               {"key": "kubernetes.io/hostname", "operator": "In", "values": [node]}]}]}}}}
            try:
                self.api.request("POST", "/api/v1/persistentvolumes", pv)
                LOG.info("PV %s for PVC %s/%s on %s: %s", name, m["namespace"], m["name"], node, d)
                self.pv_done.add(name)
            except ApiError as e:
                if e.code == 409:
                    self.pv_done.add(name)
                else:
                    LOG.warning("creating PV %s: %s", name, e)
        # Reclaim: a Released PV of ours whose claim is gone is deleted with its directory.
        for pv in self.pvs.snapshot():
            ann = pv["metadata"].get("annotations", {})
            if ann.get("pv.kubernetes.io/provisioned-by") != PROVISIONER:
                continue
            if pv.get("status", {}).get("phase") != "Released":
                continue
            try:
                self.api.request("DELETE", f"/api/v1/persistentvolumes/{pv['metadata']['name']}", ok404=True)
                d = pv["spec"].get("local", {}).get("path", "")
                if d.startswith(os.path.join(self.state, "volumes") + "/"):
                    shutil.rmtree(d, ignore_errors=True)
                LOG.info("PV %s released: deleted with %s", pv["metadata"]["name"], d)
            except ApiError as e:
                LOG.warning("deleting PV %s: %s", pv["metadata"]["name"], e)

    def service_endpoints(self, svc, sp):
        """Ready endpoints (ip, port) of one Service port: from its selector over ready pods
        (EndpointSlices cannot carry loopback addresses: the API server refuses them), or from
        EndpointSlices for a Service without a selector."""
        ns = svc["metadata"]["namespace"]
        if ns == "default" and svc["metadata"]["name"] == "kubernetes":
            return [("127.0.0.1", self.apiserver_port)]
        sel = svc["spec"].get("selector")
        target = sp.get("targetPort", sp["port"])
        out = []
        if sel:
            for pod in self.pods.snapshot():
                m, st = pod["metadata"], pod.get("status", {})
                if m["namespace"] != ns or m.get("deletionTimestamp") or not st.get("podIP"):
                    continue
                if not selector_matches(sel, m.get("labels", {})):
                    continue
                if not any(c["type"] == "Ready" and c["status"] == "True" for c in st.get("conditions", [])):
                    continue
                ports = [p for c in pod["spec"].get("containers", []) for p in c.get("ports", [])]
                port = resolve_port(target, ports)
                if port:
                    out.append((st["podIP"], port))
            return sorted(out)
        for es in self.slices.snapshot():
            if es["metadata"]["namespace"] != ns or \
                    es["metadata"].get("labels", {}).get("kubernetes.io/service-name") != svc["metadata"]["name"]:
                continue
            port = next((p.get("port") for p in es.get("ports") or [] if p.get("name", "") == sp.get("name", "")),
                        None)
            for ep in es.get("endpoints", []):
                if ep.get("conditions", {}).get("ready", True) and port:
                    out.extend((a, port) for a in ep.get("addresses", []))
        return sorted(out)

    def reconcile_services(self):
        want = {}
        for svc in self.svcs.snapshot():
            ip = svc["spec"].get("clusterIP")
            if not ip or ip == "None":
                continue
            for sp in svc["spec"].get("ports", []):
                if sp.get("protocol", "TCP") != "TCP":
                    continue
                want[(ip, sp["port"])] = self.service_endpoints(svc, sp)
        for key, fw in list(self.forwarders.items()):
            if key not in want:
                fw.close()
                del self.forwarders[key]
                LOG.info("service %s:%d: forwarder closed", *key)
        for key, eps in want.items():
            fw = self.forwarders.get(key)
            if fw is None:
                try:
                    fw = Forwarder(*key)
                except OSError as e:
                    LOG.warning("service %s:%d: cannot listen: %s", key[0], key[1], e)
                    continue
                fw.start()
                self.forwarders[key] = fw
                LOG.info("service %s:%d: forwarding", *key)
            if fw.endpoints != eps:
                fw.endpoints = eps
                LOG.info("service %s:%d -> %s", key[0], key[1], ", ".join(f"{a}:{p}" for a, p in eps) or "(none)")

    def run(self):
        for inf in (self.pods, self.svcs, self.slices, self.pvcs, self.pvs):
            inf.start()
        threading.Thread(target=self.heartbeat, daemon=True, name="heartbeat").start()
        while not STOP.is_set():
            WAKE.wait(2.0)
            WAKE.clear()
            if STOP.is_set():
                break
            if not all(i.synced.is_set() for i in (self.pods, self.pvcs, self.pvs, self.svcs, self.slices)):
                continue
            if not self.bumped:
                self.bump_past_existing()
                self.bumped = True
            try:
                self.reconcile()
            except Exception:
                LOG.exception("reconcile failed")
            STOP.wait(0.1)  # coalesce bursts of watch events
        self.shutdown()

    def shutdown(self):
        LOG.info("stopping: %d pods, %d forwarders", len(self.workers), len(self.forwarders))
        for fw in self.forwarders.values():
            fw.close()
        for w in self.workers.values():
            w.update_evt.set()
        deadline = time.monotonic() + 20
        for w in self.workers.values():
            if w.ident is not None:
                w.join(max(0.1, deadline - time.monotonic()))
        LOG.info("stopped")


def main():
    global DEFAULT_PATH, POD_NET
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--server", required=True)
    ap.add_argument("--ca", required=True)
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--state-dir", required=True)
    ap.add_argument("--repo", default=os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    ap.add_argument("--nodes", type=int, default=3)
    ap.add_argument("--pod-cidr", default=str(POD_NET), help="pod IPs are taken from here, never reused")
    ap.add_argument("--log", default="-")
    args = ap.parse_args()
    POD_NET = ipaddress.ip_network(args.pod_cidr)
    DEFAULT_PATH = f"{args.repo}/build/bin:/usr/local/bin:/usr/sbin:/usr/bin:/bin"
    handler = logging.StreamHandler(sys.stderr) if args.log == "-" else logging.FileHandler(args.log)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(threadName)s: %(message)s"))
    LOG.addHandler(handler)
    LOG.setLevel(logging.INFO)
    signal.signal(signal.SIGTERM, lambda *_: (STOP.set(), WAKE.set()))
    signal.signal(signal.SIGINT, lambda *_: (STOP.set(), WAKE.set()))
    LOG.info("test bed agent for %s, nodes %s", args.server, ", ".join(f"node-{i}" for i in range(args.nodes)))
    Agent(args).run()


if __name__ == "__main__":
    main()
