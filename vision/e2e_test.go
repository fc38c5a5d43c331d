package vision

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/kiln-ml/kiln/nn"
	"github.com/kiln-ml/kiln/nn/safetensors"
	"github.com/kiln-ml/kiln/tensor"
)

// The end-to-end golden test: testdata/gen_e2e.py builds the same tiny VLM
// in PyTorch (float64, from the same float32 weights) and records the
// logits, the loss, every parameter's gradient, and 10 AdamW steps (the 11
// losses and the final weights), for two configs: "gqa" (4 query heads on 2
// KV heads, linear projector, tied head) and "mlp" (multi-query, MLP
// projector, separate head, tanh GELU in the ViT). kiln computes in float32,
// whose rounding (6e-8 relative) 2 ViT + 2 LM layers of width 16-64 amplify
// some 10-100x. The tolerances sit at least 15x above the worst errors
// seen, so a different summation order (SIMD kernels, thread counts) still
// passes, while a 1% change of the RoPE base or a 10x change of the norm
// epsilon fails:
//
//   - logits: max |Δ| ≤ 1e-5 · max(1, max|ref|) (seen ≤ 7e-7);
//     loss: |Δ| ≤ 1e-6 · |ref| (seen ≤ 6e-8).
//   - gradients, per parameter: max |Δ| ≤ 1e-4 · max(1e-3, max|ref|)
//     (seen ≤ 6e-6). Backward through softmax, norms and cross-entropy
//     cancels terms, so small elements lose relative precision: errors are
//     measured against the tensor's own scale. The floor covers the ViT key
//     biases, whose true gradient is identically zero (a key bias adds q·b to
//     every score of a row, which softmax ignores): torch leaves 1e-17 there,
//     kiln ≤ 6e-9, i.e. ≤ 6e-6 of the floor.
//   - AdamW losses: |Δ| ≤ 3e-5 · |ref| at each of the 11 points (seen ≤ 1.5e-6
//     while the loss falls 4.3 → 0.6 at lr 1e-2).
//   - weights after 10 steps: max |Δ| ≤ 5e-4 · max(1, max|ref|) per tensor
//     (seen ≤ 1.6e-6). Adam divides by √v, so the zero-gradient key biases
//     step by up to lr on float32 residue alone (torch's 1e-17 stays below
//     eps): for them the bound is 10 steps · lr; the loss checks show that
//     they do not matter.
//
// A bitwise rerun then checks that the same inputs give the same loss and
// gradients (kiln's kernels use a fixed partition of work). The worst
// errors above cover the assembly kernels and the pure-Go ones (-tags noasm).
const (
	tolLogits  = 1e-5
	tolLoss    = 1e-6
	tolGrad    = 1e-4
	tolSteps   = 3e-5
	tolWeights = 5e-4
	gradFloor  = 1e-3  // gradient scale below which errors count in absolute terms
	zeroGrad   = 1e-12 // a reference gradient this small is identically zero
)

type e2eCase struct {
	Config Config `json:"config"`
	Batch  struct {
		B       int    `json:"b"`
		T       int    `json:"t"`
		IDs     []int  `json:"ids"`
		Pad     []bool `json:"pad"`
		Targets []int  `json:"targets"`
	} `json:"batch"`
	Loss  float64 `json:"loss"`
	AdamW struct {
		LR          float32   `json:"lr"`
		Beta1       float32   `json:"beta1"`
		Beta2       float32   `json:"beta2"`
		Eps         float32   `json:"eps"`
		WeightDecay float32   `json:"weight_decay"`
		Losses      []float64 `json:"losses"`
	} `json:"adamw"`

	name    string
	weights string                        // path of the weights file
	golden  map[string]safetensors.Tensor // images, logits, grad.*, final.*
}

func loadE2E(t *testing.T, name string) *e2eCase {
	t.Helper()
	base := filepath.Join("testdata", "e2e_"+name)
	raw, err := os.ReadFile(base + ".json")
	if err != nil {
		t.Fatal(err)
	}
	c := &e2eCase{name: name, weights: base + ".weights.safetensors", golden: map[string]safetensors.Tensor{}}
	if err := json.Unmarshal(raw, c); err != nil {
		t.Fatalf("%s.json: %v", base, err)
	}
	ts, _, err := safetensors.ReadFile(base + ".golden.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range ts {
		c.golden[x.Name] = x
	}
	return c
}

