package kernels

import (
	"time"
)

// FMAPeak measures the single-core FP32 FMA peak of the given variant
// ("avx512" or "avx2") in GFLOPS with an assembly loop of independent FMAs,
// best of reps runs of about d each. It returns 0 when the variant is not
// available (noasm builds, other CPUs).
func FMAPeak(v string, d time.Duration, reps int) float64 {
	f, flops := fmaLoop(v)
	if f == nil {
		return 0
	}
	iters := 1 << 16
	for {
		t := time.Now()
		f(iters)
		if time.Since(t) > d/8 || iters > 1<<30 {
			break
		}
		iters *= 2
	}
	iters = int(float64(iters) * 8 * 1.0)
	best := 0.0
	for range max(1, reps) {
		t := time.Now()
		f(iters)
		if g := float64(iters) * flops / time.Since(t).Seconds() / 1e9; g > best {
			best = g
		}
	}
	return best
}

// FMALoop runs iters iterations of the FMA peak loop of variant v (each
// iteration is 384 flops for avx512, 192 for avx2) and reports whether the
// variant exists here. Benchmarks interleave it with their own timings.
func FMALoop(v string, iters int) bool {
	f, _ := fmaLoop(v)
	if f == nil {
		return false
	}
	f(iters)
	return true
}
