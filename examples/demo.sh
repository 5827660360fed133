#!/usr/bin/env bash
# The `make run` walkthrough: what Veil does today, on real data, step by step.
# VEIL points at the built binary (the Makefile sets it).
set -uo pipefail
VEIL=${VEIL:-build/release/tools/veil/veil}
cd "$(dirname "$0")/.."
ADULT=../shared/data/adult/adult.csv
mkdir -p build/demo

bold() { if [ -t 1 ]; then printf '\033[1m%s\033[0m\n' "$*"; else printf '%s\n' "$*"; fi; }
step() { echo; bold "── $*"; }
show() { printf '$ %s\n' "$*"; "$@"; }

bold "Veil: a privacy engine for AI automation"
echo "This walkthrough shows what works today. Each step prints the command it runs."

step "1. The veil command"
show "$VEIL" --version

step "2. Inspect a sensitive table before anything touches it (examples/data/patients.csv, 300 synthetic patients)"
echo "Veil streams the CSV, infers each column's type over the whole file, and profiles every column."
show "$VEIL" inspect examples/data/patients.csv

step "3. The same on a real public dataset: UCI Adult (48,842 census records)"
if [ -f "$ADULT" ]; then
  show "$VEIL" inspect "$ADULT"
  echo
  echo "With --json the same profile is one JSON document, for scripts and dashboards:"
  printf '$ %s\n' "$VEIL inspect $ADULT --json --top 2 > build/demo/adult-profile.json"
  "$VEIL" inspect "$ADULT" --json --top 2 > build/demo/adult-profile.json
  echo "(wrote build/demo/adult-profile.json, $(wc -c < build/demo/adult-profile.json) bytes; it begins:)"
  head -n 14 build/demo/adult-profile.json
else
  echo "skipped: $ADULT not found (it ships in ../shared/data beside the repository)"
fi

step "4. Bad input gets a clear error naming file, line and column, and a non-zero exit code"
printf 'id,age,city\n1,34,Lyon\n2,"41,Paris\n' > build/demo/unterminated.csv
echo "build/demo/unterminated.csv:"; sed 's/^/    /' build/demo/unterminated.csv
show "$VEIL" inspect build/demo/unterminated.csv
echo "(exit code $?: 2 means bad input)"
printf 'id,age\n1,34\n2,forty-one\n' > build/demo/mistyped.csv
echo "build/demo/mistyped.csv:"; sed 's/^/    /' build/demo/mistyped.csv
show "$VEIL" inspect build/demo/mistyped.csv --type age=int64
echo "(exit code $?)"

step "What comes next"
cat <<'TXT'
Today: the foundation (build, crypto primitives with standard test vectors, the columnar table and CSV reader).
Next, in issue order: the encrypted workspace with per-subject keys and the Merkle audit log; differential
privacy; PII discovery and pseudonymization; anonymization; homomorphic encryption; synthetic data; private ML;
federated learning; governance. Each extends this walkthrough when it lands.
TXT
