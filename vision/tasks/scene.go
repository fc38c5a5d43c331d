package tasks

import (
	"image/color"
	"slices"
)

// Canvas is the side of the canonical canvas: scene coordinates are in
// units of a Canvas x Canvas image, whatever size Render draws at.
const Canvas = 32

// Family names a task family.
type Family string

// The task families.
const (
	Count    Family = "count"
	Chart    Family = "chart"
	Digits   Family = "digits"
	Spatial  Family = "spatial"
	Geometry Family = "geometry"
)

// Families lists every family in a fixed order.
var Families = []Family{Count, Chart, Digits, Spatial, Geometry}

// Colour is a named drawing colour; its string is the answer word.
type Colour string

// The colours shapes, bars and digits take.
const (
	Red    Colour = "red"
	Green  Colour = "green"
	Blue   Colour = "blue"
	Yellow Colour = "yellow"
)

// Colours lists the palette in a fixed order.
var Colours = []Colour{Red, Green, Blue, Yellow}

// RGBA is the colour's pixel value: saturated and bright, for contrast
// with the black background.
func (c Colour) RGBA() color.RGBA {
	switch c {
	case Red:
		return color.RGBA{235, 40, 40, 255}
	case Green:
		return color.RGBA{40, 205, 60, 255}
	case Blue:
		return color.RGBA{70, 120, 255, 255}
	case Yellow:
		return color.RGBA{250, 225, 30, 255}
	}
	return textColour
}

var (
	background = color.RGBA{0, 0, 0, 255}
	textColour = color.RGBA{245, 245, 245, 255}
	axisColour = color.RGBA{140, 140, 140, 255}
)

// Kind is a shape kind; its string is the answer word.
type Kind string

// The shape kinds.
const (
	Circle   Kind = "circle"
	Square   Kind = "square"
	Triangle Kind = "triangle"
	Pentagon Kind = "pentagon"
	Hexagon  Kind = "hexagon"
)

// Sides is the number of sides of a polygon kind, 0 for a circle.
func (k Kind) Sides() int {
	switch k {
	case Triangle:
		return 3
	case Square:
		return 4
	case Pentagon:
		return 5
	case Hexagon:
		return 6
	}
	return 0
}

// plural is the kind's plural noun ("circles").
func (k Kind) plural() string { return string(k) + "s" }

// ChartKind says how a chart is drawn.
type ChartKind string

// The chart kinds.
const (
	BarChart  ChartKind = "bar"
	LineChart ChartKind = "line"
)

// Scene is the plain description of one image. Exactly one of Shapes
// (count, spatial, geometry), Chart or Digits is set, by Family.
type Scene struct {
	Family Family
	Level  int // 1 (easiest) to 3; not drawn
	Shapes []Shape
	Chart  *ChartSpec
	Digits []Glyph
}

// Shape is one filled shape inside the square bounding box with top-left
// corner (X, Y) and side Size, in canonical units. A square fills the box,
// a circle is inscribed in it, a triangle has its apex at the top middle
// and its base on the bottom edge, and a pentagon (point up) or hexagon
// (flat top) is regular and inscribed in the box's circle.
type Shape struct {
	Kind   Kind
	Colour Colour
	X, Y   int
	Size   int
}

// centre2 is the shape's centre in doubled canonical units (exact integers).
func (s Shape) centre2() (int, int) { return 2*s.X + s.Size, 2*s.Y + s.Size }

// ChartSpec is a bar or line chart: Values[i] (1..9) belongs to Labels[i],
// drawn left to right. ShowValues prints each value (above its bar, or in a
// row along the top of a line chart).
type ChartSpec struct {
	Kind       ChartKind
	Colour     Colour
	Labels     []string
	Values     []int
	ShowValues bool
}

// value returns the value of label l and whether l is in the chart.
func (c *ChartSpec) value(l string) (int, bool) {
	for i, x := range c.Labels {
		if x == l {
			return c.Values[i], true
		}
	}
	return 0, false
}

// Glyph is one digit drawn with its top-left corner at (X, Y), each font
// pixel Scale canonical units wide.
type Glyph struct {
	Digit  int
	Colour Colour
	X, Y   int
	Scale  int
}

// Key is a 64-bit hash of everything Render draws (not Level). Shapes and
// glyphs never overlap, so their order does not change the image and is not
// hashed either: two scenes with different keys differ in some drawn
// element. The key decides the split a scene belongs to.
func (s *Scene) Key() uint64 {
	parts := make([]uint64, 0, len(s.Shapes)+len(s.Digits))
	for _, sh := range s.Shapes {
		parts = append(parts, hashKey(1, strHash(string(sh.Kind)), strHash(string(sh.Colour)),
			uint64(sh.X), uint64(sh.Y), uint64(sh.Size)))
	}
	for _, g := range s.Digits {
		parts = append(parts, hashKey(2, uint64(g.Digit), strHash(string(g.Colour)),
			uint64(g.X), uint64(g.Y), uint64(g.Scale)))
	}
	slices.Sort(parts)
	parts = append(parts, strHash(string(s.Family)), uint64(len(parts)))
	if c := s.Chart; c != nil {
		parts = append(parts, 3, strHash(string(c.Kind)), strHash(string(c.Colour)), uint64(len(c.Labels)))
		for i := range c.Labels {
			parts = append(parts, strHash(c.Labels[i]), uint64(c.Values[i]))
		}
		if c.ShowValues {
			parts = append(parts, 1)
		}
	}
	return hashKey(parts...)
}

// strHash is FNV-1a of s.
func strHash(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h = (h ^ uint64(s[i])) * 1099511628211
	}
	return h
}

// clone returns a deep copy of s.
func (s *Scene) clone() *Scene {
	c := *s
	c.Shapes = append([]Shape(nil), s.Shapes...)
	c.Digits = append([]Glyph(nil), s.Digits...)
	if s.Chart != nil {
		ch := *s.Chart
		ch.Labels = append([]string(nil), s.Chart.Labels...)
		ch.Values = append([]int(nil), s.Chart.Values...)
		c.Chart = &ch
	}
	return &c
}
