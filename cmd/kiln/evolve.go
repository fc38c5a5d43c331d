package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/kiln-ml/kiln/internal/atomicfile"
	"github.com/kiln-ml/kiln/selfevolve"
	"github.com/kiln-ml/kiln/tensor"
	"github.com/kiln-ml/kiln/vision"
	"github.com/kiln-ml/kiln/vision/tasks"
	"github.com/kiln-ml/kiln/vision/train"
)

func init() {
	register(&command{
		name:    "evolve",
		summary: "EvoLMM self-evolution without labels (proposer/solver LoRA, continuous self-consistency reward); -ablation runs the paper's table",
		run:     runEvolve,
	})
}

// evolveFlags binds every selfevolve option to a flag, with the defaults of
// selfevolve.Scaled (the spec's values except the learning rate and the
// proposer's token budget; see selfevolve.Options).
func evolveFlags(fs *flag.FlagSet, o *selfevolve.Options) (reward, guard *string) {
	d := *o
	fs.IntVar(&o.Steps, "steps", d.Steps, "outer steps (one image, one question, N answers each)")
	fs.IntVar(&o.N, "n", d.N, "solver samples per question")
	fs.IntVar(&o.ProposerMaxNew, "proposer-max-new", d.ProposerMaxNew, "proposer token budget (spec 128)")
	fs.IntVar(&o.SolverMaxNew, "solver-max-new", d.SolverMaxNew, "solver token budget")
	temp := float64(d.Temperature)
	fs.Func("temperature", fmt.Sprintf("sampling temperature of both roles (default %g)", temp), func(s string) error {
		v, err := strconv.ParseFloat(s, 32)
		o.Temperature = float32(v)
		return err
	})
	reward = fs.String("reward", string(d.Reward), "reward: continuous (EvoLMM) or discrete (majority vote; ablation)")
	fs.Float64Var(&o.Gamma, "gamma", d.Gamma, "solver reward exponent on the answer share")
	fs.Float64Var(&o.LambdaLen, "lambda-len", d.LambdaLen, "length-penalty weight")
	fs.Float64Var(&o.Tau, "tau", d.Tau, "words before <answer> without penalty")
	fs.Float64Var(&o.MuH, "mu-h", d.MuH, "proposer band-pass centre (nats)")
	fs.Float64Var(&o.SigmaH, "sigma-h", d.SigmaH, "proposer band-pass width (nats)")
	fs.Float64Var(&o.BaselineMomentum, "baseline-momentum", d.BaselineMomentum, "moving baseline b <- m b + (1-m) r per role")
	fs.Float64Var(&o.BaselineInit, "baseline-init", d.BaselineInit, "start value of the moving baselines")
	fs.BoolVar(&o.GroupBaseline, "group-baseline", d.GroupBaseline, "solver advantage against the mean of its N samples (GRPO style) instead of the moving baseline")
	fs.Float64Var(&o.ConfidenceFilter, "confidence", d.ConfidenceFilter, "skip solver updates when the majority share is below this (0 = off, 0.8 = 4 of 5)")
	fs.IntVar(&o.ProposerEvery, "proposer-every", d.ProposerEvery, "proposer step every K outer steps")
	fs.BoolVar(&o.FreezeProposer, "freeze-proposer", d.FreezeProposer, "never update the proposer (ablation)")
	fs.Float64Var(&o.BetaInit, "beta", d.BetaInit, "initial KL weight per role")
	fs.Float64Var(&o.KLTarget, "kl-target", d.KLTarget, "adaptive-beta KL target (nats/token)")
	fs.Float64Var(&o.BetaRate, "beta-rate", d.BetaRate, "adaptive-beta rate")
	fs.Float64Var(&o.BetaMin, "beta-min", d.BetaMin, "adaptive-beta lower clip")
	fs.Float64Var(&o.BetaMax, "beta-max", d.BetaMax, "adaptive-beta upper clip")
	fs.BoolVar(&o.AdaptiveKL, "adaptive-kl", d.AdaptiveKL, "adapt beta to the KL target (false: fixed beta)")
	f32 := func(name string, p *float32, usage string) {
		def := *p
		fs.Func(name, fmt.Sprintf("%s (default %g)", usage, def), func(s string) error {
			v, err := strconv.ParseFloat(s, 32)
			*p = float32(v)
			return err
		})
	}
	f32("lr", &o.LR, "AdamW learning rate (spec 1e-6)")
	f32("wd", &o.WeightDecay, "AdamW weight decay")
	f32("adam-beta1", &o.Beta1, "AdamW beta1")
	f32("adam-beta2", &o.Beta2, "AdamW beta2")
	f32("adam-eps", &o.Eps, "AdamW epsilon")
	f32("clip", &o.Clip, "gradient-norm clip per step (0 = off)")
	f32("lora-alpha", &o.LoRAAlpha, "LoRA alpha")
	f32("lora-dropout", &o.LoRADropout, "LoRA dropout")
	fs.IntVar(&o.LoRARank, "lora-rank", d.LoRARank, "LoRA rank")
	fs.Func("lora-targets", "comma-separated Params globs of the adapted Linears (default the LM's q,k,v,o,gate,up,down projections)", func(s string) error {
		o.LoRATargets = strings.Split(s, ",")
		return nil
	})
	fs.IntVar(&o.ImagePool, "image-pool", d.ImagePool, "unlabeled images cycled in a fixed shuffled order")
	fs.Uint64Var(&o.ImageSeed, "image-seed", d.ImageSeed, "seed of the unlabeled image stream (train split)")
	fs.Uint64Var(&o.Seed, "seed", d.Seed, "seed of the shuffle, sampling and adapter init")
	fs.IntVar(&o.EvalEvery, "eval-every", d.EvalEvery, "validate (and guard) every N outer steps")
	fs.IntVar(&o.EvalItems, "eval-items", d.EvalItems, "validation items per evaluation (0 = no validation, no guard)")
	fs.IntVar(&o.EvalSamples, "eval-samples", d.EvalSamples, "sampled answers per validation item")
	guard = fs.String("guard", string(d.Guard), "on a validation fall of more than -guard-margin below the best: stop (restore best, end), rollback (restore, go on) or off")
	fs.Float64Var(&o.GuardMargin, "guard-margin", d.GuardMargin, "validation greedy accuracy drop that triggers the guard (0.05 = 5 points)")
	fs.IntVar(&o.MaxRollbacks, "max-rollbacks", d.MaxRollbacks, "rollback guard: stop after this many")
	fs.IntVar(&o.SaveEvery, "save-every", d.SaveEvery, "checkpoint every N outer steps")
	fs.BoolVar(&o.PlainAlloc, "plain-alloc", d.PlainAlloc, "allocate the tensors of the updates and of decoding from the Go heap instead of arenas (the same numbers, slower, less memory; for comparison)")
	return reward, guard
}

