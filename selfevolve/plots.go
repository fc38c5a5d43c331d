package selfevolve

import (
	"fmt"
	"math"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/kiln-ml/kiln/internal/jsonl"
	"github.com/kiln-ml/kiln/internal/plots"
)

// Plots draws a run directory's curves from its logs: rewards.png (solver
// and proposer reward, proposer output quality), kl.png (KL to the
// reference and beta per role), entropy.png (the answer-split histogram
// over training: the paper's U-shape to bell curve) and validation.png.
func Plots(dir string, n int) error {
	steps, err := jsonl.Read[StepLog](filepath.Join(dir, StepsFile))
	if err != nil || len(steps) == 0 {
		return err
	}
	w := max(1, len(steps)/30) // steps per point
	var x, rS, rP, mal, valid, div, klS, klP, xP, bS, bP []float64
	for lo := 0; lo < len(steps); lo += w {
		win := steps[lo:min(lo+w, len(steps))]
		var s, p, m, v float64
		qs := map[string]bool{}
		for _, l := range win {
			s += mean(l.Rewards)
			p += l.ProposerReward
			if l.Malformed {
				m++
			}
			if l.Valid {
				v++
			}
			qs[l.Question] = true
		}
		k := float64(len(win))
		last := win[len(win)-1]
		x = append(x, float64(last.Step+1))
		rS, rP = append(rS, s/k), append(rP, p/k)
		mal, valid, div = append(mal, m/k), append(valid, v/k), append(div, float64(len(qs))/k)
		var kl float64
		for _, l := range win {
			kl += l.KLSolver
		}
		klS = append(klS, kl/k)
		bS, bP = append(bS, math.Log10(last.BetaSolver)), append(bP, math.Log10(last.BetaProposer))
	}
	for _, l := range steps {
		if l.ProposerStep {
			xP, klP = append(xP, float64(l.Step+1)), append(klP, l.KLProposer)
		}
	}
	if err := plots.Lines(filepath.Join(dir, RewardsPlot),
		plots.Panel{Title: "rewards (window mean)", XLabel: "step", Series: []plots.Series{{Name: "solver", X: x, Y: rS}, {Name: "proposer", X: x, Y: rP}}},
		plots.Panel{Title: "proposer outputs", XLabel: "step", YLabel: "share", Series: []plots.Series{
			{Name: "malformed", X: x, Y: mal}, {Name: "valid question", X: x, Y: valid}, {Name: "distinct questions", X: x, Y: div}}},
	); err != nil {
		return err
	}
	if err := plots.Lines(filepath.Join(dir, KLPlot),
		plots.Panel{Title: "KL to reference (nats/token)", XLabel: "step", Series: []plots.Series{{Name: "solver", X: x, Y: klS}, {Name: "proposer", X: xP, Y: klP}}},
		plots.Panel{Title: "log10 beta", XLabel: "step", Series: []plots.Series{{Name: "solver", X: x, Y: bS}, {Name: "proposer", X: x, Y: bP}}},
	); err != nil {
		return err
	}
	bins, index := entropyBins(n, 6)
	var hx []float64
	var shares [][]float64
	hw := max(1, len(steps)/20)
	for lo := 0; lo < len(steps); lo += hw {
		win := steps[lo:min(lo+hw, len(steps))]
		row := make([]float64, len(bins))
		for _, l := range win {
			if i, ok := index[l.Split]; ok {
				row[i] += 1 / float64(len(win))
			}
		}
		hx = append(hx, float64(win[len(win)-1].Step+1))
		shares = append(shares, row)
	}
	if err := plots.Heatmap(filepath.Join(dir, EntropyPlot), "answer splits of the N solver samples (low to high entropy)", fmt.Sprintf("window of %d steps", hw), bins, hx, shares); err != nil {
		return err
	}
	evals, err := jsonl.Read[Eval](filepath.Join(dir, EvalsFile))
	if err != nil || len(evals) == 0 {
		return nil
	}
	var ex, g, s, mj, h, top []float64
	for _, e := range evals {
		a := e.All()
		ex = append(ex, float64(e.Step))
		g, s, mj, h, top = append(g, a.Greedy), append(s, a.Sampled), append(mj, a.Majority), append(h, a.Entropy), append(top, a.TopShare)
	}
	return plots.Lines(filepath.Join(dir, ValidationPlot),
		plots.Panel{Title: "validation accuracy", XLabel: "step", Series: []plots.Series{{Name: "greedy", X: ex, Y: g}, {Name: "sampled", X: ex, Y: s}, {Name: "majority", X: ex, Y: mj}}},
		plots.Panel{Title: "validation answers", XLabel: "step", Series: []plots.Series{{Name: "entropy (nats)", X: ex, Y: h}, {Name: "top greedy answer share", X: ex, Y: top}}},
	)
}

