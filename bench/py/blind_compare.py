#!/usr/bin/env python3
"""Paired comparison of greedy decoding against the image-blind baseline.

Reads a `kiln eval -dump FILE` (JSON lines with greedy_answer, blind_answer
and truth; the eval needs its default -blind). For each family and template
it counts the items only the model gets right and those only the blind
baseline gets right, and McNemar's z = (a - b) / sqrt(a + b): |z| < 2 means
the model is not distinguishable from answering without the image.

    kiln eval -items 10000 -samples 0 -self-eval=false -dump test.jsonl
    python3 bench/py/blind_compare.py test.jsonl
"""
import collections
import json
import math
import sys


def main(path):
    rows = collections.defaultdict(lambda: [0, 0, 0, 0, 0])  # n, model, blind, model-only, blind-only
    order = []
    for line in open(path):
        r = json.loads(line)
        if "blind_answer" not in r:
            sys.exit(f"{path}: no blind_answer (run kiln eval with -blind above 0)")
        m, b = r["greedy_answer"] == r["truth"], r["blind_answer"] == r["truth"]
        for k in (r["family"], r["family"] + ": " + r.get("template", ""), "all"):
            if k not in rows:
                order.append(k)
            row = rows[k]
            row[0] += 1
            row[1] += m
            row[2] += b
            row[3] += m and not b
            row[4] += b and not m
    print("| family / template | n | greedy | blind | model only | blind only | z |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for k in sorted(order, key=lambda k: (k == "all", k.split(":")[0], ":" in k, k)):
        n, m, b, mo, bo = rows[k]
        z = (mo - bo) / math.sqrt(mo + bo) if mo + bo else 0.0
        name = k if ":" in k else f"**{k}**"
        print(f"| {name} | {n} | {100*m/n:.1f} | {100*b/n:.1f} | {mo} | {bo} | {z:+.1f} |")


if __name__ == "__main__":
    main(sys.argv[1])
