#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan+UBSan) into build-fuzz/ and
# runs each for FUZZ_SECONDS (default 60), from libFuzzer's seed FUZZ_SEED
# (default 0: a random one each run). A crash fails the run and leaves its
# input in build-fuzz/fuzz-crashes/ (make it a unit test).
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ ! -f build-fuzz/build.ninja ]]; then
  CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DREDKUBE_FUZZ=ON \
    -DREDKUBE_FUZZ_SECONDS="${FUZZ_SECONDS:-60}" >/dev/null
fi
cmake -B build-fuzz -DREDKUBE_FUZZ_SECONDS="${FUZZ_SECONDS:-60}" -DREDKUBE_FUZZ_SEED="${FUZZ_SEED:-0}" >/dev/null
ninja -C build-fuzz fuzz
