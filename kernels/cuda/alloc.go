package cuda

import (
	"fmt"
	"math/bits"
	"sync"
)

// AllocStats counts the caching allocator's work.
type AllocStats struct {
	DriverAllocs int64 // cuMemAlloc calls
	DriverFrees  int64 // cuMemFree calls
	CacheHits    int64 // requests served from a free list
	LiveBytes    int64 // in blocks handed out (class sizes)
	CachedBytes  int64 // in blocks on the free lists
}

// allocator is a caching allocator over the driver's malloc and free:
// requests are rounded up to a size class, and freed blocks wait on their
// class's free list for the next request of that class. Pure Go, so its
// tests run without a GPU.
type allocator struct {
	mu     sync.Mutex
	malloc func(bytes int64) (uint64, error)
	free   func(ptr uint64) error
	lists  map[int64][]uint64 // class -> cached blocks
	live   map[uint64]int64   // block -> class
	stats  AllocStats
}

func newAllocator(malloc func(int64) (uint64, error), free func(uint64) error) *allocator {
	return &allocator{malloc: malloc, free: free, lists: map[int64][]uint64{}, live: map[uint64]int64{}}
}

// minClass is the smallest block (and so the alignment of every block
// beyond what the driver gives): 256 bytes.
const minClass = 256

// sizeClass rounds bytes up to its class: a multiple of a quarter of the
// largest power of two below it, so a block wastes under 25% (and at least
// minClass is taken).
func sizeClass(bytes int64) int64 {
	if bytes <= minClass {
		return minClass
	}
	p := int64(1) << (63 - bits.LeadingZeros64(uint64(bytes-1))) // largest power of two < bytes
	step := max(p/4, minClass)
	return (bytes + step - 1) / step * step
}

// get returns a block of at least bytes bytes.
func (a *allocator) get(bytes int64) (uint64, error) {
	cls := sizeClass(bytes)
	a.mu.Lock()
	defer a.mu.Unlock()
	if l := a.lists[cls]; len(l) > 0 {
		p := l[len(l)-1]
		a.lists[cls] = l[:len(l)-1]
		a.live[p] = cls
		a.stats.CacheHits++
		a.stats.CachedBytes -= cls
		a.stats.LiveBytes += cls
		return p, nil
	}
	p, err := a.malloc(cls)
	if err != nil {
		// Out of memory (or anything else): give the cached blocks back to
		// the driver and try once more.
		if a.stats.CachedBytes == 0 {
			return 0, err
		}
		if ferr := a.releaseCachedLocked(); ferr != nil {
			return 0, ferr
		}
		if p, err = a.malloc(cls); err != nil {
			return 0, err
		}
	}
	a.stats.DriverAllocs++
	a.live[p] = cls
	a.stats.LiveBytes += cls
	return p, nil
}

// put returns a block from get to its free list.
func (a *allocator) put(p uint64) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	cls, ok := a.live[p]
	if !ok {
		return fmt.Errorf("cuda: Free of %#x, which is not a live allocation (a Slice, or freed twice)", p)
	}
	delete(a.live, p)
	a.lists[cls] = append(a.lists[cls], p)
	a.stats.LiveBytes -= cls
	a.stats.CachedBytes += cls
	return nil
}

// releaseCached frees every cached block.
func (a *allocator) releaseCached() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.releaseCachedLocked()
}

func (a *allocator) releaseCachedLocked() error {
	var first error
	for cls, l := range a.lists {
		for _, p := range l {
			if err := a.free(p); err != nil && first == nil {
				first = err
			}
			a.stats.DriverFrees++
			a.stats.CachedBytes -= cls
		}
		delete(a.lists, cls)
	}
	return first
}

// releaseAll frees cached and live blocks (Close).
func (a *allocator) releaseAll() {
	a.mu.Lock()
	defer a.mu.Unlock()
	for p, cls := range a.live {
		a.free(p)
		a.stats.DriverFrees++
		a.stats.LiveBytes -= cls
		delete(a.live, p)
	}
	a.releaseCachedLocked()
}
