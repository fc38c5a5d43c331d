package tasks

import (
	"fmt"
	"math"
	"strings"
)

// Geometry: 2 (level 1), 3 (level 2) or 4 (level 3) shapes of distinct
// colours, one per quadrant of the canvas (16-unit cells, shapes 6-14
// units, so neighbours keep a gap of at least 2 units). Kinds: circle,
// square, triangle; level 2 adds pentagons, level 3 hexagons, which are
// drawn at least 10 units wide so their corners can be counted. "Bigger"
// compares areas and is asked only when the bigger shape is at least 3
// units wider and has at least 30% more area.
//
// Traces: "sizes: red 12, blue 7. <answer>red</answer>";
// "green is a pentagon. <answer>5</answer>".

const (
	geoCell      = 16
	geoSizeGap   = 3
	geoAreaRatio = 1.3
)

var geoKinds = [][]Kind{
	{Circle, Square, Triangle},
	{Circle, Square, Triangle, Pentagon},
	{Circle, Square, Triangle, Pentagon, Hexagon},
}

// area is the shape's area in square units (of the ideal shape).
func area(sh Shape) float64 {
	s := float64(sh.Size)
	r := s / 2
	switch sh.Kind {
	case Square:
		return s * s
	case Circle:
		return math.Pi * r * r
	case Triangle:
		return s * s / 2
	case Pentagon, Hexagon:
		n := float64(sh.Kind.Sides())
		return n / 2 * r * r * math.Sin(2*math.Pi/n)
	}
	return 0
}

// clearlyBigger says whether a is bigger than b with the margin the eye
// needs: at least 3 units wider and at least 30% more area.
func clearlyBigger(a, b Shape) bool {
	return a.Size-b.Size >= geoSizeGap && area(a) >= geoAreaRatio*area(b)
}

func init() {
	perShape := func(name string) func(*Scene) []Query {
		return func(s *Scene) []Query {
			var out []Query
			for _, a := range s.Shapes {
				out = append(out, Query{Template: name, Colour: a.Colour})
			}
			return out
		}
	}
	sizes := func(s *Scene, only ...int) string {
		var parts []string
		for _, i := range byPalette(s) {
			if len(only) == 0 || i == only[0] || i == only[1] {
				parts = append(parts, fmt.Sprintf("%s %d", s.Shapes[i].Colour, s.Shapes[i].Size))
			}
		}
		return "sizes: " + strings.Join(parts, ", ") + "."
	}
	register(
		&template{name: "geo_bigger", family: Geometry,
			text: func(q Query) string {
				return fmt.Sprintf("Which is bigger, the %s %s or the %s %s?", q.Colour, q.Kind, q.Other, q.OtherKind)
			},
			queries: func(s *Scene) []Query {
				var out []Query
				for _, a := range s.Shapes {
					for _, b := range s.Shapes {
						out = append(out, Query{Template: "geo_bigger", Colour: a.Colour, Kind: a.Kind, Other: b.Colour, OtherKind: b.Kind})
					}
				}
				return out
			},
			valid: func(s *Scene, q Query) bool {
				i, j := pairOf(s, q)
				return i >= 0 && j >= 0 && i != j && q.Dir == "" &&
					(clearlyBigger(s.Shapes[i], s.Shapes[j]) || clearlyBigger(s.Shapes[j], s.Shapes[i]))
			},
			answer: func(s *Scene, q Query) string {
				i, j := shapeOf(s, q.Colour), shapeOf(s, q.Other)
				if area(s.Shapes[j]) > area(s.Shapes[i]) {
					return string(q.Other)
				}
				return string(q.Colour)
			},
			reason: func(s *Scene, q Query) string { return sizes(s, shapeOf(s, q.Colour), shapeOf(s, q.Other)) }},
		&template{name: "geo_biggest", family: Geometry,
			text:    func(Query) string { return "What colour is the biggest shape?" },
			queries: func(*Scene) []Query { return []Query{{Template: "geo_biggest"}} },
			valid: func(s *Scene, q Query) bool {
				if q.Colour != "" || len(s.Shapes) < 3 || !distinctColours(s) {
					return false
				}
				b := geoBiggest(s)
				for i := range s.Shapes {
					if i != b && !clearlyBigger(s.Shapes[b], s.Shapes[i]) {
						return false
					}
				}
				return true
			},
			answer: func(s *Scene, _ Query) string { return string(s.Shapes[geoBiggest(s)].Colour) },
			reason: func(s *Scene, _ Query) string { return sizes(s) }},
		&template{name: "geo_sides", family: Geometry,
			text:    func(q Query) string { return fmt.Sprintf("How many sides does the %s shape have?", q.Colour) },
			queries: perShape("geo_sides"),
			valid: func(s *Scene, q Query) bool {
				i := shapeOf(s, q.Colour)
				return i >= 0 && q.Kind == "" && s.Shapes[i].Kind.Sides() > 0
			},
			answer: func(s *Scene, q Query) string { return fmt.Sprint(s.Shapes[shapeOf(s, q.Colour)].Kind.Sides()) },
			reason: func(s *Scene, q Query) string {
				return fmt.Sprintf("%s is a %s.", q.Colour, s.Shapes[shapeOf(s, q.Colour)].Kind)
			}},
		&template{name: "geo_kind", family: Geometry,
			text:    func(q Query) string { return fmt.Sprintf("What shape is the %s one?", q.Colour) },
			queries: perShape("geo_kind"),
			valid:   func(s *Scene, q Query) bool { return shapeOf(s, q.Colour) >= 0 && q.Kind == "" },
			answer:  func(s *Scene, q Query) string { return string(s.Shapes[shapeOf(s, q.Colour)].Kind) },
			reason: func(s *Scene, _ Query) string {
				var parts []string
				for _, i := range byPalette(s) {
					parts = append(parts, fmt.Sprintf("%s %s", s.Shapes[i].Colour, s.Shapes[i].Kind))
				}
				return "shapes: " + strings.Join(parts, ", ") + "."
			}},
	)
}

