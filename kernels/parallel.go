package kernels

import (
	"runtime"
	"sync"
	"sync/atomic"
)

var threads atomic.Int32

func init() { threads.Store(int32(runtime.GOMAXPROCS(0))) }

// Threads reports how many goroutines large kernels split their work across.
func Threads() int { return int(threads.Load()) }

// SetThreads sets the worker count (n < 1 means GOMAXPROCS) and returns the
// previous value. Results are deterministic for a given thread count.
func SetThreads(n int) int {
	if n < 1 {
		n = runtime.GOMAXPROCS(0)
	}
	return int(threads.Swap(int32(n)))
}

// Parallel runs fn over [0,n) split into at most Threads() contiguous chunks
// of at least grain items each. Chunk boundaries depend only on n, grain and
// the thread count. fn(lo, hi) must only write state owned by [lo,hi).
func Parallel(n, grain int, fn func(lo, hi int)) {
	if n <= 0 {
		return
	}
	if grain < 1 {
		grain = 1
	}
	t := Threads()
	if max := (n + grain - 1) / grain; t > max {
		t = max
	}
	if t <= 1 {
		fn(0, n)
		return
	}
	var wg sync.WaitGroup
	wg.Add(t - 1)
	for i := 1; i < t; i++ {
		lo, hi := i*n/t, (i+1)*n/t
		go func() {
			defer wg.Done()
			fn(lo, hi)
		}()
	}
	fn(0, n/t)
	wg.Wait()
}
