package kernels

import (
	"fmt"
	"math"
	"math/rand"
	"slices"
	"testing"
)

// vecCase is one vector kernel in the conformance suite: run(false, ...)
// calls the public kernel (the installed variant), run(true, ...) the
// reference. in are read-only inputs, out outputs and accumulators (both
// start random); scalars returned are compared too.
type vecCase struct {
	name       string
	nin, nout  int
	rtol, atol float64
	scale      float64 // inputs are N(0, scale^2)
	run        func(ref bool, in, out [][]float32) []float32
}

var vecCases = []vecCase{
	{"Axpy", 1, 1, 1e-6, 1e-6, 3, func(ref bool, in, out [][]float32) []float32 {
		pick(ref, Axpy, AxpyRef)(0.75, in[0], out[0])
		return nil
	}},
	{"Dot", 2, 0, 1e-5, 1e-5, 1, func(ref bool, in, out [][]float32) []float32 {
		return []float32{pick(ref, Dot, DotRef)(in[0], in[1])}
	}},
	{"Scale", 0, 1, 1e-7, 0, 3, func(ref bool, in, out [][]float32) []float32 {
		pick(ref, Scale, ScaleRef)(-1.25, out[0])
		return nil
	}},
	{"Add", 2, 1, 0, 0, 3, binCase(Add, AddRef)},
	{"Sub", 2, 1, 0, 0, 3, binCase(Sub, SubRef)},
	{"Mul", 2, 1, 0, 0, 3, binCase(Mul, MulRef)},
	{"Div", 2, 1, 0, 0, 3, binCase(Div, DivRef)},
	{"AddScalar", 1, 1, 0, 0, 3, func(ref bool, in, out [][]float32) []float32 {
		pick(ref, AddScalar, AddScalarRef)(out[0], in[0], 0.3)
		return nil
	}},
	{"MulScalar", 1, 1, 0, 0, 3, func(ref bool, in, out [][]float32) []float32 {
		pick(ref, MulScalar, MulScalarRef)(out[0], in[0], -0.3)
		return nil
	}},
	{"Sum", 1, 0, 1e-5, 1e-4, 1, func(ref bool, in, out [][]float32) []float32 {
		return []float32{pick(ref, Sum, SumRef)(in[0])}
	}},
	{"Max", 1, 0, 0, 0, 3, func(ref bool, in, out [][]float32) []float32 {
		return []float32{pick(ref, Max, MaxRef)(in[0])}
	}},
	{"Exp", 1, 1, 4e-7, 0, 20, unCase(Exp, ExpRef)},
	{"SoftmaxRow", 1, 1, 1e-6, 1e-7, 5, unCase(SoftmaxRow, SoftmaxRowRef)},
	{"SoftmaxRowBackward", 2, 1, 1e-5, 1e-6, 1, bwdCase(SoftmaxRowBackward, SoftmaxRowBackwardRef)},
	{"LogSoftmaxRow", 1, 1, 1e-6, 1e-5, 5, unCase(LogSoftmaxRow, LogSoftmaxRowRef)},
	{"LogSoftmaxRowBackward", 2, 1, 1e-5, 1e-5, 1, bwdCase(LogSoftmaxRowBackward, LogSoftmaxRowBackwardRef)},
	{"LayerNormRow", 3, 1, 1e-5, 1e-5, 2, func(ref bool, in, out [][]float32) []float32 {
		m, r := pick(ref, LayerNormRow, LayerNormRowRef)(out[0], in[0], in[1], in[2], 1e-5)
		m2, r2 := pick(ref, LayerNormRow, LayerNormRowRef)(out[0], in[0], nil, nil, 1e-5)
		pick(ref, LayerNormRow, LayerNormRowRef)(out[0], in[0], in[1], nil, 1e-5)
		pick(ref, LayerNormRow, LayerNormRowRef)(out[0], in[0], nil, in[2], 1e-5)
		return []float32{m, r, m2, r2}
	}},
	{"LayerNormRowBackward", 3, 3, 1e-5, 1e-5, 1, func(ref bool, in, out [][]float32) []float32 {
		f := pick(ref, LayerNormRowBackward, LayerNormRowBackwardRef)
		f(out[0], out[1], out[2], in[0], in[1], in[2], 0.1, 1.3)
		f(out[0], nil, nil, in[0], in[1], nil, -0.2, 0.7)
		f(out[0], out[1], nil, in[0], in[1], in[2], 0.3, 0.9)
		f(out[0], nil, out[2], in[0], in[1], in[2], 0.3, 0.9)
		f(out[0], out[1], out[2], in[0], in[1], nil, 0.3, 0.9)
		return nil
	}},
	{"RMSNormRow", 2, 1, 1e-5, 1e-6, 2, func(ref bool, in, out [][]float32) []float32 {
		return []float32{pick(ref, RMSNormRow, RMSNormRowRef)(out[0], in[0], in[1], 1e-6)}
	}},
	{"RMSNormRowBackward", 3, 2, 1e-5, 1e-5, 1, func(ref bool, in, out [][]float32) []float32 {
		f := pick(ref, RMSNormRowBackward, RMSNormRowBackwardRef)
		f(out[0], out[1], in[0], in[1], in[2], 1.3)
		f(out[0], nil, in[0], in[1], nil, 0.6)
		f(out[0], out[1], in[0], in[1], nil, 0.6)
		f(out[0], nil, in[0], in[1], in[2], 0.6)
		return nil
	}},
	// Gelu's erf comes from a fit with relative error ~1.2e-7 (plus float32
	// rounding); its backward sums 0.5*E and x*phi(x), which cancel near
	// x = -0.75: hence an absolute term of a few float32 ulps of |dy|.
	{"Gelu", 1, 1, 2e-6, 1e-7, 3, unCase(Gelu, GeluRef)},
	{"GeluBackward", 2, 1, 2e-6, 2e-6, 3, bwdCase(GeluBackward, GeluBackwardRef)},
	{"GeluTanh", 1, 1, 2e-6, 1e-7, 3, unCase(GeluTanh, GeluTanhRef)},
	{"GeluTanhBackward", 2, 1, 2e-6, 1e-6, 3, bwdCase(GeluTanhBackward, GeluTanhBackwardRef)},
	{"Silu", 1, 1, 2e-6, 1e-7, 5, unCase(Silu, SiluRef)},
	{"SiluBackward", 2, 1, 2e-6, 1e-6, 5, bwdCase(SiluBackward, SiluBackwardRef)},
	{"AdamW", 1, 3, 2e-6, 1e-7, 1, func(ref bool, in, out [][]float32) []float32 {
		pick(ref, AdamW, AdamWRef)(out[0], in[0], out[1], out[2], 1e-3, 0.9, 0.999, 1e-8, 0.01, 7)
		return nil
	}},
}

