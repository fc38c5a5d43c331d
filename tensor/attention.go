package tensor

import (
	"math"

	"github.com/kiln-ml/kiln/kernels"
)

// AttnOpts configures ScaledDotProductAttention.
type AttnOpts struct {
	// Causal lets query i see key j only when j <= i + (S - T): the usual
	// lower triangle when T == S, and the right alignment for a KV cache
	// (T new queries after S-T cached keys).
	Causal bool
	// KeyPadding, when set, has shape[0]*S entries: true marks a padded key
	// of that batch item, which no query attends to.
	KeyPadding []bool
	// Scale multiplies the scores; 0 means 1/sqrt(D).
	Scale float32
}

// ScaledDotProductAttention computes softmax(q k^T * scale + mask) v for
// q [..., T, D], k [..., S, D], v [..., S, Dv] with equal leading dims. It is
// one fused op with its own backward (the probabilities are kept for it). A
// query whose keys are all masked gets a zero output and zero gradients.
func ScaledDotProductAttention(q, k, v *Tensor, o AttnOpts) *Tensor {
	const op = "tensor.ScaledDotProductAttention"
	nd := len(q.shape)
	if nd < 2 || len(k.shape) != nd || len(v.shape) != nd {
		panic(opErr(op, "q %v, k %v, v %v must have the same rank >= 2", q.shape, k.shape, v.shape))
	}
	lead := q.shape[:nd-2]
	if !sameShape(lead, k.shape[:nd-2]) || !sameShape(lead, v.shape[:nd-2]) {
		panic(opErr(op, "leading dims differ: q %v, k %v, v %v", q.shape, k.shape, v.shape))
	}
	T, D := q.shape[nd-2], q.shape[nd-1]
	S, Dv := k.shape[nd-2], v.shape[nd-1]
	if k.shape[nd-1] != D || v.shape[nd-2] != S {
		panic(opErr(op, "q %v, k %v, v %v: need k [..., S, D] and v [..., S, Dv]", q.shape, k.shape, v.shape))
	}
	G := numel(lead)
	perItem := 1
	if o.KeyPadding != nil {
		if nd < 3 || len(o.KeyPadding) != q.shape[0]*S {
			panic(opErr(op, "KeyPadding has %d entries, want shape[0]*S for q %v, k %v", len(o.KeyPadding), q.shape, k.shape))
		}
		perItem = G / q.shape[0]
	}
	scale := o.Scale
	if scale == 0 {
		scale = float32(1 / math.Sqrt(float64(D)))
	}
	qd, kd, vd := contigData(q), contigData(k), contigData(v)
	outShape := append(append([]int{}, lead...), T, Dv)
	out := Zeros(outShape...)
	if out.Numel() == 0 {
		return out
	}
	p := make([]float32, G*T*S)
	if S > 0 && T > 0 {
		kernels.SgemmStridedBatched(false, true, T, S, D, scale, qd, D, T*D, kd, D, S*D, 0, p, S, T*S, G)
	}
	parallelRows(G*T, S, func(lo, hi int) {
		tmp := make([]float32, S) // kernels do not promise dst may alias src
		for r := lo; r < hi; r++ {
			row := p[r*S : (r+1)*S]
			g, i := r/T, r%T
			any := false
			for j := range row {
				masked := (o.Causal && j > i+S-T) || (o.KeyPadding != nil && o.KeyPadding[(g/perItem)*S+j])
				if masked {
					row[j] = negInf
				} else {
					any = true
				}
			}
			if any {
				kernels.SoftmaxRow(tmp, row)
				copy(row, tmp)
			} else {
				clear(row)
			}
		}
	})
	kernels.SgemmStridedBatched(false, false, T, Dv, S, 1, p, S, T*S, vd, Dv, S*Dv, 0, out.st.data, Dv, T*Dv, G)
	return record(out, "ScaledDotProductAttention", func(g *Tensor) []*Tensor {
		gd := contigData(g)
		var gq, gk, gv *Tensor
		if v.requiresGrad {
			gv = Zeros(v.shape...) // dV = P^T dO
			kernels.SgemmStridedBatched(true, false, S, Dv, T, 1, p, S, T*S, gd, Dv, T*Dv, 0, gv.st.data, Dv, S*Dv, G)
		}
		if q.requiresGrad || k.requiresGrad {
			ds := make([]float32, G*T*S) // dP = dO V^T, then softmax backward
			kernels.SgemmStridedBatched(false, true, T, S, Dv, 1, gd, Dv, T*Dv, vd, Dv, S*Dv, 0, ds, S, T*S, G)
			parallelRows(G*T, S, func(lo, hi int) {
				tmp := make([]float32, S)
				for r := lo; r < hi; r++ {
					row := ds[r*S : (r+1)*S]
					kernels.SoftmaxRowBackward(tmp, p[r*S:(r+1)*S], row)
					copy(row, tmp)
				}
			})
			if q.requiresGrad {
				gq = Zeros(q.shape...) // dQ = dS K * scale
				kernels.SgemmStridedBatched(false, false, T, D, S, scale, ds, S, T*S, kd, D, S*D, 0, gq.st.data, D, T*D, G)
			}
			if k.requiresGrad {
				gk = Zeros(k.shape...) // dK = dS^T Q * scale
				kernels.SgemmStridedBatched(true, false, S, D, T, scale, ds, S, T*S, qd, D, T*D, 0, gk.st.data, D, S*D, G)
			}
		}
		return []*Tensor{gq, gk, gv}
	}, q, k, v)
}
