package nn

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/kiln-ml/kiln/tensor"
)

// optimFixture is a registry with a matrix, a bias and a vector whose
// gradients are set by hand.
func optimFixture(t *testing.T) (*Params, *Param, *Param, *Param) {
	t.Helper()
	p := NewParams(1)
	rng := tensor.NewRNG(7)
	p.Add("w", tensor.Randn(rng, 1, 3, 4))
	p.Add("b", tensor.Randn(rng, 1, 4))
	p.Add("g", tensor.Randn(rng, 1, 5))
	return p, p.Get("w"), p.Get("b"), p.Get("g")
}

func setRandomGrad(q *Param, rng interface{ Float32() float32 }) {
	g := make([]float32, q.T.Numel())
	for i := range g {
		g[i] = 2*rng.Float32() - 1
	}
	q.T.SetGrad(tensor.FromSlice(g, q.T.Shape()...))
}

func sameFloatBits(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return false
		}
	}
	return true
}

func weightSnapshot(p *Params) map[string][]float32 {
	m := map[string][]float32{}
	for _, q := range p.All() {
		m[q.Name] = q.T.ToSlice()
	}
	return m
}

func checkWeightsUnchanged(t *testing.T, p *Params, before map[string][]float32) {
	t.Helper()
	for _, q := range p.All() {
		if !sameFloatBits(q.T.ToSlice(), before[q.Name]) {
			t.Errorf("parameter %q changed", q.Name)
		}
	}
}

// adamRef is AdamW in float64 from the PyTorch documentation.
type adamRef struct {
	p, m, v []float64
	t       int
}

func (a *adamRef) step(g []float32, lr, b1, b2, eps, wd float64) {
	a.t++
	for i := range a.p {
		gi := float64(g[i])
		a.p[i] *= 1 - lr*wd
		a.m[i] = b1*a.m[i] + (1-b1)*gi
		a.v[i] = b2*a.v[i] + (1-b2)*gi*gi
		mh := a.m[i] / (1 - math.Pow(b1, float64(a.t)))
		vh := a.v[i] / (1 - math.Pow(b2, float64(a.t)))
		a.p[i] -= lr * mh / (math.Sqrt(vh) + eps)
	}
}

func newAdamRef(x []float32) *adamRef {
	a := &adamRef{p: make([]float64, len(x)), m: make([]float64, len(x)), v: make([]float64, len(x))}
	for i, v := range x {
		a.p[i] = float64(v)
	}
	return a
}

func nearRef(t *testing.T, what string, got []float32, want []float64, tol float64) {
	t.Helper()
	for i := range got {
		if d := math.Abs(float64(got[i]) - want[i]); d > tol*(1+math.Abs(want[i])) {
			t.Fatalf("%s[%d] = %v, want %v (diff %g)", what, i, got[i], want[i], d)
		}
	}
}

// TestAdamWGroups checks AdamW against a float64 reference with two groups
// (weight decay on the matrix, an LR multiplier of 3 on the vectors) and a
// parameter that has no gradient on some steps: it is skipped and its own
// step count, which drives its bias correction, lags behind.
func TestAdamWGroups(t *testing.T) {
	p, w, b, g := optimFixture(t)
	groups := []Group{{Params: []*Param{w}, WeightDecay: 0.1}, {Params: []*Param{b, g}, LR: 3}}
	opt := NewAdamW(groups, 0.9, 0.99, 1e-8)
	ref := map[string]*adamRef{}
	for _, q := range p.All() {
		ref[q.Name] = newAdamRef(q.T.ToSlice())
	}
	rng := tensor.NewRNG(3)
	lrs := []float32{1e-2, 5e-3, 2e-2, 1e-3}
	for s, lr := range lrs {
		opt.ZeroGrad()
		setRandomGrad(w, rng)
		setRandomGrad(b, rng)
		if s%2 == 1 {
			setRandomGrad(g, rng) // g takes part every other step only
		}
		for _, q := range []*Param{w, b, g} {
			if q.T.Grad() == nil {
				continue
			}
			mult, wd := 3.0, 0.0
			if q == w {
				mult, wd = 1, 0.1
			}
			ref[q.Name].step(q.T.Grad().Data(), float64(lr)*mult, 0.9, 0.99, 1e-8, wd)
		}
		if err := opt.Step(lr); err != nil {
			t.Fatal(err)
		}
		for _, q := range p.All() {
			nearRef(t, q.Name, q.T.ToSlice(), ref[q.Name].p, 2e-6)
		}
	}
	st := opt.State()
	if opt.Steps() != 4 || st.Step != 4 || st.ParamSteps["w"] != 4 || st.ParamSteps["g"] != 2 {
		t.Fatalf("steps: optimizer %d, state %+v", opt.Steps(), st.ParamSteps)
	}
	for _, ts := range st.Tensors {
		if ts.Name == "m.g" {
			nearRef(t, "m.g", ts.Data, ref["g"].m, 1e-6)
		}
	}
}

