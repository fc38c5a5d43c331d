package pixels

import (
	"image"
	"image/color"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/kiln-ml/kiln/tensor"
)

var unitMean, unitStd = [3]float32{}, [3]float32{1, 1, 1}

// planes returns the tensor's values of image i as [c][y*w+x].
func planes(t *testing.T, x *tensor.Tensor, i int) [3][]float32 {
	t.Helper()
	s := x.Shape()
	plane := s[2] * s[3]
	d := x.ToSlice()[i*3*plane:]
	return [3][]float32{d[:plane], d[plane : 2*plane], d[2*plane : 3*plane]}
}

func TestToTensorGolden(t *testing.T) {
	// Each image is 2x1: a pixel in its own colour model and, for the alpha
	// models, a fully transparent one (white after compositing).
	rgba := image.NewRGBA(image.Rect(0, 0, 2, 1))
	rgba.SetRGBA(0, 0, color.RGBA{100, 0, 50, 128}) // premultiplied
	nrgba := image.NewNRGBA(image.Rect(0, 0, 2, 1))
	nrgba.SetNRGBA(0, 0, color.NRGBA{255, 0, 51, 128}) // straight
	nrgba.SetNRGBA(1, 0, color.NRGBA{10, 20, 30, 0})   // invisible colour
	gray := image.NewGray(image.Rect(0, 0, 2, 1))
	gray.SetGray(0, 0, color.Gray{51})
	gray.SetGray(1, 0, color.Gray{255})
	pal := image.NewPaletted(image.Rect(0, 0, 2, 1), color.Palette{color.Transparent, color.RGBA{0, 102, 255, 255}})
	pal.SetColorIndex(0, 0, 1)

	const k = 1.0 / 255
	cases := []struct {
		name string
		img  image.Image
		want [3][2]float64 // [channel][x] in [0, 1]
	}{
		// premultiplied: v = c + 255 - a  ->  (100+127, 127, 50+127) / 255
		{"RGBA", rgba, [3][2]float64{{227 * k, 1}, {127 * k, 1}, {177 * k, 1}}},
		// straight: 16-bit c = v*257*a/255, bg = 65535 - 128*257 = 32639
		{"NRGBA", nrgba, [3][2]float64{
			{(65535*128/255 + 32639) / 65535.0, 1},
			{32639 / 65535.0, 1},
			{(51*257*128/255 + 32639) / 65535.0, 1},
		}},
		{"Gray", gray, [3][2]float64{{51 * k, 1}, {51 * k, 1}, {51 * k, 1}}},
		{"Paletted", pal, [3][2]float64{{0, 1}, {102 * k, 1}, {1, 1}}},
	}
	for _, c := range cases {
		x, err := ToTensor([]image.Image{c.img}, unitMean, unitStd)
		if err != nil {
			t.Fatal(err)
		}
		if got := x.Shape(); len(got) != 4 || got[0] != 1 || got[1] != 3 || got[2] != 1 || got[3] != 2 {
			t.Fatalf("%s: shape %v, want [1 3 1 2]", c.name, got)
		}
		p := planes(t, x, 0)
		for ch := range 3 {
			for px := range 2 {
				if got, want := p[ch][px], float32(c.want[ch][px]); got != want {
					t.Errorf("%s: channel %d pixel %d = %.9g, want %.9g", c.name, ch, px, got, want)
				}
			}
		}
	}

	// Normalisation: (v - mean) / std per channel, with v = 51/255 = 0.2.
	x, err := ToTensor([]image.Image{gray}, [3]float32{0.2, 0, 0.5}, [3]float32{1, 0.5, 0.25})
	if err != nil {
		t.Fatal(err)
	}
	p := planes(t, x, 0)
	for ch, want := range []float64{0, 0.4, -1.2} {
		if d := math.Abs(float64(p[ch][0]) - want); d > 1e-6 {
			t.Errorf("normalised channel %d = %g, want %g", ch, p[ch][0], want)
		}
	}
}

// randomImages returns the same random picture (with random alpha, mostly
// opaque) in every model ToTensor has a fast path for, each as a sub-image
// with a non-zero origin.
func randomImages(rng *rand.Rand, w, h int) map[string]image.Image {
	r := image.Rect(3, 2, 3+w+2, 2+h+3)
	sub := image.Rect(4, 3, 4+w, 3+h)
	rgba, nrgba := image.NewRGBA(r), image.NewNRGBA(r)
	gray := image.NewGray(r)
	ycc := image.NewYCbCr(r, image.YCbCrSubsampleRatio420)
	pal := image.NewPaletted(r, color.Palette{color.Black, color.White, color.NRGBA{200, 30, 90, 100}, color.Transparent})
	for i := range rgba.Pix {
		rgba.Pix[i] = uint8(rng.IntN(256))
	}
	for i := range nrgba.Pix {
		nrgba.Pix[i] = uint8(rng.IntN(256))
		if i%4 == 3 && rng.IntN(2) == 0 {
			nrgba.Pix[i] = 255
		}
	}
	for i := 3; i < len(rgba.Pix); i += 4 { // make it valid premultiplied
		a := rgba.Pix[i]
		rgba.Pix[i-3], rgba.Pix[i-2], rgba.Pix[i-1] = min(rgba.Pix[i-3], a), min(rgba.Pix[i-2], a), min(rgba.Pix[i-1], a)
	}
	for _, b := range [][]uint8{gray.Pix, ycc.Y, ycc.Cb, ycc.Cr} {
		for i := range b {
			b[i] = uint8(rng.IntN(256))
		}
	}
	for i := range pal.Pix {
		pal.Pix[i] = uint8(rng.IntN(4))
	}
	return map[string]image.Image{
		"RGBA": rgba.SubImage(sub), "NRGBA": nrgba.SubImage(sub), "Gray": gray.SubImage(sub),
		"YCbCr": ycc.SubImage(sub), "Paletted": pal.SubImage(sub),
	}
}