func runEvolve(args []string) error {
	c := commands["evolve"]
	fs := newFlags(c)
	o := selfevolve.Scaled()
	reward, guard := evolveFlags(fs, &o)
	model := fs.String("model", "vision/pretrained/model", "base model bundle or checkpoint directory")
	out := fs.String("out", "runs/evolve", "run directory (steps.jsonl, evals.jsonl, PNGs, checkpoint/); an existing checkpoint is resumed")
	testItems := fs.Int("test-items", 500, "held-out test items for the before/after report (0 = none)")
	testSamples := fs.Int("test-samples", 5, "sampled answers per test item (sampled and majority accuracy)")
	last := fs.Bool("last", false, "report and export the last weights instead of the best validation ones")
	export := fs.String("export", "", "write the solver (adapter merged) as a model bundle to this directory")
	ablation := fs.Bool("ablation", false, "run the ablation table (base, discrete, continuous, continuous with frozen proposer) instead of one run")
	seeds := fs.String("seeds", "1,2,3", "ablation seeds")
	group := fs.Bool("ablation-group", false, "add the group-baseline variant to the ablation (reported separately)")
	variants := fs.String("variants", "", "ablation: comma-separated subset of variants (default all)")
	if err := parseFlags(c, fs, args); err != nil {
		return err
	}
	o.Reward, o.Guard = selfevolve.RewardKind(*reward), selfevolve.GuardAction(*guard)
	o.Progress = os.Stderr
	if err := o.Validate(); err != nil {
		return err
	}
	load := func() (*vision.VLM, *vision.Chat, error) { return train.LoadBundle(*model) }
	m, chat, err := load()
	if err != nil {
		return err
	}
	imgS, err := tasks.NewStream(tasks.DefaultConfig(), tasks.Train, o.ImageSeed)
	if err != nil {
		return err
	}
	// Fixed stream seeds: every run validates and tests on the same items.
	valS, err := tasks.NewStream(tasks.DefaultConfig(), tasks.Validation, 1)
	if err != nil {
		return err
	}
	testS, err := tasks.NewStream(tasks.DefaultConfig(), tasks.Test, 1)
	if err != nil {
		return err
	}
	var tb bytes.Buffer
	if err := chat.Tok.WriteJSON(&tb); err != nil {
		return err
	}
	files := map[string][]byte{train.BundleTokenizer: tb.Bytes()}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}

	if *ablation {
		var ss []uint64
		for _, s := range strings.Split(*seeds, ",") {
			v, err := strconv.ParseUint(strings.TrimSpace(s), 10, 64)
			if err != nil {
				return fmt.Errorf("-seeds: %v", err)
			}
			ss = append(ss, v)
		}
		vs := append([]selfevolve.Variant(nil), selfevolve.Variants...)
		if *group {
			vs = append(vs, selfevolve.GroupVariant)
		}
		if *variants != "" {
			keep := map[string]bool{}
			for _, v := range strings.Split(*variants, ",") {
				keep[strings.TrimSpace(v)] = true
			}
			var sel []selfevolve.Variant
			for _, v := range vs {
				if keep[v.Name] {
					sel = append(sel, v)
				}
			}
			if len(sel) == 0 {
				return fmt.Errorf("-variants %q names none of the variants", *variants)
			}
			vs = sel
		}
		start := time.Now()
		runs, err := selfevolve.RunAblation(selfevolve.AblationOptions{
			Load: load, Opt: o, Variants: vs, Seeds: ss,
			Images: train.TaskStream{S: imgS}, Val: train.TaskStream{S: valS}, Test: train.TaskStream{S: testS},
			TestItems: *testItems, TestSamples: *testSamples, Last: *last, Dir: *out, Files: files, Cfg: m.Cfg, Progress: os.Stderr,
		})
		if err != nil {
			return err
		}
		table := selfevolve.AblationTable(runs)
		hdr := fmt.Sprintf("EvoLMM ablation: held-out test greedy accuracy (%%) per family, mean ± sd over seeds %s; %d test items, %d steps per run, lr %g, model %s\n\n",
			*seeds, *testItems, o.Steps, o.LR, *model)
		if err := atomicfile.WriteFile(filepath.Join(*out, "ablation.md"), func(w io.Writer) error { _, err := io.WriteString(w, hdr+table); return err }); err != nil {
			return err
		}
		b, _ := json.MarshalIndent(runs, "", "  ")
		if err := atomicfile.WriteFile(filepath.Join(*out, "ablation.json"), func(w io.Writer) error { _, err := w.Write(append(b, '\n')); return err }); err != nil {
			return err
		}
		fmt.Printf("%s%s\n(%s; table in %s)\n", hdr, table, time.Since(start).Round(time.Second), filepath.Join(*out, "ablation.md"))
		return nil
	}

	eo := selfevolve.EvalOptions{Items: *testItems, Samples: *testSamples, MaxNew: o.SolverMaxNew, Seed: o.Seed}
	if !o.PlainAlloc {
		eo.Arena = tensor.NewArena()
		defer tensor.TightGC()()
	}
	var before, after selfevolve.Eval
	if *testItems > 0 {
		before = selfevolve.Evaluate(m, chat, train.TaskStream{S: testS}, eo)
		fmt.Printf("test before (%d items):\n%s\n", *testItems, before.Table())
	}
	o.Dir = *out
	t, err := selfevolve.New(m, chat, train.TaskStream{S: imgS}, train.TaskStream{S: valS}, o)
	if err != nil {
		return err
	}
	t.Files, t.Cfg = files, m.Cfg
	if err := t.Run(); err != nil {
		return err
	}
	if t.S.Stopped != "" {
		fmt.Printf("guard: %s\n", t.S.Stopped)
	}
	which := "last"
	if !*last {
		t.RestoreBest()
		which = fmt.Sprintf("best validation (step %d)", t.S.BestStep)
	}
	fmt.Printf("after %d steps, %s weights: validation greedy %.1f%% -> best %.1f%%\n", t.S.Step, which, 100*t.S.BaseAcc, 100*t.S.BestAcc)
	if *testItems > 0 {
		m.P.WithAdapter(selfevolve.Solver, func() { after = selfevolve.Evaluate(m, chat, train.TaskStream{S: testS}, eo) })
		fmt.Printf("test after:\n%s\n", after.Table())
	}
	sum, err := selfevolve.Summarize(*out)
	if err != nil {
		return err
	}
	fmt.Printf("training: solver reward %.3f (last tenth %.3f), proposer reward %.3f (%.3f), answer entropy %.3f (%.3f) nats,\n"+
		"  questions valid %.0f%% (%.0f%%), malformed %.0f%%, distinct %.0f%%; KL solver %.4f proposer %.4f; beta solver %.2g proposer %.2g\n",
		sum.SolverReward, sum.LateSolver, sum.ProposerReward, sum.LateProposer, sum.Entropy, sum.LateEntropy,
		100*sum.Valid, 100*sum.LateValid, 100*sum.Malformed, 100*sum.Diversity, sum.KLSolver, sum.KLProposer, sum.BetaSolver, sum.BetaProposer)
	rep, _ := json.MarshalIndent(map[string]any{"before": before, "after": after, "weights": which, "state": t.S, "train": sum, "options": optionsJSON(o)}, "", "  ")
	if err := atomicfile.WriteFile(filepath.Join(*out, "report.json"), func(w io.Writer) error { _, err := w.Write(append(rep, '\n')); return err }); err != nil {
		return err
	}
	if *export != "" {
		merged, err := selfevolve.MergedSolver(m)
		if err != nil {
			return err
		}
		if err := train.SaveBundle(*export, merged, chat); err != nil {
			return err
		}
		fmt.Printf("solver bundle written to %s\n", *export)
	}
	fmt.Printf("logs, plots and checkpoint in %s\n", *out)
	return nil
}

// optionsJSON is o without its writer.
func optionsJSON(o selfevolve.Options) selfevolve.Options {
	o.Progress = nil
	return o
}
