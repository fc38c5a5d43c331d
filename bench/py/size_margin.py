#!/usr/bin/env python3
"""Vote against greedy on the geometry size questions, by size margin.

Reads `kiln eval -dump FILE` (run with -samples 25) and, for "Which is
bigger" and "What colour is the biggest", groups items by the gap in units
between the two largest sizes in the truth trace ("sizes: red 12, blue 7.";
4 means 4 or more). Prints greedy, majority of the first 5 samples and the
mode of all samples, with the vote rule of gap_anatomy.py.

    python3 bench/py/size_margin.py dump.jsonl
"""
import collections
import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gap_anatomy import vote  # noqa: E402


def main(path):
    rows = collections.defaultdict(lambda: [0, 0, 0, 0])
    for line in open(path):
        d = json.loads(line)
        t = d["template"]
        if "bigger" not in t and "biggest" not in t:
            continue
        head = d["trace"].split(".")[0]
        sizes = sorted((int(x) for x in re.findall(r"[a-z]+ (\d+)", head)), reverse=True)
        key = (t, min(sizes[0] - sizes[1], 4))
        r = rows[key]
        r[0] += 1
        r[1] += d["greedy_answer"] == d["truth"]
        r[2] += vote(d["sample_answers"][:5], d["sample_logp"][:5]) == d["truth"]
        r[3] += vote(d["sample_answers"], d["sample_logp"]) == d["truth"]
    print("| template | margin | n | greedy | maj@5 | mode | maj@5 - greedy | mode - greedy |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for (t, m), (n, g, m5, mo) in sorted(rows.items()):
        p = lambda k: 100.0 * k / n
        print(f"| {t} | {m}{'+' if m == 4 else ''} | {n} | {p(g):.1f} | {p(m5):.1f} | {p(mo):.1f} | {p(m5) - p(g):+.1f} | {p(mo) - p(g):+.1f} |")


if __name__ == "__main__":
    main(sys.argv[1])
