package kernels

import "fmt"

// Sgemm computes C = alpha*op(A)*op(B) + beta*C for row-major matrices, where
// op(X) is X or its transpose. op(A) is m x k, op(B) is k x n, C is m x n.
// A is read as a[i*lda+p] (or a[p*lda+i] when transA), likewise B; C as
// c[i*ldc+j]. beta == 0 overwrites C without reading it (NaNs in C vanish).
func Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	checkGemm("Sgemm", transA, transB, m, n, k, a, lda, b, ldb, c, ldc)
	if m*n*k <= 128 && m*n*k > 0 {
		sgemmTiny(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	sgemmImpl(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// SgemmStridedBatched runs batch independent Sgemm calls whose operands start
// strideA, strideB and strideC elements apart (attention's per-head GEMMs).
// A stride of 0 reuses the same operand for every batch (broadcasting).
func SgemmStridedBatched(transA, transB bool, m, n, k int, alpha float32, a []float32, lda, strideA int, b []float32, ldb, strideB int, beta float32, c []float32, ldc, strideC int, batch int) {
	CheckGemm("SgemmStridedBatched", transA, transB, m, n, k, len(a), lda, strideA, len(b), ldb, strideB, len(c), ldc, strideC, batch)
	if batch == 0 || m == 0 || n == 0 {
		return
	}
	sgemmBatchedImpl(transA, transB, m, n, k, alpha, a, lda, strideA, b, ldb, strideB, beta, c, ldc, strideC, batch)
}

func checkGemm(name string, transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	CheckGemm(name, transA, transB, m, n, k, len(a), lda, 0, len(b), ldb, 0, len(c), ldc, 0, 1)
}

// CheckGemm panics, naming the op and the sizes, unless the arguments
// describe a valid SgemmStridedBatched: sizes, batch and strides not
// negative, leading dimensions of at least the columns, operands of lengths
// lenA, lenB and lenC holding batch matrices stride elements apart, and
// batch items of C that do not overlap. Every backend (the CPU kernels,
// kernels/cuda on device buffers) checks its GEMMs with it.
func CheckGemm(name string, transA, transB bool, m, n, k, lenA, lda, strideA, lenB, ldb, strideB, lenC, ldc, strideC, batch int) {
	if m < 0 || n < 0 || k < 0 {
		panic(fmt.Sprintf("%s: negative size m=%d n=%d k=%d", name, m, n, k))
	}
	if batch < 0 || strideA < 0 || strideB < 0 || strideC < 0 {
		panic(fmt.Sprintf("%s: bad batch %d or strides %d,%d,%d", name, batch, strideA, strideB, strideC))
	}
	ar, ac := m, k
	if transA {
		ar, ac = k, m
	}
	br, bc := k, n
	if transB {
		br, bc = n, k
	}
	need := func(what string, rows, cols, ld, stride, have int) {
		if ld < max(cols, 1) {
			panic(fmt.Sprintf("%s: ld%s=%d < %d columns (m=%d n=%d k=%d)", name, what, ld, cols, m, n, k))
		}
		if batch > 0 && rows > 0 && cols > 0 {
			if want := (batch-1)*stride + (rows-1)*ld + cols; have < want {
				panic(fmt.Sprintf("%s: len(%s)=%d < %d needed for %d x %dx%d with ld=%d, stride=%d", name, what, have, want, batch, rows, cols, ld, stride))
			}
		}
	}
	need("a", ar, ac, lda, strideA, lenA)
	need("b", br, bc, ldb, strideB, lenB)
	need("c", m, n, ldc, strideC, lenC)
	if m > 0 && n > 0 && batch > 1 && strideC < (m-1)*ldc+n {
		panic(fmt.Sprintf("%s: strideC=%d makes batch items of C (%dx%d, ldc=%d) overlap", name, strideC, m, n, ldc))
	}
}

// sgemmTiny is every variant's path for products of at most 128
// multiply-adds, where any setup costs more than the arithmetic.
func sgemmTiny(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	sa, pa := lda, 1 // a[i*sa + p*pa]
	if transA {
		sa, pa = 1, lda
	}
	sb, pb := 1, ldb // b[j*sb + p*pb]
	if transB {
		sb, pb = ldb, 1
	}
	for i := 0; i < m; i++ {
		crow := c[i*ldc : i*ldc+n]
		for j := range crow {
			var s float32
			ai, bi := i*sa, j*sb
			for p := 0; p < k; p++ {
				s += a[ai] * b[bi]
				ai += pa
				bi += pb
			}
			if beta == 0 {
				crow[j] = alpha * s
			} else {
				crow[j] = alpha*s + beta*crow[j]
			}
		}
	}
}

// SgemmRef is the reference: a plain triple loop with float32 accumulation in
// index order. It defines what every other variant must compute.
func SgemmRef(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s float32
			for p := 0; p < k; p++ {
				var av, bv float32
				if transA {
					av = a[p*lda+i]
				} else {
					av = a[i*lda+p]
				}
				if transB {
					bv = b[j*ldb+p]
				} else {
					bv = b[p*ldb+j]
				}
				s += av * bv
			}
			if beta == 0 {
				c[i*ldc+j] = alpha * s
			} else {
				c[i*ldc+j] = alpha*s + beta*c[i*ldc+j]
			}
		}
	}
}

// sgemmGeneric is the portable fast path: op(B) is packed row-major once,
// then rows of C are computed as sums of scaled rows of B (i-k-j order, which
// the Go compiler turns into tight loops), split over threads by rows of C.
func sgemmGeneric(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	sgemmRows(true, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// sgemmSerial is sgemmGeneric on the calling goroutine only (the batched
// form parallelises over the batch instead).
func sgemmSerial(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	sgemmRows(false, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

func sgemmRows(parallel, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	bp, ldbp := b, ldb
	if transB && k > 0 {
		bp = getBuf(k * n)
		defer putBuf(bp)
		for j := 0; j < n; j++ {
			row := b[j*ldb : j*ldb+k]
			for p, v := range row {
				bp[p*n+j] = v
			}
		}
		ldbp = n
	}
	rows := func(lo, hi int) {
		for i := lo; i < hi; i++ {
			crow := c[i*ldc : i*ldc+n]
			scaleC(1, len(crow), beta, crow, len(crow))
			for p := 0; p < k; p++ {
				var av float32
				if transA {
					av = a[p*lda+i]
				} else {
					av = a[i*lda+p]
				}
				av *= alpha
				brow := bp[p*ldbp : p*ldbp+n]
				for j, bv := range brow {
					crow[j] += av * bv
				}
			}
		}
	}
	if parallel {
		Parallel(m, max(1, 32768/max(1, n*k)), rows)
	} else {
		rows(0, m)
	}
}

func sgemmBatchedGeneric(transA, transB bool, m, n, k int, alpha float32, a []float32, lda, strideA int, b []float32, ldb, strideB int, beta float32, c []float32, ldc, strideC int, batch int) {
	// Small per-batch problems: parallelise over the batch, each GEMM serial.
	if m*n*k < 1<<16 && batch > 1 {
		Parallel(batch, 1, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				sgemmSerial(transA, transB, m, n, k, alpha, tail(a, i*strideA), lda, tail(b, i*strideB), ldb, beta, tail(c, i*strideC), ldc)
			}
		})
		return
	}
	for i := 0; i < batch; i++ {
		sgemmImpl(transA, transB, m, n, k, alpha, tail(a, i*strideA), lda, tail(b, i*strideB), ldb, beta, tail(c, i*strideC), ldc)
	}
}

var (
	sgemmImpl        = sgemmGeneric
	sgemmBatchedImpl = sgemmBatchedGeneric
)
