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

// axpyN does y += alpha*x for the direct GEMM path: the 8-wide AVX2 kernel
// (it runs on AVX-512 CPUs too, and suits the short rows of that path) and a
// scalar tail. Called directly, not through a func value, so that nothing
// escapes.
func axpyN(alpha float32, x, y []float32) {
	nv := len(y) &^ 7
	if nv > 0 {
		axpyAVX2(alpha, &x[0], &y[0], nv)
	}
	for i := nv; i < len(y); i++ {
		y[i] += alpha * x[i]
	}
}

// dotN returns sum x*y: 8 float32 lanes, then a float32 tail.
func dotN(x, y []float32) float32 {
	nv := len(x) &^ 7
	var s float32
	if nv > 0 {
		var l [8]float32
		dotAVX2(&x[0], &y[0], nv, &l[0])
		s = ((l[0] + l[1]) + (l[2] + l[3])) + ((l[4] + l[5]) + (l[6] + l[7]))
	}
	for i := nv; i < len(x); i++ {
		s += x[i] * y[i]
	}
	return s
}

// dot4N sets out[r] = dotN(x, y[r*ldy:r*ldy+len(x)]) for r < 4, bitwise:
// the same lanes, the same lane sum and the same tail, with x loaded once.
func dot4N(x, y []float32, ldy int, out *[4]float32) {
	k := len(x)
	if k == 0 {
		*out = [4]float32{}
		return
	}
	_ = y[3*ldy+k-1] // bounds, before the assembly reads
	nv := k &^ 7
	var s [4]float32
	if nv > 0 {
		var l [32]float32
		dot4AVX2(&x[0], &y[0], ldy, nv, &l[0])
		for r := range s {
			q := l[8*r : 8*r+8]
			s[r] = ((q[0] + q[1]) + (q[2] + q[3])) + ((q[4] + q[5]) + (q[6] + q[7]))
		}
	}
	for r := range s {
		yr := y[r*ldy : r*ldy+k]
		for i := nv; i < k; i++ {
			s[r] += x[i] * yr[i]
		}
	}
	*out = s
}

const hasPackA4 = true
