package cuda

import (
	"errors"
	"testing"
)

func TestSizeClass(t *testing.T) {
	prev := int64(0)
	for b := int64(1); b < 1<<22; b += 1 + b/7 {
		c := sizeClass(b)
		if c < b || c%minClass != 0 {
			t.Fatalf("sizeClass(%d) = %d: below the request or not a multiple of %d", b, c, minClass)
		}
		if b > minClass && float64(c) > 1.25*float64(b)+minClass {
			t.Fatalf("sizeClass(%d) = %d wastes more than 25%%", b, c)
		}
		if c < prev {
			t.Fatalf("sizeClass not monotone at %d: %d < %d", b, c, prev)
		}
		prev = c
	}
}

// fakeDriver hands out addresses and counts what is live.
type fakeDriver struct {
	next  uint64
	live  map[uint64]int64
	limit int64 // bytes; 0 = unlimited
	used  int64
}

var errFakeOOM = errors.New("fake: out of memory")

func newFakeDriver() *fakeDriver { return &fakeDriver{next: 1 << 32, live: map[uint64]int64{}} }

func (f *fakeDriver) malloc(bytes int64) (uint64, error) {
	if f.limit > 0 && f.used+bytes > f.limit {
		return 0, errFakeOOM
	}
	p := f.next
	f.next += uint64(bytes)
	f.live[p] = bytes
	f.used += bytes
	return p, nil
}

func (f *fakeDriver) free(p uint64) error {
	b, ok := f.live[p]
	if !ok {
		return errors.New("fake: free of an unknown block")
	}
	delete(f.live, p)
	f.used -= b
	return nil
}

func TestAllocatorSteadyState(t *testing.T) {
	f := newFakeDriver()
	a := newAllocator(f.malloc, f.free)
	sizes := []int64{4, 1000, 4096, 12345, 1 << 20, 3<<20 + 5}
	for step := 0; step < 50; step++ {
		var got []uint64
		for _, s := range sizes {
			p, err := a.get(s)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, p)
		}
		for _, p := range got {
			if err := a.put(p); err != nil {
				t.Fatal(err)
			}
		}
		if step == 0 {
			continue
		}
		if a.stats.DriverAllocs != int64(len(sizes)) {
			t.Fatalf("step %d: %d driver allocations, want %d (the first step's only)", step, a.stats.DriverAllocs, len(sizes))
		}
	}
	if a.stats.LiveBytes != 0 {
		t.Fatalf("LiveBytes %d after freeing everything", a.stats.LiveBytes)
	}
	if err := a.put(12345); err == nil {
		t.Fatal("freeing an unknown pointer did not fail")
	}
	a.releaseAll()
	if len(f.live) != 0 || a.stats.CachedBytes != 0 {
		t.Fatalf("after releaseAll: %d blocks at the driver, %d bytes cached", len(f.live), a.stats.CachedBytes)
	}
}

func TestAllocatorOOMReleasesCache(t *testing.T) {
	f := newFakeDriver()
	f.limit = 1 << 20
	a := newAllocator(f.malloc, f.free)
	p, err := a.get(600 << 10) // cached after put
	if err != nil {
		t.Fatal(err)
	}
	a.put(p)
	q, err := a.get(700 << 10) // another class: fits only once the cache is released
	if err != nil {
		t.Fatalf("allocation after releasing the cache: %v", err)
	}
	if a.stats.DriverFrees != 1 || a.stats.CachedBytes != 0 {
		t.Fatalf("stats %+v: want the cached block freed", a.stats)
	}
	if _, err := a.get(900 << 10); !errors.Is(err, errFakeOOM) {
		t.Fatalf("over the limit with nothing cached: err %v, want the driver's", err)
	}
	a.put(q)
}
