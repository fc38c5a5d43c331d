package selfevolve

import (
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/kiln-ml/kiln/internal/jsonl"
	"github.com/kiln-ml/kiln/nn"
	"github.com/kiln-ml/kiln/tensor"
	"github.com/kiln-ml/kiln/vision"
	"github.com/kiln-ml/kiln/vision/policy"
	"github.com/kiln-ml/kiln/vision/tasks"
	"github.com/kiln-ml/kiln/vision/tokenizer"
	"github.com/kiln-ml/kiln/vision/train"
)

var (
	tokOnce sync.Once
	tok     *tokenizer.Tokenizer
	tokErr  error
)

// tiny builds a tiny untrained VLM over the task world with the EvoLMM
// trainer around it; the same arguments give the same objects.
func tiny(t *testing.T, o Options) *Trainer {
	t.Helper()
	m, chat, trainS, valS := tinyModel(t)
	tr, err := New(m, chat, trainS, valS, o)
	if err != nil {
		t.Fatal(err)
	}
	tr.Cfg = m.Cfg
	return tr
}

func tinyModel(t *testing.T) (*vision.VLM, *vision.Chat, train.Stream, train.Stream) {
	t.Helper()
	trainS, err := tasks.NewStream(tasks.DefaultConfig(), tasks.Train, 1)
	if err != nil {
		t.Fatal(err)
	}
	valS, err := tasks.NewStream(tasks.DefaultConfig(), tasks.Validation, 1)
	if err != nil {
		t.Fatal(err)
	}
	tokOnce.Do(func() {
		tok, tokErr = tokenizer.Train(train.Corpus(trainS, 30), tokenizer.TrainConfig{VocabSize: 300})
	})
	if tokErr != nil {
		t.Fatal(tokErr)
	}
	img, _ := tok.SpecialID(tokenizer.Image)
	cfg := vision.DemoConfig(tok.VocabSize(), img)
	cfg.ImageSize, cfg.PatchSize = 16, 4
	cfg.VitDim, cfg.VitLayers, cfg.VitHeads, cfg.VitMLP = 16, 1, 2, 32
	cfg.LMDim, cfg.LMLayers, cfg.LMHeads, cfg.LMKVHeads, cfg.LMHidden = 16, 1, 2, 1, 32
	cfg.MaxSeq = 160
	m, err := vision.New(cfg, 3)
	if err != nil {
		t.Fatal(err)
	}
	chat, err := vision.NewChat(tok, cfg.ImageTokens())
	if err != nil {
		t.Fatal(err)
	}
	return m, chat, train.TaskStream{S: trainS}, train.TaskStream{S: valS}
}

func tinyOptions() Options {
	o := Scaled()
	o.Steps, o.N = 4, 5
	o.ProposerMaxNew, o.SolverMaxNew = 12, 16
	o.LR = 1e-2
	o.LoRARank, o.LoRAAlpha = 4, 8
	o.ProposerEvery = 2
	o.ImagePool = 16
	o.EvalEvery, o.EvalItems, o.EvalSamples = 2, 4, 2
	o.SaveEvery = 2
	return o
}

func snapshot(ps []*nn.Param) [][]float32 {
	out := make([][]float32, len(ps))
	for i, q := range ps {
		out[i] = q.T.ToSlice()
	}
	return out
}

func changed(ps []*nn.Param, before [][]float32) bool {
	for i, q := range ps {
		for j, v := range q.T.ToSlice() {
			if math.Float32bits(v) != math.Float32bits(before[i][j]) {
				return true
			}
		}
	}
	return false
}

