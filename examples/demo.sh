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
# show ARGS...: prints the command (arguments with shell characters in single quotes, so it can be pasted), runs it.
show() {
  local line='$' a
  for a in "$@"; do
    if [[ $a =~ ^[A-Za-z0-9_./,=:@%+-]+$ ]]; then line+=" $a"; else line+=" '${a//\'/\'\\\'\'}'"; fi
  done
  printf '%s\n' "$line"
  "$@"
}
# showq NAME ARGS...: runs ARGS with the query held in variable NAME as the last argument, printed as "$NAME".
showq() { local name=$1; shift; printf '$ %s "$%s"\n' "$*" "$name"; "$@" "${!name}"; }

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
cp "$LOG" build/demo/audit.log.orig
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
cp build/demo/audit.log.orig "$LOG"
echo "(The walkthrough puts the original file back, so that this workspace serves again in step 25.)"

step "10. Differential privacy: population answers from UCI Adult without revealing anyone"
CENSUS=build/demo/census
rm -rf "$CENSUS"
if [ -f "$ADULT" ]; then
  echo "Adult has no id column; give each of its 48,842 people one (person_id), the privacy unit of every query:"
  awk -F, 'NR==1{print "person_id," $0; next}{printf "A%05d,%s\n", NR-1, $0}' "$ADULT" > build/demo/adult-with-id.csv
  head -n 2 build/demo/adult-with-id.csv | cut -c1-110 | sed 's/^/    /'
  export VEIL_WORKSPACE=$CENSUS VEIL_ACTOR=dana
  show "$VEIL" --quiet init
  show "$VEIL" ingest build/demo/adult-with-id.csv --dataset adult --subject-column person_id --purpose research
  echo
  echo "The owner gives the dataset a privacy budget. Every DP query is charged against it, and a query that"
  echo "would overspend it is refused before it reads any data:"
  show "$VEIL" budget set adult --epsilon 2 --delta 1e-5
  show "$VEIL" grant alex analyst

  step "11. An analyst asks what a query would cost and how accurate it would be, before running it"
  echo "Q1:"
  Q1="SELECT WITH DIFFERENTIAL_PRIVACY OPTIONS(epsilon=0.5, delta=1e-6, privacy_unit_column=person_id)
  education, COUNT(*) AS people, AVG(age, contribution_bounds_per_row => (17, 90)) AS avg_age
