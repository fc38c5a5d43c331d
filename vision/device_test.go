package vision

import (
	"math"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/kiln-ml/kiln/internal/devtest"
	"github.com/kiln-ml/kiln/nn"
	"github.com/kiln-ml/kiln/tensor"
)

// The tiny VLM trains on a GPU (or the emulator: go test -tags cudaemu
// ./vision/) as on the CPU: its parameters moved with Params.To, the batch's
// images with To, three steps of loss, backward, clipping and AdamW give
// the CPU's losses and weights within 1e-4 relative (plus 1e-5 absolute).
// Without a device it skips.
func TestTrainStepOnDevice(t *testing.T) {
	dev := devtest.Open(t)
	batch := func() *Batch {
		ps := tinyPrompts()
		T := 0
		for _, p := range ps {
			T = max(T, len(p))
		}
		b := &Batch{B: len(ps), T: T, IDs: make([]int, len(ps)*T), Pad: make([]bool, len(ps)*T), Targets: make([]int, len(ps)*T)}
		for i, p := range ps {
			off := T - len(p)
			for j := range T {
				k := i*T + j
				b.Targets[k] = IgnoreIndex
				if j < off {
					b.Pad[k] = true
					continue
				}
				b.IDs[k] = p[j-off]
				if j+1 < T && p[j+1-off] != 3 {
					b.Targets[k] = p[j+1-off]
				}
			}
		}
		b.Images = tinyImages(len(ps))
		return b
	}
	run := func(on tensor.Device) ([]float32, *VLM) {
		m := tinyModel(t)
		if err := m.P.To(on); err != nil {
			t.Fatal(err)
		}
		b := batch()
		b.Images = b.Images.MustTo(on)
		opt := nn.NewAdamW(m.P.DefaultGroups(0.1), 0.9, 0.95, 1e-8)
		var losses []float32
		for range 3 {
			l := m.Loss(b)
			losses = append(losses, l.Item())
			l.Backward()
			nn.ClipGradNorm(m.P.All(), 1)
			if err := opt.Step(1e-2); err != nil {
				t.Fatal(err)
			}
			opt.ZeroGrad()
		}
		return losses, m
	}
	want, mc := run(tensor.CPU)
	got, md := run(dev)
	close := func(g, w float32) bool { return math.Abs(float64(g-w)) <= 1e-4*math.Abs(float64(w))+1e-5 }
	for i := range want {
		if !close(got[i], want[i]) {
			t.Errorf("step %d: loss %v on %v, %v on the CPU", i, got[i], dev, want[i])
		}
	}
	for _, q := range mc.P.All() {
		if strings.HasSuffix(q.Name, ".k_proj.bias") {
			// A key bias adds the same q.b to every score of a query's
			// row, which the softmax ignores: its gradient is 0 up to
			// rounding, and AdamW's m/sqrt(v) turns that noise (of either
			// sign, on either device) into full-size steps.
			continue
		}
		d := md.P.Get(q.Name).T
		if d.Device() != dev {
			t.Fatalf("%s on %v", q.Name, d.Device())
		}
		w, g := q.T.ToSlice(), d.ToSlice()
		for j := range w {
			if !close(g[j], w[j]) {
				t.Errorf("%s[%d]: %v on %v, %v on the CPU", q.Name, j, g[j], dev, w[j])
				break
			}
		}
	}
	t.Logf("losses: cpu %v, %v %v", want, dev, got)
}

// Generation with the KV cache on a device picks the CPU's greedy tokens
// with the CPU's log-probabilities (within 1e-4), sampling on the host from
// the downloaded last logits.
func TestGenerateOnDevice(t *testing.T) {
	dev := devtest.Open(t)
	mc, md := tinyModel(t), tinyModel(t)
	if err := md.P.To(dev); err != nil {
		t.Fatal(err)
	}
	img := tinyImages(3)
	for _, noCache := range []bool{false, true} {
		o := SampleOpts{MaxNew: 8, NoCache: noCache}
		want := mc.Generate(img, tinyPrompts(), o)
		got := md.Generate(img.MustTo(dev), tinyPrompts(), o)
		for i := range want {
			if !slices.Equal(got[i].Tokens, want[i].Tokens) {
				t.Errorf("nocache=%v seq %d: %v on %v, %v on the CPU", noCache, i, got[i].Tokens, dev, want[i].Tokens)
				continue
			}
			for j := range want[i].LogProbs {
				if d := math.Abs(float64(got[i].LogProbs[j] - want[i].LogProbs[j])); d > 1e-4 {
					t.Errorf("nocache=%v seq %d token %d: log-prob differs by %g", noCache, i, j, d)
				}
			}
		}
	}
}

// BenchmarkTrainStepDevice is BenchmarkTrainStep (the same model, batch and
// AdamW step) with the parameters and images on GPU 0: for the issue's
// "training step on the GPU against the 2-core CPU" target. Each step ends
// with the optimizer's finiteness read back, so steps do not pile up
// asynchronously. Far too slow for the emulator: it runs only where
// KILN_CUDA_REQUIRE=1 (the GPU run) is set.
func BenchmarkTrainStepDevice(b *testing.B) {
	if os.Getenv("KILN_CUDA_REQUIRE") != "1" {
		b.Skip("set KILN_CUDA_REQUIRE=1 on a GPU machine")
	}
	dev := devtest.Open(b)
	m := benchModel(b)
	if err := m.P.To(dev); err != nil {
		b.Fatal(err)
	}
	bt := benchTrainBatch(m.Cfg)
	bt.Images = bt.Images.MustTo(dev)
	benchTrainSteps(b, m, bt, 2, func() { // the JIT too; the last update is waited for
		_ = m.P.All()[0].T.At(0, 0)
	})
}

// BenchmarkGenerateDevice is BenchmarkGenerate on GPU 0 (sampling on the
// host from the downloaded logits). GPU run only, as above.
func BenchmarkGenerateDevice(b *testing.B) {
	if os.Getenv("KILN_CUDA_REQUIRE") != "1" {
		b.Skip("set KILN_CUDA_REQUIRE=1 on a GPU machine")
	}
	dev := devtest.Open(b)
	m := benchModel(b)
	if err := m.P.To(dev); err != nil {
		b.Fatal(err)
	}
	benchGenerate(b, m, benchImages(m.Cfg).MustTo(dev))
}
