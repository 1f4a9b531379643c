#!/usr/bin/env bash
# Checks the C/C++ files a change touches: clang-format (the root
# .clang-format, no rewriting: --dry-run --Werror) over the .cc/.h files,
# and clang-tidy (the root .clang-tidy, with build/compile_commands.json) over
# the .cc files. Exit status non-zero when either finds something.
#
# "Touched": changed between a base and the working tree (untracked files
# included). The base is $LINT_BASE if set, else `git merge-base HEAD
# origin/main` if that ref exists and HEAD is ahead of it, else HEAD~1 (CI
# runs on a fresh clone of main, where origin/main is HEAD: there it checks
# the newest commit's files). LINT_ALL=1 checks every
# file. Run scripts/build.sh first (clang-tidy needs the compile database and
# the generated sources it names).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}

for tool in clang-format clang-tidy; do
  command -v "$tool" >/dev/null || { echo "lint: $tool is missing (scripts/install-deps.sh installs it)" >&2; exit 2; }
done

patterns=('*.cc' '*.h')
if [[ "${LINT_ALL:-0}" == 1 ]]; then
  mapfile -t files < <(git ls-files -- "${patterns[@]}")
else
  if [[ -n "${LINT_BASE:-}" ]]; then
    base=$LINT_BASE
  elif git rev-parse --verify -q origin/main >/dev/null &&
    [[ "$(git merge-base HEAD origin/main)" != "$(git rev-parse HEAD)" ]]; then
    base=$(git merge-base HEAD origin/main)
  elif git rev-parse --verify -q HEAD~1 >/dev/null; then
    base=HEAD~1
  else
    base=$(git hash-object -t tree /dev/null)  # a first commit: every file
  fi
  # Deleted files have nothing left to check.
  mapfile -t files < <({
    git diff --name-only --diff-filter=d "$base" -- "${patterns[@]}"
    git ls-files --others --exclude-standard -- "${patterns[@]}"
  } | sort -u)
fi

if ((${#files[@]} == 0)); then
  echo "lint: no C/C++ files changed"
  exit 0
fi

status=0
echo "lint: clang-format on ${#files[@]} files"
clang-format --dry-run --Werror "${files[@]}" || status=1

# clang-tidy needs each file's compile command: the .cc files of this build
# (the fuzz targets are in build-fuzz/ only, and are skipped here).
if [[ ! -f "$BUILD_DIR/compile_commands.json" ]]; then
  echo "lint: $BUILD_DIR/compile_commands.json is missing; run scripts/build.sh first" >&2
  exit 2
fi
tidy=()
for f in "${files[@]}"; do
  [[ "$f" == *.cc ]] || continue
  if grep -q "\"file\": \"$PWD/$f\"" "$BUILD_DIR/compile_commands.json"; then
    tidy+=("$f")
  else
    echo "lint: $f is not in $BUILD_DIR/compile_commands.json; clang-tidy skips it"
  fi
done
if ((${#tidy[@]} > 0)); then
  echo "lint: clang-tidy on ${#tidy[@]} files"
  # One process per core. clang-tidy counts the warnings it suppressed (in
  # system headers, checks not enabled) on stderr, even with --quiet: those
  # lines are dropped, everything else is shown.
  printf '%s\n' "${tidy[@]}" |
    xargs -P "$(nproc)" -I{} bash -c \
      'out=$(clang-tidy --quiet -p "$1" "$2" 2>&1); rc=$?; grep -v -e "warnings\? generated\.$" -e "^$" <<<"$out"; exit $rc' \
      _ "$BUILD_DIR" {} || status=1
fi
exit $status
