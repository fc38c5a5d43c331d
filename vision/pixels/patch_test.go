package pixels

import (
	"slices"
	"testing"

	"github.com/kiln-ml/kiln/tensor"
)

// naivePatchify is the loop reference: token (gy*gw + gx), feature
// (c*p + dy)*p + dx holds pixel x[b, c, gy*p+dy, gx*p+dx].
func naivePatchify(x []float32, b, c, h, w, p int) []float32 {
	gh, gw := h/p, w/p
	d := c * p * p
	out := make([]float32, b*gh*gw*d)
	for bi := range b {
		for gy := range gh {
			for gx := range gw {
				for ci := range c {
					for dy := range p {
						for dx := range p {
							src := ((bi*c+ci)*h+gy*p+dy)*w + gx*p + dx
							dst := (bi*gh*gw+gy*gw+gx)*d + (ci*p+dy)*p + dx
							out[dst] = x[src]
						}
					}
				}
			}
		}
	}
	return out
}

// naivePixelShuffle is the loop reference: output token (GY*g + GX),
// feature (i*s + j)*D + f holds x[b, (GY*s+i)*side + GX*s+j, f].
func naivePixelShuffle(x []float32, b, n, d, s int) []float32 {
	side := 0
	for side*side < n {
		side++
	}
	g := side / s
	out := make([]float32, len(x))
	for bi := range b {
		for gy := range g {
			for gx := range g {
				for i := range s {
					for j := range s {
						for f := range d {
							src := (bi*n+(gy*s+i)*side+gx*s+j)*d + f
							dst := (bi*g*g+gy*g+gx)*(s*s*d) + (i*s+j)*d + f
							out[dst] = x[src]
						}
					}
				}
			}
		}
	}
	return out
}

func arange(n int) []float32 {
	out := make([]float32, n)
	for i := range out {
		out[i] = float32(i)
	}
	return out
}

func TestPatchifyMatchesLoops(t *testing.T) {
	for _, c := range []struct{ b, c, h, w, p int }{
		{1, 3, 4, 4, 2}, {2, 3, 6, 4, 2}, {2, 1, 6, 9, 3}, {1, 2, 5, 5, 1}, {1, 3, 4, 4, 4},
	} {
		data := arange(c.b * c.c * c.h * c.w)
		x := tensor.New(data, c.b, c.c, c.h, c.w)
		got := Patchify(x, c.p)
		n, d := (c.h/c.p)*(c.w/c.p), c.c*c.p*c.p
		if s := got.Shape(); !slices.Equal(s, []int{c.b, n, d}) {
			t.Fatalf("%+v: shape %v, want [%d %d %d]", c, s, c.b, n, d)
		}
		if want := naivePatchify(data, c.b, c.c, c.h, c.w, c.p); !slices.Equal(got.ToSlice(), want) {
			t.Fatalf("%+v: Patchify\n got %v\nwant %v", c, got.ToSlice(), want)
		}
		back := Unpatchify(got, c.p, c.h, c.w)
		if s := back.Shape(); !slices.Equal(s, []int{c.b, c.c, c.h, c.w}) || !slices.Equal(back.ToSlice(), data) {
			t.Fatalf("%+v: Unpatchify gives shape %v, values %v", c, s, back.ToSlice())
		}
	}
}

// TestPatchifyIsConv checks the (c, dy, dx) order against a strided
// convolution: Patchify(x) @ W.T with W [D, C*p*p] equals Conv2d(kernel=p,
// stride=p) with the weight W.Reshape(D, C, p, p).
func TestPatchifyIsConv(t *testing.T) {
	rng := tensor.NewRNG(5)
	const b, c, h, w, p, d = 2, 3, 4, 6, 2, 5
	x := tensor.Randn(rng, 1, b, c, h, w)
	wt := tensor.Randn(rng, 1, d, c*p*p)
	got := Patchify(x, p).MatMul(wt.T()) // [b, (h/p)*(w/p), d]
	for bi := range b {
		for gy := range h / p {
			for gx := range w / p {
				for o := range d {
					var want float64
					for ci := range c {
						for dy := range p {
							for dx := range p {
								want += float64(x.At(bi, ci, gy*p+dy, gx*p+dx)) * float64(wt.At(o, (ci*p+dy)*p+dx))
							}
						}
					}
					if g := float64(got.At(bi, gy*(w/p)+gx, o)); g-want > 1e-4 || want-g > 1e-4 {
						t.Fatalf("token (%d,%d) out %d: %g, conv gives %g", gy, gx, o, g, want)
					}
				}
			}
		}
	}
}

