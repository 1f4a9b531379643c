#!/usr/bin/env bash
# The main job until the C++ `redkube up` lands (issue #5): installs what is
# missing, builds, and runs in the foreground the same topology the local
# runtime will: one etcd, two ConfigServers, three shards of one master and
# one replica each (AOF on), and two proxies (6380, 6381) that follow the
# ConfigServer. The steps are the creation workflow of ARCHITECTURE.md.
# Ctrl-C stops everything; the data stays in .redkube/demo.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh

NAME=demo
DIR=${REDKUBE_DIR:-.redkube}/$NAME
PROXY_PORT=${PROXY_PORT:-6380}
PROXY_PORTS=("$PROXY_PORT" $((PROXY_PORT + 1)))
ETCD_PORT=$((PROXY_PORT + 10))
ETCD_PEER_PORT=$((PROXY_PORT + 11))
CS_PORTS=($((PROXY_PORT + 20)) $((PROXY_PORT + 21)))
SHARDS=3
REPLICAS=1
server_port() { echo $((PROXY_PORT + 100 + $1 * 10 + $2)); }  # shard, member

all_ports=("${PROXY_PORTS[@]}" "$ETCD_PORT" "$ETCD_PEER_PORT" "${CS_PORTS[@]}")
for ((i = 0; i < SHARDS; i++)); do
  for ((j = 0; j <= REPLICAS; j++)); do all_ports+=("$(server_port $i $j)"); done
done
for port in "${all_ports[@]}"; do
  if (exec 3<>/dev/tcp/127.0.0.1/"$port") 2>/dev/null; then
    echo "port $port on 127.0.0.1 is already in use (is redkube already up?); stop what uses it or set PROXY_PORT" >&2
    exit 1
  fi
done
mkdir -p "$DIR"
DIR=$(realpath "$DIR")

# The cluster password, generated once and kept like a Secret (mode 0600).
if [[ ! -s "$DIR/password" ]]; then
  (umask 077 && head -c 18 /dev/urandom | base64 | tr -d '/+=' > "$DIR/password")
fi
PASSWORD=$(cat "$DIR/password")

pids=()
cleanup() {
  trap - INT TERM EXIT
  echo
  echo "stopping (data kept in $DIR)"
  for ((k = ${#pids[@]} - 1; k >= 0; k--)); do kill "${pids[$k]}" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup INT TERM EXIT

wait_for() {  # what, command...: retries the command for up to 20 s
  local what=$1
  shift
  for _ in $(seq 200); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.1
  done
  echo "timed out waiting for $what" >&2
  exit 1
}
ping_redis() { redis-cli -p "$1" -a "$PASSWORD" --no-auth-warning ping | grep -q PONG; }
api() { curl -sf -X "$1" "http://127.0.0.1:${CS_PORTS[0]}$2" ${3:+-d "$3"}; }

step() { echo "==> $*"; }

step "etcd on 127.0.0.1:$ETCD_PORT"
etcd --name "$NAME" --data-dir "$DIR/etcd" \
  --listen-client-urls "http://127.0.0.1:$ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
  --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
  --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
  --initial-cluster "$NAME=http://127.0.0.1:$ETCD_PEER_PORT" >>"$DIR/etcd.log" 2>&1 &
pids+=($!)
wait_for etcd curl -sf "http://127.0.0.1:$ETCD_PORT/health"

step "ConfigServers on ${CS_PORTS[*]}"
for port in "${CS_PORTS[@]}"; do
  build/bin/redkube-configserver --etcd "http://127.0.0.1:$ETCD_PORT" --listen "127.0.0.1:$port" \
    --password-file "$DIR/password" 2>>"$DIR/configserver-$port.log" &
  pids+=($!)
  wait_for "ConfigServer $port" curl -sf "http://127.0.0.1:$port/healthz"
done

step "start every shard's servers ($SHARDS shards x $((REPLICAS + 1)))"
for ((i = 0; i < SHARDS; i++)); do
  for ((j = 0; j <= REPLICAS; j++)); do
    port=$(server_port $i $j)
    data="$DIR/shard-$i-$j"
    mkdir -p "$data"
    redis-server --port "$port" --bind 127.0.0.1 --dir "$data" \
      --appendonly yes --appendfsync everysec --save "" --repl-diskless-sync-delay 0 \
      --requirepass "$PASSWORD" --masterauth "$PASSWORD" --logfile "$data/redis.log" &
    pids+=($!)
  done
done
step "wait until all answer"
for ((i = 0; i < SHARDS; i++)); do
  for ((j = 0; j <= REPLICAS; j++)); do wait_for "redis-server $(server_port $i $j)" ping_redis "$(server_port $i $j)"; done
done

step "register them with the ConfigServer (it sets up replication)"
api POST /v1/clusters "{\"name\": \"$NAME\", \"shards\": $SHARDS}" >/dev/null || true  # exists on restart
for ((i = 0; i < SHARDS; i++)); do
  nodes="\"127.0.0.1:$(server_port $i 0)\""
  for ((j = 1; j <= REPLICAS; j++)); do nodes+=", \"127.0.0.1:$(server_port $i $j)\""; done
  api PUT "/v1/clusters/$NAME/shards/shard-$i" "{\"nodes\": [$nodes]}" >/dev/null
done

step "wait for replicas in sync"
replicas_in_sync() {
  api GET "/v1/clusters/$NAME/topology" | /usr/bin/python3 -c "
import json, sys
t = json.load(sys.stdin)
sys.exit(0 if all(len(s['replicas']) == $REPLICAS for s in t['shards']) else 1)"
}
wait_for "replicas in sync" replicas_in_sync

step "start the proxies on ${PROXY_PORTS[*]}"
cs_urls="http://127.0.0.1:${CS_PORTS[0]},http://127.0.0.1:${CS_PORTS[1]}"
for port in "${PROXY_PORTS[@]}"; do
  build/bin/redkube-proxy --port "$port" --configserver "$cs_urls" --cluster "$NAME" \
    --password-file "$DIR/password" 2>>"$DIR/proxy-$port.log" &
  pids+=($!)
  wait_for "proxy $port" ping_redis "$port"
done

cat <<BANNER

redkube is ready: $SHARDS shards x $((REPLICAS + 1)) servers, 2 ConfigServers, 2 proxies.
  connect:   redis-cli -p $PROXY_PORT -a \$(cat $DIR/password)
  topology:  curl -s http://127.0.0.1:${CS_PORTS[0]}/v1/clusters/$NAME
  logs:      $DIR/*.log, $DIR/shard-*/redis.log
  stop:      Ctrl-C (data is kept in $DIR)
BANNER
wait
