package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/kiln-ml/kiln/rl"
	"github.com/kiln-ml/kiln/vision"
	"github.com/kiln-ml/kiln/vision/tasks"
	"github.com/kiln-ml/kiln/vision/train"
)

func init() {
	register(&command{
		name:    "adapo",
		summary: "AdaPO: RL for stable self-evaluation (two-turn GRPO, adaptive rewards, dynamic KL), its baselines, and -ablation for the paper's table",
		run:     runAdaPO,
	})
}

func runAdaPO(args []string) error {
	c := commands["adapo"]
	fs := newFlags(c)
	d := rl.DefaultOptions(rl.AdaPO)
	model := fs.String("model", "", "starting model: bundle or checkpoint directory (default: the embedded model); also the frozen reference")
	method := fs.String("method", string(rl.AdaPO), "adapo, no-arm, no-dynkl, grpo-correct, grpo-keep or score")
	out := fs.String("out", "runs/adapo", "run directory (metrics.jsonl, curves.png, trajectories.png, checkpoint/); an existing checkpoint there is resumed")
	steps := fs.Int("steps", d.Steps, "optimisation steps")
	questions := fs.Int("questions", d.Questions, "questions per step")
	group := fs.Int("group", d.Group, "episodes per question (GRPO group size G)")
	epochs := fs.Int("epochs", d.Epochs, "optimizer updates per batch of rollouts (PPO epochs)")
	micro := fs.Int("micro-batch", d.MicroBatch, "episodes per forward/backward chunk (gradients accumulated)")
	lr := fs.Float64("lr", f64(d.LR), "peak learning rate")
	minLR := fs.Float64("min-lr", f64(d.MinLR), "final learning rate of the cosine schedule")
	warmup := fs.Int("warmup", d.Warmup, "warmup steps")
	clip := fs.Float64("clip", f64(d.Clip), "gradient-norm clip (0 = off)")
	clipEps := fs.Float64("clip-eps", f64(d.ClipEps), "PPO ratio clip epsilon")
	temp := fs.Float64("temperature", f64(d.Temperature), "sampling temperature of both turns")
	maxNew := fs.Int("max-new", d.MaxNew, "token budget of each turn")
	trainable := fs.String("train", d.Trainable, "glob of the parameters trained")
	evalEvery := fs.Int("eval-every", d.EvalEvery, "validate (greedy acc@t1/acc@t2) every N steps")
	evalItems := fs.Int("eval-items", d.EvalItems, "validation items per evaluation (0 = none)")
	saveEvery := fs.Int("save-every", d.SaveEvery, "checkpoint every N steps")
	seed := fs.Uint64("seed", d.Seed, "seed of sampling and of the training questions")
	plainAlloc := fs.Bool("plain-alloc", false, "allocate the updates' tensors from the Go heap instead of an arena (the same numbers, slower; for comparison)")
	r := d.Reward
	theta := fs.Float64("theta", r.ARM.Theta, "ARM threshold on the turn-1 error rate P")
	k11 := fs.Float64("k11", r.ARM.K11, "ARM K for 1->1 (<= 0)")
	k01 := fs.Float64("k01", r.ARM.K01, "ARM K for 0->1 (>= 0)")
	k10 := fs.Float64("k10", r.ARM.K10, "ARM K for 1->0 (>= 0)")
	k00 := fs.Float64("k00", r.ARM.K00, "ARM K for 0->0 (<= 0)")
	lambda := fs.Float64("lambda", r.Lambda, "dynamic KL: lambda on the reward gap")
	betaBase := fs.Float64("beta-base", r.BetaBase, "dynamic KL: beta_base")
	beta := fs.Float64("beta", r.FixedBeta, "the one KL weight of methods without dynamic KL")
	alpha := fs.Float64("score-alpha", r.SCoReAlpha, "SCoRe: stage II bonus weight alpha")
	stage1 := fs.Float64("score-stage1", r.SCoReStageI, "SCoRe: share of the steps in stage I")
	beta1 := fs.Float64("score-beta1", r.SCoReBeta1, "SCoRe: stage I KL weight on turn 1")
	ablation := fs.Bool("ablation", false, "run the paper's table instead: base and every method over -seeds, scored on the test stream")
	seeds := fs.Int("seeds", 3, "ablation: training seeds (1..N)")
	methods := fs.String("methods", "", "ablation: comma-separated methods (default: all)")
	testItems := fs.Int("test-items", 500, "ablation: test items")
	if err := parseFlags(c, fs, args); err != nil {
		return err
	}
	meth, err := rl.ParseMethod(*method)
	if err != nil {
		return err
	}
	o := rl.Options{
		Reward: rl.RewardConfig{Method: meth, ARM: rl.ARM{Theta: *theta, K11: *k11, K01: *k01, K10: *k10, K00: *k00},
			Lambda: *lambda, BetaBase: *betaBase, FixedBeta: *beta, SCoReAlpha: *alpha, SCoReStageI: *stage1, SCoReBeta1: *beta1},
		Steps: *steps, Questions: *questions, Group: *group, Epochs: *epochs, MicroBatch: *micro,
		LR: float32(*lr), MinLR: float32(*minLR), Warmup: *warmup, Clip: float32(*clip), ClipEps: float32(*clipEps),
		AdvEps: d.AdvEps, Temperature: float32(*temp), MaxNew: *maxNew, Trainable: *trainable,
		EvalEvery: *evalEvery, EvalItems: *evalItems, SaveEvery: *saveEvery, Seed: *seed, Dir: *out, Progress: os.Stderr, PlainAlloc: *plainAlloc,
	}
	load := func() (*vision.VLM, *vision.Chat, error) { return loadModel(*model) }
	if *ablation {
		return runAdaPOAblation(o, load, *seeds, *methods, *testItems)
	}
	if err := o.Validate(); err != nil {
		return err
	}
	pol, chat, err := load()
	if err != nil {
		return err
	}
	ref, _, err := load()
	if err != nil {
		return err
	}
	trainS, err := tasks.NewStream(tasks.DefaultConfig(), tasks.Train, *seed)
	if err != nil {
		return err
	}
	valS, err := tasks.NewStream(tasks.DefaultConfig(), tasks.Validation, 1)
	if err != nil {
		return err
	}
	files, err := rl.TokenizerFile(chat)
	if err != nil {
		return err
	}
	run := &rl.Runner{Policy: pol, Ref: ref, Chat: chat, Train: train.TaskStream{S: trainS}, Val: train.TaskStream{S: valS}, Opt: o, Files: files}
	fmt.Fprintf(os.Stderr, "%s: %d questions x %d episodes per step, %d steps; training %s (%d parameters); rewards %+v\n",
		meth, o.Questions, o.Group, o.Steps, o.Trainable, pol.P.Count(false), o.Reward)
	start := time.Now()
	h, err := run.Run()
	if err != nil {
		return err
	}
	if n := len(h); n > 0 && h[n-1].Val != nil {
		v := h[n-1].Val
		fmt.Printf("validation (%d items, greedy): acc@t1 %.1f%%  acc@t2 %.1f%%  delta %+.1f  i->c %.1f%%  c->i %.1f%%\n",
			o.EvalItems, 100*v.AccT1, 100*v.AccT2, 100*v.Delta, 100*v.DeltaIC, 100*v.DeltaCI)
	}
	fmt.Printf("%d steps in %s; metrics and curves in %s; the checkpoint loads as a model bundle: %s\n",
		len(h), time.Since(start).Round(time.Second), *out, filepath.Join(*out, "checkpoint"))
	return nil
}

