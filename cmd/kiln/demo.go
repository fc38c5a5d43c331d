package main

import (
	"fmt"
	"math"
	"runtime"
	"time"

	"github.com/kiln-ml/kiln/kernels"
	"github.com/kiln-ml/kiln/selfevolve"
	"github.com/kiln-ml/kiln/tensor"
	"github.com/kiln-ml/kiln/vision"
	"github.com/kiln-ml/kiln/vision/tasks"
	"github.com/kiln-ml/kiln/vision/train"
)

func init() {
	register(&command{
		name:    "demo",
		summary: "evaluate the embedded VLM on held-out tasks and draw its answers (no downloads)",
		run:     runDemo,
	})
}

func runDemo(args []string) error {
	c := commands["demo"]
	fs := newFlags(c)
	seed := fs.Uint64("seed", 1, "seed of the test stream and of sampling (same seed and thread count, same numbers)")
	items := fs.Int("items", 300, "test items to evaluate")
	samples := fs.Int("samples", 5, "sampled answers per item for sampled and majority accuracy")
	grid := fs.String("grid", "kiln-demo.png", "PNG grid of test images with questions, answers and truth (empty: none)")
	model := fs.String("model", "", "model bundle directory (default: the embedded model)")
	evolveSteps := fs.Int("evolve-steps", 20, "steps of the short EvoLMM self-evolution run (0 = skip)")
	adapoSteps := fs.Int("adapo-steps", 8, "steps of the short AdaPO run (0 = skip)")
	researchItems := fs.Int("research-items", 100, "held-out items scored before and after each research run")
	if err := parseFlags(c, fs, args); err != nil {
		return err
	}
	if *items < 1 {
		return fmt.Errorf("-items must be at least 1, got %d", *items)
	}
	start := time.Now()
	fmt.Printf("kiln demo: the shipped VLM on held-out synthetic visual-reasoning tasks\n\n")
	fmt.Printf("engine    %s %s/%s, kernels=%s, threads=%d\n", runtime.Version(), runtime.GOOS, runtime.GOARCH, kernels.Variant(), kernels.Threads())
	if err := selfCheck(); err != nil {
		return fmt.Errorf("self-check failed: %w", err)
	}
	m, chat, err := loadModel(*model)
	if err != nil {
		return err
	}
	cfg := m.Cfg
	src := "embedded"
	if *model != "" {
		src = *model
	}
	fmt.Printf("model     %s: %d parameters; ViT %dx%d (%d px images, %d px patches), LM %dx%d, %d image tokens, vocab %d\n",
		src, m.P.Count(false), cfg.VitLayers, cfg.VitDim, cfg.ImageSize, cfg.PatchSize, cfg.LMLayers, cfg.LMDim, cfg.ImageTokens(), cfg.Vocab)
	test, err := tasks.NewStream(tasks.DefaultConfig(), tasks.Test, *seed)
	if err != nil {
		return err
	}
	stream := train.TaskStream{S: test}
	blind, err := tasks.NewBlind(tasks.DefaultConfig(), defaultBlindItems, *seed)
	if err != nil {
		return err
	}
	defer tensor.TightGC()() // the decoding arena's buffers are live heap
	r := train.Evaluate(m, chat, stream, train.EvalOptions{Items: *items, Samples: *samples, MaxNew: 48, Seed: *seed, SelfEval: true, Blind: blind, Arena: tensor.NewArena()})
	fmt.Printf("\ntest stream: %d items, greedy and %d samples at temperature 1 (%.0fs);\nblind: the best answer to the question text alone, from %d training items\n\n%s", *items, *samples, r.Seconds, r.BlindItems, r.Table())
	if n := smallestFamily(r); n > 0 {
		// At demo sizes a family's score is a small sample: say how small,
		// so a family that reads at or below blind is not taken for a fact.
		fmt.Printf("(the smallest family has %d items: a standard error of up to %.0f points; the README compares\n every family with blind on 10,000 paired items)\n", n, 50/math.Sqrt(float64(n)))
	}
	if *grid != "" {
		n := min(12, *items)
		shown := make([]train.Item, n)
		for i := range shown {
			shown[i] = stream.Item(i)
		}
		if err := train.WriteGrid(*grid, shown, r.Outputs[:n], 3); err != nil {
			return err
		}
		fmt.Printf("\nwrote %s: %d test images with the question, the model's answer and the truth\n", *grid, n)
	}
	if *evolveSteps > 0 {
		fmt.Printf("\nEvoLMM: %d steps of label-free self-evolution (proposer and solver LoRA adapters, continuous self-consistency reward)\n", *evolveSteps)
		before, after, err := selfevolve.Quick(m, chat, *evolveSteps, *researchItems, nil)
		if err != nil {
			return err
		}
		b, a := before.All(), after.All()
		fmt.Printf("          test greedy %.1f%% -> %.1f%%, sampled %.1f%% -> %.1f%%, majority %.1f%% -> %.1f%% (%d items; labels used only to score)\n",
			100*b.Greedy, 100*a.Greedy, 100*b.Sampled, 100*a.Sampled, 100*b.Majority, 100*a.Majority, a.N)
	}
	if *adapoSteps > 0 {
		fmt.Printf("\nAdaPO: %d steps of two-turn RL with adaptive rewards and dynamic KL\n", *adapoSteps)
		before, after, err := adapoDemo(func() (*vision.VLM, *vision.Chat, error) { return loadModel(*model) }, *adapoSteps, *researchItems, *seed)
		if err != nil {
			return err
		}
		fmt.Printf("          validation acc@t1 %.1f%% -> %.1f%%, acc@t2 %.1f%% -> %.1f%%, delta %+.1f -> %+.1f\n",
			100*before.AccT1, 100*after.AccT1, 100*before.AccT2, 100*after.AccT2, 100*before.Delta, 100*after.Delta)
	}
	fmt.Printf("\ndone in %.0fs\n", time.Since(start).Seconds())
	return nil
}

