package tensor

import (
	"runtime"

	"github.com/kiln-ml/kiln/kernels/cuda"
)

// The device paths of the ops: each op checks its arguments as on the host,
// then, when its operands are on a GPU, calls the function here, which
// queues the kernels of kernels/cuda. Every function keeps its operands
// alive until their kernels are queued (keep): a collected storage frees
// its buffer, which the next allocation could otherwise reuse under a
// kernel not yet queued.

// keep keeps ts reachable; call it deferred.
func keep(ts ...*Tensor) { runtime.KeepAlive(ts) }

var binCUDA = [...]cuda.BinaryOp{opAdd: cuda.OpAdd, opSub: cuda.OpSub, opMul: cuda.OpMul, opDiv: cuda.OpDiv}

func binaryDev(c *cudaDev, op binOp, a, b *Tensor, shape []int) *Tensor {
	defer keep(a, b)
	name := binNames[op]
	out := newDev(c, name, shape)
	devBinary(name, c, binCUDA[op], out.st.buf, shape, a.dbuf(), broadcastStrides(name, a, shape), b.dbuf(), broadcastStrides(name, b, shape))
	return out
}

func unaryDev(c *cudaDev, op string, t *Tensor, k cuda.UnaryOp) *Tensor {
	return elemDev(c, op, t, func(y, x cuda.Buffer) error { return c.d.Unary(k, y, x) })
}

// elemDev runs the elementwise kernel fwd (y = f(x)) over a contiguous t
// into a new tensor.
func elemDev(c *cudaDev, op string, t *Tensor, fwd func(y, x cuda.Buffer) error) *Tensor {
	defer keep(t)
	x := devContig(op, t)
	out := newDev(c, op, t.shape)
	must(op, fwd(out.st.buf, x.cbuf()))
	runtime.KeepAlive(x)
	return out
}

func scalarDev(c *cudaDev, op string, t *Tensor, s float32, mul bool) *Tensor {
	defer keep(t)
	x := devContig(op, t)
	out := newDev(c, op, t.shape)
	if mul {
		must(op, c.d.MulScalar(out.st.buf, x.cbuf(), s))
	} else {
		must(op, c.d.AddScalar(out.st.buf, x.cbuf(), s))
	}
	runtime.KeepAlive(x)
	return out
}

// mapUnaryDev is mapUnaryOn on a device: the kernel fwd and, for the
// gradient, bwd (dx from x and dy).
func mapUnaryDev(c *cudaDev, t *Tensor, op string, fwd func(y, x cuda.Buffer) error, bwd func(dx, x, dy cuda.Buffer) error) *Tensor {
	name := "tensor." + op
	out := elemDev(c, name, t, fwd)
	return record(out, op, func(g *Tensor) []*Tensor {
		defer keep(g, t)
		x, gc := devContig(name, t), devContig(name, g)
		dx := newDev(c, name, t.shape)
		must(name, bwd(dx.st.buf, x.cbuf(), gc.cbuf()))
		keep(x, gc)
		return []*Tensor{dx}
	}, t)
}

// reduceDev sums (or takes the max) over the sorted axes ax: straight from
// t when t is contiguous and the axes are adjacent ([outer, n, inner]), else
// over a contiguous copy with the axes moved last. out is flat.
func reduceDev(c *cudaDev, op string, t *Tensor, ax []int, isMax bool) (out *Tensor, kept, kd []int) {
	defer keep(t)
	red := map[int]bool{}
	for _, a := range ax {
		red[a] = true
	}
	kd = make([]int, len(t.shape))
	var perm []int
	n := 1
	for i, d := range t.shape {
		if red[i] {
			kd[i] = 1
			n *= d
		} else {
			kd[i] = d
			kept = append(kept, d)
			perm = append(perm, i)
		}
	}
	if isMax && n == 0 {
		panic(opErr(op, "reducing over an empty axis of shape %v", t.shape))
	}
	rows := numel(kept)
	out = newDev(c, op, []int{rows})
	src, outer, inner := t, rows, 1
	if adjacent := len(ax) > 0 && ax[len(ax)-1]-ax[0] == len(ax)-1; adjacent && t.IsContiguous() {
		outer, inner = numel(t.shape[:ax[0]]), numel(t.shape[ax[len(ax)-1]+1:])
	} else {
		src = devContig(op, t.Detach().Permute(append(perm, ax...)...))
	}
	if isMax {
		must(op, c.d.Max(out.st.buf, src.cbuf(), outer, n, inner))
	} else {
		must(op, c.d.Sum(out.st.buf, src.cbuf(), outer, n, inner))
	}
	runtime.KeepAlive(src)
	return out, kept, kd
}

