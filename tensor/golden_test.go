package tensor

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"
)

// Golden tests: forward outputs and input gradients of every differentiable
// op against PyTorch, read from testdata/golden.json. The file is made by
// testdata/gen_golden.py (Debian python3-torch); this test needs no Python.
//
// Each case stores float32 inputs, the float64 reference output that torch
// computes from exactly those inputs, a fixed random seed gradient R and the
// float64 gradients of loss = sum(out * R) for every input that needs one.
// A case may name views (transpose, permute, slice, expand) applied to the
// stored leaf before the op, so the op sees a non-contiguous input while the
// gradient is taken with respect to the leaf. Ops named *_self use one leaf
// several times (x*x, attention with q = k = v), so gradients accumulate in
// the graph.
//
// An element passes when |got - want| <= atol + rtol*|want|. The reference is
// exact to ~1e-10, so the tolerances below budget only for kiln's float32
// arithmetic (unit roundoff u = 6e-8), per op family:
//
//   - exact (views, shape ops, contiguous/clone, indexing, where/masked_fill,
//     neg, relu, clamp): the forward copies float32 values (error 0);
//     gradients add at most a few terms (broadcast, scatter-add):
//     rtol 1e-6, atol 1e-6.
//   - elementwise (arithmetic, scalar ops, pow, exp, log, sqrt, rsqrt, tanh,
//     sigmoid, gelu, gelu_tanh, silu, rope): a few roundings per element,
//     and transcendental kernels may be a few ulp off: rtol 1e-5, atol 1e-6.
//     Broadcast gradients sum up to 6 terms, covered by atol.
//   - reduce (sum, mean, max) and matmul: a float32 sum of K terms of size
//     O(1) has error ~u*sqrt(K) on average and u*K at worst, so
//     atol = 1e-6*sqrt(K), rtol 1e-5, K = elements summed per output
//     (matmul: the inner dim; its gradients sum over m, n or the batch, at
//     most 30 terms in these cases).
//   - rowwise (softmax, log_softmax, cross_entropy, layer_norm, rms_norm):
//     an exp/log and a row reduction, and the backward subtracts a row sum
//     (cancellation): rtol 1e-5, atol 1e-5.
//   - attention: two chained GEMMs around a softmax, backward through three
//     more: rtol 1e-5, atol 2e-5.
//
// With these, the worst error/tolerance of each family stays below 0.1 (go
// test -v logs it), so a kernel may lose a few ulp before a test fails, and a
// wrong formula (tanh GELU for erf GELU, a 1e-4 relative slip) fails at once.
//
// Dropout has no golden data: kiln draws its mask from its own RNG, which
// torch cannot reproduce. TestGoldenDropout checks it against its own mask.

type goldenFile struct {
	Generator string       `json:"generator"`
	Torch     string       `json:"torch"`
	Cases     []goldenCase `json:"cases"`
}

type goldenCase struct {
	Name   string                  `json:"name"`
	Op     string                  `json:"op"`
	Params goldenParams            `json:"params"`
	Inputs []goldenInput           `json:"inputs"`
	Output goldenTensor            `json:"output"`
	Seed   goldenInput             `json:"seed"`
	Grads  map[string]goldenTensor `json:"grads"`
}

type goldenInput struct {
	Name  string       `json:"name"`
	Grad  bool         `json:"grad"`
	View  []goldenView `json:"view"`
	Shape []int        `json:"shape"`
	Data  []float32    `json:"data"` // exact float32 values
}

type goldenView struct {
	Op   string `json:"op"`
	Args []int  `json:"args"`
}

type goldenTensor struct {
	Shape []int     `json:"shape"`
	Data  []float64 `json:"data"`
}

// goldenParams holds a case's op parameters; a missing or ill-typed one
// panics (the subtest reports it).
type goldenParams map[string]json.RawMessage

func (p goldenParams) get(k string, v any) {
	raw, ok := p[k]
	if !ok {
		panic(fmt.Sprintf("golden: missing parameter %q", k))
	}
	if err := json.Unmarshal(raw, v); err != nil {
		panic(fmt.Sprintf("golden: parameter %q: %v", k, err))
	}
}

