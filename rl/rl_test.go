package rl

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/kiln-ml/kiln/tensor"
	"github.com/kiln-ml/kiln/vision"
	"github.com/kiln-ml/kiln/vision/tasks"
	"github.com/kiln-ml/kiln/vision/tokenizer"
	"github.com/kiln-ml/kiln/vision/train"
)

func near(a, b float64) bool { return math.Abs(a-b) < 1e-12 }

// The spec's reward table (theta 0.6, K11 -1, K01 +1, K10 +0.5, K00 -0.5),
// computed by hand from R = R_base + R_dyn(P).
func TestARMRewardTable(t *testing.T) {
	cases := []struct {
		p    float64
		want Rewards
	}{
		{0, Rewards{1.6, 0.4, -1, -1}},
		{0.25, Rewards{1.35, 0.65, -0.875, -1.125}},
		{0.5, Rewards{1.1, 0.9, -0.75, -1.25}}, // the spec's worked example
		{0.6, Rewards{1, 1, -0.7, -1.3}},
		{0.75, Rewards{0.85, 1.15, -0.625, -1.375}},
		{1, Rewards{0.6, 1.4, -0.5, -1.5}},
	}
	a := DefaultARM()
	if err := a.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		r := a.Rewards(c.p)
		if !near(r.R11, c.want.R11) || !near(r.R01, c.want.R01) || !near(r.R10, c.want.R10) || !near(r.R00, c.want.R00) {
			t.Errorf("P=%v: %+v, want %+v", c.p, r, c.want)
		}
		// Hard questions pay correction more, easy ones keeping.
		if (c.p > a.Theta) != (r.R01 > r.R11) {
			t.Errorf("P=%v: R01 %v vs R11 %v on the wrong side of theta", c.p, r.R01, r.R11)
		}
		if r.Of(true, true) != r.R11 || r.Of(false, true) != r.R01 || r.Of(true, false) != r.R10 || r.Of(false, false) != r.R00 {
			t.Errorf("P=%v: Of does not pick the table", c.p)
		}
	}
	if err := (ARM{Theta: 0.6, K11: 1, K01: 1, K10: 0.5, K00: -0.5}).Validate(); err == nil {
		t.Error("K11 > 0 accepted")
	}
	if got := ErrorRate([]bool{true, false, false, true}); got != 0.5 {
		t.Errorf("error rate %v", got)
	}
}

func TestDynamicBetas(t *testing.T) {
	a := DefaultARM()
	const lambda, base = 0.05, 0.02
	for _, c := range []struct{ p, b1, b2 float64 }{
		{0, base, lambda*1.2 + base},    // easy: keeping pays 1.2 more, pin turn 2
		{0.6, base, base},               // at theta: no gap
		{1, lambda*0.8 + base, base},    // hard: correction pays 0.8 more, pin turn 1
		{0.75, lambda*0.3 + base, base}, // R01 - R11 = 2 (P - theta)
	} {
		b1, b2 := DynamicBetas(a.Rewards(c.p), lambda, base)
		if math.Abs(b1-c.b1) > 1e-12 || math.Abs(b2-c.b2) > 1e-12 {
			t.Errorf("P=%v: betas %v %v, want %v %v", c.p, b1, b2, c.b1, c.b2)
		}
	}
	// Methods: AdaPO is dynamic, the ablation fixed, no-ARM gives base.
	cfg := DefaultRewardConfig(AdaPO)
	if _, b1, b2 := cfg.Question(1, 0, 10); b1 <= b2 {
		t.Errorf("AdaPO at P=1: beta1 %v <= beta2 %v", b1, b2)
	}
	cfg.Method = NoDynKL
	if _, b1, b2 := cfg.Question(1, 0, 10); b1 != cfg.FixedBeta || b2 != cfg.FixedBeta {
		t.Errorf("no-dynkl betas %v %v", b1, b2)
	}
	cfg.Method = NoARM
	if r, b1, b2 := cfg.Question(0.3, 0, 10); r.R11 != 1 || r.R01 != 1 || r.R00 != -1 || b1 != cfg.BetaBase || b2 != cfg.BetaBase {
		t.Errorf("no-arm %+v %v %v", r, b1, b2)
	}
	cfg.Method = GRPOCorrect
	if r, _, _ := cfg.Question(0, 0, 10); r.R01 <= r.R11 {
		t.Errorf("grpo-correct pays keeping more: %+v", r)
	}
	cfg.Method = GRPOKeep
	if r, _, _ := cfg.Question(1, 0, 10); r.R11 <= r.R01 {
		t.Errorf("grpo-keep pays correction more: %+v", r)
	}
	cfg.Method = SCoRe
	if r, b1, _ := cfg.Question(0.5, 2, 10); r.R11 != r.R01 || b1 != cfg.SCoReBeta1 {
		t.Errorf("SCoRe stage I %+v beta1 %v", r, b1)
	}
	if r, _, _ := cfg.Question(0.5, 5, 10); r.R01 != 11 || r.R10 != -9 || r.R11 != 2 || r.R00 != 0 {
		t.Errorf("SCoRe stage II %+v", r)
	}
}

