package nn

import (
	"math"

	"github.com/kiln-ml/kiln/kernels"
	"github.com/kiln-ml/kiln/tensor"
)

// ClipGradNorm scales the gradients of params so that their global L2 norm
// (over all elements of all gradients, as one vector) is at most maxNorm, with
// the semantics of torch.nn.utils.clip_grad_norm_: when
// coef = maxNorm/(total+1e-6) is below 1, every gradient is multiplied by
// coef. It returns the total norm before clipping. Parameters with a nil
// gradient are skipped; maxNorm = +Inf only measures.
//
// If a gradient holds a NaN or an Inf the total is not finite; ClipGradNorm
// then returns it and leaves the gradients as they are, so the optimizer's
// Step reports the parameter at fault. Gradients on a GPU are squared and
// summed there in float32, with one read back a device (a square above
// 3.4e38 reads as not finite).
func ClipGradNorm(params []*Param, maxNorm float32) (totalNorm float32) {
	var sum float64
	var dev map[tensor.Device]*tensor.Tensor // per device, the sum of squares there
	for _, p := range params {
		if g := p.T.Grad(); g != nil {
			if d := g.Device(); d != tensor.CPU {
				if dev == nil {
					dev = map[tensor.Device]*tensor.Tensor{}
				}
				s := g.Mul(g).Sum(nil, false)
				if acc := dev[d]; acc != nil {
					s = acc.Add(s)
				}
				dev[d] = s
				continue
			}
			sum += sumSquares(gradData(p))
		}
	}
	for _, s := range dev {
		sum += float64(s.Item()) // one read back a device
	}
	// Squares of finite float32 values cannot overflow a float64 sum, so a
	// non-finite sum means a non-finite gradient.
	if math.IsNaN(sum) || math.IsInf(sum, 0) {
		return float32(math.Sqrt(sum))
	}
	total := math.Sqrt(sum)
	t32 := float32(total)
	coef := maxNorm / (t32 + 1e-6) // float32, as PyTorch computes it
	if math.IsInf(float64(t32), 0) {
		coef = float32(float64(maxNorm) / total)
	}
	if coef < 1 {
		ScaleGrads(params, coef)
	}
	return t32
}

// ScaleGrads multiplies every non-nil gradient of params by s, e.g. by 1/k
// after accumulating k micro-batches.
//
// Gradient accumulation needs no other helper: autograd adds into each
// parameter's Grad on every Backward until ZeroGrad drops it. So run k
// forward and backward passes, then average with ScaleGrads(params, 1/k) (or
// scale each micro-batch loss by 1/k before its Backward), clip, Step and
// ZeroGrad:
//
//	for micro := range k {
//		loss := model.Loss(batch(micro))
//		loss.Backward() // Grad += d loss / d param
//	}
//	nn.ScaleGrads(params, 1/float32(k))
//	nn.ClipGradNorm(params, 1.0)
//	err := opt.Step(sched.At(step))
//	opt.ZeroGrad()
func ScaleGrads(params []*Param, s float32) {
	for _, p := range params {
		if g := p.T.Grad(); g != nil {
			if g.Device() != tensor.CPU {
				p.T.SetGrad(g.MulScalar(s))
				continue
			}
			kernels.Scale(s, gradData(p))
		}
	}
}

// gradData returns p's gradient as a contiguous slice, making the gradient
// contiguous first if it is a strided view (SetGrad allows one).
func gradData(p *Param) []float32 {
	g := p.T.Grad()
	if !g.IsContiguous() {
		g = g.Contiguous()
		p.T.SetGrad(g)
	}
	return g.Data()
}

// sumSquares is Σx² accumulated in float64 (four chains, for speed).
func sumSquares(x []float32) float64 {
	var s0, s1, s2, s3 float64
	i := 0
	for ; i+4 <= len(x); i += 4 {
		a, b, c, d := float64(x[i]), float64(x[i+1]), float64(x[i+2]), float64(x[i+3])
		s0 += a * a
		s1 += b * b
		s2 += c * c
		s3 += d * d
	}
	for ; i < len(x); i++ {
		a := float64(x[i])
		s0 += a * a
	}
	return (s0 + s1) + (s2 + s3)
}