func pick[F any](ref bool, fast, r F) F {
	if ref {
		return r
	}
	return fast
}

func binCase(f, r func(dst, a, b []float32)) func(bool, [][]float32, [][]float32) []float32 {
	return func(ref bool, in, out [][]float32) []float32 { pick(ref, f, r)(out[0], in[0], in[1]); return nil }
}
func unCase(f, r func(dst, a []float32)) func(bool, [][]float32, [][]float32) []float32 {
	return func(ref bool, in, out [][]float32) []float32 { pick(ref, f, r)(out[0], in[0]); return nil }
}
func bwdCase(f, r func(dx, x, dy []float32)) func(bool, [][]float32, [][]float32) []float32 {
	return func(ref bool, in, out [][]float32) []float32 { pick(ref, f, r)(out[0], in[0], in[1]); return nil }
}

// guarded returns an n-slice at offset off inside a buffer whose guard
// bands hold guardVal.
func guarded(n, off int) (buf, s []float32) {
	buf = make([]float32, off+n+guard)
	for i := range buf {
		buf[i] = guardVal
	}
	return buf, buf[off : off+n : off+n]
}

func vecLengths() []int {
	ls := seq(0, 71)
	ls = append(ls, 127, 128, 129, 255, 256, 257, 511, 1000, 4099)
	return ls
}

