package tasks

import (
	"fmt"
	"image"
	"image/color"
	"math"
)

// Render draws s as a size x size RGBA image on a black background. The
// canonical 32-unit canvas is scaled by size/32; a pixel is inked when its
// centre falls inside a shape, so the same scene and size always give the
// same bytes. Panics if size < 8.
func Render(s *Scene, size int) *image.RGBA {
	if size < 8 {
		panic(fmt.Sprintf("tasks: image size %d is below 8", size))
	}
	img := image.NewRGBA(image.Rect(0, 0, size, size))
	copy(img.Pix, []byte{background.R, background.G, background.B, background.A})
	for n := 4; n < len(img.Pix); n *= 2 {
		copy(img.Pix[n:], img.Pix[:n])
	}
	p := painter{img: img, u: float64(size) / Canvas}
	for _, sh := range s.Shapes {
		p.shape(sh)
	}
	if s.Chart != nil {
		p.chart(s.Chart)
	}
	for _, g := range s.Digits {
		p.text(fmt.Sprint(g.Digit), g.X, g.Y, g.Scale, g.Colour.RGBA())
	}
	return img
}

// painter inks pixels whose centres satisfy a test in canonical units.
type painter struct {
	img *image.RGBA
	u   float64 // pixels per canonical unit
}

// fill inks every pixel of the canonical box [x0,x1) x [y0,y1) whose
// centre passes inside (nil: the whole box).
func (p painter) fill(x0, y0, x1, y1 float64, c color.RGBA, inside func(x, y float64) bool) {
	n := p.img.Rect.Dx()
	px0, px1 := max(int(math.Floor(x0*p.u)), 0), min(int(math.Ceil(x1*p.u)), n)
	py0, py1 := max(int(math.Floor(y0*p.u)), 0), min(int(math.Ceil(y1*p.u)), n)
	for py := py0; py < py1; py++ {
		y := (float64(py) + 0.5) / p.u
		if y < y0 || y >= y1 {
			continue
		}
		for px := px0; px < px1; px++ {
			x := (float64(px) + 0.5) / p.u
			if x < x0 || x >= x1 || (inside != nil && !inside(x, y)) {
				continue
			}
			o := py*p.img.Stride + 4*px
			p.img.Pix[o], p.img.Pix[o+1], p.img.Pix[o+2], p.img.Pix[o+3] = c.R, c.G, c.B, c.A
		}
	}
}

func (p painter) shape(sh Shape) {
	x0, y0, s := float64(sh.X), float64(sh.Y), float64(sh.Size)
	cx, cy, r := x0+s/2, y0+s/2, s/2
	var inside func(x, y float64) bool
	switch sh.Kind {
	case Square:
	case Circle:
		inside = func(x, y float64) bool { return (x-cx)*(x-cx)+(y-cy)*(y-cy) <= r*r+0.25 }
	case Triangle:
		// apex at the top middle, base on the bottom edge; the half pixel of
		// slack keeps the apex visible at 6 units.
		inside = func(x, y float64) bool { return math.Abs(x-cx) <= (y-y0)/s*r+0.5 }
	case Pentagon, Hexagon:
		inside = regularPolygon(sh.Kind.Sides(), cx, cy, r+0.35)
	default:
		panic(fmt.Sprintf("tasks: unknown shape kind %q", sh.Kind))
	}
	p.fill(x0, y0, x0+s, y0+s, sh.Colour.RGBA(), inside)
}

// regularPolygon returns the inside test of a regular n-gon of
// circumradius r centred at (cx, cy): pointing up for odd n, with a flat top
// for even n.
func regularPolygon(n int, cx, cy, r float64) func(x, y float64) bool {
	start := -math.Pi / 2
	if n%2 == 0 {
		start = 0
	}
	vx, vy := make([]float64, n), make([]float64, n)
	for k := range n {
		a := start + 2*math.Pi*float64(k)/float64(n)
		vx[k], vy[k] = cx+r*math.Cos(a), cy+r*math.Sin(a)
	}
	return func(x, y float64) bool {
		for k := range n {
			j := (k + 1) % n
			// the vertices run clockwise on screen (y down): inside is to
			// the right of every edge.
			if (vx[j]-vx[k])*(y-vy[k])-(vy[j]-vy[k])*(x-vx[k]) < 0 {
				return false
			}
		}
		return true
	}
}

