package tensor

import (
	"fmt"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/kiln-ml/kiln/kernels"
)

// The broadcasting table of the package doc, checked row by row.
func TestBroadcastTable(t *testing.T) {
	cases := []struct {
		a, b, want []int
		ok         bool
	}{
		{[]int{3}, []int{3}, []int{3}, true},
		{[]int{2, 3}, []int{3}, []int{2, 3}, true},
		{[]int{2, 1}, []int{1, 3}, []int{2, 3}, true},
		{[]int{4, 1, 5}, []int{3, 1}, []int{4, 3, 5}, true},
		{[]int{}, []int{2, 2}, []int{2, 2}, true},
		{[]int{1}, []int{0}, []int{0}, true},
		{[]int{2, 3}, []int{2}, nil, false},
		{[]int{3, 4}, []int{4, 3}, nil, false},
	}
	for _, c := range cases {
		got, ok := BroadcastShapes(c.a, c.b)
		if ok != c.ok || (ok && !cmp.Equal(got, c.want)) {
			t.Errorf("BroadcastShapes(%v, %v) = %v, %v; want %v, %v", c.a, c.b, got, ok, c.want, c.ok)
		}
	}
	// Values: [2,1] + [3] -> rows a[i] + b[j].
	a := New([]float32{10, 20}, 2, 1)
	b := New([]float32{1, 2, 3}, 3)
	if got, want := a.Add(b).ToSlice(), []float32{11, 12, 13, 21, 22, 23}; !cmp.Equal(got, want) {
		t.Errorf("[2,1]+[3] = %v, want %v", got, want)
	}
	// Broadcast against a transposed (non-contiguous) view.
	m := New([]float32{1, 2, 3, 4, 5, 6}, 2, 3).T() // [3,2] = [[1,4],[2,5],[3,6]]
	if got, want := m.Mul(New([]float32{1, 10}, 2)).ToSlice(), []float32{1, 40, 2, 50, 3, 60}; !cmp.Equal(got, want) {
		t.Errorf("transposed * [2] = %v, want %v", got, want)
	}
}

func TestViewsShareStorage(t *testing.T) {
	x := Arange(12).Reshape(3, 4)
	views := map[string]*Tensor{
		"reshape":   x.Reshape(4, 3),
		"transpose": x.T(),
		"permute":   x.Reshape(3, 2, 2).Permute(2, 0, 1),
		"slice":     x.Slice(1, 1, 3),
		"narrow":    x.Narrow(0, 1, 2),
		"expand":    x.Slice(0, 0, 1).Expand(5, 4),
		"unsqueeze": x.Unsqueeze(0),
	}
	for name, v := range views {
		if !v.SharesStorage(x) {
			t.Errorf("%s copied", name)
		}
	}
	if x.T().Contiguous().SharesStorage(x) {
		t.Error("Contiguous of a transposed view did not copy")
	}
	if x.Contiguous() != x {
		t.Error("Contiguous of a contiguous tensor copied")
	}
	// Writes through a view show in the base.
	x.Slice(1, 1, 3).Contiguous() // copy, no effect
	s := x.Narrow(0, 2, 1)
	s.Data()[0] = 100
	if x.At(2, 0) != 100 {
		t.Error("write through a view is not visible in the base")
	}
	if got := x.T().Slice(0, 1, 3).ToSlice(); !cmp.Equal(got, []float32{1, 5, 9, 2, 6, 10}) {
		t.Errorf("slice of transpose = %v", got)
	}
	if e := x.Slice(0, 0, 1).Expand(5, 4); e.Strides()[0] != 0 {
		t.Errorf("expand strides %v, want stride 0 on the broadcast dim", e.Strides())
	}
	// Reshape of a non-contiguous tensor copies.
	if x.T().Reshape(12).SharesStorage(x) {
		t.Error("reshape of a transposed view should copy")
	}
}

