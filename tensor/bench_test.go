package tensor

import "testing"

// Model-like shapes: batch 16, sequence 128, width 128, 4 heads of 32.
const bB, bT, bC, bH = 16, 128, 128, 4

func benchFwdBwd(b *testing.B, flops float64, in []*Tensor, f func() *Tensor) {
	for _, x := range in {
		x.RequiresGrad()
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		out := f()
		out.Sum(nil, false).Backward()
		for _, x := range in {
			x.ZeroGrad()
		}
	}
	if flops > 0 {
		b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOPS")
	}
}

func benchFwd(b *testing.B, flops float64, f func() *Tensor) {
	b.ReportAllocs()
	b.ResetTimer()
	NoGrad(func() {
		for i := 0; i < b.N; i++ {
			f()
		}
	})
	if flops > 0 {
		b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOPS")
	}
}

// MLP up-projection: [B*T, C] @ [C, 4C].
func BenchmarkMatMul(b *testing.B) {
	x := Randn(NewRNG(1), 1, bB*bT, bC)
	w := Randn(NewRNG(2), 1, bC, 4*bC)
	fl := 2.0 * bB * bT * bC * 4 * bC
	b.Run("fwd", func(b *testing.B) { benchFwd(b, fl, func() *Tensor { return x.MatMul(w) }) })
	b.Run("fwdbwd", func(b *testing.B) { benchFwdBwd(b, 3*fl, []*Tensor{x, w}, func() *Tensor { return x.MatMul(w) }) })
}

// Attention probabilities: softmax over [B, H, T, T].
func BenchmarkSoftmax(b *testing.B) {
	x := Randn(NewRNG(3), 1, bB, bH, bT, bT)
	b.Run("fwd", func(b *testing.B) { benchFwd(b, 0, x.Softmax) })
	b.Run("fwdbwd", func(b *testing.B) { benchFwdBwd(b, 0, []*Tensor{x}, x.Softmax) })
}

func BenchmarkLayerNorm(b *testing.B) {
	x := Randn(NewRNG(4), 1, bB, bT, bC)
	w, bias := Ones(bC), Zeros(bC)
	f := func() *Tensor { return x.LayerNorm(w, bias, 1e-5) }
	b.Run("fwd", func(b *testing.B) { benchFwd(b, 0, f) })
	b.Run("fwdbwd", func(b *testing.B) { benchFwdBwd(b, 0, []*Tensor{x, w, bias}, f) })
}

func BenchmarkAttention(b *testing.B) {
	q := Randn(NewRNG(5), 1, bB, bH, bT, bC/bH)
	k := Randn(NewRNG(6), 1, bB, bH, bT, bC/bH)
	v := Randn(NewRNG(7), 1, bB, bH, bT, bC/bH)
	f := func() *Tensor { return ScaledDotProductAttention(q, k, v, AttnOpts{Causal: true}) }
	fl := 4.0 * bB * bH * bT * bT * (bC / bH)
	b.Run("fwd", func(b *testing.B) { benchFwd(b, fl, f) })
	b.Run("fwdbwd", func(b *testing.B) { benchFwdBwd(b, 3*fl, []*Tensor{q, k, v}, f) })
}
