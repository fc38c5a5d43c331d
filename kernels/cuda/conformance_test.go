//go:build cuda || cudaemu

package cuda

// The conformance suite: every GPU kernel against its CPU reference (package
// kernels, or ref_test.go) on random data over awkward sizes (0, 1, primes,
// sizes around the tile and block edges), each output inside guard bands
// that must come back untouched. FP32 results must be within NMSE 1e-6 of
// the reference.
//
// It needs a GPU: without one (Open fails) the tests skip, unless
// KILN_CUDA_REQUIRE=1, which the GPU run sets so that a missing device
// fails instead.

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"sort"
	"strings"
	"testing"

	"github.com/kiln-ml/kiln/kernels"
)

const (
	tolFP32 = 1e-6 // NMSE bound for FP32 kernels
	guard   = 67   // elements of guard band each side of an output
)

// sentinel is a quiet NaN with a payload no kernel produces; guard bands
// hold it.
var sentinel = math.Float32frombits(0x7fc5a5a5)

var testDev *Device

func TestMain(m *testing.M) {
	d, err := Open(0)
	if err != nil {
		if os.Getenv("KILN_CUDA_REQUIRE") == "1" {
			fmt.Fprintln(os.Stderr, "cuda conformance: KILN_CUDA_REQUIRE=1 but Open(0) failed:", err)
			os.Exit(1)
		}
		fmt.Fprintln(os.Stderr, "cuda conformance: no GPU, the device tests skip:", err)
	} else {
		inf := d.Info()
		fmt.Fprintf(os.Stderr, "cuda conformance on %s (sm_%d%d, %d MiB, PTX compute_%d)\n",
			inf.Name, inf.Major, inf.Minor, inf.TotalMem>>20, inf.PTXArch)
		testDev = d
	}
	code := m.Run()
	if len(worstNMSE) > 0 {
		// The margins, not only the verdicts: the worst error each test saw.
		names := make([]string, 0, len(worstNMSE))
		for n := range worstNMSE {
			names = append(names, n)
		}
		sort.Strings(names)
		fmt.Fprintln(os.Stderr, "worst NMSE per test (bound 1e-6 unless the test says otherwise):")
		for _, n := range names {
			fmt.Fprintf(os.Stderr, "  %-32s %.3g\n", n, worstNMSE[n])
		}
	}
	if testDev != nil {
		if err := testDev.Close(); err != nil {
			fmt.Fprintln(os.Stderr, "Close:", err)
			code = 1
		}
	}
	os.Exit(code)
}

func dev(t testing.TB) *Device {
	if testDev == nil {
		t.Skip("skipped when no CUDA device opens (Open(0) failed; KILN_CUDA_REQUIRE=1 makes that a failure)")
	}
	return testDev
}

// gbuf is a device buffer with guard bands: mid is what the kernel sees.
type gbuf struct {
	full, mid Buffer
}

// put allocates len(data) elements between guard bands and uploads data.
func put(t testing.TB, d *Device, data []float32) gbuf {
	t.Helper()
	full, err := d.Alloc(len(data) + 2*guard)
	check(t, err)
	check(t, d.Fill(full, sentinel))
	g := gbuf{full: full, mid: full.Slice(guard, guard+len(data))}
	check(t, d.Upload(g.mid, data))
	return g
}

// get downloads the middle, checks that the guard bands are intact and
// frees the buffer.
func (g gbuf) get(t testing.TB, d *Device, what string) []float32 {
	t.Helper()
	all := make([]float32, g.full.Len())
	check(t, d.Download(all, g.full))
	check(t, d.Free(g.full))
	for i, v := range all {
		if (i < guard || i >= g.full.Len()-guard) && math.Float32bits(v) != math.Float32bits(sentinel) {
			t.Fatalf("%s: guard band element %d of %d was written (%v)", what, i, g.full.Len(), v)
		}
	}
	return all[guard : g.full.Len()-guard]
}

func (g gbuf) free(t testing.TB, d *Device) { t.Helper(); check(t, d.Free(g.full)) }

func check(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func randn(rng *rand.Rand, n int, scale float32) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(rng.NormFloat64()) * scale
	}
	return x
}

func uniform(rng *rand.Rand, n int, lo, hi float32) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = lo + (hi-lo)*rng.Float32()
	}
	return x
}

// nmse is sum((got-want)^2) / sum(want^2) (the plain squared error when
// want is all zeros). NaN and Inf in want must be matched exactly.
func nmse(got, want []float32) float64 {
	var num, den float64
	for i, w := range want {
		g := got[i]
		if math.IsNaN(float64(w)) || math.IsInf(float64(w), 0) {
			if !(math.IsNaN(float64(w)) && math.IsNaN(float64(g))) && g != w {
				return math.Inf(1)
			}
			continue
		}
		if math.IsNaN(float64(g)) || math.IsInf(float64(g), 0) {
			return math.Inf(1)
		}
		e := float64(g) - float64(w)
		num += e * e
		den += float64(w) * float64(w)
	}
	if den == 0 {
		return num
	}
	return num / den
}

// worstNMSE is the largest NMSE each test saw (TestMain prints it).
var worstNMSE = map[string]float64{}

func recordNMSE(t testing.TB, e float64) {
	name := strings.SplitN(t.Name(), "/", 2)[0]
	if w, ok := worstNMSE[name]; !ok || e > w || math.IsNaN(e) {
		worstNMSE[name] = e
	}
}

func expectClose(t testing.TB, what string, got, want []float32, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d elements, want %d", what, len(got), len(want))
	}
	e := nmse(got, want)
	if tol == tolFP32 || tol == 0 {
		recordNMSE(t, e)
	}
	if !(e <= tol) {
		worst, at := 0.0, 0
		for i := range want {
			if d := math.Abs(float64(got[i]) - float64(want[i])); d > worst || math.IsNaN(d) {
				worst, at = d, i
			}
		}
		t.Errorf("%s: NMSE %.3g > %.1g (worst at %d: got %v want %v)", what, e, tol, at, got[at], want[at])
	}
}

// expectCloseScaled is expectClose where want may be a cancellation of much
// larger terms (a norm's dx for n = 2 is rounding noise around 0): the
// NMSE's denominator is at least the sum of the squared terms in scale.
func expectCloseScaled(t testing.TB, what string, got, want, scale []float32, tol float64) {
	t.Helper()
	var sw, ss float64
	for i := range want {
		sw += float64(want[i]) * float64(want[i])
		ss += float64(scale[i]) * float64(scale[i])
	}
	if ss <= sw {
		expectClose(t, what, got, want, tol)
		return
	}
	var num float64
	for i := range want {
		e := float64(got[i]) - float64(want[i])
		num += e * e
	}
	recordNMSE(t, num/ss)
	if e := num / ss; !(e <= tol) {
		t.Errorf("%s: error %.3g of the terms' scale > %.1g", what, e, tol)
	}
}

