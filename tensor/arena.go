package tensor

import (
	"math"
	"math/bits"
	"os"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"unsafe"
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
//
// Backward returns an intermediate gradient's buffer to the arena as soon
// as no pending gradient refers to it (see Tensor.BackwardWith), so the
// backward pass reuses its own buffers instead of holding one per node.
//
// Setting KILN_ARENA_POISON=1 (read by NewArena) fills every buffer with NaN
// when it is freed: a use after free, or an unzeroed buffer read before it
// is written, then shows as NaN in the results (a debugging aid; slow).
type Arena struct {
	mu            sync.Mutex
	free          map[int][][]float32 // by size class
	used          [][]float32         // handed out in the current Do; nil once released
	at            map[uintptr]int     // bufKey of each buffer in used -> its index
	reused, fresh int64
	poisonFreed   bool
}

// arenaMin is the smallest buffer (in elements) the arena serves; smaller
// ones are cheap for the runtime and would only add lock traffic.
const arenaMin = 1024

var activeArena atomic.Pointer[Arena]

// NewArena returns an empty arena.
func NewArena() *Arena {
	return &Arena{free: map[int][][]float32{}, at: map[uintptr]int{}, poisonFreed: os.Getenv("KILN_ARENA_POISON") != ""}
}

// bufKey names the buffer a slice lies in by the address of its end.
// Slicing keeps the end (the arena never hands out three-index slices), so
// every view's data and the buffer itself share the key. It is a number, not
// a pointer: a pointer one past an object's end would keep whatever the
// runtime puts next alive, and the arena's own list keeps its buffers alive.
func bufKey(b []float32) uintptr {
	if cap(b) == 0 {
		return 0
	}
	return uintptr(unsafe.Pointer(unsafe.SliceData(b))) + uintptr(cap(b))*4
}

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
		if b != nil {
			a.putFree(b)
		}
	}
	clear(a.used)
	a.used = a.used[:0]
	clear(a.at)
}

// putFree files b under its size class (poisoned first if asked). Callers
// hold a.mu.
func (a *Arena) putFree(b []float32) {
	c := cap(b)
	b = b[:c]
	if a.poisonFreed {
		for i := range b {
			b[i] = float32(math.NaN())
		}
	}
	a.free[c] = append(a.free[c], b)
}

// mark is a position in the hand-out order: the buffers handed out at or
// after it are the ones releaseIfSince and releaseSince may free.
func (a *Arena) mark() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.used)
}

// releaseIfSince frees the buffer named key now, if it was handed out at or
// after mark and is not free already.
func (a *Arena) releaseIfSince(key uintptr, mark int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	i, ok := a.at[key]
	if !ok || i < mark {
		return
	}
	a.putFree(a.used[i])
	a.used[i] = nil
	delete(a.at, key)
}

// releaseSince frees every buffer handed out at or after mark and not free
// already, except those keep reports true for (by bufKey).
func (a *Arena) releaseSince(mark int, keep func(key uintptr) bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for i, b := range a.used[mark:] {
		if b == nil {
			continue
		}
		k := bufKey(b)
		if keep(k) {
			continue
		}
		a.putFree(b)
		a.used[mark+i] = nil
		delete(a.at, k)
	}
}

// Scoped runs f and, inside an active Arena with gradients off (inference),
// frees at once every buffer that f was handed, except the one its result
// lives in. A model's block (a transformer layer) wrapped this way holds its
// intermediates only while it runs, not until the step ends; with gradients
// on, or without an arena, Scoped only runs f, since the graph needs them.
// f must let no tensor it makes escape except its result (no caches of
// intermediates; writes into buffers made outside are fine).
func Scoped(f func() *Tensor) *Tensor {
	a := activeArena.Load()
	if a == nil || GradEnabled() {
		return f()
	}
	mark := a.mark()
	out := f()
	var keep uintptr
	if out != nil && out.st.cu == nil {
		keep = bufKey(out.st.data)
	}
	a.releaseSince(mark, func(k uintptr) bool { return k == keep })
	return out
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
		st.Held += cap(b) // 0 for a released slot
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
	a.at[bufKey(b)] = len(a.used)
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