// cloneDev is a contiguous device copy of t (always a new buffer).
func cloneDev(t *Tensor) *Tensor {
	out := newDev(t.st.cu, "tensor.Contiguous", t.shape)
	devCopy("tensor.Contiguous", out.st.buf, t)
	return out
}

// concatDev joins ts along d into a new tensor of shape. Each part lands
// in a contiguous range when the dims before d are all 1; otherwise the
// parts are copied into a buffer laid out with d first (contiguous ranges
// again), which one more copy permutes back.
func concatDev(c *cudaDev, ts []*Tensor, d int, shape []int) *Tensor {
	const op = "tensor.Concat"
	defer keep(ts...)
	out := newDev(c, op, shape)
	outer := numel(shape[:d])
	if outer == 1 {
		inner := numel(shape[d+1:])
		at := 0
		for _, t := range ts {
			n := t.shape[d] * inner
			devCopy(op, out.st.buf.Slice(at, at+n), t)
			at += n
		}
		return out
	}
	perm := []int{d} // d first, the rest in order
	for i := range shape {
		if i != d {
			perm = append(perm, i)
		}
	}
	inv := make([]int, len(perm))
	for i, p := range perm {
		inv[p] = i
	}
	tmpShape := make([]int, len(shape))
	for i, p := range perm {
		tmpShape[i] = shape[p]
	}
	tmp := newDev(c, op, tmpShape)
	rest := numel(tmpShape[1:])
	at := 0
	for _, t := range ts {
		n := t.shape[d] * rest
		devCopy(op, tmp.st.buf.Slice(at, at+n), t.Detach().Permute(perm...))
		at += n
	}
	devCopy(op, out.st.buf, tmp.Permute(inv...))
	runtime.KeepAlive(tmp)
	return out
}

// narrowGradDev is Narrow's gradient on a device: g placed at [start,
// start+length) along d of zeros of shape in (a Concat with zero blocks).
func narrowGradDev(c *cudaDev, g *Tensor, in []int, d, start, length int) *Tensor {
	const op = "tensor.Narrow"
	var parts []*Tensor
	zeros := func(n int) {
		if n > 0 {
			sh := append([]int(nil), in...)
			sh[d] = n
			parts = append(parts, zerosDev(c, op, sh))
		}
	}
	zeros(start)
	parts = append(parts, g)
	zeros(in[d] - start - length)
	if len(parts) == 1 {
		return devContig(op, g)
	}
	return concatDev(c, parts, d, in)
}

// matmulDev is matmulInto on a device: one strided-batched SGEMM when the
// batch dims coalesce, else one SGEMM per batch item.
func matmulDev(c *cudaDev, out, a, b *Tensor, batch []int, m, n, k int) {
	const op = "tensor.MatMul"
	defer keep(out, a, b)
	if out.Numel() == 0 {
		return
	}
	if k == 0 { // nothing to sum: zeros (the GEMM with beta 0 would do, but need not launch)
		must(op, c.d.Fill(out.st.buf, 0))
		return
	}
	a, ta, lda := gemmOperand(a)
	b, tb, ldb := gemmOperand(b)
	defer keep(a, b)
	nb := numel(batch)
	sa := broadcastStrides(op, batchView(a), batch)
	sb := broadcastStrides(op, batchView(b), batch)
	sh, st := coalesce(batch, contigStrides(batch), sa, sb)
	ab, bb, ob := a.dbuf(), b.dbuf(), out.st.buf
	if len(sh) == 1 {
		must(op, c.d.SgemmStridedBatched(ta, tb, m, n, k, 1, ab, lda, st[1][0], bb, ldb, st[2][0], 0, ob, n, m*n, nb))
		return
	}
	for i := 0; i < nb; i++ {
		oa, obb, rem := 0, 0, i
		for d := len(batch) - 1; d >= 0; d-- {
			id := rem % batch[d]
			rem /= batch[d]
			oa += id * sa[d]
			obb += id * sb[d]
		}
		must(op, c.d.Sgemm(ta, tb, m, n, k, 1, ab.Slice(oa, ab.Len()), lda, bb.Slice(obb, bb.Len()), ldb, 0, ob.Slice(i*m*n, ob.Len()), n))
	}
}