// emuSkip reports whether a case is too big for the CPU emulator (build tag
// cudaemu), which runs every CUDA thread as a fiber: more than 2000 rows,
// batch items or vocabulary entries.
func emuSkip(size int) bool { return emulated && size > 2000 }

// awkward sizes: empty, one, primes, and both sides of 32, 128 and 256.
var awkward = []int{0, 1, 2, 7, 31, 32, 33, 127, 128, 129, 255, 256, 257, 1000, 4099}

func TestSgemm(t *testing.T) {
	d := dev(t)
	rng := rand.New(rand.NewPCG(1, 2))
	shapes := [][3]int{{1, 1, 1}, {0, 5, 3}, {5, 0, 3}, {5, 3, 0}, {2, 3, 4}, {7, 13, 11},
		{127, 128, 129}, {128, 128, 8}, {129, 1, 257}, {33, 65, 17}, {256, 384, 100}, {1000, 3, 7}, {2, 1023, 31}, {257, 255, 9}}
	for _, s := range shapes {
		m, n, k := s[0], s[1], s[2]
		for _, tr := range [][2]bool{{false, false}, {true, false}, {false, true}, {true, true}} {
			for _, ab := range [][2]float32{{1, 0}, {0.5, -1.5}} {
				for _, aligned := range []bool{false, true} {
					testSgemm(t, d, rng, m, n, k, tr, ab, aligned)
				}
			}
		}
	}
}

// testSgemm runs one SGEMM case against kernels.SgemmRef. Unaligned: leading
// dimensions padded by 3, so rows are not aligned and every load is scalar.
// Aligned: A and B start 16-byte aligned (the allocator's blocks are 256-byte
// aligned and the guard band is 67 floats, so one lead float aligns them)
// with leading dimensions of whole float4s, which takes the kernel's float4
// loads where they are in range.
func testSgemm(t *testing.T, d *Device, rng *rand.Rand, m, n, k int, tr [2]bool, ab [2]float32, aligned bool) {
	name := fmt.Sprintf("m=%d n=%d k=%d tA=%v tB=%v alpha=%v beta=%v aligned=%v", m, n, k, tr[0], tr[1], ab[0], ab[1], aligned)
	ar, ac := m, k
	if tr[0] {
		ar, ac = k, m
	}
	br, bc := k, n
	if tr[1] {
		br, bc = n, k
	}
	lda, ldb, ldc := ac+3, bc+3, n+3
	lead := 0
	if aligned {
		lda, ldb, lead = (ac+3)/4*4+4, (bc+3)/4*4+4, 1
	}
	a := randn(rng, max(ar*lda, 1), 1)
	b := randn(rng, max(br*ldb, 1), 1)
	c := randn(rng, max(m*ldc, 1), 1)
	if ab[1] == 0 {
		for i := range c {
			c[i] = float32(math.NaN()) // beta == 0 must not read C
		}
	}
	want := append([]float32(nil), c...)
	kernels.SgemmRef(tr[0], tr[1], m, n, k, ab[0], a, lda, b, ldb, ab[1], want, ldc)
	ga, gb, gc := put(t, d, append(make([]float32, lead), a...)), put(t, d, append(make([]float32, lead), b...)), put(t, d, c)
	opa, opb := ga.mid.Slice(lead, ga.mid.Len()), gb.mid.Slice(lead, gb.mid.Len())
	check(t, d.Sgemm(tr[0], tr[1], m, n, k, ab[0], opa, lda, opb, ldb, ab[1], gc.mid, ldc))
	got := gc.get(t, d, name)
	ga.free(t, d)
	gb.free(t, d)
	// The padding columns of C must be untouched too.
	for i := 0; i < m; i++ {
		for j := n; j < ldc && i*ldc+j < len(c); j++ {
			if math.Float32bits(got[i*ldc+j]) != math.Float32bits(c[i*ldc+j]) {
				t.Fatalf("%s: wrote C[%d,%d] outside the n columns", name, i, j)
			}
			got[i*ldc+j], want[i*ldc+j] = 0, 0
		}
	}
	expectClose(t, name, got, want, tolFP32)
}

// TestGemmTensorCores holds the TF32 and BF16 GEMMs to kernels.SgemmRef on
// the inputs rounded as the tensor cores round them (NMSE <= 1e-6: the
// products are exact, only the order of the FP32 sums differs), and states
// their distance from the FP32 result on the unrounded inputs: NMSE <= 1e-5
// for TF32, 1e-4 for BF16 (with 10 and 7 mantissa bits, about 1e-7 and 1e-5
// are expected for these normal inputs).
func TestGemmTensorCores(t *testing.T) {
	d := dev(t)

	rng := rand.New(rand.NewPCG(29, 30))
	shapes := [][3]int{{1, 1, 1}, {0, 5, 3}, {5, 3, 0}, {7, 13, 11}, {127, 128, 129}, {128, 128, 32},
		{129, 1, 257}, {33, 65, 17}, {256, 384, 100}, {2, 1023, 31}}
	for _, s := range shapes {
		m, n, k := s[0], s[1], s[2]
		for _, tr := range [][2]bool{{false, false}, {true, false}, {false, true}, {true, true}} {
			// Odd leading dimensions (every run element by element), then
			// leading dimensions of whole 16-byte runs on 16-byte aligned
			// operands (the cp.async path, with element-wise edges).
			for _, aligned := range []bool{false, true} {
				testGemmTC(t, d, rng, m, n, k, tr, aligned)
			}
		}
	}
}

