package tasks

import "fmt"

// Counting: shapes on a 4 x 4 grid of 8-unit cells, one shape per cell, 6
// units wide at offset 1 in its cell, so neighbours keep a gap of 2 units
// and the border one unit. With 4 px patches and a 2x2 pixel shuffle each
// cell is exactly one image token at 32 px: counting is reading tokens.
//
//	level 1: 2 colours, 2 kinds, answers 1-3, 0-2 distractors
//	level 2: 3 colours, 3 kinds, answers 0-4, 1-4 distractors
//	level 3: 4 colours, 3 kinds, answers 0-5, 2-6 distractors
//
// Trace: "<what> per row: 0 1 2 0, total 3. <answer>3</answer>" (rows top
// to bottom); under Config.CountRoutes half the scenes go "per column"
// (left to right) instead.

const (
	countCell  = 8
	countSide  = 4
	countShape = 6
)

var countKinds = []Kind{Circle, Square, Triangle}

func init() {
	register(
		&template{name: "count_colour", family: Count,
			text:    func(q Query) string { return fmt.Sprintf("How many %s shapes are there?", q.Colour) },
			queries: func(*Scene) []Query { return countQueries("count_colour", Colours, []Kind{""}) },
			valid:   func(_ *Scene, q Query) bool { return isColour(q.Colour) && q.Kind == "" },
			answer:  countAnswer, reason: countReason},
		&template{name: "count_kind", family: Count,
			text:    func(q Query) string { return fmt.Sprintf("How many %s are there?", q.Kind.plural()) },
			queries: func(*Scene) []Query { return countQueries("count_kind", []Colour{""}, countKinds) },
			valid:   func(_ *Scene, q Query) bool { return q.Colour == "" && isCountKind(q.Kind) },
			answer:  countAnswer, reason: countReason},
		&template{name: "count_both", family: Count,
			text:    func(q Query) string { return fmt.Sprintf("How many %s %s are there?", q.Colour, q.Kind.plural()) },
			queries: func(*Scene) []Query { return countQueries("count_both", Colours, countKinds) },
			valid:   func(_ *Scene, q Query) bool { return isColour(q.Colour) && isCountKind(q.Kind) },
			answer:  countAnswer, reason: countReason},
		&template{name: "count_all", family: Count,
			text:    func(Query) string { return "How many shapes are there?" },
			queries: func(*Scene) []Query { return []Query{{Template: "count_all"}} },
			valid:   func(_ *Scene, q Query) bool { return q.Colour == "" && q.Kind == "" },
			answer:  countAnswer, reason: countReason},
	)
}

func countQueries(name string, cs []Colour, ks []Kind) []Query {
	var out []Query
	for _, c := range cs {
		for _, k := range ks {
			out = append(out, Query{Template: name, Colour: c, Kind: k})
		}
	}
	return out
}

func isColour(c Colour) bool {
	for _, x := range Colours {
		if c == x {
			return true
		}
	}
	return false
}

func isCountKind(k Kind) bool {
	for _, x := range countKinds {
		if k == x {
			return true
		}
	}
	return false
}

// countMatch says whether sh is one of the shapes q counts (an empty
// colour or kind matches any).
func countMatch(q Query, sh Shape) bool {
	return (q.Colour == "" || sh.Colour == q.Colour) && (q.Kind == "" || sh.Kind == q.Kind)
}

// countLines returns how many shapes q counts in each grid row, or in each
// column when byColumn.
func countLines(s *Scene, q Query, byColumn bool) []int {
	lines := make([]int, countSide)
	for _, sh := range s.Shapes {
		if countMatch(q, sh) {
			c := sh.Y
			if byColumn {
				c = sh.X
			}
			lines[min(max(c/countCell, 0), countSide-1)]++
		}
	}
	return lines
}

// countByColumns picks the column route for a scene (by its key) under
// Config.CountRoutes: a bit of the key, so the route looks random to the
// model and is the same in every conversation about that scene.
func countByColumns(key uint64) bool { return key>>63 == 1 }

