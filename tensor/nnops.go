package tensor

import (
	"math"
	"math/rand/v2"
	"slices"

	"github.com/kiln-ml/kiln/kernels"
)

// rowsOf views t as rows of its last dim: contiguous data, row count, length.
func rowsOf(op string, t *Tensor) ([]float32, int, int) {
	if len(t.shape) == 0 {
		panic(opErr(op, "needs at least 1 dim, have a scalar"))
	}
	n := t.shape[len(t.shape)-1]
	rows := 0
	if n > 0 {
		rows = t.Numel() / n
	}
	return contigData(t), rows, n
}

// rowwise applies f to each row of src into a new tensor of t's shape.
func rowwise(op string, t *Tensor, f func(dst, src []float32)) *Tensor {
	src, rows, n := rowsOf(op, t)
	out := empty(t.shape...) // the row kernels write every element
	od := out.st.data
	parallelRows(rows, n, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			f(od[r*n:(r+1)*n], src[r*n:(r+1)*n])
		}
	})
	return out
}

// rowwiseGrad applies df(dx, y, dy) to each row.
func rowwiseGrad(g, y *Tensor, df func(dx, y, dy []float32)) *Tensor {
	gd, yd := contigData(g), contigData(y)
	n := y.shape[len(y.shape)-1]
	rows := 0
	if n > 0 {
		rows = y.Numel() / n
	}
	out := empty(y.shape...) // the row kernels write every element
	od := out.st.data
	parallelRows(rows, n, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			df(od[r*n:(r+1)*n], yd[r*n:(r+1)*n], gd[r*n:(r+1)*n])
		}
	})
	return out
}

// Softmax over the last axis, numerically stable.
func (t *Tensor) Softmax() *Tensor {
	if c := t.st.cu; c != nil {
		return softmaxDev(c, t, false)
	}
	out := rowwise("tensor.Softmax", t, kernels.SoftmaxRow)
	return record(out, "Softmax", func(g *Tensor) []*Tensor {
		return []*Tensor{rowwiseGrad(g, out, kernels.SoftmaxRowBackward)}
	}, t)
}

// LogSoftmax over the last axis, numerically stable.
func (t *Tensor) LogSoftmax() *Tensor {
	if c := t.st.cu; c != nil {
		return softmaxDev(c, t, true)
	}
	out := rowwise("tensor.LogSoftmax", t, kernels.LogSoftmaxRow)
	return record(out, "LogSoftmax", func(g *Tensor) []*Tensor {
		return []*Tensor{rowwiseGrad(g, out, kernels.LogSoftmaxRowBackward)}
	}, t)
}

// Reduction says how a loss combines its per-item values.
type Reduction int

const (
	ReduceMean Reduction = iota // mean over items that are not ignored
	ReduceSum
	ReduceNone // one value per item (ignored items give 0)
)

// CrossEntropy is the fused log_softmax + negative log-likelihood of logits
// [..., C] against integer targets (one per row). Rows whose target equals
// ignoreIndex contribute nothing (and do not count in the mean; the mean of
// zero counted rows is NaN, as in PyTorch). ReduceNone returns the leading
// shape.
func (t *Tensor) CrossEntropy(targets []int, ignoreIndex int, red Reduction) *Tensor {
	if len(t.shape) == 0 {
		panic(opErr("tensor.CrossEntropy", "needs at least 1 dim, have a scalar"))
	}
	c := t.shape[len(t.shape)-1]
	rows := 0
	if c > 0 {
		rows = t.Numel() / c
	}
	if len(targets) != rows {
		panic(opErr("tensor.CrossEntropy", "%d targets for logits of shape %v (%d rows)", len(targets), t.shape, rows))
	}
	for _, y := range targets {
		if y != ignoreIndex && (y < 0 || y >= c) {
			panic(opErr("tensor.CrossEntropy", "target %d out of range for %d classes (logits %v)", y, c, t.shape))
		}
	}
	if cu := t.st.cu; cu != nil {
		return crossEntropyDev(cu, t, targets, ignoreIndex, red, rows, c)
	}
	logits := contigData(t)
	logp := allocZeroed(len(logits))
	losses := make([]float32, rows)
	parallelRows(rows, c, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			kernels.LogSoftmaxRow(logp[r*c:(r+1)*c], logits[r*c:(r+1)*c])
			if targets[r] != ignoreIndex {
				losses[r] = -logp[r*c+targets[r]]
			}
		}
	})
	counted := 0
	for _, y := range targets {
		if y != ignoreIndex {
			counted++
		}
	}
	var out *Tensor
	switch red {
	case ReduceNone:
		out = FromSlice(losses, t.shape[:len(t.shape)-1]...)
	case ReduceSum, ReduceMean:
		var s float64
		for _, l := range losses {
			s += float64(l)
		}
		if red == ReduceMean {
			s /= float64(counted)
		}
		out = Scalar(float32(s))
	}
	return record(out, "CrossEntropy", func(g *Tensor) []*Tensor {
		gd := contigData(g)
		gx := Zeros(t.shape...)
		xd := gx.st.data
		parallelRows(rows, c, func(lo, hi int) {
			for r := lo; r < hi; r++ {
				if targets[r] == ignoreIndex {
					continue
				}
				var w float32
				switch red {
				case ReduceNone:
					w = gd[r]
				case ReduceSum:
					w = gd[0]
				case ReduceMean:
					w = gd[0] / float32(counted)
				}
				row := xd[r*c : (r+1)*c]
				kernels.Exp(row, logp[r*c:(r+1)*c]) // softmax = exp(log_softmax)
				kernels.Scale(w, row)
				row[targets[r]] -= w
			}
		})
		return []*Tensor{gx}
	}, t)
}