func testGemmTC(t *testing.T, d *Device, rng *rand.Rand, m, n, k int, tr [2]bool, aligned bool) {
	ar, ac := m, k
	if tr[0] {
		ar, ac = k, m
	}
	br, bc := k, n
	if tr[1] {
		br, bc = n, k
	}
	lda, ldb, ldc := ac+1, bc+1, n+3
	if aligned {
		lda, ldb = (ac+7)/8*8+8, max((bc+7)/8*8, 8)
	}
	a := randn(rng, max(ar*lda, 1), 1)
	b := randn(rng, max(br*ldb, 1), 1)
	c := randn(rng, max(m*ldc, 1), 1)
	exact := append([]float32(nil), c...)
	kernels.SgemmRef(tr[0], tr[1], m, n, k, 1.25, a, lda, b, ldb, -0.5, exact, ldc)
	for _, prec := range []string{"tf32", "bf16"} {
		round, bound := roundTF32, 1e-5
		if prec == "bf16" {
			round, bound = roundBF16, 1e-4
		}
		ra, rb := make([]float32, len(a)), make([]float32, len(b))
		for i, v := range a {
			ra[i] = round(v)
		}
		for i, v := range b {
			rb[i] = round(v)
		}
		want := append([]float32(nil), c...)
		kernels.SgemmRef(tr[0], tr[1], m, n, k, 1.25, ra, lda, rb, ldb, -0.5, want, ldc)
		// lead values in front of each operand put it where the aligned
		// case wants it: the allocator's blocks are 256-byte aligned and
		// the guard band is 67 floats, so 1 float (TF32) or 2 BF16 values
		// (one float of the packed buffer) make it 16-byte aligned.
		lead := 0
		if aligned {
			lead = 1
			if prec == "bf16" {
				lead = 2
			}
		}
		ga := put(t, d, append(make([]float32, lead), a...))
		gb := put(t, d, append(make([]float32, lead), b...))
		gc := put(t, d, c)
		if prec == "tf32" {
			opa, opb := ga.mid.Slice(lead, ga.mid.Len()), gb.mid.Slice(lead, gb.mid.Len())
			check(t, d.GemmTF32(tr[0], tr[1], m, n, k, 1.25, opa, lda, opb, ldb, -0.5, gc.mid, ldc))
		} else {
			ha, hb := put(t, d, make([]float32, (ga.mid.Len()+1)/2)), put(t, d, make([]float32, (gb.mid.Len()+1)/2))
			check(t, d.ToBF16(ha.mid, ga.mid))
			check(t, d.ToBF16(hb.mid, gb.mid))
			opa, opb := ha.mid.Slice(lead/2, ha.mid.Len()), hb.mid.Slice(lead/2, hb.mid.Len())
			check(t, d.GemmBF16(tr[0], tr[1], m, n, k, 1.25, opa, lda, opb, ldb, -0.5, gc.mid, ldc))
			ha.free(t, d)
			hb.free(t, d)
		}
		name := fmt.Sprintf("%s m=%d n=%d k=%d tA=%v tB=%v aligned=%v", prec, m, n, k, tr[0], tr[1], aligned)
		got := gc.get(t, d, name)
		expectClose(t, name+" (rounded inputs)", got, want, tolFP32)
		expectClose(t, name+" (FP32 inputs)", got, exact, bound)
		ga.free(t, d)
		gb.free(t, d)
	}
}

func TestToBF16(t *testing.T) {
	d := dev(t)

	rng := rand.New(rand.NewPCG(31, 32))
	for _, n := range awkward {
		x := randn(rng, n, 100)
		if n > 2 {
			x[0], x[1] = 1+0x1p-8, 1+3*0x1p-8 // the two tie directions
		}
		gx, gh := put(t, d, x), put(t, d, make([]float32, (n+1)/2))
		check(t, d.ToBF16(gh.mid, gx.mid))
		got := gh.get(t, d, "bf16")
		for i, v := range x {
			w := math.Float32bits(got[i/2])
			h := uint16(w >> (16 * (i % 2)))
			if h != bf16Bits(v) {
				t.Fatalf("n=%d: bf16(%v) = %#04x, want %#04x", n, v, h, bf16Bits(v))
			}
		}
		gx.free(t, d)
	}
}

func TestSgemmStridedBatched(t *testing.T) {
	d := dev(t)
	rng := rand.New(rand.NewPCG(3, 4))
	for _, s := range [][4]int{{3, 5, 7, 2}, {129, 64, 33, 5}, {64, 1024, 64, 3}, {1, 1, 1, 70000}} {
		m, n, k, batch := s[0], s[1], s[2], s[3]
		if emuSkip(batch) {
			continue
		}
		for _, tr := range [][2]bool{{false, true}, {true, false}} {
			lda, ldb := k, k // A m x k (or k x m: lda = m)
			if tr[0] {
				lda = m
			}
			if !tr[1] {
				ldb = n
			}
			sa, sb, sc := m*k+1, 0, m*n+2 // B shared by every item (stride 0)
			a := randn(rng, batch*sa, 1)
			b := randn(rng, k*n, 1)
			c := randn(rng, batch*sc, 1)
			want := append([]float32(nil), c...)
			for z := 0; z < batch; z++ {
				kernels.SgemmRef(tr[0], tr[1], m, n, k, 0.7, a[z*sa:], lda, b, ldb, 0.3, want[z*sc:], n)
			}
			ga, gb, gc := put(t, d, a), put(t, d, b), put(t, d, c)
			check(t, d.SgemmStridedBatched(tr[0], tr[1], m, n, k, 0.7, ga.mid, lda, sa, gb.mid, ldb, sb, 0.3, gc.mid, n, sc, batch))
			name := fmt.Sprintf("batched m=%d n=%d k=%d batch=%d tA=%v tB=%v", m, n, k, batch, tr[0], tr[1])
			expectClose(t, name, gc.get(t, d, name), want, tolFP32)
			ga.free(t, d)
			gb.free(t, d)
		}
	}
}

func TestBinary(t *testing.T) {
	d := dev(t)
	rng := rand.New(rand.NewPCG(5, 6))
	refs := map[BinaryOp]func(dst, a, b []float32){OpAdd: kernels.AddRef, OpSub: kernels.SubRef, OpMul: kernels.MulRef, OpDiv: kernels.DivRef}
	for _, n := range awkward {
		a, b := randn(rng, n, 1), uniform(rng, n, 0.5, 2)
		for op, ref := range refs {
			want := make([]float32, n)
			ref(want, a, b)
			ga, gb, gout := put(t, d, a), put(t, d, b), put(t, d, make([]float32, n))
			check(t, d.Binary(op, gout.mid, ga.mid, gb.mid))
			name := fmt.Sprintf("binary op %d n=%d", op, n)
			expectClose(t, name, gout.get(t, d, name), want, 0) // one rounding: exact
			ga.free(t, d)
			gb.free(t, d)
		}
		want := make([]float32, n)
		kernels.AddScalarRef(want, a, 0.25)
		ga, gout := put(t, d, a), put(t, d, make([]float32, n))
		check(t, d.AddScalar(gout.mid, ga.mid, 0.25))
		expectClose(t, "AddScalar", gout.get(t, d, "AddScalar"), want, 0)
		kernels.MulScalarRef(want, a, -3)
		gout = put(t, d, make([]float32, n))
		check(t, d.MulScalar(gout.mid, ga.mid, -3))
		expectClose(t, "MulScalar", gout.get(t, d, "MulScalar"), want, 0)
		y := randn(rng, n, 1)
		want = append(want[:0], y...)
		kernels.AxpyRef(1.5, a, want)
		gy := put(t, d, y)
		check(t, d.Axpy(1.5, ga.mid, gy.mid))
		expectClose(t, "Axpy", gy.get(t, d, "Axpy"), want, 0)
		ga.free(t, d)
	}
}