// selfCheck runs finite-difference gradient checks of a few core ops on this
// machine's kernels, so a broken build or CPU variant shows at once.
func selfCheck() error {
	rng := tensor.NewRNG(42)
	r := func(shape ...int) *tensor.Tensor { return tensor.Rand(rng, -1, 1, shape...) }
	checks := []struct {
		name string
		in   []*tensor.Tensor
		f    func(x []*tensor.Tensor) *tensor.Tensor
	}{
		{"matmul", []*tensor.Tensor{r(5, 7), r(7, 3)}, func(x []*tensor.Tensor) *tensor.Tensor { return x[0].MatMul(x[1]) }},
		{"softmax", []*tensor.Tensor{r(4, 9)}, func(x []*tensor.Tensor) *tensor.Tensor { return x[0].Softmax() }},
		{"layer_norm", []*tensor.Tensor{r(3, 8), r(8), r(8)}, func(x []*tensor.Tensor) *tensor.Tensor { return x[0].LayerNorm(x[1], x[2], 1e-5) }},
		{"attention", []*tensor.Tensor{r(1, 2, 4, 8), r(1, 2, 4, 8), r(1, 2, 4, 8)}, func(x []*tensor.Tensor) *tensor.Tensor {
			return tensor.ScaledDotProductAttention(x[0], x[1], x[2], tensor.AttnOpts{Causal: true})
		}},
		{"cross_entropy", []*tensor.Tensor{r(6, 5)}, func(x []*tensor.Tensor) *tensor.Tensor {
			return x[0].CrossEntropy([]int{0, 4, 2, -1, 1, 3}, -1, tensor.ReduceMean)
		}},
	}
	fmt.Printf("self-check gradients vs finite differences:")
	for _, c := range checks {
		if err := tensor.GradCheck(c.f, c.in, tensor.GradCheckOpts{}); err != nil {
			fmt.Println()
			return fmt.Errorf("%s: %w", c.name, err)
		}
		fmt.Printf(" %s ok", c.name)
	}
	fmt.Println()
	return nil
}

// smallestFamily is the item count of the smallest family row (0 if none).
func smallestFamily(r train.Report) int {
	n := 0
	for _, f := range r.Families {
		if f.Family != "all" && f.N > 0 && (n == 0 || f.N < n) {
			n = f.N
		}
	}
	return n
}
