package tensor

import (
	"math/bits"
	"os"
	"runtime/debug"
	"sync"
	"sync/atomic"
)

// Arena recycles the host buffers of the tensors one training step makes.
//
// Every step of a training loop builds the same graph again: the same ops,
// mostly the same sizes. Left to the garbage collector, each step's
// intermediates are fresh allocations that the runtime must zero, collect
// and hand back to the OS, and on 2 cores that took about a tenth of a step
// (page faults, memclr, the scavenger). Inside Do, large CPU buffers come
// from the arena instead, and when Do returns they are all free for the next
// step.
//
// The contract: no tensor made inside Do may be used after Do returns (read
// its values out inside: loss.Item()). Leaf gradients are
// safe: Backward gives each leaf its own copy (ToSlice, never the arena).
// Buffers below arenaMin elements and device buffers never come from the
// arena. While Do runs, every goroutine's CPU tensors come from it, so run
// one step at a time; Do panics if another arena is already active.
//
// Numbers do not change: a buffer from the arena is zeroed where Zeros
// promises zeros, and handed out unzeroed only to kernels that write every
// element (GEMM with beta 0, the elementwise ops).
type Arena struct {
	mu            sync.Mutex
	free          map[int][][]float32 // by size class
	used          [][]float32         // handed out in the current Do
	reused, fresh int64
}

// arenaMin is the smallest buffer (in elements) the arena serves; smaller
// ones are cheap for the runtime and would only add lock traffic.
const arenaMin = 1024

var activeArena atomic.Pointer[Arena]

// NewArena returns an empty arena.
func NewArena() *Arena { return &Arena{free: map[int][][]float32{}} }

// Do runs f with a as the active arena, then frees every buffer f was
// handed for reuse: no tensor made in f may be used after Do returns. A nil
// arena just runs f.
func (a *Arena) Do(f func()) {
	if a == nil {
		f()
		return
	}
	if !activeArena.CompareAndSwap(nil, a) {
		panic("tensor.Arena.Do: another arena is already active")
	}
	defer a.recycle()
	defer activeArena.Store(nil)
	f()
}

// recycle moves every buffer handed out since the last recycle to the free
// lists.
func (a *Arena) recycle() {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, b := range a.used {
		c := cap(b)
		a.free[c] = append(a.free[c], b[:c])
	}
	clear(a.used)
	a.used = a.used[:0]
}

// ArenaStats says how an arena has served: buffers taken from its free
// lists and newly allocated since NewArena (a steady loop reuses nearly
// all), and the elements it holds, free and in use.
type ArenaStats struct {
	Reused, Fresh int64
	Held          int
}

// Stats returns the arena's counts so far.
func (a *Arena) Stats() ArenaStats {
	a.mu.Lock()
	defer a.mu.Unlock()
	st := ArenaStats{Reused: a.reused, Fresh: a.fresh}
	for c, l := range a.free {
		st.Held += c * len(l)
	}
	for _, b := range a.used {
		st.Held += cap(b)
	}
	return st
}

// sizeClass rounds n up to 4 classes per power of two (at most 25% slack),
// so that sizes which differ a little from step to step (sequence lengths)
// share buffers.
func sizeClass(n int) int {
	if n <= 8 {
		return n
	}
	shift := bits.Len(uint(n-1)) - 3 // n-1 has shift+3 bits; keep the top 3
	step := 1 << shift
	return (n + step - 1) / step * step
}

func (a *Arena) get(n int) ([]float32, bool) {
	c := sizeClass(n)
	a.mu.Lock()
	defer a.mu.Unlock()
	var b []float32
	fresh := true
	// Best fit: this class, else one of the next four (at most twice the
	// size). Sequence lengths change from step to step; without this, each
	// class would keep its own buffers and the arena would hold about three
	// steps' worth.
	for i, k := 0, c; i < 5; i, k = i+1, sizeClass(k+1) {
		if l := a.free[k]; len(l) > 0 {
			b = l[len(l)-1]
			l[len(l)-1] = nil
			a.free[k] = l[:len(l)-1]
			fresh = false
			break
		}
	}
	if fresh {
		b = make([]float32, c)
		a.fresh++
	} else {
		a.reused++
	}
	b = b[:n:cap(b)]
	a.used = append(a.used, b)
	return b, fresh
}

// allocZeroed returns n zeros: from the active arena for large n, else a
// plain make.
func allocZeroed(n int) []float32 {
	if n >= arenaMin {
		if a := activeArena.Load(); a != nil {
			b, fresh := a.get(n)
			if !fresh {
				clear(b)
			}
			return b
		}
	}
	return make([]float32, n)
}

// allocDirty returns n elements whose values are undefined: the caller
// writes every one of them before anything reads them.
func allocDirty(n int) []float32 {
	if n >= arenaMin {
		if a := activeArena.Load(); a != nil {
			b, _ := a.get(n)
			return b
		}
	}
	return make([]float32, n)
}

// empty is Zeros for outputs that the op overwrites completely.
func empty(shape ...int) *Tensor {
	n := checkShape("tensor.empty", shape)
	return newContig(allocDirty(n), shape)
}

// TightGC sets the collector's target (GOGC) to 25 for a loop that holds an
// arena, unless the GOGC variable is set, and returns the undo. The arena's
// buffers are live heap to the collector, so at the default 100 the heap
// would grow to twice their size before a collection, though little garbage
// remains outside the arena; at 25 the steps run as fast and the peak stays
// near the arena's size.
func TightGC() (undo func()) {
	if os.Getenv("GOGC") != "" {
		return func() {}
	}
	old := debug.SetGCPercent(25)
	return func() { debug.SetGCPercent(old) }
}
