package nn

import "math"

// Schedule gives the learning rate of each step. step counts the optimizer
// updates already applied: the first update uses At(0).
type Schedule interface {
	At(step int) float32
}

// Constant is a fixed learning rate.
type Constant float32

// At returns the rate, whatever the step.
func (c Constant) At(int) float32 { return float32(c) }

// WarmupCosine rises linearly over Warmup steps, then decays along half a
// cosine from Base to Min at step Total, and stays at Min after:
//
//	step < Warmup           Base·(step+1)/Warmup   (Base/Warmup first, Base at Warmup−1)
//	Warmup ≤ step < Total   Min + (Base−Min)·(1 + cos(π·(step−Warmup)/(Total−Warmup)))/2
//	step ≥ Total            Min
//
// so At(Warmup) = Base and the rate reaches Min at Total. Warmup 0 starts the
// decay at once; negative steps count as 0. The arithmetic is float64,
// rounded once to float32.
type WarmupCosine struct {
	Base, Min     float32
	Warmup, Total int
}

// At returns the rate of step.
func (s WarmupCosine) At(step int) float32 {
	step = max(step, 0)
	if step < s.Warmup {
		return float32(float64(s.Base) * float64(step+1) / float64(s.Warmup))
	}
	if step >= s.Total {
		return s.Min
	}
	progress := float64(step-s.Warmup) / float64(s.Total-s.Warmup)
	base, lo := float64(s.Base), float64(s.Min)
	return float32(lo + (base-lo)*0.5*(1+math.Cos(math.Pi*progress)))
}

// Restart runs First before step From and Then after it, with Then's steps
// counted from From: a warm restart, e.g. a second cosine for a second
// data phase of one run.
type Restart struct {
	First, Then Schedule
	From        int
}

// At returns the rate of step.
func (r Restart) At(step int) float32 {
	if step < r.From {
		return r.First.At(step)
	}
	return r.Then.At(step - r.From)
}
