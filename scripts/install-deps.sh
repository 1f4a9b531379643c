#!/usr/bin/env bash
# Installs every system dependency of redkube from Debian's packages.
# Idempotent: does nothing (not even `apt-get update`) when all are present.
set -euo pipefail

PACKAGES=(
  # build
  cmake ninja-build g++ pkg-config
  # libraries
  nlohmann-json3-dev libfmt-dev libspdlog-dev libcli11-dev libgtest-dev libcpp-httplib-dev libssl-dev
  libyaml-cpp-dev  # the operator reads kubeconfig files (YAML)
  # servers and tools the tests and benchmarks run for real
  redis-server redis-tools nutcracker etcd-server
  # integration tests
  python3 python3-pytest python3-redis curl
  nftables  # network partitions: nft rules on cgroup v2 groups (tests/integration/partition.py)
  # the Kubernetes test bed: its certificates (scripts/kube-testbed.sh)
  openssl
  # client-library workloads (tests/clients): ioredis, Jedis; go-redis uses
  # the image's Go toolchain (Debian's is older than go-redis needs)
  nodejs maven openjdk-17-jdk-headless
  # fuzzing: clang, and libFuzzer's runtime (only a Recommends of Debian 12's clang)
  clang libclang-rt-14-dev
  # scripts/lint.sh
  clang-format clang-tidy
)

missing=()
for p in "${PACKAGES[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done

if ((${#missing[@]} == 0)); then
  exit 0
fi

echo "installing: ${missing[*]}"
SUDO=""
[[ $(id -u) -eq 0 ]] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# policy-rc.d keeps the packages' own services (redis-server, nutcracker) from
# starting: redkube starts the servers it needs itself, on ports it chooses.
policy=/usr/sbin/policy-rc.d
created_policy=0
if [[ ! -e $policy ]]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee $policy >/dev/null
  $SUDO chmod +x $policy
  created_policy=1
fi
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
if ((created_policy)); then $SUDO rm -f $policy; fi
