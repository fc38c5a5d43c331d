package tensor

import "slices"

// View and shape ops. Reshape of a contiguous tensor, Transpose, Permute,
// Slice/Narrow, Squeeze/Unsqueeze and Expand return views that share storage;
// Contiguous, Concat and Stack copy.

func (t *Tensor) view(shape, strides []int, offset int) *Tensor {
	return &Tensor{shape: shape, strides: strides, offset: offset, st: t.st}
}

// Reshape returns t with a new shape of the same element count; one dim may
// be -1 (inferred). A view when t is contiguous, else a copy.
func (t *Tensor) Reshape(shape ...int) *Tensor {
	shape = append([]int(nil), shape...)
	infer, n := -1, 1
	for i, d := range shape {
		switch {
		case d == -1 && infer < 0:
			infer = i
		case d < 0:
			panic(opErr("tensor.Reshape", "bad target shape %v for input %v", shape, t.shape))
		default:
			n *= d
		}
	}
	if infer >= 0 {
		if n == 0 || t.Numel()%n != 0 {
			panic(opErr("tensor.Reshape", "cannot infer -1 in %v for input %v", shape, t.shape))
		}
		shape[infer] = t.Numel() / n
		n *= shape[infer]
	}
	if n != t.Numel() {
		panic(opErr("tensor.Reshape", "shape %v (%d elements) incompatible with input %v (%d elements)", shape, n, t.shape, t.Numel()))
	}
	src := t
	if !t.IsContiguous() {
		src = t.Contiguous()
	}
	out := src.view(shape, contigStrides(shape), src.offset)
	in := t.shape
	return record(out, "Reshape", func(g *Tensor) []*Tensor { return []*Tensor{g.Reshape(in...)} }, t)
}

// Flatten reshapes to one dimension.
func (t *Tensor) Flatten() *Tensor { return t.Reshape(-1) }

// Contiguous returns t if its elements are dense row-major, else a copy that
// is. The gradient passes through unchanged.
func (t *Tensor) Contiguous() *Tensor {
	if t.IsContiguous() {
		return t
	}
	var out *Tensor
	if t.st.cu != nil {
		out = cloneDev(t)
	} else {
		out = newContig(allocDirty(t.Numel()), t.shape)
		copyInto(out.st.data, t)
	}
	return record(out, "Contiguous", func(g *Tensor) []*Tensor { return []*Tensor{g} }, t)
}

// Clone returns a contiguous copy (always a new buffer).
func (t *Tensor) Clone() *Tensor {
	var out *Tensor
	if t.st.cu != nil {
		out = cloneDev(t)
	} else {
		out = newContig(t.ToSlice(), t.shape)
	}
	return record(out, "Clone", func(g *Tensor) []*Tensor { return []*Tensor{g} }, t)
}

// Permute reorders dims: result dim i is input dim perm[i]. A view.
func (t *Tensor) Permute(perm ...int) *Tensor {
	if len(perm) != len(t.shape) {
		panic(opErr("tensor.Permute", "permutation %v for shape %v", perm, t.shape))
	}
	seen := make([]bool, len(perm))
	shape := make([]int, len(perm))
	strides := make([]int, len(perm))
	inv := make([]int, len(perm))
	for i, p := range perm {
		if p < 0 {
			p += len(perm)
		}
		if p < 0 || p >= len(perm) || seen[p] {
			panic(opErr("tensor.Permute", "bad permutation %v for shape %v", perm, t.shape))
		}
		seen[p] = true
		shape[i], strides[i] = t.shape[p], t.strides[p]
		inv[p] = i
	}
	out := t.view(shape, strides, t.offset)
	return record(out, "Permute", func(g *Tensor) []*Tensor { return []*Tensor{g.Permute(inv...)} }, t)
}

// Transpose swaps dims d0 and d1. A view.
func (t *Tensor) Transpose(d0, d1 int) *Tensor {
	d0, d1 = t.axis("tensor.Transpose", d0), t.axis("tensor.Transpose", d1)
	perm := make([]int, len(t.shape))
	for i := range perm {
		perm[i] = i
	}
	perm[d0], perm[d1] = d1, d0
	return t.Permute(perm...)
}

// T transposes the last two dims.
func (t *Tensor) T() *Tensor {
	if len(t.shape) < 2 {
		panic(opErr("tensor.T", "need at least 2 dims, have shape %v", t.shape))
	}
	return t.Transpose(-2, -1)
}

// Slice returns the view t[..., start:end, ...] along dim (Python-style
// negative start/end count from the end; end is clamped to the size).
func (t *Tensor) Slice(dim, start, end int) *Tensor {
	d := t.axis("tensor.Slice", dim)
	n := t.shape[d]
	if start < 0 {
		start += n
	}
	if end < 0 {
		end += n
	}
	end = min(end, n)
	if start < 0 || start > end {
		panic(opErr("tensor.Slice", "bad range [%d:%d] on dim %d of shape %v", start, end, dim, t.shape))
	}
	return t.Narrow(d, start, end-start)
}

// Narrow returns the view of length elements from start along dim.
func (t *Tensor) Narrow(dim, start, length int) *Tensor {
	d := t.axis("tensor.Narrow", dim)
	if start < 0 || length < 0 || start+length > t.shape[d] {
		panic(opErr("tensor.Narrow", "start %d length %d out of range on dim %d of shape %v", start, length, dim, t.shape))
	}
	shape := t.Shape()
	shape[d] = length
	out := t.view(shape, t.Strides(), t.offset+start*t.strides[d])
	in := t.shape
	return record(out, "Narrow", func(g *Tensor) []*Tensor {
		if c := g.st.cu; c != nil {
			return []*Tensor{narrowGradDev(c, g, in, d, start, length)}
		}
		z := Zeros(in...)
		copyRegion(z.Narrow(d, start, length), g)
		return []*Tensor{z}
	}, t)
}