func TestBinaryBroadcast(t *testing.T) {
	d := dev(t)
	rng := rand.New(rand.NewPCG(7, 8))
	// shape, and which dims each operand broadcasts along (size 1 in it).
	cases := []struct {
		shape      []int
		aOne, bOne []bool
	}{
		{[]int{3, 5}, []bool{false, false}, []bool{true, false}},
		{[]int{4, 1, 7}, []bool{false, false, true}, []bool{true, false, false}},
		{[]int{2, 3, 33, 129}, []bool{false, true, false, false}, []bool{true, false, true, false}},
		{[]int{257, 1}, []bool{false, false}, []bool{false, false}},
		{[]int{0, 5}, []bool{false, false}, []bool{true, false}},
	}
	for _, c := range cases {
		total := 1
		for _, s := range c.shape {
			total *= s
		}
		mk := func(one []bool) ([]float32, []int, []int) { // data, its shape, broadcast strides
			sh := make([]int, len(c.shape))
			n := 1
			for i, s := range c.shape {
				sh[i] = s
				if one[i] {
					sh[i] = 1
				}
				n *= sh[i]
			}
			st := make([]int, len(sh))
			acc := 1
			for i := len(sh) - 1; i >= 0; i-- {
				if sh[i] != 1 {
					st[i] = acc
				}
				acc *= sh[i]
			}
			return uniform(rng, n, 0.5, 2), sh, st
		}
		a, _, as := mk(c.aOne)
		b, _, bs := mk(c.bOne)
		// Reference: expand both operands, then kernels' flat references.
		expand := func(x []float32, st []int) []float32 {
			out := make([]float32, total)
			for i := range out {
				off, r := 0, i
				for k := len(c.shape) - 1; k >= 0; k-- {
					off += (r % c.shape[k]) * st[k]
					r /= c.shape[k]
				}
				out[i] = x[off]
			}
			return out
		}
		ea, eb := expand(a, as), expand(b, bs)
		for op, ref := range map[BinaryOp]func(dst, a, b []float32){OpAdd: kernels.AddRef, OpSub: kernels.SubRef, OpMul: kernels.MulRef, OpDiv: kernels.DivRef} {
			want := make([]float32, total)
			ref(want, ea, eb)
			ga, gb, gout := put(t, d, a), put(t, d, b), put(t, d, make([]float32, total))
			check(t, d.BinaryBroadcast(op, gout.mid, ga.mid, gb.mid, c.shape, as, bs))
			name := fmt.Sprintf("broadcast op %d shape %v", op, c.shape)
			expectClose(t, name, gout.get(t, d, name), want, 0)
			ga.free(t, d)
			gb.free(t, d)
		}
	}
}

func TestUnary(t *testing.T) {
	d := dev(t)
	rng := rand.New(rand.NewPCG(9, 10))
	for op := OpExp; op <= OpRsqrt; op++ {
		for _, n := range awkward {
			lo, hi := float32(-8), float32(8)
			switch op {
			case OpExp:
				lo, hi = -30, 30
			case OpLog, OpSqrt, OpRsqrt:
				lo = -1 // some negatives: NaN, as tensor's
			}
			x, dy := uniform(rng, n, lo, hi), randn(rng, n, 1)
			if n > 3 {
				x[0], x[1], x[2] = 0, float32(math.Copysign(0, -1)), 1e-30 // relu's kink, signed zero, tiny
			}
			if n > 4 && op >= OpLog {
				x[3] = float32(math.Inf(1))
			}
			want := make([]float32, n)
			unaryRef(op, want, x, nil)
			gx, gy := put(t, d, x), put(t, d, make([]float32, n))
			check(t, d.Unary(op, gy.mid, gx.mid))
			name := fmt.Sprintf("%v n=%d", op, n)
			expectClose(t, name, gy.get(t, d, name), want, tolFP32)
			unaryRef(op, want, x, dy)
			gdy, gdx := put(t, d, dy), put(t, d, make([]float32, n))
			check(t, d.UnaryBackward(op, gdx.mid, gx.mid, gdy.mid))
			expectClose(t, name+" backward", gdx.get(t, d, name+" backward"), want, tolFP32)
			gx.free(t, d)
			gdy.free(t, d)
		}
	}
}

// TestUnary2: Pow over exponents that take powf's special cases (integer,
// negative, 0, 1, non-integer with negative bases: NaN), Clamp with bounds
// met exactly, one-sided and degenerate, and the equality mask; zeros of
// both signs, a tiny value, NaN and infinities among the inputs.
func TestUnary2(t *testing.T) {
	d := dev(t)
	rng := rand.New(rand.NewPCG(31, 32))
	inf, negZero := float32(math.Inf(1)), float32(math.Copysign(0, -1))
	cases := []struct {
		op   Unary2Op
		a, b float32
	}{
		{OpPow, 2, 0}, {OpPow, 3, 0}, {OpPow, -1, 0}, {OpPow, 0.5, 0}, {OpPow, 1.7, 0}, {OpPow, -1.5, 0}, {OpPow, 0, 0}, {OpPow, 1, 0},
		{OpClamp, -1, 1}, {OpClamp, 0.25, 0.25}, {OpClamp, -inf, 0.5}, {OpClamp, 0, inf}, {OpClamp, negZero, 0},
		{OpIsEqual, 0, 0}, {OpIsEqual, 1.5, 0},
	}
	for _, c := range cases {
		for _, n := range awkward {
			x, dy := uniform(rng, n, -3, 3), randn(rng, n, 1)
			special := []float32{0, negZero, 1e-30, -2, c.a, c.b, float32(math.NaN()), inf, -inf, 1}
			for i := 0; i < len(special) && i < n/3; i++ {
				x[3*i] = special[i]
			}
			name := fmt.Sprintf("%v(%v, %v) n=%d", c.op, c.a, c.b, n)
			want := make([]float32, n)
			unary2Ref(c.op, c.a, c.b, want, x, nil)
			gx, gy := put(t, d, x), put(t, d, make([]float32, n))
			check(t, d.Unary2(c.op, gy.mid, gx.mid, c.a, c.b))
			got := gy.get(t, d, name)
			expectClose(t, name, got, want, tolFP32)
			if c.op == OpClamp {
				for i := range got { // the sign of a clamped zero, which the NMSE does not see
					if got[i] == 0 && want[i] == 0 && math.Signbit(float64(got[i])) != math.Signbit(float64(want[i])) {
						t.Errorf("%s: element %d (x = %v): got %v, want %v", name, i, x[i], got[i], want[i])
					}
				}
			}
			unary2Ref(c.op, c.a, c.b, want, x, dy)
			gdy, gdx := put(t, d, dy), put(t, d, make([]float32, n))
			check(t, d.Unary2Backward(c.op, gdx.mid, gx.mid, gdy.mid, c.a, c.b))
			expectClose(t, name+" backward", gdx.get(t, d, name+" backward"), want, tolFP32)
			gx.free(t, d)
			gdy.free(t, d)
		}
	}
}

