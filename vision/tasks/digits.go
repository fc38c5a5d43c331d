package tasks

import (
	"fmt"
	"slices"
	"strings"
)

// Digits: a row of 2 (level 1), 3 (level 2) or 4 (level 3) digits in the
// 3x5 font at 2x (6 x 10 units), each in its own colour, jittered up and
// down by up to 2 units. The first digit is never 0, so the row reads as a
// number.
//
// Traces: "digits: 3 8 5. 3+8+5=16. <answer>16</answer>";
// colour questions "digits: 3 red, 8 blue, 5 green. <answer>8</answer>".

const digitScale = 2

func init() {
	one := func(name string) func(*Scene) []Query {
		return func(*Scene) []Query { return []Query{{Template: name}} }
	}
	plain := func(_ *Scene, q Query) bool { return q.Colour == "" }
	register(
		&template{name: "digits_read", family: Digits,
			text:    func(Query) string { return "What number is written?" },
			queries: one("digits_read"), valid: plain,
			answer: func(s *Scene, _ Query) string {
				d := digitsOf(s)
				// a reading error may start with 0; the number drops it.
				n := 0
				for _, x := range d {
					n = 10*n + x
				}
				return fmt.Sprint(n)
			},
			reason: func(s *Scene, _ Query) string { return digitsRead(s) }},
		&template{name: "digits_sum", family: Digits,
			text:    func(Query) string { return "What is the sum of the digits?" },
			queries: one("digits_sum"), valid: plain,
			answer: func(s *Scene, _ Query) string { return fmt.Sprint(sumInts(digitsOf(s))) },
			reason: func(s *Scene, _ Query) string {
				d := digitsOf(s)
				return fmt.Sprintf("%s %s=%d.", digitsRead(s), joinInts(d, "+"), sumInts(d))
			}},
		&template{name: "digits_max", family: Digits,
			text:    func(Query) string { return "What is the largest digit?" },
			queries: one("digits_max"), valid: plain,
			answer: func(s *Scene, _ Query) string { return fmt.Sprint(slices.Max(digitsOf(s))) },
			reason: func(s *Scene, _ Query) string {
				return fmt.Sprintf("%s max %d.", digitsRead(s), slices.Max(digitsOf(s)))
			}},
		&template{name: "digits_colour", family: Digits,
			text: func(q Query) string { return fmt.Sprintf("What is the %s digit?", q.Colour) },
			queries: func(s *Scene) []Query {
				var out []Query
				for _, c := range Colours {
					out = append(out, Query{Template: "digits_colour", Colour: c})
				}
				return out
			},
			valid: func(s *Scene, q Query) bool {
				n := 0
				for _, g := range s.Digits {
					if g.Colour == q.Colour {
						n++
					}
				}
				return n == 1
			},
			answer: func(s *Scene, q Query) string {
				for _, i := range leftToRight(s) {
					if s.Digits[i].Colour == q.Colour {
						return fmt.Sprint(s.Digits[i].Digit)
					}
				}
				return "none"
			},
			reason: func(s *Scene, _ Query) string {
				var parts []string
				for _, i := range leftToRight(s) {
					parts = append(parts, fmt.Sprintf("%d %s", s.Digits[i].Digit, s.Digits[i].Colour))
				}
				return "digits: " + strings.Join(parts, ", ") + "."
			}},
	)
}

// leftToRight returns the glyph indices ordered by X.
func leftToRight(s *Scene) []int {
	idx := make([]int, len(s.Digits))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return s.Digits[a].X - s.Digits[b].X })
	return idx
}

func digitsOf(s *Scene) []int {
	var d []int
	for _, i := range leftToRight(s) {
		d = append(d, s.Digits[i].Digit)
	}
	return d
}

func digitsRead(s *Scene) string { return "digits: " + joinInts(digitsOf(s), " ") + "." }

func sumInts(xs []int) int {
	n := 0
	for _, x := range xs {
		n += x
	}
	return n
}

func genDigits(r *rng, level int) (*Scene, Query) {
	k := level + 1
	w, h := glyphW*digitScale, glyphH*digitScale
	gap := 2
	if k == 4 {
		gap = 1
	}
	width := k*w + (k-1)*gap
	x0 := r.between(1, Canvas-1-width)
	y0 := r.between(1, Canvas-1-h-2)
	cols := sample(r, Colours, k)
	s := &Scene{Family: Digits, Level: level}
	for i := range k {
		d := r.intn(10)
		if i == 0 {
			d = r.between(1, 9)
		}
		s.Digits = append(s.Digits, Glyph{Digit: d, Colour: cols[i], Scale: digitScale,
			X: x0 + i*(w+gap), Y: y0 + r.intn(3)})
	}
	q := Query{Template: pick(r, templateOrder[Digits])}
	if q.Template == "digits_colour" {
		q.Colour = pick(r, cols)
	}
	return s, q
}

// digitConfusions are the digits a 3x5 glyph is most easily misread as
// (one or two font pixels apart).
var digitConfusions = [10][]int{
	0: {8}, 1: {7, 4}, 2: {3, 7}, 3: {2, 9}, 4: {1, 9},
	5: {6, 9}, 6: {5, 8}, 7: {1, 2}, 8: {0, 6, 9}, 9: {8, 3},
}

// perturbDigits misreads one digit: as a look-alike two times in three,
// else as any digit.
func perturbDigits(r *rng, s *Scene, _ Query) {
	g := &s.Digits[r.intn(len(s.Digits))]
	if r.intn(3) > 0 {
		g.Digit = pick(r, digitConfusions[g.Digit])
		return
	}
	g.Digit = r.intn(10)
}
