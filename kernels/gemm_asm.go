//go:build !noasm && amd64

package kernels

// setGemm routes Sgemm and SgemmStridedBatched through the BLIS driver of g.
func setGemm(g *gemmArch) {
	sgemmImpl = func(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
		g.sgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, Threads())
	}
	sgemmBatchedImpl = func(transA, transB bool, m, n, k int, alpha float32, a []float32, lda, strideA int, b []float32, ldb, strideB int, beta float32, c []float32, ldc, strideC int, batch int) {
		g.sgemmBatched(transA, transB, m, n, k, alpha, a, lda, strideA, b, ldb, strideB, beta, c, ldc, strideC, batch)
	}
}

func gemmArchs() []*gemmArch {
	var gs []*gemmArch
	if hasAVX2 {
		gs = append(gs, gemmAVX2)
	}
	if hasAVX512 {
		gs = append(gs, gemmAVX512)
	}
	return gs
}
