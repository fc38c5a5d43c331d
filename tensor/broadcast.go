package tensor

import "slices"

// BroadcastShapes returns the NumPy broadcast of shapes a and b: aligned at
// the trailing dims, each pair must be equal or contain a 1. ok is false when
// they do not broadcast.
func BroadcastShapes(a, b []int) (out []int, ok bool) {
	n := max(len(a), len(b))
	out = make([]int, n)
	for i := 0; i < n; i++ {
		da, db := 1, 1
		if j := len(a) - n + i; j >= 0 {
			da = a[j]
		}
		if j := len(b) - n + i; j >= 0 {
			db = b[j]
		}
		switch {
		case da == db:
			out[i] = da
		case da == 1:
			out[i] = db
		case db == 1:
			out[i] = da
		default:
			return nil, false
		}
	}
	return out, true
}

// broadcastStrides returns t's strides for iterating it as shape (which t must
// broadcast to): broadcast dims get stride 0.
func broadcastStrides(op string, t *Tensor, shape []int) []int {
	st := make([]int, len(shape))
	off := len(shape) - len(t.shape)
	if off < 0 {
		panic(opErr(op, "cannot broadcast shape %v to %v", t.shape, shape))
	}
	for i := range t.shape {
		switch {
		case t.shape[i] == shape[off+i]:
			st[off+i] = t.strides[i]
		case t.shape[i] == 1:
			st[off+i] = 0
		default:
			panic(opErr(op, "cannot broadcast shape %v to %v", t.shape, shape))
		}
	}
	return st
}

// Expand returns a view of t broadcast to shape (no copy: broadcast dims get
// stride 0). Its gradient sums over the broadcast dims.
func (t *Tensor) Expand(shape ...int) *Tensor {
	shape = append([]int(nil), shape...)
	st := broadcastStrides("tensor.Expand", t, shape)
	out := &Tensor{shape: shape, strides: st, offset: t.offset, st: t.st}
	in := t.shape
	return record(out, "Expand", func(g *Tensor) []*Tensor { return []*Tensor{sumToShape(g, in)} }, t)
}

// sumToShape reduces g (of a broadcast shape) back to shape by summing the
// dims that broadcasting added or stretched. It is the gradient of every
// broadcasting op.
func sumToShape(g *Tensor, shape []int) *Tensor {
	if slices.Equal(g.shape, shape) {
		return g
	}
	lead := len(g.shape) - len(shape)
	var axes []int
	for i := range g.shape {
		if i < lead || (shape[i-lead] == 1 && g.shape[i] != 1) {
			axes = append(axes, i)
		}
	}
	s := g.Sum(axes, true)
	return s.Reshape(shape...)
}
