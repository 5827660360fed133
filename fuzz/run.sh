#!/usr/bin/env bash
# Runs each libFuzzer target in DIR for SECONDS on a scratch copy of its seed corpus (fuzz/corpus/<name>/ for
# the target <name>_fuzz), FUZZ_JOBS targets at a time (default: one per core; each target is one process, so
# each still gets a whole core for its SECONDS).
# A crash leaves its input in build/fuzz-artifacts/ and fails the run (after the other targets finish).
set -euo pipefail
dir=${1:?usage: fuzz/run.sh BUILD_FUZZ_DIR SECONDS}
seconds=${2:-60}
jobs=${FUZZ_JOBS:-$(nproc)}
root=$(cd "$(dirname "$0")/.." && pwd)
artifacts="$root/build/fuzz-artifacts"
logs="$root/build/fuzz-logs"
mkdir -p "$artifacts" "$logs"

targets=()
for target in "$dir"/*_fuzz; do
  [ -x "$target" ] && targets+=("$target")
done
[ ${#targets[@]} -gt 0 ] || { echo "fuzz/run.sh: no *_fuzz targets in $dir" >&2; exit 1; }

# fuzz_one TARGET: runs it with its output in build/fuzz-logs/<name>.log; the exit status is libFuzzer's.
fuzz_one() {
  local target=$1 name work seeds
  name=$(basename "$target")
  work="$root/build/fuzz-corpus/$name"
  seeds="$root/fuzz/corpus/${name%_fuzz}"   # csv_reader_fuzz -> fuzz/corpus/csv_reader
  mkdir -p "$work"
  if [ -d "$seeds" ]; then cp -n "$seeds"/* "$work"/ 2>/dev/null || true; fi
  "$target" "$work" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -artifact_prefix="$artifacts/$name-" -print_final_stats=1 >"$logs/$name.log" 2>&1
}

# report PID STATUS: prints the finished target's last lines and verdict.
declare -A name_of
failed=()
report() {
  local name=${name_of[$1]}
  echo "=== fuzz: $name (${seconds}s)"
  tail -n 12 "$logs/$name.log"
  if [ "$2" -eq 0 ]; then
    echo "fuzz: $name: no crash in ${seconds}s"
  else
    echo "fuzz: $name: FAILED (exit $2); full output in $logs/$name.log, input in $artifacts/"
    failed+=("$name")
  fi
}

running=0
for target in "${targets[@]}"; do
  if [ "$running" -ge "$jobs" ]; then
    status=0; wait -n -p pid || status=$?
    report "$pid" "$status"
    running=$((running - 1))
  fi
  echo "fuzz: starting $(basename "$target") for ${seconds}s"
  fuzz_one "$target" &
  name_of[$!]=$(basename "$target")
  running=$((running + 1))
done
while [ "$running" -gt 0 ]; do
  status=0; wait -n -p pid || status=$?
  report "$pid" "$status"
  running=$((running - 1))
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz/run.sh: crashed or failed: ${failed[*]}" >&2
  exit 1
fi
