package rl

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"time"

	"github.com/kiln-ml/kiln/internal/jsonl"
	"github.com/kiln-ml/kiln/internal/plots"
	"github.com/kiln-ml/kiln/nn"
	"github.com/kiln-ml/kiln/tensor"
	"github.com/kiln-ml/kiln/vision"
	"github.com/kiln-ml/kiln/vision/policy"
	"github.com/kiln-ml/kiln/vision/tasks"
	"github.com/kiln-ml/kiln/vision/train"
	"github.com/schollz/progressbar/v3"
)

// Options configures a run.
type Options struct {
	Reward    RewardConfig
	Steps     int // optimisation steps (one batch of rollouts each)
	Questions int // questions per step
	Group     int // G: episodes per question
	// Epochs is the number of optimizer updates on each batch of rollouts
	// (PPO epochs); the first is on-policy (rho = 1).
	Epochs int
	// MicroBatch splits a step's episodes into chunks whose gradients are
	// accumulated (the loss stays the token mean of the whole batch); 0 = one.
	MicroBatch  int
	LR, MinLR   float32 // warmup then cosine from LR to MinLR
	Warmup      int
	WeightDecay float32
	Clip        float32 // gradient-norm clip (0 = off)
	ClipEps     float32 // PPO ratio clip
	AdvEps      float64 // eps of the advantage normalisation
	Temperature float32 // sampling temperature of both turns
	MaxNew      int     // token budget of each turn
	// Trainable is the glob of the parameters trained (the rest stay at the
	// starting weights): "lm.**" fine-tunes the whole language model.
	Trainable string
	EvalEvery int // validate every N steps (0 = only at the end)
	EvalItems int // validation items (greedy acc@t1/acc@t2), 0 = none
	SaveEvery int // checkpoint every N steps (0 = only at the end)
	Seed      uint64
	Dir       string    // run directory: metrics.jsonl, curves.png, checkpoint/
	Progress  io.Writer `json:"-"`
	// PlainAlloc turns off the tensor.Arena of the updates and of the
	// rollouts' decoding steps (same bits either way; see
	// train.Options.PlainAlloc).
	PlainAlloc bool `json:"-"`
}

// DefaultOptions returns the defaults of kiln adapo (see the package doc).
func DefaultOptions(m Method) Options {
	return Options{Reward: DefaultRewardConfig(m), Steps: 200, Questions: 8, Group: 8, Epochs: 1, MicroBatch: 32,
		LR: 3e-4, MinLR: 3e-5, Warmup: 10, WeightDecay: 0, Clip: 1, ClipEps: 0.2, AdvEps: 1e-6,
		Temperature: 1, MaxNew: 48, Trainable: "lm.**", EvalEvery: 50, EvalItems: 128, SaveEvery: 50, Seed: 1}
}

// Validate reports the first bad option.
func (o Options) Validate() error {
	if err := o.Reward.Validate(); err != nil {
		return err
	}
	if o.Steps < 1 || o.Questions < 1 || o.Group < 2 || o.Epochs < 1 {
		return fmt.Errorf("rl: need steps, questions, epochs >= 1 and group >= 2 (got %d, %d, %d, %d)", o.Steps, o.Questions, o.Epochs, o.Group)
	}
	if o.MaxNew < 1 || o.Temperature <= 0 || o.ClipEps <= 0 {
		return fmt.Errorf("rl: need max-new >= 1, temperature > 0 and clip eps > 0")
	}
	if o.Dir == "" {
		return errors.New("rl: no run directory")
	}
	return nil
}

// ValMetrics are greedy two-turn metrics on validation items.
type ValMetrics struct {
	AccT1   float64 `json:"acc_t1"`
	AccT2   float64 `json:"acc_t2"`
	Delta   float64 `json:"delta"`
	DeltaIC float64 `json:"delta_i_c"`
	DeltaCI float64 `json:"delta_c_i"`
}

