package main

import (
	"fmt"
	"math"
	"runtime"
	"time"

	"github.com/kiln-ml/kiln/kernels"
	"github.com/kiln-ml/kiln/tensor"
)

func init() {
	register(&command{
		name:    "demo",
		summary: "run the engine's self-check and a small autograd training example (no downloads)",
		run:     runDemo,
	})
}

func runDemo(args []string) error {
	c := commands["demo"]
	fs := newFlags(c)
	seed := fs.Uint64("seed", 1, "random seed (same seed and thread count, same numbers)")
	steps := fs.Int("steps", 300, "training steps of the example")
	if err := parseFlags(c, fs, args); err != nil {
		return err
	}
	if *steps < 1 {
		return fmt.Errorf("-steps must be at least 1, got %d", *steps)
	}
	fmt.Printf("kiln demo: engine self-check, then a tiny autograd example\n\n")
	fmt.Printf("engine    %s %s/%s, kernels=%s, threads=%d\n", runtime.Version(), runtime.GOOS, runtime.GOARCH, kernels.Variant(), kernels.Threads())
	if err := selfCheck(); err != nil {
		return fmt.Errorf("self-check failed: %w", err)
	}
	return spiralExample(*seed, *steps)
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

// spiralExample trains a 2-64-64-3 GELU MLP with AdamW to classify three
// interleaved spirals: a problem a linear model cannot solve.
func spiralExample(seed uint64, steps int) error {
	const perClass, classes = 100, 3
	rng := tensor.NewRNG(seed)
	xs := make([]float32, 0, 2*perClass*classes)
	ys := make([]int, 0, perClass*classes)
	for c := 0; c < classes; c++ {
		for i := 0; i < perClass; i++ {
			r := float64(i) / perClass
			a := float64(c)*2*math.Pi/classes + 4*r + 0.2*rng.NormFloat64()
			xs = append(xs, float32(r*math.Cos(a)), float32(r*math.Sin(a)))
			ys = append(ys, c)
		}
	}
	x := tensor.FromSlice(xs, len(ys), 2)
	init := func(in, out int) *tensor.Tensor {
		return tensor.Randn(rng, float32(math.Sqrt(2/float64(in))), in, out).RequiresGrad()
	}
	w1, b1 := init(2, 64), tensor.Zeros(64).RequiresGrad()
	w2, b2 := init(64, 64), tensor.Zeros(64).RequiresGrad()
	w3, b3 := init(64, classes), tensor.Zeros(classes).RequiresGrad()
	params := []*tensor.Tensor{w1, b1, w2, b2, w3, b3}
	forward := func() *tensor.Tensor {
		h := x.MatMul(w1).Add(b1).Gelu()
		h = h.MatMul(w2).Add(b2).Gelu()
		return h.MatMul(w3).Add(b3)
	}
	accuracy := func() float64 {
		var logits *tensor.Tensor
		tensor.NoGrad(func() { logits = forward() })
		correct := 0
		for i, y := range ys {
			best := 0
			for c := 1; c < classes; c++ {
				if logits.At(i, c) > logits.At(i, best) {
					best = c
				}
			}
			if best == y {
				correct++
			}
		}
		return float64(correct) / float64(len(ys))
	}
	m := make([][]float32, len(params))
	v := make([][]float32, len(params))
	for i, p := range params {
		m[i], v[i] = make([]float32, p.Numel()), make([]float32, p.Numel())
	}
	nparams := 0
	for _, p := range params {
		nparams += p.Numel()
	}
	fmt.Printf("\nexample   3-class spiral, %d points, MLP 2-64-64-3 (%d parameters), AdamW lr 1e-2, seed %d\n", len(ys), nparams, seed)
	fmt.Printf("          accuracy before training: %.1f%%\n", 100*accuracy())
	start := time.Now()
	var loss float32
	for step := 1; step <= steps; step++ {
		l := forward().CrossEntropy(ys, -1, tensor.ReduceMean)
		l.Backward()
		for i, p := range params {
			kernels.AdamW(p.Data(), p.Grad().Data(), m[i], v[i], 1e-2, 0.9, 0.999, 1e-8, 0, step)
			p.ZeroGrad()
		}
		loss = l.Item()
		if math.IsNaN(float64(loss)) || math.IsInf(float64(loss), 0) {
			return fmt.Errorf("loss became %v at step %d", loss, step)
		}
		if step == 1 || step%(max(steps/5, 1)) == 0 {
			fmt.Printf("          step %4d  loss %.4f\n", step, loss)
		}
	}
	acc := accuracy()
	fmt.Printf("          accuracy after %d steps: %.1f%% (%.2fs)\n", steps, 100*acc, time.Since(start).Seconds())
	fmt.Printf("\nThe VLM, its tasks and the research loops will take over this demo as they land.\n")
	return nil
}
