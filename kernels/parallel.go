package kernels

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
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

// The worker pool. Parallel hands chunks 1..t-1 to persistent workers through
// a buffered queue and runs chunk 0 itself; while it waits it drains the
// queue, so a Parallel nested inside another never deadlocks (whoever waits
// also works). Workers start lazily, as many as the largest thread count
// asked for minus one, and live for the life of the process.
type task struct {
	fn     func(lo, hi int)
	lo, hi int
	wg     *sync.WaitGroup
}

var pool struct {
	mu      sync.Mutex
	workers int
	queue   chan task
}

func init() { pool.queue = make(chan task, 256) }

func worker() {
	for {
		t, ok := nextTask()
		if !ok {
			return
		}
		t.fn(t.lo, t.hi)
		t.wg.Done()
	}
}

// workerSpin is how long an idle worker polls the queue before it parks.
// Waking a parked worker costs tens of microseconds on some machines (a
// futex round trip through the OS, slower still in a VM), which is the
// whole duration of a small GEMM; a training step hands off work every few
// tens of microseconds, so a short poll keeps the workers awake through it.
const workerSpin = 50 * time.Microsecond

func nextTask() (task, bool) {
	select {
	case t, ok := <-pool.queue:
		return t, ok
	default:
	}
	start := time.Now()
	for i := 0; ; i++ {
		select {
		case t, ok := <-pool.queue:
			return t, ok
		default:
		}
		if i&63 == 63 {
			if time.Since(start) > workerSpin {
				break
			}
			runtime.Gosched()
		}
	}
	t, ok := <-pool.queue
	return t, ok
}

func ensureWorkers(n int) {
	pool.mu.Lock()
	for pool.workers < n {
		pool.workers++
		go worker()
	}
	pool.mu.Unlock()
}

var wgPool = sync.Pool{New: func() any { return new(sync.WaitGroup) }}

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
	parallelChunks(t, func(i int) (int, int) { return i * n / t, (i + 1) * n / t }, fn)
}

// parallelChunks runs fn on t chunks whose bounds bounds(i) gives, chunk 0 on
// the calling goroutine.
func parallelChunks(t int, bounds func(i int) (int, int), fn func(lo, hi int)) {
	ensureWorkers(t - 1)
	wg := wgPool.Get().(*sync.WaitGroup)
	wg.Add(t - 1)
	for i := 1; i < t; i++ {
		lo, hi := bounds(i)
		select {
		case pool.queue <- task{fn, lo, hi, wg}:
		default: // queue full: run it here
			fn(lo, hi)
			wg.Done()
		}
	}
	lo, hi := bounds(0)
	fn(lo, hi)
	for {
		select {
		case t := <-pool.queue:
			t.fn(t.lo, t.hi)
			t.wg.Done()
			continue
		default:
		}
		break
	}
	wg.Wait()
	wgPool.Put(wg)
}
