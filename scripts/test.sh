#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test: the C++ unit tests
# (ctest) and the integration tests against real redis-servers (pytest).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
bash scripts/install-client-libs.sh
echo "== unit tests"
ctest --test-dir build --output-on-failure -j2
echo "== integration tests"
# Debian's interpreter: python3-redis and python3-pytest are installed for it.
/usr/bin/python3 -m pytest tests/integration -q -p no:cacheprovider
