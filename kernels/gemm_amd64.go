//go:build !noasm

package kernels

// Micro-kernels in gemm_amd64.s: C[0:MR,0:NR] = alpha*(a~ x b~) + beta*C over
// k steps of packed panels (a~: MR floats per step, b~: NR floats per step).
// beta == 0 does not read C.

//go:noescape
func sgemmKernel12x32(k int, a, b, c *float32, ldc int, alpha, beta float32)

//go:noescape
func sgemmKernel6x16(k int, a, b, c *float32, ldc int, alpha, beta float32)