FROM adult GROUP BY education ORDER BY people DESC LIMIT 8"
  echo "$Q1" | sed 's/^/    /'
  showq Q1 "$VEIL" --actor alex query --purpose research --explain

  step "12. The query itself: noisy answers with 95% intervals, the cost charged and the budget left"
  showq Q1 "$VEIL" --actor alex query --purpose research
  echo
  echo "For comparison, the exact counts (what the owner could see; the analyst never does):"
  awk -F, 'NR>1{c[$5]++} END{for (k in c) printf "%s %d\n", k, c[k]}' build/demo/adult-with-id.csv | sort -k2 -nr |
    head -n 4 | sed 's/^/    /'

  step "13. A histogram with public bins (every bin is released, even an empty one) and a median"
  echo "Q2:"
  Q2="SELECT WITH DIFFERENTIAL_PRIVACY OPTIONS(epsilon=0.5, privacy_unit_column=person_id,
    public_groups=[0, 1, 2, 3, 4, 5, 6])
  RANGE_BUCKET(age, [20, 30, 40, 50, 60, 70]) AS age_band, COUNT(*) AS people,
  PERCENTILE_CONT(\`hours-per-week\`, 0.5, contribution_bounds_per_row => (0, 100)) AS median_hours
FROM adult WHERE income = '>50K' GROUP BY age_band ORDER BY age_band"
  echo "$Q2" | sed 's/^/    /'
  showq Q2 "$VEIL" --actor alex query --purpose research
  echo "(age_band 0 is under 20, 1 is 20-29, ..., 6 is 70 and over)"

  step "14. What Veil refuses, and why"
  echo "A query that is not differentially private never runs; the error points at the token:"
  show "$VEIL" --actor alex query --purpose research "SELECT age, income FROM adult WHERE person_id = 'A00042'"
  echo "(exit code $?: 2 means bad input)"
  echo "A query that would overspend the budget is refused before it touches the data:"
  show "$VEIL" --actor alex query --purpose research \
    "SELECT WITH DIFFERENTIAL_PRIVACY OPTIONS(epsilon=5, privacy_unit_column=person_id) COUNT(*) FROM adult"
  echo "(exit code $?: 3 means refused)"
  show "$VEIL" budget adult
  echo
  echo "Each query is in the audit log with its cost, the hash of its parameters and of its result:"
  show "$VEIL" audit log --since 4 --limit 3
else
  echo "skipped: $ADULT not found (it ships in ../shared/data beside the repository)"
fi

step "15. PII discovery: find the personal data in a referral letter before it goes to an AI service"
LETTER=examples/data/referral_letter.txt
echo "$LETTER is a (fictional) clinical referral. Every finding has a type, a score and the recognizer that"
echo "found it; values are masked unless --show-values is given, so a scan does not make a new copy of them:"
show "$VEIL" pii scan "$LETTER"

step "16. The privacy proxy: pseudonymize the prompt, let the AI answer, put the names back"
echo "Keyed operators use the workspace (a fresh one here, since step 9 tampered with the first one's log):"
PIIWS=build/demo/pii-workspace
rm -rf "$PIIWS" build/demo/letter.map  # a mapping sealed by an earlier run's workspace would not open
export VEIL_WORKSPACE=$PIIWS VEIL_ACTOR=dana
show "$VEIL" --quiet init
show "$VEIL" grant alex analyst
echo "Each value becomes a numbered placeholder (the same person keeps the same number); the mapping is sealed"
echo "with AES-256-GCM under a key derived from the workspace's master key, so only this workspace can open it:"
show "$VEIL" pii redact "$LETTER" --operator pseudonym --mapping build/demo/letter.map -o build/demo/letter.prompt.txt
sed -n 3,8p build/demo/letter.prompt.txt | sed 's/^/    /'
printf 'Summary: <PERSON_2> (born <DATE_TIME_1>) reports exertional chest pain; book her with <PERSON_1>.\nConfirm by phone on <PHONE_NUMBER_1> or e-mail <EMAIL_ADDRESS_1>. Invoice to <CREDIT_CARD_1>.\n' > build/demo/ai-reply.txt
echo "The AI service sees only placeholders. Its reply (build/demo/ai-reply.txt):"
sed 's/^/    /' build/demo/ai-reply.txt
echo "The owner restores it (re-identification is audited, and only an owner may do it):"
show "$VEIL" pii restore build/demo/ai-reply.txt --mapping build/demo/letter.map
show "$VEIL" --actor alex pii restore build/demo/ai-reply.txt --mapping build/demo/letter.map
echo "(exit code $?: 3 means refused)"
echo "Other operators: replace with <TYPE>, mask, keyed tokens (HMAC-SHA-256: the same value, the same token) and"
echo "format-preserving encryption (FF1, NIST SP 800-38G: a card stays a 16-digit card, and decrypts):"
printf '$ %s\n' "$VEIL pii redact $LETTER --operator ff1 | sed -n 11,12p"
"$VEIL" pii redact "$LETTER" --operator ff1 2>/dev/null | sed -n 11,12p

step "17. Tables: which columns hold personal data, and a de-identified copy by policy"
show "$VEIL" pii classify examples/data/patients.csv
echo
echo "examples/data/patients_policy.json says what happens to each column:"
sed 's/^/    /' examples/data/patients_policy.json
show "$VEIL" pii transform examples/data/patients.csv --policy examples/data/patients_policy.json \
  -o build/demo/patients-deid.csv
head -n 3 build/demo/patients-deid.csv | cut -c1-150 | sed 's/^/    /'

step "18. How accurate is it? Scored on presidio-research's labeled set, plus generated hard negatives"
PII_SET=../shared/data/pii/presidio-research/synth_dataset_v2.json
if [ -f "$PII_SET" ]; then
  show "$VEIL" pii eval "$PII_SET"
else
  echo "skipped: $PII_SET not found (it ships in ../shared/data beside the repository)"
fi

step "19. Anonymize a table: k-anonymity on UCI Adult with ARX's hierarchies, and the risk before and after"
ARX_DIR=../shared/data/adult/arx
QUASI=sex,age,race,marital-status,education,native-country,workclass,occupation,salary-class
if [ -f "$ARX_DIR/adult.csv" ]; then
  echo "A release of these 9 columns as they are: half the people are unique, so anyone who knows them is found:"
  show "$VEIL" anon risk "$ARX_DIR/adult.csv" --separator ';' --quasi "$QUASI"
  echo
  echo "Veil searches all 12,960 ways of generalizing the columns (ARX's hierarchies: age 39 -> 35-39 -> 30-39 ...)"
  echo "for the one that loses least information while every person hides among at least 5, suppressing up to 4%."
  echo "It finds ARX's published optimum (non-uniform entropy 255559.85 at the same levels):"
  show "$VEIL" anon kanon "$ARX_DIR/adult.csv" --separator ';' --quasi "$QUASI" --hierarchies "$ARX_DIR" \
    --k 5 --suppression 0.04 -o build/demo/adult-k5.csv
  head -n 3 build/demo/adult-k5.csv | sed 's/^/    /'
else
  echo "skipped: $ARX_DIR/adult.csv not found (it ships in ../shared/data beside the repository)"
fi

step "20. De-identify medical images: DICOM by the PS3.15 Annex E confidentiality profile"
CT=../shared/data/dicom/pydicom/CT_small.dcm
if [ -f "$CT" ] && command -v dcmdump >/dev/null; then
  echo "A CT image header names the patient, the hospital and the dates (dcmdump from DCMTK):"
  dcmdump "$CT" | grep -E "PatientName|PatientID$|InstitutionName|StudyDate|SOPInstanceUID" | sed 's/^/    /'
  echo "Veil applies the standard's table (621 rules, every sequence depth), removes the private tags, maps UIDs"
  echo "under a workspace key (references between files stay valid) and records what it did in the file:"
  show "$VEIL" dicom deid "$CT" ../shared/data/dicom/pydicom/rtstruct.dcm -o build/demo/dicom-deid
  dcmdump build/demo/dicom-deid/CT_small.dcm |
    grep -E "PatientName|PatientID$|InstitutionName|StudyDate|SOPInstanceUID|PatientIdentityRemoved|Longitudinal" |
    sed 's/^/    /'
else
  echo "skipped: $CT or dcmdump not found (scripts/install-deps.sh installs dcmtk)"
fi

step "21. Homomorphic encryption: a bank scores a loan model on a customer's encrypted data"
echo "The customer keeps the secret key; the bank gets only public keys and ciphertexts (RNS-CKKS, N = 8192,"
echo "128-bit security by the HomomorphicEncryption.org bound), computes the model's score without seeing any"
echo "feature, and only the customer can decrypt it. examples/loan/run.sh plays both sides:"
VEIL="$VEIL" sh examples/loan/run.sh | sed 's/^/    /'

step "22. DP synthetic data: an artificial Adult that mirrors the real one, and a report on how well"
if [ -f "$ADULT" ]; then
  export VEIL_WORKSPACE=$CENSUS VEIL_ACTOR=dana
  echo "AIM (McKenna et al. 2022) measures the marginals that matter with Gaussian noise, fits a graphical model"
  echo "and samples from it. The run is charged to the census dataset's budget like a query:"
  show "$VEIL" --actor alex synth --dataset adult --purpose research --epsilon 1 --delta 1e-6 --method aim \
    -o build/demo/adult-synth.csv
  head -n 3 build/demo/adult-synth.csv | cut -c1-150 | sed 's/^/    /'
  echo
  echo "How close is it? Marginal distances, associations, a model trained on synthetic rows tested on real ones,"
  echo "and how many synthetic rows copy a real one (build/demo/synth-report.html has the plots):"
  show "$VEIL" synth report "$ADULT" build/demo/adult-synth.csv --target income -o build/demo/synth-report.html
else
  echo "skipped: $ADULT not found (it ships in ../shared/data beside the repository)"
fi

step "23. Private machine learning: a loan model trained with DP-SGD, audited for fairness, explained per decision"
TRAIN=../shared/data/adult/adult_train.csv TEST=../shared/data/adult/adult_test.csv
if [ -f "$TRAIN" ] && [ -f "$TEST" ]; then
  H="person_id,age,workclass,fnlwgt,education,education-num,marital-status,occupation,relationship,race,sex,capital-gain,capital-loss,hours-per-week,native-country,income"
  # UCI's files have no header and no person id; the test labels end with a '.'.
  { echo "$H"; awk -F', ' 'NF>1 {sub(/\.$/,"",$NF); printf "A%05d", n++; for(i=1;i<=NF;i++) printf ",%s",$i; print ""}' "$TRAIN"; } > build/demo/adult_people.csv
  { echo "$H"; awk -F', ' 'NF>1 {sub(/\.$/,"",$NF); printf "T%05d", n++; for(i=1;i<=NF;i++) printf ",%s",$i; print ""}' "$TEST"; } > build/demo/adult_test_people.csv
  BANK=build/demo/bank
  rm -rf "$BANK"
  export VEIL_WORKSPACE=$BANK VEIL_ACTOR=dana
  show "$VEIL" --quiet init
  show "$VEIL" --quiet ingest build/demo/adult_people.csv --dataset applicants --subject-column person_id --purpose credit.scoring
  show "$VEIL" --quiet budget set applicants --epsilon 2 --delta 1e-5
  echo "DP-SGD: the noise is calibrated to epsilon 1 before any row is read, and the cost is charged to the"
  echo "dataset's budget like a query. The feature encoding uses only public metadata (category lists, bounds):"
  show "$VEIL" train --dataset applicants --target income --model logreg --epsilon 1 --delta 1e-6 \
    --metadata examples/data/adult_ml_metadata.json --test build/demo/adult_test_people.csv \
    --purpose credit.scoring -o loans
  echo
  echo "Is it fair? Per-group selection and error rates, with a verdict per protected attribute:"
  show "$VEIL" fairness --model loans --dataset applicants --protected sex --purpose credit.scoring
  echo
  echo "Each automated decision comes with its reasons (exact contributions for a linear model) and is audited"
  echo "under the applicant's pseudonym, so the applicant can later ask for it (GDPR Art. 15, 22):"
  head -n 4 build/demo/adult_test_people.csv > build/demo/applicants.csv
  show "$VEIL" decide --model loans build/demo/applicants.csv --top 3
else
  echo "skipped: $TRAIN not found (it ships in ../shared/data beside the repository)"
fi

step "24. Federated learning: three sites train one model; only masked updates leave a site"
if [ -f build/demo/adult_people.csv ]; then
  echo "Adult's training rows split over three sites with label skew (Dirichlet 0.5), each site a process with its"
  echo "own workspace and TLS certificate. Each round the sites train locally, then the four rounds of secure"
  echo "aggregation (keys advertised and signed, masks' seeds Shamir-shared, masked inputs, unmasking) give the"
  echo "coordinator the SUM of the updates and nothing else. Accuracy is on Adult's real test rows:"
  rm -rf build/demo/fl
  show "$VEIL" fl simulate --data build/demo/adult_people.csv --test build/demo/adult_test_people.csv \
    --config examples/FL-adult.json --subject-column person_id --partition dirichlet:0.5 --workdir build/demo/fl
  echo "(A centrally trained logistic regression on the same rows scores about 0.85: docs/fl.md, fl_accuracy_bench.)"
else
  echo "skipped: build/demo/adult_people.csv (step 23) was not made"
fi

step "25. Governance: the data map, consent as the legal basis, retention"
export VEIL_WORKSPACE=$WS VEIL_ACTOR=dana
echo "At ingest the PII classifier put each column of the patients in a data category; a person confirms or"
echo "corrects (diagnosis is health data, a special category of Art. 9):"
show "$VEIL" catalog annotate patients diagnosis --category user.health.diagnosis --role quasi_identifier
echo "Research on these patients rests on their consent (Art. 6(1)(a), and explicit consent for health data):"
show "$VEIL" catalog declare patients --purpose research --basis consent --special-basis explicit_consent \
  --subject-type patient --recipient "hospital research unit" --retention "1 year after admission"
show "$VEIL" catalog
echo
echo "Two patients in three gave consent on the web form (imported from a file); one withdraws, as easily:"
awk -F, 'NR>1 && (NR-2)%3!=2 {print $1",research,granted,2026-01-15,web_form,v2"}' examples/data/patients.csv |
  { echo "subject,purpose,state,time,source,notice_version"; cat; } > build/demo/consent.csv
show "$VEIL" consent import build/demo/consent.csv
show "$VEIL" consent withdraw --subject P00004 --purpose research
show "$VEIL" consent show
echo
echo "A DP count for research now sees only the 199 consenting patients (the audit entry says how many were left"
echo "out); the same count for care, whose basis is not consent, sees all 299:"
show "$VEIL" --quiet budget set patients --epsilon 1 --delta 2e-6
QG="SELECT WITH DIFFERENTIAL_PRIVACY OPTIONS(epsilon=0.5, delta=1e-6, privacy_unit_column=patient_id)
  readmitted, COUNT(*) AS patients FROM patients GROUP BY readmitted"
showq QG "$VEIL" query --purpose research
showq QG "$VEIL" query --purpose care
echo
echo "Retention: keep each patient's record one year from admission; a dry run shows what is due (veil retention"
echo "enforce would erase it by crypto-shredding, as veil erase does, except what a legal hold covers):"
show "$VEIL" retention set --dataset patients --days 365 --trigger column:admitted_at
show "$VEIL" retention enforce --dry-run
echo
echo "A patient asks what is held about them (Art. 15). The request is tracked with its one-month deadline"
echo "(Art. 12(3)); identity is verified before anything is released; each step is an audit entry:"
show "$VEIL" --quiet dsr open --kind access --subject P00002 --note ticket-7
show "$VEIL" --quiet dsr verify 1
show "$VEIL" dsr run 1 -o build/demo/access-P00002.json
python3 - build/demo/access-P00002.json <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
for ds in d["datasets"]:
    print(f'  dataset {ds["dataset"]}: {len(ds["rows"])} row(s); purposes {", ".join(ds["purposes"])}; '
          f'{len(ds.get("processing", []))} processing declaration(s)')
print(f'  consent records: {len(d["consent"])}; restrictions: {len(d["restrictions"])}; '
      f'automated decisions: {len(d["automated_decisions"])}')
PY
show "$VEIL" dsr list

step "26. Reports from facts: the record of processing (Art. 30) and a DPIA (Art. 35, the CNIL's structure)"
echo "Both are built from the data map and from facts measured as they are generated: every vault file re-hashed,"
echo "the data keys unwrapped and counted, the audit log verified, the re-identification risk of the columns the"
echo "map marks as quasi-identifiers, consent coverage, retention, the privacy budget. The risk assessment and"
echo "the signatures are left as fields for people to fill in. Each report is gated and audited:"
show "$VEIL" report ropa --controller "Clinique Saint-Eloi, 1 rue de l'Hopital, Lyon" --dpo dpo@clinique.example \
  -o build/demo/ropa.html
"$VEIL" report ropa | sed -n '/^1\.1/,/^2\./p' | head -n 30
echo
show "$VEIL" dpia --dataset patients --purpose research -o build/demo/dpia.html
echo "The DPIA's re-identification section (every patient is unique on the quasi-identifiers: a risk to treat):"
"$VEIL" dpia --dataset patients --purpose research | sed -n '/Re-identification/,/^3\.1/p' | head -n 24
echo "(open build/demo/ropa.html and build/demo/dpia.html in a browser; they print to PDF page by page)"

step "What comes next"
cat <<'TXT'
Today: the foundation (crypto primitives with standard test vectors, the columnar table and CSV reader), the
workspace (encrypted vault with per-subject keys, the gate, the Merkle audit log, erasure by crypto-shredding),
differential privacy (DP SQL on exact noise, contribution bounding per person, a budget per dataset, PostgreSQL
tables attached and queried by push-down), PII discovery and pseudonymization (text and tables, keyed
tokens, FF1, the sealed pseudonym mapping of the privacy proxy), anonymization (k-anonymity and l-diversity
with ARX's optimal search, Mondrian, re-identification risk, DICOM de-identification), homomorphic encryption
(RNS-CKKS, encrypted scoring), DP synthetic data (MST, AIM, quality report), private ML (DP-SGD, fairness,
explained decisions, a model registry), federated learning (secure aggregation over gRPC with mutual TLS,
FedAvg/FedProx/FedAdam, DP-FedAvg) and governance (the data map, consent, retention, subject requests, and
the record of processing and DPIA reports generated from facts).
Next: the open target in the issues (PII recall on street addresses the test set labels in pieces).
TXT