// opaqueWrapper hides the concrete type, forcing the generic path.
type opaqueWrapper struct{ image.Image }

func TestToTensorFastPathsMatchGeneric(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for name, img := range randomImages(rng, 9, 7) {
		fast, err := ToTensor([]image.Image{img, img}, ImageNetMean, ImageNetStd)
		if err != nil {
			t.Fatal(err)
		}
		slow, err := ToTensor([]image.Image{opaqueWrapper{img}, opaqueWrapper{img}}, ImageNetMean, ImageNetStd)
		if err != nil {
			t.Fatal(err)
		}
		f, s := fast.ToSlice(), slow.ToSlice()
		for i := range f {
			if math.Float32bits(f[i]) != math.Float32bits(s[i]) {
				t.Fatalf("%s: element %d: fast path %.9g, generic %.9g", name, i, f[i], s[i])
			}
		}
	}
}

func TestToTensorErrors(t *testing.T) {
	a, b := image.NewRGBA(image.Rect(0, 0, 4, 4)), image.NewRGBA(image.Rect(0, 0, 4, 5))
	cases := []struct {
		imgs []image.Image
		std  [3]float32
		want string
	}{
		{nil, unitStd, "empty batch"},
		{[]image.Image{a, b}, unitStd, "image 1 is 4x5, image 0 is 4x4"},
		{[]image.Image{a, nil}, unitStd, "image 1 is nil or empty"},
		{[]image.Image{a}, [3]float32{1, 0, 1}, "std[1] = 0"},
	}
	for _, c := range cases {
		_, err := ToTensor(c.imgs, unitMean, c.std)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("error %v, want one containing %q", err, c.want)
		}
	}
}

func TestFromTensorRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	src := image.NewRGBA(image.Rect(0, 0, 6, 5))
	for i := range src.Pix {
		src.Pix[i] = uint8(rng.IntN(256))
		if i%4 == 3 {
			src.Pix[i] = 255
		}
	}
	for _, ms := range [][2][3]float32{{unitMean, unitStd}, {ImageNetMean, ImageNetStd}, {SigLIPMean, SigLIPStd}} {
		x, err := ToTensor([]image.Image{src, src}, ms[0], ms[1])
		if err != nil {
			t.Fatal(err)
		}
		back := FromTensor(x, ms[0], ms[1])
		if len(back) != 2 || back[1].Bounds() != src.Bounds() {
			t.Fatalf("FromTensor gave %d images", len(back))
		}
		for i := range src.Pix {
			if back[1].Pix[i] != src.Pix[i] {
				t.Fatalf("mean %v: byte %d = %d, want %d", ms[0], i, back[1].Pix[i], src.Pix[i])
			}
		}
	}
	// Clamping and NaN.
	x := tensor.FromSlice([]float32{-3, 0.5, 7, float32(math.NaN()), 0, 1}, 1, 3, 1, 2)
	img := FromTensor(x, unitMean, unitStd)[0]
	// Planes R = [-3, 0.5], G = [7, NaN], B = [0, 1]; alpha is opaque.
	if want := []uint8{0, 255, 0, 255, 128, 0, 255, 255}; !slices.Equal(img.Pix, want) {
		t.Errorf("clamped pixels %v, want %v", img.Pix, want)
	}
	mustPanic(t, "pixels.FromTensor", func() { FromTensor(tensor.Zeros(1, 4, 2, 2), unitMean, unitStd) })
}

// mustPanic checks that f panics with a *tensor.OpError naming op.
func mustPanic(t *testing.T, op string, f func()) {
	t.Helper()
	defer func() {
		t.Helper()
		r := recover()
		e, ok := r.(*tensor.OpError)
		if !ok || e.Op != op {
			t.Errorf("panic %v (%T), want a *tensor.OpError from %s", r, r, op)
		}
	}()
	f()
}

func BenchmarkToTensor(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	imgs := randomImages(rng, 64, 64)
	for _, name := range []string{"RGBA", "NRGBA", "YCbCr"} {
		batch := make([]image.Image, 16)
		for i := range batch {
			batch[i] = imgs[name]
		}
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				if _, err := ToTensor(batch, SigLIPMean, SigLIPStd); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkToTensorGeneric(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	img := opaqueWrapper{randomImages(rng, 64, 64)["RGBA"]}
	batch := make([]image.Image, 16)
	for i := range batch {
		batch[i] = img
	}
	for b.Loop() {
		if _, err := ToTensor(batch, SigLIPMean, SigLIPStd); err != nil {
			b.Fatal(err)
		}
	}
}