func TestVecConformance(t *testing.T) {
	forEachVariant(t, func(t *testing.T) {
		r := rand.New(rand.NewSource(7))
		for _, vc := range vecCases {
			for _, n := range vecLengths() {
				for off := 0; off < 4; off++ {
					if testing.Short() && off > 0 && n > 70 {
						continue
					}
					runVecCase(t, r, vc, n, off)
				}
			}
		}
	})
}

func runVecCase(t *testing.T, r *rand.Rand, vc vecCase, n, off int) {
	t.Helper()
	in := make([][]float32, vc.nin)
	outF, outR := make([][]float32, vc.nout), make([][]float32, vc.nout)
	var bufs [][]float32
	var offs []int
	for i := range in {
		b, s := guarded(n, off)
		for j := range s {
			s[j] = float32(r.NormFloat64() * vc.scale)
		}
		if vc.name == "SoftmaxRowBackward" && i == 0 {
			SoftmaxRowRef(s, s) // y is a softmax output
		}
		if vc.name == "LogSoftmaxRowBackward" && i == 0 {
			LogSoftmaxRowRef(s, s)
		}
		in[i], bufs, offs = s, append(bufs, b), append(offs, off)
	}
	for i := range outF {
		b, s := guarded(n, (off+i)%4)
		for j := range s {
			s[j] = float32(r.NormFloat64())
			if vc.name == "AdamW" && i == 2 {
				s[j] *= s[j] // second moments are >= 0
			}
		}
		outF[i], bufs, offs = s, append(bufs, b), append(offs, (off+i)%4)
		outR[i] = append([]float32(nil), s...)
	}
	sf := vc.run(false, in, outF)
	sr := vc.run(true, in, outR)
	where := fmt.Sprintf("%s n=%d off=%d", vc.name, n, off)
	for i := range outF {
		for j := range outF[i] {
			if !close32(outF[i][j], outR[i][j], vc.rtol, vc.atol) {
				t.Fatalf("%s: out%d[%d] = %v, want %v", where, i, j, outF[i][j], outR[i][j])
			}
		}
	}
	for i := range sf {
		tol := vc.rtol
		if vc.name == "Dot" || vc.name == "Sum" {
			tol *= math.Sqrt(float64(n + 1)) // float32 lane sums vs float64
		}
		if !close32(sf[i], sr[i], tol, vc.atol*float64(n+1)) {
			t.Fatalf("%s: scalar %d = %v, want %v", where, i, sf[i], sr[i])
		}
	}
	for bi, b := range bufs {
		for _, j := range append(seq(0, offs[bi]), seq(len(b)-guard, len(b))...) {
			if j < len(b) && math.Float32bits(b[j]) != math.Float32bits(guardVal) {
				t.Fatalf("%s: guard band written at %d: %v", where, j, b[j])
			}
		}
	}
}

func close32(got, want float32, rtol, atol float64) bool {
	g, w := float64(got), float64(want)
	if math.IsNaN(w) {
		return math.IsNaN(g)
	}
	if math.IsInf(w, 0) || math.IsInf(g, 0) {
		return g == w
	}
	return math.Abs(g-w) <= rtol*math.Abs(w)+atol
}

