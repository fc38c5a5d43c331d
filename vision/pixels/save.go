package pixels

import (
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"math"

	"golang.org/x/image/draw"

	"github.com/kiln-ml/kiln/internal/atomicfile"
	"github.com/kiln-ml/kiln/tensor"
)

// SavePNG writes img to path as a PNG atomically: the file is written to a
// temporary file in the same directory, synced and renamed over path, so
// path holds either its old content or the whole new image, and a failure
// leaves no temporary file behind. Errors name the file.
func SavePNG(path string, img image.Image) error {
	var encErr error
	err := atomicfile.WriteFile(path, func(w io.Writer) error {
		encErr = png.Encode(w, img)
		return encErr
	})
	if encErr != nil {
		return fmt.Errorf("pixels: save %s: encode PNG: %w", path, encErr)
	}
	if err != nil {
		return fmt.Errorf("pixels: save PNG: %w", err) // atomicfile names the file
	}
	return nil
}

// Grid lays imgs out in rows of cols cells on an opaque white canvas, with
// pad pixels of white between cells and around the border. Every cell has
// the size of the largest image; smaller images sit at its top left, and a
// nil image leaves its cell blank. Images are drawn over the white, so
// transparency looks as ToTensor sees it. cols <= 0 picks ceil(sqrt(n))
// columns, a near-square grid. With no images Grid returns an empty image.
// Panics if pad < 0.
func Grid(imgs []image.Image, cols, pad int) *image.RGBA {
	if pad < 0 {
		panic(&tensor.OpError{Op: "pixels.Grid", Msg: fmt.Sprintf("negative padding %d", pad)})
	}
	if len(imgs) == 0 {
		return image.NewRGBA(image.Rectangle{})
	}
	if cols <= 0 {
		cols = int(math.Ceil(math.Sqrt(float64(len(imgs)))))
	}
	cols = min(cols, len(imgs))
	rows := (len(imgs) + cols - 1) / cols
	var cw, ch int
	for _, img := range imgs {
		if img != nil {
			cw, ch = max(cw, img.Bounds().Dx()), max(ch, img.Bounds().Dy())
		}
	}
	out := image.NewRGBA(image.Rect(0, 0, cols*cw+(cols+1)*pad, rows*ch+(rows+1)*pad))
	draw.Draw(out, out.Bounds(), image.NewUniform(color.White), image.Point{}, draw.Src)
	for k, img := range imgs {
		if img == nil {
			continue
		}
		x0 := pad + (k%cols)*(cw+pad)
		y0 := pad + (k/cols)*(ch+pad)
		b := img.Bounds()
		draw.Draw(out, image.Rect(x0, y0, x0+b.Dx(), y0+b.Dy()), img, b.Min, draw.Over)
	}
	return out
}
