package kernels

import (
	"fmt"
	"math"
	"math/rand"
	"os"
	"strings"
	"testing"
)

// forEachVariant runs f once per SIMD variant this CPU and build support,
// with that variant installed, and restores the variant chosen at init.
// KILN_SIMD (checked at init) narrows the set to the forced variant.
func forEachVariant(t *testing.T, f func(t *testing.T)) {
	t.Helper()
	vs := Variants()
	if os.Getenv("KILN_SIMD") != "" {
		vs = []string{Variant()}
	}
	orig := Variant()
	defer setVariant(orig)
	for _, v := range vs {
		setVariant(v)
		t.Run(v, f)
	}
}

const guardVal = float32(-12345.25)

// gemmCase is one conformance case; offsets place the operands at
// unaligned starts inside guard-banded buffers.
type gemmCase struct {
	transA, transB     bool
	m, n, k            int
	alpha, beta        float32
	padA, padB, padC   int // extra leading-dimension columns
	offA, offB, offC   int
	threads            int
	batch, batchStride int
}

func randSlice(r *rand.Rand, n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(r.NormFloat64())
	}
	return x
}

const guard = 37

// checkGemm runs Sgemm (or SgemmStridedBatched when batch > 0) on c and
// compares with SgemmRef: within a relative bound on every element and
// with every element outside C (guards, ld gaps) untouched.
func runGemmCase(t *testing.T, r *rand.Rand, gc gemmCase) {
	t.Helper()
	ar, ac := gc.m, gc.k
	if gc.transA {
		ar, ac = gc.k, gc.m
	}
	br, bc := gc.k, gc.n
	if gc.transB {
		br, bc = gc.n, gc.k
	}
	lda, ldb, ldc := ac+gc.padA, bc+gc.padB, gc.n+gc.padC
	lda, ldb, ldc = max(lda, 1), max(ldb, 1), max(ldc, 1)
	batch := max(gc.batch, 1)
	sa, sb, sc := ar*lda+gc.batchStride, br*ldb+gc.batchStride, gc.m*ldc+gc.batchStride
	abuf := randSlice(r, gc.offA+sa*batch+guard)
	bbuf := randSlice(r, gc.offB+sb*batch+guard)
	cbuf := make([]float32, gc.offC+sc*batch+guard)
	for i := range cbuf {
		cbuf[i] = guardVal
	}
	inC := func(i int) (int, int, int, bool) {
		i -= gc.offC
		if i < 0 || i >= sc*batch {
			return 0, 0, 0, false
		}
		bi, rem := i/sc, i%sc
		row, col := rem/ldc, rem%ldc
		return bi, row, col, row < gc.m && col < gc.n
	}
	for i := range cbuf {
		if _, _, _, ok := inC(i); ok {
			cbuf[i] = float32(r.NormFloat64())
			if gc.beta == 0 && r.Intn(4) == 0 {
				cbuf[i] = float32(math.NaN()) // beta == 0 must not read C
			}
		}
	}
	want := append([]float32(nil), cbuf...)
	a, b, c := abuf[gc.offA:], bbuf[gc.offB:], cbuf[gc.offC:]
	if gc.threads > 0 {
		defer SetThreads(SetThreads(gc.threads))
	}
	if gc.batch > 0 {
		SgemmStridedBatched(gc.transA, gc.transB, gc.m, gc.n, gc.k, gc.alpha, a, lda, sa, b, ldb, sb, gc.beta, c, ldc, sc, gc.batch)
	} else {
		Sgemm(gc.transA, gc.transB, gc.m, gc.n, gc.k, gc.alpha, a, lda, b, ldb, gc.beta, c, ldc)
	}
	for bi := 0; bi < batch; bi++ {
		SgemmRef(gc.transA, gc.transB, gc.m, gc.n, gc.k, gc.alpha, abuf[gc.offA+bi*sa:], lda, bbuf[gc.offB+bi*sb:], ldb, gc.beta, want[gc.offC+bi*sc:], ldc)
	}
	for i, got := range cbuf {
		bi, row, col, ok := inC(i)
		if !ok {
			if math.Float32bits(got) != math.Float32bits(want[i]) {
				t.Fatalf("%+v: wrote outside C at buffer index %d: %v (was %v)", gc, i, got, want[i])
			}
			continue
		}
		// Error bound: k+2 roundings of the magnitude sum |alpha|*sum|a*b| + |beta*c|.
		var mag float64
		for p := 0; p < gc.k; p++ {
			ai := gc.offA + bi*sa + row*lda + p
			if gc.transA {
				ai = gc.offA + bi*sa + p*lda + row
			}
			bj := gc.offB + bi*sb + p*ldb + col
			if gc.transB {
				bj = gc.offB + bi*sb + col*ldb + p
			}
			mag += math.Abs(float64(abuf[ai]) * float64(bbuf[bj]))
		}
		mag *= math.Abs(float64(gc.alpha))
		if gc.beta != 0 {
			mag += math.Abs(float64(gc.beta) * float64(want[i]))
		}
		tol := 1.2e-7*float64(gc.k+4)*mag + 1e-30
		if d := math.Abs(float64(got) - float64(want[i])); !(d <= tol) {
			t.Fatalf("%+v: C[%d][%d][%d] = %v, want %v (|diff| %g > tol %g)", gc, bi, row, col, got, want[i], d, tol)
		}
	}
}

