package tensor

import (
	"math"
	"testing"
)

// Finite-difference gradient checks for every differentiable op, through
// GradCheck (its doc gives the stencil and justifies the default tolerances:
// atol 2e-3, rtol 1e-2 at h = 1e-2). Ops with kinks get inputs at least 0.1
// from the kink.

type gcase struct {
	name       string
	in         []*Tensor
	f          func(x []*Tensor) *Tensor
	atol, rtol float64
}

func gradCheck(t *testing.T, c gcase) {
	t.Helper()
	if err := GradCheck(c.f, c.in, GradCheckOpts{Atol: c.atol, Rtol: c.rtol}); err != nil {
		t.Errorf("%s: %v", c.name, err)
	}
}

// away returns uniform values in [-2,2] at least 0.1 from each kink.
func away(seed uint64, kinks []float32, shape ...int) *Tensor {
	x := Rand(NewRNG(seed), -2, 2, shape...)
	d := x.Data()
	for i := range d {
		for _, k := range kinks {
			if math.Abs(float64(d[i]-k)) < 0.1 {
				d[i] = k + 0.1 + 0.3*float32(i%3)
			}
		}
	}
	return x
}

func rnd(seed uint64, shape ...int) *Tensor { return Rand(NewRNG(seed), -1, 1, shape...) }
func pos(seed uint64, shape ...int) *Tensor { return Rand(NewRNG(seed), 0.5, 2, shape...) }

