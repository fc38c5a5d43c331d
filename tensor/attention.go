package tensor

import (
	"math"
	"slices"

	"github.com/kiln-ml/kiln/kernels"
	"github.com/kiln-ml/kiln/kernels/cuda"
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
//
// Grouped-query attention: with q [..., H, T, D] and k, v [..., Hkv, S, D]
// where Hkv divides H, query head h uses key/value head h/(H/Hkv). The
// group's query heads are contiguous, so each (batch, kv head) is one GEMM of
// (H/Hkv)*T query rows: no repeated K/V is ever materialised.
func ScaledDotProductAttention(q, k, v *Tensor, o AttnOpts) *Tensor {
	const op = "tensor.ScaledDotProductAttention"
	nd := len(q.shape)
	if nd < 2 || len(k.shape) != nd || len(v.shape) != nd {
		panic(opErr(op, "q %v, k %v, v %v must have the same rank >= 2", q.shape, k.shape, v.shape))
	}
	rep := 1
	if nd >= 3 && q.shape[nd-3] != k.shape[nd-3] {
		h, hkv := q.shape[nd-3], k.shape[nd-3]
		if hkv == 0 || h%hkv != 0 || v.shape[nd-3] != hkv {
			panic(opErr(op, "query heads of q %v are not a multiple of the kv heads of k %v, v %v", q.shape, k.shape, v.shape))
		}
		rep = h / hkv
	}
	lead := k.shape[:nd-2]
	outer := max(nd-3, 0) // dims before the head dim must match exactly
	if !slices.Equal(q.shape[:outer], k.shape[:outer]) || !slices.Equal(lead, v.shape[:nd-2]) || (rep == 1 && !slices.Equal(q.shape[:nd-2], lead)) {
		panic(opErr(op, "leading dims differ: q %v, k %v, v %v", q.shape, k.shape, v.shape))
	}
	T, D := q.shape[nd-2], q.shape[nd-1]
	S, Dv := k.shape[nd-2], v.shape[nd-1]
	if k.shape[nd-1] != D || v.shape[nd-2] != S {
		panic(opErr(op, "q %v, k %v, v %v: need k [..., S, D] and v [..., S, Dv]", q.shape, k.shape, v.shape))
	}
	G := numel(lead) // one GEMM per (batch, kv head) ...
	TQ := rep * T    // ... over the group's query rows
	perItem := 1
	if o.KeyPadding != nil {
		if nd < 3 || len(o.KeyPadding) != q.shape[0]*S {
			panic(opErr(op, "KeyPadding has %d entries, want shape[0]*S for q %v, k %v", len(o.KeyPadding), q.shape, k.shape))
		}
		perItem = G / q.shape[0]
	}
	if c := onDevice(op, q, k, v); c != nil {
		return attentionDev(c, q, k, v, o, cuda.AttnShape{G: G, Rep: rep, T: T, S: S, D: D, Dv: Dv})
	}
	scale := o.Scale
	if scale == 0 {
		scale = float32(1 / math.Sqrt(float64(D)))
	}
	qd := contigData(q)
	// K and V go to the GEMMs as strided matrices when their rows are
	// contiguous: the KV cache hands in a narrow view of a longer buffer,
	// and copying it every decoding step cost a fifth of generation time.
	kd, kld, kbs := matrixRows(k)
	vd, vld, vbs := matrixRows(v)
	outShape := append(append([]int{}, q.shape[:nd-2]...), T, Dv)
	// Buffers a GEMM fills skip zeroing, except where its inner dimension
	// is 0 (then the GEMM writes nothing and the result is zeros).
	out := gemmOut(S, outShape...)
	if out.Numel() == 0 {
		return out
	}
	p := gemmBuf(D, G*TQ*S)
	if S > 0 && T > 0 {
		kernels.SgemmStridedBatched(false, true, TQ, S, D, scale, qd, D, TQ*D, kd, kld, kbs, 0, p, S, TQ*S, G)
	}
	parallelRows(G*TQ, S, func(lo, hi int) {
		tmp := make([]float32, S) // kernels do not promise dst may alias src
		for r := lo; r < hi; r++ {
			row := p[r*S : (r+1)*S]
			g, i := r/TQ, r%T
			// The causal mask cuts the row to a prefix: the softmax runs
			// over keys [0, lim) only (no -Inf for the kernels to step
			// around), and the rest is zero.
			lim := causalLimit(o.Causal, i, S, T)
			clear(row[lim:])
			row = row[:lim]
			any := false
			for j := range row {
				if o.KeyPadding != nil && o.KeyPadding[(g/perItem)*S+j] {
					row[j] = negInf
				} else {
					any = true
				}
			}
			if any {
				kernels.SoftmaxRow(tmp[:lim], row)
				copy(row, tmp)
			} else {
				clear(row)
			}
		}
	})
	if S == 0 {
		// No keys: the output is zeros (an empty weighted sum), and so is
		// dQ; K and V have no elements to take a gradient.
		return record(out, "ScaledDotProductAttention", func(*Tensor) []*Tensor {
			return []*Tensor{Zeros(q.shape...), Zeros(k.shape...), Zeros(v.shape...)}
		}, q, k, v)
	}
	kernels.SgemmStridedBatched(false, false, TQ, Dv, S, 1, p, S, TQ*S, vd, vld, vbs, 0, out.st.data, Dv, TQ*Dv, G)
	return record(out, "ScaledDotProductAttention", func(g *Tensor) []*Tensor {
		gd := contigData(g)
		var gq, gk, gv *Tensor
		if v.requiresGrad {
			gv = gemmOut(TQ, v.shape...) // dV = P^T dO
			kernels.SgemmStridedBatched(true, false, S, Dv, TQ, 1, p, S, TQ*S, gd, Dv, TQ*Dv, 0, gv.st.data, Dv, S*Dv, G)
		}
		if q.requiresGrad || k.requiresGrad {
			ds := allocDirty(G * TQ * S) // dP = dO V^T (Dv > 0 here), then softmax backward
			kernels.SgemmStridedBatched(false, true, TQ, S, Dv, 1, gd, Dv, TQ*Dv, vd, vld, vbs, 0, ds, S, TQ*S, G)
			parallelRows(G*TQ, S, func(lo, hi int) {
				tmp := make([]float32, S)
				for r := lo; r < hi; r++ {
					row := ds[r*S : (r+1)*S]
					lim := causalLimit(o.Causal, r%T, S, T) // past it p is 0, so is dS
					clear(row[lim:])
					row = row[:lim]
					kernels.SoftmaxRowBackward(tmp[:lim], p[r*S:r*S+lim], row)
					copy(row, tmp)
				}
			})
			if q.requiresGrad {
				gq = gemmOut(S, q.shape...) // dQ = dS K * scale
				kernels.SgemmStridedBatched(false, false, TQ, D, S, scale, ds, S, TQ*S, kd, kld, kbs, 0, gq.st.data, D, TQ*D, G)
			}
			if k.requiresGrad {
				gk = gemmOut(TQ, k.shape...) // dK = dS^T Q * scale
				kernels.SgemmStridedBatched(true, false, S, D, TQ, scale, ds, S, TQ*S, qd, D, TQ*D, 0, gk.st.data, D, S*D, G)
			}
		}
		return []*Tensor{gq, gk, gv}
	}, q, k, v)
}

// causalLimit is how many keys query i of T may attend to out of S: all of
// them without the causal mask, else those up to i+S-T (the mask is aligned
// bottom-right, as for a KV cache), clamped to [0, S].
func causalLimit(causal bool, i, S, T int) int {
	if !causal {
		return S
	}
	return min(max(i+S-T+1, 0), S)
}

// matrixRows returns t's data as a batch of matrices over its last two
// dims, for strided GEMMs: the storage from t's offset, the row stride and
// the stride between matrices. Without a copy when the last dim is
// contiguous, rows do not overlap, and the leading dims collapse to one
// stride (a narrow or slice along the rows of a contiguous buffer, such as
// the KV cache's view); otherwise a contiguous copy. Rank >= 2.
func matrixRows(t *Tensor) (data []float32, ld, batchStride int) {
	nd := len(t.shape)
	rows, cols := t.shape[nd-2], t.shape[nd-1]
	n := t.Numel()
	if n == 0 || t.IsContiguous() {
		return contigData(t), cols, rows * cols
	}
	st := t.strides
	ld = st[nd-2]
	ok := (cols == 1 || st[nd-1] == 1) && ld >= cols
	if rows == 1 {
		ld = cols
	}
	// The leading dims must be one uniform stride (size-1 dims are free).
	batchStride, batches := 0, 1
	for i := nd - 3; i >= 0 && ok; i-- {
		if t.shape[i] == 1 {
			continue
		}
		if batchStride == 0 {
			batchStride = st[i]
		} else if st[i] != batchStride*batches {
			ok = false
		}
		batches *= t.shape[i]
	}
	if batchStride == 0 {
		batchStride = rows * ld
	}
	if ok && batches > 1 && batchStride < (rows-1)*ld+cols {
		ok = false // matrices would overlap
	}
	if !ok {
		return contigData(t), cols, rows * cols
	}
	end := t.offset + (batches-1)*batchStride + (rows-1)*ld + cols
	return t.st.data[t.offset:end], ld, batchStride
}

// gemmBuf is n elements for the output of a GEMM with inner dimension k
// and beta 0: unzeroed when k > 0 (the GEMM writes every element), zeros
// when k == 0 (it writes none).
func gemmBuf(k, n int) []float32 {
	if k > 0 {
		return allocDirty(n)
	}
	return allocZeroed(n)
}

// gemmOut is gemmBuf as a tensor of the given shape.
func gemmOut(k int, shape ...int) *Tensor {
	return newContig(gemmBuf(k, checkShape("tensor.gemmOut", shape)), shape)
}
