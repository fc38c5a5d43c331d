//go:build cuda

package cuda

// Benchmarks for the GPU run (issue 4, item 5). Each reports its rate
// (TFLOP/s for GEMM, GB/s of compulsory traffic for the memory-bound
// kernels) next to ns/op; the time includes a final Sync, so queued work is
// counted. Compare with torch on the same GPU in the same script
// (gpurun.sh).

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

func benchBuf(b *testing.B, d *Device, n int, rng *rand.Rand) Buffer {
	b.Helper()
	buf, err := d.Alloc(n)
	check(b, err)
	if n > 1<<24 {
		// Timing does not depend on the values; generating hundreds of
		// millions of normals on the host would dominate the run.
		check(b, d.Fill(buf, 0.01))
		return buf
	}
	check(b, d.Upload(buf, randn(rng, n, 1)))
	return buf
}

// timed runs f b.N times after one warm-up call and returns the seconds the
// loop took including the final Sync.
func timed(b *testing.B, d *Device, f func() error) float64 {
	b.Helper()
	check(b, f())
	check(b, d.Sync())
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		if err := f(); err != nil {
			b.Fatal(err)
		}
	}
	check(b, d.Sync())
	b.StopTimer()
	return time.Since(start).Seconds()
}

func BenchmarkSgemm(b *testing.B) {
	d := dev(b)
	rng := rand.New(rand.NewPCG(1, 1))
	for _, s := range []struct {
		m, n, k        int
		transA, transB bool
	}{
		{1024, 1024, 1024, false, false},
		{2048, 2048, 2048, false, false},
		{4096, 4096, 4096, false, false},
		{4096, 4096, 4096, false, true}, // x @ W^T, the linear layer
		{4096, 4096, 4096, true, false}, // x^T @ dy, its weight gradient
	} {
		b.Run(fmt.Sprintf("%dx%dx%d_tA=%v_tB=%v", s.m, s.n, s.k, s.transA, s.transB), func(b *testing.B) {
			A, B, C := benchBuf(b, d, s.m*s.k, rng), benchBuf(b, d, s.k*s.n, rng), benchBuf(b, d, s.m*s.n, rng)
			defer func() { d.Free(A); d.Free(B); d.Free(C) }()
			lda, ldb := s.k, s.n
			if s.transA {
				lda = s.m
			}
			if s.transB {
				ldb = s.k
			}
			sec := timed(b, d, func() error {
				return d.Sgemm(s.transA, s.transB, s.m, s.n, s.k, 1, A, lda, B, ldb, 0, C, s.n)
			})
			b.ReportMetric(2*float64(s.m)*float64(s.n)*float64(s.k)*float64(b.N)/sec/1e12, "TFLOP/s")
		})
	}
}

// BenchmarkGemmTensorCores: TF32 and BF16 at 4096^3 (the BF16 target is
// half of cuBLAS BF16).
func BenchmarkGemmTensorCores(b *testing.B) {
	d := dev(b)
	rng := rand.New(rand.NewPCG(6, 6))
	const n = 4096
	A, B, C := benchBuf(b, d, n*n, rng), benchBuf(b, d, n*n, rng), benchBuf(b, d, n*n, rng)
	A16, B16 := benchBuf(b, d, n*n/2, rng), benchBuf(b, d, n*n/2, rng)
	check(b, d.ToBF16(A16, A))
	check(b, d.ToBF16(B16, B))
	defer func() {
		for _, x := range []Buffer{A, B, C, A16, B16} {
			d.Free(x)
		}
	}()
	flop := 2 * float64(n) * n * n
	b.Run("TF32_4096", func(b *testing.B) {
		sec := timed(b, d, func() error { return d.GemmTF32(false, false, n, n, n, 1, A, n, B, n, 0, C, n) })
		b.ReportMetric(flop*float64(b.N)/sec/1e12, "TFLOP/s")
	})
	b.Run("BF16_4096", func(b *testing.B) {
		sec := timed(b, d, func() error { return d.GemmBF16(false, false, n, n, n, 1, A16, n, B16, n, 0, C, n) })
		b.ReportMetric(flop*float64(b.N)/sec/1e12, "TFLOP/s")
	})
	b.Run("BF16_4096_tB", func(b *testing.B) {
		sec := timed(b, d, func() error { return d.GemmBF16(false, true, n, n, n, 1, A16, n, B16, n, 0, C, n) })
		b.ReportMetric(flop*float64(b.N)/sec/1e12, "TFLOP/s")
	})
}

