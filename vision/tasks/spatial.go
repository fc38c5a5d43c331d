package tasks

import (
	"fmt"
	"math"
	"strings"
)

// Spatial relations: 2 (level 1), 3 (level 2) or 4 (level 3) shapes of
// distinct colours (circle, square or triangle, 6-8 units) at random
// non-overlapping places with a gap of at least 2 units. A question is
// only asked when its answer is clear to the eye: shapes compared left and
// right (or above and below) have centres at least 4 units apart on that
// axis; an extreme shape, and a nearest one, beats the runner-up by at
// least 3 units.
//
// Coordinates in traces are shape centres in canonical units (0-31, y down).
// Traces: "red x=5 blue x=20, 5<20. <answer>left</answer>";
// "x: red 5, green 12, blue 20. <answer>red</answer>";
// "from red: green 9, blue 15. <answer>green</answer>".

const (
	spatialAxisGap    = 4
	spatialExtremeGap = 3
	spatialGap        = 2
)

var extremeDirs = []string{"left", "right", "top", "bottom"}

func init() {
	pairQueries := func(name string) func(*Scene) []Query {
		return func(s *Scene) []Query {
			var out []Query
			for _, a := range s.Shapes {
				for _, b := range s.Shapes {
					out = append(out, Query{Template: name, Colour: a.Colour, Kind: a.Kind, Other: b.Colour, OtherKind: b.Kind})
				}
			}
			return out
		}
	}
	axisValid := func(axis int) func(*Scene, Query) bool {
		return func(s *Scene, q Query) bool {
			i, j := pairOf(s, q)
			if i < 0 || j < 0 || i == j || q.Dir != "" {
				return false
			}
			d := centreOn(s.Shapes[i], axis) - centreOn(s.Shapes[j], axis)
			return d >= 2*spatialAxisGap || -d >= 2*spatialAxisGap
		}
	}
	register(
		&template{name: "spatial_lr", family: Spatial,
			text: func(q Query) string {
				return fmt.Sprintf("Is the %s %s left or right of the %s %s?", q.Colour, q.Kind, q.Other, q.OtherKind)
			},
			queries: pairQueries("spatial_lr"), valid: axisValid(0),
			answer: func(s *Scene, q Query) string { return axisAnswer(s, q, 0) },
			reason: func(s *Scene, q Query) string { return axisReason(s, q, 0) }},
		&template{name: "spatial_ab", family: Spatial,
			text: func(q Query) string {
				return fmt.Sprintf("Is the %s %s above or below the %s %s?", q.Colour, q.Kind, q.Other, q.OtherKind)
			},
			queries: pairQueries("spatial_ab"), valid: axisValid(1),
			answer: func(s *Scene, q Query) string { return axisAnswer(s, q, 1) },
			reason: func(s *Scene, q Query) string { return axisReason(s, q, 1) }},
		&template{name: "spatial_extreme", family: Spatial,
			text: func(q Query) string { return fmt.Sprintf("What colour is the %smost shape?", q.Dir) },
			queries: func(*Scene) []Query {
				var out []Query
				for _, d := range extremeDirs {
					out = append(out, Query{Template: "spatial_extreme", Dir: d})
				}
				return out
			},
			valid: func(s *Scene, q Query) bool {
				if q.Colour != "" || !distinctColours(s) {
					return false
				}
				axis, sign := dirAxis(q.Dir)
				if axis < 0 {
					return false
				}
				best, second := math.MinInt, math.MinInt
				for _, sh := range s.Shapes {
					v := sign * centreOn(sh, axis)
					if v > best {
						best, second = v, best
					} else if v > second {
						second = v
					}
				}
				return len(s.Shapes) >= 2 && best-second >= 2*spatialExtremeGap
			},
			answer: func(s *Scene, q Query) string {
				axis, sign := dirAxis(q.Dir)
				best := -1
				for _, i := range byPalette(s) {
					if best < 0 || sign*centreOn(s.Shapes[i], axis) > sign*centreOn(s.Shapes[best], axis) {
						best = i
					}
				}
				return string(s.Shapes[best].Colour)
			},
			reason: func(s *Scene, q Query) string {
				axis, _ := dirAxis(q.Dir)
				var parts []string
				for _, i := range byPalette(s) {
					parts = append(parts, fmt.Sprintf("%s %d", s.Shapes[i].Colour, centreOn(s.Shapes[i], axis)/2))
				}
				return fmt.Sprintf("%s: %s.", []string{"x", "y"}[axis], strings.Join(parts, ", "))
			}},
		&template{name: "spatial_nearest", family: Spatial,
			text: func(q Query) string {
				return fmt.Sprintf("What colour is the shape nearest to the %s %s?", q.Colour, q.Kind)
			},
			queries: func(s *Scene) []Query {
				var out []Query
				for _, a := range s.Shapes {
					out = append(out, Query{Template: "spatial_nearest", Colour: a.Colour, Kind: a.Kind})
				}
				return out
			},
			valid: func(s *Scene, q Query) bool {
				i := shapeOf(s, q.Colour)
				if i < 0 || s.Shapes[i].Kind != q.Kind || !distinctColours(s) || len(s.Shapes) < 3 || q.Other != "" {
					return false
				}
				best, second := math.Inf(1), math.Inf(1)
				for j := range s.Shapes {
					if j == i {
						continue
					}
					d := dist(s.Shapes[i], s.Shapes[j])
					if d < best {
						best, second = d, best
					} else if d < second {
						second = d
					}
				}
				return second-best >= spatialExtremeGap
			},
			answer: func(s *Scene, q Query) string {
				i := shapeOf(s, q.Colour)
				best := -1
				for _, j := range byPalette(s) {
					if j != i && (best < 0 || dist(s.Shapes[i], s.Shapes[j]) < dist(s.Shapes[i], s.Shapes[best])) {
						best = j
					}
				}
				return string(s.Shapes[best].Colour)
			},
			reason: func(s *Scene, q Query) string {
				i := shapeOf(s, q.Colour)
				var parts []string
				for _, j := range byPalette(s) {
					if j != i {
						parts = append(parts, fmt.Sprintf("%s %d", s.Shapes[j].Colour, int(math.Round(dist(s.Shapes[i], s.Shapes[j])))))
					}
				}
				return fmt.Sprintf("from %s: %s.", q.Colour, strings.Join(parts, ", "))
			}},
	)
}