func TestAdvantagesAndDropping(t *testing.T) {
	r := []float64{1, 2, 3, 4, 0.5, 0.5, 0.5, 0.5, -1, 1, -1, 1}
	adv, keep := Advantages(r, 4, 1e-6)
	if !keep[0] || keep[1] || !keep[2] {
		t.Fatalf("keep %v", keep)
	}
	for q := range keep {
		var m, v float64
		for _, a := range adv[q*4 : q*4+4] {
			m += a / 4
		}
		for _, a := range adv[q*4 : q*4+4] {
			v += (a - m) * (a - m) / 4
		}
		if math.Abs(m) > 1e-9 {
			t.Errorf("group %d: mean advantage %v", q, m)
		}
		want := 1.0
		if !keep[q] {
			want = 0
		}
		if math.Abs(math.Sqrt(v)-want) > 1e-5 {
			t.Errorf("group %d: advantage std %v, want %v", q, math.Sqrt(v), want)
		}
	}
	// (1 - 2.5) / sqrt(1.25)
	if math.Abs(adv[0]+1.5/math.Sqrt(1.25)) > 1e-5 {
		t.Errorf("adv[0] = %v", adv[0])
	}
}

// The loss gradient against finite differences on a tiny softmax policy
// (logits = x W): the clipped surrogate in both its clipped and unclipped
// regions, k3 with per-token betas, and the token mean over a mask.
func TestLossGradCheck(t *testing.T) {
	const B, T, D, V = 2, 4, 3, 5
	rng := tensor.NewRNG(7)
	x := tensor.Randn(rng, 1, B*T, D)
	w0 := tensor.Randn(rng, 0.5, D, V)
	targets := []int{1, 4, 0, 2, 3, 3, 1, 0}
	lpOf := func(w *tensor.Tensor) *tensor.Tensor {
		return x.MatMul(w).Reshape(B, T, V).LogSoftmax().Gather(2, targets, B, T, 1).Reshape(B, T)
	}
	var lp0 *tensor.Tensor
	tensor.NoGrad(func() { lp0 = lpOf(w0) })
	base := lp0.ToSlice()
	// Ratios: well inside the clip range, and well outside on both sides.
	shift := []float32{0.05, -0.05, 0.6, -0.6, 0.02, 0.5, -0.5, 0}
	oldv := make([]float32, B*T)
	for i := range oldv {
		oldv[i] = base[i] + shift[i]
	}
	old := tensor.New(oldv, B, T)
	ref := tensor.New([]float32{-1, -2, -1.5, -0.7, -2.2, -1.1, -1.3, -1.9}, B, T)
	w := Weights{
		Mask: []float32{1, 1, 1, 0, 1, 1, 1, 1},
		Adv:  []float32{1.2, -0.7, 0.9, 0, -1.1, 0.8, -0.6, 0.3},
		Beta: []float32{0.02, 0.02, 0.02, 0, 0.08, 0.08, 0.08, 0.08},
		Turn: []int8{1, 1, 1, 0, 2, 2, 2, 2},
	}
	f := func(in []*tensor.Tensor) *tensor.Tensor {
		loss, _ := Loss(lpOf(in[0]), old, ref, w, 0.2)
		return loss
	}
	if err := tensor.GradCheck(f, []*tensor.Tensor{w0}, tensor.GradCheckOpts{H: 1e-3}); err != nil {
		t.Fatal(err)
	}
	_, st := Loss(lp0, old, ref, w, 0.2)
	if st.Tokens != 7 || st.ClipFrac <= 0 || st.KL1 <= 0 || st.KL2 <= 0 {
		t.Errorf("stats %+v", st)
	}
}