// rollout samples one completion of a role's prompt on image 0.
func rollout(t *testing.T, tr *Trainer, role string) (policy.Rollout, *tensor.Tensor) {
	t.Helper()
	it := tr.Images.Item(0)
	img, err := train.Images([]train.Item{it}, tr.Model.Cfg.ImageSize)
	if err != nil {
		t.Fatal(err)
	}
	msgs := []tasks.Message{tasks.ProposerUser()}
	if role == Solver {
		msgs = []tasks.Message{tasks.SolverUser(it.Task.Question)}
	}
	prompt := tr.Chat.Prompt(toVision(msgs))
	var s vision.Sample
	tr.Model.P.WithAdapter(role, func() {
		s = tr.Model.Generate(img, [][]int{prompt}, vision.SampleOpts{MaxNew: 8, Temperature: 1, RNG: tensor.NewRNG(5)})[0]
	})
	return policy.Rollout{Prompt: prompt, Completion: s.Tokens}, img
}

// Defect 2 of the authors' trainer: the proposer must really train. A
// proposer step moves the proposer adapter and leaves the solver's alone,
// and the other way round.
func TestEachRoleUpdatesOnlyItsAdapter(t *testing.T) {
	tr := tiny(t, tinyOptions())
	for _, c := range []struct{ role, other string }{{Proposer, Solver}, {Solver, Proposer}, {Proposer, Solver}} {
		r, img := rollout(t, tr, c.role)
		mine, others := snapshot(tr.AdapterParams(c.role)), snapshot(tr.AdapterParams(c.other))
		base := tr.Model.P.Get("lm.layers.0.attn.q_proj.weight").T.ToSlice()
		if _, _, err := tr.update(c.role, r, img, 1); err != nil {
			t.Fatal(err)
		}
		if !changed(tr.AdapterParams(c.role), mine) {
			t.Errorf("%s step: the %s adapter did not change", c.role, c.role)
		}
		if changed(tr.AdapterParams(c.other), others) {
			t.Errorf("%s step: the %s adapter changed", c.role, c.other)
		}
		if !slices.Equal(base, tr.Model.P.Get("lm.layers.0.attn.q_proj.weight").T.ToSlice()) {
			t.Errorf("%s step: a base weight changed", c.role)
		}
	}
}

// Defect 1 of the authors' trainer: the reference is the base model with
// adapters off, so the KL is 0 before any update and positive after a few.
func TestKLPositiveAfterUpdates(t *testing.T) {
	tr := tiny(t, tinyOptions())
	r, img := rollout(t, tr, Solver)
	kl0, _, err := tr.update(Solver, r, img, 1)
	if err != nil {
		t.Fatal(err)
	}
	if kl0 > 1e-6 {
		t.Errorf("KL before any update = %g, want 0 (B = 0)", kl0)
	}
	for range 2 {
		if _, _, err := tr.update(Solver, r, img, 1); err != nil {
			t.Fatal(err)
		}
	}
	kl, _, err := tr.update(Solver, r, img, 1)
	if err != nil {
		t.Fatal(err)
	}
	if !(kl > 1e-5) {
		t.Errorf("KL after 3 updates = %g, want > 0", kl)
	}
	// The KL is measured against the adapters-off model, not the adapter:
	// the same computation with the solver as its own reference is 0.
	b := policy.NewBatch([]policy.Rollout{r}, img, tr.Chat.PadID())
	var self float32
	tensor.NoGrad(func() {
		tr.Model.P.WithAdapter(Solver, func() {
			lp := tr.Model.LogProbs(b.Batch)
			self = policy.MaskedMean(policy.ExactKL(lp, lp), b.Mask).Item()
		})
	})
	if math.Abs(float64(self)) > 1e-6 {
		t.Errorf("KL of the policy to itself = %g", self)
	}
	// KL below the 0.02 target: the controller lowers beta at every step.
	if b := tr.S.Beta[Solver]; !(b < tinyOptions().BetaInit) {
		t.Errorf("beta %g did not fall below %g with KL %g under target", b, tinyOptions().BetaInit, kl)
	}
}

