# Throwaway checker for the dictionary recognizers (PERSON, STREET_ADDRESS, LOCATION as GPE) on
# synth_dataset_v2.json with the rule "same type and overlap >= 0.9 of the union"; dev = index % 5 != 0,
# held-out = index % 5 == 0. Build the driver first (scripts/dev/pii_names_dev.sh), run from the repository
# root: python3 scripts/dev/pii_names_check.py [--all] [FP|FN [TYPE]]
import json, subprocess, sys, collections
d = json.load(open('../shared/data/pii/presidio-research/synth_dataset_v2.json'))
texts = [s['full_text'] for s in d]
inp = '\x1e'.join(texts).encode('utf-8')
out = subprocess.run(['./build/names/pii_names_dev'], input=inp, capture_output=True, check=True).stdout.decode()
pred = collections.defaultdict(list)
MAP = {'18': 'GPE', '16': 'PERSON', '17': 'STREET_ADDRESS'}  # EntityType values (entity.h)
for line in out.splitlines():
    i, b, e, t, sc = line.split('\t')
    i = int(i); b = int(b); e = int(e)
    tb = texts[i].encode('utf-8')
    cb = len(tb[:b].decode('utf-8')); ce = len(tb[:e].decode('utf-8'))
    if float(sc) < 0.5 or t not in MAP: continue  # e.g. a postcode (ZIP_CODE) inside an address
    pred[i].append((cb, ce, MAP[t]))
TYPES = ['PERSON', 'STREET_ADDRESS', 'GPE']
def score(sel, show=None):
    tp = collections.Counter(); fp = collections.Counter(); fn = collections.Counter()
    bad = []
    for i in sel:
        gold = [(x['start_position'], x['end_position'], x['entity_type']) for x in d[i]['spans'] if x['entity_type'] in TYPES]
        used = set()
        for p in pred[i]:
            ok = False
            for gi, g in enumerate(gold):
                if g[2] != p[2] or gi in used: continue
                inter = max(0, min(p[1], g[1]) - max(p[0], g[0])); uni = max(p[1], g[1]) - min(p[0], g[0])
                if inter >= 0.9 * uni: used.add(gi); ok = True; break
            if ok: tp[p[2]] += 1
            else: fp[p[2]] += 1; bad.append(('FP', i, p[2], texts[i][p[0]:p[1]]))
        for gi, g in enumerate(gold):
            if gi not in used: fn[g[2]] += 1; bad.append(('FN', i, g[2], texts[i][g[0]:g[1]]))
    res = {}
    for t in TYPES + ['ALL']:
        if t == 'ALL': a, b_, c = sum(tp.values()), sum(fp.values()), sum(fn.values())
        else: a, b_, c = tp[t], fp[t], fn[t]
        P = a / (a + b_) if a + b_ else 0; R = a / (a + c) if a + c else 0
        F1 = 2 * P * R / (P + R) if P + R else 0; F2 = 5 * P * R / (4 * P + R) if P + R else 0
        res[t] = (a, b_, c, P, R, F1, F2)
    return res, bad
dev = [i for i in range(len(d)) if i % 5 != 0]
held = [i for i in range(len(d)) if i % 5 == 0]
for name, sel in (('dev', dev), ('held-out', held), ('all', list(range(len(d))))):
    if name != 'dev' and '--all' not in sys.argv: continue
    res, bad = score(sel)
    print(name)
    for t, (a, b_, c, P, R, F1, F2) in res.items():
        print(f'  {t:15s} tp={a:4d} fp={b_:4d} fn={c:4d}  P={P:.3f} R={R:.3f} F1={F1:.3f} F2={F2:.3f}')
    if name == 'dev' and len(sys.argv) > 1 and sys.argv[1] in ('FP', 'FN'):
        for x in bad:
            if x[0] == sys.argv[1] and (len(sys.argv) < 3 or x[2] == sys.argv[2]): print(x[1], x[2], repr(x[3]), '||', repr(texts[x[1]][:160]))
