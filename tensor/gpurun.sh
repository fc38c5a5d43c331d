#!/usr/bin/env bash
# The GPU check of device tensors (issue 4, item 3): every op and its
# backward on the GPU against the CPU path, GradCheck on device, the tiny
# model and the tiny VLM training and generating on the GPU as on the CPU,
# then the benchmark VLM's training step and generation on the GPU. For the
# GPU machine, which has no Go: build the test binaries here (they are
# gitignored, so they travel as carried paths):
#
#   .ci/cuda-deps.sh && . ~/.cache/kiln-cuda/env.sh
#   for p in tensor nn vision; do go test -tags cuda -c -ldflags='-s -w' -o $p/$p.test ./$p/; done
#
# then on the GPU machine, from the repository root (carry tensor/tensor.test,
# nn/nn.test, vision/vision.test):
#
#   bash tensor/gpurun.sh [test|bench|all]
#
# It writes device-tests.log, device-bench.log, torch-vlm.log (PyTorch eager,
# same model, same GPU) and gpu.txt under $OUT (or
# /tmp/kiln-gpu). KILN_CUDA_REQUIRE=1 makes a GPU that cannot be opened a
# failure, not a skip. The CPU side of the training-step ratio is
# BenchmarkTrainStep on the 2-core machine (bench/results), not this host.
set -uo pipefail
what=${1:-all}
out=${OUT:-/tmp/kiln-gpu}
mkdir -p "$out"
root=$(cd "$(dirname "$0")/.." && pwd)
for p in tensor nn vision; do
	if [ ! -x "$root/$p/$p.test" ]; then
		echo "tensor/gpurun.sh: $p/$p.test is missing: build it on the CPU machine (see the header)" >&2
		exit 2
	fi
done
export LD_LIBRARY_PATH=${LD_LIBRARY_PATH:+$LD_LIBRARY_PATH:}/usr/local/nvidia/lib64:/usr/local/nvidia/lib
export KILN_CUDA_REQUIRE=1
{
	date -u
	nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv
} 2>&1 | tee "$out/gpu.txt"
rc=0
if [ "$what" = test ] || [ "$what" = all ]; then
	for p in tensor nn vision; do
		# Each binary runs in its package directory (testdata paths).
		(cd "$root/$p" && ./$p.test -test.run 'Device|OnDevice' -test.v -test.timeout 300s) 2>&1 | tee -a "$out/device-tests.log" || rc=1
	done
	grep -E '^(--- FAIL|FAIL|ok|PASS)' "$out/device-tests.log" | head -40
fi
if [ "$what" = bench ] || [ "$what" = all ]; then
	(cd "$root/vision" && ./vision.test -test.run '^$' -test.bench 'Device$' -test.benchtime 10x -test.timeout 300s) 2>&1 | tee "$out/device-bench.log" || rc=1
	# The same model, batch and AdamW step in PyTorch eager on this GPU: the
	# issue's "ratio against PyTorch on the same GPU".
	python3 "$root/bench/py/vlm_bench.py" --device cuda --reps 10 --steps 5 2>&1 | tee "$out/torch-vlm.log" || rc=1
fi
exit $rc
