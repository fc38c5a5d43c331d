package tasks

import (
	"fmt"
	"image"
	"image/png"
	"os"
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

// TestWriteGrid writes a grid of sample images, with their questions and
// answers on stdout, when TASKS_GRID names the PNG to write (for looking
// at the data: TASKS_GRID=/tmp/tasks-grid.png go test -run WriteGrid -v;
// TASKS_GRID_FAMILY=count shows 18 items of one family).
func TestWriteGrid(t *testing.T) {
	path := os.Getenv("TASKS_GRID")
	if path == "" {
		t.Skip("skipped when TASKS_GRID is unset: set it to a PNG path to write a sample grid")
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
				fmt.Printf("%2d %-8s L%d  %s  ->  %s\n     %s\n", len(imgs), f, level, it.Question, it.Answer, it.Trace)
				imgs = append(imgs, it.Image)
			}
		}
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := png.Encode(f, upscaleGrid(imgs, 6, 4)); err != nil {
		t.Fatal(err)
	}
}