// entropyBins returns the histogram bins of answer splits: every partition
// of n, in order of entropy, with the closest neighbours merged until at
// most k remain (the plot palette has six colours), and each partition's bin.
func entropyBins(n, k int) ([]string, map[string]int) {
	parts := Partitions(n)
	groups := make([][]string, len(parts))
	hs := make([]float64, len(parts))
	for i, p := range parts {
		groups[i] = []string{p}
		hs[i] = partitionEntropy(p)
	}
	for len(groups) > k {
		best := 0
		for i := 1; i+1 < len(groups); i++ {
			if hs[i+1]-hs[i] < hs[best+1]-hs[best] {
				best = i
			}
		}
		groups[best] = append(groups[best], groups[best+1]...)
		groups = append(groups[:best+1], groups[best+2:]...)
		hs = append(hs[:best+1], hs[best+2:]...)
	}
	names := make([]string, len(groups))
	index := map[string]int{}
	for i, g := range groups {
		names[i] = strings.Join(g, " | ")
		for _, p := range g {
			index[p] = i
		}
	}
	return names, index
}

func partitionEntropy(p string) float64 {
	var cs []float64
	total := 0.0
	for _, f := range strings.Split(p, "+") {
		c, _ := strconv.Atoi(f)
		cs = append(cs, float64(c))
		total += float64(c)
	}
	h := 0.0
	for _, c := range cs {
		h -= c / total * math.Log(c/total)
	}
	return h
}

// Summary holds a run's training metrics from its steps.jsonl: means over
// all steps and over the last tenth (at least one step).
type Summary struct {
	Steps          int     `json:"steps"`
	SolverReward   float64 `json:"solver_reward"`
	ProposerReward float64 `json:"proposer_reward"`
	Entropy        float64 `json:"entropy"`
	Malformed      float64 `json:"malformed"`     // share of proposer outputs without a <question> tag
	Valid          float64 `json:"valid"`         // share of questions valid for their image (tasks.MatchQuestion)
	Diversity      float64 `json:"diversity"`     // distinct questions / total
	KLSolver       float64 `json:"kl_solver"`     // mean over the last tenth
	KLProposer     float64 `json:"kl_proposer"`   // mean over the last tenth's proposer steps
	BetaSolver     float64 `json:"beta_solver"`   // at the end
	BetaProposer   float64 `json:"beta_proposer"` // at the end
	LateSolver     float64 `json:"late_solver"`   // solver reward over the last tenth
	LateProposer   float64 `json:"late_proposer"` // proposer reward over the last tenth
	LateEntropy    float64 `json:"late_entropy"`  // answer entropy over the last tenth
	LateValid      float64 `json:"late_valid"`    // valid-question share over the last tenth
}

// Summarize reads a run directory's steps.jsonl.
func Summarize(dir string) (Summary, error) {
	steps, err := jsonl.Read[StepLog](filepath.Join(dir, StepsFile))
	if err != nil || len(steps) == 0 {
		return Summary{}, err
	}
	var s Summary
	s.Steps = len(steps)
	qs := map[string]bool{}
	for _, l := range steps {
		s.SolverReward += mean(l.Rewards)
		s.ProposerReward += l.ProposerReward
		s.Entropy += l.Entropy
		if l.Malformed {
			s.Malformed++
		}
		if l.Valid {
			s.Valid++
		}
		qs[l.Question] = true
	}
	n := float64(len(steps))
	s.SolverReward, s.ProposerReward, s.Entropy, s.Malformed, s.Valid = s.SolverReward/n, s.ProposerReward/n, s.Entropy/n, s.Malformed/n, s.Valid/n
	s.Diversity = float64(len(qs)) / n
	late := steps[len(steps)-max(1, len(steps)/10):]
	np := 0
	for _, l := range late {
		k := float64(len(late))
		s.KLSolver += l.KLSolver / k
		s.LateSolver += mean(l.Rewards) / k
		s.LateProposer += l.ProposerReward / k
		s.LateEntropy += l.Entropy / k
		if l.Valid {
			s.LateValid += 1 / k
		}
		if l.ProposerStep {
			s.KLProposer += l.KLProposer
			np++
		}
	}
	if np > 0 {
		s.KLProposer /= float64(np)
	}
	last := steps[len(steps)-1]
	s.BetaSolver, s.BetaProposer = last.BetaSolver, last.BetaProposer
	return s, nil
}
