package nn

import (
	"math"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/kiln-ml/kiln/tensor"
)

func maxDiff(a, b []float32) float64 {
	m := 0.0
	for i := range a {
		m = math.Max(m, math.Abs(float64(a[i]-b[i])))
	}
	return m
}

func TestParamNamesAndGlobs(t *testing.T) {
	p := NewParams(1)
	rng := tensor.NewRNG(1)
	for i, name := range []string{"lm.layers.0.attn", "lm.layers.1.attn"} {
		_ = i
		NewAttention(p, name, 8, 2, 1, false, true, true, 10000, rng, 0.02, 0.02)
	}
	NewRMSNorm(p, "lm.norm", 8, 1e-6)
	if got := len(p.Match("lm.layers.*.attn.q_proj.weight")); got != 2 {
		t.Errorf("glob * matched %d, want 2", got)
	}
	if got := len(p.Match("**.weight")); got != 9 {
		t.Errorf("glob ** matched %d, want 9", got)
	}
	if p.Get("lm.layers.1.attn.k_proj.weight").T.Dim(0) != 4 { // 1 kv head of dim 4
		t.Error("GQA k_proj shape")
	}
	if n := p.SetTrainable("lm.layers.0.**", false); n != 4 {
		t.Errorf("froze %d, want 4", n)
	}
	if got := len(p.Trainable()); got != 5 {
		t.Errorf("%d trainable after freezing, want 5", got)
	}
	// Duplicate names are programmer errors.
	defer func() {
		if recover() == nil {
			t.Error("duplicate name did not panic")
		}
	}()
	NewRMSNorm(p, "lm.norm", 8, 1e-6)
}

func newLoRAModel() (*Params, *Linear, *tensor.Tensor) {
	p := NewParams(1)
	rng := tensor.NewRNG(2)
	l := NewLinear(p, "proj", 6, 5, true, rng, 0.5)
	l.AddAdapter("a", 2, 4, 0, rng)
	l.AddAdapter("b", 3, 3, 0, rng)
	x := tensor.Randn(rng, 1, 4, 6)
	return p, l, x
}

func TestLoRAZeroBIsBase(t *testing.T) {
	p, l, x := newLoRAModel()
	var base []float32
	p.WithAdaptersDisabled(func() { base = l.Forward(x).ToSlice() })
	p.UseAdapter("a")
	if d := maxDiff(l.Forward(x).ToSlice(), base); d != 0 {
		t.Errorf("fresh adapter changes output by %g", d)
	}
}

func TestLoRATrainOnlyAdapterThenDisable(t *testing.T) {
	p, l, x := newLoRAModel()
	var base []float32
	p.WithAdaptersDisabled(func() { base = l.Forward(x).ToSlice() })
	p.TrainOnlyAdapter("a")
	p.UseAdapter("a")
	for step := 0; step < 5; step++ {
		l.Forward(x).Pow(2).Mean(nil, false).Backward()
		for _, q := range p.Trainable() {
			g := q.T.Grad().Data()
			d := q.T.Data()
			for i := range d {
				d[i] -= 0.1 * g[i]
			}
		}
		p.ZeroGrad()
	}
	if l.Weight.Grad() != nil {
		t.Error("frozen base weight got a gradient")
	}
	if d := maxDiff(l.Forward(x).ToSlice(), base); d < 1e-4 {
		t.Errorf("training the adapter did not change the output (diff %g)", d)
	}
	var off []float32
	p.WithAdaptersDisabled(func() { off = l.Forward(x).ToSlice() })
	if d := maxDiff(off, base); d != 0 {
		t.Errorf("adapters disabled after training differ from the base by %g", d)
	}
}

// The adapter used in the forward pass is the one that gets gradients, even
// if the active adapter is switched before Backward.
func TestLoRASwitchBetweenForwardAndBackward(t *testing.T) {
	p, l, x := newLoRAModel()
	// Make B non-zero so A gets gradients too.
	for _, name := range []string{"a", "b"} {
		d := l.Adapter(name).B.Data()
		for i := range d {
			d[i] = 0.1
		}
	}
	p.UseAdapter("a")
	loss := l.Forward(x).Sum(nil, false)
	p.UseAdapter("b")
	loss.Backward()
	if l.Adapter("a").A.Grad() == nil || l.Adapter("a").B.Grad() == nil {
		t.Error("adapter a (used in forward) got no gradient")
	}
	if l.Adapter("b").A.Grad() != nil || l.Adapter("b").B.Grad() != nil {
		t.Error("adapter b (active only at backward) got a gradient")
	}
}

