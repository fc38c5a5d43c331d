package nn

import (
	"math"
	"testing"
)

func TestWarmupCosine(t *testing.T) {
	s := WarmupCosine{Base: 1e-3, Min: 1e-4, Warmup: 4, Total: 14}
	mid := float32((float64(s.Base) + float64(s.Min)) / 2)
	for _, c := range []struct {
		step int
		want float32
	}{
		{-3, float32(1e-3 / 4.0 * 1)}, // negative counts as 0
		{0, float32(float64(float32(1e-3)) / 4)},
		{1, float32(float64(float32(1e-3)) * 2 / 4)},
		{3, 1e-3}, // warmup ends at Base
		{4, 1e-3}, // cosine starts at Base
		{9, mid},  // halfway through the decay
		{14, 1e-4},
		{15, 1e-4},
		{1 << 40, 1e-4},
	} {
		if got := s.At(c.step); got != c.want {
			t.Errorf("At(%d) = %v, want %v", c.step, got, c.want)
		}
	}
	// Monotone: up through warmup, down after.
	for i := 1; i < 20; i++ {
		a, b := s.At(i-1), s.At(i)
		if (i < 4 && b <= a) || (i > 4 && i <= 14 && b >= a) {
			t.Errorf("At(%d)=%v, At(%d)=%v", i-1, a, i, b)
		}
	}
	// One step before the end the cosine is almost at Min.
	want := 1e-4 + 0.9e-3*0.5*(1+math.Cos(math.Pi*9/10))
	if got := s.At(13); math.Abs(float64(got)-want) > 1e-9 {
		t.Errorf("At(13) = %v, want %v", got, want)
	}

	noWarm := WarmupCosine{Base: 2, Min: 0, Total: 2}
	if noWarm.At(0) != 2 || noWarm.At(1) != 1 || noWarm.At(2) != 0 {
		t.Errorf("no warmup: %v %v %v", noWarm.At(0), noWarm.At(1), noWarm.At(2))
	}
	if z := (WarmupCosine{Base: 1, Min: 0.5}); z.At(0) != 0.5 {
		t.Errorf("Total 0: %v", z.At(0))
	}
	if c := Schedule(Constant(3e-4)); c.At(0) != 3e-4 || c.At(1e6) != 3e-4 {
		t.Error("Constant")
	}
}

// Restart follows First before From and Then, counted from From, after:
// the first cosine reaches its floor at From's step before, the second
// starts at its peak on From.
func TestRestart(t *testing.T) {
	first := WarmupCosine{Base: 3e-3, Min: 3e-4, Warmup: 10, Total: 100}
	then := WarmupCosine{Base: 1e-3, Min: 1e-4, Total: 50}
	r := Restart{First: first, Then: then, From: 100}
	for step := 0; step < 100; step++ {
		if r.At(step) != first.At(step) {
			t.Fatalf("step %d: %v, want the first schedule's %v", step, r.At(step), first.At(step))
		}
	}
	for step := 100; step < 170; step++ {
		if r.At(step) != then.At(step-100) {
			t.Fatalf("step %d: %v, want the second schedule's %v", step, r.At(step), then.At(step-100))
		}
	}
	if r.At(99) > 3.01e-4 || r.At(100) != 1e-3 || r.At(149) > 1.01e-4 || r.At(149) < 1e-4 {
		t.Fatalf("ends and starts: %v %v %v", r.At(99), r.At(100), r.At(149))
	}
}
