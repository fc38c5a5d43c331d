package vision

import (
	"os"
	"runtime"
	"strconv"
	"testing"

	"github.com/kiln-ml/kiln/kernels"
	"github.com/kiln-ml/kiln/nn"
	"github.com/kiln-ml/kiln/tensor"
)

// The VLM that bench/py/vlm_bench.py times in PyTorch, spelled out here (not
// DemoConfig, which may change) so both sides build the same 663,264
// parameters: width 96, 3+3 layers, a 512-token vocabulary, batch 16, 32 px
// images (16 image tokens), training sequences of 128 and generation of 64
// tokens after a 64-token prompt. Run with -cpu 1,2: kiln's worker count
// follows GOMAXPROCS here.
const (
	benchVocab    = 512
	benchImageTok = 4
	benchBatch    = 16
	benchSeq      = 128
	benchPrompt   = 64
	benchNew      = 64
)

func benchModel(b *testing.B) *VLM {
	b.Helper()
	c := DemoConfig(benchVocab, benchImageTok)
	c.VitDim, c.VitMLP, c.LMDim, c.LMHidden = 96, 256, 96, 256
	// A wider model, for the ratios at other sizes: KILN_BENCH_WIDTH and
	// KILN_BENCH_HIDDEN match vlm_bench.py's --width and --hidden.
	custom := false
	for env, dst := range map[string][]*int{"KILN_BENCH_WIDTH": {&c.VitDim, &c.LMDim}, "KILN_BENCH_HIDDEN": {&c.VitMLP, &c.LMHidden}} {
		if v := os.Getenv(env); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n <= 0 {
				b.Fatalf("%s=%q: want a positive integer", env, v)
			}
			for _, d := range dst {
				*d = n
			}
			custom = true
		}
	}
	m, err := New(c, 1)
	if err != nil {
		b.Fatal(err)
	}
	if n := m.P.Count(false); !custom && n != 663264 {
		b.Fatalf("benchmark model has %d parameters, PyTorch's has 663264", n)
	}
	return m
}

// benchSequence is BOS, the image placeholders, then n-1-ImageTokens text
// tokens drawn from rng (never the placeholder).
func benchSequence(c Config, n int, seed uint64) []int {
	rng := tensor.NewRNG(seed)
	s := []int{1}
	for range c.ImageTokens() {
		s = append(s, c.ImageToken)
	}
	for len(s) < n {
		s = append(s, 5+rng.IntN(c.Vocab-5))
	}
	return s
}

func benchThreads(b *testing.B) {
	old := kernels.SetThreads(runtime.GOMAXPROCS(0))
	b.Cleanup(func() { kernels.SetThreads(old) })
}

// benchTrainBatch is the training batch of the benchmarks: benchBatch
// sequences of benchSeq tokens, next-token targets off the image positions.
func benchTrainBatch(c Config) *Batch {
	B, T := benchBatch, benchSeq
	bt := &Batch{B: B, T: T, IDs: make([]int, B*T), Targets: make([]int, B*T),
		Images: tensor.Randn(tensor.NewRNG(2), 1, B, 3, c.ImageSize, c.ImageSize)}
	for i := 0; i < B; i++ {
		s := benchSequence(c, T, uint64(10+i))
		copy(bt.IDs[i*T:], s)
		for t := 0; t < T; t++ {
			bt.Targets[i*T+t] = IgnoreIndex
			if t+1 < T && s[t+1] != c.ImageToken {
				bt.Targets[i*T+t] = s[t+1]
			}
		}
	}
	return bt
}

// benchTrainSteps times AdamW training steps of m on bt (forward, loss,
// backward, update) after warm warm-up steps; done runs after the last
// step, inside the timing (a device waits for its queue there).
func benchTrainSteps(b *testing.B, m *VLM, bt *Batch, warm int, done func()) {
	benchTrainStepsIn(b, m, bt, warm, done, nil)
}

// benchTrainStepsIn is benchTrainSteps with each step inside arena (nil:
// none), as kiln train runs it.
func benchTrainStepsIn(b *testing.B, m *VLM, bt *Batch, warm int, done func(), arena *tensor.Arena) {
	opt := nn.NewAdamW(m.P.DefaultGroups(0.01), 0.9, 0.999, 1e-8)
	step := func() {
		arena.Do(func() {
			loss := m.Loss(bt)
			loss.Backward()
			if err := opt.Step(1e-3); err != nil {
				b.Fatal(err)
			}
			opt.ZeroGrad()
		})
	}
	for range warm { // optimizer buffers, worker pool, a device's allocator cache
		step()
	}
	b.ResetTimer()
	for range b.N {
		step()
	}
	if done != nil {
		done()
	}
	b.ReportMetric(float64(bt.B*bt.T*b.N)/b.Elapsed().Seconds(), "tok/s")
	b.ReportMetric(float64(m.P.Count(false)), "params")
}

// BenchmarkTrainStep is one AdamW training step: forward, loss, backward and
// the optimizer update.
func BenchmarkTrainStep(b *testing.B) {
	benchThreads(b)
	m := benchModel(b)
	benchTrainSteps(b, m, benchTrainBatch(m.Cfg), 1, nil)
}

// BenchmarkTrainStepArena is BenchmarkTrainStep with each step in a
// tensor.Arena, as kiln train runs it (GOGC is the caller's: kiln train
// sets 25, see train.Run).
func BenchmarkTrainStepArena(b *testing.B) {
	benchThreads(b)
	m := benchModel(b)
	benchTrainStepsIn(b, m, benchTrainBatch(m.Cfg), 1, nil, tensor.NewArena())
}

// BenchmarkGenerate is greedy generation with the KV cache: 64 new tokens
// for each of 16 prompts of 64 tokens (image included), no stop token.
func BenchmarkGenerate(b *testing.B) {
	benchThreads(b)
	m := benchModel(b)
	benchGenerate(b, m, benchImages(m.Cfg))
}

// BenchmarkGenerateArena is BenchmarkGenerate with each decoding step in a
// tensor.Arena, as the research loops' rollouts run it.
func BenchmarkGenerateArena(b *testing.B) {
	benchThreads(b)
	m := benchModel(b)
	benchGenerateOpts(b, m, benchImages(m.Cfg), SampleOpts{MaxNew: benchNew, Arena: tensor.NewArena()})
}

// benchImages are the generation benchmarks' images (on the host).
func benchImages(c Config) *tensor.Tensor {
	return tensor.Randn(tensor.NewRNG(3), 1, benchBatch, 3, c.ImageSize, c.ImageSize)
}

// benchGenerate times m.Generate on img and the benchmark prompts after one
// warm-up call.
func benchGenerate(b *testing.B, m *VLM, img *tensor.Tensor) {
	benchGenerateOpts(b, m, img, SampleOpts{MaxNew: benchNew})
}

func benchGenerateOpts(b *testing.B, m *VLM, img *tensor.Tensor, opts SampleOpts) {
	prompts := make([][]int, benchBatch)
	for i := range prompts {
		prompts[i] = benchSequence(m.Cfg, benchPrompt, uint64(100+i))
	}
	m.Generate(img, prompts, opts) // warm-up
	b.ResetTimer()
	for range b.N {
		out := m.Generate(img, prompts, opts)
		if len(out[0].Tokens) != benchNew {
			b.Fatalf("generated %d tokens, want %d", len(out[0].Tokens), benchNew)
		}
	}
	b.ReportMetric(float64(benchBatch*benchNew*b.N)/b.Elapsed().Seconds(), "tok/s")
	b.ReportMetric(float64(m.P.Count(false)), "params")
}