func TestLoRAMergeUnmerge(t *testing.T) {
	p, l, x := newLoRAModel()
	d := l.Adapter("a").B.Data()
	for i := range d {
		d[i] = float32(i%5) * 0.1
	}
	p.UseAdapter("a")
	want := l.Forward(x).ToSlice()
	var base []float32
	p.WithAdaptersDisabled(func() { base = l.Forward(x).ToSlice() })
	w0 := l.Weight.ToSlice()
	p.MergeAdapter("a")
	if dd := maxDiff(l.Forward(x).ToSlice(), want); dd > 1e-5 {
		t.Errorf("merged output differs by %g", dd)
	}
	p.WithAdaptersDisabled(func() {
		if dd := maxDiff(l.Forward(x).ToSlice(), base); dd > 1e-5 {
			t.Errorf("merged, adapters disabled: differs from base by %g", dd)
		}
	})
	p.UnmergeAll()
	if dd := maxDiff(l.Weight.ToSlice(), w0); dd > 1e-6 {
		t.Errorf("unmerge left weight off by %g", dd)
	}
}

// Attention over a KV cache, fed one token at a time, equals one full
// causal pass; with grouped-query heads too.
func TestKVCacheMatchesFullPass(t *testing.T) {
	for _, kv := range []int{4, 2, 1} {
		p := NewParams(1)
		rng := tensor.NewRNG(3)
		a := NewAttention(p, "attn", 16, 4, kv, false, true, true, 10000, rng, 0.3, 0.3)
		B, T := 2, 6
		x := tensor.Randn(rng, 1, B, T, 16)
		pos := []int{0, 1, 2, 3, 4, 5}
		var full []float32
		tensor.NoGrad(func() { full = a.Forward(x, AttnInput{Pos: pos}).ToSlice() })
		c := NewLayerCache(B, kv, 8, 4)
		var parts []*tensor.Tensor
		tensor.NoGrad(func() {
			// Prompt of 3, then 3 single tokens.
			parts = append(parts, a.Forward(x.Narrow(1, 0, 3), AttnInput{Pos: pos[:3], Cache: c}))
			for i := 3; i < T; i++ {
				parts = append(parts, a.Forward(x.Narrow(1, i, 1), AttnInput{Pos: pos[i : i+1], Cache: c}))
			}
		})
		got := tensor.Concat(parts, 1).ToSlice()
		if d := maxDiff(got, full); d > 1e-5 {
			t.Errorf("kv heads %d: cached attention differs by %g", kv, d)
		}
	}
}

// Grouped-query attention equals full multi-head attention whose K/V
// weights repeat each group's head.
func TestGQAEqualsRepeatedHeads(t *testing.T) {
	rng := tensor.NewRNG(4)
	p := NewParams(1)
	g := NewAttention(p, "g", 8, 4, 2, false, false, true, 0, rng, 0.3, 0.3)
	m := NewAttention(p, "m", 8, 4, 4, false, false, true, 0, rng, 0.3, 0.3)
	copy(m.Q.Weight.Data(), g.Q.Weight.Data())
	copy(m.O.Weight.Data(), g.O.Weight.Data())
	for _, pair := range [][2]*Linear{{m.K, g.K}, {m.V, g.V}} {
		dst, src := pair[0].Weight.Data(), pair[1].Weight.Data() // [4*2, 8] from [2*2, 8]
		for h := 0; h < 4; h++ {
			copy(dst[h*2*8:(h+1)*2*8], src[(h/2)*2*8:(h/2+1)*2*8])
		}
	}
	x := tensor.Randn(rng, 1, 1, 5, 8)
	in := AttnInput{Pos: []int{0, 1, 2, 3, 4}}
	if d := maxDiff(g.Forward(x, in).ToSlice(), m.Forward(x, in).ToSlice()); d > 1e-5 {
		t.Errorf("GQA differs from repeated heads by %g", d)
	}
}

func TestBlockGradients(t *testing.T) {
	p := NewParams(1)
	rng := tensor.NewRNG(5)
	attn := NewAttention(p, "b.attn", 8, 2, 1, false, true, true, 10000, rng, 0.3, 0.3)
	blk := NewBlock(p, NewRMSNorm(p, "b.n1", 8, 1e-6), NewRMSNorm(p, "b.n2", 8, 1e-6), attn, NewSwiGLU(p, "b.mlp", 8, 16, rng, 0.3, 0.3), 0)
	x := tensor.Randn(rng, 1, 2, 3, 8)
	in := AttnInput{Pos: []int{0, 1, 2}}
	var ins []*tensor.Tensor
	ins = append(ins, x)
	for _, q := range p.All() {
		ins = append(ins, q.T)
	}
	err := tensor.GradCheck(func(xs []*tensor.Tensor) *tensor.Tensor { return blk.Forward(xs[0], in) }, ins, tensor.GradCheckOpts{MaxElems: 8})
	if err != nil {
		t.Error(err)
	}
	if !cmp.Equal(blk.Forward(x, in).Shape(), []int{2, 3, 8}) {
		t.Error("block output shape")
	}
}
