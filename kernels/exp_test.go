package kernels

import (
	"math"
	"testing"
)

// Exp accuracy. Every variant's Exp is within expMaxULP units in the last
// place of the correctly rounded float32 result, over the whole float32
// range (the float64 math.Exp of the float32 input is the truth). For
// results in the denormal range the ulp is the denormal spacing 2^-149.
// Inputs above ln(MaxFloat32) ~ 88.72 give +Inf, below ~ -103.97 give 0,
// NaN gives NaN, +Inf gives +Inf and -Inf gives 0.
//
// Measured on this suite (every 32nd float32 bit pattern, all variants):
// max 0.88 ulp (avx512, avx2), 0.5 ulp (generic: math.Exp rounded to float32).
const expMaxULP = 2

func ulpErr(got float32, exact float64) float64 {
	if math.IsInf(exact, 1) || exact > math.MaxFloat32 {
		if math.IsInf(float64(got), 1) {
			return 0
		}
		// exact just below the overflow threshold may round to MaxFloat32
		if exact < math.MaxFloat32*(1+1.0/(1<<24)) {
			return math.Abs(float64(got)-exact) / math.Pow(2, 104)
		}
		return math.Inf(1)
	}
	e := float32(exact)
	var ulp float64
	if exact < 0x1p-126 {
		ulp = 0x1p-149
	} else {
		ulp = float64(math.Nextafter32(e, float32(math.Inf(1))) - e)
		if math.IsInf(float64(math.Nextafter32(e, float32(math.Inf(1)))), 1) {
			ulp = 0x1p104
		}
	}
	return math.Abs(float64(got)-exact) / ulp
}

func TestExpAccuracy(t *testing.T) {
	step := uint32(1 << 5) // 134M inputs per variant
	if testing.Short() {
		step = 1 << 13
	}
	forEachVariant(t, func(t *testing.T) {
		const chunk = 1 << 14
		src := make([]float32, 0, chunk)
		dst := make([]float32, chunk)
		worst, worstX := 0.0, float32(0)
		flush := func() {
			Exp(dst[:len(src)], src)
			for i, x := range src {
				got := dst[i]
				exact := math.Exp(float64(x))
				if x != x {
					if got == got {
						t.Fatalf("Exp(NaN) = %v", got)
					}
					continue
				}
				if e := ulpErr(got, exact); e > worst {
					worst, worstX = e, x
				}
			}
			src = src[:0]
		}
		for b := uint64(0); b < 1<<32; b += uint64(step) {
			// include the sign-flipped pattern too
			src = append(src, math.Float32frombits(uint32(b)+uint32(b>>7)&(step-1)))
			if len(src) == chunk {
				flush()
			}
		}
		flush()
		if worst > expMaxULP {
			t.Fatalf("max error %.3f ulp at x=%v (bits %#x): got %v, want %v", worst, worstX, math.Float32bits(worstX), expOne(worstX), math.Exp(float64(worstX)))
		}
		t.Logf("max error %.3f ulp at x=%v", worst, worstX)
		// specials, in every SIMD lane position and in the scalar tail
		sp := []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)), 88.72283, 88.72284, 89, 1e10, -87.33655, -103.97, -103.98, -104, -1e10, 0, float32(math.Copysign(0, -1)), 1e-40}
		for pos := 0; pos < 40; pos++ {
			for _, x := range sp {
				in := make([]float32, 40)
				in[pos] = x
				out := make([]float32, 40)
				Exp(out, in)
				exact := math.Exp(float64(x))
				if x != x {
					if out[pos] == out[pos] {
						t.Fatalf("Exp(NaN) at %d = %v", pos, out[pos])
					}
					continue
				}
				if e := ulpErr(out[pos], exact); e > expMaxULP {
					t.Fatalf("Exp(%v) at %d = %v, want %v (%.2f ulp)", x, pos, out[pos], exact, e)
				}
			}
		}
	})
}

func expOne(x float32) float32 {
	d := make([]float32, 16)
	s := make([]float32, 16)
	for i := range s {
		s[i] = x
	}
	Exp(d, s)
	return d[0]
}

func FuzzExp(f *testing.F) {
	for _, x := range []float32{0, 1, -1, 88.7, -103.9, 20, float32(math.Inf(1)), float32(math.NaN())} {
		f.Add(x, uint8(0))
	}
	f.Fuzz(func(t *testing.T, x float32, pos uint8) {
		n := int(pos%40) + 1
		in := make([]float32, n)
		for i := range in {
			in[i] = x
		}
		out := make([]float32, n)
		for _, v := range Variants() {
			setVariant(v)
			Exp(out, in)
			for i, got := range out {
				exact := math.Exp(float64(x))
				if x != x {
					if got == got {
						t.Fatalf("%s: Exp(NaN) = %v", v, got)
					}
					continue
				}
				if e := ulpErr(got, exact); e > expMaxULP {
					t.Fatalf("%s: Exp(%v)[%d] = %v, want %v (%.2f ulp)", v, x, i, got, exact, e)
				}
			}
		}
		setVariant(Variants()[len(Variants())-1])
	})
}
