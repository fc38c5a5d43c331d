package tasks

import (
	"fmt"
	"slices"
	"strings"
)

// Charts: a bar or line chart of 2 (level 1), 3 (level 2) or 4 (level 3)
// distinct values in 1..9, 2 units per step, labelled with distinct letters
// A-F in random order. Levels 1 and 2 print the values (above each bar, or
// along the top of a line chart) and ask for values, differences, sums and
// comparisons; level 3 prints no values and asks only comparisons, which
// the heights answer (distinct values differ by at least 2 units).
//
// Traces: with values "A=4 B=7. 7-4=3. <answer>3</answer>"; without
// "from highest: B D A C. <answer>B</answer>".

func init() {
	pairs := func(name string) func(*Scene) []Query {
		return func(s *Scene) []Query {
			var out []Query
			for _, a := range s.Chart.Labels {
				for _, b := range s.Chart.Labels {
					out = append(out, Query{Template: name, A: a, B: b})
				}
			}
			return out
		}
	}
	one := func(name string) func(*Scene) []Query {
		return func(*Scene) []Query { return []Query{{Template: name}} }
	}
	pairValid := func(shown bool) func(*Scene, Query) bool {
		return func(s *Scene, q Query) bool {
			a, okA := s.Chart.value(q.A)
			b, okB := s.Chart.value(q.B)
			return okA && okB && a != b && (s.Chart.ShowValues || !shown)
		}
	}
	extremeValid := func(s *Scene, q Query) bool {
		return q.A == "" && q.B == "" && uniqueExtremes(s.Chart.Values)
	}
	register(
		&template{name: "chart_value", family: Chart,
			text: func(q Query) string { return fmt.Sprintf("What is the value of %s?", q.A) },
			queries: func(s *Scene) []Query {
				var out []Query
				for _, a := range s.Chart.Labels {
					out = append(out, Query{Template: "chart_value", A: a})
				}
				return out
			},
			valid: func(s *Scene, q Query) bool {
				_, ok := s.Chart.value(q.A)
				return ok && q.B == "" && s.Chart.ShowValues
			},
			answer: func(s *Scene, q Query) string { v, _ := s.Chart.value(q.A); return fmt.Sprint(v) },
			reason: func(s *Scene, q Query) string {
				v, _ := s.Chart.value(q.A)
				return fmt.Sprintf("%s %s=%d.", chartRead(s.Chart), q.A, v)
			}},
		&template{name: "chart_max", family: Chart,
			text:    func(Query) string { return "Which label has the highest value?" },
			queries: one("chart_max"), valid: extremeValid,
			answer: func(s *Scene, _ Query) string { return chartExtreme(s.Chart, true) },
			reason: func(s *Scene, _ Query) string {
				if !s.Chart.ShowValues {
					return chartOrder(s.Chart)
				}
				l := chartExtreme(s.Chart, true)
				v, _ := s.Chart.value(l)
				return fmt.Sprintf("%s max %s=%d.", chartRead(s.Chart), l, v)
			}},
		&template{name: "chart_min", family: Chart,
			text:    func(Query) string { return "Which label has the lowest value?" },
			queries: one("chart_min"), valid: extremeValid,
			answer: func(s *Scene, _ Query) string { return chartExtreme(s.Chart, false) },
			reason: func(s *Scene, _ Query) string {
				if !s.Chart.ShowValues {
					return chartOrder(s.Chart)
				}
				l := chartExtreme(s.Chart, false)
				v, _ := s.Chart.value(l)
				return fmt.Sprintf("%s min %s=%d.", chartRead(s.Chart), l, v)
			}},
		&template{name: "chart_diff", family: Chart,
			text:    func(q Query) string { return fmt.Sprintf("What is the difference between %s and %s?", q.A, q.B) },
			queries: pairs("chart_diff"), valid: pairValid(true),
			answer: func(s *Scene, q Query) string {
				a, _ := s.Chart.value(q.A)
				b, _ := s.Chart.value(q.B)
				return fmt.Sprint(max(a, b) - min(a, b))
			},
			reason: func(s *Scene, q Query) string {
				a, _ := s.Chart.value(q.A)
				b, _ := s.Chart.value(q.B)
				return fmt.Sprintf("%s %d-%d=%d.", chartRead(s.Chart), max(a, b), min(a, b), max(a, b)-min(a, b))
			}},
		&template{name: "chart_sum", family: Chart,
			text:    func(q Query) string { return fmt.Sprintf("What is the sum of %s and %s?", q.A, q.B) },
			queries: pairs("chart_sum"), valid: pairValid(true),
			answer: func(s *Scene, q Query) string {
				a, _ := s.Chart.value(q.A)
				b, _ := s.Chart.value(q.B)
				return fmt.Sprint(a + b)
			},
			reason: func(s *Scene, q Query) string {
				a, _ := s.Chart.value(q.A)
				b, _ := s.Chart.value(q.B)
				return fmt.Sprintf("%s %d+%d=%d.", chartRead(s.Chart), a, b, a+b)
			}},
		&template{name: "chart_larger", family: Chart,
			text:    func(q Query) string { return fmt.Sprintf("Which is larger, %s or %s?", q.A, q.B) },
			queries: pairs("chart_larger"), valid: pairValid(false),
			answer: func(s *Scene, q Query) string {
				a, _ := s.Chart.value(q.A)
				b, _ := s.Chart.value(q.B)
				if b > a {
					return q.B
				}
				return q.A
			},
			reason: func(s *Scene, q Query) string {
				if !s.Chart.ShowValues {
					return chartOrder(s.Chart)
				}
				a, _ := s.Chart.value(q.A)
				b, _ := s.Chart.value(q.B)
				big, small, l := a, b, q.A
				if b > a {
					big, small, l = b, a, q.B
				}
				return fmt.Sprintf("%s %d>%d so %s.", chartRead(s.Chart), big, small, l)
			}},
	)
}