// tiny returns a tiny model with a tokenizer trained on a few items.
func tiny(t *testing.T) (*vision.VLM, *vision.Chat, *tasks.Stream) {
	t.Helper()
	s, err := tasks.NewStream(tasks.DefaultConfig(), tasks.Train, 1)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := tokenizer.Train(train.Corpus(s, 40), tokenizer.TrainConfig{VocabSize: 300})
	if err != nil {
		t.Fatal(err)
	}
	img, _ := tok.SpecialID(tokenizer.Image)
	c := vision.DemoConfig(tok.VocabSize(), img)
	c.ImageSize, c.PatchSize, c.PixelShuffle = 16, 4, 2
	c.VitDim, c.VitLayers, c.VitHeads, c.VitMLP = 16, 1, 2, 32
	c.LMDim, c.LMLayers, c.LMHeads, c.LMKVHeads, c.LMHidden = 16, 1, 2, 1, 32
	c.MaxSeq = 160
	m, err := vision.New(c, 3)
	if err != nil {
		t.Fatal(err)
	}
	chat, err := vision.NewChat(tok, c.ImageTokens())
	if err != nil {
		t.Fatal(err)
	}
	return m, chat, s
}

// The second-turn prompt built from tokens is what the chat template gives
// for the conversation with the decoded first answer.
func TestTurnTwoContext(t *testing.T) {
	m, chat, s := tiny(t)
	it := train.TaskStream{S: s}.Item(0)
	imgs, err := train.Images([]train.Item{it}, m.Cfg.ImageSize)
	if err != nil {
		t.Fatal(err)
	}
	eps := Rollouts(m, chat, []train.Item{it}, imgs, 3, vision.SampleOpts{MaxNew: 6, Temperature: 1, RNG: tensor.NewRNG(1)}, nil)
	first := "<answer>3</answer>"
	ids := chat.Tok.EncodeOrdinary(first)
	ids = append(ids, chat.EndID())
	got := concat(chat.Prompt(toMessages(it.Task.SolverPrompt())), ids, selfEvalTurn(chat))
	want := chat.Prompt(toMessages(it.Task.SelfEvalContext(first)))
	if len(got) != len(want) {
		t.Fatalf("context %d tokens, want %d", len(got), len(want))
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("context differs at %d", i)
		}
	}
	for _, e := range eps {
		if len(e.Y1) == 0 || len(e.Y2) == 0 || len(e.LP1) != len(e.Y1) || len(e.LP2) != len(e.Y2) {
			t.Fatalf("episode %+v", e)
		}
	}
	// The batch trains y1 and y2 tokens only, each with its turn's beta.
	adv := []float64{1, -1, 0.5}
	b, _, w := BuildBatch(eps, imgs, chat.PadID(), adv, []float64{0.1, 0.1, 0.1}, []float64{0.3, 0.3, 0.3})
	n1, n2 := turnTokens(w)
	want1, want2 := 0, 0
	for _, e := range eps {
		want1 += len(e.Y1)
		want2 += len(e.Y2)
	}
	if n1 != want1 || n2 != want2 {
		t.Errorf("trained tokens %d/%d, want %d/%d", n1, n2, want1, want2)
	}
	for i, mk := range w.Mask {
		if mk == 1 && ((w.Turn[i] == 1 && w.Beta[i] != 0.1) || (w.Turn[i] == 2 && w.Beta[i] != 0.3) || b.Targets[i] < 0) {
			t.Fatalf("position %d: turn %d beta %v target %d", i, w.Turn[i], w.Beta[i], b.Targets[i])
		}
	}
}

