// Package bench holds kiln's benchmark runners; KernelTable times the SGEMM
// kernels against gonum and the machine's FMA peak (`kiln bench kernels`).
package bench

import (
	"fmt"
	"io"
	"math/rand"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/kiln-ml/kiln/kernels"
	"github.com/klauspost/cpuid/v2"
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"
)

// Shape is one GEMM: C[m x n] = A[m x k] * B[k x n], row-major, no transposes.
type Shape struct {
	Name    string
	M, N, K int
}

// SquareShapes are n x n x n for n = 64..2048.
func SquareShapes() []Shape {
	var s []Shape
	for n := 64; n <= 2048; n *= 2 {
		s = append(s, Shape{fmt.Sprintf("square %d", n), n, n, n})
	}
	return s
}

// ModelShapes are the MLP GEMMs of the model: tokens (batch*seq) x width x
// 4*width (up projection, m x 4w x w) and its down projection (m x w x 4w),
// for tokens in 256..4096 and width in 128..512.
func ModelShapes() []Shape {
	var s []Shape
	for _, tw := range [][2]int{{256, 128}, {1024, 256}, {4096, 256}, {1024, 512}, {4096, 512}} {
		t, w := tw[0], tw[1]
		s = append(s, Shape{fmt.Sprintf("up t=%d w=%d", t, w), t, 4 * w, w})
		s = append(s, Shape{fmt.Sprintf("down t=%d w=%d", t, w), t, w, 4 * w})
	}
	return s
}

// Options control KernelTable.
type Options struct {
	Shapes  []Shape
	Reps    int           // timed repetitions per cell; the best is reported
	MinTime time.Duration // each repetition runs at least this long
	Gonum   bool          // time gonum's native blas32.Gemm too
}

// Row is one shape's result in GFLOPS.
type Row struct {
	Shape                            Shape
	Kiln1, KilnAll, Gonum1, GonumAll float64
}

// Result is a whole table.
type Result struct {
	CPU                  string
	Variant              string
	Threads              int
	PeakAVX512, PeakAVX2 float64
	Rows                 []Row
}

// timeIt returns the best GFLOPS of reps runs of f, each at least minTime.
func timeIt(flops float64, reps int, minTime time.Duration, f func()) float64 {
	f() // warm up: page in, pack buffers
	iters := 1
	for {
		t := time.Now()
		for range iters {
			f()
		}
		if el := time.Since(t); el >= minTime/4 {
			iters = max(1, int(float64(iters)*float64(minTime)/float64(el)))
			break
		}
		iters *= 2
	}
	best := 0.0
	for range reps {
		t := time.Now()
		for range iters {
			f()
		}
		if g := flops * float64(iters) / time.Since(t).Seconds() / 1e9; g > best {
			best = g
		}
	}
	return best
}

// KernelTable measures the FMA peak and every shape. The thread counts are
// 1 and kernels.Threads(); gonum runs under GOMAXPROCS 1 and the default.
func KernelTable(o Options) Result {
	if o.Reps < 1 {
		o.Reps = 3
	}
	if o.MinTime <= 0 {
		o.MinTime = 200 * time.Millisecond
	}
	all := kernels.Threads()
	res := Result{CPU: cpuid.CPU.BrandName, Variant: kernels.Variant(), Threads: all,
		PeakAVX512: kernels.FMAPeak(kernels.VariantAVX512, 100*time.Millisecond, 5),
		PeakAVX2:   kernels.FMAPeak(kernels.VariantAVX2, 100*time.Millisecond, 5)}
	r := rand.New(rand.NewSource(1))
	for _, s := range o.Shapes {
		a, b, c := randn(r, s.M*s.K), randn(r, s.K*s.N), make([]float32, s.M*s.N)
		flops := 2 * float64(s.M) * float64(s.N) * float64(s.K)
		kiln := func() { kernels.Sgemm(false, false, s.M, s.N, s.K, 1, a, s.K, b, s.N, 0, c, s.N) }
		row := Row{Shape: s}
		old := kernels.SetThreads(1)
		row.Kiln1 = timeIt(flops, o.Reps, o.MinTime, kiln)
		kernels.SetThreads(all)
		row.KilnAll = timeIt(flops, o.Reps, o.MinTime, kiln)
		kernels.SetThreads(old)
		if o.Gonum {
			A := blas32.General{Rows: s.M, Cols: s.K, Stride: s.K, Data: a}
			B := blas32.General{Rows: s.K, Cols: s.N, Stride: s.N, Data: b}
			C := blas32.General{Rows: s.M, Cols: s.N, Stride: s.N, Data: c}
			g := func() { blas32.Gemm(blas.NoTrans, blas.NoTrans, 1, A, B, 0, C) }
			procs := runtime.GOMAXPROCS(1)
			row.Gonum1 = timeIt(flops, o.Reps, o.MinTime, g)
			runtime.GOMAXPROCS(procs)
			row.GonumAll = timeIt(flops, o.Reps, o.MinTime, g)
		}
		res.Rows = append(res.Rows, row)
	}
	return res
}

func randn(r *rand.Rand, n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(r.NormFloat64())
	}
	return x
}

// Markdown writes the result as a markdown table.
func (res Result) Markdown(w io.Writer) {
	peak := max(res.PeakAVX512, res.PeakAVX2)
	fmt.Fprintf(w, "CPU: %s; kernels variant %s; all threads = %d\n", strings.TrimSpace(res.CPU), res.Variant, res.Threads)
	fmt.Fprintf(w, "FMA peak, 1 core, measured: AVX-512 %.1f GFLOPS, AVX2 %.1f GFLOPS\n\n", res.PeakAVX512, res.PeakAVX2)
	fmt.Fprintf(w, "| shape (m x n x k) | kiln 1T | kiln %dT | gonum 1T | gonum %dT | kiln 1T / FMA peak | kiln 1T / gonum 1T |\n", res.Threads, res.Threads)
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|")
	rows := append([]Row(nil), res.Rows...)
	sort.SliceStable(rows, func(i, j int) bool { return false })
	for _, r := range rows {
		s := r.Shape
		ratio := "-"
		if r.Gonum1 > 0 {
			ratio = fmt.Sprintf("%.1fx", r.Kiln1/r.Gonum1)
		}
		fmt.Fprintf(w, "| %s (%dx%dx%d) | %.1f | %.1f | %s | %s | %.0f%% | %s |\n", s.Name, s.M, s.N, s.K,
			r.Kiln1, r.KilnAll, num(r.Gonum1), num(r.GonumAll), 100*r.Kiln1/peak, ratio)
	}
}

func num(g float64) string {
	if g == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f", g)
}
