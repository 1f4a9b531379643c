#!/usr/bin/env bash
# The main job until `redkube up` lands: installs what is missing, builds, and
# runs three redis-server shards with redkube-proxy in front, in the
# foreground. Ctrl-C stops everything; the data stays in .redkube/demo.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh

NAME=demo
DIR=${REDKUBE_DIR:-.redkube}/$NAME
PROXY_PORT=${PROXY_PORT:-6380}
SHARD_PORTS=(7001 7002 7003)
mkdir -p "$DIR"

for port in "$PROXY_PORT" "${SHARD_PORTS[@]}"; do
  if (exec 3<>/dev/tcp/127.0.0.1/"$port") 2>/dev/null; then
    echo "port $port on 127.0.0.1 is already in use; stop what uses it or set PROXY_PORT" >&2
    exit 1
  fi
done

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
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup INT TERM EXIT

slots=("[[0, 5460]]" "[[5461, 10922]]" "[[10923, 16383]]")
shards_json=""
for i in 0 1 2; do
  port=${SHARD_PORTS[$i]}
  mkdir -p "$DIR/shard-$i"
  redis-server --port "$port" --bind 127.0.0.1 --dir "$(realpath "$DIR/shard-$i")" \
    --appendonly yes --appendfsync everysec --save "" \
    --requirepass "$PASSWORD" --masterauth "$PASSWORD" \
    --logfile "$(realpath "$DIR/shard-$i")/redis.log" &
  pids+=($!)
  shards_json+="${shards_json:+, }{\"id\": \"shard-$i\", \"master\": \"127.0.0.1:$port\", \"replicas\": [], \"slots\": ${slots[$i]}}"
done
echo "{\"cluster\": \"$NAME\", \"epoch\": 1, \"shards\": [$shards_json], \"migrations\": []}" > "$DIR/topology.json"

for port in "${SHARD_PORTS[@]}"; do
  for _ in $(seq 100); do
    redis-cli -p "$port" -a "$PASSWORD" --no-auth-warning ping 2>/dev/null | grep -q PONG && break
    sleep 0.1
  done
  echo "shard on 127.0.0.1:$port is up"
done

build/bin/redkube-proxy --port "$PROXY_PORT" --topology "$DIR/topology.json" \
  --password-file "$DIR/password" 2>>"$DIR/proxy.log" &
pids+=($!)
for _ in $(seq 100); do
  redis-cli -p "$PROXY_PORT" -a "$PASSWORD" --no-auth-warning ping 2>/dev/null | grep -q PONG && break
  sleep 0.1
done

cat <<BANNER

redkube is ready: 3 shards behind redkube-proxy.
  connect:  redis-cli -p $PROXY_PORT -a \$(cat $DIR/password)
  logs:     $DIR/proxy.log, $DIR/shard-*/redis.log
  stop:     Ctrl-C (data is kept in $DIR)
BANNER
wait
