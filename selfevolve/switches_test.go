package selfevolve

import (
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/kiln-ml/kiln/internal/jsonl"
)

// Every constant of shared/papers/evolmm.md is an option with the spec's
// value in Defaults; Scaled changes only the learning rate and the token
// budgets; the guards are on in both.
func TestDefaultsAreSpec(t *testing.T) {
	d := Defaults()
	for _, c := range []struct {
		name      string
		got, want float64
	}{
		{"N", float64(d.N), 5},
		{"ProposerMaxNew", float64(d.ProposerMaxNew), 128},
		{"Temperature", float64(d.Temperature), 1},
		{"Gamma", d.Gamma, 0.7},
		{"LambdaLen", d.LambdaLen, 0.10},
		{"Tau", d.Tau, 6},
		{"MuH", d.MuH, 0.90},
		{"SigmaH", d.SigmaH, 0.35},
		{"BaselineMomentum", d.BaselineMomentum, 0.9},
		{"BaselineInit", d.BaselineInit, 0},
		{"ProposerEvery", float64(d.ProposerEvery), 5},
		{"BetaInit", d.BetaInit, 1e-3},
		{"KLTarget", d.KLTarget, 0.02},
		{"BetaRate", d.BetaRate, 0.1},
		{"BetaMin", d.BetaMin, 1e-8},
		{"BetaMax", d.BetaMax, 100},
		{"LR", float64(d.LR), float64(float32(1e-6))},
		{"WeightDecay", float64(d.WeightDecay), float64(float32(0.01))},
		{"Clip", float64(d.Clip), 1},
		{"LoRARank", float64(d.LoRARank), 16},
		{"LoRAAlpha", float64(d.LoRAAlpha), 32},
		{"LoRADropout", float64(d.LoRADropout), float64(float32(0.05))},
		{"ImagePool", float64(d.ImagePool), 6000},
	} {
		if c.got != c.want {
			t.Errorf("Defaults().%s = %v, spec %v", c.name, c.got, c.want)
		}
	}
	if d.Reward != Continuous || !d.AdaptiveKL || d.FreezeProposer || d.GroupBaseline || d.ConfidenceFilter != 0 {
		t.Errorf("Defaults: reward %q adaptive %v frozen %v group %v filter %v", d.Reward, d.AdaptiveKL, d.FreezeProposer, d.GroupBaseline, d.ConfidenceFilter)
	}
	for _, kind := range []string{"attn.q_proj", "attn.k_proj", "attn.v_proj", "attn.o_proj", "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"} {
		if !slices.ContainsFunc(d.LoRATargets, func(s string) bool { return strings.HasSuffix(s, kind) }) {
			t.Errorf("LoRA targets %v lack %s", d.LoRATargets, kind)
		}
	}
	s := Scaled()
	want := Defaults()
	want.LR, want.ProposerMaxNew, want.SolverMaxNew = s.LR, s.ProposerMaxNew, s.SolverMaxNew
	if s.LR == d.LR || !equalOptions(s, want) {
		t.Errorf("Scaled changes more than the learning rate and token budgets:\n%+v\n%+v", s, want)
	}
	for _, o := range []Options{d, s} {
		if o.Guard != GuardStop || o.EvalEvery < 1 || o.EvalItems < 1 || o.EvalSamples < 2 || o.GuardMargin <= 0 {
			t.Errorf("guard not on by default: %+v", o)
		}
	}
}

func equalOptions(a, b Options) bool { return reflect.DeepEqual(a, b) }