func (p goldenParams) has(k string) bool { _, ok := p[k]; return ok }

func (p goldenParams) int(k string) (v int)         { p.get(k, &v); return }
func (p goldenParams) ints(k string) (v []int)      { p.get(k, &v); return }
func (p goldenParams) f32(k string) (v float32)     { p.get(k, &v); return }
func (p goldenParams) f64(k string) (v float64)     { p.get(k, &v); return }
func (p goldenParams) str(k string) (v string)      { p.get(k, &v); return }
func (p goldenParams) boolean(k string) (v bool)    { p.get(k, &v); return }
func (p goldenParams) booleans(k string) (v []bool) { p.get(k, &v); return }

func (p goldenParams) flag(k string) bool { return p.has(k) && p.boolean(k) }

type goldenFn func(p goldenParams, x []*Tensor) *Tensor

// goldenOps builds each op of the file with kiln; TestGolden checks that each
// has at least one case.
var goldenOps = map[string]goldenFn{
	"add":         func(_ goldenParams, x []*Tensor) *Tensor { return x[0].Add(x[1]) },
	"sub":         func(_ goldenParams, x []*Tensor) *Tensor { return x[0].Sub(x[1]) },
	"mul":         func(_ goldenParams, x []*Tensor) *Tensor { return x[0].Mul(x[1]) },
	"div":         func(_ goldenParams, x []*Tensor) *Tensor { return x[0].Div(x[1]) },
	"neg":         func(_ goldenParams, x []*Tensor) *Tensor { return x[0].Neg() },
	"add_scalar":  func(p goldenParams, x []*Tensor) *Tensor { return x[0].AddScalar(p.f32("s")) },
	"sub_scalar":  func(p goldenParams, x []*Tensor) *Tensor { return x[0].SubScalar(p.f32("s")) },
	"mul_scalar":  func(p goldenParams, x []*Tensor) *Tensor { return x[0].MulScalar(p.f32("s")) },
	"div_scalar":  func(p goldenParams, x []*Tensor) *Tensor { return x[0].DivScalar(p.f32("s")) },
	"rsub_scalar": func(p goldenParams, x []*Tensor) *Tensor { return x[0].RSubScalar(p.f32("s")) },
	"pow":         func(p goldenParams, x []*Tensor) *Tensor { return x[0].Pow(p.f32("p")) },
	"exp":         func(_ goldenParams, x []*Tensor) *Tensor { return x[0].Exp() },
	"log":         func(_ goldenParams, x []*Tensor) *Tensor { return x[0].Log() },
	"sqrt":        func(_ goldenParams, x []*Tensor) *Tensor { return x[0].Sqrt() },
	"rsqrt":       func(_ goldenParams, x []*Tensor) *Tensor { return x[0].Rsqrt() },
	"tanh":        func(_ goldenParams, x []*Tensor) *Tensor { return x[0].Tanh() },
	"sigmoid":     func(_ goldenParams, x []*Tensor) *Tensor { return x[0].Sigmoid() },
	"relu":        func(_ goldenParams, x []*Tensor) *Tensor { return x[0].Relu() },
	"gelu":        func(_ goldenParams, x []*Tensor) *Tensor { return x[0].Gelu() },
	"gelu_tanh":   func(_ goldenParams, x []*Tensor) *Tensor { return x[0].GeluTanh() },
	"silu":        func(_ goldenParams, x []*Tensor) *Tensor { return x[0].Silu() },
	"clamp":       func(p goldenParams, x []*Tensor) *Tensor { return x[0].Clamp(p.f32("lo"), p.f32("hi")) },
	"sum":         func(p goldenParams, x []*Tensor) *Tensor { return x[0].Sum(p.ints("axes"), p.boolean("keepdim")) },
	"mean":        func(p goldenParams, x []*Tensor) *Tensor { return x[0].Mean(p.ints("axes"), p.boolean("keepdim")) },
	"max":         func(p goldenParams, x []*Tensor) *Tensor { return x[0].Max(p.ints("axes"), p.boolean("keepdim")) },
	"softmax":     func(_ goldenParams, x []*Tensor) *Tensor { return x[0].Softmax() },
	"log_softmax": func(_ goldenParams, x []*Tensor) *Tensor { return x[0].LogSoftmax() },
	"matmul":      func(_ goldenParams, x []*Tensor) *Tensor { return x[0].MatMul(x[1]) },
	"reshape":     func(p goldenParams, x []*Tensor) *Tensor { return x[0].Reshape(p.ints("shape")...) },
	"transpose":   func(p goldenParams, x []*Tensor) *Tensor { return x[0].Transpose(p.int("d0"), p.int("d1")) },
	"permute":     func(p goldenParams, x []*Tensor) *Tensor { return x[0].Permute(p.ints("perm")...) },
	"slice": func(p goldenParams, x []*Tensor) *Tensor {
		return x[0].Slice(p.int("dim"), p.int("start"), p.int("end"))
	},
	"narrow": func(p goldenParams, x []*Tensor) *Tensor {
		return x[0].Narrow(p.int("dim"), p.int("start"), p.int("length"))
	},
	"contiguous": func(_ goldenParams, x []*Tensor) *Tensor { return x[0].Contiguous() },
	"clone":      func(_ goldenParams, x []*Tensor) *Tensor { return x[0].Clone() },
	"flatten":    func(_ goldenParams, x []*Tensor) *Tensor { return x[0].Flatten() },
	"t":          func(_ goldenParams, x []*Tensor) *Tensor { return x[0].T() },
	"mul_self":   func(_ goldenParams, x []*Tensor) *Tensor { return x[0].Mul(x[0]) },
	"concat":     func(p goldenParams, x []*Tensor) *Tensor { return Concat(x, p.int("dim")) },
	"stack":      func(p goldenParams, x []*Tensor) *Tensor { return Stack(x, p.int("dim")) },
	"expand":     func(p goldenParams, x []*Tensor) *Tensor { return x[0].Expand(p.ints("shape")...) },
	"unsqueeze":  func(p goldenParams, x []*Tensor) *Tensor { return x[0].Unsqueeze(p.int("dim")) },
	"squeeze":    func(p goldenParams, x []*Tensor) *Tensor { return x[0].Squeeze(p.int("dim")) },
	"gather": func(p goldenParams, x []*Tensor) *Tensor {
		return x[0].Gather(p.int("dim"), p.ints("idx"), p.ints("idx_shape")...)
	},
	"index_select": func(p goldenParams, x []*Tensor) *Tensor { return x[0].IndexSelect(p.int("dim"), p.ints("idx")) },
	"embedding": func(p goldenParams, x []*Tensor) *Tensor {
		return x[0].Embedding(p.ints("ids"), p.ints("ids_shape")...)
	},
	"where":       func(_ goldenParams, x []*Tensor) *Tensor { return Where(x[0], x[1], x[2]) },
	"masked_fill": func(p goldenParams, x []*Tensor) *Tensor { return x[0].MaskedFill(x[1], p.f32("value")) },
	"cross_entropy": func(p goldenParams, x []*Tensor) *Tensor {
		red := map[string]Reduction{"mean": ReduceMean, "sum": ReduceSum, "none": ReduceNone}[p.str("reduction")]
		return x[0].CrossEntropy(p.ints("targets"), p.int("ignore_index"), red)
	},
	"layer_norm": func(p goldenParams, x []*Tensor) *Tensor {
		var w, b *Tensor
		rest := x[1:]
		if p.boolean("w") {
			w, rest = rest[0], rest[1:]
		}
		if p.boolean("b") {
			b = rest[0]
		}
		return x[0].LayerNorm(w, b, p.f32("eps"))
	},
	"rms_norm": func(p goldenParams, x []*Tensor) *Tensor {
		var w *Tensor
		if p.boolean("w") {
			w = x[1]
		}
		return x[0].RMSNorm(w, p.f32("eps"))
	},
	"sdpa": func(p goldenParams, x []*Tensor) *Tensor {
		o := AttnOpts{Causal: p.flag("causal")}
		if p.has("key_padding") {
			o.KeyPadding = p.booleans("key_padding")
		}
		if p.has("scale") {
			o.Scale = p.f32("scale")
		}
		return ScaledDotProductAttention(x[0], x[1], x[2], o)
	},
	"sdpa_self": func(p goldenParams, x []*Tensor) *Tensor {
		return ScaledDotProductAttention(x[0], x[0], x[0], AttnOpts{Causal: p.flag("causal")})
	},
	"rope": func(p goldenParams, x []*Tensor) *Tensor { return x[0].RoPE(p.ints("pos"), p.f64("base")) },
}