// gatherRows runs the embedding kernel over table viewed as [vocab, dim]
// (rows picked by ids) and records its backward, the kernel's deterministic
// scatter-add. IndexSelect, Gather and Where are all row gathers.
func gatherRows(c *cudaDev, op, name string, t, table *Tensor, ids []int, vocab, dim int, outShape []int, grads func(z *Tensor) []*Tensor, inputs ...*Tensor) *Tensor {
	defer keep(table)
	out := newDev(c, name, outShape)
	must(name, c.d.Embedding(out.st.buf, table.cbuf(), ids, vocab, dim))
	return record(out, op, func(g *Tensor) []*Tensor {
		defer keep(g)
		gc := devContig(name, g)
		z := zerosDev(c, name, []int{vocab * dim})
		must(name, c.d.EmbeddingBackward(z.st.buf, gc.cbuf(), ids, vocab, dim))
		runtime.KeepAlive(gc)
		return grads(z)
	}, inputs...)
}

func indexSelectDev(c *cudaDev, t *Tensor, d int, idx []int, outer, inner int) *Tensor {
	n := t.shape[d]
	ids := make([]int, 0, outer*len(idx)) // rows of t viewed as [outer*n, inner]
	for o := 0; o < outer; o++ {
		for _, i := range idx {
			ids = append(ids, o*n+i)
		}
	}
	shape := t.Shape()
	shape[d] = len(idx)
	in := t.shape
	return gatherRows(c, "IndexSelect", "tensor.IndexSelect", t, devContig("tensor.IndexSelect", t), ids, outer*n, inner, shape,
		func(z *Tensor) []*Tensor { return []*Tensor{z.Reshape(in...)} }, t)
}

func gatherDev(c *cudaDev, t *Tensor, offs []int, idxShape []int) *Tensor {
	in := t.shape
	return gatherRows(c, "Gather", "tensor.Gather", t, devContig("tensor.Gather", t), offs, t.Numel(), 1, idxShape,
		func(z *Tensor) []*Tensor { return []*Tensor{z.Reshape(in...)} }, t)
}

// whereDev gathers each output element from a or b (one table: a's
// elements, then b's), by the mask read back from the device.
func whereDev(c *cudaDev, cond, a, b *Tensor, shape []int) *Tensor {
	const name = "tensor.Where"
	defer keep(a, b)
	m := maskOf(cond.Detach().Expand(shape...)) // a download: a sync point
	na, nb := a.Numel(), b.Numel()
	table := newDev(c, name, []int{na + nb})
	devCopy(name, table.st.buf.Slice(0, na), a)
	devCopy(name, table.st.buf.Slice(na, na+nb), b)
	sa := broadcastStrides(name, &Tensor{shape: a.shape, strides: contigStrides(a.shape)}, shape)
	sb := broadcastStrides(name, &Tensor{shape: b.shape, strides: contigStrides(b.shape)}, shape)
	ids := make([]int, len(m))
	idx := make([]int, len(shape))
	for i, keepA := range m {
		if i > 0 { // advance the row-major index
			for d := len(shape) - 1; d >= 0; d-- {
				idx[d]++
				if idx[d] < shape[d] {
					break
				}
				idx[d] = 0
			}
		}
		o, st := 0, sb
		if keepA {
			st = sa
		} else {
			o = na
		}
		for d, v := range idx {
			o += v * st[d]
		}
		ids[i] = o
	}
	as, bs := a.shape, b.shape
	return gatherRows(c, "Where", name, a, table, ids, na+nb, 1, shape, func(z *Tensor) []*Tensor {
		return []*Tensor{nil, z.Narrow(0, 0, na).Reshape(as...), z.Narrow(0, na, nb).Reshape(bs...)}
	}, cond, a, b)
}

// lastDim returns the rows and length of t viewed as rows of its last dim.
func lastDim(op string, t *Tensor) (rows, n int) {
	if len(t.shape) == 0 {
		panic(opErr(op, "needs at least 1 dim, have a scalar"))
	}
	n = t.shape[len(t.shape)-1]
	if n > 0 {
		rows = t.Numel() / n
	}
	return rows, n
}