func TestReduce(t *testing.T) {
	d := dev(t)
	rng := rand.New(rand.NewPCG(11, 12))
	for _, s := range [][3]int{{1, 1, 1}, {3, 0, 1}, {7, 33, 1}, {2, 4099, 1}, {70000, 3, 1}, {5, 129, 3}, {1, 2, 257}, {3, 1000, 31}, {1, 1500, 7}, {2, 513, 33}} {
		outer, n, inner := s[0], s[1], s[2]
		if emuSkip(outer) {
			continue
		}
		x := randn(rng, outer*n*inner, 1)
		if len(x) > 5 {
			x[5] = float32(math.NaN()) // Max must propagate it
		}
		for _, isMax := range []bool{false, true} {
			want := make([]float32, outer*inner)
			line := make([]float32, n)
			for o := 0; o < outer; o++ {
				for in := 0; in < inner; in++ {
					for j := range line {
						line[j] = x[(o*n+j)*inner+in]
					}
					if isMax {
						want[o*inner+in] = kernels.MaxRef(line)
					} else {
						want[o*inner+in] = kernels.SumRef(line)
					}
				}
			}
			gx, gout := put(t, d, x), put(t, d, make([]float32, outer*inner))
			if isMax {
				check(t, d.Max(gout.mid, gx.mid, outer, n, inner))
			} else {
				check(t, d.Sum(gout.mid, gx.mid, outer, n, inner))
			}
			name := fmt.Sprintf("reduce max=%v %v", isMax, s)
			expectClose(t, name, gout.get(t, d, name), want, tolFP32)
			gx.free(t, d)
		}
	}
}

// rowShapes are [rows, n] pairs for the one-block-a-row kernels.
var rowShapes = [][2]int{{1, 1}, {3, 2}, {5, 31}, {4, 32}, {2, 33}, {3, 255}, {2, 257}, {7, 1000}, {2, 4099}, {1000, 7}, {70000, 3}}

func TestSoftmax(t *testing.T) {
	d := dev(t)
	rng := rand.New(rand.NewPCG(13, 14))
	for _, s := range rowShapes {
		rows, n := s[0], s[1]
		if emuSkip(rows) {
			continue
		}
		x, dy := randn(rng, rows*n, 3), randn(rng, rows*n, 1)
		for _, isLog := range []bool{false, true} {
			fwd, bwd := kernels.SoftmaxRowRef, kernels.SoftmaxRowBackwardRef
			if isLog {
				fwd, bwd = kernels.LogSoftmaxRowRef, kernels.LogSoftmaxRowBackwardRef
			}
			y, dx := make([]float32, rows*n), make([]float32, rows*n)
			for r := 0; r < rows; r++ {
				fwd(y[r*n:(r+1)*n], x[r*n:(r+1)*n])
				bwd(dx[r*n:(r+1)*n], y[r*n:(r+1)*n], dy[r*n:(r+1)*n])
			}
			gx, gy := put(t, d, x), put(t, d, make([]float32, rows*n))
			if isLog {
				check(t, d.LogSoftmax(gy.mid, gx.mid, rows, n))
			} else {
				check(t, d.Softmax(gy.mid, gx.mid, rows, n))
			}
			name := fmt.Sprintf("softmax log=%v %v", isLog, s)
			expectClose(t, name, gy.get(t, d, name), y, tolFP32)
			// The backward from the reference's y, so only it is tested.
			gyr, gdy, gdx := put(t, d, y), put(t, d, dy), put(t, d, make([]float32, rows*n))
			if isLog {
				check(t, d.LogSoftmaxBackward(gdx.mid, gyr.mid, gdy.mid, rows, n))
			} else {
				check(t, d.SoftmaxBackward(gdx.mid, gyr.mid, gdy.mid, rows, n))
			}
			expectClose(t, name+" backward", gdx.get(t, d, name+" backward"), dx, tolFP32)
			gx.free(t, d)
			gyr.free(t, d)
			gdy.free(t, d)
		}
	}
}

func TestLayerNorm(t *testing.T) {
	d := dev(t)
	rng := rand.New(rand.NewPCG(15, 16))
	for _, s := range rowShapes {
		rows, n := s[0], s[1]
		if emuSkip(rows) {
			continue
		}
		for _, affine := range []bool{false, true} {
			x, dy := randn(rng, rows*n, 2), randn(rng, rows*n, 1)
			for i := range x {
				x[i] += 3 // an offset, so the mean matters
			}
			var w, b, dw, db []float32
			var gw, gb, gdw, gdb gbuf
			if affine {
				w, b = randn(rng, n, 1), randn(rng, n, 1)
				dw, db = randn(rng, n, 1), randn(rng, n, 1)
				gw, gb, gdw, gdb = put(t, d, w), put(t, d, b), put(t, d, dw), put(t, d, db)
			}
			y, dx := make([]float32, rows*n), make([]float32, rows*n)
			mean, rstd := make([]float32, rows), make([]float32, rows)
			wantDW, wantDB := append([]float32(nil), dw...), append([]float32(nil), db...)
			for r := 0; r < rows; r++ {
				sl := func(v []float32) []float32 { return v[r*n : (r+1)*n] }
				mean[r], rstd[r] = kernels.LayerNormRowRef(sl(y), sl(x), w, b, 1e-5)
				kernels.LayerNormRowBackwardRef(sl(dx), wantDW, wantDB, sl(dy), sl(x), w, mean[r], rstd[r])
			}
			dxScale := normGradScale(dy, w, rstd, n)
			gx, gy, gm, gr := put(t, d, x), put(t, d, make([]float32, rows*n)), put(t, d, make([]float32, rows)), put(t, d, make([]float32, rows))
			check(t, d.LayerNorm(gy.mid, gm.mid, gr.mid, gx.mid, gw.mid, gb.mid, rows, n, 1e-5))
			name := fmt.Sprintf("layernorm affine=%v %v", affine, s)
			expectClose(t, name+" y", gy.get(t, d, name), y, tolFP32)
			expectClose(t, name+" mean", gm.get(t, d, name), mean, tolFP32)
			expectClose(t, name+" rstd", gr.get(t, d, name), rstd, tolFP32)
			// Backward from the reference's statistics.
			gm, gr = put(t, d, mean), put(t, d, rstd)
			gdy, gdx := put(t, d, dy), put(t, d, make([]float32, rows*n))
			check(t, d.LayerNormBackward(gdx.mid, gdw.mid, gdb.mid, gdy.mid, gx.mid, gw.mid, gm.mid, gr.mid, rows, n))
			expectCloseScaled(t, name+" dx", gdx.get(t, d, name), dx, dxScale, tolFP32)
			if affine {
				expectClose(t, name+" dw", gdw.get(t, d, name), wantDW, tolFP32)
				expectClose(t, name+" db", gdb.get(t, d, name), wantDB, tolFP32)
				gw.free(t, d)
				gb.free(t, d)
			}
			for _, g := range []gbuf{gx, gm, gr, gdy} {
				g.free(t, d)
			}
		}
	}
}

