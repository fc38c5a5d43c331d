#!/usr/bin/env python3
"""Which route each output took, and how often each route is right.

For models trained with `kiln train -answer-only F` (tasks.Config.AnswerOnly):
an output that starts with <answer> took the bare-answer route, any other
took a trace. Reads the JSON lines of `kiln eval -dump FILE` and prints, for
greedy outputs and for samples, each route's share and accuracy, overall and
per family.

Plain python3, no third-party packages:
    python3 bench/py/answer_routes.py dump.jsonl
"""
import collections
import json
import sys


def route(text):
    return "bare" if text.lstrip().startswith("<answer>") else "trace"


def main(path):
    n = collections.Counter()    # (who, family, route) -> outputs
    ok = collections.Counter()   # (who, family, route) -> right outputs
    for line in open(path):
        d = json.loads(line)
        outs = [("greedy", d["greedy"], d["greedy_answer"])]
        outs += [("sample", t, a) for t, a in zip(d["samples"], d["sample_answers"])]
        for who, text, ans in outs:
            for fam in (d["family"], "all"):
                k = (who, fam, route(text))
                n[k] += 1
                ok[k] += ans == d["truth"]
    fams = sorted({k[1] for k in n} - {"all"}) + ["all"]
    print("| family | greedy bare: share | acc | greedy trace: share | acc | samples bare: share | acc | samples trace: share | acc |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for fam in fams:
        cells = []
        for who in ("greedy", "sample"):
            tot = n[(who, fam, "bare")] + n[(who, fam, "trace")]
            for r in ("bare", "trace"):
                k = (who, fam, r)
                acc = f"{100 * ok[k] / n[k]:.1f}" if n[k] else "-"
                cells += [f"{100 * n[k] / tot:.1f}" if tot else "-", acc]
        print(f"| {fam} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: answer_routes.py dump.jsonl")
    main(sys.argv[1])