// LayerNorm normalises over the last axis: (x-mean)/sqrt(var+eps)*w + b with
// the biased variance. w and b ([last dim]) may be nil.
func (t *Tensor) LayerNorm(w, b *Tensor, eps float32) *Tensor {
	if c := onDevice("tensor.LayerNorm", t, w, b); c != nil {
		return layerNormDev(c, t, w, b, eps)
	}
	x, rows, n := rowsOf("tensor.LayerNorm", t)
	wd, bd := affineData("tensor.LayerNorm", t, w), affineData("tensor.LayerNorm", t, b)
	out := empty(t.shape...) // the row kernels write every element
	od := out.st.data
	mean, rstd := make([]float32, rows), make([]float32, rows)
	parallelRows(rows, n, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			mean[r], rstd[r] = kernels.LayerNormRow(od[r*n:(r+1)*n], x[r*n:(r+1)*n], wd, bd, eps)
		}
	})
	return record(out, "LayerNorm", func(g *Tensor) []*Tensor {
		gd := contigData(g)
		gx := empty(t.shape...)
		gw, gb := normParamGrads(rows, n, w != nil, b != nil, func(lo, hi int, dw, db []float32) {
			for r := lo; r < hi; r++ {
				kernels.LayerNormRowBackward(gx.st.data[r*n:(r+1)*n], dw, db, gd[r*n:(r+1)*n], x[r*n:(r+1)*n], wd, mean[r], rstd[r])
			}
		})
		return []*Tensor{gx, gw, gb}
	}, t, w, b)
}

// RMSNorm normalises over the last axis: x/sqrt(mean(x^2)+eps)*w (w may be nil).
func (t *Tensor) RMSNorm(w *Tensor, eps float32) *Tensor {
	if c := onDevice("tensor.RMSNorm", t, w); c != nil {
		return rmsNormDev(c, t, w, eps)
	}
	x, rows, n := rowsOf("tensor.RMSNorm", t)
	wd := affineData("tensor.RMSNorm", t, w)
	out := empty(t.shape...) // the row kernels write every element
	od := out.st.data
	rstd := make([]float32, rows)
	parallelRows(rows, n, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			rstd[r] = kernels.RMSNormRow(od[r*n:(r+1)*n], x[r*n:(r+1)*n], wd, eps)
		}
	})
	return record(out, "RMSNorm", func(g *Tensor) []*Tensor {
		gd := contigData(g)
		gx := empty(t.shape...)
		gw, _ := normParamGrads(rows, n, w != nil, false, func(lo, hi int, dw, _ []float32) {
			for r := lo; r < hi; r++ {
				kernels.RMSNormRowBackward(gx.st.data[r*n:(r+1)*n], dw, gd[r*n:(r+1)*n], x[r*n:(r+1)*n], wd, rstd[r])
			}
		})
		return []*Tensor{gx, gw}
	}, t, w)
}

func affineData(op string, t, p *Tensor) []float32 {
	if p == nil {
		return nil
	}
	n := t.shape[len(t.shape)-1]
	if len(p.shape) != 1 || p.shape[0] != n {
		panic(opErr(op, "affine parameter of shape %v for input %v (want [%d])", p.shape, t.shape, n))
	}
	return contigData(p)
}

// normParamGrads runs the row backward over worker chunks, each with its own
// dw/db partials, then adds the partials in chunk order (deterministic for a
// given thread count).
func normParamGrads(rows, n int, hasW, hasB bool, body func(lo, hi int, dw, db []float32)) (*Tensor, *Tensor) {
	chunks := max(1, min(kernels.Threads(), rows))
	parts := make([][2][]float32, chunks)
	kernels.Parallel(chunks, 1, func(lo, hi int) {
		for c := lo; c < hi; c++ {
			var dw, db []float32
			if hasW {
				dw = make([]float32, n)
			}
			if hasB {
				db = make([]float32, n)
			}
			parts[c] = [2][]float32{dw, db}
			body(c*rows/chunks, (c+1)*rows/chunks, dw, db)
		}
	})
	var gw, gb *Tensor
	if hasW {
		gw = Zeros(n)
		for _, p := range parts {
			kernels.Add(gw.st.data, gw.st.data, p[0])
		}
	}
	if hasB {
		gb = Zeros(n)
		for _, p := range parts {
			kernels.Add(gb.st.data, gb.st.data, p[1])
		}
	}
	return gw, gb
}

