package tensor

// Integer data (indices, token ids, targets) is passed as plain []int with an
// explicit shape where one is needed: tensors themselves are float32 only.

// IndexSelect picks entries idx along dim: out.shape[dim] = len(idx).
func (t *Tensor) IndexSelect(dim int, idx []int) *Tensor {
	d := t.axis("tensor.IndexSelect", dim)
	n := t.shape[d]
	for _, i := range idx {
		if i < 0 || i >= n {
			panic(opErr("tensor.IndexSelect", "index %d out of range for dim %d of shape %v", i, dim, t.shape))
		}
	}
	outer := numel(t.shape[:d])
	inner := numel(t.shape[d+1:])
	if c := t.st.cu; c != nil {
		return indexSelectDev(c, t, d, idx, outer, inner)
	}
	src := contigData(t)
	shape := t.Shape()
	shape[d] = len(idx)
	out := Zeros(shape...)
	od := out.st.data
	for o := 0; o < outer; o++ {
		for j, i := range idx {
			copy(od[(o*len(idx)+j)*inner:(o*len(idx)+j+1)*inner], src[(o*n+i)*inner:(o*n+i+1)*inner])
		}
	}
	in := t.shape
	return record(out, "IndexSelect", func(g *Tensor) []*Tensor {
		gd := contigData(g)
		z := Zeros(in...)
		zd := z.st.data
		for o := 0; o < outer; o++ {
			for j, i := range idx {
				row := zd[(o*n+i)*inner : (o*n+i+1)*inner]
				for k, v := range gd[(o*len(idx)+j)*inner : (o*len(idx)+j+1)*inner] {
					row[k] += v
				}
			}
		}
		return []*Tensor{z}
	}, t)
}

// Embedding looks up rows of the table t [vocab, dim] for ids laid out in
// idsShape; the result has shape idsShape + [dim]. The gradient scatter-adds
// into the table.
func (t *Tensor) Embedding(ids []int, idsShape ...int) *Tensor {
	if len(t.shape) != 2 {
		panic(opErr("tensor.Embedding", "table must be 2-D, have shape %v", t.shape))
	}
	if numel(idsShape) != len(ids) {
		panic(opErr("tensor.Embedding", "%d ids do not fill shape %v", len(ids), idsShape))
	}
	out := t.IndexSelect(0, ids)
	return out.Reshape(append(append([]int{}, idsShape...), t.shape[1])...)
}

// Gather is torch.gather: out[i][j][k] = t[i][idx[i][j][k]][k] for dim 1,
// and so on. idx has shape idxShape (same rank as t, each dim <= t's except
// along dim); the result has shape idxShape.
func (t *Tensor) Gather(dim int, idx []int, idxShape ...int) *Tensor {
	d := t.axis("tensor.Gather", dim)
	if len(idxShape) != len(t.shape) || numel(idxShape) != len(idx) {
		panic(opErr("tensor.Gather", "index shape %v (%d ids) does not fit input shape %v", idxShape, len(idx), t.shape))
	}
	for i := range idxShape {
		if i != d && idxShape[i] > t.shape[i] {
			panic(opErr("tensor.Gather", "index shape %v exceeds input shape %v outside dim %d", idxShape, t.shape, dim))
		}
	}
	srcStr := contigStrides(t.shape)
	offs := make([]int, len(idx))
	ist := contigStrides(idxShape)
	for p, v := range idx {
		if v < 0 || v >= t.shape[d] {
			panic(opErr("tensor.Gather", "index %d out of range for dim %d of shape %v", v, dim, t.shape))
		}
		off, rem := 0, p
		for k := range idxShape {
			c := rem / ist[k]
			rem %= ist[k]
			if k == d {
				c = v
			}
			off += c * srcStr[k]
		}
		offs[p] = off
	}
	if c := t.st.cu; c != nil {
		return gatherDev(c, t, offs, idxShape)
	}
	src := contigData(t)
	out := Zeros(idxShape...)
	for p, o := range offs {
		out.st.data[p] = src[o]
	}
	in := t.shape
	return record(out, "Gather", func(g *Tensor) []*Tensor {
		gd := contigData(g)
		z := Zeros(in...)
		for p, o := range offs {
			z.st.data[o] += gd[p]
		}
		return []*Tensor{z}
	}, t)
}

// Where selects a where cond != 0 and b elsewhere, all three broadcast
// together. cond gets no gradient.
func Where(cond, a, b *Tensor) *Tensor {
	shape, ok := BroadcastShapes(cond.shape, a.shape)
	if ok {
		shape, ok = BroadcastShapes(shape, b.shape)
	}
	if !ok {
		panic(opErr("tensor.Where", "shapes %v, %v and %v are not broadcastable", cond.shape, a.shape, b.shape))
	}
	if c := onDevice("tensor.Where", cond, a, b); c != nil {
		return whereDev(c, cond, a, b, shape)
	}
	m := maskOf(cond.Detach().Expand(shape...))
	ad := a.Detach().Expand(shape...).ToSlice()
	bd := b.Detach().Expand(shape...).ToSlice()
	out := Zeros(shape...)
	for i, keep := range m {
		if keep {
			out.st.data[i] = ad[i]
		} else {
			out.st.data[i] = bd[i]
		}
	}
	return record(out, "Where", func(g *Tensor) []*Tensor {
		gd := contigData(g)
		ga, gb := Zeros(shape...), Zeros(shape...)
		for i, keep := range m {
			if keep {
				ga.st.data[i] = gd[i]
			} else {
				gb.st.data[i] = gd[i]
			}
		}
		return []*Tensor{nil, sumToShape(ga, a.shape), sumToShape(gb, b.shape)}
	}, cond, a, b)
}

// MaskedFill returns t with value wherever mask != 0 (mask broadcasts to t).
func (t *Tensor) MaskedFill(mask *Tensor, value float32) *Tensor {
	if _, ok := BroadcastShapes(mask.shape, t.shape); !ok {
		panic(opErr("tensor.MaskedFill", "mask shape %v does not broadcast to %v", mask.shape, t.shape))
	}
	return Where(mask, scalarOn(value, t), t)
}

func maskOf(t *Tensor) []bool {
	d := t.ToSlice()
	m := make([]bool, len(d))
	for i, v := range d {
		m[i] = v != 0
	}
	return m
}
