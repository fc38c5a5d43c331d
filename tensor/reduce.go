package tensor

import (
	"sort"

	"github.com/kiln-ml/kiln/kernels"
	"github.com/kiln-ml/kiln/kernels/cuda"
)

// normAxes returns the sorted, de-duplicated, non-negative axes (all axes
// when none are given).
func (t *Tensor) normAxes(op string, axes []int) []int {
	if len(axes) == 0 {
		all := make([]int, len(t.shape))
		for i := range all {
			all[i] = i
		}
		return all
	}
	seen := map[int]bool{}
	var out []int
	for _, a := range axes {
		a = t.axis(op, a)
		if seen[a] {
			panic(opErr(op, "axis %d repeated in %v for shape %v", a, axes, t.shape))
		}
		seen[a] = true
		out = append(out, a)
	}
	sort.Ints(out)
	return out
}

// reduceLayout permutes t so the reduced axes come last, and returns the
// contiguous data as rows of length r, plus the kept shape.
func reduceLayout(t *Tensor, axes []int) (data []float32, rows, r int, keptShape, keepdimShape []int) {
	red := map[int]bool{}
	for _, a := range axes {
		red[a] = true
	}
	var perm []int
	r = 1
	keepdimShape = make([]int, len(t.shape))
	for i, d := range t.shape {
		if !red[i] {
			perm = append(perm, i)
			keptShape = append(keptShape, d)
			keepdimShape[i] = d
		} else {
			keepdimShape[i] = 1
			r *= d
		}
	}
	perm = append(perm, axes...)
	p := t.Detach().Permute(perm...)
	data = contigData(p)
	rows = numel(keptShape)
	return
}

// Sum sums over axes (all when none); keepdim keeps them as size 1.
func (t *Tensor) Sum(axes []int, keepdim bool) *Tensor {
	ax := t.normAxes("tensor.Sum", axes)
	var out *Tensor
	var kept, kd []int
	if c := t.st.cu; c != nil {
		out, kept, kd = reduceDev(c, "tensor.Sum", t, ax, false)
	} else if isPrefix(ax) && len(ax) < len(t.shape) && t.IsContiguous() {
		out, kept, kd = sumLeading(t, len(ax))
	} else {
		data, rows, r, k, d := reduceLayout(t, ax)
		kept, kd = k, d
		out = Zeros(rows)
		od := out.st.data
		parallelRows(rows, r, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				od[i] = kernels.Sum(data[i*r : (i+1)*r])
			}
		})
	}
	out = shapeResult(out, kept, kd, keepdim)
	in := t.shape
	return record(out, "Sum", func(g *Tensor) []*Tensor {
		return []*Tensor{g.Reshape(kd...).Expand(in...).Contiguous()}
	}, t)
}

// Mean averages over axes (all when none).
func (t *Tensor) Mean(axes []int, keepdim bool) *Tensor {
	ax := t.normAxes("tensor.Mean", axes)
	n := 1
	for _, a := range ax {
		n *= t.shape[a]
	}
	return t.Sum(ax, keepdim).MulScalar(1 / float32(n))
}

// Max takes the maximum over axes (all when none). The gradient is split
// evenly among tied maxima (PyTorch's amax convention).
func (t *Tensor) Max(axes []int, keepdim bool) *Tensor {
	ax := t.normAxes("tensor.Max", axes)
	if t.Numel() == 0 {
		panic(opErr("tensor.Max", "empty tensor of shape %v", t.shape))
	}
	var out *Tensor
	var kept, kd []int
	if c := t.st.cu; c != nil {
		out, kept, kd = reduceDev(c, "tensor.Max", t, ax, true)
	} else {
		var data []float32
		var rows, r int
		data, rows, r, kept, kd = reduceLayout(t, ax)
		if r == 0 {
			panic(opErr("tensor.Max", "reducing over an empty axis of shape %v", t.shape))
		}
		out = Zeros(rows)
		od := out.st.data
		parallelRows(rows, r, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				od[i] = kernels.Max(data[i*r : (i+1)*r])
			}
		})
	}
	out = shapeResult(out, kept, kd, keepdim)
	in := t.shape
	return record(out, "Max", func(g *Tensor) []*Tensor {
		m := out.Detach().Reshape(kd...)
		mask := binaryCmpEq(t, m) // 1 where t == max
		cnt := mask.Sum(ax, true)
		return []*Tensor{mask.Mul(g.Reshape(kd...).Div(cnt)).Expand(in...).Contiguous()}
	}, t)
}

func shapeResult(out *Tensor, kept, kd []int, keepdim bool) *Tensor {
	if keepdim {
		return out.Reshape(kd...)
	}
	return out.Reshape(kept...)
}

// binaryCmpEq returns 1 where a == b (broadcast), else 0. Not differentiable.
func binaryCmpEq(a, b *Tensor) *Tensor {
	d := a.Detach().Sub(b.Detach())
	if c := d.st.cu; c != nil {
		return elemDev(c, "tensor.Max", d, func(y, x cuda.Buffer) error { return c.d.Unary2(cuda.OpIsEqual, y, x, 0, 0) })
	}
	return unary(d, func(dst, src []float32) {
		for i, v := range src {
			if v == 0 {
				dst[i] = 1
			} else {
				dst[i] = 0
			}
		}
	})
}

func isPrefix(ax []int) bool {
	for i, a := range ax {
		if a != i {
			return false
		}
	}
	return true
}

// sumLeading sums a contiguous tensor over its first n dims by adding whole
// rows (no transposed copy): the gradient of a broadcast bias.
func sumLeading(t *Tensor, n int) (out *Tensor, kept, kd []int) {
	kept = append([]int(nil), t.shape[n:]...)
	kd = append(make([]int, n), kept...)
	for i := range n {
		kd[i] = 1
	}
	R, K := numel(t.shape[:n]), numel(kept)
	src := t.Data()
	out = Zeros(K)
	od := out.st.data
	kernels.Parallel(K, 256, func(lo, hi int) {
		dst := od[lo:hi]
		for i := 0; i < R; i++ {
			row := src[i*K+lo : i*K+hi]
			kernels.Add(dst, dst, row)
		}
	})
	return out, kept, kd
}
