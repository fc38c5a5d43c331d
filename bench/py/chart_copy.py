#!/usr/bin/env python3
"""Where chart sums and differences go wrong: the read, the copy or the sum.

The solver's trace for "What is the sum of B and A?" reads the bars, copies
the two asked values into an arithmetic line, then computes:
    A=8 B=9 C=1. 9+8=17. <answer>17</answer>
For the greedy trace and every sampled trace in a `kiln eval -dump FILE`
(pass -samples 25), this checks three steps separately against the truth
trace: the two asked values read right; the arithmetic line's operands equal
the values the trace itself read for the asked labels (the copy, whatever
was read); and the line's result equals its operands' sum or difference.

Plain python3, no third-party packages:
    python3 bench/py/chart_copy.py dump.jsonl
"""
import collections
import json
import re
import sys

READ = re.compile(r"([A-F])=(\d+)")
LINE = re.compile(r"(\d+)([+-])(\d+)=(\d+)")
ASKED = re.compile(r"(?:of|between) ([A-F]) and ([A-F])")


def check(trace, truth, a, b):
    reads = dict(READ.findall(trace))
    out = {"read": reads.get(a) == truth.get(a) and reads.get(b) == truth.get(b)}
    m = LINE.search(trace)
    if not m:
        out.update(copy=False, arith=False, line=False)
        return out
    x, op, y, z = m.groups()
    out["line"] = True
    out["copy"] = sorted([x, y]) == sorted([reads.get(a, "?"), reads.get(b, "?")])
    out["arith"] = (int(x) + int(y) if op == "+" else int(x) - int(y)) == int(z)
    return out


def main(path):
    stats = collections.defaultdict(collections.Counter)
    for line in open(path):
        r = json.loads(line)
        if r["family"] != "chart":
            continue
        m = ASKED.search(r["question"])
        if not m or not LINE.search(r["trace"]):
            continue
        a, b = m.groups()
        truth = dict(READ.findall(r["trace"]))
        for kind, trace in [("greedy", r["greedy"])] + [("sampled", s) for s in r.get("samples") or []]:
            c = check(trace, truth, a, b)
            s = stats[kind]
            s["n"] += 1
            for k, v in c.items():
                s[k] += v
            s["read and copy"] += c["read"] and c["copy"]
    print("| traces | n | asked values read right | copied right | arithmetic right | read and copied right |")
    print("|---|---:|---:|---:|---:|---:|")
    for kind in ("greedy", "sampled"):
        s = stats[kind]
        n = max(s["n"], 1)
        print("| %s | %d | %.1f | %.1f | %.1f | %.1f |" % (kind, s["n"], 100 * s["read"] / n, 100 * s["copy"] / n,
                                                         100 * s["arith"] / n, 100 * s["read and copy"] / n))


if __name__ == "__main__":
    main(sys.argv[1])
