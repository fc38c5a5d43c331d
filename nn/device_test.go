package nn

import (
	"errors"
	"math"
	"path/filepath"
	"testing"

	"github.com/kiln-ml/kiln/internal/devtest"
	"github.com/kiln-ml/kiln/tensor"
)

// A tiny model (embedding, RoPE'd causal attention, RMSNorm, a GELU MLP with
// LayerNorm, cross-entropy) trains for a few AdamW steps with clipping on a
// GPU (or the emulator: go test -tags cudaemu ./nn/) and on the CPU from
// the same weights and data: the losses and the final weights agree within
// 1e-4 relative (plus 1e-5 absolute). Without a device it skips.
func TestTrainOnDevice(t *testing.T) {
	dev := devtest.Open(t)
	const V, D, H, T, B = 11, 8, 2, 5, 2
	ids := []int{1, 4, 2, 9, 3, 0, 7, 7, 5, 10}
	targets := []int{4, 2, 9, 3, -1, 7, 7, 5, 10, 1}
	build := func(on tensor.Device) (*Params, func() *tensor.Tensor) {
		rng := tensor.NewRNG(3)
		p := NewParams(1)
		add := func(name string, x *tensor.Tensor) *tensor.Tensor { return p.Add(name, x.MustTo(on)) }
		emb := add("emb", tensor.Randn(rng, 0.5, V, D))
		wqkv := add("qkv", tensor.Randn(rng, 0.3, 3*D, D))
		norm := add("norm", tensor.Ones(D))
		w1 := add("w1", tensor.Randn(rng, 0.3, 2*D, D))
		b1 := add("b1", tensor.Randn(rng, 0.1, 2*D))
		lw, lb := add("ln.w", tensor.Ones(2*D)), add("ln.b", tensor.Zeros(2*D))
		w2 := add("w2", tensor.Randn(rng, 0.3, D, 2*D))
		pos := []int{0, 1, 2, 3, 4}
		loss := func() *tensor.Tensor {
			x := emb.Embedding(ids, B, T)                 // [B, T, D]
			qkv := x.RMSNorm(norm, 1e-6).MatMul(wqkv.T()) // [B, T, 3D]
			heads := func(i int) *tensor.Tensor {         // [B, H, T, D/H]
				return qkv.Narrow(-1, i*D, D).Reshape(B, T, H, D/H).Transpose(1, 2)
			}
			q, k := heads(0).RoPE(pos, 10000), heads(1).RoPE(pos, 10000)
			a := tensor.ScaledDotProductAttention(q, k, heads(2), tensor.AttnOpts{Causal: true})
			x = x.Add(a.Transpose(1, 2).Reshape(B, T, D))
			h := x.MatMul(w1.T()).Add(b1).Gelu().LayerNorm(lw, lb, 1e-5)
			x = x.Add(h.MatMul(w2.T()))
			return x.MatMul(emb.T()).CrossEntropy(targets, -1, tensor.ReduceMean)
		}
		return p, loss
	}
	run := func(on tensor.Device) ([]float32, *Params) {
		p, loss := build(on)
		opt := NewAdamW(p.DefaultGroups(0.1), 0.9, 0.999, 1e-8)
		var losses []float32
		for range 5 {
			l := loss()
			losses = append(losses, l.Item())
			l.Backward()
			ClipGradNorm(p.All(), 1)
			if err := opt.Step(3e-2); err != nil {
				t.Fatal(err)
			}
			opt.ZeroGrad()
		}
		return losses, p
	}
	want, pc := run(tensor.CPU)
	got, pd := run(dev)
	close := func(g, w float32) bool { return math.Abs(float64(g-w)) <= 1e-4*math.Abs(float64(w))+1e-5 }
	for i := range want {
		if !close(got[i], want[i]) {
			t.Errorf("step %d: loss %v on %v, %v on the CPU", i, got[i], dev, want[i])
		}
	}
	if want[len(want)-1] >= want[0] {
		t.Errorf("the loss did not fall: %v", want)
	}
	for _, q := range pc.All() {
		d := pd.Get(q.Name).T
		if d.Device() != dev {
			t.Errorf("%s on %v", q.Name, d.Device())
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

// A non-finite gradient on a device stops AdamW's step before any update,
// naming the parameter and the element, as on the host.
func TestStepNonFiniteOnDevice(t *testing.T) {
	dev := devtest.Open(t)
	p := NewParams(1)
	a := p.Add("a", tensor.Ones(2, 3).MustTo(dev))
	b := p.Add("b", tensor.Ones(4).MustTo(dev))
	opt := NewAdamW(p.DefaultGroups(0), 0.9, 0.999, 1e-8)
	a.SetGrad(tensor.Ones(2, 3).MustTo(dev))
	b.SetGrad(tensor.New([]float32{1, 2, float32(math.Inf(1)), 4}, 4).MustTo(dev))
	err := opt.Step(0.1)
	var nf *NonFiniteError
	if !errors.As(err, &nf) || nf.Param != "b" || nf.Index != 2 || !math.IsInf(float64(nf.Value), 1) {
		t.Fatalf("Step: %v", err)
	}
	for _, q := range []*tensor.Tensor{a, b} {
		for _, v := range q.ToSlice() {
			if v != 1 {
				t.Fatalf("a parameter changed: %v", q)
			}
		}
	}
	if n := ClipGradNorm(p.All(), 1); !math.IsInf(float64(n), 1) {
		t.Errorf("ClipGradNorm: %v, want +Inf", n)
	}
	b.SetGrad(tensor.Full(2, 4).MustTo(dev))
	if n := ClipGradNorm(p.All(), 1); math.Abs(float64(n)-math.Sqrt(6+16)) > 1e-5 {
		t.Errorf("ClipGradNorm: %v, want sqrt(22)", n)
	}
	if err := opt.Step(0.1); err != nil {
		t.Fatal(err)
	}
}

// A LoRA adapter added to a layer on a device lives there too; merging it
// into the weight on the device gives the CPU's merged weight and output.
func TestLoRAOnDevice(t *testing.T) {
	dev := devtest.Open(t)
	build := func(on tensor.Device) (*Linear, *tensor.Tensor) {
		p := NewParams(1)
		rng := tensor.NewRNG(4)
		l := NewLinear(p, "fc", 6, 5, true, rng, 0.5)
		if err := p.To(on); err != nil {
			t.Fatal(err)
		}
		ad := l.AddAdapter("a", 2, 4, 0, rng)
		ad.B.CopyFrom(tensor.Randn(tensor.NewRNG(5), 0.3, 5, 2).MustTo(on))
		p.UseAdapter("a")
		return l, tensor.Randn(tensor.NewRNG(6), 1, 3, 6).MustTo(on)
	}
	lc, xc := build(tensor.CPU)
	ld, xd := build(dev)
	if ld.Adapter("a").A.Device() != dev {
		t.Fatalf("adapter on %v", ld.Adapter("a").A.Device())
	}
	close := func(what string, g, w []float32) {
		for i := range w {
			if math.Abs(float64(g[i]-w[i])) > 1e-4*math.Abs(float64(w[i]))+1e-5 {
				t.Errorf("%s[%d]: %v on %v, %v on the CPU", what, i, g[i], dev, w[i])
				return
			}
		}
	}
	close("adapter output", ld.Forward(xd).ToSlice(), lc.Forward(xc).ToSlice())
	lc.Merge("a")
	ld.Merge("a")
	close("merged weight", ld.Weight.ToSlice(), lc.Weight.ToSlice())
	close("merged output", ld.Forward(xd).ToSlice(), lc.Forward(xc).ToSlice())
	ld.Unmerge()
	lc.Unmerge()
	close("unmerged weight", ld.Weight.ToSlice(), lc.Weight.ToSlice())
}

// A checkpoint saved from a device run and loaded into fresh parameters on
// the device resumes bitwise, as on the host (TestResumeBitwise): weights,
// AdamW moments on the device, step counts and generators.
func TestResumeBitwiseOnDevice(t *testing.T) {
	dev := devtest.Open(t)
	on := func(seed uint64) *toyRun {
		r := newToyRun(seed, toyCfg)
		if err := r.p.To(dev); err != nil {
			t.Fatal(err)
		}
		groups := r.p.DefaultGroups(0.05)
		groups[1].LR = 2
		r.opt, r.dev = NewAdamW(groups, 0.9, 0.99, 1e-8), &dev
		return r
	}
	const n = 6
	straight := on(1)
	straight.train(t, n)
	first := on(1)
	first.train(t, n/2)
	dir := filepath.Join(t.TempDir(), "ckpt")
	if err := SaveCheckpoint(dir, first.p, Checkpoint{Config: first.cfg, State: first.state()}); err != nil {
		t.Fatal(err)
	}
	resumed := on(2)
	st := resumed.state()
	if err := LoadCheckpoint(dir, resumed.p, st); err != nil {
		t.Fatal(err)
	}
	resumed.step, resumed.dataPos = st.Step, st.DataPos
	resumed.train(t, n-n/2)
	for _, q := range straight.p.All() {
		if d := resumed.p.Get(q.Name).T; d.Device() != dev {
			t.Fatalf("%s on %v", q.Name, d.Device())
		}
	}
	assertBitwise(t, straight.p, resumed.p)
}