// StepMetrics is one line of metrics.jsonl.
type StepMetrics struct {
	Step  int `json:"step"`
	Stage int `json:"stage,omitempty"` // SCoRe's stage
	// MeanP is the mean turn-1 error rate of the step's questions; the
	// shares are those of the trajectory types over all episodes, and
	// AccT1/AccT2 the sampled accuracies of the two turns.
	MeanP   float64 `json:"mean_p"`
	Share11 float64 `json:"share_1_1"`
	Share01 float64 `json:"share_0_1"`
	Share10 float64 `json:"share_1_0"`
	Share00 float64 `json:"share_0_0"`
	AccT1   float64 `json:"acc_t1"`
	AccT2   float64 `json:"acc_t2"`
	// Reward is the mean episode reward; R11..R00 the mean over questions of
	// the closed-form rewards.
	Reward float64 `json:"reward"`
	R11    float64 `json:"r11"`
	R01    float64 `json:"r01"`
	R10    float64 `json:"r10"`
	R00    float64 `json:"r00"`
	Beta1  float64 `json:"beta1"` // mean over questions
	Beta2  float64 `json:"beta2"`
	// KL1 and KL2 are the mean k3 to the reference on the kept turn-1 and
	// turn-2 tokens (first epoch).
	KL1      float64     `json:"kl1"`
	KL2      float64     `json:"kl2"`
	Loss     float64     `json:"loss"`
	ClipFrac float64     `json:"clip_frac"`
	GradNorm float64     `json:"grad_norm"`
	LR       float64     `json:"lr"`
	Groups   int         `json:"groups"`
	Dropped  int         `json:"dropped"` // groups with zero reward spread
	Tokens   int         `json:"tokens"`
	Seconds  float64     `json:"seconds"`
	Val      *ValMetrics `json:"val,omitempty"`
}

// Runner trains Policy from its current weights against the frozen Ref
// (a copy of the starting model) on two-turn self-evaluation episodes.
type Runner struct {
	Policy, Ref *vision.VLM
	Chat        *vision.Chat
	Train, Val  train.Stream
	Opt         Options
	// Files are extra checkpoint files (tokenizer.json, so that the
	// checkpoint loads as a bundle).
	Files map[string][]byte
	// Correct scores rollouts (nil: ExactAnswer). Evaluation always uses the
	// exact answers.
	Correct Scorer

	arena *tensor.Arena // each micro-batch's and decoding step's buffers (set by Run; nil under PlainAlloc)
}

// CheckpointDir is where Run keeps its resumable state.
func (r *Runner) CheckpointDir() string { return filepath.Join(r.Opt.Dir, "checkpoint") }