func TestRMSNorm(t *testing.T) {
	d := dev(t)
	rng := rand.New(rand.NewPCG(17, 18))
	for _, s := range rowShapes {
		rows, n := s[0], s[1]
		if emuSkip(rows) {
			continue
		}
		for _, affine := range []bool{false, true} {
			x, dy := randn(rng, rows*n, 2), randn(rng, rows*n, 1)
			var w, dw []float32
			var gw, gdw gbuf
			if affine {
				w, dw = randn(rng, n, 1), randn(rng, n, 1)
				gw, gdw = put(t, d, w), put(t, d, dw)
			}
			y, dx, rstd := make([]float32, rows*n), make([]float32, rows*n), make([]float32, rows)
			wantDW := append([]float32(nil), dw...)
			for r := 0; r < rows; r++ {
				sl := func(v []float32) []float32 { return v[r*n : (r+1)*n] }
				rstd[r] = kernels.RMSNormRowRef(sl(y), sl(x), w, 1e-6)
				kernels.RMSNormRowBackwardRef(sl(dx), wantDW, sl(dy), sl(x), w, rstd[r])
			}
			dxScale := normGradScale(dy, w, rstd, n)
			gx, gy, gr := put(t, d, x), put(t, d, make([]float32, rows*n)), put(t, d, make([]float32, rows))
			check(t, d.RMSNorm(gy.mid, gr.mid, gx.mid, gw.mid, rows, n, 1e-6))
			name := fmt.Sprintf("rmsnorm affine=%v %v", affine, s)
			expectClose(t, name+" y", gy.get(t, d, name), y, tolFP32)
			expectClose(t, name+" rstd", gr.get(t, d, name), rstd, tolFP32)
			gr = put(t, d, rstd)
			gdy, gdx := put(t, d, dy), put(t, d, make([]float32, rows*n))
			check(t, d.RMSNormBackward(gdx.mid, gdw.mid, gdy.mid, gx.mid, gw.mid, gr.mid, rows, n))
			expectCloseScaled(t, name+" dx", gdx.get(t, d, name), dx, dxScale, tolFP32)
			if affine {
				expectClose(t, name+" dw", gdw.get(t, d, name), wantDW, tolFP32)
				gw.free(t, d)
			}
			for _, g := range []gbuf{gx, gr, gdy} {
				g.free(t, d)
			}
		}
	}
}

// normGradScale is rstd*dy*w per element: the terms a norm's dx cancels.
func normGradScale(dy, w, rstd []float32, n int) []float32 {
	s := make([]float32, len(dy))
	for i, g := range dy {
		if w != nil {
			g *= w[i%n]
		}
		s[i] = g * rstd[i/n]
	}
	return s
}

func TestCrossEntropy(t *testing.T) {
	d := dev(t)
	rng := rand.New(rand.NewPCG(19, 20))
	const ignore = -100
	for _, s := range rowShapes {
		rows, n := s[0], s[1]
		if emuSkip(rows) {
			continue
		}
		logits := randn(rng, rows*n, 3)
		targets := make([]int, rows)
		for r := range targets {
			targets[r] = rng.IntN(n)
			if r%5 == 2 {
				targets[r] = ignore
			}
		}
		for _, perRow := range []bool{false, true} {
			w := make([]float32, rows)
			for r := range w {
				w[r] = 0.37
				if perRow {
					w[r] = rng.Float32()
				}
			}
			loss, dl := make([]float32, rows), make([]float32, rows*n)
			crossEntropyRef(loss, dl, logits, targets, n, ignore, w)
			gl, gloss, glse := put(t, d, logits), put(t, d, make([]float32, rows)), put(t, d, make([]float32, rows))
			check(t, d.CrossEntropy(gloss.mid, glse.mid, gl.mid, targets, rows, n, ignore))
			name := fmt.Sprintf("crossentropy %v perRow=%v", s, perRow)
			expectClose(t, name+" loss", gloss.get(t, d, name), loss, tolFP32)
			gdl := put(t, d, make([]float32, rows*n))
			var gw gbuf
			if perRow {
				gw = put(t, d, w)
			}
			check(t, d.CrossEntropyBackward(gdl.mid, gl.mid, glse.mid, targets, rows, n, ignore, 0.37, gw.mid))
			expectClose(t, name+" dlogits", gdl.get(t, d, name), dl, tolFP32)
			if perRow {
				gw.free(t, d)
			}
			gl.free(t, d)
			glse.free(t, d)
		}
	}
}

func TestEmbedding(t *testing.T) {
	d := dev(t)
	rng := rand.New(rand.NewPCG(21, 22))
	for _, s := range [][3]int{{1, 1, 1}, {5, 3, 9}, {50, 33, 1000}, {1000, 257, 64}, {7, 4099, 3}} {
		vocab, dim, count := s[0], s[1], s[2]
		table, dtable := randn(rng, vocab*dim, 1), randn(rng, vocab*dim, 1)
		ids := make([]int, count)
		for i := range ids {
			ids[i] = rng.IntN(vocab)
		}
		dy := randn(rng, count*dim, 1)
		out := make([]float32, count*dim)
		embeddingRef(out, table, ids, dim)
		want := append([]float32(nil), dtable...)
		embeddingBackwardRef(want, dy, ids, dim)
		gt, gout := put(t, d, table), put(t, d, make([]float32, count*dim))
		check(t, d.Embedding(gout.mid, gt.mid, ids, vocab, dim))
		name := fmt.Sprintf("embedding %v", s)
		expectClose(t, name, gout.get(t, d, name), out, 0)
		gdt, gdy := put(t, d, dtable), put(t, d, dy)
		check(t, d.EmbeddingBackward(gdt.mid, gdy.mid, ids, vocab, dim))
		expectClose(t, name+" backward", gdt.get(t, d, name), want, tolFP32)
		gt.free(t, d)
		gdy.free(t, d)
	}
}