type goldenFamily int

const (
	famExact goldenFamily = iota
	famElementwise
	famReduce
	famRowwise
	famAttention
)

var goldenFamilyNames = [...]string{"exact", "elementwise", "reduce/matmul", "rowwise", "attention"}

var goldenFamilyOf = map[string]goldenFamily{
	"neg": famExact, "relu": famExact, "clamp": famExact,
	"reshape": famExact, "transpose": famExact, "permute": famExact, "slice": famExact, "narrow": famExact,
	"contiguous": famExact, "clone": famExact, "flatten": famExact, "t": famExact,
	"concat": famExact, "stack": famExact, "expand": famExact, "unsqueeze": famExact, "squeeze": famExact,
	"gather": famExact, "index_select": famExact, "embedding": famExact, "where": famExact, "masked_fill": famExact,

	"add": famElementwise, "sub": famElementwise, "mul": famElementwise, "div": famElementwise,
	"add_scalar": famElementwise, "sub_scalar": famElementwise, "mul_scalar": famElementwise,
	"div_scalar": famElementwise, "rsub_scalar": famElementwise, "pow": famElementwise,
	"exp": famElementwise, "log": famElementwise, "sqrt": famElementwise, "rsqrt": famElementwise,
	"tanh": famElementwise, "sigmoid": famElementwise, "gelu": famElementwise, "gelu_tanh": famElementwise,
	"silu": famElementwise, "rope": famElementwise, "mul_self": famElementwise,

	"sum": famReduce, "mean": famReduce, "max": famReduce, "matmul": famReduce,

	"softmax": famRowwise, "log_softmax": famRowwise, "cross_entropy": famRowwise,
	"layer_norm": famRowwise, "rms_norm": famRowwise,

	"sdpa": famAttention, "sdpa_self": famAttention,
}

