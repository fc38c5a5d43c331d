package selfevolve

import (
	"fmt"
	"math"
	"slices"
	"testing"
)

func round3(x float64) float64 { return math.Round(x*1000) / 1000 }

// The spec's tables, to three decimals, exactly.
func TestSolverRewardTable(t *testing.T) {
	o := Defaults()
	want := map[float64]float64{0.2: 0.324, 0.4: 0.527, 0.6: 0.699, 0.8: 0.855, 1: 1}
	for _, k := range []int{1, 2, 3, 4, 5} {
		p := float64(k) / 5
		if got := round3(SolverReward(p, 0, o)); got != want[p] {
			t.Errorf("p=%.1f: reward %.3f, want %.3f", p, got, want[p])
		}
	}
	// The same through Rewards on answer groups (p from counts, no penalty).
	answers := []string{"a", "a", "a", "b", "c"}
	r, _, _, maj := Rewards(answers, make([]int, 5), o)
	if maj != 3 || round3(r[0]) != 0.699 || round3(r[3]) != 0.324 {
		t.Errorf("Rewards(3+1+1) = %v, majority %d", r, maj)
	}
}

func TestLengthPenalty(t *testing.T) {
	o := Defaults()
	for _, c := range []struct {
		words int
		want  float64
	}{{0, 1}, {6, 1}, {9, 0.95}, {12, 0.9}, {100, 0.9}} {
		if got := SolverReward(1, c.words, o); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("w=%d: %v, want %v", c.words, got, c.want)
		}
	}
}

func TestProposerRewardTable(t *testing.T) {
	o := Defaults()
	groups := map[string][]string{
		"5":         {"a", "a", "a", "a", "a"},
		"4+1":       {"a", "a", "a", "a", "b"},
		"3+2":       {"a", "a", "a", "b", "b"},
		"3+1+1":     {"a", "a", "a", "b", "c"},
		"2+2+1":     {"a", "a", "b", "b", "c"},
		"2+1+1+1":   {"a", "a", "b", "c", "d"},
		"1+1+1+1+1": {"a", "b", "c", "d", "e"},
	}
	want := map[string]float64{"5": 0.037, "4+1": 0.521, "3+2": 0.810, "3+1+1": 0.990, "2+2+1": 0.907, "2+1+1+1": 0.467, "1+1+1+1+1": 0.128}
	if got := Partitions(5); !slices.Equal(got, []string{"5", "4+1", "3+2", "3+1+1", "2+2+1", "2+1+1+1", "1+1+1+1+1"}) {
		t.Errorf("Partitions(5) = %v", got)
	}
	for name, answers := range groups {
		if p := Partition(answers); p != name {
			t.Errorf("Partition(%v) = %s", answers, p)
		}
		_, rP, h, _ := Rewards(answers, make([]int, 5), o)
		if round3(rP) != want[name] {
			t.Errorf("%s: H=%.4f proposer reward %.3f, want %.3f", name, h, round3(rP), want[name])
		}
	}
}

func TestDiscreteRewards(t *testing.T) {
	o := Defaults()
	o.Reward = Discrete
	for _, c := range []struct {
		answers []string
		solver  []float64
		prop    float64
	}{
		{[]string{"3", "3", "3", "3", "3"}, []float64{1, 1, 1, 1, 1}, 0},
		{[]string{"3", "3", "4", "3", "5"}, []float64{1, 1, 0, 1, 0}, 1},
		{[]string{"3", "4", "5", "6", "7"}, []float64{1, 0, 0, 0, 0}, 0}, // tie: first seen
		{[]string{"4", "3", "3", "4", "1"}, []float64{1, 0, 0, 1, 0}, 1},
	} {
		s, p, _, _ := Rewards(c.answers, make([]int, 5), o)
		if !slices.Equal(s, c.solver) || p != c.prop {
			t.Errorf("%v: solver %v proposer %v, want %v %v", c.answers, s, p, c.solver, c.prop)
		}
	}
}

func TestAnswerExtraction(t *testing.T) {
	for _, c := range []struct{ out, answer string }{
		{"red x=3 blue x=9. <answer>Left.</answer>", "left"},
		{"<answer> 1,000 </answer>", "1000"},
		{"counting: 3 <answer>03</answer>", "3"},
		{"two answers <answer>2</answer> then <answer>5</answer>", "5"},
		{"no tag\nlast line: 7\n\n", "last line: 7"},
		{"", "unknown"},
		{"<answer></answer>", "unknown"},
		{"cut off <answer>Bar  C", "bar c"},
		{"<answer>-3</answer>", "-3"},
		{"<answer>\"Square!\"</answer>", "square"},
	} {
		if got := Answer(c.out); got != c.answer {
			t.Errorf("Answer(%q) = %q, want %q", c.out, got, c.answer)
		}
	}
	for _, c := range []struct {
		out   string
		words int
	}{
		{"<answer>3</answer>", 0},
		{"red x=3 blue x=9, 3<9. <answer>left</answer>", 5},
		{"no tag at all here", 5},
	} {
		if got := WordsBeforeAnswer(c.out); got != c.words {
			t.Errorf("WordsBeforeAnswer(%q) = %d, want %d", c.out, got, c.words)
		}
	}
}

func ExampleRewards() {
	answers := []string{"3", "3", "3", "4", "5"}
	s, p, h, _ := Rewards(answers, []int{4, 4, 9, 4, 12}, Defaults())
	fmt.Printf("solver %.3f %.3f %.3f %.3f %.3f\nproposer %.3f (H = %.3f nats)\n", s[0], s[1], s[2], s[3], s[4], p, h)
	// Output:
	// solver 0.699 0.699 0.664 0.324 0.292
	// proposer 0.990 (H = 0.950 nats)
}

func TestEntropyBins(t *testing.T) {
	names, index := entropyBins(5, 6)
	want := []string{"5", "4+1", "3+2", "3+1+1 | 2+2+1", "2+1+1+1", "1+1+1+1+1"}
	if !slices.Equal(names, want) {
		t.Errorf("bins %v, want %v", names, want)
	}
	if index["2+2+1"] != 3 || index["1+1+1+1+1"] != 5 {
		t.Errorf("index %v", index)
	}
}