// The loop end to end: proposals, answers, rewards, both roles' steps,
// validation, checkpoints, logs and plots.
func TestLoopEndToEnd(t *testing.T) {
	o := tinyOptions()
	o.Dir = t.TempDir()
	tr := tiny(t, o)
	if err := tr.Run(); err != nil {
		t.Fatal(err)
	}
	steps, err := jsonl.Read[StepLog](filepath.Join(o.Dir, StepsFile))
	if err != nil || len(steps) != 4 {
		t.Fatalf("steps.jsonl: %d lines, %v", len(steps), err)
	}
	pSteps := 0
	for _, l := range steps {
		if len(l.Answers) != 5 || len(l.Rewards) != 5 || l.Question == "" {
			t.Errorf("step %d: incomplete log %+v", l.Step, l)
		}
		if l.ProposerStep {
			pSteps++
		}
	}
	if pSteps != 2 {
		t.Errorf("%d proposer steps in 4 outer steps with K=2, want 2", pSteps)
	}
	if steps[3].KLSolver <= 0 {
		t.Errorf("solver KL at step 3 = %g", steps[3].KLSolver)
	}
	evals, err := jsonl.Read[Eval](filepath.Join(o.Dir, EvalsFile))
	if err != nil || len(evals) != 3 {
		t.Fatalf("evals.jsonl: %d lines, %v", len(evals), err)
	}
	for _, f := range []string{RewardsPlot, KLPlot, EntropyPlot, ValidationPlot, filepath.Join(CheckpointDir, "checkpoint.json")} {
		if _, err := os.Stat(filepath.Join(o.Dir, f)); err != nil {
			t.Error(err)
		}
	}
}

// A run stopped at a checkpoint and resumed in fresh objects ends bitwise
// where an uninterrupted run ends, with the same logs.
func TestResume(t *testing.T) {
	base := t.TempDir()
	o := tinyOptions()
	o.Guard = GuardOff
	o.Dir = filepath.Join(base, "a")
	a := tiny(t, o)
	if err := a.Run(); err != nil {
		t.Fatal(err)
	}
	o.Dir = filepath.Join(base, "b")
	o.Steps = 2
	if err := tiny(t, o).Run(); err != nil {
		t.Fatal(err)
	}
	o.Steps = 4
	b := tiny(t, o)
	if err := b.Run(); err != nil {
		t.Fatal(err)
	}
	for _, q := range a.Model.P.All() {
		x, y := q.T.ToSlice(), b.Model.P.Get(q.Name).T.ToSlice()
		for i := range x {
			if math.Float32bits(x[i]) != math.Float32bits(y[i]) {
				t.Fatalf("%s differs after resume", q.Name)
			}
		}
	}
	la, _ := jsonl.Read[StepLog](filepath.Join(base, "a", StepsFile))
	lb, _ := jsonl.Read[StepLog](filepath.Join(base, "b", StepsFile))
	if len(la) != len(lb) {
		t.Fatalf("%d vs %d log lines", len(la), len(lb))
	}
	for i := range la {
		if la[i].Question != lb[i].Question || !slices.Equal(la[i].Answers, lb[i].Answers) || la[i].KLSolver != lb[i].KLSolver {
			t.Errorf("step %d differs after resume", i)
		}
	}
}

// The exported solver (adapter merged into a plain model) computes what the
// model with the solver adapter computes.
func TestMergedSolver(t *testing.T) {
	tr := tiny(t, tinyOptions())
	r, img := rollout(t, tr, Solver)
	for range 3 {
		if _, _, err := tr.update(Solver, r, img, 1); err != nil {
			t.Fatal(err)
		}
	}
	merged, err := MergedSolver(tr.Model)
	if err != nil {
		t.Fatal(err)
	}
	b := policy.NewBatch([]policy.Rollout{r}, img, tr.Chat.PadID())
	var want, got, base []float32
	tensor.NoGrad(func() {
		tr.Model.P.WithAdapter(Solver, func() { want = tr.Model.Forward(b.Batch).ToSlice() })
		tr.Model.P.WithAdaptersDisabled(func() { base = tr.Model.Forward(b.Batch).ToSlice() })
		got = merged.Forward(b.Batch).ToSlice()
	})
	diff, moved := 0.0, 0.0
	for i := range want {
		diff = math.Max(diff, math.Abs(float64(want[i]-got[i])))
		moved = math.Max(moved, math.Abs(float64(want[i]-base[i])))
	}
	if diff > 1e-4 || moved < 1e-4 {
		t.Errorf("merged vs adapter: max diff %g (adapter moved logits by %g)", diff, moved)
	}
}