// goldenTol returns the tolerances of a case (see the file comment).
func goldenTol(c *goldenCase) (atol, rtol float64) {
	switch goldenFamilyOf[c.Op] {
	case famExact:
		return 1e-6, 1e-6
	case famElementwise:
		return 1e-6, 1e-5
	case famReduce:
		k := 1
		if c.Op == "matmul" {
			k = c.Inputs[0].viewShape()[len(c.Inputs[0].viewShape())-1]
		} else {
			k = numel(c.Inputs[0].viewShape()) / max(numel(c.Output.Shape), 1)
		}
		return 1e-6 * math.Sqrt(float64(k)), 1e-5
	case famRowwise:
		return 1e-5, 1e-5
	case famAttention:
		return 2e-5, 1e-5
	}
	panic("golden: op " + c.Op + " has no tolerance family")
}

// viewShape is the shape the op sees: the stored shape after the views.
func (in goldenInput) viewShape() []int {
	return goldenViews(in.leaf(false), in.View).Shape()
}

func (in goldenInput) leaf(grad bool) *Tensor {
	t := New(in.Data, in.Shape...)
	if grad {
		t.RequiresGrad()
	}
	return t
}

func goldenViews(t *Tensor, vs []goldenView) *Tensor {
	for _, v := range vs {
		a := v.Args
		switch v.Op {
		case "transpose":
			t = t.Transpose(a[0], a[1])
		case "permute":
			t = t.Permute(a...)
		case "slice":
			t = t.Slice(a[0], a[1], a[2])
		case "expand":
			t = t.Expand(a...)
		default:
			panic("golden: unknown view " + v.Op)
		}
	}
	return t
}

