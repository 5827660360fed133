# The span-level F2 that synth_dataset_v2.json allows a recognizer that reports each street address whole,
# and Veil's figures on the samples whose addresses are labelled whole versus in pieces (docs/pii.md,
# section 4). Rule: same type and overlap >= 0.9 of the union (`veil pii eval`'s rule); GPE counts as
# LOCATION and DOMAIN_NAME as URL; types Veil does not report (ORGANIZATION, TITLE, NRP, ...) are left out.
#
# A sample "labels its address in pieces" when it has two or more gold STREET_ADDRESS spans: its templates
# write building number, street and unit as separate STREET_ADDRESS spans and the town, region and country
# as GPE (ZIP_CODE or STREET_ADDRESS for the postcode). The address block runs from the first STREET_ADDRESS
# span to the end of the last STREET_ADDRESS, GPE or ZIP_CODE span after it. No span that covers the whole
# block overlaps any one piece by 0.9 of the union, so a recognizer that reports the block as one address
# gets every piece wrong and one false positive, even if it is perfect everywhere else: that is the ceiling.
#
# Run from the repository root:
#   python3 scripts/dev/pii_span_ceiling.py [--veil build/release/tools/veil/veil]
# With --veil, the texts are scanned (one `veil pii scan --json` per sample, the analyzer `veil pii eval`
# runs; a few minutes) and Veil's span-level figures are printed for all samples and for each group.
import collections
import json
import subprocess
import sys

DATASET = '../shared/data/pii/presidio-research/synth_dataset_v2.json'
ALIASES = {'GPE': 'LOCATION', 'DOMAIN_NAME': 'URL'}
SCORED = {'EMAIL_ADDRESS', 'PHONE_NUMBER', 'CREDIT_CARD', 'IBAN_CODE', 'US_SSN', 'US_DRIVER_LICENSE',
          'US_ITIN', 'US_PASSPORT', 'UK_NHS', 'IP_ADDRESS', 'MAC_ADDRESS', 'URL', 'DATE_TIME', 'ZIP_CODE',
          'AGE', 'PERSON', 'STREET_ADDRESS', 'LOCATION'}


def gold_spans(sample):
    out = []
    for g in sample['spans']:
        t = ALIASES.get(g['entity_type'], g['entity_type'])
        if t in SCORED:
            out.append((g['start_position'], g['end_position'], t))
    return out


def address_block(gold):
    """(begin, end) of the piecewise-labelled address, or None."""
    streets = [g for g in gold if g[2] == 'STREET_ADDRESS']
    if len(streets) < 2:
        return None
    begin = min(g[0] for g in streets)
    end = max(g[1] for g in gold if g[2] in ('STREET_ADDRESS', 'LOCATION', 'ZIP_CODE') and g[0] >= begin)
    return begin, end


def f2(tp, fp, fn):
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f = 5 * p * r / (4 * p + r) if p + r else 0.0
    return f'TP {tp:5d}  FP {fp:4d}  FN {fn:4d}  precision {p:.3f}  recall {r:.3f}  F2 {f:.3f}'


def matches(p, g):
    inter = max(0, min(p[1], g[1]) - max(p[0], g[0]))
    union = max(p[1], g[1]) - min(p[0], g[0])
    return p[2] == g[2] and inter >= 0.9 * union


def score(pred, gold):
    used = set()
    tp = fp = 0
    for p in pred:
        k = next((k for k, g in enumerate(gold) if k not in used and matches(p, g)), None)
        if k is None:
            fp += 1
        else:
            used.add(k)
            tp += 1
    return tp, fp, len(gold) - len(used)


def scan(veil, text):
    doc = json.loads(subprocess.run([veil, '--json', 'pii', 'scan', '-'], input=text.encode('utf-8'),
                                    capture_output=True, check=True).stdout)
    raw = text.encode('utf-8')
    chars = lambda b: len(raw[:b].decode('utf-8'))  # the dataset counts code points, Veil bytes
    return [(chars(s['begin']), chars(s['end']), s['type']) for s in doc['spans'] if s['score'] >= 0.5]


def main(args):
    data = json.load(open(DATASET))
    golds = [gold_spans(s) for s in data]
    blocks = [address_block(g) for g in golds]
    tp = fp = fn = 0
    for gold, block in zip(golds, blocks):
        inside = [g for g in gold if block and block[0] <= g[0] and g[1] <= block[1]]
        tp += len(gold) - len(inside)
        fn += len(inside)
        fp += 1 if block else 0
    pieces = sum(1 for b in blocks if b)
    print(f'{len(data)} samples, {sum(map(len, golds))} gold spans in scope; {pieces} samples label their '
          f'address in pieces ({fn} gold spans inside those addresses)')
    print('ceiling for whole addresses, perfect elsewhere:  ' + f2(tp, fp, fn))
    if '--veil' not in args:
        return
    veil = args[args.index('--veil') + 1]
    totals = collections.defaultdict(lambda: [0, 0, 0])
    for sample, gold, block in zip(data, golds, blocks):
        counts = score(scan(veil, sample['full_text']), gold)
        for group in ('all samples', 'address in pieces' if block else 'address whole or none'):
            totals[group] = [a + b for a, b in zip(totals[group], counts)]
    for group in ('all samples', 'address whole or none', 'address in pieces'):
        print(f'Veil, {group:22s}' + f2(*totals[group]))


if __name__ == '__main__':
    main(sys.argv[1:])
