#!/bin/bash
# Measures the kernels and their peers and writes bench/results/kernels-<date>.md:
#   1. go run ./cmd/kiln bench kernels   (kiln 1T/all threads, gonum, FMA peak; interleaved)
#   2. bench/peers_gemm.py               (OpenBLAS via numpy and torch, OPENBLAS_* unset)
#   3. go test -bench Vec ./kernels/     (vector kernels vs their pure-Go references)
# The machine has 2 cores shared with other work: every table is best-of
# interleaved repetitions, and the FMA peak lines say whether a core was busy.
# Usage: bench/run_kernels.sh [reps]    (needs /usr/bin/python3 with numpy+torch
# and libopenblas0-pthread for step 2; it is skipped when missing)
set -euo pipefail
cd "$(dirname "$0")/.."
REPS=${1:-5}
OUT=bench/results/kernels-$(date -u +%Y-%m-%d).md
PEERS=${PEERS:-../shared/peers/py}
TMP=$(mktemp -d)
go build -o "$TMP/kiln" ./cmd/kiln
{
  echo "# Kernel benchmarks, $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo
  echo "Machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores;" \
       "cpuid family/model $(grep -m1 'cpu family' /proc/cpuinfo | cut -d: -f2 | xargs)/$(grep -m1 '^model' /proc/cpuinfo | cut -d: -f2 | xargs);" \
       "$(lscpu | grep -E 'L1d|L2 cache' | tr -s ' ' | tr '\n' ';')"
  echo "Go: $(go version | cut -d' ' -f3-)."
  echo
  echo "## SGEMM: kiln vs gonum vs FMA peak"
  echo
  echo '```'
  echo "go run ./cmd/kiln bench kernels -shapes all -reps $REPS"
  echo '```'
  echo
  "$TMP/kiln" bench kernels -shapes all -reps "$REPS"
  echo
  echo "## SGEMM: OpenBLAS (numpy.matmul / torch.mm), same shapes"
  echo
  echo '```'
  echo "env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE /usr/bin/python3 bench/peers_gemm.py --reps $REPS"
  echo '```'
  echo
  if [ -x /usr/bin/python3 ] && /usr/bin/python3 -c 'import numpy, torch' 2>/dev/null; then
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE /usr/bin/python3 bench/peers_gemm.py --peers "$PEERS" --reps "$REPS"
  else
    echo "(skipped: /usr/bin/python3 with numpy and torch not found)"
  fi
  echo
  echo "## Vector kernels: ns per call, reference vs SIMD (best of 3)"
  echo
  echo '```'
  echo "go test -run XXX -bench 'Vec/.*/(128|512|4096)/' -benchtime 50ms -count 3 ./kernels/"
  echo '```'
  echo
  go test -run XXX -bench 'Vec/.*/(128|512|4096)/' -benchtime 50ms -count 3 ./kernels/ 2>/dev/null | grep '^Benchmark' |
    awk '{split($1,a,"/"); key=a[2]" "a[3]; v=a[4]; sub(/-[0-9]+$/,"",v);
          if(!((key,v) in t) || $3<t[key,v]) t[key,v]=$3; if(!(key in seen)){seen[key]=1; order[++n]=key}}
         END {print "| kernel | n | ref ns | avx2 ns | avx512 ns | avx2 speedup | avx512 speedup |"; print "|---|---:|---:|---:|---:|---:|---:|";
              for(i=1;i<=n;i++){k=order[i]; split(k,kk," ");
                printf "| %s | %s | %s | %s | %s | %.1fx | %.1fx |\n",kk[1],kk[2],t[k,"ref"],t[k,"avx2"],t[k,"avx512"],t[k,"ref"]/t[k,"avx2"],t[k,"ref"]/t[k,"avx512"]}}'
} > "$OUT"
rm -rf "$TMP"
echo "wrote $OUT"
