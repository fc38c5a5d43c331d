package tensor

import "github.com/kiln-ml/kiln/kernels"

// gemmOperand describes the last two dims of a tensor as a GEMM operand:
// row-major (trans=false, ld = row stride) or a transposed view of one
// (trans=true, ld = column stride), so transposed views need no copy.
func gemmOperand(t *Tensor) (x *Tensor, trans bool, ld int) {
	n := len(t.shape)
	r, c := t.shape[n-2], t.shape[n-1]
	sr, sc := t.strides[n-2], t.strides[n-1]
	switch {
	case (sc == 1 || c == 1) && sr >= max(c, 1):
		return t, false, max(sr, c, 1)
	case (sr == 1 || r == 1) && sc >= max(r, 1):
		return t, true, max(sc, r, 1)
	}
	t = t.Detach().Contiguous()
	return t, false, max(c, 1)
}

// MatMul is the matrix product t @ u. 1-D operands are treated as a row
// (left) or column (right) vector and that dim is dropped from the result.
// For N-d operands the last two dims are multiplied and the leading (batch)
// dims broadcast, as in torch.matmul.
func (t *Tensor) MatMul(u *Tensor) *Tensor {
	a, b := t, u
	if len(a.shape) == 0 || len(b.shape) == 0 {
		panic(opErr("tensor.MatMul", "scalar operand: shapes %v and %v", t.shape, u.shape))
	}
	if len(a.shape) == 1 {
		out := a.Unsqueeze(0).MatMul(b)
		if len(b.shape) == 1 { // vector @ vector: the inner call already dropped b's dim
			return out.Squeeze(-1)
		}
		return out.Squeeze(-2)
	}
	if len(b.shape) == 1 {
		b = b.Unsqueeze(1)
		out := a.MatMul(b)
		return out.Squeeze(-1)
	}
	if len(b.shape) == 2 && len(a.shape) > 2 && a.shape[len(a.shape)-1] == b.shape[0] {
		// A batch of rows times one matrix (a Linear layer): one GEMM over
		// all the rows, not one per batch item, and in backward one GEMM
		// for b's gradient with the rows as its inner dim instead of a
		// batched product summed afterwards.
		if rows := foldRows(a); rows != nil {
			outShape := append(append([]int{}, a.shape[:len(a.shape)-1]...), b.shape[1])
			return rows.MatMul(b).Reshape(outShape...)
		}
	}
	na, nb := len(a.shape), len(b.shape)
	m, k := a.shape[na-2], a.shape[na-1]
	k2, n := b.shape[nb-2], b.shape[nb-1]
	if k != k2 {
		panic(opErr("tensor.MatMul", "inner dims differ: shapes %v and %v", t.shape, u.shape))
	}
	batch, ok := BroadcastShapes(a.shape[:na-2], b.shape[:nb-2])
	if !ok {
		panic(opErr("tensor.MatMul", "batch dims of shapes %v and %v are not broadcastable", t.shape, u.shape))
	}
	outShape := append(append([]int{}, batch...), m, n)
	var out *Tensor
	if c := onDevice("tensor.MatMul", a, b); c != nil {
		out = newDev(c, "tensor.MatMul", outShape)
		matmulDev(c, out, a, b, batch, m, n, k)
	} else {
		out = gemmOut(k, outShape...)
		matmulInto(out, a, b, batch, m, n, k)
	}
	return record(out, "MatMul", func(g *Tensor) []*Tensor {
		var ga, gb *Tensor
		if a.requiresGrad {
			ga = sumToShape(g.MatMul(b.Detach().T()), a.shape)
		}
		if b.requiresGrad {
			gb = sumToShape(a.Detach().T().MatMul(g), b.shape)
		}
		return []*Tensor{ga, gb}
	}, a, b)
}

// foldRows views t [..., r, c] as [R, c] when its rows are evenly spaced
// across the batch dims and its columns are contiguous, so that no copy is
// needed; otherwise it returns nil.
func foldRows(t *Tensor) *Tensor {
	n := len(t.shape)
	c := t.shape[n-1]
	if c != 1 && t.strides[n-1] != 1 {
		return nil
	}
	rows, stride := 1, 0
	for d := n - 2; d >= 0; d-- {
		sz := t.shape[d]
		if sz == 1 {
			continue
		}
		if rows == 1 {
			stride = t.strides[d]
		} else if t.strides[d] != stride*rows {
			return nil
		}
		rows *= sz
	}
	if rows == 0 {
		return nil
	}
	if rows == 1 {
		stride = c
	}
	if stride < max(c, 1) {
		return nil
	}
	in := t.shape
	out := t.view([]int{rows, c}, []int{stride, 1}, t.offset)
	return record(out, "Reshape", func(g *Tensor) []*Tensor { return []*Tensor{g.Reshape(in...)} }, t)
}

func matmulInto(out, a, b *Tensor, batch []int, m, n, k int) {
	if out.Numel() == 0 {
		return
	}
	a, ta, lda := gemmOperand(a)
	b, tb, ldb := gemmOperand(b)
	nb := numel(batch)
	sa := broadcastStrides("tensor.MatMul", batchView(a), batch)
	sb := broadcastStrides("tensor.MatMul", batchView(b), batch)
	// Batch dims that coalesce to one stride per operand: one batched call.
	sh, st := coalesce(batch, contigStrides(batch), sa, sb)
	od := out.st.data
	if len(sh) == 1 {
		kernels.SgemmStridedBatched(ta, tb, m, n, k, 1, a.st.data[a.offset:], lda, st[1][0], b.st.data[b.offset:], ldb, st[2][0], 0, od, n, m*n, nb)
		return
	}
	for i := 0; i < nb; i++ {
		oa, ob, rem := a.offset, b.offset, i
		for d := len(batch) - 1; d >= 0; d-- {
			id := rem % batch[d]
			rem /= batch[d]
			oa += id * sa[d]
			ob += id * sb[d]
		}
		kernels.Sgemm(ta, tb, m, n, k, 1, a.st.data[oa:], lda, b.st.data[ob:], ldb, 0, od[i*m*n:], n)
	}
}

// batchView is t without its last two dims (shape and strides only).
func batchView(t *Tensor) *Tensor {
	n := len(t.shape)
	return &Tensor{shape: t.shape[:n-2], strides: t.strides[:n-2], offset: t.offset, st: t.st}
}