var alphaBetas = [][2]float32{{1, 0}, {1, 1}, {0.5, -1.5}, {-2, 0}, {0, 0.5}, {1, -0}}

// Shapes up to two register tiles in M and N (the largest MR and NR of any
// variant are 12 and 32) and K across the unrolling and KC edges.
func TestSgemmConformanceTiles(t *testing.T) {
	forEachVariant(t, func(t *testing.T) {
		r := rand.New(rand.NewSource(1))
		ms, ns := seq(0, 25), seq(0, 65)
		ks := []int{0, 1, 2, 3, 4, 5, 7, 8, 9, 13, 16, 17, 31, 64, 97}
		if testing.Short() {
			ms = []int{0, 1, 2, 5, 6, 7, 11, 12, 13, 19, 24, 25}
			ns = []int{0, 1, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 47, 63, 64, 65}
			ks = []int{0, 1, 3, 4, 5, 17, 64}
		}
		n := 0
		for _, m := range ms {
			for _, nn := range ns {
				for _, k := range ks {
					n++
					ab := alphaBetas[n%len(alphaBetas)]
					gc := gemmCase{transA: n&1 != 0, transB: n&2 != 0, m: m, n: nn, k: k, alpha: ab[0], beta: ab[1],
						padA: n % 3, padB: (n / 3) % 3, padC: (n / 9) % 3, offA: n % 5, offB: (n / 5) % 7, offC: n % 3}
					runGemmCase(t, r, gc)
				}
			}
		}
	})
}

func seq(lo, hi int) []int {
	var s []int
	for i := lo; i < hi; i++ {
		s = append(s, i)
	}
	return s
}

// Larger shapes: primes, every transpose, several KC/MC/NC blocks, threads.
func TestSgemmConformanceLarge(t *testing.T) {
	forEachVariant(t, func(t *testing.T) {
		r := rand.New(rand.NewSource(2))
		shapes := [][3]int{{97, 101, 103}, {257, 33, 521}, {1, 1000, 300}, {300, 1, 700}, {61, 4099, 3}, {515, 515, 257}, {24, 64, 1031}}
		if testing.Short() {
			shapes = shapes[:5]
		}
		for i, s := range shapes {
			for tr := 0; tr < 4; tr++ {
				ab := alphaBetas[(i+tr)%len(alphaBetas)]
				runGemmCase(t, r, gemmCase{transA: tr&1 != 0, transB: tr&2 != 0, m: s[0], n: s[1], k: s[2], alpha: ab[0], beta: ab[1],
					padA: tr, padB: 1, padC: 2, offA: 1, offB: 3, offC: 5, threads: 1 + (i+tr)%3})
			}
		}
	})
}

func TestSgemmBatchedConformance(t *testing.T) {
	forEachVariant(t, func(t *testing.T) {
		r := rand.New(rand.NewSource(3))
		for i, s := range [][4]int{{7, 9, 5, 3}, {33, 17, 64, 4}, {64, 64, 64, 2}, {130, 70, 90, 3}, {5, 5, 0, 3}} {
			runGemmCase(t, r, gemmCase{transA: i&1 != 0, transB: i&2 != 0, m: s[0], n: s[1], k: s[2], alpha: 1, beta: float32(i % 2),
				offA: 1, offB: 2, offC: 3, padC: 1, batch: s[3], batchStride: i})
		}
	})
}

// A whose rows are a multiple of 4 KiB apart is packed (not read in place).
func TestSgemmPackedA(t *testing.T) {
	forEachVariant(t, func(t *testing.T) {
		r := rand.New(rand.NewSource(6))
		for tr := 0; tr < 4; tr++ {
			m, k := 203, 1003 // lda = 1024 either way
			if tr&1 != 0 {
				m, k = 1003, 203
			}
			runGemmCase(t, r, gemmCase{transA: tr&1 != 0, transB: tr&2 != 0, m: m, n: 77, k: k, alpha: 1, beta: 0.5,
				padA: 21, offA: 3, offB: 1, offC: 2, threads: 1 + tr%2})
			// Few rows and several K blocks on 2 threads: the panelwise
			// path, packing A per unit (a partial last tile included).
			pad := 1024 - 1003 // lda = 1024: A stored 203 x 1003 ...
			if tr&1 != 0 {
				pad = 1024 - 203 // ... or, transposed, 1003 x 203
			}
			runGemmCase(t, r, gemmCase{transA: tr&1 != 0, transB: tr&2 != 0, m: 203, n: 77, k: 1003, alpha: 1, beta: 0.5,
				padA: pad, offA: 3, offB: 1, offC: 2, threads: 2})
		}
	})
}