func runAdaPOAblation(o rl.Options, load func() (*vision.VLM, *vision.Chat, error), seeds int, methods string, testItems int) error {
	if seeds < 1 {
		return fmt.Errorf("-seeds must be at least 1, got %d", seeds)
	}
	ms := rl.Methods
	if methods != "" {
		ms = nil
		for _, s := range strings.Split(methods, ",") {
			m, err := rl.ParseMethod(strings.TrimSpace(s))
			if err != nil {
				return err
			}
			ms = append(ms, m)
		}
	}
	ss := make([]uint64, seeds)
	for i := range ss {
		ss[i] = uint64(i + 1)
	}
	check := o
	check.Dir = "x"
	if err := check.Validate(); err != nil {
		return err
	}
	start := time.Now()
	rows, err := rl.RunAblation(rl.AblationOptions{Load: load, Methods: ms, Seeds: ss, Opt: o, TestItems: testItems, TestSeed: 1, Dir: o.Dir, Progress: os.Stderr})
	if err != nil {
		return err
	}
	names := make([]string, len(ss))
	for i, s := range ss {
		names[i] = strconv.FormatUint(s, 10)
	}
	fmt.Printf("ablation: test stream, %d items; seeds %s; %d steps each (%s)\n\n%s\ntable in %s\n",
		testItems, strings.Join(names, ","), o.Steps, time.Since(start).Round(time.Second), rl.Table(rows), filepath.Join(o.Dir, "ablation.md"))
	return nil
}

// adapoDemo is kiln demo's short AdaPO run: it scores the model's two turns
// on validation items, trains a copy of it with AdaPO for a few steps
// (run directory under a temporary folder) and scores it again. load must
// return a fresh copy of the model on each call. It leaves the caller's
// models untouched.
func adapoDemo(load func() (*vision.VLM, *vision.Chat, error), steps, items int, seed uint64) (before, after rl.ValMetrics, err error) {
	pol, chat, err := load()
	if err != nil {
		return before, after, err
	}
	ref, _, err := load()
	if err != nil {
		return before, after, err
	}
	trainS, err := tasks.NewStream(tasks.DefaultConfig(), tasks.Train, seed)
	if err != nil {
		return before, after, err
	}
	valS, err := tasks.NewStream(tasks.DefaultConfig(), tasks.Validation, seed)
	if err != nil {
		return before, after, err
	}
	dir, err := os.MkdirTemp("", "kiln-adapo-demo-")
	if err != nil {
		return before, after, err
	}
	defer os.RemoveAll(dir)
	val := train.TaskStream{S: valS}
	o := rl.DefaultOptions(rl.AdaPO)
	o.Steps, o.Seed, o.Dir, o.EvalItems, o.SaveEvery = steps, seed, dir, 0, steps
	before = rl.Evaluate(pol, chat, val, items, o.MaxNew)
	run := &rl.Runner{Policy: pol, Ref: ref, Chat: chat, Train: train.TaskStream{S: trainS}, Opt: o}
	if _, err := run.Run(); err != nil {
		return before, after, err
	}
	return before, rl.Evaluate(pol, chat, val, items, o.MaxNew), nil
}

// f64 widens a float32 default without float32 noise in -h (3e-4, not
// 0.0003000000142).
func f64(x float32) float64 {
	v, _ := strconv.ParseFloat(strconv.FormatFloat(float64(x), 'g', -1, 32), 64)
	return v
}
