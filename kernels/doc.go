// Package kernels holds kiln's raw float32 kernels on slices: GEMM, elementwise
// maps, row reductions, the fused rows of softmax and normalisation, and the
// fused optimizer step. Everything above (tensor, nn, ...) calls this one API,
// so faster variants (Go assembly, CUDA) swap in behind the same functions.
//
// Conventions:
//   - Matrices are row-major with explicit leading dimensions, BLAS style.
//   - A kernel never reads or writes outside the elements its arguments name;
//     slices may be longer (tests check guard bands around outputs).
//   - Every kernel has a pure-Go reference (the *Ref functions) that defines
//     its result; faster variants must agree with it within the tolerance
//     stated in the conformance tests.
//   - Length or shape mismatches are programmer errors and panic with the
//     kernel's name and the sizes.
//   - Work is split across Threads() goroutines with a partition that depends
//     only on the problem size and the thread count, never on scheduling, so
//     the same inputs and thread count give bitwise the same output.
//
// # SIMD variants
//
// Every kernel has up to three implementations: generic (pure Go: the *Ref
// references for the vector kernels, a row-blocked loop for GEMM), avx2
// (AVX2+FMA assembly, 8-wide) and avx512 (AVX-512 F/DQ/BW/VL assembly,
// 16-wide). At init the best one the CPU supports (cpuid) is installed;
// Variant reports it and Variants lists what this CPU and build can run.
//
//   - KILN_SIMD=generic|avx2|avx512 forces a variant. An unknown value, or a
//     variant this CPU or build cannot run, is a start-up error: init prints
//     one line ("kiln: KILN_SIMD=avx512: not supported by this CPU or build
//     (supported: generic, avx2)") and exits with status 2, before any
//     kernel runs. CheckSIMDEnv validates a value without exiting.
//   - The build tag noasm (and any GOARCH but amd64) builds pure Go only.
//   - The assembly is generated: gen/gemmgen.py writes gemm_amd64.s and
//     gen/vecgen.py writes vec_amd64.s and vec_amd64.go.
//
// SGEMM (gemm_blis.go) is a BLIS loop nest around MR x NR register tiles:
// 12x32 (24 zmm accumulators) for avx512, 6x16 (12 ymm) for avx2, with KC,
// MC and NC derived from the L1d, L2 and L3 sizes cpuid reports. B is packed
// into NR-wide panels; A is read in place by the micro-kernel (or packed when
// its rows are a multiple of 4 KiB apart, which would alias in the caches).
// Edge tiles go through a scratch tile, so nothing outside C is touched.
// Tiny products (<= 128 multiply-adds) take a scalar loop, skinny ones
// (m <= 4, or n <= 4 with B transposed) axpy/dot loops, small ones a
// pooled single-threaded packing path. Threads take chunks of tiles from a
// persistent pool; each element of C is computed by the same instruction
// sequence whoever computes it, so results do not depend on the thread count.
//
// Accuracy of the vector variants against the references: Exp is within 2
// ulp over the whole float32 range (measured max 0.88 ulp; overflow gives
// +Inf, underflow 0 through correctly rounded denormals, NaN stays NaN);
// Gelu's erf uses the Numerical Recipes erfc fit (relative error < 1.2e-7
// before float32 rounding); reductions accumulate in float32 lanes and sum
// the lanes in float64. The tolerances are in the conformance tests.
package kernels