// Tiny block sizes drive every loop of the BLIS nest (several MC, KC and NC
// blocks, partial panels) on small, fast shapes.
func TestSgemmBlocking(t *testing.T) {
	for _, g := range gemmArchs() {
		t.Run(g.name, func(t *testing.T) {
			small := *g
			small.mc, small.kc, small.nc = 2*g.mr, 8, 2*g.nr
			orig := sgemmImpl
			defer func() { sgemmImpl = orig }()
			r := rand.New(rand.NewSource(4))
			for _, th := range []int{1, 2, 3} {
				sgemmImpl = func(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
					small.sgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, th)
				}
				for i, s := range [][3]int{{5 * g.mr, 5 * g.nr, 33}, {3*g.mr + 1, 4*g.nr + 3, 17}, {2, 9 * g.nr, 41}, {g.mr*7 + 5, 3, 9}} {
					for tr := 0; tr < 4; tr++ {
						ab := alphaBetas[(i+tr)%len(alphaBetas)]
						runGemmCase(t, r, gemmCase{transA: tr&1 != 0, transB: tr&2 != 0, m: s[0] * 4, n: s[1], k: s[2] * 4, alpha: ab[0], beta: ab[1], offA: 1, offB: 2, offC: 3, padA: 1, padC: 2})
					}
				}
			}
		})
	}
}

// Results are bitwise identical for 1, 2 and 3 threads: on the blocked path
// (301x257x300) and on the panelwise path (few rows, several K blocks: the
// weight-gradient shape), transposed or not, with A read in place, packed
// (rows 4 KiB apart) and with a partial last tile.
func TestSgemmDeterministic(t *testing.T) {
	forEachVariant(t, func(t *testing.T) {
		r := rand.New(rand.NewSource(5))
		for _, s := range []struct {
			m, n, k, lda int
			transA       bool
		}{{301, 257, 300, 300, false}, {96, 77, 1000, 96, true}, {97, 256, 2048, 2048, false}, {50, 40, 1500, 1024, true}, {13, 300, 700, 700, false}} {
			a, b := randSlice(r, s.lda*max(s.m, s.k)), randSlice(r, s.k*s.n)
			var first []float32
			for _, th := range []int{1, 2, 3, 2} {
				c := make([]float32, s.m*s.n)
				old := SetThreads(th)
				Sgemm(s.transA, false, s.m, s.n, s.k, 1, a, s.lda, b, s.n, 0, c, s.n)
				SetThreads(old)
				if first == nil {
					first = c
					continue
				}
				for i := range c {
					if math.Float32bits(c[i]) != math.Float32bits(first[i]) {
						t.Fatalf("%+v threads=%d: C[%d] = %v, differs from 1 thread %v", s, th, i, c[i], first[i])
					}
				}
			}
		}
	})
}

func FuzzSgemm(f *testing.F) {
	f.Add(uint8(5), uint8(7), uint8(3), uint8(0), uint8(0), int64(1))
	f.Add(uint8(13), uint8(33), uint8(17), uint8(3), uint8(7), int64(2))
	f.Add(uint8(24), uint8(64), uint8(255), uint8(1), uint8(250), int64(3))
	f.Fuzz(func(t *testing.T, m, n, k, flags, pads uint8, seed int64) {
		r := rand.New(rand.NewSource(seed))
		ab := alphaBetas[int(flags>>2)%len(alphaBetas)]
		gc := gemmCase{transA: flags&1 != 0, transB: flags&2 != 0, m: int(m), n: int(n), k: int(k), alpha: ab[0], beta: ab[1],
			padA: int(pads & 3), padB: int(pads>>2) & 3, padC: int(pads>>4) & 3, offA: int(pads >> 6), offB: int(flags>>5) & 3, offC: int(pads) % 5,
			threads: 1 + int(flags>>7)}
		for _, v := range Variants() {
			setVariant(v)
			runGemmCase(t, r, gc)
		}
		setVariant(Variants()[len(Variants())-1])
	})
}

