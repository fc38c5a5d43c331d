// Package bench holds kiln's benchmark runners; KernelTable times the SGEMM
// kernels against gonum and the machine's FMA peak (`kiln bench kernels`).
package bench

import (
	"fmt"
	"io"
	"math/rand"
	"runtime"
	"strings"
	"sync"
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
	Peak                             float64 // 1-core FMA peak timed interleaved with this shape
}

// Result is a whole table.
type Result struct {
	CPU                  string
	Variant              string
	Threads              int
	PeakAVX512, PeakAVX2 float64
	PeakAll              float64 // aggregate FMA peak of Threads goroutines at once
	Rows                 []Row
}

// calibrate returns how many calls of f take about minTime (after a warm-up).
func calibrate(minTime time.Duration, f func()) int {
	f()
	iters := 1
	for {
		t := time.Now()
		for range iters {
			f()
		}
		if el := time.Since(t); el >= minTime/4 {
			return max(1, int(float64(iters)*float64(minTime)/float64(el)))
		}
		iters *= 2
	}
}

// candidate is one timed function; set runs before its timed loop and
// returns the undo to run after it (thread counts, GOMAXPROCS).
type candidate struct {
	f   func()
	set func() (undo func())
}

// interleaved times the candidates A B C A B C ... reps times (so slow
// drifts of the machine hit all alike) and returns each one's best GFLOPS.
func interleaved(flops float64, reps int, minTime time.Duration, cs []candidate) []float64 {
	iters := make([]int, len(cs))
	for i, c := range cs {
		undo := c.set()
		iters[i] = calibrate(minTime, c.f)
		undo()
	}
	best := make([]float64, len(cs))
	for range reps {
		for i, c := range cs {
			undo := c.set()
			t := time.Now()
			for range iters[i] {
				c.f()
			}
			el := time.Since(t)
			undo()
			if g := flops * float64(iters[i]) / el.Seconds() / 1e9; g > best[i] {
				best[i] = g
			}
		}
	}
	return best
}

// fmaPeakAll measures the aggregate FMA peak of n goroutines at once.
func fmaPeakAll(v string, n int) float64 {
	res := make([]float64, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			runtime.LockOSThread()
			res[i] = kernels.FMAPeak(v, 100*time.Millisecond, 3)
		}()
	}
	wg.Wait()
	sum := 0.0
	for _, r := range res {
		sum += r
	}
	return sum
}

// KernelTable measures the FMA peak and every shape. The thread counts are
// 1 and kernels.Threads(); gonum runs under GOMAXPROCS 1 and the default.
// Within a shape the four candidates are timed interleaved, best of Reps.
func KernelTable(o Options) Result {
	if o.Reps < 1 {
		o.Reps = 3
	}
	if o.MinTime <= 0 {
		o.MinTime = 200 * time.Millisecond
	}
	all := kernels.Threads()
	best := kernels.Variants()[len(kernels.Variants())-1]
	res := Result{CPU: cpuid.CPU.BrandName, Variant: kernels.Variant(), Threads: all,
		PeakAVX512: kernels.FMAPeak(kernels.VariantAVX512, 100*time.Millisecond, 5),
		PeakAVX2:   kernels.FMAPeak(kernels.VariantAVX2, 100*time.Millisecond, 5)}
	if all > 1 {
		res.PeakAll = fmaPeakAll(best, all)
	}
	r := rand.New(rand.NewSource(1))
	for _, s := range o.Shapes {
		a, b, c := randn(r, s.M*s.K), randn(r, s.K*s.N), make([]float32, s.M*s.N)
		flops := 2 * float64(s.M) * float64(s.N) * float64(s.K)
		sg := func() { kernels.Sgemm(false, false, s.M, s.N, s.K, 1, a, s.K, b, s.N, 0, c, s.N) }
		nop := func() func() { return func() {} }
		fs := []candidate{
			{sg, func() func() { old := kernels.SetThreads(1); return func() { kernels.SetThreads(old) } }},
			{sg, nop},
		}
		if o.Gonum {
			A := blas32.General{Rows: s.M, Cols: s.K, Stride: s.K, Data: a}
			B := blas32.General{Rows: s.K, Cols: s.N, Stride: s.N, Data: b}
			C := blas32.General{Rows: s.M, Cols: s.N, Stride: s.N, Data: c}
			g := func() { blas32.Gemm(blas.NoTrans, blas.NoTrans, 1, A, B, 0, C) }
			fs = append(fs, candidate{g, func() func() {
				procs := runtime.GOMAXPROCS(1)
				return func() { runtime.GOMAXPROCS(procs) }
			}}, candidate{g, nop})
		}
		// The FMA peak is timed in the same interleaved cycle, so the
		// percentage compares two figures from the same window.
		perIter := map[string]float64{kernels.VariantAVX512: 384, kernels.VariantAVX2: 192}[best]
		if perIter > 0 {
			fs = append(fs, candidate{func() { kernels.FMALoop(best, 1<<18) }, nop})
		}
		got := interleaved(flops, o.Reps, o.MinTime, fs)
		row := Row{Shape: s, Kiln1: got[0], KilnAll: got[1]}
		if perIter > 0 {
			row.Peak = got[len(got)-1] * perIter * (1 << 18) / flops
		}
		if o.Gonum {
			row.Gonum1, row.GonumAll = got[2], got[3]
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
	fmt.Fprintf(w, "FMA peak, 1 core, measured: AVX-512 %.1f GFLOPS, AVX2 %.1f GFLOPS\n", res.PeakAVX512, res.PeakAVX2)
	if res.PeakAll > 0 {
		fmt.Fprintf(w, "FMA peak, %d goroutines at once: %.1f GFLOPS (%.2fx one core; well below %dx means other load shared the cores)\n", res.Threads, res.PeakAll, res.PeakAll/peakOf(res), res.Threads)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "| shape (m x n x k) | kiln 1T | kiln %dT | gonum 1T | gonum %dT | FMA peak 1T (same window) | kiln 1T / peak | kiln %dT / 1T | kiln 1T / gonum 1T |\n", res.Threads, res.Threads, res.Threads)
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, r := range res.Rows {
		s := r.Shape
		ratio := "-"
		if r.Gonum1 > 0 {
			ratio = fmt.Sprintf("%.1fx", r.Kiln1/r.Gonum1)
		}
		pk := r.Peak
		if pk == 0 {
			pk = peak
		}
		pct := "-"
		if pk > 0 {
			pct = fmt.Sprintf("%.0f%%", 100*r.Kiln1/pk)
		}
		fmt.Fprintf(w, "| %s (%dx%dx%d) | %.1f | %.1f | %s | %s | %s | %s | %.2fx | %s |\n", s.Name, s.M, s.N, s.K,
			r.Kiln1, r.KilnAll, num(r.Gonum1), num(r.GonumAll), num(pk), pct, r.KilnAll/r.Kiln1, ratio)
	}
}

func peakOf(res Result) float64 { return max(res.PeakAVX512, res.PeakAVX2) }

func num(g float64) string {
	if g == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f", g)
}