// Special values through the row kernels and reductions.
func TestVecSpecials(t *testing.T) {
	inf, nan := float32(math.Inf(1)), float32(math.NaN())
	forEachVariant(t, func(t *testing.T) {
		for _, n := range []int{5, 16, 40} {
			for pos := 0; pos < n; pos += 7 {
				for _, sp := range []float32{nan, inf, -inf} {
					x := make([]float32, n)
					for i := range x {
						x[i] = float32(i%5) - 2
					}
					x[pos] = sp
					if got, want := Max(x), MaxRef(x); math.Float32bits(got) != math.Float32bits(want) && !(got != got && want != want) {
						t.Fatalf("n=%d Max with %v at %d = %v, want %v", n, sp, pos, got, want)
					}
					// A masked row (attention's key padding): -Inf in many
					// lanes, or in all of them; and a NaN beside an Inf.
					masked := slices.Clone(x)
					for i := range masked {
						if i%3 != 1 {
							masked[i] = -inf
						}
					}
					all := slices.Repeat([]float32{-inf}, n)
					both := slices.Clone(x)
					both[(pos+3)%n] = -sp
					for _, y := range [][]float32{masked, all, both} {
						if got, want := Max(y), MaxRef(y); math.Float32bits(got) != math.Float32bits(want) && !(got != got && want != want) {
							t.Fatalf("n=%d Max(%v) = %v, want %v", n, y, got, want)
						}
					}
					got, want := make([]float32, n), make([]float32, n)
					SoftmaxRow(got, x)
					SoftmaxRowRef(want, x)
					for i := range got {
						if !close32(got[i], want[i], 1e-6, 1e-7) {
							t.Fatalf("n=%d SoftmaxRow with %v at %d: [%d] = %v, want %v", n, sp, pos, i, got[i], want[i])
						}
					}
				}
			}
		}
	})
}

// Optional rows shorter than the row make the kernels panic like the
// reference (index out of range), never read or write past them.
func TestVecShortOptionalRows(t *testing.T) {
	forEachVariant(t, func(t *testing.T) {
		n := 64
		x, dy, dx := make([]float32, n), make([]float32, n), make([]float32, n)
		short := make([]float32, n-1)
		for name, f := range map[string]func(){
			"LayerNormRowBackward w":  func() { LayerNormRowBackward(dx, nil, nil, dy, x, short, 0, 1) },
			"LayerNormRowBackward dw": func() { LayerNormRowBackward(dx, short, nil, dy, x, nil, 0, 1) },
			"LayerNormRowBackward db": func() { LayerNormRowBackward(dx, nil, short, dy, x, nil, 0, 1) },
			"RMSNormRow w":            func() { RMSNormRow(dx, x, short, 1e-5) },
			"RMSNormRowBackward w":    func() { RMSNormRowBackward(dx, nil, dy, x, short, 1) },
			"RMSNormRowBackward dw":   func() { RMSNormRowBackward(dx, short, dy, x, nil, 1) },
		} {
			func() {
				defer func() {
					if recover() == nil {
						t.Errorf("%s: no panic", name)
					}
				}()
				f()
			}()
		}
	})
}

// Special values through the elementwise kernels, in every lane position
// and in the scalar tail.
func TestVecSpecialsElementwise(t *testing.T) {
	sp := []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)), 0, float32(math.Copysign(0, -1)), 1e-40, 30, -30, 100, -100, 1e20, -1e20}
	un := map[string][2]func(dst, x []float32){
		"Exp": {Exp, ExpRef}, "Gelu": {Gelu, GeluRef}, "GeluTanh": {GeluTanh, GeluTanhRef}, "Silu": {Silu, SiluRef},
	}
	bw := map[string][2]func(dx, x, dy []float32){
		"GeluBackward": {GeluBackward, GeluBackwardRef}, "GeluTanhBackward": {GeluTanhBackward, GeluTanhBackwardRef}, "SiluBackward": {SiluBackward, SiluBackwardRef},
	}
	forEachVariant(t, func(t *testing.T) {
		for _, x := range sp {
			in, dy := make([]float32, 37), make([]float32, 37)
			for i := range in {
				in[i], dy[i] = x, 1
			}
			got, want := make([]float32, 37), make([]float32, 37)
			for name, f := range un {
				f[0](got, in)
				f[1](want, in)
				for i := range got {
					if !close32(got[i], want[i], 2e-6, 1e-30) {
						t.Errorf("%s(%v) at %d = %v, want %v", name, x, i, got[i], want[i])
						break
					}
				}
			}
			for name, f := range bw {
				f[0](got, in, dy)
				f[1](want, in, dy)
				for i := range got {
					if !close32(got[i], want[i], 2e-6, 1e-30) {
						t.Errorf("%s(%v) at %d = %v, want %v", name, x, i, got[i], want[i])
						break
					}
				}
			}
		}
	})
}