func TestPixelShuffleMatchesLoops(t *testing.T) {
	for _, c := range []struct{ b, n, d, s int }{
		{1, 16, 1, 2}, {2, 16, 3, 2}, {1, 36, 2, 3}, {2, 36, 2, 2}, {1, 9, 4, 1}, {1, 4, 2, 2},
	} {
		data := arange(c.b * c.n * c.d)
		got := PixelShuffle(tensor.New(data, c.b, c.n, c.d), c.s)
		if s := got.Shape(); !slices.Equal(s, []int{c.b, c.n / (c.s * c.s), c.d * c.s * c.s}) {
			t.Fatalf("%+v: shape %v", c, s)
		}
		if want := naivePixelShuffle(data, c.b, c.n, c.d, c.s); !slices.Equal(got.ToSlice(), want) {
			t.Fatalf("%+v: PixelShuffle\n got %v\nwant %v", c, got.ToSlice(), want)
		}
	}
	// Spelled out: a 4x4 grid of 1-feature tokens 0..15, s = 2. The first
	// output token is the top-left block: tokens 0, 1 (row 0) and 4, 5 (row 1).
	got := PixelShuffle(tensor.New(arange(16), 1, 16, 1), 2).ToSlice()
	want := []float32{0, 1, 4, 5, 2, 3, 6, 7, 8, 9, 12, 13, 10, 11, 14, 15}
	if !slices.Equal(got, want) {
		t.Fatalf("PixelShuffle of a 4x4 grid = %v, want %v", got, want)
	}
}

func TestPatchGradients(t *testing.T) {
	rng := tensor.NewRNG(11)
	cases := []struct {
		name string
		in   *tensor.Tensor
		f    func(x []*tensor.Tensor) *tensor.Tensor
	}{
		{"Patchify", tensor.Randn(rng, 1, 2, 3, 4, 6), func(x []*tensor.Tensor) *tensor.Tensor { return Patchify(x[0], 2) }},
		// A non-contiguous input: the transpose of an [.., W, H] tensor.
		{"Patchify/transposed", tensor.Randn(rng, 1, 1, 2, 6, 4), func(x []*tensor.Tensor) *tensor.Tensor {
			return Patchify(x[0].Transpose(2, 3), 2)
		}},
		{"Unpatchify", tensor.Randn(rng, 1, 2, 6, 12), func(x []*tensor.Tensor) *tensor.Tensor { return Unpatchify(x[0], 2, 4, 6) }},
		{"PixelShuffle", tensor.Randn(rng, 1, 2, 16, 3), func(x []*tensor.Tensor) *tensor.Tensor { return PixelShuffle(x[0], 2) }},
		// Composed with a non-linear op, so the upstream gradient is not a
		// plain permutation of R.
		{"PixelShuffle*Tanh", tensor.Randn(rng, 1, 1, 36, 2), func(x []*tensor.Tensor) *tensor.Tensor {
			return PixelShuffle(x[0].Tanh(), 3).Tanh()
		}},
	}
	for _, c := range cases {
		if err := tensor.GradCheck(c.f, []*tensor.Tensor{c.in}, tensor.GradCheckOpts{MaxElems: 64}); err != nil {
			t.Errorf("%s: %v", c.name, err)
		}
	}
}

func TestPatchPanics(t *testing.T) {
	mustPanic(t, "pixels.Patchify", func() { Patchify(tensor.Zeros(1, 3, 6, 5), 2) })
	mustPanic(t, "pixels.Patchify", func() { Patchify(tensor.Zeros(3, 6, 6), 2) })
	mustPanic(t, "pixels.Patchify", func() { Patchify(tensor.Zeros(1, 3, 4, 4), 0) })
	mustPanic(t, "pixels.Unpatchify", func() { Unpatchify(tensor.Zeros(1, 5, 12), 2, 4, 4) })
	mustPanic(t, "pixels.Unpatchify", func() { Unpatchify(tensor.Zeros(1, 4, 10), 2, 4, 4) })
	mustPanic(t, "pixels.Unpatchify", func() { Unpatchify(tensor.Zeros(1, 4, 12), 2, 4, 5) })
	mustPanic(t, "pixels.PixelShuffle", func() { PixelShuffle(tensor.Zeros(1, 15, 2), 2) })
	mustPanic(t, "pixels.PixelShuffle", func() { PixelShuffle(tensor.Zeros(1, 9, 2), 2) })
	mustPanic(t, "pixels.PixelShuffle", func() { PixelShuffle(tensor.Zeros(16, 2), 2) })

	// The message names the op and the shape.
	defer func() {
		e, _ := recover().(*tensor.OpError)
		if e == nil || e.Error() != "pixels.Patchify: patch size 2 does not divide H=6 and W=5 of shape [1 3 6 5]" {
			t.Errorf("panic message %v", e)
		}
	}()
	Patchify(tensor.Zeros(1, 3, 6, 5), 2)
}
