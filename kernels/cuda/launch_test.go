package cuda

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"unsafe"
)

// fakeBackend records launches and checks each against the kernel's PTX
// parameter types and the launch limits, so that every entry point's
// argument list is tested without a GPU.
type fakeBackend struct {
	t        *testing.T
	drv      *fakeDriver // called under the allocator's lock
	mu       sync.Mutex
	launches []string
}

func (f *fakeBackend) info() Info                                   { return Info{Name: "fake", Major: 9, PTXArch: 90} }
func (f *fakeBackend) malloc(b int64) (uint64, error)               { return f.drv.malloc(b) }
func (f *fakeBackend) free(p uint64) error                          { return f.drv.free(p) }
func (f *fakeBackend) upload(uint64, unsafe.Pointer, int64) error   { return nil }
func (f *fakeBackend) download(unsafe.Pointer, uint64, int64) error { return nil }
func (f *fakeBackend) memset32(uint64, uint32, int64) error         { return nil }
func (f *fakeBackend) copy(uint64, uint64, int64) error             { return nil }
func (f *fakeBackend) sync() error                                  { return nil }
func (f *fakeBackend) close() error                                 { return nil }

func (f *fakeBackend) launch(kernel string, grid, block [3]int, shmem int, args []arg) error {
	f.t.Helper()
	params, ok := ptxParams[kernel]
	if !ok {
		f.t.Errorf("launch of %s, which the PTX does not define", kernel)
		return nil
	}
	if err := checkArgs(kernel, strings.Fields(params), args); err != nil {
		f.t.Error(err)
	}
	if grid[0] < 1 || grid[1] < 1 || grid[2] < 1 || grid[1] > 65535 || grid[2] > 65535 || grid[0] > 1<<31-1 {
		f.t.Errorf("%s: grid %v out of the limits", kernel, grid)
	}
	threads := block[0] * block[1] * block[2]
	if block[0] < 1 || block[1] < 1 || block[2] < 1 || threads > 1024 || threads%32 != 0 {
		f.t.Errorf("%s: block %v (want 32..1024 threads, whole warps)", kernel, block)
	}
	// Past 48 KiB is an opt-in (launch_cuda.go); 99 KiB is the smallest
	// opt-in limit of sm_80 and newer (sm_86, sm_89).
	if shmem < 0 || shmem > 99<<10 {
		f.t.Errorf("%s: %d bytes of dynamic shared memory", kernel, shmem)
	}
	f.mu.Lock()
	f.launches = append(f.launches, kernel)
	f.mu.Unlock()
	return nil
}

func fakeDevice(t *testing.T) (*Device, *fakeBackend) {
	fb := &fakeBackend{t: t, drv: newFakeDriver()}
	return newDevice(fb), fb
}

