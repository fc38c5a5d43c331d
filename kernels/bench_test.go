package kernels

import (
	"fmt"
	"math/rand"
	"runtime"
	"testing"
	"time"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"
)

// benchThreads is the kernel thread count for benchmarks: GOMAXPROCS, so
// that -cpu 1,2 measures 1 and 2 threads. The benchmarks that read it loop
// over b.N rather than b.Loop: a b.Loop benchmark body runs once, in the
// N=1 probe, before testing sets GOMAXPROCS to the -cpu value, so it would
// read the default and time every -cpu entry with all threads.
func benchThreads() int { return runtime.GOMAXPROCS(0) }

// Benchmarks report GFLOPS (gemm) or GB/s-free ns/op (vector kernels); run
// with -cpu 1,2 for thread scaling. gonum's native SGEMM is the peer.

var benchShapes = [][3]int{{64, 64, 64}, {128, 128, 128}, {256, 256, 256}, {512, 512, 512}, {1024, 1024, 1024}, {2048, 2048, 2048},
	{1024, 512, 2048}, {1024, 2048, 512}}

func BenchmarkSgemm(b *testing.B) {
	for _, s := range benchShapes {
		m, n, k := s[0], s[1], s[2]
		r := rand.New(rand.NewSource(1))
		a, bb, c := randSlice(r, m*k), randSlice(r, k*n), make([]float32, m*n)
		name := fmt.Sprintf("%dx%dx%d", m, n, k)
		for _, v := range Variants() {
			b.Run(v+"/"+name, func(b *testing.B) {
				defer setVariant(Variant())
				defer SetThreads(SetThreads(benchThreads()))
				setVariant(v)
				if v == VariantGeneric && m*n*k > 1<<27 {
					b.Skip("skipped when the pure-Go kernel would take over 2^27 multiply-adds a call: too slow to time")
				}
				for range b.N {
					Sgemm(false, false, m, n, k, 1, a, k, bb, n, 0, c, n)
				}
				b.ReportMetric(2*float64(m*n*k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOPS")
			})
		}
		b.Run("gonum/"+name, func(b *testing.B) {
			if m*n*k > 1<<27 {
				b.Skip("skipped when gonum would take over 2^27 multiply-adds a call: too slow to time")
			}
			A := blas32.General{Rows: m, Cols: k, Stride: k, Data: a}
			B := blas32.General{Rows: k, Cols: n, Stride: n, Data: bb}
			C := blas32.General{Rows: m, Cols: n, Stride: n, Data: c}
			for range b.N { // gonum's Gemm splits over GOMAXPROCS goroutines too
				blas32.Gemm(blas.NoTrans, blas.NoTrans, 1, A, B, 0, C)
			}
			b.ReportMetric(2*float64(m*n*k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOPS")
		})
	}
}

// BenchmarkSgemmModelShapes times the demo VLM's training GEMMs (batch 16 x
// 128 tokens, width 96, hidden 256): the weight gradients (op(A) = x^T,
// few rows, long K: the panelwise path) and the forward products, with the
// SIMD variant in use. Run with -cpu 1,2 for the second thread's gain.
func BenchmarkSgemmModelShapes(b *testing.B) {
	for _, s := range []struct {
		transA, transB bool
		m, n, k        int
	}{{true, false, 96, 256, 2048}, {true, false, 96, 96, 1024}, {false, true, 2048, 256, 96}, {false, false, 2048, 96, 256}} {
		r := rand.New(rand.NewSource(1))
		a, bb, c := randSlice(r, s.m*s.k), randSlice(r, s.k*s.n), make([]float32, s.m*s.n)
		lda, ldb := s.k, s.n
		if s.transA {
			lda = s.m
		}
		if s.transB {
			ldb = s.k
		}
		b.Run(fmt.Sprintf("tA=%v,tB=%v/%dx%dx%d", s.transA, s.transB, s.m, s.n, s.k), func(b *testing.B) {
			defer SetThreads(SetThreads(benchThreads()))
			for range b.N {
				Sgemm(s.transA, s.transB, s.m, s.n, s.k, 1, a, lda, bb, ldb, 0, c, s.n)
			}
			b.ReportMetric(2*float64(s.m*s.n*s.k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOPS")
		})
	}
}

func TestFMAPeak(t *testing.T) {
	if testing.Short() {
		t.Skip("timing test: skipped when testing.Short()")
	}
	for _, v := range []string{VariantAVX512, VariantAVX2} {
		t.Logf("%s FMA peak: %.1f GFLOPS", v, FMAPeak(v, 100*time.Millisecond, 5))
	}
}

// BenchmarkVec times every vector kernel on rows of 128, 512 and 4096 floats,
// the reference ("ref") against each SIMD variant.
func BenchmarkVec(b *testing.B) {
	for _, vc := range vecCases {
		for _, n := range []int{128, 512, 4096} {
			r := rand.New(rand.NewSource(1))
			in := make([][]float32, vc.nin)
			for i := range in {
				in[i] = randSlice(r, n)
				for j := range in[i] {
					in[i][j] *= float32(vc.scale)
				}
			}
			out := make([][]float32, vc.nout)
			for i := range out {
				out[i] = randSlice(r, n)
			}
			if vc.name == "AdamW" {
				for i := range out[2] {
					out[2][i] *= out[2][i]
				}
			}
			if vc.name == "SoftmaxRowBackward" || vc.name == "LogSoftmaxRowBackward" {
				LogSoftmaxRowRef(in[0], in[0])
				if vc.name == "SoftmaxRowBackward" {
					ExpRef(in[0], in[0])
				}
			}
			for _, v := range append([]string{"ref"}, Variants()[1:]...) {
				b.Run(fmt.Sprintf("%s/%d/%s", vc.name, n, v), func(b *testing.B) {
					if v != "ref" {
						defer setVariant(Variant())
						setVariant(v)
					}
					o := make([][]float32, len(out))
					for i := range o {
						o[i] = append([]float32(nil), out[i]...)
					}
					for b.Loop() {
						vc.run(v == "ref", in, o)
					}
				})
			}
		}
	}
}
