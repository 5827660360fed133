#!/usr/bin/env bash
# Compares what `veil dicom deid` and Debian's gdcmanon (GDCM, PS3.15 E.1 mode -e) leave in the five pydicom
# sample files (../shared/data/dicom/pydicom): per file and tool, the attributes left that Table E.1-1 marks X
# (resolved with no options), private attributes left, original UIDs and identifying values still in the bytes.
# Usage (from the repository root): scripts/compare-gdcmanon.sh [VEIL_BINARY]   (default build/release/tools/veil/veil)
set -euo pipefail
VEIL=${1:-build/release/tools/veil/veil}
SAMPLES=../shared/data/dicom/pydicom
TABLE=data/dicom/ps315/confidentiality_profile_attributes.json
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# gdcmanon -e encrypts the original values into Encrypted Attributes Sequence and needs a certificate.
openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=veil-compare -days 1 \
  -keyout "$WORK/key.pem" -out "$WORK/cert.pem" 2>/dev/null
mkdir -p "$WORK/gdcm" "$WORK/veil"
for f in CT_small.dcm MR_small.dcm rtstruct.dcm test-SR.dcm priv_SQ.dcm; do
  gdcmanon -e -c "$WORK/cert.pem" -i "$SAMPLES/$f" -o "$WORK/gdcm/$f" 2>"$WORK/gdcm/$f.err" || echo "gdcmanon failed on $f: $(head -c 200 "$WORK/gdcm/$f.err")"
done
"$VEIL" --workspace "$WORK/no-workspace" --quiet dicom deid "$SAMPLES"/{CT_small,MR_small,rtstruct,test-SR,priv_SQ}.dcm \
  -o "$WORK/veil" >/dev/null
for t in gdcm veil; do
  for f in "$WORK/$t"/*.dcm; do dcmdump -q +uc "$f" >"$f.dump" 2>&1 || true; done
done

python3 - "$TABLE" "$SAMPLES" "$WORK" <<'PY'
import json, re, sys, os
table, samples, work = sys.argv[1:4]
rows = json.load(open(table))
exact = {}; wild = []
for r in rows:
    t = r['tag']
    if t.startswith('(GGGG'): continue
    if 'X' in t[1:-1].replace(',', ''):
        wild.append((r, re.compile('^' + t[1:-1].replace('X', '.') + '$', re.I)))
    else:
        exact[t[1:-1].lower()] = r
def action(tag):
    g = int(tag[:4], 16)
    if g % 2: return 'X'
    r = exact.get(tag)
    if r is None:
        for rr, rx in wild:
            if rx.match(tag): r = rr; break
    if r is None: return None
    return {'X/Z': 'Z', 'X/D': 'D', 'X/Z/D': 'D', 'Z/D': 'D', 'X/Z/U*': 'U'}.get(r['basicProfile'], r['basicProfile'])
secrets = {
 'CT_small.dcm': ['CompressedSamples^CT1', '1CT1', 'ABCD1234', '1234ABCD', 'JFK IMAGING CENTER', 'CT01_OC0', '20040119', '19970430'],
 'MR_small.dcm': ['CompressedSamples^MR1', '4MR1', '20040826', '-0000200'],
 'rtstruct.dcm': ['Test^Phantom30sep', 'tPhantom30sep', '19691231', 'dmason', 'station1', '20091223'],
 'test-SR.dcm': ['Test^S R', 'Observer^Verifying', 'OFFIS e.V.', '20010213'],
 'priv_SQ.dcm': ['aaabbbccc MEDICAL SYSTEMS'],
}
line = re.compile(r'^\s*\(([0-9a-f]{4}),([0-9a-f]{4})\)\s+(\w\w)\s+(.*?)\s+#', re.I)
def analyse(path, orig_uids):
    x_left, priv, n = [], 0, 0
    for l in open(path + '.dump', errors='replace'):
        m = line.match(l)
        if not m: continue
        tag = (m.group(1) + ',' + m.group(2)).lower()
        if tag.startswith('fffe') or tag.startswith('0002'): continue
        n += 1
        if int(tag[:4], 16) % 2: priv += 1; continue
        if action(tag) == 'X': x_left.append(tag)
    data = open(path, 'rb').read()
    return n, x_left, priv, [u for u in orig_uids if u.encode() in data], [s for s in secrets[os.path.basename(path)] if s.encode() in data]
print('| file | tool | elements | X attributes left | private left | original UIDs left | identifying values left |')
print('|---|---|---|---|---|---|---|')
for f in ['CT_small.dcm', 'MR_small.dcm', 'rtstruct.dcm', 'test-SR.dcm', 'priv_SQ.dcm']:
    src = open(os.path.join(samples, f), 'rb').read()
    uids = set(u.decode() for u in re.findall(rb'\b1\.[0-9.]{8,}', src))
    uids = {u for u in uids if not u.startswith('1.2.840.10008')}  # well-known class / transfer syntax UIDs
    for t in ['gdcm', 'veil']:
        p = os.path.join(work, t, f)
        if not os.path.exists(p):
            print(f'| {f} | {t} | (no output) | | | | |'); continue
        n, x, priv, u, s = analyse(p, uids)
        xs = ', '.join(sorted(set(x))) or '-'
        print(f'| {f} | {"gdcmanon -e" if t == "gdcm" else "veil"} | {n} | {len(x)}: {xs} | {priv} | {len(u)} of {len(uids)} | {", ".join(s) or "-"} |')
PY
