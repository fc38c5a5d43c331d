package tasks

import (
	"bytes"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"testing"
)

// upscaleGrid lays images out in cols columns at scale x nearest-neighbour
// upscaling with a grey 2 px frame.
func upscaleGrid(imgs []*image.RGBA, cols, scale int) *image.RGBA {
	n := imgs[0].Rect.Dx() * scale
	rows := (len(imgs) + cols - 1) / cols
	pad := 2
	out := image.NewRGBA(image.Rect(0, 0, cols*(n+pad)+pad, rows*(n+pad)+pad))
	for i := range out.Pix {
		out.Pix[i] = 128
	}
	for k, img := range imgs {
		x0, y0 := pad+(k%cols)*(n+pad), pad+(k/cols)*(n+pad)
		for y := range n {
			for x := range n {
				out.Set(x0+x, y0+y, img.At(x/scale, y/scale))
			}
		}
	}
	return out
}

// TestWriteGrid writes a grid of sample images as a PNG, logging their
// questions and answers, and checks that it reads back at the grid's size.
// TASKS_GRID names the PNG to keep, for looking at the data
// (TASKS_GRID=/tmp/tasks-grid.png go test -run WriteGrid -v;
// TASKS_GRID_FAMILY=count shows 18 items of one family); without it the PNG
// goes to a temporary directory.
func TestWriteGrid(t *testing.T) {
	path := os.Getenv("TASKS_GRID")
	if path == "" {
		path = filepath.Join(t.TempDir(), "grid.png")
	}
	st, err := NewStream(DefaultConfig(), Train, 1)
	if err != nil {
		t.Fatal(err)
	}
	var imgs []*image.RGBA
	var k uint64
	fams, per := Families, 2
	if f := os.Getenv("TASKS_GRID_FAMILY"); f != "" {
		fams, per = []Family{Family(f)}, 6
	}
	for _, f := range fams {
		for level := 1; level <= 3; level++ {
			for n := 0; n < per; {
				it := st.Item(k)
				k++
				if it.Family != f || it.Level != level {
					continue
				}
				n++
				t.Logf("%2d %-8s L%d  %s  ->  %s\n     %s", len(imgs), f, level, it.Question, it.Answer, it.Trace)
				imgs = append(imgs, it.Image)
			}
		}
	}
	grid := upscaleGrid(imgs, 6, 4)
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := png.Encode(f, grid); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	back, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := png.DecodeConfig(bytes.NewReader(back))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	n := imgs[0].Rect.Dx()*4 + 2
	if rows := (len(imgs) + 5) / 6; cfg.Width != 6*n+2 || cfg.Height != rows*n+2 {
		t.Errorf("%s is %dx%d, want %dx%d for %d images", path, cfg.Width, cfg.Height, 6*n+2, rows*n+2, len(imgs))
	}
}