// geoBiggest returns the index of the largest area, first in palette order
// on ties.
func geoBiggest(s *Scene) int {
	best := -1
	for _, i := range byPalette(s) {
		if best < 0 || area(s.Shapes[i]) > area(s.Shapes[best]) {
			best = i
		}
	}
	return best
}

func geoSize(r *rng, k Kind) int {
	if k == Pentagon || k == Hexagon {
		return r.between(10, 14)
	}
	return r.between(6, 14)
}

func genGeometry(r *rng, level int) (*Scene, Query) {
	n := level + 1
	names := templateOrder[Geometry]
	if n < 3 {
		names = []string{"geo_bigger", "geo_sides", "geo_kind"}
	}
	name := pick(r, names)
	for {
		cols := sample(r, Colours, n)
		cells := r.perm(4)[:n]
		s := &Scene{Family: Geometry, Level: level}
		for i := range n {
			k := pick(r, geoKinds[level-1])
			sz := geoSize(r, k)
			s.Shapes = append(s.Shapes, Shape{Kind: k, Colour: cols[i], Size: sz,
				X: (cells[i]%2)*geoCell + 1 + r.intn(geoCell-1-sz),
				Y: (cells[i]/2)*geoCell + 1 + r.intn(geoCell-1-sz)})
		}
		a, b := s.Shapes[0], s.Shapes[1]
		q := Query{Template: name}
		switch name {
		case "geo_bigger":
			q.Colour, q.Kind, q.Other, q.OtherKind = a.Colour, a.Kind, b.Colour, b.Kind
		case "geo_sides", "geo_kind":
			q.Colour = a.Colour
		}
		if templates[name].valid(s, q) {
			return s, q
		}
	}
}

// perturbGeometry misjudges one shape's kind or size, or swaps the sizes
// of two shapes.
func perturbGeometry(r *rng, s *Scene, _ Query) {
	i, j := r.intn(len(s.Shapes)), r.intn(len(s.Shapes))
	sh := &s.Shapes[i]
	switch r.intn(3) {
	case 0:
		sh.Kind = pick(r, geoKinds[2])
	case 1:
		sh.Size = r.between(6, 14)
	default:
		sh.Size, s.Shapes[j].Size = s.Shapes[j].Size, sh.Size
	}
}
