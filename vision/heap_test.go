package vision

import (
	"runtime"
	"testing"

	"github.com/kiln-ml/kiln/nn"
	"github.com/kiln-ml/kiln/tensor"
)

// A VLM training loop (forward, loss, backward, gradient clipping, AdamW)
// must not grow the live heap step over step: each step's graph and
// activations are garbage once its backward and update are done, and the
// optimizer's moments and the kernels' scratch are allocated once.
func TestTrainingHeapStable(t *testing.T) {
	m := tinyModel(t)
	b := tinyBatch()
	opt := nn.NewAdamW(m.P.DefaultGroups(0.01), 0.9, 0.999, 1e-8)
	step := func() {
		opt.ZeroGrad()
		m.Loss(b).Backward()
		nn.ClipGradNorm(m.P.Trainable(), 1)
		if err := opt.Step(1e-3); err != nil {
			t.Fatal(err)
		}
	}
	live := func() uint64 {
		runtime.GC()
		runtime.GC()
		var s runtime.MemStats
		runtime.ReadMemStats(&s)
		return s.HeapAlloc
	}
	for range 20 {
		step()
	}
	base := live()
	n := 200
	if testing.Short() {
		n = 60
	}
	for range n {
		step()
	}
	// One step allocates about 1 MB, all of it garbage after the step; 256
	// KB of slack covers free lists and runtime noise.
	if grown := int64(live()) - int64(base); grown > 256<<10 {
		t.Errorf("live heap grew by %d bytes over %d steps", grown, n)
	}
}

// With the step arena (as kiln train runs), the arena stops allocating once
// it has seen a step: every later step reuses its buffers, and the live heap
// stays put.
func TestTrainingArenaStable(t *testing.T) {
	m := tinyModel(t)
	b := tinyBatch()
	opt := nn.NewAdamW(m.P.DefaultGroups(0.01), 0.9, 0.999, 1e-8)
	arena := tensor.NewArena()
	step := func() {
		arena.Do(func() {
			m.Loss(b).Backward()
			nn.ClipGradNorm(m.P.Trainable(), 1)
			if err := opt.Step(1e-3); err != nil {
				t.Fatal(err)
			}
			opt.ZeroGrad()
		})
	}
	for range 5 {
		step()
	}
	warm := arena.Stats()
	if warm.Held == 0 {
		t.Fatal("no buffer came from the arena")
	}
	for range 30 {
		step()
	}
	st := arena.Stats()
	if st.Fresh != warm.Fresh || st.Held != warm.Held {
		t.Errorf("the arena kept allocating: %+v after 5 steps, %+v after 35", warm, st)
	}
	if st.Reused <= warm.Reused {
		t.Errorf("no reuse: %+v", st)
	}
}