// BenchmarkSgemmBatchedAttention: the two GEMMs of unfused attention at
// batch 16, heads 8, seq 1024, head dim 64 (Q K^T and P V).
func BenchmarkSgemmBatchedAttention(b *testing.B) {
	d := dev(b)
	rng := rand.New(rand.NewPCG(2, 2))
	const batch, T, D = 16 * 8, 1024, 64
	Q, K, S := benchBuf(b, d, batch*T*D, rng), benchBuf(b, d, batch*T*D, rng), benchBuf(b, d, batch*T*T, rng)
	defer func() { d.Free(Q); d.Free(K); d.Free(S) }()
	b.Run("QK^T", func(b *testing.B) {
		sec := timed(b, d, func() error {
			return d.SgemmStridedBatched(false, true, T, T, D, 0.125, Q, D, T*D, K, D, T*D, 0, S, T, T*T, batch)
		})
		b.ReportMetric(2*float64(batch)*T*T*D*float64(b.N)/sec/1e12, "TFLOP/s")
	})
	b.Run("PV", func(b *testing.B) {
		sec := timed(b, d, func() error {
			return d.SgemmStridedBatched(false, false, T, D, T, 1, S, T, T*T, K, D, T*D, 0, Q, D, T*D, batch)
		})
		b.ReportMetric(2*float64(batch)*T*T*D*float64(b.N)/sec/1e12, "TFLOP/s")
	})
}

// BenchmarkAttention: the shape (batch 16, heads 8, seq 1024, head
// dim 64), causal, forward and forward+backward (compare with torch's
// scaled_dot_product_attention in torch.log).
func BenchmarkAttention(b *testing.B) {
	d := dev(b)
	rng := rand.New(rand.NewPCG(7, 7))
	s := AttnShape{G: 16 * 8, Rep: 1, T: 1024, S: 1024, D: 64, Dv: 64}
	n := s.G * s.T * s.D
	bufs := make([]Buffer, 9)
	for i := range bufs {
		bufs[i] = benchBuf(b, d, n, rng)
	}
	lse := benchBuf(b, d, s.G*s.T, rng)
	defer func() {
		for _, x := range append(bufs, lse) {
			d.Free(x)
		}
	}()
	q, k, v, out, dout, dq, dk, dv := bufs[0], bufs[1], bufs[2], bufs[3], bufs[4], bufs[5], bufs[6], bufs[7]
	o := AttnOpts{Causal: true}
	flopFwd := 4 * float64(s.G) * float64(s.T) * float64(s.S) * float64(s.D) / 2 // causal: half the scores
	b.Run("Forward", func(b *testing.B) {
		sec := timed(b, d, func() error { return d.Attention(out, lse, q, k, v, s, o) })
		b.ReportMetric(sec/float64(b.N)*1e3, "ms/call")
		b.ReportMetric(flopFwd*float64(b.N)/sec/1e12, "TFLOP/s")
	})
	b.Run("ForwardBackward", func(b *testing.B) {
		sec := timed(b, d, func() error {
			if err := d.Attention(out, lse, q, k, v, s, o); err != nil {
				return err
			}
			return d.AttentionBackward(dq, dk, dv, q, k, v, out, lse, dout, s, o)
		})
		b.ReportMetric(sec/float64(b.N)*1e3, "ms/call")
	})
}

// rowBench times a one-pass-a-row kernel and reports GB/s for bytes of
// compulsory traffic a call.
func rowBench(b *testing.B, d *Device, bytes float64, f func() error) {
	sec := timed(b, d, f)
	b.ReportMetric(bytes*float64(b.N)/sec/1e9, "GB/s")
}