func countAnswer(s *Scene, q Query) string {
	n := 0
	for _, r := range countLines(s, q, false) {
		n += r
	}
	return fmt.Sprint(n)
}

func countReason(s *Scene, q Query) string { return countRouteReason(s, q, false) }

// countRouteReason is "<what> per row: 0 1 2 0, total 3." (rows top to
// bottom) or, on the column route, "<what> per column: ..." (left to right).
func countRouteReason(s *Scene, q Query, byColumn bool) string {
	line := "row"
	if byColumn {
		line = "column"
	}
	return fmt.Sprintf("%s per %s: %s, total %s.", countWhat(q), line, joinInts(countLines(s, q, byColumn), " "), countAnswer(s, q))
}

// countWhat names what q counts: "red circles", "red shapes", "circles", "shapes".
func countWhat(q Query) string {
	switch {
	case q.Colour != "" && q.Kind != "":
		return string(q.Colour) + " " + q.Kind.plural()
	case q.Colour != "":
		return string(q.Colour) + " shapes"
	case q.Kind != "":
		return q.Kind.plural()
	}
	return "shapes"
}

// genCount draws a template, an answer uniformly from the level's range,
// and a scene with exactly that many matching shapes plus distractors that
// do not match.
func genCount(r *rng, level int) (*Scene, Query) {
	nc, nk := []int{2, 3, 4}[level-1], []int{2, 3, 3}[level-1]
	cols, kinds := sample(r, Colours, nc), sample(r, countKinds, nk)
	lo, hi := []int{1, 0, 0}[level-1], []int{3, 4, 5}[level-1]
	dlo, dhi := []int{0, 1, 2}[level-1], []int{2, 4, 6}[level-1]
	q := Query{Template: pick(r, templateOrder[Count])}
	switch q.Template {
	case "count_colour":
		q.Colour = pick(r, cols)
	case "count_kind":
		q.Kind = pick(r, kinds)
	case "count_both":
		q.Colour, q.Kind = pick(r, cols), pick(r, kinds)
	case "count_all":
		lo, hi = []int{1, 2, 4}[level-1], []int{4, 6, 8}[level-1]
		dlo, dhi = 0, 0
	}
	n, d := r.between(lo, hi), r.between(dlo, dhi)
	cells := r.perm(countSide * countSide)[:n+d]
	s := &Scene{Family: Count, Level: level}
	for i, cell := range cells {
		var sh Shape
		for {
			sh = Shape{Kind: pick(r, kinds), Colour: pick(r, cols)}
			if (i < n) == countMatch(q, sh) {
				break
			}
		}
		sh.Size = countShape
		sh.X = (cell%countSide)*countCell + 1
		sh.Y = (cell/countSide)*countCell + 1
		s.Shapes = append(s.Shapes, sh)
	}
	return s, q
}

// perturbCount adds or removes one counted shape: a miscount by one.
func perturbCount(r *rng, s *Scene, q Query) {
	var match []int
	used := map[int]bool{}
	for i, sh := range s.Shapes {
		used[(sh.Y/countCell)*countSide+sh.X/countCell] = true
		if countMatch(q, sh) {
			match = append(match, i)
		}
	}
	if len(match) > 0 && r.intn(2) == 0 {
		i := pick(r, match)
		s.Shapes = append(s.Shapes[:i], s.Shapes[i+1:]...)
		return
	}
	for _, cell := range r.perm(countSide * countSide) {
		if used[cell] {
			continue
		}
		sh := Shape{Kind: q.Kind, Colour: q.Colour, Size: countShape,
			X: (cell%countSide)*countCell + 1, Y: (cell/countSide)*countCell + 1}
		if sh.Kind == "" {
			sh.Kind = pick(r, countKinds)
		}
		if sh.Colour == "" {
			sh.Colour = pick(r, Colours)
		}
		s.Shapes = append(s.Shapes, sh)
		return
	}
}