// The guard is on, logs its action in evals.jsonl (with the per-family
// answer histograms and entropies) and restores the best validation
// weights; GuardStop ends the run at once, GuardRollback goes on until
// MaxRollbacks is exceeded. A negative margin makes every non-improving
// validation a "fall".
func TestGuard(t *testing.T) {
	for _, c := range []struct {
		action    GuardAction
		rollbacks int
	}{{GuardStop, 1}, {GuardRollback, 3}} {
		o := tinyOptions()
		o.Steps, o.EvalEvery, o.SaveEvery = 8, 1, 0
		o.Guard, o.GuardMargin, o.MaxRollbacks = c.action, -2, 2
		o.Dir = t.TempDir()
		tr := tiny(t, o)
		initial := snapshot(tr.AdapterParams(Solver))
		initialP := snapshot(tr.AdapterParams(Proposer))
		if err := tr.Run(); err != nil {
			t.Fatal(err)
		}
		if tr.S.Stopped == "" || tr.S.Rollbacks != c.rollbacks || tr.S.Step != c.rollbacks || tr.S.BestStep != 0 {
			t.Fatalf("%s: state %+v, want stopped after %d falls", c.action, tr.S, c.rollbacks)
		}
		// The best weights are the initial ones: both adapters are back there.
		if changed(tr.AdapterParams(Solver), initial) || changed(tr.AdapterParams(Proposer), initialP) {
			t.Errorf("%s: the adapters were not restored to the best validation weights", c.action)
		}
		// ... and so is the rest of the training state: AdamW's moments and
		// step counts, beta and the moving baseline per role.
		if d := diffTraining(captureTraining(tr), captureTraining(tiny(t, o))); d != nil {
			t.Errorf("%s: after the guard's restore %v differ from the step-0 state", c.action, d)
		}
		steps, err := jsonl.Read[StepLog](filepath.Join(o.Dir, StepsFile))
		if err != nil || len(steps) != c.rollbacks {
			t.Fatalf("%s: %d step lines, %v", c.action, len(steps), err)
		}
		evals, err := jsonl.Read[Eval](filepath.Join(o.Dir, EvalsFile))
		if err != nil || len(evals) != c.rollbacks+1 {
			t.Fatalf("%s: %d eval lines, %v", c.action, len(evals), err)
		}
		for i, e := range evals {
			wantGuard, wantStop := i > 0, i == len(evals)-1
			if (e.Guard != "") != wantGuard || strings.HasSuffix(e.Guard, "stopped") != wantStop {
				t.Errorf("%s: eval %d guard %q", c.action, i, e.Guard)
			}
			if len(e.Families) < 2 {
				t.Errorf("%s: eval %d has no per-family rows", c.action, i)
			}
			for _, f := range e.Families {
				n := 0
				for _, k := range f.Answers {
					n += k
				}
				if n != f.N || f.Entropy < 0 || math.IsNaN(f.Entropy) {
					t.Errorf("%s: eval %d family %s: histogram of %d answers for %d items, entropy %v", c.action, i, f.Family, n, f.N, f.Entropy)
				}
			}
		}
		// The checkpoint holds the stop: resuming does not train on.
		tr2 := tiny(t, o)
		if err := tr2.Run(); err != nil || tr2.S.Step != c.rollbacks || tr2.S.Stopped == "" {
			t.Errorf("%s: resumed a stopped run: step %d stopped %q err %v", c.action, tr2.S.Step, tr2.S.Stopped, err)
		}
	}
}

