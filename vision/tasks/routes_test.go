package tasks

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
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

// Config.AnswerOnly: about the asked share of solver targets is the bare
// answer and the rest split evenly over the four openings before the
// unchanged trace; every target's answer is the item's; the option leaves
// scenes, traces and self-evaluation targets alone; 0 is off, 1 is all
// bare answers, and a share outside 0-1 is an error.
func TestAnswerOnly(t *testing.T) {
	cfg := DefaultConfig()
	plain, err := NewStream(cfg, Train, 9)
	if err != nil {
		t.Fatal(err)
	}
	cfg.AnswerOnly = 0.3
	mixed, err := NewStream(cfg, Train, 9)
	if err != nil {
		t.Fatal(err)
	}
	const n = 6000
	bare, opened := 0, [4]int{}
	for i := range uint64(n) {
		a, b := plain.Item(i), mixed.Item(i)
		if a.Target != a.Trace || a.Solver()[1].Content != a.Trace {
			t.Fatalf("item %d: without the option the target %q is not the trace %q", i, a.Target, a.Trace)
		}
		if a.Key != b.Key || a.Trace != b.Trace || a.Answer != b.Answer {
			t.Fatalf("item %d: the option changed the scene or the trace", i)
		}
		got := b.Solver()[1].Content
		if Normalize(ExtractAnswer(got)) != Normalize(b.Answer) {
			t.Fatalf("item %d: target %q does not answer %q", i, got, b.Answer)
		}
		if last := b.SelfEval("x"); last[len(last)-1].Content != b.Trace {
			t.Fatalf("item %d: the self-evaluation target changed", i)
		}
		if got == "<answer>"+b.Answer+"</answer>" {
			bare++
			continue
		}
		k := -1
		for j, o := range AnswerOnlyOpenings {
			if got == o+b.Trace {
				k = j
			}
		}
		if k < 0 {
			t.Fatalf("item %d: target %q is neither the bare answer nor an opening and %q", i, got, b.Trace)
		}
		opened[k]++
	}
	if bare < n*27/100 || bare > n*33/100 {
		t.Fatalf("%d bare answers of %d; want about 30%%", bare, n)
	}
	for j, c := range opened {
		if c < n*15/100 || c > n*20/100 {
			t.Fatalf("opening %q on %d of %d targets; want about 17.5%%", AnswerOnlyOpenings[j], c, n)
		}
	}
	for _, f := range []float64{-0.1, 1.01, math.NaN()} {
		bad := DefaultConfig()
		bad.AnswerOnly = f
		if _, err := NewStream(bad, Train, 1); err == nil || !strings.Contains(err.Error(), "answer-only") {
			t.Fatalf("AnswerOnly %v: err %v, want one naming the share", f, err)
		}
	}
	all := DefaultConfig()
	all.AnswerOnly = 1
	st, err := NewStream(all, Validation, 2)
	if err != nil {
		t.Fatal(err)
	}
	for i := range uint64(50) {
		if it := st.Item(i); it.Target != "<answer>"+it.Answer+"</answer>" {
			t.Fatalf("AnswerOnly 1: target %q", it.Target)
		}
	}
}

// Config.AnswerOnlyFamilies: the listed families get the same targets as
// with the option on everywhere, the others keep the plain trace; an
// unknown family is an error.
func TestAnswerOnlyFamilies(t *testing.T) {
	cfg := DefaultConfig()
	cfg.AnswerOnly = 0.3
	everywhere, err := NewStream(cfg, Train, 4)
	if err != nil {
		t.Fatal(err)
	}
	cfg.AnswerOnlyFamilies = []Family{Count, Geometry}
	some, err := NewStream(cfg, Train, 4)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[Family]int{}
	bare := 0
	for i := range uint64(3000) {
		a, b := everywhere.Item(i), some.Item(i)
		if a.Key != b.Key || a.Trace != b.Trace {
			t.Fatalf("item %d: the family list changed the scene or the trace", i)
		}
		seen[b.Family]++
		switch b.Family {
		case Count, Geometry:
			if b.Target != a.Target {
				t.Fatalf("item %d (%s): target %q, want %q as with every family", i, b.Family, b.Target, a.Target)
			}
			if b.Target == tagAnswer(b.Answer) {
				bare++
			}
		default:
			if b.Target != b.Trace {
				t.Fatalf("item %d (%s): target %q, want the plain trace %q", i, b.Family, b.Target, b.Trace)
			}
		}
	}
	if n := seen[Count] + seen[Geometry]; bare < n*25/100 || bare > n*35/100 || len(seen) != len(Families) {
		t.Fatalf("%d bare of %d counting and geometry targets (families seen %v); want about 30%%", bare, n, seen)
	}
	bad := DefaultConfig()
	bad.AnswerOnly = 0.3
	bad.AnswerOnlyFamilies = []Family{"clocks"}
	if _, err := NewStream(bad, Train, 1); err == nil || !strings.Contains(err.Error(), "clocks") {
		t.Fatalf("unknown answer-only family: err %v, want one naming it", err)
	}
}

// Config.Openings spreads the reasoned targets over that many openings,
// the first ones of AnswerOnlyOpenings; 4 is the default and 1-8 is valid.
func TestAnswerOnlyOpenings(t *testing.T) {
	if len(AnswerOnlyOpenings) != 8 {
		t.Fatalf("%d openings", len(AnswerOnlyOpenings))
	}
	firsts := map[byte]bool{}
	for _, o := range AnswerOnlyOpenings {
		firsts[o[0]] = true
	}
	if len(firsts) != len(AnswerOnlyOpenings) {
		t.Fatalf("openings share a first letter: %q", AnswerOnlyOpenings)
	}
	cfg := DefaultConfig()
	cfg.AnswerOnly = 0.2
	four, _ := NewStream(cfg, Train, 5)
	cfg.Openings = 4
	fourAgain, _ := NewStream(cfg, Train, 5)
	cfg.Openings = 8
	eight, err := NewStream(cfg, Train, 5)
	if err != nil {
		t.Fatal(err)
	}
	const n = 8000
	bare, counts := 0, map[string]int{}
	for i := range uint64(n) {
		a, b, c := four.Item(i), fourAgain.Item(i), eight.Item(i)
		if a.Target != b.Target {
			t.Fatalf("item %d: Openings 0 and 4 differ: %q, %q", i, a.Target, b.Target)
		}
		if (a.Target == tagAnswer(a.Answer)) != (c.Target == tagAnswer(c.Answer)) {
			t.Fatalf("item %d: the number of openings changed whether the answer is bare", i)
		}
		if c.Target == tagAnswer(c.Answer) {
			bare++
			continue
		}
		o, ok := strings.CutSuffix(c.Target, c.Trace)
		if !ok || !slices.Contains(AnswerOnlyOpenings[:], o) {
			t.Fatalf("item %d: target %q is not an opening and the trace %q", i, c.Target, c.Trace)
		}
		counts[o]++
	}
	if bare < n*18/100 || bare > n*22/100 || len(counts) != 8 {
		t.Fatalf("%d bare of %d, openings used %v", bare, n, counts)
	}
	for o, k := range counts {
		if k < n*8/100 || k > n*12/100 {
			t.Fatalf("opening %q on %d of %d; want about 10%%", o, k, n)
		}
	}
	for _, k := range []int{-1, 9} {
		bad := DefaultConfig()
		bad.AnswerOnly, bad.Openings = 0.2, k
		if _, err := NewStream(bad, Train, 1); err == nil || !strings.Contains(err.Error(), "openings") {
			t.Fatalf("Openings %d: err %v", k, err)
		}
	}
}
