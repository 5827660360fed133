#!/usr/bin/env bash
# Runs every benchmark program built in the given directory (default build/release/bench), one after another
# so that they do not compete for the two cores. Each prints its figures next to its baseline.
set -euo pipefail
dir=${1:-build/release/bench}
found=0
for b in "$dir"/*_bench; do
  [ -x "$b" ] || continue
  found=1
  echo "=== $(basename "$b")"
  "$b"
  echo
done
[ "$found" = 1 ] || { echo "bench/run.sh: no *_bench programs in $dir" >&2; exit 1; }