// The confidence filter skips exactly the questions whose majority share is
// below the threshold; a threshold above 1 skips every solver update.
func TestConfidenceFilter(t *testing.T) {
	o := tinyOptions()
	o.Steps, o.EvalItems, o.ConfidenceFilter = 6, 0, 0.6
	tr := tiny(t, o)
	for range o.Steps {
		lg, err := tr.Step()
		if err != nil {
			t.Fatal(err)
		}
		want := float64(lg.Majority)/float64(o.N) < o.ConfidenceFilter
		if lg.Filtered != want || lg.Filtered && (len(lg.Advantages) > 0 || lg.KLSolver != 0) {
			t.Errorf("step %d: majority %d of %d, filtered %v, advantages %v", lg.Step, lg.Majority, o.N, lg.Filtered, lg.Advantages)
		}
	}
	// At the boundary: a share equal to the threshold is kept, one below
	// it is skipped (step 0 samples before any update, so the same answers).
	o.ConfidenceFilter = 0
	lg0, err := tiny(t, o).Step()
	if err != nil {
		t.Fatal(err)
	}
	share := float64(lg0.Majority) / float64(o.N)
	for _, c := range []struct {
		threshold float64
		filtered  bool
	}{{share, false}, {share + 1e-9, true}} {
		o.ConfidenceFilter = c.threshold
		lg, err := tiny(t, o).Step()
		if err != nil {
			t.Fatal(err)
		}
		if lg.Majority != lg0.Majority || lg.Filtered != c.filtered {
			t.Errorf("majority %d of %d, threshold %v: filtered %v, want %v", lg.Majority, o.N, c.threshold, lg.Filtered, c.filtered)
		}
	}
	o.ConfidenceFilter = 1.01
	tr = tiny(t, o)
	before := snapshot(tr.AdapterParams(Solver))
	for range 2 {
		lg, err := tr.Step()
		if err != nil {
			t.Fatal(err)
		}
		if !lg.Filtered {
			t.Errorf("step %d not filtered at threshold 1.01", lg.Step)
		}
	}
	if changed(tr.AdapterParams(Solver), before) || tr.S.Baseline[Solver] != 0 {
		t.Errorf("filtered steps moved the solver (baseline %v)", tr.S.Baseline[Solver])
	}
}

// The group baseline centres each question's solver rewards on their mean
// and leaves the solver's moving baseline alone; the default moving
// baseline starts at BaselineInit and follows b <- m b + (1-m) r.
func TestBaselines(t *testing.T) {
	o := tinyOptions()
	o.Steps, o.EvalItems, o.GroupBaseline = 3, 0, true
	tr := tiny(t, o)
	for range o.Steps {
		lg, err := tr.Step()
		if err != nil {
			t.Fatal(err)
		}
		if len(lg.Advantages) != o.N {
			continue // an empty completion is not trained on
		}
		m := mean(lg.Rewards)
		for i, a := range lg.Advantages {
			if math.Abs(a-(lg.Rewards[i]-m)) > 1e-12 {
				t.Errorf("step %d sample %d: advantage %v, reward %v, group mean %v", lg.Step, i, a, lg.Rewards[i], m)
			}
		}
		if lg.BaseSolver != 0 {
			t.Errorf("step %d: group baseline moved the solver's moving baseline to %v", lg.Step, lg.BaseSolver)
		}
	}
	o.GroupBaseline, o.BaselineInit = false, 0.25
	tr = tiny(t, o)
	lg, err := tr.Step()
	if err != nil {
		t.Fatal(err)
	}
	if len(lg.Advantages) != o.N {
		t.Fatalf("%d of %d samples trained on", len(lg.Advantages), o.N)
	}
	b := 0.25
	for i, a := range lg.Advantages {
		if math.Abs(a-(lg.Rewards[i]-b)) > 1e-12 {
			t.Errorf("sample %d: advantage %v, reward %v, baseline %v", i, a, lg.Rewards[i], b)
		}
		b = 0.9*b + 0.1*lg.Rewards[i]
	}
	if math.Abs(lg.BaseSolver-b) > 1e-12 || math.Abs(lg.BaseProposer-(0.9*0.25+0.1*lg.ProposerReward)) > 1e-12 {
		t.Errorf("baselines solver %v (want %v) proposer %v", lg.BaseSolver, b, lg.BaseProposer)
	}
}

