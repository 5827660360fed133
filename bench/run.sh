#!/usr/bin/env bash
# Runs every benchmark program built in the given directory (default build/release/bench), one after another
# so that they do not compete for the two cores. Each prints its figures next to its baseline. A program that
# misses a target (or fails) exits non-zero; the others still run, and this script then exits 1.
set -euo pipefail
dir=${1:-build/release/bench}
found=0
failed=()
for b in "$dir"/*_bench; do
  [ -x "$b" ] || continue
  found=1
  echo "=== $(basename "$b")"
  "$b" || failed+=("$(basename "$b")")
  echo
done
[ "$found" = 1 ] || { echo "bench/run.sh: no *_bench programs in $dir" >&2; exit 1; }
if [ ${#failed[@]} -gt 0 ]; then
  echo "bench/run.sh: missed a target or failed: ${failed[*]}" >&2
  exit 1
fi
