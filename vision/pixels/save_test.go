package pixels

import (
	"image"
	"image/color"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSavePNG(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "grid.png")
	src := testImage(5, 4)
	for range 2 { // create, then replace
		if err := SavePNG(p, src); err != nil {
			t.Fatal(err)
		}
	}
	img, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	for y := range 4 {
		for x := range 5 {
			if got, want := color.NRGBAModel.Convert(img.At(x, y)), src.NRGBAAt(x, y); got != want {
				t.Fatalf("(%d,%d) = %v, want %v", x, y, got, want)
			}
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("directory holds %d entries, want only grid.png", len(entries))
	}
}

func TestSavePNGFailureLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	// Missing directory.
	p := filepath.Join(dir, "no", "such", "dir", "x.png")
	err := SavePNG(p, testImage(2, 2))
	if err == nil || !strings.Contains(err.Error(), p) {
		t.Errorf("missing directory: error %v, want one naming %s", err, p)
	}
	// Encoder failure (an empty image) in an existing directory, over an
	// existing file: the old content stays, no temporary file is left.
	p = filepath.Join(dir, "keep.png")
	if err := SavePNG(p, testImage(3, 3)); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(p)
	err = SavePNG(p, image.NewRGBA(image.Rectangle{}))
	if err == nil || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), "encode PNG") {
		t.Errorf("empty image: error %v, want an encode error naming %s", err, p)
	}
	after, _ := os.ReadFile(p)
	if string(before) != string(after) {
		t.Error("failed save changed the existing file")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 || entries[0].Name() != "keep.png" {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("directory holds %v, want only keep.png", names)
	}
}

func TestGrid(t *testing.T) {
	red := fill(image.Rect(0, 0, 3, 2), color.RGBA{255, 0, 0, 255})
	blue := fill(image.Rect(5, 5, 7, 8), color.RGBA{0, 0, 255, 255}) // 2x3, shifted origin
	half := image.NewNRGBA(image.Rect(0, 0, 1, 1))
	half.SetNRGBA(0, 0, color.NRGBA{0, 0, 0, 128})
	g := Grid([]image.Image{red, blue, nil, half}, 2, 1)
	// Cells are 3x3 (largest width and height); 2 columns, 2 rows, pad 1.
	if g.Bounds() != image.Rect(0, 0, 2*3+3, 2*3+3) {
		t.Fatalf("bounds %v", g.Bounds())
	}
	white := color.RGBA{255, 255, 255, 255}
	checks := []struct {
		x, y int
		want color.RGBA
	}{
		{0, 0, white},                          // border
		{1, 1, color.RGBA{255, 0, 0, 255}},     // red top-left
		{3, 2, color.RGBA{255, 0, 0, 255}},     // red bottom-right
		{1, 3, white},                          // below red, inside its cell
		{5, 1, color.RGBA{0, 0, 255, 255}},     // blue top-left
		{6, 3, color.RGBA{0, 0, 255, 255}},     // blue bottom-right
		{2, 6, white},                          // nil cell
		{5, 5, color.RGBA{127, 127, 127, 255}}, // half-transparent black over white
	}
	for _, c := range checks {
		if got := g.RGBAAt(c.x, c.y); got != c.want {
			t.Errorf("(%d,%d) = %v, want %v", c.x, c.y, got, c.want)
		}
	}
	if sq := Grid([]image.Image{red, red, red, red, red}, 0, 0); sq.Bounds().Dx() != 9 || sq.Bounds().Dy() != 4 {
		t.Errorf("auto columns: bounds %v, want 3 columns x 2 rows of 3x2", sq.Bounds())
	}
	if e := Grid(nil, 3, 2); !e.Bounds().Empty() {
		t.Errorf("empty grid has bounds %v", e.Bounds())
	}
	mustPanic(t, "pixels.Grid", func() { Grid([]image.Image{red}, 1, -1) })
}