// TestSGD checks plain, momentum and Nesterov SGD with weight decay against
// float64 references.
func TestSGD(t *testing.T) {
	for _, tc := range []struct {
		name     string
		mu       float64
		nesterov bool
	}{{"plain", 0, false}, {"momentum", 0.9, false}, {"nesterov", 0.8, true}} {
		t.Run(tc.name, func(t *testing.T) {
			p, w, b, _ := optimFixture(t)
			opt := NewSGD([]Group{{Params: []*Param{w}, WeightDecay: 0.01}, {Params: []*Param{b}, LR: 0.5}}, float32(tc.mu), tc.nesterov)
			want := map[string][]float64{}
			buf := map[string][]float64{}
			for _, q := range p.All() {
				want[q.Name] = newAdamRef(q.T.ToSlice()).p
				buf[q.Name] = make([]float64, q.T.Numel())
			}
			rng := tensor.NewRNG(4)
			for range 3 {
				opt.ZeroGrad()
				setRandomGrad(w, rng)
				setRandomGrad(b, rng)
				for _, q := range []*Param{w, b} {
					lr, wd := 0.1, 0.01
					if q == b {
						lr, wd = 0.05, 0
					}
					x, m := want[q.Name], buf[q.Name]
					for i, gi := range q.T.Grad().Data() {
						d := float64(gi) + wd*x[i]
						m[i] = tc.mu*m[i] + d
						switch {
						case tc.mu == 0:
						case tc.nesterov:
							d += tc.mu * m[i]
						default:
							d = m[i]
						}
						x[i] -= lr * d
					}
				}
				if err := opt.Step(0.1); err != nil {
					t.Fatal(err)
				}
				for _, q := range p.All() {
					nearRef(t, q.Name, q.T.ToSlice(), want[q.Name], 1e-6)
				}
			}
			if n := len(opt.State().Tensors); (tc.mu == 0) != (n == 0) {
				t.Fatalf("%d state tensors with momentum %v", n, tc.mu)
			}
		})
	}
}

// TestStepNonFinite puts a NaN, then an Inf, into the second parameter's
// gradient: Step must name the step and that parameter, and change no
// weight, moment or step count.
func TestStepNonFinite(t *testing.T) {
	for _, bad := range []float32{float32(math.NaN()), float32(math.Inf(-1))} {
		for _, mk := range []func([]Group) Optimizer{
			func(g []Group) Optimizer { return NewAdamW(g, 0.9, 0.999, 1e-8) },
			func(g []Group) Optimizer { return NewSGD(g, 0.9, false) },
		} {
			p, w, b, g := optimFixture(t)
			opt := mk(p.DefaultGroups(0.1))
			rng := tensor.NewRNG(5)
			for range 2 {
				setRandomGrad(w, rng)
				setRandomGrad(b, rng)
				setRandomGrad(g, rng)
				if err := opt.Step(1e-2); err != nil {
					t.Fatal(err)
				}
			}
			setRandomGrad(w, rng)
			setRandomGrad(b, rng)
			setRandomGrad(g, rng)
			b.T.Grad().Data()[2] = bad
			g.T.Grad().Data()[0] = bad // later in group order: not the one named
			before := weightSnapshot(p)
			stBefore := cloneState(opt.State())
			err := opt.Step(1e-2)
			var nf *NonFiniteError
			if !errors.As(err, &nf) {
				t.Fatalf("Step with %v gradient: err %v", bad, err)
			}
			if nf.Step != 3 || nf.Param != "b" || nf.Index != 2 || !strings.Contains(err.Error(), `step 3: gradient of "b"`) {
				t.Fatalf("error %+v: %v", nf, err)
			}
			checkWeightsUnchanged(t, p, before)
			if !sameState(stBefore, opt.State()) || opt.Steps() != 2 {
				t.Fatalf("optimizer state changed by a refused step")
			}
		}
	}
}

