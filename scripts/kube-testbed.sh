#!/usr/bin/env bash
# kube-testbed.sh: a real Kubernetes control plane (etcd, kube-apiserver, kube-controller-manager,
# kube-scheduler) on 127.0.0.1, three Nodes played by tools/kube-testbed/kubelet.py.
# See docs/kube-testbed.md.
#
#   build  build the pinned binaries if they are not cached yet
#   up     build, then start everything; prints `export KUBECONFIG=...`
#   down   stop what `up` started (by PID, from the state dir)
#   env    print the export line
#
# State dir: ${KUBE_TESTBED_DIR:-<repo>/run/kube-testbed}
# Binary cache: ${REDKUBE_CACHE:-$HOME/.cache/redkube}/kube/<version>/bin
set -euo pipefail

K8S_VERSION=v1.37.2
ETCD_VERSION=v3.7.0
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STATE="${KUBE_TESTBED_DIR:-$REPO/run/kube-testbed}"
CACHE="${REDKUBE_CACHE:-$HOME/.cache/redkube}"
BIN="$CACHE/kube/$K8S_VERSION/bin"
PY=/usr/bin/python3

log() { echo "kube-testbed: $*" >&2; }
die() { log "error: $*"; exit 1; }

have_bins() {
  local b
  for b in etcd kube-apiserver kube-controller-manager kube-scheduler kubectl; do
    [[ -x "$BIN/$b" ]] || return 1
  done
}