func TestSIMDEnv(t *testing.T) {
	if err := CheckSIMDEnv(""); err != nil {
		t.Fatal(err)
	}
	if err := CheckSIMDEnv("generic"); err != nil {
		t.Fatal(err)
	}
	if err := CheckSIMDEnv("sse9"); err == nil {
		t.Fatal("unknown variant accepted")
	}
	for _, v := range []string{VariantAVX2, VariantAVX512} {
		ok := false
		for _, s := range Variants() {
			ok = ok || s == v
		}
		if err := CheckSIMDEnv(v); (err == nil) != ok {
			t.Fatalf("CheckSIMDEnv(%s) = %v, supported %v", v, err, Variants())
		}
	}
	t.Log(fmt.Sprintf("variant %s, supported %v", Variant(), Variants()))
}

// dot4N (the small-m GEMM path's four-row dot product) is bitwise four
// dotN calls, for every length up to 2 steps of 16 and beyond, primes,
// padded row strides and unaligned starts; the rows around the four it
// reads are NaN, so a read past them shows.
func TestDot4N(t *testing.T) {
	rng := rand.New(rand.NewSource(7))
	sizes := []int{0, 1, 7, 8, 9, 15, 16, 17, 23, 24, 31, 32, 33, 47, 48, 64, 96, 97, 101, 127, 128, 131}
	for k := 2; k < 40; k++ {
		sizes = append(sizes, k)
	}
	for _, k := range sizes {
		for _, pad := range []int{0, 1, 5} {
			for _, off := range []int{0, 1, 3} {
				ldy := k + pad
				x := make([]float32, off+k)
				y := make([]float32, off+5*ldy+k)
				for i := range x {
					x[i] = rng.Float32()*2 - 1
				}
				for i := range y {
					y[i] = float32(math.NaN())
				}
				for r := 0; r < 4; r++ {
					for i := 0; i < k; i++ {
						y[off+(r+1)*ldy+i] = rng.Float32()*2 - 1
					}
				}
				xs, ys := x[off:], y[off+ldy:off+ldy+3*ldy+k]
				var got [4]float32
				dot4N(xs, ys, ldy, &got)
				for r := 0; r < 4; r++ {
					want := dotN(xs, ys[r*ldy:r*ldy+k])
					if math.Float32bits(got[r]) != math.Float32bits(want) {
						t.Fatalf("k=%d ldy=%d off=%d row %d: dot4N %v, dotN %v", k, ldy, off, r, got[r], want)
					}
				}
			}
		}
	}
}

// CheckGemm, the argument check every GEMM backend shares, names the op and
// the problem for each kind of bad call and passes valid ones.
func TestCheckGemm(t *testing.T) {
	bad := map[string]func(){
		"negative size": func() { CheckGemm("op", false, false, -1, 2, 2, 4, 2, 0, 4, 2, 0, 4, 2, 0, 1) },
		"bad batch":     func() { CheckGemm("op", false, false, 2, 2, 2, 4, 2, 0, 4, 2, 0, 4, 2, 0, -1) },
		"bad batch ":    func() { CheckGemm("op", false, false, 2, 2, 2, 4, 2, -4, 4, 2, 0, 4, 2, 0, 1) },
		"lda=1 < 2":     func() { CheckGemm("op", false, false, 2, 2, 2, 4, 1, 0, 4, 2, 0, 4, 2, 0, 1) },
		"len(b)=5 < 6":  func() { CheckGemm("op", false, true, 2, 2, 3, 6, 3, 0, 5, 3, 0, 4, 2, 0, 1) },
		"len(c)=7 < 8":  func() { CheckGemm("op", false, false, 2, 2, 2, 8, 2, 4, 8, 2, 4, 7, 2, 4, 2) },
		"overlap":       func() { CheckGemm("op", false, false, 2, 2, 2, 8, 2, 4, 8, 2, 4, 8, 2, 3, 2) },
		"Sgemm: len(a)": func() {
			Sgemm(false, false, 2, 2, 2, 1, make([]float32, 3), 2, make([]float32, 4), 2, 0, make([]float32, 4), 2)
		},
	}
	for want, f := range bad {
		func() {
			defer func() {
				msg := fmt.Sprint(recover())
				if !strings.Contains(msg, strings.TrimSpace(want)) || !strings.Contains(msg, ":") {
					t.Errorf("%s: panic %q", want, msg)
				}
			}()
			f()
		}()
	}
	// Valid: transposes, broadcast operands (stride 0), empty batch and sizes.
	CheckGemm("op", true, true, 2, 3, 4, 8, 2, 0, 12, 4, 0, 12, 3, 6, 2)
	CheckGemm("op", false, false, 0, 0, 0, 0, 1, 0, 0, 1, 0, 0, 1, 0, 0)
}
