package tasks

import (
	"fmt"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// This file is the independent solver: it parses the question TEXT (not
// the Query) with regular expressions and answers from the scene with its
// own geometry (float centres, shoelace areas of the drawn outlines).

var (
	reCount   = regexp.MustCompile(`^How many (?:(red|green|blue|yellow) )?(circle|square|triangle|shape)s are there\?$`)
	reValue   = regexp.MustCompile(`^What is the value of ([A-H])\?$`)
	reExtreme = regexp.MustCompile(`^Which label has the (highest|lowest) value\?$`)
	reDiff    = regexp.MustCompile(`^What is the difference between ([A-H]) and ([A-H])\?$`)
	reSum     = regexp.MustCompile(`^What is the sum of ([A-H]) and ([A-H])\?$`)
	reLarger  = regexp.MustCompile(`^Which is larger, ([A-H]) or ([A-H])\?$`)
	reDigit   = regexp.MustCompile(`^What is the (red|green|blue|yellow) digit\?$`)
	reRel     = regexp.MustCompile(`^Is the (\w+) (\w+) (left or right of|above or below) the (\w+) (\w+)\?$`)
	reMost    = regexp.MustCompile(`^What colour is the (left|right|top|bottom)most shape\?$`)
	reNearest = regexp.MustCompile(`^What colour is the shape nearest to the (\w+) (\w+)\?$`)
	reBigger  = regexp.MustCompile(`^Which is bigger, the (\w+) (\w+) or the (\w+) (\w+)\?$`)
	reSides   = regexp.MustCompile(`^How many sides does the (\w+) shape have\?$`)
	reKind    = regexp.MustCompile(`^What shape is the (\w+) one\?$`)
)

// solve answers question over s, or returns an error for a question it
// cannot parse or a scene where the answer is not unique.
func solve(s *Scene, question string) (string, error) {
	find := func(colour, kind string) (Shape, error) {
		var hits []Shape
		for _, sh := range s.Shapes {
			if string(sh.Colour) == colour && (kind == "" || string(sh.Kind) == kind) {
				hits = append(hits, sh)
			}
		}
		if len(hits) != 1 {
			return Shape{}, fmt.Errorf("%d shapes are %s %s", len(hits), colour, kind)
		}
		return hits[0], nil
	}
	centre := func(sh Shape) (float64, float64) {
		return float64(sh.X) + float64(sh.Size)/2, float64(sh.Y) + float64(sh.Size)/2
	}
	values := map[string]int{}
	if s.Chart != nil {
		for i, l := range s.Chart.Labels {
			values[l] = s.Chart.Values[i]
		}
	}
	if m := reCount.FindStringSubmatch(question); m != nil {
		n := 0
		for _, sh := range s.Shapes {
			if (m[1] == "" || string(sh.Colour) == m[1]) && (m[2] == "shape" || string(sh.Kind) == m[2]) {
				n++
			}
		}
		return strconv.Itoa(n), nil
	}
	if m := reValue.FindStringSubmatch(question); m != nil {
		return strconv.Itoa(values[m[1]]), nil
	}
	if m := reExtreme.FindStringSubmatch(question); m != nil {
		labels := append([]string(nil), s.Chart.Labels...)
		sort.Slice(labels, func(i, j int) bool { return values[labels[i]] < values[labels[j]] })
		if m[1] == "highest" {
			return labels[len(labels)-1], nil
		}
		return labels[0], nil
	}
	if m := reDiff.FindStringSubmatch(question); m != nil {
		d := values[m[1]] - values[m[2]]
		if d < 0 {
			d = -d
		}
		return strconv.Itoa(d), nil
	}
	if m := reSum.FindStringSubmatch(question); m != nil {
		return strconv.Itoa(values[m[1]] + values[m[2]]), nil
	}
	if m := reLarger.FindStringSubmatch(question); m != nil {
		if values[m[1]] > values[m[2]] {
			return m[1], nil
		}
		return m[2], nil
	}
	if s.Family == Digits {
		byX := map[int]Glyph{}
		var xs []int
		for _, g := range s.Digits {
			byX[g.X] = g
			xs = append(xs, g.X)
		}
		sort.Ints(xs)
		text := ""
		for _, x := range xs {
			text += strconv.Itoa(byX[x].Digit)
		}
		switch {
		case question == "What number is written?":
			return text, nil
		case question == "What is the sum of the digits?":
			n := 0
			for _, c := range text {
				n += int(c - '0')
			}
			return strconv.Itoa(n), nil
		case question == "What is the largest digit?":
			best := '0'
			for _, c := range text {
				best = max(best, c)
			}
			return string(best), nil
		}
		if m := reDigit.FindStringSubmatch(question); m != nil {
			for _, g := range s.Digits {
				if string(g.Colour) == m[1] {
					return strconv.Itoa(g.Digit), nil
				}
			}
		}
	}
	if m := reRel.FindStringSubmatch(question); m != nil {
		a, err := find(m[1], m[2])
		if err != nil {
			return "", err
		}
		b, err := find(m[4], m[5])
		if err != nil {
			return "", err
		}
		ax, ay := centre(a)
		bx, by := centre(b)
		if m[3] == "left or right of" {
			return map[bool]string{true: "left", false: "right"}[ax < bx], nil
		}
		return map[bool]string{true: "above", false: "below"}[ay < by], nil
	}
	if m := reMost.FindStringSubmatch(question); m != nil {
		best, bestV := "", math.Inf(-1)
		for _, sh := range s.Shapes {
			x, y := centre(sh)
			v := map[string]float64{"left": -x, "right": x, "top": -y, "bottom": y}[m[1]]
			if v > bestV {
				best, bestV = string(sh.Colour), v
			}
		}
		return best, nil
	}
	if m := reNearest.FindStringSubmatch(question); m != nil {
		a, err := find(m[1], m[2])
		if err != nil {
			return "", err
		}
		ax, ay := centre(a)
		best, bestD := "", math.Inf(1)
		for _, sh := range s.Shapes {
			if sh == a {
				continue
			}
			x, y := centre(sh)
			if d := (x-ax)*(x-ax) + (y-ay)*(y-ay); d < bestD {
				best, bestD = string(sh.Colour), d
			}
		}
		return best, nil
	}
	if m := reBigger.FindStringSubmatch(question); m != nil {
		a, err := find(m[1], m[2])
		if err != nil {
			return "", err
		}
		b, err := find(m[3], m[4])
		if err != nil {
			return "", err
		}
		if outlineArea(a) > outlineArea(b) {
			return m[1], nil
		}
		return m[3], nil
	}
	if question == "What colour is the biggest shape?" {
		best, bestA := "", 0.0
		for _, sh := range s.Shapes {
			if a := outlineArea(sh); a > bestA {
				best, bestA = string(sh.Colour), a
			}
		}
		return best, nil
	}
	if m := reSides.FindStringSubmatch(question); m != nil {
		a, err := find(m[1], "")
		if err != nil {
			return "", err
		}
		return strconv.Itoa(map[Kind]int{Triangle: 3, Square: 4, Pentagon: 5, Hexagon: 6}[a.Kind]), nil
	}
	if m := reKind.FindStringSubmatch(question); m != nil {
		a, err := find(m[1], "")
		if err != nil {
			return "", err
		}
		return string(a.Kind), nil
	}
	return "", fmt.Errorf("cannot parse %q", question)
}

// outlineArea is the area of the shape's outline by the shoelace formula
// (circles as 720-gons).
func outlineArea(sh Shape) float64 {
	s := float64(sh.Size)
	var xs, ys []float64
	switch sh.Kind {
	case Square:
		xs, ys = []float64{0, s, s, 0}, []float64{0, 0, s, s}
	case Triangle:
		xs, ys = []float64{s / 2, s, 0}, []float64{0, s, s}
	default:
		n := map[Kind]int{Circle: 720, Pentagon: 5, Hexagon: 6}[sh.Kind]
		for k := range n {
			a := 2 * math.Pi * float64(k) / float64(n)
			xs, ys = append(xs, s/2*math.Cos(a)), append(ys, s/2*math.Sin(a))
		}
	}
	area := 0.0
	for i := range xs {
		j := (i + 1) % len(xs)
		area += xs[i]*ys[j] - xs[j]*ys[i]
	}
	return math.Abs(area) / 2
}

// TestAnswersIndependent re-derives the answer of thousands of generated
// questions per family with the independent solver, and checks the
// trace: it ends in the answer tag, the reading it states agrees with the
// scene, and it is short.
func TestAnswersIndependent(t *testing.T) {
	const perLevel = 800
	for _, f := range Families {
		for level := 1; level <= 3; level++ {
			for i := range perLevel {
				s, q, err := Generate(f, level, hashKey(uint64(level), uint64(i), 77))
				if err != nil {
					t.Fatal(err)
				}
				text := q.Text()
				ans, err := Answer(s, q)
				if err != nil {
					t.Fatalf("%s L%d #%d %q: %v", f, level, i, text, err)
				}
				want, err := solve(s, text)
				if err != nil {
					t.Fatalf("%s L%d #%d: solver: %v", f, level, i, err)
				}
				if ans != want {
					t.Fatalf("%s L%d #%d %q: Answer %q, independent solver %q (scene %+v)", f, level, i, text, ans, want, s)
				}
				tr, err := Trace(s, q)
				if err != nil {
					t.Fatal(err)
				}
				checkTrace(t, s, tr, ans)
				if i < 50 {
					if _, ok := MatchQuestion(s, text); !ok {
						t.Fatalf("%q is not among Questions(scene)", text)
					}
				}
			}
		}
	}
}

var (
	reChartRead = regexp.MustCompile(`([A-H])=(\d)`)
	reRows      = regexp.MustCompile(`per row: (\d) (\d) (\d) (\d), total (\d+)\.`)
)

func checkTrace(t *testing.T, s *Scene, tr, ans string) {
	t.Helper()
	if !strings.HasSuffix(tr, " <answer>"+ans+"</answer>") || ExtractAnswer(tr) != ans {
		t.Fatalf("trace %q does not end in the answer %q", tr, ans)
	}
	reasoning := strings.TrimSuffix(tr, " <answer>"+ans+"</answer>")
	if w := len(strings.Fields(reasoning)); w < 2 || len(tr) > 110 {
		t.Fatalf("trace %q: %d words, %d bytes", tr, w, len(tr))
	}
	switch s.Family {
	case Chart:
		for _, m := range reChartRead.FindAllStringSubmatch(reasoning, -1) {
			if v, _ := s.Chart.value(m[1]); strconv.Itoa(v) != m[2] {
				t.Fatalf("trace %q reads %s=%s, the chart has %d", tr, m[1], m[2], v)
			}
		}
	case Count:
		m := reRows.FindStringSubmatch(reasoning)
		if m == nil {
			t.Fatalf("count trace %q has no row counts", tr)
		}
		sum := 0
		for _, x := range m[1:5] {
			n, _ := strconv.Atoi(x)
			sum += n
		}
		if strconv.Itoa(sum) != m[5] || m[5] != ans {
			t.Fatalf("count trace %q does not add up", tr)
		}
	case Digits:
		d := ""
		for _, c := range reasoning {
			if c >= '0' && c <= '9' {
				d += string(c)
			}
		}
		if want := digitsOfString(s); !strings.HasPrefix(d, want) {
			t.Fatalf("digits trace %q does not read %s first", tr, want)
		}
	}
}

func digitsOfString(s *Scene) string {
	gs := append([]Glyph(nil), s.Digits...)
	sort.Slice(gs, func(i, j int) bool { return gs[i].X < gs[j].X })
	out := ""
	for _, g := range gs {
		out += strconv.Itoa(g.Digit)
	}
	return out
}
