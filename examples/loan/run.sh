#!/bin/sh
# The loan-approval walkthrough (README.md): a customer's key set, encrypted features, scoring at the bank with
# only the public keys, decryption at the customer, and a comparison with the plaintext scores.
#
#   examples/loan/run.sh                     (from the repository root; VEIL=path/to/veil to choose the binary)
#   PROBABILITY=0 examples/loan/run.sh       (skip the part with the sigmoid under encryption, N = 16384)
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
VEIL=${VEIL:-build/release/tools/veil/veil}
PROBABILITY=${PROBABILITY:-1}
if [ ! -x "$VEIL" ]; then
  echo "run.sh: no veil binary at $VEIL (build it, or set VEIL=...)" >&2
  exit 2
fi
WORK=$(mktemp -d "${TMPDIR:-/tmp}/veil-loan.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
mkdir "$WORK/customer" "$WORK/bank"
cp "$HERE/applicants.csv" "$WORK/customer/"
cp "$HERE/bank_model.json" "$WORK/bank/"
cp "$HERE/bank_model.json" "$WORK/customer/"   # the bank publishes its model's features (and standardization)

echo "== 1. customer: make a key set (the secret stays here; public/ goes to the bank)"
"$VEIL" he keygen -o "$WORK/customer/keys" --max-features 8
cp -r "$WORK/customer/keys/public" "$WORK/bank/customer-keys"

echo "== 2. customer: encrypt the applicants' features (the model's 8 features, standardized; the id column stays)"
"$VEIL" he encrypt "$WORK/customer/applicants.csv" --keys "$WORK/customer/keys" \
  --model "$WORK/customer/bank_model.json" -o "$WORK/customer/query.bin"
cp "$WORK/customer/query.bin" "$WORK/bank/"

echo "== 3. bank: score the encrypted records with the public keys only"
"$VEIL" he score "$WORK/bank/query.bin" --model "$WORK/bank/bank_model.json" \
  --keys "$WORK/bank/customer-keys" -o "$WORK/bank/result.bin"
cp "$WORK/bank/result.bin" "$WORK/customer/"

echo "== 4. customer: decrypt the scores (logits, noise-flooded so they may be shared)"
"$VEIL" he decrypt "$WORK/customer/result.bin" --keys "$WORK/customer/keys" -o "$WORK/customer/scores.csv"

if [ "$PROBABILITY" = 1 ]; then
  echo "== 5. the same with the probability computed under encryption (N = 16384 key set)"
  "$VEIL" he keygen -o "$WORK/customer/pkeys" --probability --max-features 8
  cp -r "$WORK/customer/pkeys/public" "$WORK/bank/customer-pkeys"
  "$VEIL" he encrypt "$WORK/customer/applicants.csv" --keys "$WORK/customer/pkeys" \
    --model "$WORK/customer/bank_model.json" -o "$WORK/customer/pquery.bin"
  "$VEIL" he score "$WORK/customer/pquery.bin" --model "$WORK/bank/bank_model.json" \
    --keys "$WORK/bank/customer-pkeys" -o "$WORK/bank/presult.bin" --probability
  "$VEIL" he decrypt "$WORK/bank/presult.bin" --keys "$WORK/customer/pkeys" -o "$WORK/customer/probabilities.csv" \
    --probability --key-owner-only
fi

echo "== 6. compare with the plaintext model"
python3 - "$HERE/bank_model.json" "$HERE/applicants.csv" "$WORK/customer" "$PROBABILITY" <<'PY'
import csv, json, math, os, sys
model = json.load(open(sys.argv[1]))
rows = list(csv.DictReader(open(sys.argv[2])))
out = sys.argv[3]
logits = [float(r["logit"]) for r in csv.DictReader(open(os.path.join(out, "scores.csv")))]
probs = None
if sys.argv[4] == "1":
    probs = [float(r["probability"]) for r in csv.DictReader(open(os.path.join(out, "probabilities.csv")))]
s = model["standardization"]
print(f"{'applicant':<10} {'logit (plain)':>14} {'logit (HE)':>12} {'p (plain)':>10} {'p (HE)':>10}  decision")
worst_l = worst_p = 0.0
for i, r in enumerate(rows):
    z = model["bias"] + sum(w * (float(r[f]) - m) / sc for f, w, m, sc in
                            zip(model["features"], model["weights"], s["means"], s["scales"]))
    p = 1 / (1 + math.exp(-z))
    worst_l = max(worst_l, abs(logits[i] - z))
    ph = probs[i] if probs else float("nan")
    if probs and abs(z) <= 12:
        worst_p = max(worst_p, abs(ph - p))
    print(f"{r['applicant']:<10} {z:14.6f} {logits[i]:12.6f} {p:10.6f} {ph:10.6f}  {'approve' if logits[i] >= 0 else 'decline'}")
print(f"max |logit difference| {worst_l:.2e} (noise flooding)")
if probs:
    print(f"max |probability difference| {worst_p:.2e} (the degree-15 sigmoid approximation on [-12, 12])")
PY
