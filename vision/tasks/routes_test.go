package tasks

import (
	"fmt"
	"regexp"
	"strconv"
	"testing"
)

// Config.CountRoutes: counting items take the row or the column route by
// a bit of the scene key (about half each, and the same route for the same
// scene), the column counts are re-derived from the shapes' centres, and
// every other item, and every item without the option, is unchanged.
func TestCountRoutes(t *testing.T) {
	reCols := regexp.MustCompile(`^(.+) per column: (\d) (\d) (\d) (\d), total (\d+)\. <answer>(\d+)</answer>$`)
	cfg := DefaultConfig()
	plain, err := NewStream(cfg, Train, 5)
	if err != nil {
		t.Fatal(err)
	}
	cfg.CountRoutes = true
	routed, err := NewStream(cfg, Train, 5)
	if err != nil {
		t.Fatal(err)
	}
	rows, cols := 0, 0
	for i := range uint64(3000) {
		a, b := plain.Item(i), routed.Item(i)
		if a.Key != b.Key || a.Answer != b.Answer || a.Question != b.Question {
			t.Fatalf("item %d: the option changed the scene or question", i)
		}
		if b.Family != Count || b.Trace == a.Trace {
			if b.Trace != a.Trace {
				t.Fatalf("item %d (%s): trace changed: %q -> %q", i, b.Family, a.Trace, b.Trace)
			}
			if b.Family == Count {
				rows++
			}
			continue
		}
		cols++
		m := reCols.FindStringSubmatch(b.Trace)
		if m == nil {
			t.Fatalf("item %d: %q is not a column trace", i, b.Trace)
		}
		want := [countSide]int{}
		for _, sh := range b.Scene.Shapes {
			if countMatch(b.Query, sh) {
				want[(sh.X+countShape/2)/countCell]++
			}
		}
		sum := 0
		for c := range countSide {
			n, _ := strconv.Atoi(m[2+c])
			if n != want[c] {
				t.Fatalf("item %d: %q counts %d in column %d, the scene has %d", i, b.Trace, n, c, want[c])
			}
			sum += n
		}
		if m[6] != fmt.Sprint(sum) || m[7] != b.Answer || m[1] != countWhat(b.Query) {
			t.Fatalf("item %d: %q does not add up to %s", i, b.Trace, b.Answer)
		}
		if again := routed.trace(templates[b.Query.Template], b.Scene, b.Query, b.Scene.Key()); again != b.Trace {
			t.Fatalf("item %d: route not stable", i)
		}
	}
	if n := rows + cols; n < 400 || cols < n*2/5 || cols > n*3/5 {
		t.Fatalf("%d row and %d column traces among counting items; want about half each", rows, cols)
	}
}
