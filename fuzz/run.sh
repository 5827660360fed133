#!/usr/bin/env bash
# Runs each libFuzzer target in DIR for SECONDS on a scratch copy of its seed corpus (fuzz/corpus/<name>/ for
# the target <name>_fuzz).
# A crash leaves its input in build/fuzz-artifacts/ and fails the run.
set -euo pipefail
dir=${1:?usage: fuzz/run.sh BUILD_FUZZ_DIR SECONDS}
seconds=${2:-60}
root=$(cd "$(dirname "$0")/.." && pwd)
artifacts="$root/build/fuzz-artifacts"
mkdir -p "$artifacts"
found=0
for target in "$dir"/*_fuzz; do
  [ -x "$target" ] || continue
  found=1
  name=$(basename "$target")
  work="$root/build/fuzz-corpus/$name"
  seeds="$root/fuzz/corpus/${name%_fuzz}"   # csv_reader_fuzz -> fuzz/corpus/csv_reader
  mkdir -p "$work"
  if [ -d "$seeds" ]; then cp -n "$seeds"/* "$work"/ 2>/dev/null || true; fi
  echo "=== fuzz: $name for ${seconds}s"
  "$target" "$work" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -artifact_prefix="$artifacts/$name-" -print_final_stats=1 2>&1 | tail -n 12
  echo "fuzz: $name: no crash in ${seconds}s"
done
[ "$found" = 1 ] || { echo "fuzz/run.sh: no *_fuzz targets in $dir" >&2; exit 1; }
