package vision

import (
	"math"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/kiln-ml/kiln/tensor"
)

func tinyConfig() Config {
	c := DemoConfig(40, 3)
	c.ImageSize, c.PatchSize, c.PixelShuffle = 16, 4, 2 // 16 patches, 4 image tokens
	c.VitDim, c.VitLayers, c.VitHeads, c.VitMLP = 16, 1, 2, 32
	c.LMDim, c.LMLayers, c.LMHeads, c.LMKVHeads, c.LMHidden = 16, 2, 4, 2, 32
	c.MaxSeq = 48
	c.InitStd = 0.2
	return c
}

func tinyModel(t *testing.T) *VLM {
	m, err := New(tinyConfig(), 1)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// prompts with the 4 image placeholders (id 3) at varying offsets.
func tinyPrompts() [][]int {
	return [][]int{{5, 3, 3, 3, 3, 7, 8}, {3, 3, 3, 3, 9}, {6, 6, 3, 3, 3, 3, 10, 11, 12}}
}

func tinyImages(b int) *tensor.Tensor { return tensor.Randn(tensor.NewRNG(9), 1, b, 3, 16, 16) }

// tinyBatch is the tiny prompts left-padded to 9 tokens, with next-token
// targets off the image placeholders and the padding.
func tinyBatch() *Batch {
	ps := tinyPrompts()
	T := 9
	b := &Batch{B: 3, T: T, IDs: make([]int, 3*T), Pad: make([]bool, 3*T), Images: tinyImages(3), Targets: make([]int, 3*T)}
	for i, p := range ps {
		off := T - len(p)
		for t := 0; t < T; t++ {
			b.Targets[i*T+t] = IgnoreIndex
			if t < off {
				b.Pad[i*T+t] = true
			}
		}
		copy(b.IDs[i*T+off:], p)
		for t := off; t < T-1; t++ {
			if b.IDs[i*T+t+1] != 3 {
				b.Targets[i*T+t] = b.IDs[i*T+t+1]
			}
		}
	}
	return b
}

func TestCachedGenerationMatchesUncached(t *testing.T) {
	m := tinyModel(t)
	img := tinyImages(3)
	cached := m.Generate(img, tinyPrompts(), SampleOpts{MaxNew: 12})
	full := m.Generate(img, tinyPrompts(), SampleOpts{MaxNew: 12, NoCache: true})
	for i := range cached {
		if !cmp.Equal(cached[i].Tokens, full[i].Tokens) {
			t.Errorf("seq %d: cached %v uncached %v", i, cached[i].Tokens, full[i].Tokens)
		}
		for j := range cached[i].LogProbs {
			if d := math.Abs(float64(cached[i].LogProbs[j] - full[i].LogProbs[j])); d > 1e-4 {
				t.Errorf("seq %d tok %d: log-prob differs by %g", i, j, d)
			}
		}
	}
	// Padding must not leak: a prompt alone gives what it gives in a batch.
	alone := m.Generate(img.Narrow(0, 1, 1), tinyPrompts()[1:2], SampleOpts{MaxNew: 12})
	if !cmp.Equal(alone[0].Tokens, cached[1].Tokens) {
		t.Errorf("batched %v vs alone %v", cached[1].Tokens, alone[0].Tokens)
	}
}

func TestSamplingIsSeeded(t *testing.T) {
	m := tinyModel(t)
	img := tinyImages(3)
	gen := func(seed uint64) []Sample {
		return m.Generate(img, tinyPrompts(), SampleOpts{MaxNew: 10, Temperature: 1, TopK: 20, TopP: 0.95, RNG: tensor.NewRNG(seed), Stop: []int{0}})
	}
	a, b, c := gen(5), gen(5), gen(6)
	if !cmp.Equal(a, b) {
		t.Error("same seed, different samples")
	}
	if cmp.Equal(a, c) {
		t.Error("different seeds, same samples")
	}
	for _, s := range a {
		if len(s.Tokens) != len(s.LogProbs) || len(s.Tokens) > 10 {
			t.Errorf("sample lengths %d/%d", len(s.Tokens), len(s.LogProbs))
		}
		if s.Stopped && s.Tokens[len(s.Tokens)-1] != 0 {
			t.Error("stopped without the stop token")
		}
	}
}

// The image features replace the placeholders and receive gradients; the
// loss falls when the model overfits one batch.
func TestImageTokensAndTraining(t *testing.T) {
	m := tinyModel(t)
	b := tinyBatch()
	first := m.Loss(b)
	first.Backward()
	if g := m.P.Get("vit.patch_embed.weight").T.Grad(); g == nil {
		t.Fatal("no gradient reached the ViT")
	}
	l0 := first.Item()
	var l float32
	for step := 0; step < 30; step++ {
		for _, q := range m.P.All() {
			if g := q.T.Grad(); g != nil {
				d, gd := q.T.Data(), g.Data()
				for i := range d {
					d[i] -= 0.5 * gd[i]
				}
			}
		}
		m.P.ZeroGrad()
		loss := m.Loss(b)
		loss.Backward()
		l = loss.Item()
	}
	if !(l < 0.5*l0) {
		t.Errorf("loss %v -> %v: did not overfit", l0, l)
	}
	// Wrong number of placeholders is a programmer error.
	bad := &Batch{B: 1, T: 3, IDs: []int{3, 3, 5}, Images: tinyImages(1)}
	defer func() {
		if r := recover(); r == nil {
			t.Error("2 placeholders for 4 image tokens did not panic")
		}
	}()
	m.Embed(bad)
}

func TestConfigValidate(t *testing.T) {
	c := tinyConfig()
	c.PatchSize = 5
	if err := c.Validate(); err == nil {
		t.Error("image 16 / patch 5 accepted")
	}
	c = tinyConfig()
	c.LMKVHeads = 3
	if err := c.Validate(); err == nil {
		t.Error("4 heads / 3 kv heads accepted")
	}
}

// Generation with an arena (each decoding step's buffers recycled, freed
// ones poisoned with NaN) gives the same tokens and log-probabilities, bit
// for bit, as without, greedy and sampled, with and without the KV cache.
func TestGenerateArenaSameBits(t *testing.T) {
	t.Setenv("KILN_ARENA_POISON", "1")
	m := tinyModel(t)
	var prompts [][]int
	for len(prompts) < 30 { // 30 x vocab 40: even one step's logits come from the arena
		prompts = append(prompts, tinyPrompts()...)
	}
	img := tensor.Randn(tensor.NewRNG(9), 1, len(prompts), 3, 16, 16)
	for _, o := range []SampleOpts{
		{MaxNew: 12},
		{MaxNew: 12, Temperature: 1, Stop: []int{0}},
		{MaxNew: 6, NoCache: true},
		{MaxNew: 12, Temperature: 1, TopK: 20, TopP: 0.9},
	} {
		run := func(a *tensor.Arena) []Sample {
			o := o
			if o.Temperature > 0 {
				o.RNG = tensor.NewRNG(4)
			}
			o.Arena = a
			return m.Generate(img, prompts, o)
		}
		want := run(nil)
		a := tensor.NewArena()
		got := run(a)
		if st := a.Stats(); st.Reused == 0 {
			t.Fatalf("%+v: the arena served nothing again (%+v)", o, st)
		}
		for i := range want {
			if !cmp.Equal(got[i].Tokens, want[i].Tokens) || got[i].Stopped != want[i].Stopped {
				t.Fatalf("%+v seq %d: %v with the arena, %v without", o, i, got[i].Tokens, want[i].Tokens)
			}
			for j := range want[i].LogProbs {
				if math.Float32bits(got[i].LogProbs[j]) != math.Float32bits(want[i].LogProbs[j]) {
					t.Fatalf("%+v seq %d token %d: log-prob %v with the arena, %v without", o, i, j, got[i].LogProbs[j], want[i].LogProbs[j])
				}
			}
		}
	}
}