// text draws s in the 3x5 font with its top-left corner at (x, y).
func (p painter) text(s string, x, y, scale int, c color.RGBA) {
	for _, ch := range s {
		g, ok := font3x5[ch]
		if !ok {
			panic(fmt.Sprintf("tasks: no glyph for %q", ch))
		}
		for row, line := range g {
			for col, b := range line {
				if b == '#' {
					fx, fy := float64(x+col*scale), float64(y+row*scale)
					p.fill(fx, fy, fx+float64(scale), fy+float64(scale), c, nil)
				}
			}
		}
		x += (glyphW + 1) * scale
	}
}

// Chart layout, canonical units: the axis is the row chartAxis, a value v
// reaches up to row chartAxis-2v (bars span [chartAxis-2v, chartAxis)),
// labels sit below the axis, values above the bars (bar chart) or along
// the top row (line chart: a point of value 9 spans rows 6-8, so the value
// row starts at 0 to keep a blank row between them).
const (
	chartAxis   = 25
	chartLabelY = 26
	chartTopY   = 0
	chartUnit   = 2
)

// chartX returns the centre column of slot i of n.
func chartX(i, n int) int { return 1 + (2*i+1)*30/(2*n) }

// rect is a canonical box [X0,X1) x [Y0,Y1).
type rect struct{ X0, Y0, X1, Y1 int }

// chartLayout returns the boxes of the marks (bars or points), the value
// texts (empty when not shown) and the label texts of c.
func chartLayout(c *ChartSpec) (marks, values, labels []rect) {
	n := len(c.Values)
	for i, v := range c.Values {
		x := chartX(i, n)
		top := chartAxis - chartUnit*v
		if c.Kind == BarChart {
			marks = append(marks, rect{x - 2, top, x + 3, chartAxis})
			if c.ShowValues {
				values = append(values, rect{x - 1, top - glyphH - 1, x + 2, top - 1})
			}
		} else {
			marks = append(marks, rect{x - 1, top - 1, x + 2, top + 2})
			if c.ShowValues {
				values = append(values, rect{x - 1, chartTopY, x + 2, chartTopY + glyphH})
			}
		}
		labels = append(labels, rect{x - 1, chartLabelY, x + 2, chartLabelY + glyphH})
	}
	return marks, values, labels
}

func (p painter) chart(c *ChartSpec) {
	marks, values, labels := chartLayout(c)
	p.fill(1, chartAxis, Canvas-1, chartAxis+1, axisColour, nil)
	col := c.Colour.RGBA()
	if c.Kind == LineChart {
		for i := 1; i < len(marks); i++ {
			a, b := marks[i-1], marks[i]
			ax, ay := float64(a.X0+a.X1)/2, float64(a.Y0+a.Y1)/2
			bx, by := float64(b.X0+b.X1)/2, float64(b.Y0+b.Y1)/2
			p.fill(ax, math.Min(ay, by)-1, bx, math.Max(ay, by)+1, col, func(x, y float64) bool {
				return segmentDist(x, y, ax, ay, bx, by) <= 0.6
			})
		}
	}
	for _, m := range marks {
		p.fill(float64(m.X0), float64(m.Y0), float64(m.X1), float64(m.Y1), col, nil)
	}
	for i, r := range values {
		p.text(fmt.Sprint(c.Values[i]), r.X0, r.Y0, 1, textColour)
	}
	for i, r := range labels {
		p.text(c.Labels[i], r.X0, r.Y0, 1, textColour)
	}
}

// segmentDist is the distance from (x, y) to the segment (ax,ay)-(bx,by).
func segmentDist(x, y, ax, ay, bx, by float64) float64 {
	dx, dy := bx-ax, by-ay
	t := ((x-ax)*dx + (y-ay)*dy) / (dx*dx + dy*dy)
	t = math.Max(0, math.Min(1, t))
	return math.Hypot(x-ax-t*dx, y-ay-t*dy)
}
