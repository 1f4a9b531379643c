#!/usr/bin/env bash
# The main job: installs what is missing (Debian packages), builds, and runs
# `redkube up` (defaults: cluster "demo", 3 shards x (master + replica), 2
# proxies on 6380 and 6381, data in ./.redkube). Arguments go to `redkube up`
# (e.g. --detach, --shards 4, --port 7380).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
exec build/bin/redkube up "$@"