// chartRead is "A=4 B=7 C=2." in drawing order.
func chartRead(c *ChartSpec) string {
	parts := make([]string, len(c.Labels))
	for i, l := range c.Labels {
		parts[i] = fmt.Sprintf("%s=%d", l, c.Values[i])
	}
	return strings.Join(parts, " ") + "."
}

// chartOrder is "from highest: B D A C." (stable for equal values).
func chartOrder(c *ChartSpec) string {
	idx := make([]int, len(c.Values))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return c.Values[b] - c.Values[a] })
	parts := make([]string, len(idx))
	for k, i := range idx {
		parts[k] = c.Labels[i]
	}
	return "from highest: " + strings.Join(parts, " ") + "."
}

// chartExtreme returns the label of the highest (or lowest) value, the
// leftmost on ties.
func chartExtreme(c *ChartSpec, highest bool) string {
	best := 0
	for i, v := range c.Values {
		if (highest && v > c.Values[best]) || (!highest && v < c.Values[best]) {
			best = i
		}
	}
	return c.Labels[best]
}

func uniqueExtremes(vs []int) bool {
	lo, hi := slices.Min(vs), slices.Max(vs)
	nlo, nhi := 0, 0
	for _, v := range vs {
		if v == lo {
			nlo++
		}
		if v == hi {
			nhi++
		}
	}
	return nlo == 1 && nhi == 1
}

func genChart(r *rng, level int) (*Scene, Query) {
	n := level + 1
	c := &ChartSpec{Kind: pick(r, []ChartKind{BarChart, LineChart}), Colour: pick(r, Colours),
		Labels: sample(r, chartLabels[:6], n), ShowValues: level < 3}
	for _, v := range sample(r, []int{1, 2, 3, 4, 5, 6, 7, 8, 9}, n) {
		c.Values = append(c.Values, v)
	}
	names := []string{"chart_max", "chart_min", "chart_larger"}
	if c.ShowValues {
		names = templateOrder[Chart]
	}
	q := Query{Template: pick(r, names)}
	ab := sample(r, c.Labels, 2)
	switch q.Template {
	case "chart_value":
		q.A = ab[0]
	case "chart_diff", "chart_sum", "chart_larger":
		q.A, q.B = ab[0], ab[1]
	}
	return &Scene{Family: Chart, Level: level, Chart: c}, q
}

// perturbChart misreads one value by 1 or 2, or swaps two values.
func perturbChart(r *rng, s *Scene, _ Query) {
	v := s.Chart.Values
	i := r.intn(len(v))
	if r.intn(3) == 0 {
		j := r.intn(len(v))
		v[i], v[j] = v[j], v[i]
		return
	}
	d := pick(r, []int{-2, -1, 1, 2})
	v[i] = min(max(v[i]+d, 1), 9)
}
