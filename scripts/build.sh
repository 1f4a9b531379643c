#!/usr/bin/env bash
# Configures and builds redkube with CMake + Ninja into build/ (or $BUILD_DIR).
# Extra arguments go to cmake's configure step (e.g. -DREDKUBE_SANITIZE=ON).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
if [[ ! -f "$BUILD_DIR/build.ninja" || $# -gt 0 ]]; then
  cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=${BUILD_TYPE:-RelWithDebInfo} "$@" >/dev/null
fi
ninja -C "$BUILD_DIR" ${NINJA_FLAGS:-}