// bufOf is t's contiguous buffer, or the zero Buffer for nil (the kernels'
// "absent").
func bufOf(t *Tensor) cuda.Buffer {
	if t == nil {
		return cuda.Buffer{}
	}
	return t.cbuf()
}

func softmaxDev(c *cudaDev, t *Tensor, isLog bool) *Tensor {
	op, name := "Softmax", "tensor.Softmax"
	if isLog {
		op, name = "LogSoftmax", "tensor.LogSoftmax"
	}
	defer keep(t)
	rows, n := lastDim(name, t)
	x := devContig(name, t)
	out := newDev(c, name, t.shape)
	if isLog {
		must(name, c.d.LogSoftmax(out.st.buf, x.cbuf(), rows, n))
	} else {
		must(name, c.d.Softmax(out.st.buf, x.cbuf(), rows, n))
	}
	runtime.KeepAlive(x)
	return record(out, op, func(g *Tensor) []*Tensor {
		defer keep(g)
		gc := devContig(name, g)
		dx := newDev(c, name, t.shape)
		if isLog {
			must(name, c.d.LogSoftmaxBackward(dx.st.buf, out.cbuf(), gc.cbuf(), rows, n))
		} else {
			must(name, c.d.SoftmaxBackward(dx.st.buf, out.cbuf(), gc.cbuf(), rows, n))
		}
		runtime.KeepAlive(gc)
		return []*Tensor{dx}
	}, t)
}

func crossEntropyDev(c *cudaDev, t *Tensor, targets []int, ignore int, red Reduction, rows, n int) *Tensor {
	const name = "tensor.CrossEntropy"
	defer keep(t)
	x := devContig(name, t)
	loss, lse := newDev(c, name, []int{rows}), newDev(c, name, []int{rows})
	must(name, c.d.CrossEntropy(loss.st.buf, lse.st.buf, x.cbuf(), targets, rows, n, ignore))
	counted := 0
	for _, y := range targets {
		if y != ignore {
			counted++
		}
	}
	var out *Tensor
	switch red {
	case ReduceNone:
		out = loss.Reshape(t.shape[:len(t.shape)-1]...)
	case ReduceSum, ReduceMean:
		out = loss.Sum(nil, false)
		if red == ReduceMean {
			out = out.MulScalar(1 / float32(counted))
		}
	}
	return record(out, "CrossEntropy", func(g *Tensor) []*Tensor {
		defer keep(g)
		var w *Tensor // the weight of each row's gradient
		if red == ReduceNone {
			w = devContig(name, g.Reshape(rows))
		} else {
			w = g.Reshape(1).Expand(rows).Contiguous()
			if red == ReduceMean {
				w = w.MulScalar(1 / float32(counted))
			}
		}
		dx := newDev(c, name, t.shape)
		must(name, c.d.CrossEntropyBackward(dx.st.buf, x.cbuf(), lse.cbuf(), targets, rows, n, ignore, 0, w.cbuf()))
		runtime.KeepAlive(w)
		return []*Tensor{dx}
	}, t)
}

// affineDev checks a norm's weight or bias (nil: absent) and returns it
// contiguous.
func affineDev(op string, t, p *Tensor) *Tensor {
	if p == nil {
		return nil
	}
	n := t.shape[len(t.shape)-1]
	if len(p.shape) != 1 || p.shape[0] != n {
		panic(opErr(op, "affine parameter of shape %v for input %v (want [%d])", p.shape, t.shape, n))
	}
	return devContig(op, p)
}

// paramGrad is a zeroed gradient buffer for a norm parameter that needs
// one (the backward kernels accumulate), else nil.
func paramGrad(c *cudaDev, op string, p *Tensor, n int) *Tensor {
	if p == nil || !p.requiresGrad {
		return nil
	}
	return zerosDev(c, op, []int{n})
}

func layerNormDev(c *cudaDev, t, w, b *Tensor, eps float32) *Tensor {
	const name = "tensor.LayerNorm"
	defer keep(t, w, b)
	rows, n := lastDim(name, t)
	wc, bc := affineDev(name, t, w), affineDev(name, t, b)
	x := devContig(name, t)
	out := newDev(c, name, t.shape)
	mean, rstd := newDev(c, name, []int{rows}), newDev(c, name, []int{rows})
	must(name, c.d.LayerNorm(out.st.buf, mean.st.buf, rstd.st.buf, x.cbuf(), bufOf(wc), bufOf(bc), rows, n, eps))
	return record(out, "LayerNorm", func(g *Tensor) []*Tensor {
		defer keep(g)
		gc := devContig(name, g)
		dx := newDev(c, name, t.shape)
		dw, db := paramGrad(c, name, w, n), paramGrad(c, name, b, n)
		must(name, c.d.LayerNormBackward(dx.st.buf, bufOf(dw), bufOf(db), gc.cbuf(), x.cbuf(), bufOf(wc), mean.cbuf(), rstd.cbuf(), rows, n))
		runtime.KeepAlive(gc)
		return []*Tensor{dx, dw, db}
	}, t, w, b)
}

