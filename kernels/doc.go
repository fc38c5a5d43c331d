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
package kernels
