package train

import (
	"image"
	"image/color"
	"image/draw"
	"strings"

	"github.com/kiln-ml/kiln/vision/pixels"
	"github.com/kiln-ml/kiln/vision/tasks"
	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"
)

// WriteGrid saves a PNG of items: each cell shows the image (scaled 4x), the
// question, the model's answer (marked [ok] or [x]) and the truth.
func WriteGrid(path string, items []Item, outputs []string, cols int) error {
	const scale, cellW, cellH, textX = 4, 380, 140, 140
	n := len(items)
	if cols < 1 {
		cols = 4
	}
	rows := (n + cols - 1) / cols
	canvas := image.NewRGBA(image.Rect(0, 0, cols*cellW, rows*cellH))
	draw.Draw(canvas, canvas.Bounds(), image.NewUniform(color.White), image.Point{}, draw.Src)
	face := basicfont.Face7x13
	for i, it := range items {
		x0, y0 := (i%cols)*cellW, (i/cols)*cellH
		size := it.Image.Bounds().Dx() * scale
		big := pixels.Resize(it.Image, size, size, pixels.NearestNeighbor)
		draw.Draw(canvas, image.Rect(x0+4, y0+6, x0+4+size, y0+6+size), big, big.Bounds().Min, draw.Src)
		answer := tasks.ExtractAnswer(outputs[i])
		mark, col := "[x]", color.RGBA{200, 30, 30, 255}
		if tasks.Normalize(answer) == tasks.Normalize(it.Answer) {
			mark, col = "[ok]", color.RGBA{20, 140, 40, 255}
		}
		lines := wrap(it.Task.Question, 33)
		y := y0 + 18
		for _, l := range lines {
			text(canvas, face, x0+textX, y, l, color.Black)
			y += 14
		}
		y += 4
		text(canvas, face, x0+textX, y, "model: "+clip(answer, 26)+" "+mark, col)
		text(canvas, face, x0+textX, y+14, "truth: "+it.Answer, color.RGBA{60, 60, 60, 255})
		text(canvas, face, x0+textX, y+28, "("+it.Family+")", color.RGBA{120, 120, 120, 255})
	}
	return pixels.SavePNG(path, canvas)
}

func text(dst draw.Image, face font.Face, x, y int, s string, c color.Color) {
	d := font.Drawer{Dst: dst, Src: image.NewUniform(c), Face: face, Dot: fixed.P(x, y)}
	d.DrawString(s)
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n-3] + "..."
	}
	return s
}

func wrap(s string, width int) []string {
	var lines []string
	cur := ""
	for _, w := range strings.Fields(s) {
		if cur != "" && len(cur)+1+len(w) > width {
			lines = append(lines, cur)
			cur = w
		} else if cur == "" {
			cur = w
		} else {
			cur += " " + w
		}
	}
	if cur != "" {
		lines = append(lines, cur)
	}
	return lines
}
