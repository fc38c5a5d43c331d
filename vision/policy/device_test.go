package policy

import (
	"math"
	"testing"

	"github.com/kiln-ml/kiln/internal/devtest"
	"github.com/kiln-ml/kiln/tensor"
)

// The policy losses run on a device (go test -tags cudaemu ./vision/policy/):
// from log-probs on GPU 0 they give the CPU's values and gradients within
// 1e-4 relative (plus 1e-5). Their constant inputs (advantages, masks) are
// built on the log-probs' device. Without a device it skips.
func TestLossesOnDevice(t *testing.T) {
	dev := devtest.Open(t)
	const B, T, V = 2, 3, 5
	rng := tensor.NewRNG(1)
	logits := tensor.Randn(rng, 1, B, T, V)
	ref := tensor.Randn(rng, 1, B, T, V).LogSoftmax()
	old := tensor.Randn(rng, 0.1, B, T)
	adv := []float32{1, -0.5, 0.3, 2, 0, -1}
	mask := []float32{1, 1, 0, 0, 1, 1}
	targets := []int{4, 0, -1, 2, 3, 1}
	loss := func(x, ref, old *tensor.Tensor) *tensor.Tensor {
		logp := x.LogSoftmax()
		lp := TokenLogProbs(logp, targets)
		l := MaskedMean(ClippedSurrogate(lp, old, adv, 0.2), mask)
		l = l.Add(MaskedMean(K3(lp, old), mask).MulScalar(0.1))
		l = l.Add(SequenceMean(ExactKL(logp, ref), mask).Sum(nil, false).MulScalar(0.05))
		return l
	}
	xc := logits.Clone().RequiresGrad()
	want := loss(xc, ref, old)
	want.Backward()
	xd := logits.MustTo(dev).RequiresGrad()
	got := loss(xd, ref.MustTo(dev), old.MustTo(dev))
	if got.Device() != dev {
		t.Fatalf("loss on %v", got.Device())
	}
	got.Backward()
	close := func(g, w float32) bool { return math.Abs(float64(g-w)) <= 1e-4*math.Abs(float64(w))+1e-5 }
	if !close(got.Item(), want.Item()) {
		t.Errorf("loss %v on %v, %v on the CPU", got.Item(), dev, want.Item())
	}
	gd, gc := xd.Grad().ToSlice(), xc.Grad().ToSlice()
	for i := range gc {
		if !close(gd[i], gc[i]) {
			t.Errorf("grad[%d]: %v on %v, %v on the CPU", i, gd[i], dev, gc[i])
			break
		}
	}
}
