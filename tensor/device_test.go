package tensor

import (
	"fmt"
	"math"
	"os"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

// The device tests run where a GPU can be opened: on one, with -tags cuda,
// or on this CPU with -tags cudaemu (the kernels in the emulator):
//
//	go test -tags cudaemu -run Device ./tensor/
//
// Without either they skip. Each case runs an op (and its backward) on the
// CPU, the reference, and on the device from the same inputs, and holds the
// device's outputs and input gradients to
//
//	|dev - cpu| <= 1e-4*|cpu| + 1e-5*max(1, max|cpu|)
//
// per element (FP32; max over the tensor compared): the kernels sum in other
// orders than the CPU (GEMM tiles, tree reductions, the attention's online
// softmax), which moves results by a few ulps of the largest terms, and the
// bound is about 100x that; a wrong index or term is off by O(1).

func cudaOrSkip(t *testing.T) Device {
	t.Helper()
	d := CUDA(0)
	if err := d.Open(); err != nil {
		if os.Getenv("KILN_CUDA_REQUIRE") == "1" { // the GPU run: a missing device fails
			t.Fatalf("KILN_CUDA_REQUIRE=1: %v", err)
		}
		t.Skipf("needs a GPU or -tags cudaemu: %v", err)
	}
	return d
}

type dcase struct {
	name string
	in   []*Tensor
	f    func(x []*Tensor) *Tensor
}

// readsBack names the cases whose ops read device memory back to the host
// (Where and MaskedFill read their mask). Every other case must run forward
// and backward without a read (deviceReads), so an op that went through the
// host fails.
var readsBack = map[string]bool{"where": true, "masked fill": true}

func devClose(got, want []float32) (worst float64, at int) {
	scale := 1.0
	for _, w := range want {
		if a := math.Abs(float64(w)); !math.IsNaN(a) && !math.IsInf(a, 0) { // NaN and Inf must match exactly, below
			scale = max(scale, a)
		}
	}
	at = -1
	for i := range want {
		g, w := float64(got[i]), float64(want[i])
		if math.IsNaN(w) && math.IsNaN(g) || math.IsInf(w, 0) && g == w {
			continue
		}
		r := math.Abs(g-w) / (1e-4*math.Abs(w) + 1e-5*scale)
		if math.IsNaN(r) || r > worst {
			worst, at = r, i
			if math.IsNaN(r) {
				worst = math.Inf(1)
			}
		}
	}
	return worst, at
}

func runDevCase(t *testing.T, dev Device, c dcase) {
	t.Helper()
	xs := make([]*Tensor, len(c.in))
	xd := make([]*Tensor, len(c.in))
	for i, x := range c.in {
		xs[i] = x.Clone().Detach().RequiresGrad()
		xd[i] = x.Detach().MustTo(dev).RequiresGrad()
		if xd[i].Device() != dev {
			t.Fatalf("%s: input %d on %v", c.name, i, xd[i].Device())
		}
	}
	out := c.f(xs)
	reads := deviceReads.Load()
	outd := c.f(xd)
	hostReads := func(what string) {
		t.Helper()
		if n := deviceReads.Load() - reads; n > 0 && !readsBack[c.name] {
			t.Errorf("%s: the device %s read device memory back %d times (an op went through the host)", c.name, what, n)
		}
	}
	hostReads("forward")
	if outd.Device() != dev {
		t.Fatalf("%s: output on %v, want %v", c.name, outd.Device(), dev)
	}
	if fmt.Sprint(outd.Shape()) != fmt.Sprint(out.Shape()) {
		t.Fatalf("%s: device shape %v, cpu %v", c.name, outd.Shape(), out.Shape())
	}
	check := func(what string, got, want []float32) {
		t.Helper()
		if w, at := devClose(got, want); w > 1 {
			t.Errorf("%s: %s element %d: device %v, cpu %v (%.3g times the bound)", c.name, what, at, got[at], want[at], w)
		}
	}
	check("output", outd.ToSlice(), out.ToSlice())
	if !out.NeedsGrad() {
		return
	}
	R := Rand(NewRNG(77), -1, 1, out.Shape()...)
	out.Mul(R).Sum(nil, false).Backward()
	reads = deviceReads.Load()
	outd.Mul(R.MustTo(dev)).Sum(nil, false).Backward()
	hostReads("backward")
	for i := range xs {
		g, gd := xs[i].Grad(), xd[i].Grad()
		if (g == nil) != (gd == nil) {
			t.Errorf("%s: input %d: cpu grad %v, device grad %v", c.name, i, g != nil, gd != nil)
			continue
		}
		if g == nil {
			continue
		}
		if gd.Device() != dev {
			t.Errorf("%s: input %d's grad on %v", c.name, i, gd.Device())
		}
		check(fmt.Sprintf("grad %d", i), gd.ToSlice(), g.ToSlice())
	}
}

func in(seed uint64, shape ...int) *Tensor { return Randn(NewRNG(seed), 1, shape...) }
func posIn(seed uint64, shape ...int) *Tensor {
	return Rand(NewRNG(seed), 0.5, 2, shape...)
}

// awayFrom0 is in() pushed at least 0.1 from 0 (relu's kink).
func awayFrom0(seed uint64, shape ...int) *Tensor {
	x := in(seed, shape...)
	d := x.Data()
	for i, v := range d {
		if v >= 0 {
			d[i] = v + 0.1
		} else {
			d[i] = v - 0.1
		}
	}
	return x
}

func one(f func(x *Tensor) *Tensor) func([]*Tensor) *Tensor {
	return func(x []*Tensor) *Tensor { return f(x[0]) }
}
func two(f func(a, b *Tensor) *Tensor) func([]*Tensor) *Tensor {
	return func(x []*Tensor) *Tensor { return f(x[0], x[1]) }
}

func TestDeviceElementwise(t *testing.T) {
	dev := cudaOrSkip(t)
	cases := []dcase{
		{"add broadcast", []*Tensor{in(1, 2, 3, 4), in(2, 3, 1)}, two((*Tensor).Add)},
		{"sub transposed", []*Tensor{in(3, 4, 3), in(4, 3, 4)}, two(func(a, b *Tensor) *Tensor { return a.T().Sub(b) })},
		{"mul outer", []*Tensor{in(5, 5, 1), in(6, 1, 7)}, two((*Tensor).Mul)},
		{"div scalar tensor", []*Tensor{in(7, 2, 5), posIn(8)}, two((*Tensor).Div)},
		{"div sliced", []*Tensor{in(9, 4, 6), posIn(10, 4, 3)}, two(func(a, b *Tensor) *Tensor { return a.Slice(1, 1, 4).Div(b) })},
		{"add 5-d permuted", []*Tensor{in(11, 2, 3, 2, 3, 2), in(12, 2, 3, 2, 3, 2)}, two(func(a, b *Tensor) *Tensor { return a.Add(b.Permute(4, 3, 2, 1, 0)) })},
		{"add self", []*Tensor{in(13, 3, 3)}, one(func(a *Tensor) *Tensor { return a.Add(a.T()) })},
		{"scalar ops", []*Tensor{in(14, 3, 5)}, one(func(a *Tensor) *Tensor {
			return a.T().AddScalar(0.5).MulScalar(-1.5).Neg().SubScalar(2).DivScalar(3).RSubScalar(1)
		})},
		{"exp", []*Tensor{in(15, 3, 4)}, one(func(a *Tensor) *Tensor { return a.T().Exp() })},
		{"tanh", []*Tensor{in(16, 3, 4)}, one((*Tensor).Tanh)},
		{"sigmoid", []*Tensor{in(17, 3, 4)}, one((*Tensor).Sigmoid)},
		{"relu", []*Tensor{awayFrom0(18, 3, 4)}, one(func(a *Tensor) *Tensor { return a.T().Relu() })},
		{"gelu", []*Tensor{in(19, 3, 4)}, one((*Tensor).Gelu)},
		{"gelu tanh", []*Tensor{in(20, 3, 4)}, one((*Tensor).GeluTanh)},
		{"silu", []*Tensor{in(21, 3, 4)}, one((*Tensor).Silu)},
		{"log", []*Tensor{posIn(22, 3, 4)}, one(func(a *Tensor) *Tensor { return a.T().Log() })},
		{"sqrt", []*Tensor{posIn(23, 3, 4)}, one((*Tensor).Sqrt)},
		{"rsqrt", []*Tensor{posIn(24, 3, 4)}, one((*Tensor).Rsqrt)},
		{"pow", []*Tensor{posIn(25, 3, 4)}, one(func(a *Tensor) *Tensor { return a.Pow(1.7) })},
		{"pow integer negative bases", []*Tensor{in(27, 3, 4)}, one(func(a *Tensor) *Tensor { return a.T().Pow(3).Add(a.T().Pow(-2)) })},
		{"pow non-integer negative bases (NaN)", []*Tensor{in(28, 3, 4)}, one(func(a *Tensor) *Tensor { return a.Pow(0.5) })},
		{"clamp", []*Tensor{awayFrom0(26, 3, 4)}, one(func(a *Tensor) *Tensor { return a.Clamp(-0.05, 0.05).Add(a.Clamp(-1, 1)) })},
		{"clamp bounds met, one-sided", []*Tensor{New([]float32{-1, -0.5, 0, 0.5, 1, 2, -2, 0.25}, 2, 4)}, one(func(a *Tensor) *Tensor {
			return a.T().Clamp(-0.5, 1).Add(a.T().Clamp(float32(math.Inf(-1)), 0.25))
		})},
	}
	for _, c := range cases {
		runDevCase(t, dev, c)
	}
}

func TestDeviceReduceShape(t *testing.T) {
	dev := cudaOrSkip(t)
	cases := []dcase{
		{"sum all", []*Tensor{in(1, 3, 4, 5)}, one(func(a *Tensor) *Tensor { return a.Sum(nil, false) })},
		{"sum 0,2 keepdim", []*Tensor{in(2, 3, 4, 5)}, one(func(a *Tensor) *Tensor { return a.Sum([]int{0, 2}, true) })},
		{"sum middle", []*Tensor{in(3, 3, 4, 5)}, one(func(a *Tensor) *Tensor { return a.Sum([]int{1}, false) })},
		{"sum permuted", []*Tensor{in(4, 3, 4, 5)}, one(func(a *Tensor) *Tensor { return a.Permute(2, 0, 1).Sum([]int{-1}, false) })},
		{"mean", []*Tensor{in(5, 6, 7)}, one(func(a *Tensor) *Tensor { return a.Mean([]int{0}, false) })},
		{"max", []*Tensor{in(6, 4, 5, 3)}, one(func(a *Tensor) *Tensor { return a.Max([]int{1}, true) })},
		{"max transposed all", []*Tensor{in(7, 4, 5)}, one(func(a *Tensor) *Tensor { return a.T().Max(nil, false) })},
		{"max ties", []*Tensor{New([]float32{1, 3, 3, 2, -1, -1, 0, 5, 5, 5, 4, 5}, 3, 4)}, one(func(a *Tensor) *Tensor { return a.Max([]int{1}, false) })},
		{"reshape non-contiguous", []*Tensor{in(8, 3, 4)}, one(func(a *Tensor) *Tensor { return a.T().Reshape(2, 6).MulScalar(2) })},
		{"contiguous clone", []*Tensor{in(9, 3, 4, 2)}, one(func(a *Tensor) *Tensor { return a.Permute(2, 0, 1).Contiguous().Clone().Exp() })},
		{"narrow middle", []*Tensor{in(10, 3, 6, 2)}, one(func(a *Tensor) *Tensor { return a.Narrow(1, 2, 3).Exp() })},
		{"narrow last", []*Tensor{in(11, 4, 6)}, one(func(a *Tensor) *Tensor { return a.Narrow(-1, 0, 2).Mul(a.Narrow(-1, 4, 2)) })},
		{"slice first", []*Tensor{in(12, 5, 3)}, one(func(a *Tensor) *Tensor { return a.Slice(0, 1, -1).Tanh() })},
		{"expand", []*Tensor{in(13, 3, 1)}, one(func(a *Tensor) *Tensor { return a.Expand(2, 3, 4).Contiguous().Exp() })},
		{"squeeze unsqueeze", []*Tensor{in(14, 3, 1, 4)}, one(func(a *Tensor) *Tensor { return a.Squeeze(1).Unsqueeze(0).Transpose(0, 2).Exp() })},
		{"concat dim 0", []*Tensor{in(15, 2, 3), in(16, 4, 3)}, func(x []*Tensor) *Tensor { return Concat(x, 0).Exp() }},
		{"concat dim 1 views", []*Tensor{in(17, 3, 2), in(18, 4, 3)}, func(x []*Tensor) *Tensor { return Concat([]*Tensor{x[0], x[1].T()}, 1).Exp() }},
		{"stack", []*Tensor{in(19, 2, 3), in(20, 2, 3)}, func(x []*Tensor) *Tensor { return Stack(x, 1).Exp() }},
		{"flatten", []*Tensor{in(21, 2, 3)}, one(func(a *Tensor) *Tensor { return a.T().Flatten().Exp() })},
		// Sizes that take the kernels' other paths: a long axis over few
		// columns (two-stage reduction), a 6-d permutation (copies looped
		// over the dims beyond 4).
		{"sum long axis", []*Tensor{in(22, 600, 3)}, one(func(a *Tensor) *Tensor { return a.Sum([]int{0}, false) })},
		{"max long axis", []*Tensor{in(23, 3, 600, 2)}, one(func(a *Tensor) *Tensor { return a.Max([]int{1}, false) })},
		{"patchify 6-d", []*Tensor{in(24, 2, 3, 4, 2, 4, 2)}, one(func(a *Tensor) *Tensor {
			return a.Permute(0, 2, 4, 1, 3, 5).Contiguous().Reshape(2, 16, 12).Exp()
		})},
	}
	for _, c := range cases {
		runDevCase(t, dev, c)
	}
}

func TestDeviceMatMul(t *testing.T) {
	dev := cudaOrSkip(t)
	mm := two((*Tensor).MatMul)
	cases := []dcase{
		{"2-d", []*Tensor{in(1, 5, 7), in(2, 7, 3)}, mm},
		{"transposed", []*Tensor{in(3, 7, 5), in(4, 3, 7)}, two(func(a, b *Tensor) *Tensor { return a.T().MatMul(b.T()) })},
		{"batched broadcast", []*Tensor{in(5, 2, 1, 3, 4), in(6, 3, 4, 5)}, mm},
		{"rows times matrix", []*Tensor{in(7, 2, 3, 4), in(8, 4, 5)}, mm},
		{"batched both", []*Tensor{in(9, 3, 4, 6), in(10, 3, 6, 2)}, mm},
		{"vector left", []*Tensor{in(11, 4), in(12, 4, 3)}, mm},
		{"vector right", []*Tensor{in(13, 2, 3, 4), in(14, 4)}, mm},
		{"dot", []*Tensor{in(15, 6), in(16, 6)}, mm},
		{"several tiles", []*Tensor{in(19, 130, 20), in(20, 20, 140)}, mm},
		{"non-uniform batch", []*Tensor{in(17, 2, 3, 4, 5), in(18, 3, 2, 5, 4)}, two(func(a, b *Tensor) *Tensor { return a.MatMul(b.Permute(1, 0, 2, 3)) })},
	}
	for _, c := range cases {
		runDevCase(t, dev, c)
	}
}

func TestDeviceIndex(t *testing.T) {
	dev := cudaOrSkip(t)
	mask := New([]float32{1, 0, 0, 1, 1, 0}, 2, 3, 1)
	cases := []dcase{
		{"index select dim 1", []*Tensor{in(1, 3, 5, 2)}, one(func(a *Tensor) *Tensor { return a.IndexSelect(1, []int{4, 0, 4, 2}) })},
		{"embedding repeated ids", []*Tensor{in(2, 6, 4)}, one(func(a *Tensor) *Tensor { return a.Embedding([]int{1, 5, 1, 0, 1, 3}, 2, 3) })},
		{"gather", []*Tensor{in(3, 3, 4)}, one(func(a *Tensor) *Tensor { return a.Gather(1, []int{3, 0, 0, 2, 1, 1}, 3, 2) })},
		{"gather transposed", []*Tensor{in(4, 4, 3)}, one(func(a *Tensor) *Tensor { return a.T().Gather(0, []int{2, 0, 1, 1}, 1, 4) })},
		{"where", []*Tensor{mask, in(5, 2, 1, 4), in(6, 3, 4)}, func(x []*Tensor) *Tensor { return Where(x[0], x[1], x[2]) }},
		{"masked fill", []*Tensor{in(7, 2, 3, 4), mask}, two(func(a, m *Tensor) *Tensor { return a.MaskedFill(m, -3) })},
	}
	for _, c := range cases {
		runDevCase(t, dev, c)
	}
}

func TestDeviceNN(t *testing.T) {
	dev := cudaOrSkip(t)
	targets := []int{2, -1, 0, 4, 4, 1}
	cases := []dcase{
		{"softmax", []*Tensor{in(1, 3, 7)}, one((*Tensor).Softmax)},
		{"softmax transposed", []*Tensor{in(2, 7, 3)}, one(func(a *Tensor) *Tensor { return a.T().Softmax() })},
		{"log softmax", []*Tensor{in(3, 2, 3, 9)}, one((*Tensor).LogSoftmax)},
		{"cross entropy mean", []*Tensor{in(4, 2, 3, 5)}, one(func(a *Tensor) *Tensor { return a.CrossEntropy(targets, -1, ReduceMean) })},
		{"cross entropy sum", []*Tensor{in(5, 6, 5)}, one(func(a *Tensor) *Tensor { return a.CrossEntropy(targets, -1, ReduceSum) })},
		{"cross entropy none", []*Tensor{in(6, 5, 6)}, one(func(a *Tensor) *Tensor { return a.T().CrossEntropy(targets, -1, ReduceNone) })},
		{"layer norm affine", []*Tensor{in(7, 3, 4, 6), in(8, 6), in(9, 6)}, func(x []*Tensor) *Tensor { return x[0].LayerNorm(x[1], x[2], 1e-5) }},
		{"layer norm plain transposed", []*Tensor{in(10, 6, 5)}, one(func(a *Tensor) *Tensor { return a.T().LayerNorm(nil, nil, 1e-5) })},
		{"rms norm", []*Tensor{in(11, 4, 8), in(12, 8)}, two(func(a, w *Tensor) *Tensor { return a.RMSNorm(w, 1e-6) })},
		{"rms norm plain", []*Tensor{in(13, 4, 8)}, one(func(a *Tensor) *Tensor { return a.RMSNorm(nil, 1e-6) })},
		{"rope", []*Tensor{in(14, 2, 3, 5, 8)}, one(func(a *Tensor) *Tensor { return a.RoPE([]int{0, 1, 2, 3, 4}, 10000) })},
		{"rope per item", []*Tensor{in(15, 2, 3, 4, 6)}, one(func(a *Tensor) *Tensor { return a.RoPE([]int{3, 4, 5, 6, 0, 1, 2, 3}, 100) })},
		{"layer norm many rows", []*Tensor{in(17, 300, 8), in(18, 8), in(19, 8)}, func(x []*Tensor) *Tensor { return x[0].LayerNorm(x[1], x[2], 1e-5) }},
		{"rms norm many rows", []*Tensor{in(20, 300, 8), in(21, 8)}, two(func(a, w *Tensor) *Tensor { return a.RMSNorm(w, 1e-6) })},
		{"cross entropy many rows", []*Tensor{in(22, 300, 7)}, one(func(a *Tensor) *Tensor {
			ts := make([]int, 300)
			for i := range ts {
				ts[i] = (i*5)%8 - 1 // -1 ignored
			}
			return a.CrossEntropy(ts, -1, ReduceMean)
		})},
		{"rope permuted", []*Tensor{in(16, 2, 4, 3, 6)}, one(func(a *Tensor) *Tensor { return a.Permute(0, 2, 1, 3).RoPE([]int{0, 1, 2, 3}, 10000) })},
	}
	for _, c := range cases {
		runDevCase(t, dev, c)
	}
}

func TestDeviceAttention(t *testing.T) {
	dev := cudaOrSkip(t)
	sdpa := func(o AttnOpts) func([]*Tensor) *Tensor {
		return func(x []*Tensor) *Tensor { return ScaledDotProductAttention(x[0], x[1], x[2], o) }
	}
	pad := []bool{false, false, false, true, true, false, false, false, false, false}
	cases := []dcase{
		{"plain", []*Tensor{in(1, 2, 2, 4, 8), in(2, 2, 2, 5, 8), in(3, 2, 2, 5, 6)}, sdpa(AttnOpts{})},
		{"causal", []*Tensor{in(4, 2, 2, 5, 8), in(5, 2, 2, 5, 8), in(6, 2, 2, 5, 8)}, sdpa(AttnOpts{Causal: true})},
		{"kv cache causal gqa", []*Tensor{in(7, 2, 4, 3, 8), in(8, 2, 2, 5, 8), in(9, 2, 2, 5, 8)}, sdpa(AttnOpts{Causal: true, Scale: 0.3})},
		{"key padding", []*Tensor{in(10, 2, 2, 5, 8), in(11, 2, 2, 5, 8), in(12, 2, 2, 5, 8)}, sdpa(AttnOpts{Causal: true, KeyPadding: pad})},
		{"permuted views", []*Tensor{in(13, 2, 5, 2, 8), in(14, 2, 5, 2, 8), in(15, 2, 5, 2, 8)}, func(x []*Tensor) *Tensor {
			return ScaledDotProductAttention(x[0].Transpose(1, 2), x[1].Transpose(1, 2), x[2].Transpose(1, 2), AttnOpts{Causal: true})
		}},
	}
	for _, c := range cases {
		runDevCase(t, dev, c)
	}
}

func TestDeviceDropoutAndTo(t *testing.T) {
	dev := cudaOrSkip(t)
	x := in(1, 4, 5)
	runDevCase(t, dev, dcase{"dropout", []*Tensor{x}, func(x []*Tensor) *Tensor { return x[0].Dropout(0.3, NewRNG(9)) }})
	// To is differentiable both ways: a CPU leaf's gradient through a
	// device computation comes back to the CPU.
	w := in(2, 3, 3).RequiresGrad()
	wd := w.MustTo(dev)
	loss := wd.Exp().Sum(nil, false).MustTo(CPU)
	if loss.Device() != CPU {
		t.Fatalf("loss on %v", loss.Device())
	}
	loss.Backward()
	if w.Grad() == nil || w.Grad().Device() != CPU {
		t.Fatalf("grad %v", w.Grad())
	}
	want := w.Detach().Exp().ToSlice()
	if worst, at := devClose(w.Grad().ToSlice(), want); worst > 1 {
		t.Errorf("grad through To: element %d: %v, want %v", at, w.Grad().ToSlice()[at], want[at])
	}
	// Host access downloads: Item, At, ToSlice; Data panics.
	if got, want := wd.At(1, 2), w.At(1, 2); got != want {
		t.Errorf("At: %v, want %v", got, want)
	}
	if got, want := wd.Sum(nil, false).Item(), w.Sum(nil, false).Item(); math.Abs(float64(got-want)) > 1e-5 {
		t.Errorf("Item: %v, want %v", got, want)
	}
	func() {
		defer func() {
			r := recover()
			if e, ok := r.(*OpError); !ok || e.Op != "tensor.Data" || !strings.Contains(e.Msg, "cuda:0") {
				t.Errorf("Data on a device tensor: recovered %v", r)
			}
		}()
		wd.Data()
	}()
	if s := wd.String(); !strings.HasPrefix(s, "Tensor[3 3][") {
		t.Errorf("String: %q", s)
	}
}

func TestDeviceMixedPanics(t *testing.T) {
	dev := cudaOrSkip(t)
	a, b := in(1, 2, 3), in(2, 2, 3).MustTo(dev)
	for _, c := range []struct {
		op string
		f  func()
	}{
		{"tensor.Add", func() { a.Add(b) }},
		{"tensor.MatMul", func() { a.MatMul(b.T()) }},
		{"tensor.Concat", func() { Concat([]*Tensor{a, b}, 0) }},
		{"tensor.LayerNorm", func() { b.LayerNorm(Ones(3), nil, 1e-5) }},
		{"tensor.Where", func() { Where(a, b, b) }},
		{"tensor.ScaledDotProductAttention", func() { ScaledDotProductAttention(a, b, b, AttnOpts{}) }},
	} {
		func() {
			defer func() {
				r := recover()
				e, ok := r.(*OpError)
				if !ok || e.Op != c.op || !strings.Contains(e.Msg, "cpu") || !strings.Contains(e.Msg, "cuda:0") {
					t.Errorf("%s on mixed devices: recovered %v", c.op, r)
				}
			}()
			c.f()
		}()
	}
}

func TestDeviceGradCheck(t *testing.T) {
	dev := cudaOrSkip(t)
	on := func(ts ...*Tensor) []*Tensor {
		for i, x := range ts {
			ts[i] = x.MustTo(dev)
		}
		return ts
	}
	for _, c := range []struct {
		name string
		in   []*Tensor
		f    func(x []*Tensor) *Tensor
	}{
		{"matmul gelu", on(in(1, 3, 4), in(2, 4, 5)), func(x []*Tensor) *Tensor { return x[0].MatMul(x[1]).Gelu() }},
		{"layer norm", on(in(3, 3, 6), in(4, 6), in(5, 6)), func(x []*Tensor) *Tensor { return x[0].LayerNorm(x[1], x[2], 1e-5) }},
		{"cross entropy", on(in(6, 4, 5)), func(x []*Tensor) *Tensor { return x[0].CrossEntropy([]int{1, 0, -1, 4}, -1, ReduceMean) }},
		{"attention", on(in(7, 1, 2, 4, 8), in(8, 1, 2, 4, 8), in(9, 1, 2, 4, 8)), func(x []*Tensor) *Tensor {
			return ScaledDotProductAttention(x[0], x[1], x[2], AttnOpts{Causal: true})
		}},
		{"broadcast sub softmax", on(in(10, 3, 4), in(11, 4)), func(x []*Tensor) *Tensor { return x[0].Sub(x[1]).Softmax() }},
	} {
		if err := GradCheck(c.f, c.in, GradCheckOpts{Seed: 3}); err != nil {
			t.Errorf("%s: %v", c.name, err)
		}
	}
}

// The device AdamW repeats the reference's float32 operations: after a few
// steps the parameters match the host's within rounding of the sqrt/div.
func TestDeviceAdamW(t *testing.T) {
	dev := cudaOrSkip(t)
	p, m, v := in(1, 3, 7), Zeros(3, 7), Zeros(3, 7)
	pd, md, vd := p.MustTo(dev), m.MustTo(dev), v.MustTo(dev)
	for step := 1; step <= 4; step++ {
		g := in(uint64(10+step), 3, 7)
		AdamWUpdate(p, g, m, v, 1e-2, 0.9, 0.999, 1e-8, 0.1, step)
		AdamWUpdate(pd, g.MustTo(dev), md, vd, 1e-2, 0.9, 0.999, 1e-8, 0.1, step)
	}
	for _, c := range [][2]*Tensor{{pd, p}, {md, m}, {vd, v}} {
		if w, at := devClose(c[0].ToSlice(), c[1].ToSlice()); w > 1 {
			t.Errorf("element %d: device %v, host %v", at, c[0].ToSlice()[at], c[1].ToSlice()[at])
		}
	}
}

// Device buffers go back to the caching allocator when their tensors are
// collected: once a training step has run, more steps (with a collection
// between) are served from the cache, with no new driver allocations.
func TestDeviceBuffersReturn(t *testing.T) {
	dev := cudaOrSkip(t)
	c, _ := openCUDA(dev.Index)
	w := in(1, 6, 5).MustTo(dev).RequiresGrad()
	x := in(2, 4, 3, 6).MustTo(dev)
	step := func() {
		loss := x.MatMul(w).Gelu().LayerNorm(nil, nil, 1e-5).Softmax().Sum(nil, false)
		loss.Backward()
		w.ZeroGrad()
	}
	for range 3 {
		step()
		runtime.GC()
	}
	time.Sleep(50 * time.Millisecond) // the cleanups run on their own goroutine
	before := c.d.Stats()
	for range 10 {
		step()
		runtime.GC()
		time.Sleep(5 * time.Millisecond)
	}
	after := c.d.Stats()
	if after.DriverAllocs != before.DriverAllocs || after.CacheHits <= before.CacheHits {
		t.Errorf("driver allocations %d -> %d, cache hits %d -> %d: buffers are not coming back", before.DriverAllocs, after.DriverAllocs, before.CacheHits, after.CacheHits)
	}
}

// CopyFrom writes a (strided) tensor into a strided region of a device
// buffer in place, as on the host.
func TestDeviceCopyFrom(t *testing.T) {
	dev := cudaOrSkip(t)
	src := in(1, 2, 4, 3, 5) // viewed as [2, 3, 4, 5]
	host := Zeros(2, 3, 7, 5)
	devBuf := Zeros(2, 3, 7, 5).MustTo(dev)
	host.Narrow(2, 2, 4).CopyFrom(src.Transpose(1, 2))
	devBuf.Narrow(2, 2, 4).CopyFrom(src.MustTo(dev).Transpose(1, 2))
	devBuf.Narrow(0, 1, 1).Narrow(3, 1, 2).CopyFrom(devBuf.Narrow(0, 0, 1).Narrow(3, 2, 2).Clone())
	host.Narrow(0, 1, 1).Narrow(3, 1, 2).CopyFrom(host.Narrow(0, 0, 1).Narrow(3, 2, 2).Clone())
	if got, want := devBuf.ToSlice(), host.ToSlice(); !slices.Equal(got, want) {
		t.Errorf("device %v\nhost %v", got, want)
	}
}

// Without any collection by the caller, alloc's own trigger (live device
// bytes past twice what the last collection left, above a floor) keeps
// device memory bounded: a loop that makes garbage buffers levels off
// instead of growing with the steps.
func TestDeviceMemoryBounded(t *testing.T) {
	dev := cudaOrSkip(t)
	c, _ := openCUDA(dev.Index)
	settle := func() { // wait for a pending collection, then reset the trigger
		for {
			c.gcMu.Lock()
			if !c.gcPending {
				c.gcAt = 0
				c.gcMu.Unlock()
				return
			}
			c.gcMu.Unlock()
			time.Sleep(time.Millisecond)
		}
	}
	old := deviceGCFloor
	settle()
	deviceGCFloor = 256 << 10
	defer func() { settle(); deviceGCFloor = old }()
	var peak int64
	for i := range 8000 {
		newDev(c, "test", []int{1024}) // 4 KiB of garbage
		if i%100 == 99 {
			time.Sleep(time.Millisecond) // give the collections time to finish
		}
		peak = max(peak, c.d.Stats().LiveBytes)
	}
	// 32 MiB of garbage in all; the trigger keeps the live bytes within
	// some times the floor (a collection lags the allocations).
	if peak > 8<<20 {
		t.Errorf("live device bytes peaked at %d KiB", peak>>10)
	}
}

func TestParseDevice(t *testing.T) {
	for s, want := range map[string]Device{"cpu": CPU, "cuda": CUDA(0), "cuda:0": CUDA(0), "cuda:3": CUDA(3)} {
		if d, err := ParseDevice(s); err != nil || d != want {
			t.Errorf("ParseDevice(%q) = %v, %v", s, d, err)
		}
		if d, _ := ParseDevice(s); s != "cuda" && d.String() != s {
			t.Errorf("%q does not round-trip: %q", s, d.String())
		}
	}
	for _, s := range []string{"", "gpu", "cuda:", "cuda:-1", "cuda:x", "CPU"} {
		if _, err := ParseDevice(s); err == nil {
			t.Errorf("ParseDevice(%q) succeeded", s)
		}
	}
}

// Empty tensors and empty dims behave on the device as on the host.
func TestDeviceEmpty(t *testing.T) {
	dev := cudaOrSkip(t)
	cases := []dcase{
		{"add empty", []*Tensor{in(1, 0, 3), in(2, 3)}, two((*Tensor).Add)},
		{"sum over an empty dim", []*Tensor{in(3, 2, 0, 3)}, one(func(a *Tensor) *Tensor { return a.Sum([]int{1}, false) })},
		{"sum of empty", []*Tensor{in(4, 0, 3)}, one(func(a *Tensor) *Tensor { return a.Sum(nil, false) })},
		{"matmul k=0", []*Tensor{in(5, 2, 0), in(6, 0, 3)}, mmCase},
		{"matmul m=0", []*Tensor{in(7, 0, 4), in(8, 4, 3)}, mmCase},
		{"softmax no rows", []*Tensor{in(9, 0, 5)}, one((*Tensor).Softmax)},
		{"concat with an empty part", []*Tensor{in(10, 2, 0), in(11, 2, 3)}, func(x []*Tensor) *Tensor { return Concat(x, 1).Exp() }},
		{"narrow to nothing", []*Tensor{in(12, 3, 4)}, one(func(a *Tensor) *Tensor { return a.Narrow(1, 2, 0).Exp() })},
		{"index select none", []*Tensor{in(13, 3, 4)}, one(func(a *Tensor) *Tensor { return a.IndexSelect(0, nil) })},
	}
	for _, c := range cases {
		runDevCase(t, dev, c)
	}
}

var mmCase = two((*Tensor).MatMul)