func TestGradElementwise(t *testing.T) {
	cases := []gcase{
		{name: "add broadcast", in: []*Tensor{rnd(1, 2, 1, 5), rnd(2, 3, 1)}, f: func(x []*Tensor) *Tensor { return x[0].Add(x[1]) }},
		{name: "add same", in: []*Tensor{rnd(1, 3, 4), rnd(2, 3, 4)}, f: func(x []*Tensor) *Tensor { return x[0].Add(x[1]) }},
		{name: "add noncontig", in: []*Tensor{rnd(1, 4, 3), rnd(2, 3, 4)}, f: func(x []*Tensor) *Tensor { return x[0].T().Add(x[1]) }},
		{name: "sub broadcast", in: []*Tensor{rnd(3, 4, 1), rnd(4, 1, 6)}, f: func(x []*Tensor) *Tensor { return x[0].Sub(x[1]) }},
		{name: "mul broadcast", in: []*Tensor{rnd(5, 4, 1), rnd(6, 1, 6)}, f: func(x []*Tensor) *Tensor { return x[0].Mul(x[1]) }},
		{name: "mul scalar tensor", in: []*Tensor{rnd(5, 3, 2), rnd(6)}, f: func(x []*Tensor) *Tensor { return x[0].Mul(x[1]) }},
		{name: "mul self", in: []*Tensor{rnd(5, 7)}, f: func(x []*Tensor) *Tensor { return x[0].Mul(x[0]) }},
		{name: "div broadcast", in: []*Tensor{rnd(7, 2, 3), pos(8, 3)}, f: func(x []*Tensor) *Tensor { return x[0].Div(x[1]) }},
		{name: "neg", in: []*Tensor{rnd(9, 3, 2)}, f: func(x []*Tensor) *Tensor { return x[0].Neg() }},
		{name: "scalar ops", in: []*Tensor{rnd(10, 5)}, f: func(x []*Tensor) *Tensor {
			return x[0].AddScalar(0.5).MulScalar(-1.5).SubScalar(2).DivScalar(3).RSubScalar(1)
		}},
		{name: "pow", in: []*Tensor{pos(11, 2, 3)}, f: func(x []*Tensor) *Tensor { return x[0].Pow(2.5) }},
		{name: "exp", in: []*Tensor{rnd(12, 2, 3)}, f: func(x []*Tensor) *Tensor { return x[0].Exp() }},
		{name: "log", in: []*Tensor{pos(13, 2, 3)}, f: func(x []*Tensor) *Tensor { return x[0].Log() }},
		{name: "sqrt", in: []*Tensor{pos(14, 2, 3)}, f: func(x []*Tensor) *Tensor { return x[0].Sqrt() }},
		{name: "rsqrt", in: []*Tensor{pos(15, 2, 3)}, f: func(x []*Tensor) *Tensor { return x[0].Rsqrt() }},
		{name: "tanh", in: []*Tensor{rnd(16, 2, 3)}, f: func(x []*Tensor) *Tensor { return x[0].Tanh() }},
		{name: "sigmoid", in: []*Tensor{rnd(17, 2, 3)}, f: func(x []*Tensor) *Tensor { return x[0].Sigmoid() }},
		{name: "relu", in: []*Tensor{away(18, []float32{0}, 3, 4)}, f: func(x []*Tensor) *Tensor { return x[0].Relu() }},
		{name: "gelu", in: []*Tensor{away(19, nil, 3, 4)}, f: func(x []*Tensor) *Tensor { return x[0].Gelu() }},
		{name: "gelu tanh", in: []*Tensor{away(20, nil, 3, 4)}, f: func(x []*Tensor) *Tensor { return x[0].GeluTanh() }},
		{name: "silu", in: []*Tensor{away(21, nil, 3, 4)}, f: func(x []*Tensor) *Tensor { return x[0].Silu() }},
		{name: "clamp", in: []*Tensor{away(22, []float32{-0.5, 0.7}, 4, 5)}, f: func(x []*Tensor) *Tensor { return x[0].Clamp(-0.5, 0.7) }},
		{name: "where", in: []*Tensor{rnd(23, 3, 4), rnd(24, 4)}, f: func(x []*Tensor) *Tensor {
			return Where(New([]float32{1, 0, 0, 1, 1, 1, 0, 0, 0, 1, 0, 1}, 3, 4), x[0], x[1])
		}},
		{name: "masked fill", in: []*Tensor{rnd(25, 2, 3)}, f: func(x []*Tensor) *Tensor {
			return x[0].MaskedFill(New([]float32{1, 0, 1}, 3), -7)
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { gradCheck(t, c) })
	}
}

func TestGradReduceAndShape(t *testing.T) {
	cases := []gcase{
		{name: "sum all", in: []*Tensor{rnd(1, 3, 4)}, f: func(x []*Tensor) *Tensor { return x[0].Sum(nil, false) }},
		{name: "sum axis keepdim", in: []*Tensor{rnd(2, 2, 3, 4)}, f: func(x []*Tensor) *Tensor { return x[0].Sum([]int{1}, true) }},
		{name: "sum axes", in: []*Tensor{rnd(3, 2, 3, 4)}, f: func(x []*Tensor) *Tensor { return x[0].Sum([]int{0, -1}, false) }},
		{name: "mean", in: []*Tensor{rnd(4, 2, 3, 4)}, f: func(x []*Tensor) *Tensor { return x[0].Mean([]int{2}, false) }},
		{name: "mean noncontig", in: []*Tensor{rnd(4, 4, 3)}, f: func(x []*Tensor) *Tensor { return x[0].T().Mean([]int{1}, true) }},
		{name: "max axis", in: []*Tensor{rnd(5, 3, 5)}, f: func(x []*Tensor) *Tensor { return x[0].Max([]int{1}, false) }},
		{name: "max all keepdim", in: []*Tensor{rnd(6, 2, 3)}, f: func(x []*Tensor) *Tensor { return x[0].Max(nil, true) }},
		{name: "reshape", in: []*Tensor{rnd(7, 2, 6)}, f: func(x []*Tensor) *Tensor { return x[0].Reshape(3, -1).Mul(rnd(70, 3, 4)) }},
		{name: "reshape noncontig", in: []*Tensor{rnd(8, 3, 4)}, f: func(x []*Tensor) *Tensor { return x[0].T().Reshape(12) }},
		{name: "permute", in: []*Tensor{rnd(9, 2, 3, 4)}, f: func(x []*Tensor) *Tensor { return x[0].Permute(2, 0, 1).Exp() }},
		{name: "slice", in: []*Tensor{rnd(10, 5, 4)}, f: func(x []*Tensor) *Tensor { return x[0].Slice(0, 1, -1).Slice(1, 2, 4) }},
		{name: "narrow", in: []*Tensor{rnd(11, 5, 4)}, f: func(x []*Tensor) *Tensor { return x[0].Narrow(1, 1, 2).Tanh() }},
		{name: "concat", in: []*Tensor{rnd(12, 2, 3), rnd(13, 2, 1)}, f: func(x []*Tensor) *Tensor { return Concat([]*Tensor{x[0], x[1], x[0]}, 1) }},
		{name: "stack", in: []*Tensor{rnd(14, 2, 3), rnd(15, 2, 3)}, f: func(x []*Tensor) *Tensor { return Stack([]*Tensor{x[0], x[1]}, 1) }},
		{name: "expand", in: []*Tensor{rnd(16, 3, 1)}, f: func(x []*Tensor) *Tensor { return x[0].Expand(2, 3, 4).Mul(rnd(17, 2, 3, 4)) }},
		{name: "unsqueeze squeeze", in: []*Tensor{rnd(18, 3, 2)}, f: func(x []*Tensor) *Tensor { return x[0].Unsqueeze(1).Exp().Squeeze(1) }},
		{name: "contiguous", in: []*Tensor{rnd(19, 3, 2)}, f: func(x []*Tensor) *Tensor { return x[0].T().Contiguous() }},
		{name: "gather", in: []*Tensor{rnd(20, 3, 4)}, f: func(x []*Tensor) *Tensor { return x[0].Gather(1, []int{0, 3, 3, 1, 2, 2}, 3, 2) }},
		{name: "index select", in: []*Tensor{rnd(21, 4, 3)}, f: func(x []*Tensor) *Tensor { return x[0].IndexSelect(0, []int{2, 0, 2}) }},
		{name: "embedding", in: []*Tensor{rnd(22, 5, 3)}, f: func(x []*Tensor) *Tensor { return x[0].Embedding([]int{1, 4, 1, 0}, 2, 2) }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { gradCheck(t, c) })
	}
}

func TestGradMatMul(t *testing.T) {
	cases := []gcase{
		{name: "2d", in: []*Tensor{rnd(1, 3, 4), rnd(2, 4, 5)}, f: func(x []*Tensor) *Tensor { return x[0].MatMul(x[1]) }},
		{name: "transposed views", in: []*Tensor{rnd(3, 4, 3), rnd(4, 5, 4)}, f: func(x []*Tensor) *Tensor { return x[0].T().MatMul(x[1].T()) }},
		{name: "batched broadcast", in: []*Tensor{rnd(5, 2, 1, 3, 4), rnd(6, 3, 4, 2)}, f: func(x []*Tensor) *Tensor { return x[0].MatMul(x[1]) }},
		{name: "batched mixed", in: []*Tensor{rnd(7, 2, 1, 3, 4), rnd(8, 1, 3, 4, 2)}, f: func(x []*Tensor) *Tensor { return x[0].MatMul(x[1]) }},
		{name: "rows times matrix", in: []*Tensor{rnd(13, 2, 3, 4), rnd(14, 4, 5)}, f: func(x []*Tensor) *Tensor { return x[0].MatMul(x[1]) }},
		{name: "rows of a narrowed view", in: []*Tensor{rnd(15, 2, 1, 3, 6), rnd(16, 3, 4)}, f: func(x []*Tensor) *Tensor { return x[0].Narrow(3, 1, 4).MatMul(x[1].T()) }},
		{name: "rows not evenly spaced", in: []*Tensor{rnd(17, 2, 5, 4), rnd(18, 4, 3)}, f: func(x []*Tensor) *Tensor { return x[0].Narrow(1, 1, 3).MatMul(x[1]) }},
		{name: "vec mat", in: []*Tensor{rnd(9, 4), rnd(10, 4, 3)}, f: func(x []*Tensor) *Tensor { return x[0].MatMul(x[1]) }},
		{name: "mat vec", in: []*Tensor{rnd(11, 2, 3), rnd(12, 3)}, f: func(x []*Tensor) *Tensor { return x[0].MatMul(x[1]) }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { gradCheck(t, c) })
	}
}

func TestGradNN(t *testing.T) {
	ce := func(red Reduction) func(x []*Tensor) *Tensor {
		return func(x []*Tensor) *Tensor { return x[0].CrossEntropy([]int{2, -100, 0, 4}, -100, red) }
	}
	cases := []gcase{
		{name: "softmax", in: []*Tensor{rnd(1, 3, 5)}, f: func(x []*Tensor) *Tensor { return x[0].Softmax() }},
		{name: "softmax noncontig", in: []*Tensor{rnd(2, 5, 3)}, f: func(x []*Tensor) *Tensor { return x[0].T().Softmax() }},
		{name: "log softmax", in: []*Tensor{rnd(3, 2, 2, 5)}, f: func(x []*Tensor) *Tensor { return x[0].LogSoftmax() }},
		{name: "cross entropy mean", in: []*Tensor{rnd(4, 4, 5)}, f: ce(ReduceMean)},
		{name: "cross entropy sum", in: []*Tensor{rnd(5, 4, 5)}, f: ce(ReduceSum)},
		{name: "cross entropy none", in: []*Tensor{rnd(6, 2, 2, 5)}, f: ce(ReduceNone)},
		{name: "layer norm affine", in: []*Tensor{rnd(7, 3, 6), rnd(8, 6), rnd(9, 6)}, f: func(x []*Tensor) *Tensor { return x[0].LayerNorm(x[1], x[2], 1e-5) }},
		{name: "layer norm plain", in: []*Tensor{rnd(10, 2, 3, 5)}, f: func(x []*Tensor) *Tensor { return x[0].LayerNorm(nil, nil, 1e-5) }},
		{name: "rms norm", in: []*Tensor{rnd(11, 3, 6), rnd(12, 6)}, f: func(x []*Tensor) *Tensor { return x[0].RMSNorm(x[1], 1e-6) }},
		{name: "rms norm plain", in: []*Tensor{rnd(13, 4, 5)}, f: func(x []*Tensor) *Tensor { return x[0].RMSNorm(nil, 1e-6) }},
		{name: "rope", in: []*Tensor{rnd(14, 2, 3, 4, 6)}, f: func(x []*Tensor) *Tensor { return x[0].RoPE([]int{0, 1, 2, 5}, 10000) }},
		{name: "rope per item", in: []*Tensor{rnd(15, 2, 1, 3, 4)}, f: func(x []*Tensor) *Tensor { return x[0].RoPE([]int{0, 1, 2, 7, 8, 9}, 100) }},
		{name: "dropout", in: []*Tensor{rnd(16, 4, 6)}, f: func(x []*Tensor) *Tensor { return x[0].Dropout(0.3, NewRNG(5)) }},
		{name: "attention", in: []*Tensor{rnd(17, 2, 2, 3, 4), rnd(18, 2, 2, 5, 4), rnd(19, 2, 2, 5, 3)}, f: func(x []*Tensor) *Tensor {
			return ScaledDotProductAttention(x[0], x[1], x[2], AttnOpts{})
		}},
		{name: "attention causal", in: []*Tensor{rnd(20, 1, 2, 4, 4), rnd(21, 1, 2, 4, 4), rnd(22, 1, 2, 4, 4)}, f: func(x []*Tensor) *Tensor {
			return ScaledDotProductAttention(x[0], x[1], x[2], AttnOpts{Causal: true})
		}},
		{name: "attention grouped query heads", in: []*Tensor{rnd(26, 2, 4, 3, 4), rnd(27, 2, 2, 5, 4), rnd(28, 2, 2, 5, 3)}, f: func(x []*Tensor) *Tensor {
			pad := []bool{false, true, false, false, false, false, false, false, false, true}
			return ScaledDotProductAttention(x[0], x[1], x[2], AttnOpts{Causal: true, KeyPadding: pad})
		}},
		{name: "attention causal cache padding", in: []*Tensor{rnd(23, 2, 1, 2, 4), rnd(24, 2, 1, 5, 4), rnd(25, 2, 1, 5, 2)}, f: func(x []*Tensor) *Tensor {
			pad := []bool{true, false, false, false, false, false, false, false, true, false}
			return ScaledDotProductAttention(x[0], x[1], x[2], AttnOpts{Causal: true, KeyPadding: pad, Scale: 0.7})
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { gradCheck(t, c) })
	}
}

// An op chain: the gradient of a small two-layer network end to end.
func TestGradComposite(t *testing.T) {
	gradCheck(t, gcase{name: "mlp", in: []*Tensor{rnd(1, 4, 5), rnd(2, 5, 6), rnd(3, 6), rnd(4, 6, 3)}, f: func(x []*Tensor) *Tensor {
		h := x[0].MatMul(x[1]).Add(x[2]).Gelu().LayerNorm(nil, nil, 1e-5)
		return h.MatMul(x[3]).LogSoftmax()
	}})
}
