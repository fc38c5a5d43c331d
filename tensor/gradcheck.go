package tensor

import (
	"fmt"
	"math"
	"strings"
)

// GradCheckOpts tunes GradCheck; zero values take the defaults.
type GradCheckOpts struct {
	H          float64 // step (default 1e-2)
	Atol, Rtol float64 // default 2e-3 and 1e-2
	MaxElems   int     // elements checked per input (default 48, sampled)
	Seed       uint64
}

// GradCheck compares the autograd gradient of f with a finite difference.
//
// It reduces f's output to L = sum(out * R) with a fixed random R (so the
// upstream gradient is not all ones), runs Backward, and checks each input
// element's gradient against the 4-point central stencil
//
//	dL/dx ≈ (8(L(x+h) - L(x-h)) - (L(x+2h) - L(x-2h))) / 12h
//
// with L accumulated in float64. The stencil's truncation error is O(h^4)
// (~1e-8 at h = 1e-2), so what remains is float32 rounding of the output,
// about 1.5 * 6e-8 * sum|out*R| / h: <= 3e-4 for sum|out*R| up to ~30. The
// default atol 2e-3 + rtol 1e-2 leaves a safety factor of ~5 and still
// catches any wrong gradient term, which is off by O(1). Inputs of ops with
// kinks (relu, clamp, max) must sit more than 2h from the kink.
//
// Inputs may live on a device (contiguous), where the whole check runs;
// each perturbation is then an upload and each loss a download.
//
// The inputs are marked RequiresGrad and their gradients reset. It returns
// nil or an error listing the mismatches.
func GradCheck(f func(x []*Tensor) *Tensor, inputs []*Tensor, o GradCheckOpts) error {
	h, atol, rtol, maxN := o.H, o.Atol, o.Rtol, o.MaxElems
	if h == 0 {
		h = 1e-2
	}
	if atol == 0 {
		atol = 2e-3
	}
	if rtol == 0 {
		rtol = 1e-2
	}
	if maxN == 0 {
		maxN = 48
	}
	for _, x := range inputs {
		x.RequiresGrad()
		x.ZeroGrad()
	}
	out := f(inputs)
	R := Rand(NewRNG(o.Seed+99), -1, 1, out.shape...)
	rd := R.ToSlice()
	R = R.MustTo(out.Device())
	loss := func() float64 {
		var s float64
		NoGrad(func() {
			for i, v := range f(inputs).ToSlice() {
				s += float64(v) * float64(rd[i])
			}
		})
		return s
	}
	out.Mul(R).Sum(nil, false).Backward()
	rng := NewRNG(o.Seed + 7)
	var bad []string
	for xi, x := range inputs {
		if x.Grad() == nil {
			return fmt.Errorf("input %d (shape %v) got no gradient", xi, x.shape)
		}
		ga := x.Grad().ToSlice()
		var data []float32
		set := func(j int, v float32) { data[j] = v }
		if x.st.cu != nil { // a device input: perturb it by uploads
			if !x.IsContiguous() {
				return fmt.Errorf("input %d (shape %v) is a non-contiguous device view", xi, x.shape)
			}
			data = x.ToSlice()
			set = func(j int, v float32) { data[j] = v; x.setDevElem("tensor.GradCheck", x.offset+j, v) }
		} else {
			data = x.Data()
		}
		idx := make([]int, 0, min(len(data), maxN))
		if len(data) <= maxN {
			for i := range data {
				idx = append(idx, i)
			}
		} else {
			for i := 0; i < maxN; i++ {
				idx = append(idx, rng.IntN(len(data)))
			}
		}
		for _, j := range idx {
			orig := data[j]
			at := func(d float64) float64 { set(j, orig+float32(d)); return loss() }
			num := (8*(at(h)-at(-h)) - (at(2*h) - at(-2*h))) / (12 * h)
			set(j, orig)
			if math.Abs(num-float64(ga[j])) > atol+rtol*math.Abs(num) && len(bad) < 10 {
				bad = append(bad, fmt.Sprintf("input %d elem %d: analytic %.6g numeric %.6g", xi, j, ga[j], num))
			}
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("gradient mismatch: %s", strings.Join(bad, "; "))
	}
	return nil
}
