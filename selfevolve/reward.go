package selfevolve

import (
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/kiln-ml/kiln/vision/tasks"
)

// RewardKind selects the reward of both roles.
type RewardKind string

const (
	// Continuous is EvoLMM: a soft self-consistency score for the solver
	// and the entropy band-pass for the proposer.
	Continuous RewardKind = "continuous"
	// Discrete is the paper's ablation (TTRL/SQLM style): the solver gets
	// 1 for agreeing with the majority, the proposer 1 when the majority
	// count is strictly between 1 and N.
	Discrete RewardKind = "discrete"
)

// Answer extracts and normalises the final answer of a solver output with
// the tasks package's shared rules (text in the last <answer> tag, else the
// last non-empty line, else "unknown"; trim, lowercase, drop commas,
// collapse whitespace, strip outer punctuation).
func Answer(output string) string { return tasks.Normalize(tasks.ExtractAnswer(output)) }

// WordsBeforeAnswer is w_i of the length penalty: the number of
// whitespace-separated words before the first "<answer>" (the whole output
// when there is none).
func WordsBeforeAnswer(output string) int {
	if i := strings.Index(output, "<answer>"); i >= 0 {
		output = output[:i]
	}
	return len(strings.Fields(output))
}

// Shares returns p(a) for every answer: the share of answers equal to it.
func Shares(answers []string) map[string]float64 {
	p := map[string]float64{}
	for _, a := range answers {
		p[a]++
	}
	for a := range p {
		p[a] /= float64(len(answers))
	}
	return p
}

// Entropy is H = -sum_a p(a) ln p(a) in nats over the distinct answers.
func Entropy(answers []string) float64 {
	h := 0.0
	for _, q := range Shares(answers) {
		h -= q * math.Log(q)
	}
	return h + 0 // no -0
}

// SolverReward is the continuous solver reward of one answer:
// p^gamma * (1 - lambdaLen * min(1, max(0, (words - tau)/tau))).
func SolverReward(p float64, words int, o Options) float64 {
	pen := 0.0
	if o.Tau > 0 {
		pen = math.Min(1, math.Max(0, (float64(words)-o.Tau)/o.Tau))
	}
	return math.Pow(p, o.Gamma) * (1 - o.LambdaLen*pen)
}

// ProposerReward is the entropy band-pass exp(-(H - mu)^2 / (2 sigma^2)).
func ProposerReward(h float64, o Options) float64 {
	d := h - o.MuH
	return math.Exp(-d * d / (2 * o.SigmaH * o.SigmaH))
}

// Rewards scores one group of solver outputs (already extracted answers
// and word counts) under o.Reward and returns the solver rewards, the
// proposer reward, the answer entropy and the majority count.
func Rewards(answers []string, words []int, o Options) (solver []float64, proposer, entropy float64, majority int) {
	n := len(answers)
	p := Shares(answers)
	entropy = Entropy(answers)
	maj, count := tasks.Majority(answers)
	majority = count
	solver = make([]float64, n)
	switch o.Reward {
	case Discrete:
		for i, a := range answers {
			if tasks.Normalize(a) == maj {
				solver[i] = 1
			}
		}
		if count > 1 && count < n {
			proposer = 1
		}
	default:
		for i, a := range answers {
			solver[i] = SolverReward(p[a], words[i], o)
		}
		proposer = ProposerReward(entropy, o)
	}
	return solver, proposer, entropy, majority
}

// Partition names how answers split: the counts of the distinct answers in
// decreasing order joined by "+" ("5", "4+1", "2+2+1", ...).
func Partition(answers []string) string {
	counts := map[string]int{}
	for _, a := range answers {
		counts[a]++
	}
	var cs []int
	for _, c := range counts {
		cs = append(cs, c)
	}
	return partitionName(cs)
}

func partitionName(cs []int) string {
	slices.SortFunc(cs, func(a, b int) int { return b - a })
	s := make([]string, len(cs))
	for i, c := range cs {
		s[i] = strconv.Itoa(c)
	}
	return strings.Join(s, "+")
}

// Partitions lists every split of n answers, from unanimous to all
// different in order of increasing entropy: the bins of the entropy
// histogram.
func Partitions(n int) []string {
	var out [][]int
	var rec func(left, most int, cur []int)
	rec = func(left, most int, cur []int) {
		if left == 0 {
			out = append(out, slices.Clone(cur))
			return
		}
		for k := min(left, most); k >= 1; k-- {
			rec(left-k, k, append(cur, k))
		}
	}
	rec(n, n, nil)
	ent := func(cs []int) float64 {
		h := 0.0
		for _, c := range cs {
			q := float64(c) / float64(n)
			h -= q * math.Log(q)
		}
		return h
	}
	slices.SortStableFunc(out, func(a, b []int) int {
		ea, eb := ent(a), ent(b)
		switch {
		case ea < eb-1e-12:
			return -1
		case ea > eb+1e-12:
			return 1
		}
		return 0
	})
	names := make([]string, len(out))
	for i, cs := range out {
		names[i] = partitionName(cs)
	}
	return names
}