// pairOf returns the indices of the two shapes a pair query names, -1
// where a colour does not name exactly one shape of the named kind.
func pairOf(s *Scene, q Query) (int, int) {
	i, j := shapeOf(s, q.Colour), shapeOf(s, q.Other)
	if i >= 0 && s.Shapes[i].Kind != q.Kind {
		i = -1
	}
	if j >= 0 && s.Shapes[j].Kind != q.OtherKind {
		j = -1
	}
	return i, j
}

// centreOn is the shape's centre on axis 0 (x) or 1 (y), doubled.
func centreOn(sh Shape, axis int) int {
	x, y := sh.centre2()
	if axis == 0 {
		return x
	}
	return y
}

// dirAxis maps an extreme direction to its axis and the sign that makes
// "more extreme" larger.
func dirAxis(dir string) (axis, sign int) {
	switch dir {
	case "left":
		return 0, -1
	case "right":
		return 0, 1
	case "top":
		return 1, -1
	case "bottom":
		return 1, 1
	}
	return -1, 0
}

func dist(a, b Shape) float64 {
	ax, ay := a.centre2()
	bx, by := b.centre2()
	return math.Hypot(float64(ax-bx), float64(ay-by)) / 2
}

func distinctColours(s *Scene) bool {
	seen := map[Colour]bool{}
	for _, sh := range s.Shapes {
		if seen[sh.Colour] {
			return false
		}
		seen[sh.Colour] = true
	}
	return true
}