func TestAblationRunsAndResumes(t *testing.T) {
	o := tinyOptions()
	o.Steps, o.EvalEvery = 2, 1
	_, _, imgs, val := tinyModel(t)
	a := AblationOptions{
		Load: func() (*vision.VLM, *vision.Chat, error) {
			m, chat, _, _ := tinyModel(t)
			return m, chat, nil
		},
		Opt: o, Variants: []Variant{Variants[0], Variants[2]}, Seeds: []uint64{1, 2},
		Images: imgs, Val: val, Test: val, TestItems: 4, TestSamples: 2, Dir: t.TempDir(),
	}
	runs, err := RunAblation(a)
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 4 || runs[2].Variant != "continuous" || runs[2].Steps != 2 || runs[2].Train.Steps != 2 {
		t.Fatalf("runs %+v", runs)
	}
	table := AblationTable(runs)
	if !strings.Contains(table, "| base | 2 |") || !strings.Contains(table, "| continuous | 2 |") {
		t.Errorf("table:\n%s", table)
	}
	// A second call reads the results instead of training again.
	again, err := RunAblation(a)
	if err != nil || AblationTable(again) != table {
		t.Errorf("rerun: %v\n%s", err, AblationTable(again))
	}
}

func TestQuick(t *testing.T) {
	m, chat, _, _ := tinyModel(t)
	before, after, err := Quick(m, chat, 2, 4, nil)
	if err != nil {
		t.Fatal(err)
	}
	if before.All().N != 4 || after.All().N != 4 || m.P.ActiveAdapter() != Solver {
		t.Errorf("before %+v after %+v adapter %q", before.All(), after.All(), m.P.ActiveAdapter())
	}
}

// The updates' arena changes where their tensors live, not what they hold:
// runs with it and without (PlainAlloc) end with the same adapters and logs
// bit for bit.
func TestUpdateArenaSameBits(t *testing.T) {
	base := t.TempDir()
	o := tinyOptions()
	o.Guard = GuardOff
	o.Dir = filepath.Join(base, "arena")
	a := tiny(t, o)
	if err := a.Run(); err != nil {
		t.Fatal(err)
	}
	o.Dir, o.PlainAlloc = filepath.Join(base, "plain"), true
	p := tiny(t, o)
	if err := p.Run(); err != nil {
		t.Fatal(err)
	}
	if a.arena == nil || p.arena != nil {
		t.Fatalf("arena use: %v with it, %v without", a.arena != nil, p.arena != nil)
	}
	if st := a.arena.Stats(); st.Reused == 0 {
		t.Fatalf("the updates reused no arena buffer: %+v", st)
	}
	for _, q := range p.Model.P.All() {
		if !sameBits(q.T.ToSlice(), a.Model.P.Get(q.Name).T.ToSlice()) {
			t.Fatalf("%s differs with the arena", q.Name)
		}
	}
	la, _ := jsonl.Read[StepLog](filepath.Join(base, "arena", StepsFile))
	lp, _ := jsonl.Read[StepLog](filepath.Join(base, "plain", StepsFile))
	if len(la) != len(lp) || len(la) == 0 {
		t.Fatalf("%d vs %d log lines", len(la), len(lp))
	}
	for i := range lp {
		la[i].Seconds, lp[i].Seconds = 0, 0
		if diff := cmp.Diff(lp[i], la[i]); diff != "" {
			t.Fatalf("step %d differs with the arena (-plain +arena):\n%s", i+1, diff)
		}
	}
}