func TestRoPE(t *testing.T) {
	d := dev(t)
	rng := rand.New(rand.NewPCG(23, 24))
	cases := []struct {
		shape, pos []int
	}{
		{[]int{1, 2}, []int{0}},
		{[]int{2, 3, 4, 6}, []int{0, 1, 2, 5}},
		{[]int{2, 1, 3, 4}, []int{0, 1, 2, 7, 8, 9}},
		{[]int{3, 8, 33, 64}, nil},
	}
	for _, c := range cases {
		if c.pos == nil {
			T := c.shape[len(c.shape)-2]
			for i := 0; i < c.shape[0]*T; i++ {
				c.pos = append(c.pos, i%T+(i/T)*5)
			}
		}
		total := 1
		for _, s := range c.shape {
			total *= s
		}
		x := randn(rng, total, 1)
		for _, backward := range []bool{false, true} {
			sign := float32(1)
			if backward {
				sign = -1
			}
			want := make([]float32, total)
			ropeRef(want, x, c.shape, c.pos, 10000, sign)
			gx, gout := put(t, d, x), put(t, d, make([]float32, total))
			check(t, d.RoPE(gout.mid, gx.mid, c.shape, c.pos, 10000, backward))
			name := fmt.Sprintf("rope %v backward=%v", c.shape, backward)
			expectClose(t, name, gout.get(t, d, name), want, tolFP32)
			gx.free(t, d)
		}
	}
}

func TestAdamW(t *testing.T) {
	d := dev(t)
	rng := rand.New(rand.NewPCG(25, 26))
	for _, n := range awkward {
		p, m := randn(rng, n, 1), randn(rng, n, 0.1)
		v := uniform(rng, n, 0, 0.01)
		gp, gm, gv := put(t, d, p), put(t, d, m), put(t, d, v)
		for step := 1; step <= 3; step++ {
			g := randn(rng, n, 1)
			kernels.AdamWRef(p, g, m, v, 1e-3, 0.9, 0.999, 1e-8, 0.1, step)
			gg := put(t, d, g)
			check(t, d.AdamW(gp.mid, gg.mid, gm.mid, gv.mid, 1e-3, 0.9, 0.999, 1e-8, 0.1, step))
			gg.free(t, d)
		}
		name := fmt.Sprintf("adamw n=%d", n)
		for _, o := range []struct {
			what string
			g    gbuf
			want []float32
		}{{"p", gp, p}, {"m", gm, m}, {"v", gv, v}} {
			got := o.g.get(t, d, name+" "+o.what)
			expectClose(t, name+" "+o.what, got, o.want, tolFP32)
			diff := 0
			for i := range got {
				if math.Float32bits(got[i]) != math.Float32bits(o.want[i]) {
					diff++
				}
			}
			if diff > 0 {
				t.Logf("%s %s: %d of %d elements not bitwise AdamWRef's", name, o.what, diff, n)
			}
		}
	}
}

// TestSample draws with the same uniform numbers as the reference. The
// GPU's softmax rounds differently and the rank walk is found by searches,
// so a draw that lands within rounding of a boundary between two tokens
// may pick the neighbour: at most 1% of draws may differ, and each that
// does must have probabilities summing, in rank order, to within 1e-5 of
// the draw at the reference's choice.
func TestSample(t *testing.T) {
	d := dev(t)
	rng := rand.New(rand.NewPCG(27, 28))
	opts := []SampleOpts{{}, {Temperature: 1}, {Temperature: 0.7, TopK: 5}, {Temperature: 1.3, TopP: 0.9},
		{Temperature: 1, TopK: 40, TopP: 0.95}, {Temperature: 1, TopK: 1}, {Temperature: 0.5, TopP: 0.5}}
	total, differ := 0, 0
	for _, V := range []int{1, 2, 7, 33, 257, 1000, 4099, 32000} {
		rows := 37
		if emulated {
			rows = 6
			if V > 300 { // 1024 fibers a row and a hundred block reductions
				continue
			}
		}
		logits := randn(rng, rows*V, 2)
		if V >= 7 {
			for r := 0; r < rows; r += 3 { // ties: equal logits in some rows
				copy(logits[r*V:r*V+3], []float32{1.5, 1.5, 1.5})
			}
		}
		for _, o := range opts {
			u := uniform(rng, rows, 0, 1)
			gl, gtok, glp := put(t, d, logits), put(t, d, make([]float32, rows)), put(t, d, make([]float32, rows))
			check(t, d.Sample(gtok.mid, glp.mid, gl.mid, rows, V, u, o))
			gotTok := gtok.get(t, d, "tokens")
			gotLP := glp.get(t, d, "logp")
			gl.free(t, d)
			wantLP := make([]float32, rows)
			gotLPAtWant := make([]float32, rows)
			for r := 0; r < rows; r++ {
				row := logits[r*V : (r+1)*V]
				want, lp, gap := sampleRefGap(row, float64(u[r]), o)
				tok := int(math.Float32bits(gotTok[r])) // int32 bits
				total++
				wantLP[r], gotLPAtWant[r] = lp, gotLP[r]
				if tok == want {
					continue
				}
				differ++
				if tok < 0 || tok >= V {
					t.Fatalf("V=%d %+v row %d: token %d out of range", V, o, r, tok)
				}
				if o.Temperature <= 0 {
					t.Errorf("V=%d greedy row %d: token %d, want %d", V, r, tok, want)
				}
				if gap > 1e-5 {
					t.Errorf("V=%d %+v row %d: token %d, want %d (u=%v is %.2g from a boundary)", V, o, r, tok, want, u[r], gap)
				}
				wantLP[r], gotLPAtWant[r] = 0, 0
			}
			expectClose(t, fmt.Sprintf("sample logp V=%d %+v", V, o), gotLPAtWant, wantLP, tolFP32)
		}
	}
	if differ*100 > total {
		t.Errorf("%d of %d draws differ from the reference's", differ, total)
	}
	t.Logf("%d of %d draws differ from the reference's (each within rounding of a boundary)", differ, total)
}