func TestFirstNonFinite(t *testing.T) {
	x := make([]float32, 1000)
	if firstNonFinite(x) != -1 {
		t.Fatal("zeros")
	}
	x[999] = float32(math.Inf(1))
	x[600] = float32(math.MaxFloat32) // finite: MaxFloat32*0 == 0
	if i := firstNonFinite(x); i != 999 {
		t.Fatalf("got %d", i)
	}
	x[300] = float32(math.NaN())
	if i := firstNonFinite(x); i != 300 {
		t.Fatalf("got %d", i)
	}
}

func cloneState(s OptimState) OptimState {
	c := s
	c.ParamSteps = map[string]int64{}
	for k, v := range s.ParamSteps {
		c.ParamSteps[k] = v
	}
	c.Tensors = nil
	for _, t := range s.Tensors {
		t.Data = append([]float32(nil), t.Data...)
		c.Tensors = append(c.Tensors, t)
	}
	return c
}

func sameState(a, b OptimState) bool {
	if a.Kind != b.Kind || a.Step != b.Step || len(a.ParamSteps) != len(b.ParamSteps) || len(a.Tensors) != len(b.Tensors) {
		return false
	}
	for k, v := range a.ParamSteps {
		if b.ParamSteps[k] != v {
			return false
		}
	}
	for i := range a.Tensors {
		if a.Tensors[i].Name != b.Tensors[i].Name || !sameFloatBits(a.Tensors[i].Data, b.Tensors[i].Data) {
			return false
		}
	}
	return true
}

// TestOptimizerNoAllocs: after construction, steady-state steps allocate
// nothing (the buffers were made once).
func TestOptimizerNoAllocs(t *testing.T) {
	for _, tc := range []struct {
		name string
		mk   func([]Group) Optimizer
	}{
		{"adamw", func(g []Group) Optimizer { return NewAdamW(g, 0.9, 0.999, 1e-8) }},
		{"sgd", func(g []Group) Optimizer { return NewSGD(g, 0.9, true) }},
	} {
		p, w, b, g := optimFixture(t)
		opt := tc.mk(p.DefaultGroups(0.01))
		rng := tensor.NewRNG(6)
		setRandomGrad(w, rng)
		setRandomGrad(b, rng) // g has no gradient: skipped
		_ = g
		if n := testing.AllocsPerRun(50, func() {
			if err := opt.Step(1e-3); err != nil {
				t.Fatal(err)
			}
		}); n != 0 {
			t.Errorf("%s: %v allocations per Step", tc.name, n)
		}
		if n := testing.AllocsPerRun(50, func() { ClipGradNorm(p.All(), 0.5) }); n > 1 { // p.All copies the list
			t.Errorf("ClipGradNorm: %v allocations", n)
		}
	}
}

// TestSetState: a state copies in only when it fits this optimizer; a
// mismatch leaves the optimizer as it was.
func TestSetState(t *testing.T) {
	p, w, b, g := optimFixture(t)
	opt := NewAdamW(p.DefaultGroups(0.1), 0.9, 0.999, 1e-8)
	rng := tensor.NewRNG(8)
	setRandomGrad(w, rng)
	setRandomGrad(b, rng)
	setRandomGrad(g, rng)
	if err := opt.Step(1e-2); err != nil {
		t.Fatal(err)
	}
	good := cloneState(opt.State())

	other := NewAdamW(p.DefaultGroups(0.1), 0.9, 0.999, 1e-8)
	if err := other.SetState(good); err != nil {
		t.Fatal(err)
	}
	if !sameState(good, other.State()) {
		t.Fatal("state did not round-trip")
	}

	mutate := map[string]func(*OptimState){
		`optimizer is "adamw"`:      func(s *OptimState) { s.Kind = "sgd" },
		`tensor "v.w": missing`:     func(s *OptimState) { s.Tensors = s.Tensors[:1] },
		`tensor "m.w": shape [4 3]`: func(s *OptimState) { s.Tensors[0].Shape = []int{4, 3} },
		`tensor "m.nope": not`:      func(s *OptimState) { s.Tensors[0].Name = "m.nope" },
		`"w": missing step count`:   func(s *OptimState) { delete(s.ParamSteps, "w") },
		`"x": not in this`:          func(s *OptimState) { s.ParamSteps["x"] = 1 },
		`"w": step 5 outside`:       func(s *OptimState) { s.ParamSteps["w"] = 5 },
		`tensor "m.w": duplicate`:   func(s *OptimState) { s.Tensors = append(s.Tensors, s.Tensors[0]) },
	}
	fresh := NewAdamW(p.DefaultGroups(0.1), 0.9, 0.999, 1e-8)
	want := cloneState(fresh.State())
	for msg, f := range mutate {
		s := cloneState(good)
		f(&s)
		err := fresh.SetState(s)
		if err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("want error containing %q, got %v", msg, err)
		}
		if !sameState(want, fresh.State()) {
			t.Errorf("%s: state changed by a refused SetState", msg)
		}
	}
}