func (c *e2eCase) model(t *testing.T) *VLM {
	t.Helper()
	m, err := New(c.Config, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.P.LoadWeights(c.weights); err != nil {
		t.Fatal(err)
	}
	return m
}

func (c *e2eCase) batch(t *testing.T) *Batch {
	t.Helper()
	img := c.ref(t, "images")
	return &Batch{B: c.Batch.B, T: c.Batch.T, IDs: c.Batch.IDs, Pad: c.Batch.Pad, Targets: c.Batch.Targets,
		Images: tensor.New(img.Data, img.Shape...)}
}

func (c *e2eCase) ref(t *testing.T, name string) safetensors.Tensor {
	t.Helper()
	x, ok := c.golden[name]
	if !ok {
		t.Fatalf("e2e_%s.golden.safetensors has no tensor %q", c.name, name)
	}
	return x
}

// maxErr returns max |got-want| and max |want| (want nil: max |got|).
func maxErr(got, want []float32) (diff, scale float64) {
	if want == nil {
		for _, v := range got {
			scale = max(scale, math.Abs(float64(v)))
		}
		return 0, scale
	}
	for i := range want {
		diff = max(diff, math.Abs(float64(got[i])-float64(want[i])))
		scale = max(scale, math.Abs(float64(want[i])))
	}
	return diff, scale
}

// compare checks got against the golden tensor name: max |Δ| ≤ tol·max(floor, max|ref|).
func (c *e2eCase) compare(t *testing.T, what string, got *tensor.Tensor, name string, tol, floor float64) float64 {
	t.Helper()
	want := c.ref(t, name)
	if fmt.Sprint(got.Shape()) != fmt.Sprint(want.Shape) {
		t.Errorf("%s %s: shape %v, want %v", what, name, got.Shape(), want.Shape)
		return math.Inf(1)
	}
	diff, scale := maxErr(got.Contiguous().Data(), want.Data)
	rel := diff / max(floor, scale)
	if !(rel <= tol) {
		t.Errorf("%s %s: max |Δ| %.3g against scale %.3g (%.3g > tolerance %g)", what, name, diff, scale, rel, tol)
	}
	return rel
}

func TestEndToEndGolden(t *testing.T) {
	for _, name := range []string{"gqa", "mlp"} {
		t.Run(name, func(t *testing.T) {
			c := loadE2E(t, name)
			m := c.model(t)
			b := c.batch(t)

			// Forward: logits and loss.
			var logits *tensor.Tensor
			tensor.NoGrad(func() { logits = m.Forward(b) })
			worstLogits := c.compare(t, "logits", logits, "logits", tolLogits, 1)
			loss := m.Loss(b)
			lossErr := math.Abs(float64(loss.Item())-c.Loss) / math.Abs(c.Loss)
			if !(lossErr <= tolLoss) {
				t.Errorf("loss %.7f, want %.7f (relative error %.3g > %g)", loss.Item(), c.Loss, lossErr, tolLoss)
			}

			// Backward: every parameter's gradient, by name.
			loss.Backward()
			worstGrad, worstName := 0.0, ""
			for _, q := range m.P.All() {
				g := q.T.Grad()
				if g == nil {
					t.Errorf("%s: no gradient", q.Name)
					continue
				}
				if r := c.compare(t, "gradient", g, "grad."+q.Name, tolGrad, gradFloor); r > worstGrad {
					worstGrad, worstName = r, q.Name
				}
			}
			nGrad := 0
			for n := range c.golden {
				if len(n) > 5 && n[:5] == "grad." {
					nGrad++
					if m.P.Get(n[5:]) == nil {
						t.Errorf("golden gradient %q names no kiln parameter", n)
					}
				}
			}
			if nGrad != len(m.P.All()) {
				t.Errorf("%d golden gradients for %d parameters", nGrad, len(m.P.All()))
			}

			// Determinism: the same weights and batch give bitwise the same
			// loss and gradients.
			m2 := c.model(t)
			loss2 := m2.Loss(b)
			loss2.Backward()
			if loss2.Item() != loss.Item() {
				t.Errorf("rerun loss %v != %v", loss2.Item(), loss.Item())
			}
			for _, q := range m.P.All() {
				g1, g2 := q.T.Grad().Data(), m2.P.Get(q.Name).T.Grad().Data()
				for i := range g1 {
					if g1[i] != g2[i] {
						t.Errorf("rerun gradient %s[%d]: %v != %v", q.Name, i, g2[i], g1[i])
						break
					}
				}
			}

			// 10 AdamW steps from the same weights.
			a := c.AdamW
			m3 := c.model(t)
			opt := nn.NewAdamW(m3.P.DefaultGroups(a.WeightDecay), a.Beta1, a.Beta2, a.Eps)
			worstStep := 0.0
			for k, want := range a.Losses {
				m3.P.ZeroGrad()
				l := m3.Loss(b)
				e := math.Abs(float64(l.Item())-want) / math.Abs(want)
				worstStep = max(worstStep, e)
				if !(e <= tolSteps) {
					t.Errorf("AdamW: loss after %d steps %.7f, want %.7f (relative error %.3g > %g)", k, l.Item(), want, e, tolSteps)
				}
				if k == len(a.Losses)-1 {
					break
				}
				l.Backward()
				if err := opt.Step(a.LR); err != nil {
					t.Fatal(err)
				}
			}
			worstW := 0.0
			for _, q := range m3.P.All() {
				if _, gscale := maxErr(c.ref(t, "grad."+q.Name).Data, nil); gscale < zeroGrad {
					// Adam turns float32 residue into steps of up to lr.
					steps := float64(a.LR) * float64(len(a.Losses)-1)
					c.compare(t, "weights after 10 AdamW steps (zero gradient)", q.T, "final."+q.Name, steps, 1)
					continue
				}
				worstW = max(worstW, c.compare(t, "weights after 10 AdamW steps", q.T, "final."+q.Name, tolWeights, 1))
			}
			t.Logf("worst errors: logits %.2g, loss %.2g, gradient %.2g (%s), AdamW losses %.2g, final weights %.2g",
				worstLogits, lossErr, worstGrad, worstName, worstStep, worstW)
		})
	}
}
