#!/usr/bin/python3
"""Per-round kiln/PyTorch ratios from the output of bench/run_vlm.sh.

Training: kiln's step time over PyTorch's median step time (below 1.0,
kiln is faster). Generation: kiln's tokens/s over PyTorch's, i.e.
PyTorch's median time per generate call over kiln's (above 1.0, kiln is
faster). Threads: kiln -test.cpu 1 against torch --threads 1, kiln
-test.cpu 2 against torch --threads 1:2. "train arena" is the step in a
tensor.Arena at GOGC 25, as kiln train runs it. Prints the per-round ratios, their
median and range.

    python3 bench/py/vlm_ratios.py bench/results/vlm-DATE.txt
"""
import json
import re
import statistics
import sys


def ratios(text):
    out = {"train 1 thread": [], "train 2 threads": [], "train arena 1 thread": [], "train arena 2 threads": [],
           "generate 1 thread": [], "generate 2 threads": []}
    parts = re.split(r"== round \d+ kiln", text)[1:]
    params = set()  # both sides must time the same model
    for blk in parts:
        kiln, torch = {}, {}
        for m in re.finditer(r"Benchmark(TrainStepArena|TrainStep|Generate)(-2)?\s+\d+\s+(\d+) ns/op(?:\s+(\d+) params)?", blk):
            kiln[(m.group(1), 2 if m.group(2) else 1)] = int(m.group(3)) / 1e9
            if m.group(4):
                params.add(int(m.group(4)))
        for line in blk.splitlines():
            if line.startswith("{"):
                d = json.loads(line)
                params.add(d["params"])
                torch[(d["what"], 1 if d["threads"] == "1" else 2)] = d["median_s"]
        for th in (1, 2):
            s = "thread" if th == 1 else "threads"
            out[f"train {th} {s}"].append(kiln[("TrainStep", th)] / torch[("train", th)])
            if ("TrainStepArena", th) in kiln:  # runs before this benchmark existed lack it
                out[f"train arena {th} {s}"].append(kiln[("TrainStepArena", th)] / torch[("train", th)])
            out[f"generate {th} {s}"].append(torch[("gen", th)] / kiln[("Generate", th)])
    if len(params) > 1:
        sys.exit(f"kiln and PyTorch timed different models: parameter counts {sorted(params)}")
    return out


def main():
    for name, v in ratios(open(sys.argv[1]).read()).items():
        if not v:
            continue
        print(f"{name:20s} median {statistics.median(v):.2f}  range {min(v):.2f}-{max(v):.2f}  rounds " +
              " ".join(f"{x:.2f}" for x in v))


if __name__ == "__main__":
    main()
