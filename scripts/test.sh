#!/usr/bin/env bash
# Installs what is missing, builds, lints the touched files (scripts/lint.sh),
# and runs every test: the C++ unit tests
# (ctest) and the integration tests against real redis-servers (pytest);
# then all of them again under AddressSanitizer + UndefinedBehaviorSanitizer
# (build-asan/), and the libFuzzer targets for a bounded time (build-fuzz/).
# The Kubernetes tests (tests/kube: the operator on a real control plane,
# docs/kube-testbed.md) run once, on the regular build.
# SKIP_SANITIZERS=1 / SKIP_FUZZ=1 / SKIP_KUBE=1 leave those out (quicker local runs).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
echo "== lint (the files this change touches)"
bash scripts/lint.sh
bash scripts/install-client-libs.sh
echo "== unit tests"
ctest --test-dir build --output-on-failure -j2
echo "== integration tests"
# Debian's interpreter: python3-redis and python3-pytest are installed for it.
# The partition tests (tests/integration/partition.py: nftables on cgroup v2,
# as root) are the proof of the failover's promise: here they must run, not
# skip (REDKUBE_REQUIRE_PARTITION=0 lets them skip on a machine without them).
export REDKUBE_REQUIRE_PARTITION="${REDKUBE_REQUIRE_PARTITION:-1}"
/usr/bin/python3 -m pytest tests/integration -q -p no:cacheprovider
if [[ "${SKIP_KUBE:-0}" != 1 ]]; then
  # A real control plane built from the Go module proxy, cached by version
  # (docs/kube-testbed.md): seconds when cached, ~6 min cold on an idle machine.
  echo "== Kubernetes: the test bed's binaries"
  bash scripts/kube-testbed.sh build
  echo "== Kubernetes tests: the API client against a real kube-apiserver, the test bed, the operator"
  bash tests/kube/kube_client_check.sh build
  /usr/bin/python3 -m pytest tests/kube -q -p no:cacheprovider
fi
if [[ "${SKIP_SANITIZERS:-0}" != 1 ]]; then
  echo "== every test again under ASan+UBSan"
  bash scripts/test-sanitizers.sh
fi
if [[ "${SKIP_FUZZ:-0}" != 1 ]]; then
  # A fixed seed: the test command's result does not depend on the draw.
  # Exploring is `bash scripts/fuzz.sh` alone (a new seed each run).
  echo "== fuzzing (${FUZZ_SECONDS:-30} s per target, seed ${FUZZ_SEED:-1})"
  FUZZ_SECONDS="${FUZZ_SECONDS:-30}" FUZZ_SEED="${FUZZ_SEED:-1}" bash scripts/fuzz.sh
fi