// copyRegion writes src into the view dst (same shape), element by element.
func copyRegion(dst, src *Tensor) {
	if !slices.Equal(dst.shape, src.shape) {
		panic(opErr("tensor.copyRegion", "shapes %v and %v differ", dst.shape, src.shape))
	}
	if dst.Numel() == 0 {
		return
	}
	sh, st := coalesce(dst.shape, dst.strides, src.strides)
	last := len(sh) - 1
	n := sh[last]
	sd, ss := st[0][last], st[1][last]
	dd, sdata := dst.st.data, src.st.data
	forRows(sh, st, []int{dst.offset, src.offset}, 0, numel(sh)/n, func(o []int) {
		if sd == 1 && ss == 1 {
			copy(dd[o[0]:o[0]+n], sdata[o[1]:o[1]+n])
			return
		}
		for i := 0; i < n; i++ {
			dd[o[0]+i*sd] = sdata[o[1]+i*ss]
		}
	})
}

// Unsqueeze inserts a size-1 dim at position dim (0..NDim). A view.
func (t *Tensor) Unsqueeze(dim int) *Tensor {
	n := len(t.shape)
	if dim < 0 {
		dim += n + 1
	}
	if dim < 0 || dim > n {
		panic(opErr("tensor.Unsqueeze", "dim %d out of range for shape %v", dim, t.shape))
	}
	shape := append(append(append([]int{}, t.shape[:dim]...), 1), t.shape[dim:]...)
	st := 1
	if dim < n {
		st = t.strides[dim] * t.shape[dim]
	}
	strides := append(append(append([]int{}, t.strides[:dim]...), st), t.strides[dim:]...)
	out := t.view(shape, strides, t.offset)
	in := t.shape
	return record(out, "Unsqueeze", func(g *Tensor) []*Tensor { return []*Tensor{g.Reshape(in...)} }, t)
}

// Squeeze removes dim, which must have size 1. A view.
func (t *Tensor) Squeeze(dim int) *Tensor {
	d := t.axis("tensor.Squeeze", dim)
	if t.shape[d] != 1 {
		panic(opErr("tensor.Squeeze", "dim %d has size %d in shape %v, want 1", dim, t.shape[d], t.shape))
	}
	shape := append(append([]int{}, t.shape[:d]...), t.shape[d+1:]...)
	strides := append(append([]int{}, t.strides[:d]...), t.strides[d+1:]...)
	out := t.view(shape, strides, t.offset)
	in := t.shape
	return record(out, "Squeeze", func(g *Tensor) []*Tensor { return []*Tensor{g.Reshape(in...)} }, t)
}

// Concat joins tensors along dim; all other dims must match.
func Concat(ts []*Tensor, dim int) *Tensor {
	if len(ts) == 0 {
		panic(opErr("tensor.Concat", "no tensors"))
	}
	d := ts[0].axis("tensor.Concat", dim)
	shape := ts[0].Shape()
	shape[d] = 0
	for _, t := range ts {
		if len(t.shape) != len(shape) {
			panic(opErr("tensor.Concat", "shapes %v differ in rank", shapesOf(ts)))
		}
		for i := range shape {
			if i != d && t.shape[i] != shape[i] {
				panic(opErr("tensor.Concat", "shapes %v differ outside dim %d", shapesOf(ts), dim))
			}
		}
		shape[d] += t.shape[d]
	}
	sizes := make([]int, len(ts))
	for i, t := range ts {
		sizes[i] = t.shape[d]
	}
	var out *Tensor
	if c := onDevice("tensor.Concat", ts...); c != nil {
		out = concatDev(c, ts, d, shape)
	} else {
		out = Zeros(shape...)
		at := 0
		for _, t := range ts {
			copyRegion(out.view(out.Shape(), out.strides, 0).narrowView(d, at, t.shape[d]), t)
			at += t.shape[d]
		}
	}
	return record(out, "Concat", func(g *Tensor) []*Tensor {
		gs := make([]*Tensor, len(ts))
		at := 0
		for i, n := range sizes {
			if ts[i].requiresGrad {
				gs[i] = g.Narrow(d, at, n).Contiguous()
			}
			at += n
		}
		return gs
	}, ts...)
}

// narrowView is Narrow without autograd (for internal writes).
func (t *Tensor) narrowView(d, start, length int) *Tensor {
	shape := t.Shape()
	shape[d] = length
	return t.view(shape, t.Strides(), t.offset+start*t.strides[d])
}

// Stack joins same-shape tensors along a new dim.
func Stack(ts []*Tensor, dim int) *Tensor {
	if len(ts) == 0 {
		panic(opErr("tensor.Stack", "no tensors"))
	}
	us := make([]*Tensor, len(ts))
	for i, t := range ts {
		if !slices.Equal(t.shape, ts[0].shape) {
			panic(opErr("tensor.Stack", "shapes %v differ", shapesOf(ts)))
		}
		us[i] = t.Unsqueeze(dim)
	}
	return Concat(us, dim)
}

func shapesOf(ts []*Tensor) [][]int {
	s := make([][]int, len(ts))
	for i, t := range ts {
		s[i] = t.shape
	}
	return s
}