// Run trains from the run directory's checkpoint if there is one, else from
// the policy's current weights, and returns the metrics of every step.
func (r *Runner) Run() ([]StepMetrics, error) {
	o := r.Opt
	if err := o.Validate(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(o.Dir, 0o755); err != nil {
		return nil, err
	}
	if err := checkOptions(filepath.Join(o.Dir, "options.json"), o); err != nil {
		return nil, err
	}
	m := r.Policy
	m.P.SetTrainable("**", false)
	if m.P.SetTrainable(o.Trainable, true) == 0 {
		return nil, fmt.Errorf("rl: no parameter matches %q", o.Trainable)
	}
	r.Ref.P.SetTrainable("**", false)
	r.arena = nil
	if !o.PlainAlloc {
		r.arena = tensor.NewArena() // the updates and the rollouts' decoding steps run in it
		defer tensor.TightGC()()
	}
	opt := nn.NewAdamW(m.P.DefaultGroups(o.WeightDecay), 0.9, 0.99, 1e-8)
	sched := nn.WarmupCosine{Base: o.LR, Min: o.MinLR, Warmup: o.Warmup, Total: o.Steps}
	src := tensor.NewPCG(o.Seed ^ 0xada90)
	rng := rand.New(src)
	st := &nn.TrainState{Optimizer: opt, RNGs: map[string]nn.RandState{"sample": src}}
	if _, err := os.Stat(filepath.Join(r.CheckpointDir(), nn.ManifestFile)); err == nil {
		if err := nn.LoadCheckpoint(r.CheckpointDir(), m.P, st); err != nil {
			return nil, err
		}
	}
	start := int(st.Step)
	path := filepath.Join(o.Dir, "metrics.jsonl")
	history, err := readMetrics(path, start)
	if err != nil {
		return nil, err
	}
	mf, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer mf.Close()
	enc := json.NewEncoder(mf)
	var elapsed0 float64
	if len(history) > 0 {
		elapsed0 = history[len(history)-1].Seconds
	}
	began := time.Now()
	var bar *progressbar.ProgressBar
	if o.Progress != nil && start < o.Steps {
		bar = progressbar.NewOptions(o.Steps, progressbar.OptionSetWriter(o.Progress), progressbar.OptionSetDescription(string(o.Reward.Method)),
			progressbar.OptionShowCount(), progressbar.OptionSetPredictTime(true), progressbar.OptionThrottle(200*time.Millisecond))
		bar.Set(start)
	}
	for step := start; step < o.Steps; step++ {
		rec, err := r.step(step, opt, sched.At(step), rng)
		if err != nil {
			return history, fmt.Errorf("rl: step %d: %w", step+1, err)
		}
		rec.Seconds = elapsed0 + time.Since(began).Seconds()
		last := step+1 == o.Steps
		if o.EvalItems > 0 && r.Val != nil && ((o.EvalEvery > 0 && (step+1)%o.EvalEvery == 0) || last) {
			v := Evaluate(m, r.Chat, r.Val, o.EvalItems, o.MaxNew)
			rec.Val = &v
		}
		if err := enc.Encode(rec); err != nil {
			return history, err
		}
		history = append(history, rec)
		if (o.SaveEvery > 0 && (step+1)%o.SaveEvery == 0) || last {
			st.Step, st.DataPos = int64(step+1), int64((step+1)*o.Questions)
			if err := nn.SaveCheckpoint(r.CheckpointDir(), m.P, nn.Checkpoint{Config: m.Cfg, State: st, Files: r.Files}); err != nil {
				return history, err
			}
			if err := Plot(o.Dir, history); err != nil {
				return history, err
			}
		}
		if bar != nil {
			bar.Describe(fmt.Sprintf("%s P %.2f t1 %.2f t2 %.2f kl %.3f", o.Reward.Method, rec.MeanP, rec.AccT1, rec.AccT2, (rec.KL1+rec.KL2)/2))
			bar.Add(1)
		}
	}
	if bar != nil {
		bar.Finish()
		fmt.Fprintln(o.Progress)
	}
	return history, nil
}

// checkOptions refuses to resume a run directory whose recorded options
// differ from o in anything that shapes the run (see sameRun), then records o
// there.
func checkOptions(path string, o Options) error {
	if err := sameRun(path, o); err != nil {
		return err
	}
	b, err := json.MarshalIndent(o, "", "  ")
	if err != nil {
		return err
	}
	return writeFile(path, append(b, '\n'))
}

// sameRun reports an error when the options recorded at path (a run's
// options.json; none is fine) differ from o in anything but what only
// observes or chunks the run: Dir, Progress, EvalEvery, EvalItems,
// SaveEvery and MicroBatch. Steps counts: the cosine schedule and SCoRe's
// stage boundary depend on it, so a run resumed with more steps is not the
// longer run it would claim to be.
func sameRun(path string, o Options) error {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var old Options
	if err := json.Unmarshal(b, &old); err != nil {
		return fmt.Errorf("rl: %s: %w", path, err)
	}
	if d := optionsDiff(old, o); len(d) > 0 {
		return fmt.Errorf("rl: %s holds a %s run with other settings (%s): use another directory",
			filepath.Dir(path), old.Reward.Method, strings.Join(d, ", "))
	}
	return nil
}

// optionsDiff names the fields of Options (and of its Reward) that differ
// between a and b, ignoring those sameRun ignores.
func optionsDiff(a, b Options) []string {
	for _, p := range []*Options{&a, &b} {
		p.Dir, p.Progress, p.EvalEvery, p.EvalItems, p.SaveEvery, p.MicroBatch = "", nil, 0, 0, 0, 0
	}
	var d []string
	va, vb := reflect.ValueOf(a), reflect.ValueOf(b)
	for i := 0; i < va.NumField(); i++ {
		name := va.Type().Field(i).Name
		if name == "Reward" {
			ra, rb := reflect.ValueOf(a.Reward), reflect.ValueOf(b.Reward)
			for j := 0; j < ra.NumField(); j++ {
				if ra.Field(j).Interface() != rb.Field(j).Interface() {
					d = append(d, fmt.Sprintf("%s %v, now %v", ra.Type().Field(j).Name, ra.Field(j).Interface(), rb.Field(j).Interface()))
				}
			}
			continue
		}
		if va.Field(i).Interface() != vb.Field(i).Interface() {
			d = append(d, fmt.Sprintf("%s %v, now %v", name, va.Field(i).Interface(), vb.Field(i).Interface()))
		}
	}
	return d
}

// step samples one batch of episodes, scores them and updates the policy.
func (r *Runner) step(step int, opt nn.Optimizer, lr float32, rng *rand.Rand) (StepMetrics, error) {
	o := r.Opt
	m := r.Policy
	rec := StepMetrics{Step: step + 1, LR: float64(lr), Groups: o.Questions}
	if o.Reward.Method == SCoRe {
		rec.Stage = o.Reward.SCoReStage(step, o.Steps)
	}
	items := make([]train.Item, o.Questions)
	for i := range items {
		items[i] = r.Train.Item(step*o.Questions + i)
	}
	images, err := train.Images(items, m.Cfg.ImageSize)
	if err != nil {
		return rec, err
	}
	eps := Rollouts(m, r.Chat, items, images, o.Group, vision.SampleOpts{MaxNew: o.MaxNew, Temperature: o.Temperature, RNG: rng, Arena: r.arena}, r.Correct)

	// Rewards from each question's error rate.
	g := o.Group
	rewards := make([]float64, len(eps))
	qBeta1, qBeta2 := make([]float64, o.Questions), make([]float64, o.Questions)
	var types [4]int
	for q := range items {
		c1 := make([]bool, g)
		for k := range c1 {
			c1[k] = eps[q*g+k].C1
		}
		p := ErrorRate(c1)
		tab, b1, b2 := o.Reward.Question(p, step, o.Steps)
		qBeta1[q], qBeta2[q] = b1, b2
		rec.MeanP += p / float64(o.Questions)
		rec.R11 += tab.R11 / float64(o.Questions)
		rec.R01 += tab.R01 / float64(o.Questions)
		rec.R10 += tab.R10 / float64(o.Questions)
		rec.R00 += tab.R00 / float64(o.Questions)
		rec.Beta1 += b1 / float64(o.Questions)
		rec.Beta2 += b2 / float64(o.Questions)
		for k := 0; k < g; k++ {
			e := &eps[q*g+k]
			rewards[q*g+k] = tab.Of(e.C1, e.C2)
			types[e.Type()]++
			if e.C1 {
				rec.AccT1++
			}
			if e.C2 {
				rec.AccT2++
			}
			rec.Reward += rewards[q*g+k]
		}
	}
	n := float64(len(eps))
	rec.AccT1 /= n
	rec.AccT2 /= n
	rec.Reward /= n
	rec.Share11, rec.Share01, rec.Share10, rec.Share00 = float64(types[0])/n, float64(types[1])/n, float64(types[2])/n, float64(types[3])/n

	adv, keep := Advantages(rewards, g, o.AdvEps)
	var kept []Episode
	var kAdv, kB1, kB2 []float64
	for q, ok := range keep {
		if !ok {
			rec.Dropped++
			continue
		}
		for k := 0; k < g; k++ {
			kept = append(kept, eps[q*g+k])
			kAdv = append(kAdv, adv[q*g+k])
			kB1 = append(kB1, qBeta1[q])
			kB2 = append(kB2, qBeta2[q])
		}
	}
	if len(kept) == 0 {
		return rec, nil // no signal this step: no update
	}
	stats, gn, err := r.update(kept, images, kAdv, kB1, kB2, opt, lr)
	if err != nil {
		return rec, err
	}
	rec.Loss, rec.KL1, rec.KL2, rec.ClipFrac, rec.Tokens, rec.GradNorm = stats.Loss, stats.KL1, stats.KL2, stats.ClipFrac, stats.Tokens, float64(gn)
	return rec, nil
}

type chunk struct {
	b      *policy.Batch
	old    *tensor.Tensor
	ref    *tensor.Tensor
	w      Weights
	tokens int
}

// update runs Epochs optimizer steps on the kept episodes and returns the
// first epoch's statistics and gradient norm.
func (r *Runner) update(eps []Episode, images *tensor.Tensor, adv, b1, b2 []float64, opt nn.Optimizer, lr float32) (LossStats, float32, error) {
	o := r.Opt
	mb := o.MicroBatch
	if mb <= 0 {
		mb = len(eps)
	}
	var chunks []chunk
	total := 0
	for lo := 0; lo < len(eps); lo += mb {
		hi := min(lo+mb, len(eps))
		b, old, w := BuildBatch(eps[lo:hi], images, r.Chat.PadID(), adv[lo:hi], b1[lo:hi], b2[lo:hi])
		var ref *tensor.Tensor
		tensor.NoGrad(func() { ref = policy.TokenLogProbs(r.Ref.LogProbs(b.Batch), b.Targets) })
		c := chunk{b: b, old: old, ref: ref, w: w}
		for _, v := range w.Mask {
			c.tokens += int(v)
		}
		total += c.tokens
		chunks = append(chunks, c)
	}
	var first LossStats
	var firstNorm float32
	params := r.Policy.P.Trainable()
	// Each micro-batch's forward and backward, and each optimizer step, run
	// in the runner's arena, recycled right after: the chunks above (batch,
	// old and reference log-probs) live across epochs, so they stay outside
	// it, and one arena over the whole update would hold every micro-batch
	// of every epoch at once.
	for ep := 0; ep < o.Epochs; ep++ {
		var agg LossStats
		var n1, n2 float64
		for _, c := range chunks {
			var st LossStats
			share := float64(c.tokens) / float64(total)
			r.arena.Do(func() {
				lp := policy.TokenLogProbs(r.Policy.LogProbs(c.b.Batch), c.b.Targets)
				var loss *tensor.Tensor
				loss, st = Loss(lp, c.old, c.ref, c.w, o.ClipEps)
				loss.MulScalar(float32(share)).Backward()
			})
			agg.Loss += st.Loss * share
			agg.ClipFrac += st.ClipFrac * share
			agg.Tokens += st.Tokens
			t1, t2 := turnTokens(c.w)
			agg.KL1 += st.KL1 * float64(t1)
			agg.KL2 += st.KL2 * float64(t2)
			n1 += float64(t1)
			n2 += float64(t2)
		}
		agg.KL1 /= math.Max(n1, 1)
		agg.KL2 /= math.Max(n2, 1)
		if math.IsNaN(agg.Loss) || math.IsInf(agg.Loss, 0) {
			return agg, 0, fmt.Errorf("loss is %v", agg.Loss)
		}
		gn := float32(0)
		var err error
		r.arena.Do(func() {
			if o.Clip > 0 {
				gn = nn.ClipGradNorm(params, o.Clip)
			}
			err = opt.Step(lr)
			opt.ZeroGrad()
		})
		if err != nil {
			return agg, gn, err
		}
		if ep == 0 {
			first, firstNorm = agg, gn
		}
	}
	return first, firstNorm, nil
}

func turnTokens(w Weights) (t1, t2 int) {
	for i, m := range w.Mask {
		if m == 0 {
			continue
		}
		if w.Turn[i] == 1 {
			t1++
		} else {
			t2++
		}
	}
	return t1, t2
}

// Evaluate returns greedy two-turn metrics on the first n items of stream
// (overall row of tasks.SelfEval).
func Evaluate(m *vision.VLM, chat *vision.Chat, stream train.Stream, n, maxNew int) ValMetrics {
	rep := train.Evaluate(m, chat, stream, train.EvalOptions{Items: n, MaxNew: maxNew, SelfEval: true})
	for _, s := range rep.SelfEval {
		if s.Family == tasks.AllFamilies {
			return ValMetrics{AccT1: s.AccT1, AccT2: s.AccT2, Delta: s.Delta, DeltaIC: s.DeltaIC, DeltaCI: s.DeltaCI}
		}
	}
	return ValMetrics{}
}

// ReadMetrics reads a run's metrics.jsonl.
func ReadMetrics(path string) ([]StepMetrics, error) { return jsonl.Read[StepMetrics](path) }

// readMetrics returns the records up to step upTo and rewrites the file
// without later ones (a run stopped between checkpoints).
func readMetrics(path string, upTo int) ([]StepMetrics, error) {
	return jsonl.Resume(path, func(r StepMetrics) bool { return r.Step <= upTo })
}

// Plot writes curves.png (acc@t1/acc@t2 on validation and on the training
// rollouts, mean P, KL and betas) and trajectories.png (the share of each
// trajectory type over training) into dir.
func Plot(dir string, h []StepMetrics) error {
	if len(h) == 0 {
		return nil
	}
	var xs, t1, t2, p, kl1, kl2, b1, b2, vx, v1, v2 []float64
	shares := make([][]float64, len(h))
	for i, r := range h {
		xs = append(xs, float64(r.Step))
		t1, t2, p = append(t1, r.AccT1), append(t2, r.AccT2), append(p, r.MeanP)
		kl1, kl2, b1, b2 = append(kl1, r.KL1), append(kl2, r.KL2), append(b1, r.Beta1), append(b2, r.Beta2)
		shares[i] = []float64{r.Share11, r.Share01, r.Share10, r.Share00}
		if r.Val != nil {
			vx, v1, v2 = append(vx, float64(r.Step)), append(v1, r.Val.AccT1), append(v2, r.Val.AccT2)
		}
	}
	w := max(1, len(h)/20)
	if err := plots.Lines(filepath.Join(dir, "curves.png"),
		plots.Panel{Title: "acc@t1 / acc@t2", XLabel: "step", Series: []plots.Series{
			{Name: "val t1 (greedy)", X: vx, Y: v1}, {Name: "val t2 (greedy)", X: vx, Y: v2},
			{Name: "train t1 (sampled)", X: xs, Y: plots.Smooth(t1, w)}, {Name: "train t2 (sampled)", X: xs, Y: plots.Smooth(t2, w)}}},
		plots.Panel{Title: "turn-1 error rate P", XLabel: "step", Series: []plots.Series{{Name: "mean P", X: xs, Y: plots.Smooth(p, w)}}},
		plots.Panel{Title: "k3 KL to the reference", XLabel: "step", Series: []plots.Series{
			{Name: "turn 1", X: xs, Y: plots.Smooth(kl1, w)}, {Name: "turn 2", X: xs, Y: plots.Smooth(kl2, w)}}},
		plots.Panel{Title: "KL weights (mean over questions)", XLabel: "step", Series: []plots.Series{
			{Name: "beta1", X: xs, Y: b1}, {Name: "beta2", X: xs, Y: b2}}},
	); err != nil {
		return err
	}
	return plots.Heatmap(filepath.Join(dir, "trajectories.png"), "trajectory types (training rollouts)", "step", TypeNames, xs, shares)
}