func BenchmarkRowKernels(b *testing.B) {
	d := dev(b)
	rng := rand.New(rand.NewPCG(3, 3))
	const rows, n = 16 * 8 * 1024, 1024 // attention scores
	x, y, dy := benchBuf(b, d, rows*n, rng), benchBuf(b, d, rows*n, rng), benchBuf(b, d, rows*n, rng)
	st1, st2 := benchBuf(b, d, rows, rng), benchBuf(b, d, rows, rng)
	w, bias, dw, db := benchBuf(b, d, n, rng), benchBuf(b, d, n, rng), benchBuf(b, d, n, rng), benchBuf(b, d, n, rng)
	defer func() {
		for _, buf := range []Buffer{x, y, dy, st1, st2, w, bias, dw, db} {
			d.Free(buf)
		}
	}()
	mb := float64(rows*n) * 4
	b.Run("Softmax", func(b *testing.B) { rowBench(b, d, 2*mb, func() error { return d.Softmax(y, x, rows, n) }) })
	b.Run("SoftmaxBackward", func(b *testing.B) {
		rowBench(b, d, 3*mb, func() error { return d.SoftmaxBackward(x, y, dy, rows, n) })
	})
	b.Run("LayerNorm", func(b *testing.B) {
		rowBench(b, d, 2*mb, func() error { return d.LayerNorm(y, st1, st2, x, w, bias, rows, n, 1e-5) })
	})
	b.Run("LayerNormBackward", func(b *testing.B) {
		rowBench(b, d, 3*mb, func() error { return d.LayerNormBackward(y, dw, db, dy, x, w, st1, st2, rows, n) })
	})
	b.Run("RMSNorm", func(b *testing.B) {
		rowBench(b, d, 2*mb, func() error { return d.RMSNorm(y, st1, x, w, rows, n, 1e-6) })
	})
	b.Run("Gelu", func(b *testing.B) { rowBench(b, d, 2*mb, func() error { return d.Unary(OpGelu, y, x) }) })
	b.Run("Add", func(b *testing.B) { rowBench(b, d, 3*mb, func() error { return d.Binary(OpAdd, y, x, dy) }) })
	b.Run("SumRows", func(b *testing.B) { rowBench(b, d, mb, func() error { return d.Sum(st1, x, rows, n, 1) }) })
}

func BenchmarkCrossEntropy(b *testing.B) {
	d := dev(b)
	rng := rand.New(rand.NewPCG(4, 4))
	const rows, vocab = 8192, 32000
	logits, dl := benchBuf(b, d, rows*vocab, rng), benchBuf(b, d, rows*vocab, rng)
	loss, lse := benchBuf(b, d, rows, rng), benchBuf(b, d, rows, rng)
	defer func() { d.Free(logits); d.Free(dl); d.Free(loss); d.Free(lse) }()
	targets := make([]int, rows)
	for i := range targets {
		targets[i] = rng.IntN(vocab)
	}
	mb := float64(rows*vocab) * 4
	b.Run("Forward", func(b *testing.B) {
		rowBench(b, d, mb, func() error { return d.CrossEntropy(loss, lse, logits, targets, rows, vocab, -100) })
	})
	b.Run("Backward", func(b *testing.B) {
		rowBench(b, d, 2*mb, func() error {
			return d.CrossEntropyBackward(dl, logits, lse, targets, rows, vocab, -100, 1.0/rows, Buffer{})
		})
	})
}

func BenchmarkAdamW(b *testing.B) {
	d := dev(b)
	rng := rand.New(rand.NewPCG(5, 5))
	const n = 1 << 24
	p, g, m, v := benchBuf(b, d, n, rng), benchBuf(b, d, n, rng), benchBuf(b, d, n, rng), benchBuf(b, d, n, rng)
	check(b, d.Fill(v, 0.01))
	defer func() { d.Free(p); d.Free(g); d.Free(m); d.Free(v) }()
	step := 0
	rowBench(b, d, 7*4*n, func() error { step++; return d.AdamW(p, g, m, v, 1e-3, 0.9, 0.999, 1e-8, 0.01, step) })
}

// BenchmarkLaunch is the host cost of one small kernel: the work queue
// round trip and cuLaunchKernel.
func BenchmarkLaunch(b *testing.B) {
	d := dev(b)
	x, err := d.Alloc(32)
	check(b, err)
	defer d.Free(x)
	timed(b, d, func() error { return d.Unary(OpNeg, x, x) })
}
