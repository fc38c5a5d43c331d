package safetensors

import (
	"math"
	"math/rand/v2"
	"testing"
)

// The conversion vectors of testdata/convert.safetensors were cast by PyTorch
// (see testdata/gen_golden.py): edge values, exact ties and random bit
// patterns. PyTorch writes one canonical NaN, so NaNs are compared as NaNs.
func TestConversionsMatchTorch(t *testing.T) {
	ts, _, err := ReadFile("testdata/convert.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string][]float32{}
	for _, tt := range ts {
		byName[tt.Name] = tt.Data
	}
	in := byName["input"]
	if len(in) < 3500 {
		t.Fatalf("only %d conversion vectors", len(in))
	}
	for _, c := range []struct {
		dtype     string
		roundTrip func(float32) float32 // encode, then decode
		torch     []float32             // the torch cast, decoded by us
		torchUp   []float32             // the torch cast, upcast by torch
	}{
		{"bf16", func(x float32) float32 { return f32FromBF16(bf16FromF32(x)) }, byName["bf16"], byName["bf16_f32"]},
		{"f16", func(x float32) float32 { return f32FromF16(f16FromF32(x)) }, byName["f16"], byName["f16_f32"]},
	} {
		bad := 0
		for i, x := range in {
			got, want, up := c.roundTrip(x), c.torch[i], c.torchUp[i]
			if !sameValue(want, up) { // our decoding against torch's
				t.Errorf("%s: element %d: we decode torch's value to %#08x, torch upcasts it to %#08x",
					c.dtype, i, math.Float32bits(want), math.Float32bits(up))
				bad++
			}
			if !sameValue(got, want) { // our rounding against torch's
				t.Errorf("%s: %#08x (%g) encodes to %#08x (%g), torch gives %#08x (%g)", c.dtype,
					math.Float32bits(x), x, math.Float32bits(got), got, math.Float32bits(want), want)
				bad++
			}
			if bad > 20 {
				t.Fatal("too many mismatches")
			}
		}
	}
}

// sameValue is bitwise equality, with all NaNs equal.
func sameValue(a, b float32) bool {
	if a != a || b != b {
		return a != a && b != b
	}
	return math.Float32bits(a) == math.Float32bits(b)
}

func TestConversionEdges(t *testing.T) {
	nan := float32(math.NaN())
	inf := float32(math.Inf(1))
	for _, c := range []struct {
		x        float32
		bf16, hf uint16
	}{
		{0, 0x0000, 0x0000},
		{float32(math.Copysign(0, -1)), 0x8000, 0x8000},
		{1, 0x3f80, 0x3c00},
		{-2, 0xc000, 0xc000},
		{inf, 0x7f80, 0x7c00},
		{-inf, 0xff80, 0xfc00},
		{65504, 0x4780, 0x7bff},           // largest half
		{65519.996, 0x4780, 0x7bff},       // just under the tie: rounds down
		{65520, 0x4780, 0x7c00},           // tie between 65504 and 65536: to Inf
		{math.MaxFloat32, 0x7f80, 0x7c00}, // rounds to Inf in both
		{0x1p-14, 0x3880, 0x0400},         // smallest normal half
		{0x1p-24, 0x3380, 0x0001},         // smallest subnormal half
		{0x1p-25, 0x3300, 0x0000},         // tie between 0 and 2^-24: to even 0
		{0x1.000002p-25, 0x3300, 0x0001},  // just above the tie
		{0x1.8p-24, 0x33c0, 0x0002},       // tie between 1 and 2 subnormals: to 2
		{0x1.4p-23, 0x3420, 0x0002},       // 2.5 subnormals: to 2
		{0x1p-26, 0x3280, 0x0000},         // underflow
		{0x1.ffcp-15, 0x3880, 0x0400},     // largest subnormal + half ulp (odd): up to normal
		{1 + 0x1p-8, 0x3f80, 0x3c04},      // bf16 tie: to even 1
		{1 + 0x3p-8, 0x3f82, 0x3c0c},      // bf16 tie: to even 1+2^-6
		{1 + 0x1p-11, 0x3f80, 0x3c00},     // f16 tie: to even 1
		{1 + 0x3p-11, 0x3f80, 0x3c02},     // f16 tie: to even 1+2^-9
		{0x1.fep127, 0x7f7f, 0x7c00},      // largest bf16
		{0x1.ff0000p127, 0x7f80, 0x7c00},  // bf16 tie above the largest: to Inf
		{0x1p-149, 0x0000, 0x0000},        // smallest float32 subnormal
		{-0x1p-149, 0x8000, 0x8000},       // keeps the sign
		{0x1.8p-133, 0x0002, 0x0000},      // bf16 subnormal tie (odd): up
		{float32(1) / 3, 0x3eab, 0x3555},
	} {
		if got := bf16FromF32(c.x); got != c.bf16 {
			t.Errorf("bf16(%g = %#08x) = %#04x, want %#04x", c.x, math.Float32bits(c.x), got, c.bf16)
		}
		if got := f16FromF32(c.x); got != c.hf {
			t.Errorf("f16(%g = %#08x) = %#04x, want %#04x", c.x, math.Float32bits(c.x), got, c.hf)
		}
	}
	for _, bits := range []uint32{0x7fc00000, 0xffc00000, 0x7f800001, 0x7fbfffff, 0xff812345, math.Float32bits(nan)} {
		x := math.Float32frombits(bits)
		b, h := f32FromBF16(bf16FromF32(x)), f32FromF16(f16FromF32(x))
		if b == b || h == h {
			t.Errorf("NaN %#08x: bf16 gives %#08x, f16 gives %#08x, want NaNs", bits, math.Float32bits(b), math.Float32bits(h))
		}
		if math.Signbit(float64(b)) != math.Signbit(float64(x)) || math.Signbit(float64(h)) != math.Signbit(float64(x)) {
			t.Errorf("NaN %#08x: sign lost", bits)
		}
	}
}

// Every 16-bit value decodes to a float32 that encodes back to the same bits,
// NaN payloads included.
func TestConversionExhaustiveRoundTrip(t *testing.T) {
	for h := 0; h <= 0xffff; h++ {
		if got := bf16FromF32(f32FromBF16(uint16(h))); got != uint16(h) {
			t.Fatalf("bf16 %#04x -> %g -> %#04x", h, f32FromBF16(uint16(h)), got)
		}
		if got := f16FromF32(f32FromF16(uint16(h))); got != uint16(h) {
			t.Fatalf("f16 %#04x -> %g -> %#04x", h, f32FromF16(uint16(h)), got)
		}
	}
	// F16 decoding checked against arithmetic, not bit tricks.
	for h := 0; h < 0x7c00; h++ {
		e, m := h>>10, float64(h&0x3ff)
		want := math.Ldexp(m, -24) // subnormal
		if e > 0 {
			want = math.Ldexp(1+m/1024, e-15)
		}
		if got := f32FromF16(uint16(h)); float64(got) != want || f32FromF16(uint16(h)|0x8000) != -got {
			t.Fatalf("f16 %#04x decodes to %g, want ±%g", h, got, want)
		}
	}
}

// Random float32 values encode to the nearest 16-bit value, ties to even,
// checked by comparing distances to the neighbours in float64.
func TestConversionNearest(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	for _, c := range []struct {
		name   string
		encode func(float32) uint16
		decode func(uint16) float32
		max    float64 // largest finite
		ulpMax float64 // the spacing just below Inf
	}{
		{"bf16", bf16FromF32, f32FromBF16, float64(f32FromBF16(0x7f7f)), 0x1p120},
		{"f16", f16FromF32, f32FromF16, 65504, 32},
	} {
		for range 100000 {
			// Exponents mostly in and around the 16-bit range.
			var x float32
			if c.name == "f16" && rng.IntN(4) != 0 {
				x = float32(math.Ldexp(rng.Float64()*2-1, rng.IntN(45)-27))
			} else {
				x = math.Float32frombits(rng.Uint32())
			}
			if x != x || math.IsInf(float64(x), 0) {
				continue
			}
			h := c.encode(x)
			got, xf := float64(c.decode(h)), math.Abs(float64(x))
			if math.IsInf(got, 0) {
				// Inf only from at least half an ulp above the largest value.
				if xf < c.max+c.ulpMax/2 {
					t.Fatalf("%s: %g (%#08x) overflows to Inf", c.name, x, math.Float32bits(x))
				}
				continue
			}
			d := math.Abs(got - float64(x))
			for _, nb := range []uint16{h + 1, h - 1} {
				if nb&0x7fff >= c.encode(float32(math.Inf(1))) || nb&0x7fff == 0x7fff {
					continue // not a finite neighbour
				}
				dn := math.Abs(float64(c.decode(nb)) - float64(x))
				if dn < d || dn == d && h&1 == 1 {
					t.Fatalf("%s: %g (%#08x) encodes to %#04x (%g), but %#04x (%g) is nearer or an even tie",
						c.name, x, math.Float32bits(x), h, got, nb, c.decode(nb))
				}
			}
		}
	}
}