func rmsNormDev(c *cudaDev, t, w *Tensor, eps float32) *Tensor {
	const name = "tensor.RMSNorm"
	defer keep(t, w)
	rows, n := lastDim(name, t)
	wc := affineDev(name, t, w)
	x := devContig(name, t)
	out := newDev(c, name, t.shape)
	rstd := newDev(c, name, []int{rows})
	must(name, c.d.RMSNorm(out.st.buf, rstd.st.buf, x.cbuf(), bufOf(wc), rows, n, eps))
	return record(out, "RMSNorm", func(g *Tensor) []*Tensor {
		defer keep(g)
		gc := devContig(name, g)
		dx := newDev(c, name, t.shape)
		dw := paramGrad(c, name, w, n)
		must(name, c.d.RMSNormBackward(dx.st.buf, bufOf(dw), gc.cbuf(), x.cbuf(), bufOf(wc), rstd.cbuf(), rows, n))
		runtime.KeepAlive(gc)
		return []*Tensor{dx, dw}
	}, t, w)
}

func ropeDev(c *cudaDev, t *Tensor, pos []int, base float64) *Tensor {
	const name = "tensor.RoPE"
	defer keep(t)
	x := devContig(name, t)
	out := newDev(c, name, t.shape)
	must(name, c.d.RoPE(out.st.buf, x.cbuf(), t.shape, pos, base, false))
	runtime.KeepAlive(x)
	return record(out, "RoPE", func(g *Tensor) []*Tensor {
		defer keep(g)
		gc := devContig(name, g)
		dx := newDev(c, name, t.shape)
		must(name, c.d.RoPE(dx.st.buf, gc.cbuf(), t.shape, pos, base, true))
		runtime.KeepAlive(gc)
		return []*Tensor{dx}
	}, t)
}

// attentionDev is ScaledDotProductAttention on a device: the fused
// flash-style kernels (forward, and a backward from the row log-sum-exps),
// on contiguous q, k, v. Head dims above 128 are not supported there.
func attentionDev(c *cudaDev, q, k, v *Tensor, o AttnOpts, s cuda.AttnShape) *Tensor {
	const name = "tensor.ScaledDotProductAttention"
	defer keep(q, k, v)
	if max(s.D, s.Dv) > 128 {
		panic(opErr(name, "head dims %d, %d: the device kernels take at most 128 (q %v, k %v, v %v)", s.D, s.Dv, q.shape, k.shape, v.shape))
	}
	nd := len(q.shape)
	outShape := append(append([]int{}, q.shape[:nd-2]...), s.T, s.Dv)
	out := newDev(c, name, outShape)
	lse := newDev(c, name, []int{s.G * s.Rep * s.T})
	co := cuda.AttnOpts{Causal: o.Causal, Scale: o.Scale}
	if o.KeyPadding != nil {
		co.KeyPadding, co.Batch = o.KeyPadding, q.shape[0]
	}
	qc, kc, vc := devContig(name, q), devContig(name, k), devContig(name, v)
	must(name, c.d.Attention(out.st.buf, lse.st.buf, qc.cbuf(), kc.cbuf(), vc.cbuf(), s, co))
	return record(out, "ScaledDotProductAttention", func(g *Tensor) []*Tensor {
		defer keep(g)
		gc := devContig(name, g)
		dq, dk, dv := newDev(c, name, q.shape), newDev(c, name, k.shape), newDev(c, name, v.shape)
		must(name, c.d.AttentionBackward(dq.st.buf, dk.st.buf, dv.st.buf, qc.cbuf(), kc.cbuf(), vc.cbuf(), out.cbuf(), lse.cbuf(), gc.cbuf(), s, co))
		runtime.KeepAlive(gc)
		return []*Tensor{dq, dk, dv}
	}, q, k, v)
}