func TestOptimizerPanics(t *testing.T) {
	_, w, _, _ := optimFixture(t)
	for name, f := range map[string]func(){
		"duplicate": func() { NewAdamW([]Group{{Params: []*Param{w}}, {Params: []*Param{w}}}, 0.9, 0.999, 1e-8) },
		"nesterov":  func() { NewSGD([]Group{{Params: []*Param{w}}}, 0, true) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			f()
		}()
	}
}

// TestClipGradNorm: the global norm of grads {3,4} and {12} is 13; a
// maxNorm below it scales every gradient by maxNorm/(13+1e-6) (float32, as
// PyTorch), one above leaves them bitwise alone, nil gradients are skipped.
func TestClipGradNorm(t *testing.T) {
	p := NewParams(1)
	a := p.Add("a", tensor.Zeros(2))
	b := p.Add("b", tensor.Zeros(1))
	p.Add("frozen", tensor.Zeros(3)) // no gradient
	set := func() {
		a.SetGrad(tensor.FromSlice([]float32{3, 4}, 2))
		b.SetGrad(tensor.FromSlice([]float32{12}, 1))
	}
	set()
	if n := ClipGradNorm(p.All(), 100); n != 13 {
		t.Fatalf("norm %v", n)
	}
	if !sameFloatBits(a.Grad().Data(), []float32{3, 4}) || !sameFloatBits(b.Grad().Data(), []float32{12}) {
		t.Fatal("gradients changed below maxNorm")
	}
	maxNorm := float32(6.5)
	coef := maxNorm / (float32(13) + 1e-6)
	if n := ClipGradNorm(p.All(), maxNorm); n != 13 {
		t.Fatalf("norm %v", n)
	}
	if !sameFloatBits(a.Grad().Data(), []float32{3 * coef, 4 * coef}) || !sameFloatBits(b.Grad().Data(), []float32{12 * coef}) {
		t.Fatalf("clipped gradients %v %v", a.Grad().Data(), b.Grad().Data())
	}
	if n := ClipGradNorm(p.All(), float32(math.Inf(1))); math.Abs(float64(n)-6.5) > 1e-6 {
		t.Fatalf("norm after clipping %v", n)
	}

	// A non-finite gradient: the norm says so and nothing is scaled.
	set()
	b.Grad().Data()[0] = float32(math.Inf(1))
	if n := ClipGradNorm(p.All(), 1); !math.IsInf(float64(n), 1) {
		t.Fatalf("norm %v", n)
	}
	if !sameFloatBits(a.Grad().Data(), []float32{3, 4}) {
		t.Fatal("finite gradients scaled with an infinite norm")
	}
	a.Grad().Data()[0] = float32(math.NaN())
	if n := ClipGradNorm(p.All(), 1); !math.IsNaN(float64(n)) {
		t.Fatalf("norm %v", n)
	}

	// Gradients too large for a float32 norm are still clipped.
	a.SetGrad(tensor.FromSlice([]float32{3e38, 3e38}, 2))
	b.SetGrad(nil)
	if n := ClipGradNorm(p.All(), 1); !math.IsInf(float64(n), 1) {
		t.Fatalf("norm %v", n)
	}
	if g := a.Grad().Data(); math.Abs(float64(g[0])-math.Sqrt(0.5)) > 1e-6 {
		t.Fatalf("huge gradients clipped to %v", g)
	}
}

// TestGradAccumulation: two Backward calls accumulate, and ScaleGrads by
// 1/2 gives the gradient of the mean of the two losses.
func TestGradAccumulation(t *testing.T) {
	p := NewParams(1)
	w := p.Add("w", tensor.FromSlice([]float32{1, 2, 3}, 3))
	x1 := tensor.FromSlice([]float32{1, 0, 2}, 3)
	x2 := tensor.FromSlice([]float32{0, 4, 1}, 3)
	w.Mul(x1).Sum(nil, false).Backward()
	w.Mul(x2).Sum(nil, false).Backward()
	ScaleGrads(p.All(), 0.5)
	if got := w.Grad().Data(); !sameFloatBits(got, []float32{0.5, 2, 1.5}) {
		t.Fatalf("accumulated gradient %v", got)
	}
}
