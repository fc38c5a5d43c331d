package selfevolve

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/kiln-ml/kiln/internal/atomicfile"
	"github.com/kiln-ml/kiln/tensor"
	"github.com/kiln-ml/kiln/vision"
	"github.com/kiln-ml/kiln/vision/tasks"
	"github.com/kiln-ml/kiln/vision/train"
)

// Variant is one row of the ablation table.
type Variant struct {
	Name           string
	Train          bool // false: the base model as loaded
	Reward         RewardKind
	FreezeProposer bool
	GroupBaseline  bool
}

// Variants are the paper's ablation rows: the base model, the discrete
// reward, EvoLMM's continuous reward, and continuous with a frozen proposer.
var Variants = []Variant{
	{Name: "base"},
	{Name: "discrete", Train: true, Reward: Discrete},
	{Name: "continuous", Train: true, Reward: Continuous},
	{Name: "continuous-frozen-proposer", Train: true, Reward: Continuous, FreezeProposer: true},
}

// GroupVariant is the GRPO-style group baseline, reported separately.
var GroupVariant = Variant{Name: "continuous-group-baseline", Train: true, Reward: Continuous, GroupBaseline: true}

// AblationOptions configures RunAblation.
type AblationOptions struct {
	// Load returns a fresh copy of the base model for each run.
	Load     func() (*vision.VLM, *vision.Chat, error)
	Opt      Options // every run's options (Reward, FreezeProposer, GroupBaseline, Seed, Dir are set per run)
	Variants []Variant
	Seeds    []uint64
	// Images(seed) is the unlabeled image stream; Val the validation
	// stream of the guard; Test the held-out stream of the table.
	Images      train.Stream
	Val, Test   train.Stream
	TestItems   int
	TestSamples int
	// Last reports the last weights instead of the best validation ones.
	Last     bool
	Dir      string
	Files    map[string][]byte // checkpoint files (tokenizer.json)
	Cfg      any
	Progress io.Writer
}

// AblationRun is the result of one variant and seed (result.json in its
// directory; a run with one is not repeated).
type AblationRun struct {
	Variant string `json:"variant"`
	Seed    uint64 `json:"seed"`
	// Test is the reported weights' test evaluation: the best validation
	// weights (unless AblationOptions.Last); TestLast the last weights'.
	Test     Eval    `json:"test"`
	TestLast Eval    `json:"test_last"`
	Steps    int     `json:"steps"`
	BestStep int     `json:"best_step"`
	Stopped  string  `json:"stopped,omitempty"`
	Seconds  float64 `json:"seconds"` // training wall time
	Train    Summary `json:"train"`
}

const resultFile = "result.json"

// RunAblation runs every variant for every seed and returns the results.
func RunAblation(a AblationOptions) ([]AblationRun, error) {
	var runs []AblationRun
	for _, v := range a.Variants {
		for _, seed := range a.Seeds {
			dir := filepath.Join(a.Dir, fmt.Sprintf("%s-s%d", v.Name, seed))
			if b, err := os.ReadFile(filepath.Join(dir, resultFile)); err == nil {
				var r AblationRun
				if err := json.Unmarshal(b, &r); err != nil {
					return nil, fmt.Errorf("%s: %w", filepath.Join(dir, resultFile), err)
				}
				if len(r.TestLast.Families) == 0 { // written before TestLast existed
					r.TestLast = r.Test
				}
				runs = append(runs, r)
				continue
			} else if !errors.Is(err, os.ErrNotExist) {
				return nil, err
			}
			if a.Progress != nil {
				fmt.Fprintf(a.Progress, "ablation: %s seed %d\n", v.Name, seed)
			}
			r, err := runVariant(a, v, seed, dir)
			if err != nil {
				return nil, fmt.Errorf("ablation %s seed %d: %w", v.Name, seed, err)
			}
			b, _ := json.MarshalIndent(r, "", "  ")
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return nil, err
			}
			if err := atomicfile.WriteFile(filepath.Join(dir, resultFile), func(w io.Writer) error { _, err := w.Write(append(b, '\n')); return err }); err != nil {
				return nil, err
			}
			runs = append(runs, r)
		}
	}
	return runs, nil
}

