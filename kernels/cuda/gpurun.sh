#!/usr/bin/env bash
# The GPU check of kernels/cuda (issue 4, item 5), as one prepared script for
# the GPU machine, which has the NVIDIA driver, nvcc and PyTorch but no Go.
#
# On the CPU machine first (the binary is gitignored, so it travels as a
# carried path):
#
#   .ci/cuda-deps.sh && . ~/.cache/kiln-cuda/env.sh
#   go test -tags cuda -c -o kernels/cuda/cuda.test ./kernels/cuda/
#
# then on the GPU machine, from the repository root (carry
# kernels/cuda/cuda.test):
#
#   bash kernels/cuda/gpurun.sh [conformance|bench|all]
#
# It writes gpu.txt, conformance.log, bench.log and torch.log under $OUT
# (or /tmp/kiln-gpu). The conformance suite fails rather than skips if the
# GPU cannot be opened (KILN_CUDA_REQUIRE=1).
set -uo pipefail
what=${1:-all}
out=${OUT:-/tmp/kiln-gpu}
mkdir -p "$out"
cd "$(dirname "$0")"
if [ ! -x ./cuda.test ]; then
	echo "gpurun.sh: kernels/cuda/cuda.test is missing: build it on the CPU machine (see the header)" >&2
	exit 2
fi
# The driver's library may live outside the loader's default path.
export LD_LIBRARY_PATH=${LD_LIBRARY_PATH:+$LD_LIBRARY_PATH:}/usr/local/nvidia/lib64:/usr/local/nvidia/lib
{
	date -u
	nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv
	nvcc --version | tail -1
	ldd ./cuda.test | grep -i cuda
} 2>&1 | tee "$out/gpu.txt"
rc=0
if [ "$what" = conformance ] || [ "$what" = all ]; then
	KILN_CUDA_REQUIRE=1 ./cuda.test -test.v -test.timeout 240s 2>&1 | tee "$out/conformance.log" || rc=1
	grep -E '^(--- FAIL|FAIL|ok|PASS)' "$out/conformance.log" | head -40
fi
if [ "$what" = bench ] || [ "$what" = all ]; then
	KILN_CUDA_REQUIRE=1 ./cuda.test -test.run '^$' -test.bench . -test.benchtime 20x -test.timeout 240s 2>&1 | tee "$out/bench.log" || rc=1
	PYTHONUNBUFFERED=1 timeout 180 python3 torch_baseline.py 2>&1 | tee "$out/torch.log" || rc=1
fi
# A summary for bench/results: the GPU, the tests' verdicts, every rate.
{
	echo "# kernels/cuda on $(head -3 "$out/gpu.txt" | tail -1)"
	echo
	echo '```'
	cat "$out/gpu.txt"
	echo '```'
	if [ -f "$out/conformance.log" ]; then
		echo
		echo "## Conformance"
		echo
		echo '```'
		grep -E '^(--- (PASS|FAIL|SKIP)|FAIL|ok|PASS|cuda conformance|  Test)|NMSE|bitwise|draws differ' "$out/conformance.log"
		echo '```'
	fi
	if [ -f "$out/bench.log" ]; then
		echo
		echo "## Benchmarks (kiln, then PyTorch on the same GPU)"
		echo
		echo '```'
		grep -E '^Benchmark' "$out/bench.log"
		cat "$out/torch.log" 2>/dev/null
		echo '```'
	fi
} >"$out/summary.md"
exit $rc