func mustAlloc(t *testing.T, d *Device, n int) Buffer {
	t.Helper()
	b, err := d.Alloc(n)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestLaunchArguments calls every entry point on awkward sizes and checks
// that each launch matches its kernel's signature.
func TestLaunchArguments(t *testing.T) {
	d, fb := fakeDevice(t)
	a := func(n int) Buffer { return mustAlloc(t, d, n) }
	run := func(name string, err error) {
		t.Helper()
		if err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	for _, s := range []struct{ m, n, k int }{{1, 1, 1}, {127, 129, 7}, {300, 5, 1000}, {1, 4096, 3}} {
		for _, tr := range [][2]bool{{false, false}, {true, false}, {false, true}, {true, true}} {
			lda, ldb := s.k, s.n
			if tr[0] {
				lda = s.m
			}
			if tr[1] {
				ldb = s.k
			}
			run("Sgemm", d.Sgemm(tr[0], tr[1], s.m, s.n, s.k, 1.5, a(s.m*s.k), lda, a(s.k*s.n), ldb, 0.5, a(s.m*s.n), s.n))
			run("GemmTF32", d.GemmTF32(tr[0], tr[1], s.m, s.n, s.k, 1.5, a(s.m*s.k), lda, a(s.k*s.n), ldb, 0.5, a(s.m*s.n), s.n))
			run("GemmBF16", d.GemmBF16(tr[0], tr[1], s.m, s.n, s.k, 1.5, a((s.m*s.k+1)/2), lda, a((s.k*s.n+1)/2), ldb, 0.5, a(s.m*s.n), s.n))
			run("SgemmStridedBatched", d.SgemmStridedBatched(tr[0], tr[1], s.m, s.n, s.k, 1, a(3*s.m*s.k), lda, s.m*s.k,
				a(s.k*s.n), ldb, 0, 0, a(3*s.m*s.n), s.n, s.m*s.n, 3))
		}
	}
	for _, n := range []int{1, 31, 257, 100003} {
		for op := OpAdd; op <= OpDiv; op++ {
			run("Binary", d.Binary(op, a(n), a(n), a(n)))
		}
		run("BinaryBroadcast", d.BinaryBroadcast(OpMul, a(3*n), a(3*n), a(n), []int{3, n}, []int{n, 1}, []int{0, 1}))
		run("AddScalar", d.AddScalar(a(n), a(n), 2))
		run("MulScalar", d.MulScalar(a(n), a(n), 2))
		run("Axpy", d.Axpy(2, a(n), a(n)))
		for op := OpExp; op <= OpRsqrt; op++ {
			run("Unary", d.Unary(op, a(n), a(n)))
			run("UnaryBackward", d.UnaryBackward(op, a(n), a(n), a(n)))
		}
		for op := OpPow; op <= OpIsEqual; op++ {
			run("Unary2", d.Unary2(op, a(n), a(n), -1.5, 2))
			run("Unary2Backward", d.Unary2Backward(op, a(n), a(n), a(n), -1.5, 2))
		}
		run("ToBF16", d.ToBF16(a((n+1)/2), a(n)))
		run("AdamW", d.AdamW(a(n), a(n), a(n), a(n), 1e-3, 0.9, 0.999, 1e-8, 0.01, 3))
	}
	for _, s := range []struct{ rows, n int }{{1, 1}, {7, 33}, {3, 1000}, {70000, 5}} {
		r, n := s.rows, s.n
		run("Sum", d.Sum(a(r), a(r*n), r, n, 1))
		run("Max", d.Max(a(n), a(r*n), 1, r, n))
		run("Sum axis", d.Sum(a(2*n), a(2*r*n), 2, r, n))
		run("Max long axis", d.Max(a(3*n), a(3*n*1000), 3, 1000, n))
		run("Softmax", d.Softmax(a(r*n), a(r*n), r, n))
		run("LogSoftmax", d.LogSoftmax(a(r*n), a(r*n), r, n))
		run("SoftmaxBackward", d.SoftmaxBackward(a(r*n), a(r*n), a(r*n), r, n))
		run("LogSoftmaxBackward", d.LogSoftmaxBackward(a(r*n), a(r*n), a(r*n), r, n))
		run("LayerNorm", d.LayerNorm(a(r*n), a(r), a(r), a(r*n), a(n), Buffer{}, r, n, 1e-5))
		run("LayerNormBackward", d.LayerNormBackward(a(r*n), a(n), a(n), a(r*n), a(r*n), a(n), a(r), a(r), r, n))
		run("LayerNormBackward no affine", d.LayerNormBackward(a(r*n), Buffer{}, Buffer{}, a(r*n), a(r*n), Buffer{}, a(r), a(r), r, n))
		run("RMSNorm", d.RMSNorm(a(r*n), a(r), a(r*n), a(n), r, n, 1e-6))
		run("RMSNormBackward", d.RMSNormBackward(a(r*n), a(n), a(r*n), a(r*n), a(n), a(r), r, n))
		targets := make([]int, r)
		for i := range targets {
			targets[i] = i % n
		}
		targets[0] = -100
		run("CrossEntropy", d.CrossEntropy(a(r), a(r), a(r*n), targets, r, n, -100))
		run("CrossEntropyBackward", d.CrossEntropyBackward(a(r*n), a(r*n), a(r), targets, r, n, -100, 0.5, Buffer{}))
		run("CrossEntropyBackward wrow", d.CrossEntropyBackward(a(r*n), a(r*n), a(r), targets, r, n, -100, 0, a(r)))
		ids := []int{0, n - 1, 0, n / 2, 0}
		run("Embedding", d.Embedding(a(len(ids)*r), a(n*r), ids, n, r))
		run("EmbeddingBackward", d.EmbeddingBackward(a(n*r), a(len(ids)*r), ids, n, r))
	}
	for _, o := range []SampleOpts{{}, {Temperature: 0.7, TopK: 5, TopP: 0.9}} {
		for _, V := range []int{1, 33, 50000} {
			run("Sample", d.Sample(a(3), a(3), a(3*V), 3, V, []float32{0, 0.5, 0.99}, o))
		}
	}
	for _, sh := range []AttnShape{{G: 3, Rep: 2, T: 7, S: 9, D: 16, Dv: 16}, {G: 2, Rep: 1, T: 65, S: 65, D: 64, Dv: 64}, {G: 1, Rep: 1, T: 5, S: 5, D: 100, Dv: 128}} {
		for _, o := range []AttnOpts{{}, {Causal: true, KeyPadding: make([]bool, sh.G*sh.S), Batch: sh.G}} {
			tq := sh.Rep * sh.T
			q, k, v, out, lse := a(sh.G*tq*sh.D), a(sh.G*sh.S*sh.D), a(sh.G*sh.S*sh.Dv), a(sh.G*tq*sh.Dv), a(sh.G*tq)
			run("Attention", d.Attention(out, lse, q, k, v, sh, o))
			run("AttentionBackward", d.AttentionBackward(a(q.n), a(k.n), a(v.n), q, k, v, out, lse, a(out.n), sh, o))
		}
	}
	run("RoPE", d.RoPE(a(2*3*5*8), a(2*3*5*8), []int{2, 3, 5, 8}, []int{0, 1, 2, 3, 9}, 10000, false))
	run("RoPE per item", d.RoPE(a(2*3*5*8), a(2*3*5*8), []int{2, 3, 5, 8}, []int{0, 1, 2, 3, 4, 7, 8, 9, 10, 11}, 100, true))

	seen := map[string]bool{}
	for _, k := range fb.launches {
		seen[k] = true
	}
	for k := range ptxParams {
		if !seen[k] {
			t.Errorf("kernel %s was never launched by the entry points", k)
		}
	}
}

func TestZeroSizesLaunchNothing(t *testing.T) {
	d, fb := fakeDevice(t)
	z := Buffer{}
	for _, err := range []error{
		d.Sgemm(false, false, 0, 5, 3, 1, z, 3, mustAlloc(t, d, 15), 5, 0, z, 5),
		d.Binary(OpAdd, z, z, z),
		d.Unary(OpGelu, z, z),
		d.Unary2(OpPow, z, z, 2, 0),
		d.Unary2Backward(OpClamp, z, z, z, -1, 1),
		d.Softmax(z, z, 0, 7),
		d.Sum(z, z, 0, 3, 1),
		d.LayerNorm(z, z, z, z, z, z, 0, 4, 1e-5),
		d.CrossEntropy(z, z, z, nil, 0, 5, -1),
		d.Embedding(z, mustAlloc(t, d, 6), nil, 3, 2),
		d.AdamW(z, z, z, z, 1, 0.9, 0.99, 1e-8, 0, 1),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	if len(fb.launches) != 0 {
		t.Fatalf("zero sizes launched %v", fb.launches)
	}
}

func TestShapeErrorsPanic(t *testing.T) {
	d, _ := fakeDevice(t)
	b := mustAlloc(t, d, 10)
	for name, f := range map[string]func(){
		"cuda.Sgemm":                 func() { d.Sgemm(false, false, 4, 4, 4, 1, b, 4, b, 4, 0, b, 4) },
		"cuda.Binary":                func() { d.Binary(OpAdd, b, b, b.Slice(0, 9)) },
		"cuda.Unary(rsqrt)":          func() { d.Unary(OpRsqrt, b, b.Slice(0, 9)) },
		"cuda.Unary2(pow)":           func() { d.Unary2(OpPow, b, b.Slice(0, 9), 2, 0) },
		"cuda.Unary2Backward(clamp)": func() { d.Unary2Backward(OpClamp, b, b, b.Slice(1, 10), -1, 1) },
		"cuda.Unary2(Unary2Op(3))":   func() { d.Unary2(OpIsEqual+1, b, b, 0, 0) },
		"cuda.Softmax":               func() { d.Softmax(b, b, 3, 4) },
		"cuda.CrossEntropy":          func() { d.CrossEntropy(b.Slice(0, 2), b.Slice(2, 4), b.Slice(0, 10), []int{1, 5}, 2, 5, -1) },
		"cuda.AdamW":                 func() { d.AdamW(b, b, b, b, 1, 0.9, 0.99, 1e-8, 0, 0) },
	} {
		func() {
			defer func() {
				r := recover()
				if r == nil || !strings.Contains(fmt.Sprint(r), name+":") {
					t.Errorf("%s: panic %v, want one naming the kernel", name, r)
				}
			}()
			f()
		}()
	}
}

func TestGroupIDs(t *testing.T) {
	uniq, start, pos := groupIDs("test", []int{3, 1, 3, 0, 1, 3}, 4)
	want := fmt.Sprint([]int{3, 1, 0}, []int{0, 3, 5, 6}, []int{0, 2, 5, 1, 4, 3})
	if got := fmt.Sprint(uniq, start, pos); got != want {
		t.Fatalf("groupIDs = %s, want %s", got, want)
	}
}

func TestClosedDevice(t *testing.T) {
	d, _ := fakeDevice(t)
	b := mustAlloc(t, d, 4)
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if err := d.Unary(OpExp, b, b); err != ErrClosed {
		t.Fatalf("launch on a closed device: %v, want ErrClosed", err)
	}
}

// TestConcurrentUse: a Device is used from many goroutines at once (run
// with -race); the allocator's books balance afterwards.
func TestConcurrentUse(t *testing.T) {
	d, fb := fakeDevice(t)
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for it := 0; it < 50; it++ {
				n := 1 + (g*31+it*7)%5000
				x, err := d.Alloc(n)
				if err != nil {
					t.Error(err)
					return
				}
				if err := d.Unary(OpGelu, x, x); err != nil {
					t.Error(err)
				}
				_ = d.Stats()
				if err := d.Free(x); err != nil {
					t.Error(err)
				}
			}
		}(g)
	}
	wg.Wait()
	if st := d.Stats(); st.LiveBytes != 0 || len(fb.launches) != 400 {
		t.Fatalf("after the goroutines: %+v, %d launches", st, len(fb.launches))
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if len(fb.drv.live) != 0 {
		t.Fatalf("%d blocks still at the driver after Close", len(fb.drv.live))
	}
}