// RoPE applies rotary position embeddings to x [..., T, D] (D even) in the
// rotate-half convention of HF Llama: for i < D/2 the pair (x[i], x[i+D/2])
// is rotated by angle pos*base^(-2i/D). pos has T entries (shared by all
// leading dims) or x.shape[0]*T entries (one row of positions per item of the
// first dim, for batches whose sequences start at different offsets).
func (t *Tensor) RoPE(pos []int, base float64) *Tensor {
	nd := len(t.shape)
	if nd < 2 || t.shape[nd-1]%2 != 0 {
		panic(opErr("tensor.RoPE", "need [..., T, D] with even D, have shape %v", t.shape))
	}
	T, D := t.shape[nd-2], t.shape[nd-1]
	perFirst := false
	switch len(pos) {
	case T:
	case t.shape[0] * T:
		perFirst = nd >= 3
		if !perFirst {
			panic(opErr("tensor.RoPE", "%d positions for shape %v", len(pos), t.shape))
		}
	default:
		panic(opErr("tensor.RoPE", "%d positions for shape %v (want %d or %d)", len(pos), t.shape, T, t.shape[0]*T))
	}
	if c := t.st.cu; c != nil {
		return ropeDev(c, t, pos, base)
	}
	half := D / 2
	invFreq := make([]float64, half)
	for i := range invFreq {
		invFreq[i] = math.Pow(base, -float64(2*i)/float64(D))
	}
	// Positions are small integers shared across the batch: build the
	// cos/sin table once per distinct position, then index it.
	maxP := 0
	for _, ps := range pos {
		maxP = max(maxP, ps)
	}
	slot := make([]int, len(pos)) // row of each position in the table
	var uniq []int
	if maxP < 4*len(pos)+64 && !slices.ContainsFunc(pos, func(p int) bool { return p < 0 }) {
		seen := make([]int, maxP+1)
		for i, ps := range pos {
			if seen[ps] == 0 {
				uniq = append(uniq, ps)
				seen[ps] = len(uniq)
			}
			slot[i] = seen[ps] - 1
		}
	} else {
		uniq = pos
		for i := range slot {
			slot[i] = i
		}
	}
	cos := make([]float32, len(uniq)*half)
	sin := make([]float32, len(uniq)*half)
	for p, ps := range uniq {
		for i := 0; i < half; i++ {
			a := float64(ps) * invFreq[i]
			cos[p*half+i] = float32(math.Cos(a))
			sin[p*half+i] = float32(math.Sin(a))
		}
	}
	rows := t.Numel() / max(D, 1)
	perItem := rows / max(t.shape[0], 1) // rows per first-dim item
	rowPos := func(r int) int {
		if perFirst {
			return (r/perItem)*T + r%T
		}
		return r % T
	}
	rot := func(src []float32, sign float32) *Tensor {
		out := Zeros(t.shape...)
		od := out.st.data
		parallelRows(rows, D, func(lo, hi int) {
			for r := lo; r < hi; r++ {
				p := slot[rowPos(r)]
				c, s := cos[p*half:(p+1)*half], sin[p*half:(p+1)*half]
				x1, x2 := src[r*D:r*D+half], src[r*D+half:(r+1)*D]
				o1, o2 := od[r*D:r*D+half], od[r*D+half:(r+1)*D]
				for i := range c {
					si := sign * s[i]
					o1[i] = x1[i]*c[i] - x2[i]*si
					o2[i] = x2[i]*c[i] + x1[i]*si
				}
			}
		})
		return out
	}
	out := rot(contigData(t), 1)
	return record(out, "RoPE", func(g *Tensor) []*Tensor {
		return []*Tensor{rot(contigData(g), -1)} // the inverse rotation
	}, t)
}

// Dropout zeroes each element with probability p and scales the rest by
// 1/(1-p), drawing the mask from rng (seeded: same seed, same mask).
func (t *Tensor) Dropout(p float32, rng *rand.Rand) *Tensor {
	if p < 0 || p >= 1 {
		if p == 1 {
			return t.MulScalar(0)
		}
		panic(opErr("tensor.Dropout", "p=%v outside [0,1] (shape %v)", p, t.shape))
	}
	if p == 0 {
		return t
	}
	mask := Zeros(t.shape...)
	scale := 1 / (1 - p)
	for i := range mask.st.data {
		if rng.Float32() >= p {
			mask.st.data[i] = scale
		}
	}
	if t.st.cu != nil {
		mask = upload(t.st.cu, "tensor.Dropout", mask)
	}
	return t.Mul(mask)
}