func runVariant(a AblationOptions, v Variant, seed uint64, dir string) (AblationRun, error) {
	m, chat, err := a.Load()
	if err != nil {
		return AblationRun{}, err
	}
	r := AblationRun{Variant: v.Name, Seed: seed}
	eo := EvalOptions{Items: a.TestItems, Samples: a.TestSamples, MaxNew: a.Opt.SolverMaxNew, Seed: seed, Arena: evalArena(a.Opt)}
	if !v.Train {
		r.Test = Evaluate(m, chat, a.Test, eo)
		r.TestLast = r.Test
		return r, nil
	}
	o := a.Opt
	o.Reward, o.FreezeProposer, o.GroupBaseline, o.Seed, o.Dir, o.Progress = v.Reward, v.FreezeProposer, v.GroupBaseline, seed, dir, a.Progress
	t, err := New(m, chat, a.Images, a.Val, o)
	if err != nil {
		return r, err
	}
	t.Files, t.Cfg = a.Files, a.Cfg
	start := time.Now()
	if err := t.Run(); err != nil {
		return r, err
	}
	r.Steps, r.BestStep, r.Stopped, r.Seconds = t.S.Step, t.S.BestStep, t.S.Stopped, t.S.Seconds
	if r.Seconds == 0 {
		r.Seconds = time.Since(start).Seconds()
	}
	if r.Train, err = Summarize(dir); err != nil {
		return r, err
	}
	// A guard stop already restored the best weights: then they are the last.
	m.P.WithAdapter(Solver, func() { r.TestLast = Evaluate(m, chat, a.Test, eo) })
	r.Test = r.TestLast
	if !a.Last && t.S.Stopped == "" && t.S.BestStep != t.S.Step {
		t.RestoreBest()
		m.P.WithAdapter(Solver, func() { r.Test = Evaluate(m, chat, a.Test, eo) })
	}
	return r, nil
}

// AblationTable formats runs as a Markdown table: per variant, held-out
// greedy accuracy of the reported weights per family and overall as mean ±
// standard deviation over seeds, their sampled and majority accuracy and
// answer entropy (overall, mean), the overall greedy accuracy of the last
// weights, steps, the step of the reported weights, and training wall time.
// A family without test items shows "–" (the mean is over the seeds that
// scored it).
func AblationTable(runs []AblationRun) string {
	var order []string
	by := map[string][]AblationRun{}
	for _, r := range runs {
		if by[r.Variant] == nil {
			order = append(order, r.Variant)
		}
		by[r.Variant] = append(by[r.Variant], r)
	}
	fams := []string{}
	for _, f := range tasks.Families {
		fams = append(fams, string(f))
	}
	fams = append(fams, string(tasks.AllFamilies))
	var b strings.Builder
	fmt.Fprintf(&b, "| variant | seeds |")
	for _, f := range fams {
		fmt.Fprintf(&b, " %s |", f)
	}
	fmt.Fprintf(&b, " sampled | maj@N | entropy | all, last weights | steps | best step | train time |\n|---|---|")
	for range fams {
		b.WriteString("---|")
	}
	b.WriteString("---|---|---|---|---|---|---|\n")
	for _, v := range order {
		rs := by[v]
		fmt.Fprintf(&b, "| %s | %d |", v, len(rs))
		for _, f := range fams {
			var xs []float64
			for _, r := range rs {
				if fe := r.Test.Family(f); fe.N > 0 {
					xs = append(xs, 100*fe.Greedy)
				}
			}
			if len(xs) == 0 {
				b.WriteString(" – |") // no test item of this family
				continue
			}
			mu, sd := meanStd(xs)
			fmt.Fprintf(&b, " %.1f ± %.1f |", mu, sd)
		}
		var s, mj, h, last, steps, best, secs []float64
		for _, r := range rs {
			all := r.Test.All()
			s, mj, h = append(s, 100*all.Sampled), append(mj, 100*all.Majority), append(h, all.Entropy)
			last = append(last, 100*r.TestLast.All().Greedy)
			steps, best, secs = append(steps, float64(r.Steps)), append(best, float64(r.BestStep)), append(secs, r.Seconds)
		}
		ms, _ := meanStd(s)
		mm, _ := meanStd(mj)
		mh, _ := meanStd(h)
		st, _ := meanStd(steps)
		bs, _ := meanStd(best)
		sc, _ := meanStd(secs)
		ml, sl := meanStd(last)
		fmt.Fprintf(&b, " %.1f | %.1f | %.3f | %.1f ± %.1f | %.0f | %.0f | %s |\n", ms, mm, mh, ml, sl, st, bs, (time.Duration(sc) * time.Second).String())
	}
	return b.String()
}

