package rl

import (
	"fmt"
	"math"

	"github.com/kiln-ml/kiln/tensor"
	"github.com/kiln-ml/kiln/vision/policy"
)

// Advantages normalises rewards within consecutive groups of g:
// A_k = (R_k - mean) / (std + eps), std the population deviation of the
// group. A group whose rewards are all equal carries no signal: its
// advantages are 0 and keep[group] is false (GRPO's online filter).
func Advantages(rewards []float64, g int, eps float64) (adv []float64, keep []bool) {
	if g < 1 || len(rewards)%g != 0 {
		panic(fmt.Sprintf("rl.Advantages: %d rewards in groups of %d", len(rewards), g))
	}
	adv = make([]float64, len(rewards))
	keep = make([]bool, len(rewards)/g)
	for q := range keep {
		grp := rewards[q*g : (q+1)*g]
		var mean float64
		for _, r := range grp {
			mean += r
		}
		mean /= float64(g)
		var v float64
		for _, r := range grp {
			v += (r - mean) * (r - mean)
		}
		std := math.Sqrt(v / float64(g))
		if std < 1e-9 {
			continue
		}
		keep[q] = true
		for k, r := range grp {
			adv[q*g+k] = (r - mean) / (std + eps)
		}
	}
	return adv, keep
}

// Weights are the per-position inputs of the loss for a [B,T] batch.
type Weights struct {
	Mask []float32 // 1 where a trained token (y1 or y2) is predicted
	Adv  []float32 // the trajectory's advantage, on its masked positions
	Beta []float32 // the KL weight of the position's turn
	Turn []int8    // 1 or 2 on masked positions, 0 elsewhere
}

// LossStats are the scalars of one loss evaluation.
type LossStats struct {
	Loss     float64 // the token-mean loss
	KL1, KL2 float64 // mean k3 on turn-1 and turn-2 tokens
	ClipFrac float64 // share of tokens whose ratio is outside the clip range
	Tokens   int
}

// Loss is the GRPO token loss averaged over every masked token of the
// batch:
//
//	-(min(rho A, clip(rho, 1-eps, 1+eps) A) - beta k3),  rho = pi/pi_old
//
// lp are the policy's token log-probs [B,T] (differentiable), old the
// sampling-time ones and ref the frozen reference's.
func Loss(lp, old, ref *tensor.Tensor, w Weights, eps float32) (*tensor.Tensor, LossStats) {
	s := lp.Shape()
	surr := policy.ClippedSurrogate(lp, old, w.Adv, eps)
	k3 := policy.K3(lp, ref)
	per := surr.Add(k3.Mul(tensor.New(w.Beta, s...)))
	loss := policy.MaskedMean(per, w.Mask)

	st := LossStats{Loss: float64(loss.Item())}
	kd, ld, od := k3.ToSlice(), lp.ToSlice(), old.ToSlice()
	var n1, n2, clipped int
	for i, m := range w.Mask {
		if m == 0 {
			continue
		}
		st.Tokens++
		if w.Turn[i] == 1 {
			st.KL1 += float64(kd[i])
			n1++
		} else {
			st.KL2 += float64(kd[i])
			n2++
		}
		if r := math.Exp(float64(ld[i] - od[i])); r < 1-float64(eps) || r > 1+float64(eps) {
			clipped++
		}
	}
	st.KL1 /= float64(max(n1, 1))
	st.KL2 /= float64(max(n2, 1))
	st.ClipFrac = float64(clipped) / float64(max(st.Tokens, 1))
	return loss, st
}
