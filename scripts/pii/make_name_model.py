#!/usr/bin/env python3
"""Trains the "is this capitalised word a personal name" model of the dictionary recognizers.

A naive Bayes score over the word's affixes (its last 2, 3, 4 and 5 and its first 2 and 3 code points),
trained on the lists already shipped in data/pii/: positives are the entries of first_names.txt and
names_moby.txt that are not common English words, negatives the entries of english_words.txt that are not
names. Affixes generalise where lists cannot: "-ová", "-ski", "-sson", "-nen", "-dóttir" mark surnames of
languages the lists hardly cover, "-tion", "-ness", "-ing" mark English words.

Output (data/pii/name_model.tsv): "affix<TAB>weight" lines sorted by affix, the affix being "S" + suffix or
"P" + prefix (lower case, NFC), the weight ln P(affix|name) - ln P(affix|word) with add-0.5 smoothing, in
hundredths; only affixes seen at least 3 times are kept, and the first line "#unseen<TAB>w" gives the weight of
an affix absent from the table. The recognizer scores a word as the sum of its affixes' weights divided by the
square root of their count (src/veil/pii/dictionary_lexicon.h, Lexicon::NameScore).

Deterministic: the same lists give a byte-identical file.
  python3 scripts/pii/make_name_model.py data/pii
"""
import math
import os
import sys
import unicodedata
from collections import Counter


def affixes(word):
    out = []
    n = len(word)
    for k in (2, 3, 4, 5):
        if n > k:
            out.append("S" + word[-k:])
    for k in (2, 3):
        if n > k:
            out.append("P" + word[:k])
    return out


def read(path):
    with open(path, encoding="utf-8") as f:
        return [unicodedata.normalize("NFC", l.strip()).lower() for l in f if l.strip()]


def main():
    data = sys.argv[1] if len(sys.argv) > 1 else "data/pii"
    names = set(read(os.path.join(data, "first_names.txt"))) | set(read(os.path.join(data, "names_moby.txt")))
    words = set(read(os.path.join(data, "english_words.txt")))
    pos = sorted(w for w in names - words if w.isalpha())
    neg = sorted(w for w in words - names if w.isalpha())
    cp, cn = Counter(), Counter()
    for w in pos:
        cp.update(set(affixes(w)))
    for w in neg:
        cn.update(set(affixes(w)))
    P, N = len(pos), len(neg)
    rows = []
    for a in sorted(set(cp) | set(cn)):
        if cp[a] + cn[a] < 3:
            continue
        w = math.log((cp[a] + 0.5) / (P + 1)) - math.log((cn[a] + 0.5) / (N + 1))
        rows.append(f"{a}\t{round(w * 100)}")
    unseen = math.log((N + 1) / (P + 1))
    out = os.path.join(data, "name_model.tsv")
    with open(out, "w", encoding="utf-8") as f:
        f.write(f"#unseen\t{round(unseen * 100)}\n")
        for r in rows:
            f.write(r + "\n")
    print(f"{out}: {len(rows)} affixes from {P} names and {N} words")


if __name__ == "__main__":
    main()
