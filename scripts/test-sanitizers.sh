#!/usr/bin/env bash
# Builds redkube with AddressSanitizer + UndefinedBehaviorSanitizer into
# build-asan/ and runs every test against those binaries. Any sanitizer
# report from any process (the tests start many: proxies, ConfigServers,
# redkube up's supervisor) fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."
# -O1 -g1: what the sanitizers' own docs advise (good stack traces, line
# tables only), and it compiles in about half the time of -O2 -g, which
# keeps CI well under its 90 minutes on 2 cores.
BUILD_DIR=build-asan BUILD_TYPE=RelWithDebInfo bash scripts/build.sh -DREDKUBE_SANITIZE=ON \
  "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -g1 -DNDEBUG"
bash scripts/install-client-libs.sh  # the integration tests drive real client libraries
reports=$(mktemp -d /tmp/redkube-sanitizer-XXXXXX)
export ASAN_OPTIONS="log_path=$reports/asan:detect_leaks=1:abort_on_error=0"
export UBSAN_OPTIONS="log_path=$reports/ubsan:print_stacktrace=1:halt_on_error=1"
export REDKUBE_BUILD_DIR=build-asan
echo "== unit tests (ASan+UBSan)"
ctest --test-dir build-asan --output-on-failure -j2
echo "== integration tests (ASan+UBSan)"
status=0
/usr/bin/python3 -m pytest tests/integration -q -p no:cacheprovider || status=$?
if compgen -G "$reports/*" >/dev/null; then
  echo "sanitizer reports:"
  for f in "$reports"/*; do echo "--- $f"; head -60 "$f"; done
  exit 1
fi
rm -rf "$reports"
exit $status