// meanStd returns the mean and the sample standard deviation (0 for one value).
func meanStd(xs []float64) (float64, float64) {
	if len(xs) == 0 {
		return 0, 0
	}
	mu := mean(xs)
	if len(xs) == 1 {
		return mu, 0
	}
	ss := 0.0
	for _, x := range xs {
		ss += (x - mu) * (x - mu)
	}
	return mu, math.Sqrt(ss / float64(len(xs)-1))
}

// MergedSolver returns a copy of m's base model with the solver adapter
// folded into its weights (a plain VLM that kiln eval and the bundle
// format load).
func MergedSolver(m *vision.VLM) (*vision.VLM, error) {
	out, err := vision.New(m.Cfg, 0)
	if err != nil {
		return nil, err
	}
	for _, q := range out.P.All() {
		src := m.P.Get(q.Name)
		if src == nil {
			return nil, fmt.Errorf("selfevolve: merge: %s missing", q.Name)
		}
		copy(q.T.Data(), src.T.ToSlice())
	}
	for _, l := range m.P.Linears() {
		ad := l.Adapter(Solver)
		if ad == nil {
			continue
		}
		tensor.NoGrad(func() {
			d := ad.B.MatMul(ad.A).MulScalar(ad.Scale()).ToSlice()
			w := out.P.Get(l.Name + ".weight").T.Data()
			for i := range w {
				w[i] += d[i]
			}
		})
	}
	return out, nil
}

// Quick is a short self-evolution for kiln demo: the held-out greedy,
// sampled and majority accuracy of m on the first items of the test stream
// before and after steps outer steps (Scaled options, guard on with a
// validation every steps/2), the best validation weights kept in m's solver
// adapter.
func Quick(m *vision.VLM, chat *vision.Chat, steps, items int, progress io.Writer) (before, after Eval, err error) {
	o := Scaled()
	o.Steps, o.EvalEvery, o.EvalItems, o.SaveEvery, o.Progress = steps, max(1, steps/2), items, 0, progress
	imgS, err := tasks.NewStream(tasks.DefaultConfig(), tasks.Train, o.ImageSeed)
	if err != nil {
		return before, after, err
	}
	valS, err := tasks.NewStream(tasks.DefaultConfig(), tasks.Validation, 1)
	if err != nil {
		return before, after, err
	}
	testS, err := tasks.NewStream(tasks.DefaultConfig(), tasks.Test, 1)
	if err != nil {
		return before, after, err
	}
	eo := EvalOptions{Items: items, Samples: o.N, MaxNew: o.SolverMaxNew, Seed: o.Seed, Arena: evalArena(o)}
	before = Evaluate(m, chat, train.TaskStream{S: testS}, eo)
	t, err := New(m, chat, train.TaskStream{S: imgS}, train.TaskStream{S: valS}, o)
	if err != nil {
		return before, after, err
	}
	if err := t.Run(); err != nil {
		return before, after, err
	}
	t.RestoreBest()
	m.P.UseAdapter(Solver)
	after = Evaluate(m, chat, train.TaskStream{S: testS}, eo)
	return before, after, nil
}
