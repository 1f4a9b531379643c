#!/usr/bin/env bash
# Runs the Kubernetes client layer's live tests (KubeLiveTest in kube_tests)
# against a real control plane it starts itself: etcd + kube-apiserver from the
# test bed's cached binaries, on 127.0.0.1 and free ports, with throwaway
# certificates. Everything it starts is stopped by PID on exit.
#
#   tests/kube/kube_client_check.sh [BUILD_DIR [GTEST_ARGS...]]     (default: build)
# Binaries: $REDKUBE_KUBE_BIN, else ${REDKUBE_CACHE:-~/.cache/redkube}/kube/v1.37.2/bin
# (scripts/kube-testbed.sh builds them).
set -euo pipefail

REPO=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${1:-$REPO/build}
shift || true
KUBE_VERSION=v1.37.2
BIN=${REDKUBE_KUBE_BIN:-${REDKUBE_CACHE:-$HOME/.cache/redkube}/kube/$KUBE_VERSION/bin}
TESTS=$BUILD/bin/kube_tests

for b in etcd kube-apiserver; do
  [[ -x $BIN/$b ]] || { echo "no $BIN/$b: run scripts/kube-testbed.sh once to build the binaries" >&2; exit 2; }
done
[[ -x $TESTS ]] || { echo "no $TESTS: ninja -C $BUILD kube_tests" >&2; exit 2; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/kube-client-check.XXXXXX")
PIDS=()
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do
    # Bounded: a process that ignores SIGTERM for 10 s gets SIGKILL.
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  done
  if [[ ${KEEP_WORK:-0} == 1 ]]; then echo "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# Certificates: a CA, the apiserver's serving certificate (127.0.0.1), an admin
# client in system:masters, a service-account key pair.
pki=$WORK/pki
mkdir -p "$pki"
(
  cd "$pki"
  openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 2 -subj "/CN=kube-client-check-ca" 2>/dev/null
  sign() {  # name subject [extfile]
    openssl req -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.csr" -subj "$2" 2>/dev/null
    openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -out "$1.crt" -days 2 ${3:+-extfile "$3"} 2>/dev/null
  }
  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' >apiserver.ext
  sign apiserver "/CN=kube-apiserver" apiserver.ext
  printf 'extendedKeyUsage=clientAuth\n' >client.ext
  sign admin "/O=system:masters/CN=kube-client-check" client.ext
  openssl genrsa -out sa.key 2048 2>/dev/null
  openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
)

ETCD_PORT=$(free_port)
ETCD_PEER_PORT=$(free_port)
API_PORT=$(free_port)

"$BIN/etcd" --name check --data-dir "$WORK/etcd" \
  --listen-client-urls "http://127.0.0.1:$ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
  --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
  --initial-cluster "check=http://127.0.0.1:$ETCD_PEER_PORT" --listen-metrics-urls "" --unsafe-no-fsync \
  --log-level warn >"$WORK/etcd.log" 2>&1 &
PIDS+=($!)

"$BIN/kube-apiserver" --etcd-servers "http://127.0.0.1:$ETCD_PORT" \
  --bind-address 127.0.0.1 --secure-port "$API_PORT" --advertise-address 127.0.0.1 \
  --endpoint-reconciler-type none --service-cluster-ip-range 10.0.0.0/24 \
  --authorization-mode RBAC --client-ca-file "$pki/ca.crt" \
  --tls-cert-file "$pki/apiserver.crt" --tls-private-key-file "$pki/apiserver.key" \
  --service-account-issuer https://kubernetes.default.svc --service-account-key-file "$pki/sa.pub" \
  --service-account-signing-key-file "$pki/sa.key" --profiling=false \
  --cert-dir "$WORK/apiserver-generated" --v 1 >"$WORK/apiserver.log" 2>&1 &
PIDS+=($!)
API_PID=$!

ready=0
for _ in $(seq 600); do  # 60 s
  if curl -sf --cacert "$pki/ca.crt" --cert "$pki/admin.crt" --key "$pki/admin.key" \
      "https://127.0.0.1:$API_PORT/readyz" >/dev/null 2>&1; then
    ready=1
    break
  fi
  kill -0 "$API_PID" 2>/dev/null || break
  sleep 0.1
done
if ((!ready)); then
  echo "kube-apiserver did not become ready; its log:" >&2
  tail -30 "$WORK/apiserver.log" >&2
  exit 1
fi

# One kubeconfig as kubectl writes them with embedded data (YAML, base64), one
# as JSON with file paths (relative to the kubeconfig's directory).
b64() { base64 -w0 <"$1"; }
cat >"$WORK/live.yaml" <<YAML
apiVersion: v1
kind: Config
current-context: check
clusters:
- name: check
  cluster:
    server: https://127.0.0.1:$API_PORT
    certificate-authority-data: $(b64 "$pki/ca.crt")
contexts:
- name: check
  context: {cluster: check, user: admin, namespace: default}
users:
- name: admin
  user:
    client-certificate-data: $(b64 "$pki/admin.crt")
    client-key-data: $(b64 "$pki/admin.key")
YAML
cat >"$WORK/live-files.json" <<JSON
{"apiVersion": "v1", "kind": "Config", "current-context": "check",
 "clusters": [{"name": "check", "cluster": {"server": "https://127.0.0.1:$API_PORT", "certificate-authority": "pki/ca.crt"}}],
 "contexts": [{"name": "check", "context": {"cluster": "check", "user": "admin"}}],
 "users": [{"name": "admin", "user": {"client-certificate": "pki/admin.crt", "client-key": "pki/admin.key"}}]}
JSON

echo "kube-apiserver ready on 127.0.0.1:$API_PORT (etcd 127.0.0.1:$ETCD_PORT); running KubeLiveTest"
KUBECONFIG_LIVE=$WORK/live.yaml KUBECONFIG_LIVE_FILES=$WORK/live-files.json \
  "$TESTS" --gtest_filter='KubeLiveTest.*' "$@"