// In the loop, the proposer's adapter moves on its steps (every K outer
// steps) and only then; frozen, it never moves and takes no step.
func TestProposerTrainsInLoop(t *testing.T) {
	for _, frozen := range []bool{false, true} {
		o := tinyOptions()
		o.Steps, o.EvalItems, o.ProposerEvery, o.FreezeProposer = 4, 0, 2, frozen
		tr := tiny(t, o)
		initial := snapshot(tr.AdapterParams(Proposer))
		for k := range o.Steps {
			p, s := snapshot(tr.AdapterParams(Proposer)), snapshot(tr.AdapterParams(Solver))
			lg, err := tr.Step()
			if err != nil {
				t.Fatal(err)
			}
			due := !frozen && (k+1)%o.ProposerEvery == 0
			if lg.ProposerStep != due || changed(tr.AdapterParams(Proposer), p) != due {
				t.Errorf("frozen %v step %d: proposer step %v, adapter changed %v, want %v", frozen, k, lg.ProposerStep, changed(tr.AdapterParams(Proposer), p), due)
			}
			if !changed(tr.AdapterParams(Solver), s) {
				t.Errorf("frozen %v step %d: the solver did not move", frozen, k)
			}
		}
		if changed(tr.AdapterParams(Proposer), initial) == frozen {
			t.Errorf("frozen %v: proposer adapter changed over the run: %v", frozen, !frozen)
		}
	}
}

// A run that died after its checkpoint (logs written past it, the last one
// cut short) resumes with those lines dropped and ends with the logs of an
// uninterrupted run.
func TestResumeDropsLogsPastCheckpoint(t *testing.T) {
	base := t.TempDir()
	o := tinyOptions()
	o.Guard = GuardOff
	o.Dir = filepath.Join(base, "a")
	if err := tiny(t, o).Run(); err != nil {
		t.Fatal(err)
	}
	o.Dir = filepath.Join(base, "b")
	o.Steps = 2
	if err := tiny(t, o).Run(); err != nil {
		t.Fatal(err)
	}
	// What a crashed run would have left after the step-2 checkpoint.
	la, _ := os.ReadFile(filepath.Join(base, "a", StepsFile))
	ea, _ := os.ReadFile(filepath.Join(base, "a", EvalsFile))
	lines := strings.SplitAfter(string(la), "\n")
	evals := strings.SplitAfter(string(ea), "\n")
	appendTo := func(name, s string) {
		f, err := os.OpenFile(filepath.Join(o.Dir, name), os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if _, err := f.WriteString(s); err != nil {
			t.Fatal(err)
		}
	}
	// The crash cut the next line short.
	appendTo(StepsFile, lines[2]+lines[3]+lines[3][:len(lines[3])/2])
	appendTo(EvalsFile, evals[2])
	o.Steps = 4
	if err := tiny(t, o).Run(); err != nil {
		t.Fatal(err)
	}
	sa, _ := jsonl.Read[StepLog](filepath.Join(base, "a", StepsFile))
	sb, _ := jsonl.Read[StepLog](filepath.Join(base, "b", StepsFile))
	if len(sa) != 4 || len(sb) != 4 {
		t.Fatalf("%d vs %d step lines", len(sa), len(sb))
	}
	for i := range sa {
		if sa[i].Step != sb[i].Step || sa[i].Question != sb[i].Question || !slices.Equal(sa[i].Answers, sb[i].Answers) || sa[i].KLSolver != sb[i].KLSolver {
			t.Errorf("step line %d differs after resume", i)
		}
	}
	va, _ := jsonl.Read[Eval](filepath.Join(base, "a", EvalsFile))
	vb, _ := jsonl.Read[Eval](filepath.Join(base, "b", EvalsFile))
	if len(va) != 3 || len(vb) != 3 {
		t.Fatalf("%d vs %d eval lines", len(va), len(vb))
	}
	for i := range va {
		if va[i].Step != vb[i].Step || va[i].All().Greedy != vb[i].All().Greedy || va[i].All().Entropy != vb[i].All().Entropy {
			t.Errorf("eval line %d differs after resume: %+v vs %+v", i, va[i].All(), vb[i].All())
		}
	}
}
