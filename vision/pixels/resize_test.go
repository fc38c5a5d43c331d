package pixels

import (
	"image"
	"image/color"
	"testing"

	"golang.org/x/image/draw"
)

func fill(r image.Rectangle, c color.Color) *image.RGBA {
	img := image.NewRGBA(r)
	draw.Draw(img, r, image.NewUniform(c), image.Point{}, draw.Src)
	return img
}

func TestResize(t *testing.T) {
	src := testImage(40, 30)
	for _, m := range []Method{CatmullRom, BiLinear, ApproxBiLinear, NearestNeighbor} {
		out := Resize(src, 16, 12, m)
		if out.Bounds() != image.Rect(0, 0, 16, 12) {
			t.Errorf("%v: bounds %v", m, out.Bounds())
		}
		// A constant colour stays that colour under every filter.
		c := color.RGBA{40, 90, 200, 255}
		flat := Resize(fill(image.Rect(5, 5, 105, 55), c), 13, 7, m)
		for i := 0; i < len(flat.Pix); i += 4 {
			if got := (color.RGBA{flat.Pix[i], flat.Pix[i+1], flat.Pix[i+2], flat.Pix[i+3]}); got != c {
				t.Fatalf("%v: constant image resized to %v at byte %d, want %v", m, got, i, c)
			}
		}
	}
	// Same size: an exact copy (premultiplied), from a shifted origin.
	sub := testImage(12, 9).SubImage(image.Rect(2, 1, 10, 7))
	same := Resize(sub, 8, 6, CatmullRom)
	for y := range 6 {
		for x := range 8 {
			if got, want := same.RGBAAt(x, y), color.RGBAModel.Convert(sub.At(x+2, y+1)); got != want {
				t.Fatalf("same-size copy (%d,%d) = %v, want %v", x, y, got, want)
			}
		}
	}
	// Nearest neighbour 2x upscale repeats pixels.
	up := Resize(sub, 16, 12, NearestNeighbor)
	if got, want := up.RGBAAt(5, 3), same.RGBAAt(2, 1); got != want {
		t.Errorf("nearest 2x (5,3) = %v, want %v", got, want)
	}
	mustPanic(t, "pixels.Resize", func() { Resize(src, 0, 4, CatmullRom) })
	mustPanic(t, "pixels.Resize", func() { Resize(image.NewRGBA(image.Rectangle{}), 4, 4, CatmullRom) })
	mustPanic(t, "pixels.Resize", func() { Resize(src, 4, 4, Method(9)) })
}

func TestResizeSquare(t *testing.T) {
	// A 40x20 image: left half red, right half blue, origin not at zero.
	r := image.Rect(10, 10, 50, 30)
	src := fill(r, color.RGBA{255, 0, 0, 255})
	draw.Draw(src, image.Rect(30, 10, 50, 30), image.NewUniform(color.RGBA{0, 0, 255, 255}), image.Point{}, draw.Src)

	lb := ResizeSquare(src, 8, Letterbox, NearestNeighbor)
	if lb.Bounds() != image.Rect(0, 0, 8, 8) {
		t.Fatalf("letterbox bounds %v", lb.Bounds())
	}
	// Content is 8x4 in rows 2..5; bars above and below are transparent.
	for y := range 8 {
		for x := range 8 {
			got := lb.RGBAAt(x, y)
			var want color.RGBA
			switch {
			case y < 2 || y >= 6:
				want = color.RGBA{} // bar
			case x < 4:
				want = color.RGBA{255, 0, 0, 255}
			default:
				want = color.RGBA{0, 0, 255, 255}
			}
			if got != want {
				t.Fatalf("letterbox (%d,%d) = %v, want %v", x, y, got, want)
			}
		}
	}
	// Tall images get bars left and right.
	tall := ResizeSquare(fill(image.Rect(0, 0, 10, 40), color.White), 8, Letterbox, CatmullRom)
	if tall.RGBAAt(0, 4).A != 0 || tall.RGBAAt(4, 4).A != 255 || tall.RGBAAt(7, 4).A != 0 {
		t.Errorf("tall letterbox row 4: %v", tall.Pix[4*tall.Stride:5*tall.Stride])
	}

	// Centre crop keeps the middle 20x20: the right 10 columns of red and
	// the left 10 of blue.
	cc := ResizeSquare(src, 4, CenterCrop, NearestNeighbor)
	for x, want := range []color.RGBA{{255, 0, 0, 255}, {255, 0, 0, 255}, {0, 0, 255, 255}, {0, 0, 255, 255}} {
		if got := cc.RGBAAt(x, 1); got != want {
			t.Errorf("center crop (%d,1) = %v, want %v", x, got, want)
		}
	}
	// Letterbox bars become white in ToTensor.
	x, err := ToTensor([]image.Image{lb}, unitMean, unitStd)
	if err != nil {
		t.Fatal(err)
	}
	if v := x.At(0, 1, 0, 0); v != 1 {
		t.Errorf("bar pixel in tensor = %g, want 1 (white)", v)
	}
	mustPanic(t, "pixels.ResizeSquare", func() { ResizeSquare(src, 8, Fit(7), CatmullRom) })
}