func TestAutogradSemantics(t *testing.T) {
	w := New([]float32{1, 2, 3}, 3).RequiresGrad()
	f := func() *Tensor { return w.Mul(w).Sum(nil, false) } // d/dw = 2w
	f().Backward()
	f().Backward() // accumulates
	if got := w.Grad().ToSlice(); !cmp.Equal(got, []float32{4, 8, 12}) {
		t.Errorf("accumulated grad %v, want [4 8 12]", got)
	}
	w.ZeroGrad()
	if w.Grad() != nil {
		t.Error("ZeroGrad left a gradient")
	}
	// Detach cuts the graph.
	y := w.Detach().Mul(w).Sum(nil, false) // d/dw = w (detached factor is const)
	y.Backward()
	if got := w.Grad().ToSlice(); !cmp.Equal(got, []float32{1, 2, 3}) {
		t.Errorf("grad through detach %v, want [1 2 3]", got)
	}
	// NoGrad records nothing.
	var z *Tensor
	NoGrad(func() { z = w.Mul(w).Exp() })
	if z.NeedsGrad() || z.node != nil {
		t.Error("op under NoGrad recorded a graph")
	}
	// Graph is freed after backward.
	a := w.Mul(w)
	b := a.Sum(nil, false)
	b.Backward()
	if a.node != nil || b.node != nil {
		t.Error("graph not freed after Backward")
	}
	// Seeded backward from a non-scalar.
	w.ZeroGrad()
	w.MulScalar(3).BackwardWith(New([]float32{1, 0, 2}, 3))
	if got := w.Grad().ToSlice(); !cmp.Equal(got, []float32{3, 0, 6}) {
		t.Errorf("seeded grad %v", got)
	}
	// A leaf used twice in one graph gets both contributions; the two grads
	// of Add alias the same tensor, which must not corrupt either leaf.
	u := New([]float32{1, 1}, 2).RequiresGrad()
	v := New([]float32{2, 2}, 2).RequiresGrad()
	u.Add(v).Sum(nil, false).Backward()
	u.Add(v).Sum(nil, false).Backward()
	if !cmp.Equal(u.Grad().ToSlice(), []float32{2, 2}) || !cmp.Equal(v.Grad().ToSlice(), []float32{2, 2}) {
		t.Errorf("aliased grads: u %v v %v", u.Grad().ToSlice(), v.Grad().ToSlice())
	}
}

// panicMsg runs f and returns its panic message ("" if none).
func panicMsg(f func()) (msg string) {
	defer func() {
		if r := recover(); r != nil {
			msg = fmt.Sprint(r)
		}
	}()
	f()
	return ""
}

// The error contract: programmer errors panic with an *OpError naming the op
// and the shapes.
func TestPanicMessages(t *testing.T) {
	a, b := Zeros(2, 3), Zeros(4)
	cases := []struct {
		f    func()
		want []string
	}{
		{func() { a.Add(b) }, []string{"tensor.Add", "[2 3]", "[4]"}},
		{func() { a.MatMul(Zeros(4, 2)) }, []string{"tensor.MatMul", "[2 3]", "[4 2]"}},
		{func() { a.Sum([]int{2}, false) }, []string{"tensor.Sum", "axis 2", "[2 3]"}},
		{func() { a.Reshape(4, 2) }, []string{"tensor.Reshape", "[4 2]", "[2 3]"}},
		{func() { a.Transpose(0, 5) }, []string{"tensor.Transpose", "axis 5", "[2 3]"}},
		{func() { Concat([]*Tensor{a, b}, 0) }, []string{"tensor.Concat", "[2 3]", "[4]"}},
		{func() { a.CrossEntropy([]int{0}, -1, ReduceMean) }, []string{"tensor.CrossEntropy", "[2 3]"}},
		{func() { a.T().Data() }, []string{"tensor.Data", "[3 2]", "not contiguous"}},
		{func() { ScaledDotProductAttention(Zeros(1, 2, 4), Zeros(1, 3, 5), Zeros(1, 3, 4), AttnOpts{}) }, []string{"tensor.ScaledDotProductAttention", "[1 2 4]", "[1 3 5]"}},
	}
	for i, c := range cases {
		msg := panicMsg(c.f)
		for _, w := range c.want {
			if !strings.Contains(msg, w) {
				t.Errorf("case %d: panic %q does not contain %q", i, msg, w)
			}
		}
	}
}

