package selfevolve

import (
	"strings"
	"testing"
)

// A family with no test items shows "–", not 0.0; a family scored by some
// seeds only is averaged over those.
func TestAblationTableEmptyFamily(t *testing.T) {
	ev := func(count, all float64, nCount int) Eval {
		return Eval{Families: []FamilyEval{{Family: "count", N: nCount, Greedy: count}, {Family: "all", N: 4, Greedy: all}}}
	}
	table := AblationTable([]AblationRun{
		{Variant: "base", Seed: 1, Test: ev(0.5, 0.5, 2), TestLast: ev(0.5, 0.5, 2)},
		{Variant: "base", Seed: 2, Test: ev(0, 0.25, 0), TestLast: ev(0, 0.25, 0)},
	})
	if !strings.Contains(table, "| base | 2 | 50.0 ± 0.0 | – |") || !strings.Contains(table, "| 37.5 ± 17.7 |") {
		t.Errorf("table:\n%s", table)
	}
}