func axisAnswer(s *Scene, q Query, axis int) string {
	i, j := pairOf(s, q)
	if i < 0 || j < 0 {
		i, j = shapeOf(s, q.Colour), shapeOf(s, q.Other)
	}
	words := [2][2]string{{"left", "right"}, {"above", "below"}}
	if centreOn(s.Shapes[i], axis) < centreOn(s.Shapes[j], axis) {
		return words[axis][0]
	}
	return words[axis][1]
}

func axisReason(s *Scene, q Query, axis int) string {
	i, j := shapeOf(s, q.Colour), shapeOf(s, q.Other)
	a, b := centreOn(s.Shapes[i], axis)/2, centreOn(s.Shapes[j], axis)/2
	op := "<"
	if centreOn(s.Shapes[i], axis) >= centreOn(s.Shapes[j], axis) {
		op = ">"
	}
	name := []string{"x", "y"}[axis]
	return fmt.Sprintf("%s %s=%d %s %s=%d, %d%s%d.", q.Colour, name, a, q.Other, name, b, a, op, b)
}

// placeShapes puts shapes of the given sizes at random places inside the
// canvas with a gap of at least gap units between bounding boxes, or
// reports false after too many tries.
func placeShapes(r *rng, sizes []int, gap int) ([][2]int, bool) {
	for range 50 {
		pos := make([][2]int, 0, len(sizes))
		ok := true
		for _, sz := range sizes {
			placed := false
			for range 50 {
				x, y := r.between(1, Canvas-1-sz), r.between(1, Canvas-1-sz)
				clear := true
				for k, p := range pos {
					s2 := sizes[k]
					if x < p[0]+s2+gap && p[0] < x+sz+gap && y < p[1]+s2+gap && p[1] < y+sz+gap {
						clear = false
						break
					}
				}
				if clear {
					pos = append(pos, [2]int{x, y})
					placed = true
					break
				}
			}
			if !placed {
				ok = false
				break
			}
		}
		if ok {
			return pos, true
		}
	}
	return nil, false
}

func genSpatial(r *rng, level int) (*Scene, Query) {
	n := level + 1
	names := templateOrder[Spatial]
	if n < 3 {
		names = names[:3]
	}
	name := pick(r, names)
	for {
		cols := sample(r, Colours, n)
		sizes := make([]int, n)
		for i := range sizes {
			sizes[i] = r.between(6, 8)
		}
		pos, ok := placeShapes(r, sizes, spatialGap)
		if !ok {
			continue
		}
		s := &Scene{Family: Spatial, Level: level}
		for i := range n {
			s.Shapes = append(s.Shapes, Shape{Kind: pick(r, countKinds), Colour: cols[i], X: pos[i][0], Y: pos[i][1], Size: sizes[i]})
		}
		a, b := s.Shapes[0], s.Shapes[1]
		q := Query{Template: name}
		switch name {
		case "spatial_lr", "spatial_ab":
			q.Colour, q.Kind, q.Other, q.OtherKind = a.Colour, a.Kind, b.Colour, b.Kind
		case "spatial_extreme":
			q.Dir = pick(r, extremeDirs)
		case "spatial_nearest":
			q.Colour, q.Kind = a.Colour, a.Kind
		}
		if templates[name].valid(s, q) {
			return s, q
		}
	}
}

// perturbSpatial swaps the places of two shapes (which is which
// confused), or moves one shape to a random place.
func perturbSpatial(r *rng, s *Scene, _ Query) {
	i, j := r.intn(len(s.Shapes)), r.intn(len(s.Shapes))
	a, b := &s.Shapes[i], &s.Shapes[j]
	if r.intn(2) == 0 {
		a.X, a.Y, b.X, b.Y = b.X, b.Y, a.X, a.Y
		return
	}
	a.X, a.Y = r.between(1, Canvas-1-a.Size), r.between(1, Canvas-1-a.Size)
}