// Training a small MLP for 500 steps must not grow the live heap: the graph
// and its buffers are released after each backward.
func TestHeapStable(t *testing.T) {
	rng := NewRNG(1)
	w1 := Randn(rng, 0.3, 16, 32).RequiresGrad()
	b1 := Zeros(32).RequiresGrad()
	w2 := Randn(rng, 0.3, 32, 4).RequiresGrad()
	x := Randn(rng, 1, 64, 16)
	targets := make([]int, 64)
	for i := range targets {
		targets[i] = i % 4
	}
	params := []*Tensor{w1, b1, w2}
	step := func() float32 {
		loss := x.MatMul(w1).Add(b1).Gelu().MatMul(w2).CrossEntropy(targets, -1, ReduceMean)
		loss.Backward()
		for _, p := range params {
			kernels.Axpy(-0.1, p.Grad().Data(), p.Data())
			p.ZeroGrad()
		}
		return loss.Item()
	}
	live := func() uint64 {
		runtime.GC()
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	first := step()
	for i := 0; i < 50; i++ {
		step()
	}
	base := live()
	var last float32
	for i := 0; i < 500; i++ {
		last = step()
	}
	grown := int64(live()) - int64(base)
	// One step's graph is ~100 KB; 256 KB of slack covers pools and runtime
	// noise but not a leak of even one graph per 100 steps.
	t.Logf("live heap: %d bytes after warm-up, %+d after 500 more steps; loss %.4f -> %.4f", base, grown, first, last)
	if grown > 256<<10 {
		t.Errorf("live heap grew by %d bytes over 500 steps", grown)
	}
	if !(last < first) {
		t.Errorf("loss did not fall: %v -> %v", first, last)
	}
}

// Same inputs and thread count give bitwise the same results; the partition
// never depends on scheduling.
func TestDeterministicAcrossRuns(t *testing.T) {
	x := Randn(NewRNG(3), 1, 64, 300)
	w := Randn(NewRNG(4), 1, 300, 200)
	run := func() []float32 {
		return x.MatMul(w).LayerNorm(nil, nil, 1e-5).Softmax().Sum([]int{0}, false).ToSlice()
	}
	ref := run()
	for i := 0; i < 5; i++ {
		if got := run(); !cmp.Equal(got, ref) {
			t.Fatal("results differ between identical runs")
		}
	}
}

func TestZeroSizeAndScalars(t *testing.T) {
	z := Zeros(0, 3)
	if got := z.Add(Zeros(3)).Shape(); !cmp.Equal(got, []int{0, 3}) {
		t.Errorf("zero-size add shape %v", got)
	}
	if got := z.Sum([]int{0}, false).ToSlice(); !cmp.Equal(got, []float32{0, 0, 0}) {
		t.Errorf("sum over empty axis %v", got)
	}
	s := Scalar(2).RequiresGrad()
	s.Mul(s).Backward()
	if s.Grad().Item() != 4 {
		t.Errorf("scalar grad %v", s.Grad().Item())
	}
	if got := Zeros(2, 0).MatMul(Zeros(0, 3)).ToSlice(); !cmp.Equal(got, make([]float32, 6)) {
		t.Errorf("K=0 matmul %v", got)
	}
}

// Numerically stable softmax and cross entropy on huge logits.
func TestStability(t *testing.T) {
	x := New([]float32{1000, 1001, -1000}, 3)
	sm := x.Softmax().ToSlice()
	if sm[2] != 0 || sm[0] <= 0 || sm[1] <= sm[0] {
		t.Errorf("softmax of large logits %v", sm)
	}
	ls := x.LogSoftmax().ToSlice()
	for _, v := range ls {
		if v != v || v > 0 {
			t.Errorf("log_softmax of large logits %v", ls)
		}
	}
	ce := x.Reshape(1, 3).CrossEntropy([]int{1}, -1, ReduceMean).Item()
	if ce != ce || ce < 0.3 || ce > 0.32 {
		t.Errorf("cross entropy %v, want log(1+e^-1) ~ 0.3133", ce)
	}
}

// Grouped-query attention equals attention over explicitly repeated K/V
// heads (query head h uses kv head h/rep).
func TestAttentionGQAEqualsRepeated(t *testing.T) {
	rng := NewRNG(11)
	q := Randn(rng, 1, 2, 6, 4, 8)
	k := Randn(rng, 1, 2, 2, 5, 8)
	v := Randn(rng, 1, 2, 2, 5, 3)
	rep := func(x *Tensor) *Tensor {
		s := x.Shape()
		return x.Unsqueeze(2).Expand(s[0], s[1], 3, s[2], s[3]).Reshape(s[0], s[1]*3, s[2], s[3])
	}
	o := AttnOpts{Causal: true, KeyPadding: []bool{false, false, true, false, false, true, false, false, false, false}}
	got := ScaledDotProductAttention(q, k, v, o).ToSlice()
	want := ScaledDotProductAttention(q, rep(k), rep(v), o).ToSlice()
	for i := range got {
		if d := got[i] - want[i]; d > 1e-5 || d < -1e-5 {
			t.Fatalf("elem %d: %v vs %v", i, got[i], want[i])
		}
	}
	if msg := panicMsg(func() { ScaledDotProductAttention(Zeros(1, 4, 2, 8), Zeros(1, 3, 2, 8), Zeros(1, 3, 2, 8), AttnOpts{}) }); !strings.Contains(msg, "kv heads") {
		t.Errorf("4 query heads over 3 kv heads: %q", msg)
	}
}

// Strided K/V (a narrow view of a longer cache, a slice of heads, a
// transposed layout) give bitwise the results of their contiguous copies,
// forward and backward: SDPA hands row-contiguous views to the GEMMs
// without copying them (matrixRows) and must not change a single bit.
func TestAttentionStridedKV(t *testing.T) {
	rng := NewRNG(12)
	type kv struct {
		name string
		k, v func() *Tensor
	}
	cache := Randn(rng, 1, 2, 3, 9, 8) // [B, Hkv, Scap, D]
	vcache := Randn(rng, 1, 2, 3, 9, 5)
	wide := Randn(rng, 1, 2, 5, 6, 8) // more heads than used
	tr := Randn(rng, 1, 2, 3, 8, 6)   // [B, H, D, S]: last dim not contiguous
	cases := []kv{
		{"narrow-cache", func() *Tensor { return cache.Narrow(2, 0, 6) }, func() *Tensor { return vcache.Narrow(2, 0, 6) }},
		{"narrow-cache-offset", func() *Tensor { return cache.Narrow(2, 2, 6) }, func() *Tensor { return vcache.Narrow(2, 3, 6) }},
		{"head-slice", func() *Tensor { return wide.Narrow(1, 1, 3) }, func() *Tensor { return wide.Narrow(1, 2, 3) }},
		{"transposed", func() *Tensor { return tr.Transpose(2, 3) }, func() *Tensor { return tr.Transpose(2, 3).Narrow(3, 0, 5) }},
		{"single-row", func() *Tensor { return cache.Narrow(2, 4, 1) }, func() *Tensor { return vcache.Narrow(2, 4, 1) }},
	}
	for _, c := range cases {
		if k := c.k(); strings.HasPrefix(c.name, "narrow") || c.name == "single-row" {
			d, _, _ := matrixRows(k)
			if &d[0] != &k.st.data[k.offset] {
				t.Errorf("%s: matrixRows copied a row-contiguous view", c.name)
			}
		}
		for _, gqa := range []bool{false, true} {
			heads := 3
			if gqa {
				heads = 6
			}
			q0 := Randn(NewRNG(13), 1, 2, heads, 4, 8)
			run := func(contig bool) ([]float32, []float32, []float32) {
				k, v := c.k().Detach(), c.v().Detach()
				if contig {
					k, v = k.Contiguous(), v.Contiguous()
				}
				k.RequiresGrad()
				v.RequiresGrad()
				q := q0.Detach().RequiresGrad()
				o := ScaledDotProductAttention(q, k, v, AttnOpts{Causal: true})
				o.Mul(o).Sum(nil, false).Backward()
				return o.ToSlice(), append(k.Grad().ToSlice(), v.Grad().ToSlice()...), q.Grad().ToSlice()
			}
			o1, gk1, gq1 := run(false)
			o2, gk2, gq2 := run(true)
			for i, pair := range [][2][]float32{{o1, o2}, {gk1, gk2}, {gq1, gq2}} {
				if !slices.Equal(pair[0], pair[1]) {
					t.Errorf("%s gqa=%v: output %d differs from the contiguous run", c.name, gqa, i)
				}
			}
		}
	}
}

// A batch of rows times a matrix runs as one GEMM over all rows (foldRows):
// the result equals the 2-D product of the rows copied out bitwise, and the
// per-item products within rounding, for a contiguous input, a narrowed one
// (rows evenly spaced, columns cut), one whose rows are not evenly spaced
// (the batched fallback) and size-1 or several batch dims.
func TestMatMulFoldedRows(t *testing.T) {
	w := rnd(2, 6, 5)
	for name, x := range map[string]*Tensor{
		"contiguous":     rnd(1, 3, 4, 6),
		"narrowed cols":  rnd(3, 3, 4, 9).Narrow(2, 2, 6),
		"uneven rows":    rnd(4, 3, 7, 6).Narrow(1, 1, 4),
		"size-1 batch":   rnd(5, 1, 4, 6),
		"two batch dims": rnd(6, 2, 3, 4, 8).Narrow(3, 1, 6),
	} {
		got := x.MatMul(w)
		if s := got.Shape(); !slices.Equal(s[:len(s)-1], x.Shape()[:len(s)-1]) || s[len(s)-1] != 5 {
			t.Fatalf("%s: shape %v", name, s)
		}
		rows := x.Contiguous().Reshape(-1, 6).MatMul(w).ToSlice()
		if name != "uneven rows" && !slices.Equal(got.ToSlice(), rows) {
			t.Errorf("%s: differs from the 2-D product of its rows", name)
		}
		flat := x.Reshape(-1, 4, 6)
		var items []float32
		for i := 0; i < flat.Shape()[0]; i++ {
			items = append(items, flat.Narrow(0, i, 1).Squeeze(0).MatMul(w).ToSlice()...)
		}
		for i, v := range got.ToSlice() {
			if d := v - items[i]; d > 1e-5 || d < -1e-5 {
				t.Fatalf("%s: element %d is %v, per-item product %v", name, i, v, items[i])
			}
		}
	}
}

// Attention over no keys (S = 0) is an empty weighted sum: zeros out, zero
// gradient for the queries (it used to reach a GEMM with a zero leading
// dimension and panic).
func TestAttentionNoKeys(t *testing.T) {
	q := Randn(NewRNG(14), 1, 2, 3, 4, 8).RequiresGrad() // std 1, [B, H, T, D]
	k := Zeros(2, 3, 0, 8).RequiresGrad()
	v := Zeros(2, 3, 0, 5).RequiresGrad()
	out := ScaledDotProductAttention(q, k, v, AttnOpts{Causal: true})
	if want := []int{2, 3, 4, 5}; !slices.Equal(out.Shape(), want) {
		t.Fatalf("shape %v, want %v", out.Shape(), want)
	}
	out.Sum(nil, false).Backward()
	for name, x := range map[string]*Tensor{"out": out, "dq": q.Grad()} {
		for i, e := range x.ToSlice() {
			if e != 0 {
				t.Fatalf("%s[%d] = %v, want 0", name, i, e)
			}
		}
	}
}