func toMessages(ms []tasks.Message) []vision.Message {
	out := make([]vision.Message, len(ms))
	for i, m := range ms {
		out[i] = vision.Message{Role: m.Role, Content: m.Content, Image: m.Image, Context: m.Context}
	}
	return out
}

// parity stands in for correctness on a random model, so that groups have
// reward spread: right when the output has an even number of bytes.
func parity(out string, _ train.Item) bool { return len(out)%2 == 0 }

func tinyRunner(t *testing.T, dir string, steps int) *Runner {
	m, chat, s := tiny(t)
	ref, _, _ := tiny(t)
	o := DefaultOptions(AdaPO)
	o.Steps, o.Questions, o.Group, o.MaxNew, o.Epochs = steps, 2, 4, 6, 2
	o.EvalEvery, o.EvalItems, o.SaveEvery, o.Dir = 2, 4, 2, dir
	o.LR, o.Warmup = 1e-2, 1
	val, _ := tasks.NewStream(tasks.DefaultConfig(), tasks.Validation, 1)
	return &Runner{Policy: m, Ref: ref, Chat: chat, Train: train.TaskStream{S: s}, Val: train.TaskStream{S: val}, Opt: o, Correct: parity}
}

// End to end on a tiny model: metrics, checkpoints, plots, and a run that
// stops and resumes ends with the same weights as one that does not.
func TestRunEndToEndAndResume(t *testing.T) {
	start := time.Now()
	dirA, dirB := filepath.Join(t.TempDir(), "a"), filepath.Join(t.TempDir(), "b")
	ra := tinyRunner(t, dirA, 4)
	h, err := ra.Run()
	if err != nil {
		t.Fatal(err)
	}
	if len(h) != 4 || h[3].Val == nil || h[0].Groups != 2 {
		t.Fatalf("history %+v", h)
	}
	updated := false
	for _, r := range h {
		if s := r.Share11 + r.Share01 + r.Share10 + r.Share00; math.Abs(s-1) > 1e-9 {
			t.Errorf("step %d: shares sum to %v", r.Step, s)
		}
		if r.Dropped < 0 || r.Dropped > r.Groups {
			t.Errorf("step %d: %d dropped of %d", r.Step, r.Dropped, r.Groups)
		}
		if r.Dropped < r.Groups {
			updated = updated || r.Tokens > 0
			// The first epoch is on-policy: the sampling-time log-probs laid
			// out under y1 and y2 are the policy's own, so no ratio leaves
			// the clip range (a misaligned turn would).
			if r.ClipFrac != 0 {
				t.Errorf("step %d: first-epoch clip fraction %v, want 0", r.Step, r.ClipFrac)
			}
		} else if r.Tokens != 0 {
			t.Errorf("step %d: all groups dropped but %d tokens trained", r.Step, r.Tokens)
		}
	}
	if !updated {
		t.Error("no step updated the policy")
	}
	for _, f := range []string{"metrics.jsonl", "curves.png", "trajectories.png", "checkpoint/model.safetensors"} {
		if _, err := os.Stat(filepath.Join(dirA, f)); err != nil {
			t.Error(err)
		}
	}
	// The reference never moves.
	fresh, _, _ := tiny(t)
	for _, q := range ra.Ref.P.All() {
		a, b := q.T.ToSlice(), fresh.P.Get(q.Name).T.ToSlice()
		for i := range a {
			if a[i] != b[i] {
				t.Fatalf("reference %s moved", q.Name)
			}
		}
	}

	// Interrupt a 4-step run during step 3 (after the step-2 checkpoint),
	// then resume it in a new process's worth of state.
	interrupted := tinyRunner(t, dirB, 4)
	calls, perStep := 0, 2*interrupted.Opt.Questions*interrupted.Opt.Group
	interrupted.Correct = func(out string, it train.Item) bool {
		if calls++; calls > 2*perStep {
			panic(errInterrupt)
		}
		return parity(out, it)
	}
	func() {
		defer func() {
			if p := recover(); p != errInterrupt {
				t.Fatalf("interrupted run: %v", p)
			}
		}()
		interrupted.Run()
	}()
	if b, _ := os.ReadFile(filepath.Join(dirB, "metrics.jsonl")); strings.Count(string(b), "\n") != 2 {
		t.Fatalf("interrupted run wrote %d metrics lines, want 2", strings.Count(string(b), "\n"))
	}
	rb := tinyRunner(t, dirB, 4)
	hb, err := rb.Run()
	if err != nil {
		t.Fatal(err)
	}
	if len(hb) != 4 {
		t.Fatalf("resumed history has %d steps", len(hb))
	}
	for _, q := range ra.Policy.P.All() {
		a, b := q.T.ToSlice(), rb.Policy.P.Get(q.Name).T.ToSlice()
		for i := range a {
			if a[i] != b[i] {
				t.Fatalf("resumed %s differs at %d: %v vs %v", q.Name, i, a[i], b[i])
			}
		}
	}
	if hb[3].MeanP != h[3].MeanP || hb[3].Loss != h[3].Loss {
		t.Errorf("resumed step 4 differs: %+v vs %+v", hb[3], h[3])
	}
	if el := time.Since(start); el > 10*time.Second {
		t.Logf("slow: %v", el)
	}
	// Another method, or anything else that shapes the run, in the same
	// directory is refused: more steps would change the cosine schedule
	// and SCoRe's stage boundary of the steps already taken.
	other := tinyRunner(t, dirB, 4)
	other.Opt.Reward.Method = GRPOKeep
	if _, err := other.Run(); err == nil || !strings.Contains(err.Error(), "adapo run") {
		t.Errorf("resuming an adapo run as grpo-keep: %v", err)
	}
	for _, change := range []func(*Options){
		func(o *Options) { o.Steps = 6 },
		func(o *Options) { o.LR *= 2 },
		func(o *Options) { o.Reward.ARM.Theta = 0.5 },
	} {
		r := tinyRunner(t, dirB, 4)
		change(&r.Opt)
		if _, err := r.Run(); err == nil || !strings.Contains(err.Error(), "other settings") {
			t.Errorf("resuming with changed settings: %v", err)
		}
	}
	// What only observes the run may change.
	same := tinyRunner(t, dirB, 4)
	same.Opt.EvalItems, same.Opt.SaveEvery, same.Opt.MicroBatch = 2, 1, 3
	if _, err := same.Run(); err != nil {
		t.Errorf("reopening a finished run with other evaluation settings: %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(dirB, "metrics.jsonl")); strings.Count(string(b), "\n") != 4 {
		t.Errorf("metrics.jsonl has %d lines", strings.Count(string(b), "\n"))
	}
}

var errInterrupt = errors.New("interrupted")

// The ablation runner reuses a finished run only when it was trained with
// the same settings, and rescores it when the test items change.
func TestAblationReuse(t *testing.T) {
	dir := t.TempDir()
	loads := 0
	load := func() (*vision.VLM, *vision.Chat, error) {
		loads++
		m, chat, _ := tiny(t)
		return m, chat, nil
	}
	o := DefaultOptions(AdaPO)
	o.Steps, o.Questions, o.Group, o.MaxNew, o.EvalItems = 1, 2, 2, 4, 0
	ab := AblationOptions{Load: load, Methods: []Method{GRPOKeep}, Seeds: []uint64{1}, Opt: o, TestItems: 2, TestSeed: 1, Dir: dir}
	rows, err := RunAblation(ab)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || rows[0].Method != "base" || rows[1].Method != "grpo-keep" {
		t.Fatalf("rows %+v", rows)
	}
	first := loads
	if _, err := RunAblation(ab); err != nil || loads != first {
		t.Fatalf("rerun: %v, %d loads (want none)", err, loads-first)
	}
	// More test items: base and run are scored again (the run's checkpoint
	// is reloaded, not retrained).
	ab.TestItems = 3
	if _, err := RunAblation(ab); err != nil || loads == first {
		t.Fatalf("rescoring: %v, %d loads", err, loads-first)
	}
	if h, _ := ReadMetrics(filepath.Join(dir, "grpo-keep", "seed1", "metrics.jsonl")); len(h) != 1 {
		t.Errorf("rescoring retrained: %d metrics lines", len(h))
	}
	// More steps in the same directory: refused, not filled from the
	// shorter run.
	ab.Opt.Steps = 2
	if _, err := RunAblation(ab); err == nil || !strings.Contains(err.Error(), "Steps 1, now 2") {
		t.Errorf("a 2-step table from 1-step runs: %v", err)
	}
}

// A sampled image placeholder or role tag ends the answer before it, so
// the conversation keeps its structure.
func TestTruncateStructural(t *testing.T) {
	_, chat, _ := tiny(t)
	img, _ := chat.Tok.SpecialID(tokenizer.Image)
	bad := structural(chat)
	if bad[chat.EndID()] || !bad[img] || len(bad) != len(chat.Tok.Specials())-1 {
		t.Fatalf("structural tokens %v", bad)
	}
	s := truncate(vision.Sample{Tokens: []int{40, 41, img, 42, chat.EndID()}, LogProbs: []float32{-1, -2, -3, -4, -5}, Stopped: true}, bad)
	if len(s.Tokens) != 2 || len(s.LogProbs) != 2 || s.Stopped {
		t.Errorf("truncated %+v", s)
	}
	ok := vision.Sample{Tokens: []int{40, chat.EndID()}, LogProbs: []float32{-1, -2}, Stopped: true}
	if got := truncate(ok, bad); len(got.Tokens) != 2 || !got.Stopped {
		t.Errorf("clean sample changed: %+v", got)
	}
}

// The update's arena changes where its tensors live, not what they hold: a
// run with it and one without (PlainAlloc) end with the same weights and
// metrics bit for bit.
func TestUpdateArenaSameBits(t *testing.T) {
	base := t.TempDir()
	ra := tinyRunner(t, filepath.Join(base, "arena"), 3)
	rp := tinyRunner(t, filepath.Join(base, "plain"), 3)
	rp.Opt.PlainAlloc = true
	ha, err := ra.Run()
	if err != nil {
		t.Fatal(err)
	}
	hp, err := rp.Run()
	if err != nil {
		t.Fatal(err)
	}
	if ra.arena == nil || rp.arena != nil {
		t.Fatalf("arena use: %v with it, %v without", ra.arena != nil, rp.arena != nil)
	}
	if st := ra.arena.Stats(); st.Reused == 0 {
		t.Fatalf("the updates reused no arena buffer: %+v", st)
	}
	for i := range hp {
		a, p := ha[i], hp[i]
		a.Seconds, p.Seconds = 0, 0
		if diff := cmp.Diff(p, a); diff != "" {
			t.Fatalf("step %d differs with the arena (-plain +arena):\n%s", i+1, diff)
		}
	}
	for _, q := range rp.Policy.P.All() {
		x, y := q.T.ToSlice(), ra.Policy.P.Get(q.Name).T.ToSlice()
		for i := range x {
			if math.Float32bits(x[i]) != math.Float32bits(y[i]) {
				t.Fatalf("%s[%d]: %v with the arena, %v without", q.Name, i, y[i], x[i])
			}
		}
	}
}
