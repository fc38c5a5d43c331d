// Package plots writes the training curves and histograms that kiln's
// commands produce, as PNG files (gonum.org/v1/plot), atomically.
package plots

import (
	"fmt"
	"image/color"
	"io"

	"github.com/kiln-ml/kiln/internal/atomicfile"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// Series is one named curve.
type Series struct {
	Name string
	X, Y []float64
}

// Panel is one chart of a figure.
type Panel struct {
	Title, XLabel, YLabel string
	Series                []Series
}

var palette = []color.Color{
	color.RGBA{31, 119, 180, 255}, color.RGBA{255, 127, 14, 255}, color.RGBA{44, 160, 44, 255},
	color.RGBA{214, 39, 40, 255}, color.RGBA{148, 103, 189, 255}, color.RGBA{140, 86, 75, 255},
}

// Lines writes panels side by side into one PNG at path.
func Lines(path string, panels ...Panel) error {
	if len(panels) == 0 {
		return fmt.Errorf("plots: %s: no panels", path)
	}
	plots := make([][]*plot.Plot, 1)
	for _, pn := range panels {
		p := plot.New()
		p.Title.Text, p.X.Label.Text, p.Y.Label.Text = pn.Title, pn.XLabel, pn.YLabel
		p.Add(plotter.NewGrid())
		for i, s := range pn.Series {
			if len(s.X) != len(s.Y) {
				return fmt.Errorf("plots: %s: series %q has %d x and %d y values", path, s.Name, len(s.X), len(s.Y))
			}
			if len(s.X) == 0 {
				continue
			}
			xy := make(plotter.XYs, len(s.X))
			for j := range s.X {
				xy[j].X, xy[j].Y = s.X[j], s.Y[j]
			}
			l, err := plotter.NewLine(xy)
			if err != nil {
				return fmt.Errorf("plots: %s: series %q: %w", path, s.Name, err)
			}
			l.Color = palette[i%len(palette)]
			l.Width = vg.Points(1.5)
			p.Add(l)
			p.Legend.Add(s.Name, l)
		}
		p.Legend.Top = true
		plots[0] = append(plots[0], p)
	}
	return save(path, plots, vg.Length(len(panels))*4*vg.Inch, 3.2*vg.Inch)
}

// Heatmap draws rows of histograms over time (e.g. the answer-entropy
// distribution per training interval) as stacked bars: one column per time
// step, one colour per bin.
func Heatmap(path, title, xlabel string, binNames []string, steps []float64, shares [][]float64) error {
	p := plot.New()
	p.Title.Text, p.X.Label.Text, p.Y.Label.Text = title, xlabel, "share"
	if len(steps) == 0 {
		return fmt.Errorf("plots: %s: no data", path)
	}
	w := vg.Points(max(2, 300/float64(len(steps))))
	var prev *plotter.BarChart
	for b := range binNames {
		vals := make(plotter.Values, len(steps))
		for i := range steps {
			if b < len(shares[i]) {
				vals[i] = shares[i][b]
			}
		}
		bc, err := plotter.NewBarChart(vals, w)
		if err != nil {
			return fmt.Errorf("plots: %s: %w", path, err)
		}
		bc.Color = palette[b%len(palette)]
		bc.LineStyle.Width = 0
		if prev != nil {
			bc.StackOn(prev)
		}
		p.Add(bc)
		p.Legend.Add(binNames[b], bc)
		prev = bc
	}
	p.Legend.Top = true
	return save(path, [][]*plot.Plot{{p}}, 6*vg.Inch, 3.2*vg.Inch)
}

func save(path string, plots [][]*plot.Plot, w, h vg.Length) error {
	img := vgimg.New(w, h)
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: len(plots), Cols: len(plots[0]), PadX: vg.Millimeter * 4, PadY: vg.Millimeter * 2, PadTop: vg.Millimeter * 2, PadBottom: vg.Millimeter * 2, PadLeft: vg.Millimeter * 2, PadRight: vg.Millimeter * 2}
	canvases := plot.Align(plots, tiles, dc)
	for i := range plots {
		for j := range plots[i] {
			plots[i][j].Draw(canvases[i][j])
		}
	}
	return atomicfile.WriteFile(path, func(wr io.Writer) error {
		_, err := vgimg.PngCanvas{Canvas: img}.WriteTo(wr)
		return err
	})
}

// Smooth is a trailing moving average over w points (the first points
// average what there is), for noisy per-step curves.
func Smooth(y []float64, w int) []float64 {
	out := make([]float64, len(y))
	var s float64
	for i, v := range y {
		s += v
		if i >= w {
			s -= y[i-w]
		}
		out[i] = s / float64(min(i+1, w))
	}
	return out
}
