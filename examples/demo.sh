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

step "5. A workspace: everything encrypted at rest, every use through the gate and into the audit log"
WS=build/demo/workspace
rm -rf "$WS" build/demo/vault-before-erasure
export VEIL_WORKSPACE=$WS VEIL_ACTOR=dana
unset VEIL_PASSPHRASE
echo "VEIL_WORKSPACE=$WS, and the actor is dana (VEIL_ACTOR), the data owner's engineer."
show "$VEIL" init

step "6. Ingest the patients: each patient's rows sealed with AES-256-GCM under that patient's own key"
show "$VEIL" ingest examples/data/patients.csv --dataset patients --subject-column patient_id \
  --purpose care --purpose research
show "$VEIL" datasets
echo
echo "No name, diagnosis or id is readable in the workspace files:"
printf '$ grep -rl "Nora Costa" %s || echo "(no file contains it)"\n' "$WS"
grep -rl "Nora Costa" "$WS" || echo "(no file contains it)"

step "7. The gate: roles and purposes decide, and say why"
show "$VEIL" grant alex analyst
show "$VEIL" grant ines auditor
echo "alex is an analyst: the catalog yes, raw records no."
show "$VEIL" --actor alex export patients --purpose research
echo "(exit code $?: 3 means refused)"
echo "dana owns the data, but an export must name a purpose declared for the dataset:"
show "$VEIL" export patients --purpose marketing
echo "(exit code $?)"
show "$VEIL" export patients --purpose research -o build/demo/patients-export.csv
echo "The first rows of the export:"
head -n 3 build/demo/patients-export.csv | cut -c1-110

step "8. Erasure (GDPR Art. 17) by crypto-shredding"
echo "Keep a copy of the vault files as they are now, as a backup or an attacker would:"
show cp -r "$WS/vault" build/demo/vault-before-erasure
show "$VEIL" erase --subject P00001
echo
echo "P00001 is gone from every answer:"
"$VEIL" export patients --purpose care | grep -c "^P00001," | sed 's/^/rows of P00001 in a new export: /'
echo "and the copy taken before the erasure cannot bring P00001 back. Put the old file back in place of the"
echo "current one, as an attacker restoring a backup would, and try:"
CURRENT=$(ls "$WS"/vault/patients/*.vlt)
cp "$CURRENT" build/demo/current.vlt
show cp build/demo/vault-before-erasure/patients/*.vlt "$CURRENT"
show "$VEIL" export patients --purpose care -o build/demo/after-restore.csv
echo "(exit code $?: 4 means an integrity failure. The catalog holds each vault file's SHA-256, and even past"
echo " that check P00001's record in the old file stays ciphertext: their key no longer exists anywhere.)"
cp build/demo/current.vlt "$CURRENT"

step "9. The audit log: every decision, allowed or denied, in an append-only Merkle tree"
show "$VEIL" --actor ines audit log --since 1 --limit 6
show "$VEIL" --actor ines audit checkpoint -o build/demo/checkpoint.txt
echo "An outside witness keeps build/demo/checkpoint.txt:"
sed 's/^/    /' build/demo/checkpoint.txt
show "$VEIL" --actor ines audit verify --against build/demo/checkpoint.txt
show "$VEIL" --actor ines audit proof 3 -o build/demo/proof-3.txt
show "$VEIL" --actor ines audit verify-proof build/demo/proof-3.txt --against build/demo/checkpoint.txt
echo
echo "Now someone edits one entry in the log file (one byte, as a careless or malicious admin would):"
LOG="$WS/audit/audit.log"
python3 - "$LOG" <<'PY'
import sys
p = sys.argv[1]
b = bytearray(open(p, 'rb').read())
i = b.find(b'"alex"'[1:-1])  # inside alex's denied export entry
b[i] ^= 0x01
open(p, 'wb').write(bytes(b))
PY
show "$VEIL" --actor ines audit verify
echo "(exit code $?: the entry is named; the file cannot be quietly rewritten)"

step "What comes next"
cat <<'TXT'
Today: the foundation (crypto primitives with standard test vectors, the columnar table and CSV reader) and the
workspace (encrypted vault with per-subject keys, the gate, the Merkle audit log, erasure by crypto-shredding).
Next, in issue order: differential privacy; PII discovery and pseudonymization; anonymization; homomorphic
encryption; synthetic data; private ML; federated learning; governance. Each extends this walkthrough.
TXT