func TestAttention(t *testing.T) {
	d := dev(t)
	rng := rand.New(rand.NewPCG(33, 34))
	shapes := []AttnShape{
		{G: 1, Rep: 1, T: 1, S: 1, D: 8, Dv: 8},
		{G: 2, Rep: 1, T: 7, S: 7, D: 16, Dv: 16},
		{G: 3, Rep: 2, T: 33, S: 40, D: 64, Dv: 64},   // grouped queries, a KV cache of 7
		{G: 2, Rep: 1, T: 130, S: 130, D: 64, Dv: 32}, // tiles around 64 and 128
		{G: 2, Rep: 3, T: 5, S: 5, D: 100, Dv: 128},   // DM = 128
		{G: 4, Rep: 1, T: 1, S: 67, D: 32, Dv: 32},    // one new token over a cache
	}
	for _, s := range shapes {
		for _, causal := range []bool{false, true} {
			for _, padded := range []bool{false, true} {
				o := AttnOpts{Causal: causal}
				if padded {
					o.Batch = s.G
					if s.G%2 == 0 {
						o.Batch = s.G / 2
					}
					o.KeyPadding = make([]bool, o.Batch*s.S)
					for i := range o.KeyPadding {
						o.KeyPadding[i] = rng.IntN(4) == 0
					}
					o.KeyPadding[0] = true // a row with nothing visible when causal and T == S
				}
				tq := s.Rep * s.T
				q, k, v := randn(rng, s.G*tq*s.D, 1), randn(rng, s.G*s.S*s.D, 1), randn(rng, s.G*s.S*s.Dv, 1)
				dout := randn(rng, s.G*tq*s.Dv, 1)
				out := make([]float32, s.G*tq*s.Dv)
				dq, dk, dv := make([]float32, len(q)), make([]float32, len(k)), make([]float32, len(v))
				attentionRef(out, q, k, v, s, o, dout, dq, dk, dv)
				gq, gk, gv := put(t, d, q), put(t, d, k), put(t, d, v)
				gout, glse := put(t, d, make([]float32, len(out))), put(t, d, make([]float32, s.G*tq))
				check(t, d.Attention(gout.mid, glse.mid, gq.mid, gk.mid, gv.mid, s, o))
				name := fmt.Sprintf("attention %+v causal=%v padded=%v", s, causal, padded)
				gotOut := gout.get(t, d, name+" out")
				expectClose(t, name+" out", gotOut, out, tolFP32)
				// The backward from the GPU's own out and lse.
				gout, gdo := put(t, d, gotOut), put(t, d, dout)
				gdq, gdk, gdv := put(t, d, make([]float32, len(q))), put(t, d, make([]float32, len(k))), put(t, d, make([]float32, len(v)))
				check(t, d.AttentionBackward(gdq.mid, gdk.mid, gdv.mid, gq.mid, gk.mid, gv.mid, gout.mid, glse.mid, gdo.mid, s, o))
				expectClose(t, name+" dq", gdq.get(t, d, name+" dq"), dq, tolFP32)
				expectClose(t, name+" dk", gdk.get(t, d, name+" dk"), dk, tolFP32)
				expectClose(t, name+" dv", gdv.get(t, d, name+" dv"), dv, tolFP32)
				for _, g := range []gbuf{gq, gk, gv, gout, glse, gdo} {
					g.free(t, d)
				}
			}
		}
	}
}

// TestAllocatorSteadyStateOnDevice: a loop that allocates and frees the
// same sizes reaches the driver only in its first iteration.
func TestAllocatorSteadyStateOnDevice(t *testing.T) {
	d := dev(t)
	before := d.Stats().DriverAllocs
	for it := 0; it < 20; it++ {
		var bufs []Buffer
		for _, n := range []int{1, 1000, 1 << 20, 3<<20 + 7} {
			b, err := d.Alloc(n)
			check(t, err)
			bufs = append(bufs, b)
		}
		for _, b := range bufs {
			check(t, d.Free(b))
		}
		if it == 0 {
			before = d.Stats().DriverAllocs
		}
	}
	if after := d.Stats().DriverAllocs; after != before {
		t.Fatalf("%d driver allocations after the first iteration", after-before)
	}
}

// TestDriverErrorIsError: an impossible allocation comes back as an *Error,
// not a panic, and the device stays usable.
func TestDriverErrorIsError(t *testing.T) {
	d := dev(t)
	_, err := d.Alloc(1 << 46) // 256 TiB
	if _, ok := err.(*Error); !ok {
		t.Fatalf("huge Alloc: err %v (%T), want *Error", err, err)
	}
	b, err := d.Alloc(10)
	check(t, err)
	check(t, d.Free(b))
}

// TestGemmTensorCoresBatched runs the strided-batched TF32 and BF16 GEMMs
// over items whose operands are 16-byte aligned (the cp.async path), with a
// grid of fewer items than the batch where the batch is large (each block
// then loops over items), B shared by every item, against the reference on
// rounded inputs.
func TestGemmTensorCoresBatched(t *testing.T) {
	d := dev(t)
	rng := rand.New(rand.NewPCG(33, 34))
	for _, s := range [][4]int{{130, 260, 72, 3}, {8, 8, 8, 66000}} {
		m, n, k, batch := s[0], s[1], s[2], s[3]
		if emuSkip(batch) {
			continue
		}
		for _, tr := range [][2]bool{{false, false}, {true, true}} {
			lda, ldb := k, n
			if tr[0] {
				lda = m
			}
			if tr[1] {
				ldb = k
			}
			sa, sc := m*k+8, m*n+3
			for _, prec := range []string{"tf32", "bf16"} {
				round := roundTF32
				if prec == "bf16" {
					round = roundBF16
				}
				a := randn(rng, batch*sa, 1)
				b := randn(rng, k*n, 1)
				c := randn(rng, batch*sc, 1)
				ra, rb := make([]float32, len(a)), make([]float32, len(b))
				for i, v := range a {
					ra[i] = round(v)
				}
				for i, v := range b {
					rb[i] = round(v)
				}
				want := append([]float32(nil), c...)
				for z := 0; z < batch; z++ {
					kernels.SgemmRef(tr[0], tr[1], m, n, k, 0.7, ra[z*sa:], lda, rb, ldb, 0.3, want[z*sc:], n)
				}
				lead := 1 // see testGemmTC
				if prec == "bf16" {
					lead = 2
				}
				ga := put(t, d, append(make([]float32, lead), a...))
				gb := put(t, d, append(make([]float32, lead), b...))
				gc := put(t, d, c)
				if prec == "tf32" {
					check(t, d.GemmTF32StridedBatched(tr[0], tr[1], m, n, k, 0.7, ga.mid.Slice(lead, ga.mid.Len()), lda, sa,
						gb.mid.Slice(lead, gb.mid.Len()), ldb, 0, 0.3, gc.mid, n, sc, batch))
				} else {
					ha, hb := put(t, d, make([]float32, (ga.mid.Len()+1)/2)), put(t, d, make([]float32, (gb.mid.Len()+1)/2))
					check(t, d.ToBF16(ha.mid, ga.mid))
					check(t, d.ToBF16(hb.mid, gb.mid))
					check(t, d.GemmBF16StridedBatched(tr[0], tr[1], m, n, k, 0.7, ha.mid.Slice(lead/2, ha.mid.Len()), lda, sa,
						hb.mid.Slice(lead/2, hb.mid.Len()), ldb, 0, 0.3, gc.mid, n, sc, batch))
					ha.free(t, d)
					hb.free(t, d)
				}
				name := fmt.Sprintf("%s batched m=%d n=%d k=%d batch=%d tA=%v tB=%v", prec, m, n, k, batch, tr[0], tr[1])
				expectClose(t, name, gc.get(t, d, name), want, tolFP32)
				ga.free(t, d)
				gb.free(t, d)
			}
		}
	}
}
