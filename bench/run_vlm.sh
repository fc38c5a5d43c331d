#!/bin/bash
# The VLM against the same model in PyTorch (issue 5, item 9): kiln's
# BenchmarkTrainStep, BenchmarkTrainStepArena and BenchmarkGenerate
# (vision/bench_test.go) at 1 and 2
# threads, interleaved with bench/py/vlm_bench.py at torch 1 thread and at
# torch 1 + OpenBLAS 2 (the fast 2-core PyTorch setup here), ROUNDS times.
# Needs Debian's python3-torch (/usr/bin/python3). Run it on a quiet machine:
# both sides need the cores to themselves.
#
#   bench/run_vlm.sh [ROUNDS] > bench/results/vlm-DATE.txt
#   WIDTH=128 HIDDEN=384 bench/run_vlm.sh [ROUNDS]   # a wider model on both sides
set -euo pipefail
rounds=${1:-3}
export KILN_BENCH_WIDTH=${WIDTH:-96} KILN_BENCH_HIDDEN=${HIDDEN:-256}
size=(--width "$KILN_BENCH_WIDTH" --hidden "$KILN_BENCH_HIDDEN")
root=$(cd "$(dirname "$0")/.." && pwd)
bin=$(mktemp -d)/vision.test
(cd "$root" && go test -c -o "$bin" ./vision/)
echo "# $(date -u) $(git -C "$root" rev-parse --short HEAD) $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2) width $KILN_BENCH_WIDTH hidden $KILN_BENCH_HIDDEN"
for round in $(seq "$rounds"); do
	echo "== round $round kiln"
	(cd "$root/vision" && "$bin" -test.run '^$' -test.bench 'TrainStep$|Generate$' -test.benchtime 5x -test.cpu 1,2 2>&1 | grep Benchmark)
	# The step as kiln train runs it: in a tensor.Arena, at GOGC 25.
	(cd "$root/vision" && GOGC=25 "$bin" -test.run '^$' -test.bench 'TrainStepArena$' -test.benchtime 5x -test.cpu 1,2 2>&1 | grep Benchmark)
	echo "== round $round torch 1"
	/usr/bin/python3 "$root/bench/py/vlm_bench.py" --threads 1 --reps 3 "${size[@]}" 2>&1 | tail -2
	echo "== round $round torch 1:2"
	/usr/bin/python3 "$root/bench/py/vlm_bench.py" --threads 1:2 --reps 3 "${size[@]}" 2>&1 | tail -2
done
