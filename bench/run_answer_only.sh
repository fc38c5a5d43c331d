#!/bin/bash
# The answer-only experiment (bench/results/answer-only-2026-11-27.md):
# fine-tune the trace-only model shipped at 2c6a654 (taken from git) with and
# without -answer-only 0.3, score both and that model on 2000 validation items with 25 samples (the vote
# gap and each route's share and accuracy), run the EvoLMM ablation table
# on the answer-only model, and score one evolved model's routes. About 25
# minutes on 2 cores; everything lands in OUT (default runs/answer-only).
#
#   bench/run_answer_only.sh [OUT]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root/runs/answer-only}
mkdir -p "$out"
kiln=$out/kiln
(cd "$root" && go build -o "$kiln" ./cmd/kiln)
cd "$root"
base=$out/trace-only
mkdir -p "$base"
for f in config.json model.safetensors tokenizer.json; do
	git show 2c6a654:vision/pretrained/model/$f > "$base/$f"
done
ft=(-init "$base" -steps 1500 -lr 1e-3 -min-lr 1e-4 -warmup 50 -seed 7 -eval-every 100000 -save-every 100000)
ev=(-split validation -items 2000 -samples 25 -self-eval=false -blind 0 -seed 3 -templates)
score() { # name model
	"$kiln" eval -model "$2" "${ev[@]}" -dump "$out/$1.jsonl" > "$out/$1.txt"
	echo "== $1"
	python3 bench/py/gap_anatomy.py "$out/$1.jsonl" | grep '^| all'
	python3 bench/py/answer_routes.py "$out/$1.jsonl" | tail -1
}
[ -f "$out/control/model/model.safetensors" ] || "$kiln" train "${ft[@]}" -out "$out/control" -export "$out/control/model" > "$out/control.log" 2>&1
[ -f "$out/ao/model/model.safetensors" ] || "$kiln" train "${ft[@]}" -answer-only 0.3 -out "$out/ao" -export "$out/ao/model" > "$out/ao.log" 2>&1
score shipped "$base"
score control "$out/control/model"
score answer-only "$out/ao/model"
"$kiln" evolve -ablation -ablation-group -model "$out/ao/model" -out "$out/evolve" -seeds 1,2,3 -steps 400 -lr 1e-4 2> /dev/null | tail -1
cat "$out/evolve/ablation.md"
"$kiln" evolve -model "$out/ao/model" -out "$out/evolved-c1" -steps 400 -lr 1e-4 -seed 1 -test-items 0 -export "$out/evolved-c1/model" 2> /dev/null > /dev/null
score evolved-c1 "$out/evolved-c1/model"
