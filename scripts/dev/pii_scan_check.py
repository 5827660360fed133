# Throwaway checker for the pattern-and-checksum recognizers on synth_dataset_v2.json with the rule "same
# type and overlap >= 0.9 of the union"; dev = index % 5 != 0, held-out = index % 5 == 0. Predicted URL
# counts as DOMAIN_NAME (the dataset labels whole URLs DOMAIN_NAME). Run from the repository root:
#   python3 scripts/dev/pii_scan_check.py [--veil PATH] [--all] [--dict] [FP|FN [TYPE]]
import json, subprocess, sys, collections, tempfile
args = sys.argv[1:]
veil = './build/scan/tools/veil/veil'
if '--veil' in args:
    veil = args[args.index('--veil') + 1]
d = json.load(open('../shared/data/pii/presidio-research/synth_dataset_v2.json'))
texts = [s['full_text'] for s in d]
SEP = '\n\n\x1e\n\n'
blob = SEP.join(texts).encode('utf-8')
starts = []
off = 0
for t in texts:
    starts.append(off)
    off += len(t.encode('utf-8')) + len(SEP)
with tempfile.NamedTemporaryFile(suffix='.txt') as f:
    f.write(blob); f.flush()
    cmd = [veil, '--json', 'pii', 'scan', f.name] + ([] if '--dict' in args else ['--no-dictionaries'])
    doc = json.loads(subprocess.run(cmd, capture_output=True, check=True).stdout)
import bisect
pred = collections.defaultdict(list)
for s in doc['spans']:
    i = bisect.bisect_right(starts, s['begin']) - 1
    tb = texts[i].encode('utf-8')
    b = s['begin'] - starts[i]; e = s['end'] - starts[i]
    cb = len(tb[:b].decode('utf-8')); ce = len(tb[:e].decode('utf-8'))
    t = 'DOMAIN_NAME' if s['type'] == 'URL' else s['type']
    pred[i].append((cb, ce, t, s['recognizer'], s['score']))
TYPES = ['EMAIL_ADDRESS', 'CREDIT_CARD', 'IBAN_CODE', 'US_SSN', 'IP_ADDRESS', 'PHONE_NUMBER', 'DATE_TIME',
         'ZIP_CODE', 'DOMAIN_NAME', 'AGE', 'US_DRIVER_LICENSE']
if '--dict' in args: TYPES += ['PERSON', 'STREET_ADDRESS', 'LOCATION']
GOLDMAP = {'GPE': 'LOCATION'}
def score(sel):
    tp = collections.Counter(); fp = collections.Counter(); fn = collections.Counter()
    bad = []
    for i in sel:
        gold = [(x['start_position'], x['end_position'], GOLDMAP.get(x['entity_type'], x['entity_type']))
                for x in d[i]['spans']]
        gold = [g for g in gold if g[2] in TYPES]
        used = set()
        for p in pred[i]:
            if p[2] not in TYPES: continue
            ok = False
            for gi, g in enumerate(gold):
                if g[2] != p[2] or gi in used: continue
                inter = max(0, min(p[1], g[1]) - max(p[0], g[0])); uni = max(p[1], g[1]) - min(p[0], g[0])
                if inter >= 0.9 * uni: used.add(gi); ok = True; break
            if ok: tp[p[2]] += 1
            else: fp[p[2]] += 1; bad.append(('FP', i, p[2], texts[i][p[0]:p[1]], p[3], p[4], texts[i][max(0,p[0]-30):p[1]+20]))
        for gi, g in enumerate(gold):
            if gi not in used:
                fn[g[2]] += 1
                got = [(texts[i][p[0]:p[1]], p[2]) for p in pred[i] if p[0] < g[1] and g[0] < p[1]]
                bad.append(('FN', i, g[2], texts[i][g[0]:g[1]], got, '', texts[i][max(0,g[0]-30):g[1]+20]))
    res = {}
    for t in TYPES + ['ALL']:
        if t == 'ALL': a, b_, c = sum(tp.values()), sum(fp.values()), sum(fn.values())
        else: a, b_, c = tp[t], fp[t], fn[t]
        P = a / (a + b_) if a + b_ else 0; R = a / (a + c) if a + c else 0
        F1 = 2 * P * R / (P + R) if P + R else 0
        res[t] = (a, b_, c, P, R, F1)
    return res, bad
dev = [i for i in range(len(d)) if i % 5 != 0]
held = [i for i in range(len(d)) if i % 5 == 0]
for name, sel in (('dev', dev), ('held-out', held), ('all', list(range(len(d))))):
    if name != 'dev' and '--all' not in args: continue
    res, bad = score(sel)
    print(f'{name}: {"type":18} {"tp":>4} {"fp":>4} {"fn":>4} {"P":>6} {"R":>6} {"F1":>6}')
    for t, (a, b_, c, P, R, F1) in res.items():
        print(f'{"":{len(name)+2}}{t:18} {a:4d} {b_:4d} {c:4d} {P:6.3f} {R:6.3f} {F1:6.3f}')
    if name == 'dev':
        kind = next((a for a in args if a in ('FP', 'FN')), None)
        typ = next((a for a in args if a in TYPES), None)
        if kind:
            for x in bad:
                if x[0] == kind and (typ is None or x[2] == typ): print(repr(x))