# Builds every binary into a temp dir next to the cache and renames it into place, so a
# concurrent run either sees no bin dir or a complete one (the loser of a race just discards its copy).
cmd_build() {
  if have_bins; then return 0; fi
  command -v go >/dev/null || die "go not found (needed once to build $K8S_VERSION)"
  local start end tmp mod minor
  start=$(date +%s)
  mkdir -p "$CACHE/kube/$K8S_VERSION"
  tmp="$(mktemp -d "$CACHE/kube/$K8S_VERSION/build.XXXXXX")"
  mod="$tmp/mod"
  mkdir -p "$mod/etcd" "$tmp/bin"
  log "cold build of kubernetes $K8S_VERSION and etcd $ETCD_VERSION (several minutes, once per machine)"
  # The upstream go.mod replaces every staging module with ./staging/...; derive from it the
  # replace list a throwaway module needs (required at v0.0.0 and replaced by ./staging).
  local upstream
  upstream="$(cd "$tmp" && GOFLAGS=-mod=mod go mod download -json "k8s.io/kubernetes@$K8S_VERSION" |
    sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",*$/\1/p')"
  [[ -f "$upstream" ]] || die "could not download k8s.io/kubernetes@$K8S_VERSION go.mod"
  minor="${K8S_VERSION#v1.}"   # 37.2 -> staging modules are v0.37.2
  {
    echo "module redkube.local/kubebuild"
    echo
    echo "go 1.25"
    echo
    echo "require ("
    echo "	k8s.io/kubernetes $K8S_VERSION"
    echo "	go.etcd.io/etcd/server/v3 $ETCD_VERSION"
    echo ")"
    echo
    awk -v ver="v0.$minor" '
      /^require \(/ {inreq=1; next}
      /^replace \(/ {inrep=1; next}
      /^\)/ {inreq=0; inrep=0; next}
      inreq && $2 == "v0.0.0" {req[$1]=1}
      /^require / && $3 == "v0.0.0" {req[$2]=1}
      inrep && $2 == "=>" && $3 ~ /^\.\/staging/ {rep[$1]=1}
      /^replace / && $3 == "=>" && $4 ~ /^\.\/staging/ {rep[$2]=1}
      END {for (m in req) if (m in rep) printf "replace %s => %s %s\n", m, m, ver}
    ' "$upstream" | sort
  } >"$mod/go.mod"
  log "$(grep -c '^replace' "$mod/go.mod") staging replaces derived from upstream go.mod"
  cat >"$mod/etcd/main.go" <<'GO'
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
GO
  cat >"$mod/tools.go" <<'GO'
//go:build tools

package tools

import (
	_ "go.etcd.io/etcd/server/v3/etcdmain"
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubectl/pkg/cmd"
)
GO
  local major="${K8S_VERSION#v}"; major="${major%%.*}"
  local gminor="${minor%%.*}"
  local ldflags="-s -w -X k8s.io/component-base/version.gitVersion=$K8S_VERSION"
  ldflags+=" -X k8s.io/component-base/version.gitMajor=$major -X k8s.io/component-base/version.gitMinor=$gminor"
  ldflags+=" -X k8s.io/client-go/pkg/version.gitVersion=$K8S_VERSION"
  ldflags+=" -X k8s.io/client-go/pkg/version.gitMajor=$major -X k8s.io/client-go/pkg/version.gitMinor=$gminor"
  (
    cd "$mod"
    export CGO_ENABLED=0 GOFLAGS='-mod=mod -p=2'
    nice go mod tidy -e >/dev/null 2>&1 || true
    nice go build -trimpath -ldflags "-s -w" -o "$tmp/bin/etcd" ./etcd
    local c
    for c in kube-apiserver kube-controller-manager kube-scheduler kubectl; do
      log "building $c"
      nice go build -trimpath -ldflags "$ldflags" -o "$tmp/bin/$c" "k8s.io/kubernetes/cmd/$c"
    done
  ) || { rm -rf "$tmp"; die "build failed"; }
  if mv -T "$tmp/bin" "$BIN" 2>/dev/null; then
    end=$(date +%s)
    log "cold build took $(((end - start) / 60)) min $(((end - start) % 60)) s; binaries in $BIN"
    echo "$((end - start))" >"$CACHE/kube/$K8S_VERSION/cold-build-seconds"
  else
    log "another run finished the build first; using $BIN"
  fi
  rm -rf "$tmp"
  have_bins || die "binaries missing in $BIN"
}


KUBECONFIG_FILE="$STATE/kubeconfig"
COMPONENTS=(etcd kube-apiserver kube-controller-manager kube-scheduler kubelet)

pid_alive() {  # pid_alive NAME: the recorded process runs and is ours (its command line names the state dir)
  local f="$STATE/pids/$1.pid" pid
  [[ -f "$f" ]] || return 1
  pid="$(cat "$f")"
  [[ -n "$pid" && -r "/proc/$pid/cmdline" ]] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$STATE/"
}

# Free TCP ports on 127.0.0.1, chosen once per state dir and kept while they stay free; and the
# test bed's two /16s on loopback: Services 127.(96+NET_INDEX).0.0/16, pods 127.(20+NET_INDEX).0.0/16
# (NET_INDEX 0..63), so that test beds running side by side never share an address. An index is
# taken when its `kubernetes` Service address (.0.1:443, where a running harness listens) is free.
ports() {
  local f="$STATE/ports.env"
  if [[ -f "$f" ]]; then
    # shellcheck disable=SC1090
    . "$f"
    SERVICE_CIDR="127.$((96 + NET_INDEX)).0.0/16" POD_CIDR="127.$((20 + NET_INDEX)).0.0/16"
    if pid_alive etcd || pid_alive kube-apiserver; then return 0; fi  # a partial restart: keep them
    if "$PY" - "$ETCD_CLIENT_PORT" "$ETCD_PEER_PORT" "$APISERVER_PORT" <<'PYEOF'; then return 0; fi
import socket, sys
for p in sys.argv[1:]:
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try: s.bind(("127.0.0.1", int(p)))
    except OSError: sys.exit(1)
    finally: s.close()
PYEOF
  fi
  "$PY" - "${NET_INDEX:-}" >"$f" <<'PYEOF'
import random, socket, sys
socks = [socket.socket() for _ in range(3)]
for s in socks: s.bind(("127.0.0.1", 0))
names = ["ETCD_CLIENT_PORT", "ETCD_PEER_PORT", "APISERVER_PORT"]
for n, s in zip(names, socks): print(f"{n}={s.getsockname()[1]}")
def free(i):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try: s.bind((f"127.{96 + i}.0.1", 443)); return True
    except OSError: return False
    finally: s.close()
keep = sys.argv[1]
order = ([int(keep)] if keep else []) + random.sample(range(64), 64)
print(f"NET_INDEX={next((i for i in order if free(i)), order[0])}")
PYEOF
  # shellcheck disable=SC1090
  . "$f"
  SERVICE_CIDR="127.$((96 + NET_INDEX)).0.0/16" POD_CIDR="127.$((20 + NET_INDEX)).0.0/16"
}

certs() {
  local d="$STATE/pki"
  [[ -f "$d/done" ]] && return 0
  mkdir -p "$d"
  (
    cd "$d"
    openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 3650 \
      -subj "/CN=redkube-testbed-ca" 2>/dev/null
    sign() {  # sign NAME SUBJECT [EXTFILE]
      openssl req -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.csr" -subj "$2" 2>/dev/null
      openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -out "$1.crt" -days 3650 \
        ${3:+-extfile "$3"} 2>/dev/null
      rm -f "$1.csr"
    }
    cat >apiserver.ext <<EXT
basicConstraints=CA:FALSE
keyUsage=digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=IP:127.0.0.1,DNS:localhost,IP:${SERVICE_CIDR%.*/*}.1,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local
EXT
    cat >client.ext <<EXT
basicConstraints=CA:FALSE
keyUsage=digitalSignature,keyEncipherment
extendedKeyUsage=clientAuth
EXT
    sign apiserver "/CN=kube-apiserver" apiserver.ext
    sign admin "/O=system:masters/CN=admin" client.ext
    sign controller-manager "/CN=system:kube-controller-manager" client.ext
    sign scheduler "/CN=system:kube-scheduler" client.ext
    openssl genrsa -out sa.key 2048 2>/dev/null
    openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
    chmod 600 ./*.key
    touch done
  )
}

kubeconfig() {  # kubeconfig FILE CERTNAME
  cat >"$1" <<KC
apiVersion: v1
kind: Config
clusters:
- name: testbed
  cluster: {server: "https://127.0.0.1:$APISERVER_PORT", certificate-authority: "$STATE/pki/ca.crt"}
users:
- name: $2
  user: {client-certificate: "$STATE/pki/$2.crt", client-key: "$STATE/pki/$2.key"}
contexts:
- name: testbed
  context: {cluster: testbed, user: $2, namespace: default}
current-context: testbed
KC
}

start() {  # start NAME ARGV...: in its own session, log and pid in the state dir
  local name="$1"; shift
  if pid_alive "$name"; then return 0; fi
  setsid "$@" >>"$STATE/logs/$name.log" 2>&1 </dev/null &
  echo $! >"$STATE/pids/$name.pid"
}

wait_until() {  # wait_until SECONDS WHAT COMMAND...: polls every 0.2 s
  local deadline=$((SECONDS + $1)) what="$2"; shift 2
  until "$@" >/dev/null 2>&1; do
    if ((SECONDS >= deadline)); then die "timed out after ${deadline}s waiting for $what (logs: $STATE/logs)"; fi
    sleep 0.2
  done
}

kc() { "$BIN/kubectl" --kubeconfig "$KUBECONFIG_FILE" "$@"; }

nodes_ready() {
  local out
  out="$(kc get nodes -o jsonpath='{range .items[*]}{.metadata.name}={.status.conditions[?(@.type=="Ready")].status}/{.spec.taints}{"\n"}{end}')" || return 1
  [[ "$(grep -c '=True/$' <<<"$out")" -ge 3 ]]
}

cmd_up() {
  local t0=$SECONDS
  cmd_build
  mkdir -p "$STATE"/{pids,logs,etcd,pods,volumes}
  STATE="$(cd "$STATE" && pwd)"
  KUBECONFIG_FILE="$STATE/kubeconfig"
  if pid_alive kube-apiserver && pid_alive kubelet && [[ -f "$KUBECONFIG_FILE" ]]; then
    log "already up"
    cmd_env
    return 0
  fi
  ports
  certs
  kubeconfig "$KUBECONFIG_FILE" admin
  kubeconfig "$STATE/controller-manager.kubeconfig" controller-manager
  kubeconfig "$STATE/scheduler.kubeconfig" scheduler
  local pki="$STATE/pki"
  start etcd "$BIN/etcd" --name testbed --data-dir "$STATE/etcd" \
    --listen-client-urls "http://127.0.0.1:$ETCD_CLIENT_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_CLIENT_PORT" \
    --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-cluster "testbed=http://127.0.0.1:$ETCD_PEER_PORT" --unsafe-no-fsync \
    --log-level warn
  start kube-apiserver "$BIN/kube-apiserver" --etcd-servers "http://127.0.0.1:$ETCD_CLIENT_PORT" \
    --bind-address 127.0.0.1 --secure-port "$APISERVER_PORT" --advertise-address 127.0.0.1 \
    --endpoint-reconciler-type none --service-cluster-ip-range "$SERVICE_CIDR" \
    --authorization-mode RBAC --client-ca-file "$pki/ca.crt" \
    --tls-cert-file "$pki/apiserver.crt" --tls-private-key-file "$pki/apiserver.key" \
    --service-account-issuer https://kubernetes.default.svc --service-account-key-file "$pki/sa.pub" \
    --service-account-signing-key-file "$pki/sa.key" --allow-privileged --profiling=false \
    --v 1
  wait_until 60 "kube-apiserver /readyz" kc get --raw /readyz
  start kube-controller-manager "$BIN/kube-controller-manager" --kubeconfig "$STATE/controller-manager.kubeconfig" \
    --authentication-kubeconfig "$STATE/controller-manager.kubeconfig" \
    --authorization-kubeconfig "$STATE/controller-manager.kubeconfig" \
    --controllers '*' --leader-elect=false --use-service-account-credentials \
    --service-account-private-key-file "$pki/sa.key" --root-ca-file "$pki/ca.crt" \
    --cluster-signing-cert-file "$pki/ca.crt" --cluster-signing-key-file "$pki/ca.key" \
    --secure-port 0 --node-monitor-grace-period 2m --profiling=false --v 1
  start kube-scheduler "$BIN/kube-scheduler" --kubeconfig "$STATE/scheduler.kubeconfig" \
    --authentication-kubeconfig "$STATE/scheduler.kubeconfig" --authorization-kubeconfig "$STATE/scheduler.kubeconfig" \
    --leader-elect=false --secure-port 0 --profiling=false --v 1
  start kubelet nice "$PY" "$REPO/tools/kube-testbed/kubelet.py" --server "https://127.0.0.1:$APISERVER_PORT" \
    --ca "$pki/ca.crt" --cert "$pki/admin.crt" --key "$pki/admin.key" --state-dir "$STATE" --repo "$REPO" --pod-cidr "$POD_CIDR" \
    --log "$STATE/logs/kubelet.log"
  kc apply -f - >/dev/null <<'SC'
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: local
  annotations: {storageclass.kubernetes.io/is-default-class: "true"}
provisioner: testbed.redkube.io/local
volumeBindingMode: WaitForFirstConsumer
reclaimPolicy: Delete
SC
  wait_until 90 "3 Ready, untainted nodes" nodes_ready
  wait_until 60 "the default ServiceAccount" kc -n default get serviceaccount default
  wait_until 60 "the kube-root-ca.crt ConfigMap" kc -n default get configmap kube-root-ca.crt
  log "up in $((SECONDS - t0)) s: API https://127.0.0.1:$APISERVER_PORT, Services $SERVICE_CIDR, pods $POD_CIDR, state $STATE"
  cmd_env
}

cmd_env() {
  echo "export KUBECONFIG=$KUBECONFIG_FILE"
}

cmd_down() {
  [[ -d "$STATE/pids" ]] || { log "nothing to stop in $STATE"; return 0; }
  STATE="$(cd "$STATE" && pwd)"
  local name pid i
  # the harness first (it stops the pods' processes), the control plane in reverse order
  for name in kubelet kube-scheduler kube-controller-manager kube-apiserver etcd; do
    if pid_alive "$name"; then
      pid="$(cat "$STATE/pids/$name.pid")"
      kill -TERM "$pid" 2>/dev/null || true
      for ((i = 0; i < 300; i++)); do
        [[ -d "/proc/$pid" ]] || break
        sleep 0.1
      done
      if [[ -d "/proc/$pid" ]]; then
        log "$name ($pid) did not stop in 30 s: SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
      fi
    fi
    rm -f "$STATE/pids/$name.pid"
  done
  log "down ($STATE)"
}

main() {
  cmd="${1:-}"
  case "$cmd" in
    build) cmd_build ;;
    up) cmd_up ;;
    down) cmd_down ;;
    env) STATE="$(cd "$STATE" 2>/dev/null && pwd || echo "$STATE")"; KUBECONFIG_FILE="$STATE/kubeconfig"; cmd_env ;;
    *) echo "usage: $0 build|up|down|env" >&2; exit 2 ;;
  esac
}

# one line: bash has read it whole before main runs, so editing this file during a long build
# cannot make the running copy read a changed file
main "$@"; exit $?