// goldenKnownBad names cases that fail because of a kiln bug being fixed
// (case name -> reason); they are logged, not failed. Keep it empty.
var goldenKnownBad = map[string]string{}

func loadGolden(t *testing.T) *goldenFile {
	t.Helper()
	raw, err := os.ReadFile("testdata/golden.json")
	if err != nil {
		t.Fatalf("%v (regenerate with /usr/bin/python3 tensor/testdata/gen_golden.py)", err)
	}
	var f goldenFile
	if err := json.Unmarshal(raw, &f); err != nil {
		t.Fatalf("testdata/golden.json: %v", err)
	}
	return &f
}

func TestGolden(t *testing.T) {
	f := loadGolden(t)
	count := map[string]int{}
	worst := make([]float64, len(goldenFamilyNames))
	worstCase := make([]string, len(goldenFamilyNames))
	for i := range f.Cases {
		c := &f.Cases[i]
		count[c.Op]++
		t.Run(c.Name, func(t *testing.T) {
			r := runGolden(t, c)
			fam := goldenFamilyOf[c.Op]
			if r > worst[fam] {
				worst[fam], worstCase[fam] = r, c.Name
			}
		})
	}
	var missing []string
	for op := range goldenOps {
		if count[op] == 0 {
			missing = append(missing, op)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("ops with no golden case: %v", missing)
	}
	for fam, name := range goldenFamilyNames {
		t.Logf("%-13s worst error/tolerance %.3f (%s)", name, worst[fam], worstCase[fam])
	}
	t.Logf("%d cases from %s (torch %s)", len(f.Cases), f.Generator, f.Torch)
}

// runGolden runs one case and reports mismatches; it returns the largest
// ratio of error to tolerance seen.
func runGolden(t *testing.T, c *goldenCase) (worst float64) {
	fn, ok := goldenOps[c.Op]
	if !ok {
		t.Fatalf("unknown op %q", c.Op)
	}
	atol, rtol := goldenTol(c)
	fail := t.Errorf
	if why, bad := goldenKnownBad[c.Name]; bad {
		fail = func(format string, args ...any) { t.Logf("known bad (%s): "+format, append([]any{why}, args...)...) }
	}
	defer func() {
		if e := recover(); e != nil {
			fail("%s panicked: %v", c.Op, e)
		}
	}()
	leaves := make([]*Tensor, len(c.Inputs))
	xs := make([]*Tensor, len(c.Inputs))
	for i, in := range c.Inputs {
		leaves[i] = in.leaf(in.Grad)
		xs[i] = goldenViews(leaves[i], in.View)
	}
	out := fn(c.Params, xs)
	worst = goldenCompare(fail, "output", out, c.Output, atol, rtol)
	if !out.NeedsGrad() {
		fail("output does not require grad")
		return worst
	}
	out.BackwardWith(New(c.Seed.Data, c.Seed.Shape...))
	for i, in := range c.Inputs {
		g := leaves[i].Grad()
		if !goldenEqual(leaves[i].ToSlice(), in.Data) {
			fail("input %s was modified by the op", in.Name)
		}
		if !in.Grad {
			if g != nil {
				fail("input %s needs no grad but got one", in.Name)
			}
			continue
		}
		want, ok := c.Grads[in.Name]
		if !ok {
			t.Fatalf("no reference gradient for input %s", in.Name)
		}
		if g == nil {
			fail("grad %s: nil, want shape %v", in.Name, want.Shape)
			continue
		}
		worst = max(worst, goldenCompare(fail, "grad "+in.Name, g, want, atol, rtol))
	}
	return worst
}

// goldenCompare checks got against want, reporting the shape or the largest
// error (with its index) through fail; it returns max(err/tolerance).
func goldenCompare(fail func(string, ...any), what string, got *Tensor, want goldenTensor, atol, rtol float64) float64 {
	if !slices.Equal(got.Shape(), want.Shape) {
		fail("%s: shape %v, want %v", what, got.Shape(), want.Shape)
		return math.Inf(1)
	}
	g := got.ToSlice()
	worst, at, nbad := 0.0, -1, 0
	maxAbs := 0.0
	for i, w := range want.Data {
		e := math.Abs(float64(g[i]) - w)
		if math.IsNaN(e) {
			e = math.Inf(1)
		}
		maxAbs = max(maxAbs, e)
		r := e / (atol + rtol*math.Abs(w))
		if r > 1 {
			nbad++
		}
		if r > worst || at < 0 {
			worst, at = max(r, worst), i
		}
	}
	if nbad > 0 {
		fail("%s: %d of %d elements off (max abs error %.3g); worst at %v: got %.9g, want %.9g, error %.3g > tolerance %.3g\n  got  %s\n  want %s",
			what, nbad, len(g), maxAbs, goldenUnravel(at, want.Shape), g[at], want.Data[at],
			math.Abs(float64(g[at])-want.Data[at]), atol+rtol*math.Abs(want.Data[at]), goldenHead(g), goldenHead(want.Data))
	}
	return worst
}

func goldenUnravel(i int, shape []int) []int {
	idx := make([]int, len(shape))
	for d := len(shape) - 1; d >= 0; d-- {
		idx[d] = i % shape[d]
		i /= shape[d]
	}
	return idx
}

func goldenHead[T float32 | float64](xs []T) string {
	var b strings.Builder
	for i, x := range xs {
		if i == 8 {
			fmt.Fprintf(&b, " ... (%d)", len(xs))
			break
		}
		fmt.Fprintf(&b, "%.6g ", x)
	}
	return b.String()
}

func goldenEqual(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestGoldenDropout checks Dropout against its own mask, since torch cannot
// reproduce kiln's RNG: every output is 0 or x/(1-p) (bit for bit: kiln
// multiplies by the float32 scale), the gradient is the seed times the same
// mask, the kept fraction is near 1-p, and the same seed gives the same mask.
func TestGoldenDropout(t *testing.T) {
	const p = float32(0.3)
	scale := 1 / (1 - p)
	rng := NewRNG(7)
	x := Rand(rng, 0.5, 1.5, 40, 50) // no zeros, so the mask is readable from the output
	x.Detach().Data()[3] *= -1
	x.RequiresGrad()
	seed := Randn(rng, 1, 40, 50)
	out := x.Dropout(p, NewRNG(11))
	out.BackwardWith(seed)
	xd, od, gd, sd := x.ToSlice(), out.ToSlice(), x.Grad().ToSlice(), seed.ToSlice()
	kept := 0
	for i := range xd {
		var m float32
		switch {
		case od[i] == 0:
		case od[i] == xd[i]*scale:
			m = scale
			kept++
		default:
			t.Fatalf("out[%d] = %v, want 0 or x*%v = %v", i, od[i], scale, xd[i]*scale)
		}
		if gd[i] != sd[i]*m {
			t.Fatalf("grad[%d] = %v, want seed*mask = %v*%v", i, gd[i], sd[i], m)
		}
	}
	// Kept count is Binomial(2000, 0.7): mean 1400, sd 20.5; allow 5 sd.
	if kept < 1400-103 || kept > 1400+103 {
		t.Errorf("kept %d of 2000 at p=%v, want about 1400", kept, p)
	}
	again := x.Detach().Dropout(p, NewRNG(11)).ToSlice()
	if !goldenEqual(again, od) {
		t.Errorf("same seed gave a different mask")
	}
	if y := x.Dropout(0, NewRNG(1)); y != x {
		t.Errorf("Dropout(0) is not the identity")
	}
	for i, v := range x.Dropout(1, NewRNG(1)).ToSlice() {
		if v != 0 {
			t.Fatalf("Dropout(1)[%d] = %v, want 0", i, v)
		}
	}
}
