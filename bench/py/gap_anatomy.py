#!/usr/bin/env python3
"""Where majority voting and greedy decoding part, per question template.

Reads the JSON lines of `kiln eval -dump FILE` (answers already extracted and
normalised by kiln) and prints, per template: greedy accuracy, majority of the
first 5 samples, the answer mode over all samples (the ceiling of any vote;
pass -samples 25 to kiln eval), and how many items each side wins alone
(greedy wrong and mode right: G-M+; the reverse: G+M-). For the two spatial
axis templates it also checks the coordinates the greedy trace read against
the truth trace's, to tell misreading from misreasoning.

Plain python3, no third-party packages:
    python3 bench/py/gap_anatomy.py dump.jsonl
"""
import collections
import json
import re
import sys


def vote(answers, logps):
    """tasks.MajorityScored: most frequent non-empty answer, ties to the
    answer whose likeliest sample scores highest."""
    count, best, order = collections.Counter(), {}, []
    for a, lp in zip(answers, logps):
        if not a:
            continue
        if a not in count:
            order.append(a)
            best[a] = lp
        count[a] += 1
        best[a] = max(best[a], lp)
    if not order:
        return ""
    win = order[0]
    for a in order[1:]:
        if count[a] > count[win] or (count[a] == count[win] and best[a] > best[win]):
            win = a
    return win


def axis_reads(trace, axis):
    """[(colour, value)] of 'red x=5 blue x=20' (axis 'x' or 'y')."""
    return [(c, int(v)) for c, v in re.findall(r"(\w+) %s=(\d+)" % axis, trace)]


def main(path):
    recs = [json.loads(line) for line in open(path) if line.strip()]
    k = len(recs[0].get("sample_answers") or [])
    rows = collections.OrderedDict()
    for r in recs:
        key = r["family"] + ": " + (r.get("template") or "?")
        s = rows.setdefault(key, collections.Counter())
        ans, lps = r.get("sample_answers") or [], r.get("sample_logp") or []
        g = r["greedy_answer"] == r["truth"]
        m5 = vote(ans[:5], lps[:5]) == r["truth"]
        mode = vote(ans, lps) == r["truth"]
        s["n"] += 1
        s["g"] += g
        s["m5"] += m5
        s["mode"] += mode
        s["gm"] += (not g) and mode
        s["mg"] += g and not mode
        s["sampled"] += sum(a == r["truth"] for a in ans)
    tot = collections.Counter()
    print("%d items, %d samples each\n" % (len(recs), k))
    print("| template | n | greedy | sampled | maj@5 | mode@%d | maj@5 - greedy | mode - greedy | G-M+ | G+M- |" % k)
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for key, s in sorted(rows.items()) + [("all", None)]:
        if s is None:
            s = tot
        else:
            tot.update(s)
        n = s["n"]
        pc = lambda x: 100.0 * x / n
        print("| %s | %d | %.1f | %.1f | %.1f | %.1f | %+.1f | %+.1f | %d | %d |" % (
            key, n, pc(s["g"]), 100.0 * s["sampled"] / max(n * k, 1), pc(s["m5"]), pc(s["mode"]),
            pc(s["m5"] - s["g"]), pc(s["mode"] - s["g"]), s["gm"], s["mg"]))

    # Spatial axis questions: are the greedy reads right, and is the answer
    # the one the reads imply?
    st = collections.Counter()
    for r in recs:
        q = r["question"]
        if not q.startswith("Is the "):
            continue
        axis = "x" if " left or right " in q else "y"
        t, g = axis_reads(r.get("trace", ""), axis), axis_reads(r["greedy"], axis)
        if len(t) != 2 or len(g) != 2:
            st["unread"] += 1
            continue
        st["n"] += 1
        st["err"] += abs(g[0][1] - t[0][1]) + abs(g[1][1] - t[1][1])
        st["order"] += (g[0][1] > g[1][1]) == (t[0][1] > t[1][1])
        implied = ("right" if axis == "x" else "below") if g[0][1] > g[1][1] else ("left" if axis == "x" else "above")
        st["consistent"] += r["greedy_answer"] == implied
    if st["n"]:
        n = st["n"]
        print("\nspatial axis questions, greedy traces: %d read (%d not): mean |read - truth| %.1f units of 0-31, "
              "order of the two reads right %.0f%%, answer as the reads imply %.0f%%" % (
                  n, st["unread"], st["err"] / (2.0 * n), 100.0 * st["order"] / n, 100.0 * st["consistent"] / n))


if __name__ == "__main__":
    main(sys.argv[1])
