package tasks

import (
	"image"
	"image/color"
	"testing"
)

func overlaps(a, b rect, gap int) bool {
	return a.X0 < b.X1+gap && b.X0 < a.X1+gap && a.Y0 < b.Y1+gap && b.Y0 < a.Y1+gap
}

func inside(a rect) bool { return a.X0 >= 0 && a.Y0 >= 0 && a.X1 <= Canvas && a.Y1 <= Canvas }

// TestLegibleGeometry checks the drawn layout of thousands of scenes per
// family: every element lies inside the canvas, shapes keep their family's
// gap, texts and marks do not overlap, every shape shows at least 60% of
// its ideal area in its own colour at 32 px, and glyphs are drawn whole.
func TestLegibleGeometry(t *testing.T) {
	gaps := map[Family]int{Count: 2, Spatial: spatialGap, Geometry: 2}
	for _, f := range Families {
		for level := 1; level <= 3; level++ {
			for i := range 400 {
				s, _, _ := Generate(f, level, hashKey(uint64(i), uint64(level), 5))
				var boxes []rect
				for _, sh := range s.Shapes {
					boxes = append(boxes, rect{sh.X, sh.Y, sh.X + sh.Size, sh.Y + sh.Size})
				}
				for _, g := range s.Digits {
					boxes = append(boxes, rect{g.X, g.Y, g.X + glyphW*g.Scale, g.Y + glyphH*g.Scale})
				}
				if s.Chart != nil {
					marks, values, labels := chartLayout(s.Chart)
					texts := append(append([]rect(nil), values...), labels...)
					for k, a := range texts {
						for _, b := range append(texts[k+1:], marks...) {
							if overlaps(a, b, 1) {
								t.Fatalf("%s L%d: text %v touches %v", f, level, a, b)
							}
						}
					}
					boxes = append(marks, texts...)
					for _, v := range s.Chart.Values {
						if v < 1 || v > 9 {
							t.Fatalf("chart value %d", v)
						}
					}
				}
				for k, a := range boxes {
					if !inside(a) || s.Chart == nil && (a.X0 < 1 || a.Y0 < 1 || a.X1 > Canvas-1 || a.Y1 > Canvas-1) {
						t.Fatalf("%s L%d: %v is not inside the canvas", f, level, a)
					}
					if s.Chart != nil {
						continue
					}
					for _, b := range boxes[k+1:] {
						if overlaps(a, b, gaps[f]) {
							t.Fatalf("%s L%d: %v and %v are closer than %d", f, level, a, b, gaps[f])
						}
					}
				}
				if i < 100 {
					checkInk(t, s, Render(s, 32))
				}
			}
		}
	}
}

// checkInk counts, for each shape and glyph, the pixels of its colour in
// its box at 32 px.
func checkInk(t *testing.T, s *Scene, img *image.RGBA) {
	t.Helper()
	ink := func(r rect, c color.RGBA) int {
		n := 0
		for y := r.Y0; y < r.Y1; y++ {
			for x := r.X0; x < r.X1; x++ {
				if img.RGBAAt(x, y) == c {
					n++
				}
			}
		}
		return n
	}
	for _, sh := range s.Shapes {
		got := ink(rect{sh.X, sh.Y, sh.X + sh.Size, sh.Y + sh.Size}, sh.Colour.RGBA())
		if float64(got) < 0.6*outlineArea(sh) {
			t.Fatalf("%+v shows %d pixels, ideal area %.0f", sh, got, outlineArea(sh))
		}
	}
	for _, g := range s.Digits {
		want := 0
		for _, row := range font3x5[rune('0'+g.Digit)] {
			for _, b := range row {
				if b == '#' {
					want += g.Scale * g.Scale
				}
			}
		}
		if got := ink(rect{g.X, g.Y, g.X + glyphW*g.Scale, g.Y + glyphH*g.Scale}, g.Colour.RGBA()); got != want {
			t.Fatalf("glyph %+v: %d pixels, want %d", g, got, want)
		}
	}
}

// TestRenderSizes: other sizes draw the same scene scaled, and a 64 px
// image downsampled by 2 matches the 32 px one on most pixels.
func TestRenderSizes(t *testing.T) {
	for _, f := range Families {
		s, _, _ := Generate(f, 3, 11)
		a, b := Render(s, 32), Render(s, 64)
		same := 0
		for y := range 32 {
			for x := range 32 {
				if a.RGBAAt(x, y) == b.RGBAAt(2*x, 2*y) {
					same++
				}
			}
		}
		if same < 32*32*9/10 {
			t.Errorf("%s: 64 px image matches the 32 px one on %d of 1024 pixels", f, same)
		}
		if c := Render(s, 48); c.Rect.Dx() != 48 {
			t.Errorf("48 px render is %v", c.Rect)
		}
	}
}
