"""pytest fixtures for tests against the Kubernetes test bed (docs/kube-testbed.md).

`testbed` (session scope) runs `scripts/kube-testbed.sh up` in a fresh temporary state dir (a
developer's own test bed in run/kube-testbed is never touched) and `down` at the end. The first
run on a machine builds the pinned binaries (several minutes); later runs find them cached.

    def test_x(testbed):
        testbed.kubectl("apply", "-f", path)            # stdout; raises TestbedError with stderr
        testbed.api("GET", "/api/v1/nodes")             # decoded JSON (None for 404 with ok404=True)
        testbed.wait_for(lambda: ..., 60, "what")       # the predicate's truthy value, or TimeoutError
        testbed.pod_dir("default", "web-0")             # the running pod's directory
        testbed.pid("default", "web-0", "redis")        # the container's current PID
"""

import glob
import json
import os
import shutil
import ssl
import subprocess
import tempfile
import time
import http.client

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(REPO, "scripts", "kube-testbed.sh")


class TestbedError(Exception):
    pass


class Testbed:
    """A running test bed: its kubeconfig, state dir and helpers."""

    def __init__(self, state_dir):
        self.state_dir = state_dir
        self.kubeconfig = os.path.join(state_dir, "kubeconfig")
        ports = dict(line.strip().split("=", 1) for line in open(os.path.join(state_dir, "ports.env")) if "=" in line)
        self.apiserver_port = int(ports["APISERVER_PORT"])
        self.net_index = int(ports["NET_INDEX"])
        self.service_cidr = f"127.{96 + self.net_index}.0.0/16"
        self.pod_cidr = f"127.{20 + self.net_index}.0.0/16"
        self.server = f"https://127.0.0.1:{self.apiserver_port}"
        self.kubectl_bin = os.path.join(os.environ.get("REDKUBE_CACHE", os.path.expanduser("~/.cache/redkube")),
                                        "kube", "v1.37.2", "bin", "kubectl")
        pki = os.path.join(state_dir, "pki")
        self._ctx = ssl.create_default_context(cafile=os.path.join(pki, "ca.crt"))
        self._ctx.load_cert_chain(os.path.join(pki, "admin.crt"), os.path.join(pki, "admin.key"))

    def env(self):
        return dict(os.environ, KUBECONFIG=self.kubeconfig)

    def kubectl(self, *args, input=None, timeout=60):
        """Runs kubectl against the test bed; returns stdout, raises TestbedError with stderr."""
        r = subprocess.run([self.kubectl_bin, *args], input=input, capture_output=True, text=True,
                           env=self.env(), timeout=timeout)
        if r.returncode != 0:
            raise TestbedError(f"kubectl {' '.join(args)}: exit {r.returncode}: {r.stderr.strip()}")
        return r.stdout

    def api(self, method, path, body=None, content_type="application/json", ok404=False, timeout=30):
        """One API request with the admin client certificate; returns the decoded JSON body.
        Raises TestbedError (with the server's message) for a status >= 300."""
        conn = http.client.HTTPSConnection("127.0.0.1", self.apiserver_port, context=self._ctx, timeout=timeout)
        try:
            data = None if body is None else json.dumps(body)
            headers = {"Accept": "application/json"}
            if data is not None:
                headers["Content-Type"] = content_type
            conn.request(method, path, body=data, headers=headers)
            resp = conn.getresponse()
            raw = resp.read()
        finally:
            conn.close()
        if resp.status == 404 and ok404:
            return None
        if resp.status >= 300:
            raise TestbedError(f"{method} {path}: HTTP {resp.status}: {raw[:500].decode(errors='replace')}")
        return json.loads(raw) if raw else {}

    @staticmethod
    def wait_for(predicate, timeout, what, interval=0.25):
        """Polls predicate() until it returns something truthy (returned) or timeout seconds pass
        (TimeoutError naming `what` and the last exception the predicate raised, if any)."""
        deadline = time.monotonic() + timeout
        last_exc = None
        while True:
            try:
                v = predicate()
                if v:
                    return v
                last_exc = None
            except Exception as e:  # a predicate may fail while things come up
                last_exc = e
            if time.monotonic() >= deadline:
                raise TimeoutError(f"timed out after {timeout}s waiting for {what}"
                                   + (f" (last error: {last_exc})" if last_exc else ""))
            time.sleep(interval)

    def pod(self, namespace, name):
        return self.api("GET", f"/api/v1/namespaces/{namespace}/pods/{name}", ok404=True)

    def pod_dir(self, namespace, name, uid=None):
        """The directory of the pod (its current incarnation unless uid is given): logs
        <container>.log, <container>.pid, volumes/."""
        if uid is None:
            pod = self.pod(namespace, name)
            if pod is None:
                raise TestbedError(f"pod {namespace}/{name} not found")
            uid = pod["metadata"]["uid"]
        d = os.path.join(self.state_dir, "pods", f"{namespace}_{name}_{uid[:8]}")
        if not os.path.isdir(d):
            raise TestbedError(f"pod {namespace}/{name} has no directory yet ({d})")
        return d

    def pid_file(self, namespace, name, container, uid=None):
        return os.path.join(self.pod_dir(namespace, name, uid), f"{container}.pid")

    def pid(self, namespace, name, container, uid=None):
        """The PID of the container's current process (a test may kill it)."""
        with open(self.pid_file(namespace, name, container, uid)) as f:
            return int(f.read().strip())

    def log(self, namespace, name, container, uid=None):
        with open(os.path.join(self.pod_dir(namespace, name, uid), f"{container}.log"), errors="replace") as f:
            return f.read()


def _script(cmd, state_dir, timeout):
    env = dict(os.environ, KUBE_TESTBED_DIR=state_dir)
    return subprocess.run([SCRIPT, cmd], env=env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="session")
def testbed():
    state_dir = tempfile.mkdtemp(prefix="redkube-kube-")
    # a cold build takes minutes; a warm `up` seconds
    r = _script("up", state_dir, timeout=1800)
    try:
        if r.returncode != 0:
            logs = "".join(f"\n--- {p}\n" + open(p, errors="replace").read()[-3000:]
                           for p in sorted(glob.glob(os.path.join(state_dir, "logs", "*.log"))))
            raise TestbedError(f"kube-testbed.sh up failed ({r.returncode}):\n{r.stderr}{logs}")
        yield Testbed(state_dir)
    finally:
        d = _script("down", state_dir, timeout=120)
        if d.returncode == 0 and not os.environ.get("REDKUBE_KEEP_TESTBED"):
            shutil.rmtree(state_dir, ignore_errors=True)
