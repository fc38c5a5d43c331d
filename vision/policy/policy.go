// Package policy holds what both research packages (rl and selfevolve) need
// to optimise the VLM as a policy: rollouts as training batches, per-token
// log-probabilities, KL estimators against a frozen reference, and the
// policy-gradient losses. It sits below both so they never import each
// other.
package policy

import (
	"fmt"

	"github.com/kiln-ml/kiln/tensor"
	"github.com/kiln-ml/kiln/vision"
)

// Rollout is one sampled completion of a prompt.
type Rollout struct {
	Prompt      []int     // prompt ids (with image placeholders)
	Completion  []int     // sampled ids
	OldLogProbs []float32 // log-probs of Completion when it was sampled
	Image       int       // index of the image in the batch's image tensor
}

// Batch is rollouts laid out for one forward pass: prompt + completion,
// left-padded, with Mask[i] = 1 where position i predicts a completion
// token (Targets holds it) and 0 elsewhere.
type Batch struct {
	*vision.Batch
	Mask []float32 // B*T
}

// NewBatch builds the training batch of rollouts. images [N,3,H,W] holds
// the distinct images; each rollout names its own (nil for text only).
func NewBatch(rolls []Rollout, images *tensor.Tensor, padID int) *Batch {
	B, T := len(rolls), 0
	for _, r := range rolls {
		T = max(T, len(r.Prompt)+len(r.Completion))
	}
	vb := &vision.Batch{B: B, T: T, IDs: make([]int, B*T), Pad: make([]bool, B*T), Targets: make([]int, B*T)}
	mask := make([]float32, B*T)
	idx := make([]int, B)
	for i, r := range rolls {
		seq := append(append([]int{}, r.Prompt...), r.Completion...)
		off := T - len(seq)
		for t := 0; t < T; t++ {
			j := i*T + t
			vb.Targets[j] = vision.IgnoreIndex
			if t < off {
				vb.IDs[j], vb.Pad[j] = padID, true
				continue
			}
			vb.IDs[j] = seq[t-off]
			// Position t predicts token t+1; completion tokens start at
			// off+len(prompt).
			if k := t + 1 - off - len(r.Prompt); k >= 0 && k < len(r.Completion) {
				vb.Targets[j] = r.Completion[k]
				mask[j] = 1
			}
		}
		idx[i] = r.Image
	}
	if images != nil {
		vb.Images = images.IndexSelect(0, idx)
	}
	return &Batch{Batch: vb, Mask: mask}
}

// TokenLogProbs picks log p(target) at every position from logp [B,T,V]
// (positions without a target get 0). Differentiable.
func TokenLogProbs(logp *tensor.Tensor, targets []int) *tensor.Tensor {
	s := logp.Shape()
	B, T := s[0], s[1]
	if len(targets) != B*T {
		panic(fmt.Sprintf("policy.TokenLogProbs: %d targets for logp %v", len(targets), s))
	}
	idx := make([]int, B*T)
	for i, y := range targets {
		if y >= 0 {
			idx[i] = y
		}
	}
	return logp.Gather(2, idx, B, T, 1).Reshape(B, T)
}

// ExactKL returns KL(pi || ref) = sum_v pi(v) (log pi(v) - log ref(v)) at
// every position [B,T] from full-vocabulary log-probs (EvoLMM's KL term).
// Differentiable through logp; logRef is a constant.
func ExactKL(logp, logRef *tensor.Tensor) *tensor.Tensor {
	return logp.Exp().Mul(logp.Sub(logRef.Detach())).Sum([]int{-1}, false)
}

// K3 is the unbiased, non-negative estimator of KL(pi || ref) from sampled
// tokens: exp(r) - r - 1 with r = log ref - log pi (GRPO's KL term).
func K3(lp, lpRef *tensor.Tensor) *tensor.Tensor {
	r := lpRef.Detach().Sub(lp)
	return r.Exp().Sub(r).AddScalar(-1)
}

// ClippedSurrogate is PPO's per-token objective turned into a loss:
// -min(ratio*A, clip(ratio, 1-eps, 1+eps)*A) with ratio = exp(lp - old).
// adv holds one advantage per position (B*T).
func ClippedSurrogate(lp, old *tensor.Tensor, adv []float32, eps float32) *tensor.Tensor {
	s := lp.Shape()
	a := tensor.New(adv, s...).MustTo(lp.Device())
	ratio := lp.Sub(old.Detach()).Exp()
	un := ratio.Mul(a)
	cl := ratio.Clamp(1-eps, 1+eps).Mul(a)
	// min(un, cl) = cl + min(un - cl, 0) = cl - relu(cl - un)
	return cl.Sub(cl.Sub(un).Relu()).Neg()
}

// MaskedMean averages x [B,T] over positions where mask is 1 (the token
// mean over all completions of the batch).
func MaskedMean(x *tensor.Tensor, mask []float32) *tensor.Tensor {
	n := float32(0)
	for _, v := range mask {
		n += v
	}
	if n == 0 {
		return x.Sum(nil, false).MulScalar(0)
	}
	return x.Mul(tensor.New(mask, x.Shape()...).MustTo(x.Device())).Sum(nil, false).MulScalar(1 / n)
}

// SequenceMean averages x [B,T] over each sequence's masked positions and
// returns [B] (a per-sequence mean NLL for REINFORCE).
func SequenceMean(x *tensor.Tensor, mask []float32) *tensor.Tensor {
	s := x.Shape()
	B, T := s[0], s[1]
	w := make([]float32, B*T)
	for b := 0; b < B; b++ {
		n := float32(0)
		for t := 0; t < T; t++ {
			n += mask[b*T+t]
		}
		for t := 0; t < T; t++ {
			if n > 0 {
				w[b*T+t] = mask[b*T+t] / n
			}
		}
	}
	return x.Mul(tensor.New(w, B, T).MustTo(x.Device())).Sum([]int{1}, false)
}

// OldLogProbs lays out rollouts' sampling-time log-probs as [B,T] matching
// NewBatch's positions.
func OldLogProbs(rolls []Rollout, b *Batch) *tensor.Tensor {
	out := make([]float32, b.B*b.T)
	for i, r := range rolls {
		off := b.T - len(r.Prompt) - len(r.Completion)
		for k, lp := range r.OldLogProbs {
			out[i*b.T+off+len(r.Prompt)+k-1] = lp
		}
	}
	return tensor.FromSlice(out, b.B, b.T)
}
