package tensor

import (
	"math"
	"slices"

	"github.com/kiln-ml/kiln/kernels"
	"github.com/kiln-ml/kiln/kernels/cuda"
)

type binOp int

const (
	opAdd binOp = iota
	opSub
	opMul
	opDiv
)

var binNames = [...]string{"tensor.Add", "tensor.Sub", "tensor.Mul", "tensor.Div"}

// binary computes a (op) b with broadcasting into a new contiguous tensor.
func binary(op binOp, a, b *Tensor) *Tensor {
	name := binNames[op]
	shape, ok := BroadcastShapes(a.shape, b.shape)
	if !ok {
		panic(opErr(name, "shapes %v and %v are not broadcastable", a.shape, b.shape))
	}
	if c := onDevice(name, a, b); c != nil {
		return binaryDev(c, op, a, b, shape)
	}
	out := empty(shape...) // every row below is written
	if out.Numel() == 0 {
		return out
	}
	dst := out.st.data
	// Fast path: same shape, both contiguous.
	if slices.Equal(a.shape, b.shape) && a.IsContiguous() && b.IsContiguous() {
		ad, bd := a.Data(), b.Data()
		kernels.Parallel(len(dst), 16384, func(lo, hi int) {
			binKernel(op, dst[lo:hi], ad[lo:hi], bd[lo:hi])
		})
		return out
	}
	sh, st := coalesce(shape, contigStrides(shape), broadcastStrides(name, a, shape), broadcastStrides(name, b, shape))
	last := len(sh) - 1
	n := sh[last]
	sa, sb := st[1][last], st[2][last]
	rows := numel(sh) / n
	ad, bd := a.st.data, b.st.data
	parallelRows(rows, n, func(lo, hi int) {
		forRows(sh, st, []int{0, a.offset, b.offset}, lo, hi, func(o []int) {
			d := dst[o[0] : o[0]+n]
			switch {
			case sa == 1 && sb == 1:
				binKernel(op, d, ad[o[1]:o[1]+n], bd[o[2]:o[2]+n])
			case sa == 1 && sb == 0:
				binScalarRight(op, d, ad[o[1]:o[1]+n], bd[o[2]])
			default:
				binStrided(op, d, ad, o[1], sa, bd, o[2], sb)
			}
		})
	})
	return out
}

func binKernel(op binOp, d, a, b []float32) {
	switch op {
	case opAdd:
		kernels.Add(d, a, b)
	case opSub:
		kernels.Sub(d, a, b)
	case opMul:
		kernels.Mul(d, a, b)
	case opDiv:
		kernels.Div(d, a, b)
	}
}

func binScalarRight(op binOp, d, a []float32, s float32) {
	switch op {
	case opAdd:
		kernels.AddScalar(d, a, s)
	case opSub:
		kernels.AddScalar(d, a, -s)
	case opMul:
		kernels.MulScalar(d, a, s)
	case opDiv:
		for i, v := range a {
			d[i] = v / s
		}
	}
}

func binStrided(op binOp, d, a []float32, oa, sa int, b []float32, ob, sb int) {
	switch op {
	case opAdd:
		for i := range d {
			d[i] = a[oa+i*sa] + b[ob+i*sb]
		}
	case opSub:
		for i := range d {
			d[i] = a[oa+i*sa] - b[ob+i*sb]
		}
	case opMul:
		for i := range d {
			d[i] = a[oa+i*sa] * b[ob+i*sb]
		}
	case opDiv:
		for i := range d {
			d[i] = a[oa+i*sa] / b[ob+i*sb]
		}
	}
}

// Add returns t + u with broadcasting.
func (t *Tensor) Add(u *Tensor) *Tensor {
	out := binary(opAdd, t, u)
	ts, us := t.shape, u.shape
	return record(out, "Add", func(g *Tensor) []*Tensor {
		return []*Tensor{sumToShape(g, ts), sumToShape(g, us)}
	}, t, u)
}

// Sub returns t - u with broadcasting.
func (t *Tensor) Sub(u *Tensor) *Tensor {
	out := binary(opSub, t, u)
	ts, us := t.shape, u.shape
	return record(out, "Sub", func(g *Tensor) []*Tensor {
		var gu *Tensor
		if u.requiresGrad {
			gu = sumToShape(g.Neg(), us)
		}
		return []*Tensor{sumToShape(g, ts), gu}
	}, t, u)
}

// Mul returns t * u elementwise with broadcasting.
func (t *Tensor) Mul(u *Tensor) *Tensor {
	out := binary(opMul, t, u)
	return record(out, "Mul", func(g *Tensor) []*Tensor {
		var gt, gu *Tensor
		if t.requiresGrad {
			gt = sumToShape(g.Mul(u), t.shape)
		}
		if u.requiresGrad {
			gu = sumToShape(g.Mul(t), u.shape)
		}
		return []*Tensor{gt, gu}
	}, t, u)
}

// Div returns t / u elementwise with broadcasting.
func (t *Tensor) Div(u *Tensor) *Tensor {
	out := binary(opDiv, t, u)
	return record(out, "Div", func(g *Tensor) []*Tensor {
		var gt, gu *Tensor
		gd := g.Div(u)
		if t.requiresGrad {
			gt = sumToShape(gd, t.shape)
		}
		if u.requiresGrad {
			// d(t/u)/du = -t/u^2 = -(out/u)
			gu = sumToShape(gd.Mul(out).Neg(), u.shape)
		}
		return []*Tensor{gt, gu}
	}, t, u)
}

// ---- unary maps ----

// unary applies f elementwise into a new contiguous tensor.
func unary(t *Tensor, f func(dst, src []float32)) *Tensor {
	src := contigData(t)
	out := empty(t.shape...)
	dst := out.st.data
	kernels.Parallel(len(dst), 8192, func(lo, hi int) { f(dst[lo:hi], src[lo:hi]) })
	return out
}

// contigData returns t's elements in row-major order, without copying when t
// is already contiguous.
func contigData(t *Tensor) []float32 {
	if t.IsContiguous() {
		return t.st.data[t.offset : t.offset+t.Numel()]
	}
	return t.ToSlice()
}

// unaryGrad returns g * d where d = df(x, y) computed elementwise.
func unaryGrad(g, x, y *Tensor, df func(dx, x, y, dy []float32)) *Tensor {
	gd, xd, yd := contigData(g), contigData(x), contigData(y)
	out := empty(g.shape...)
	dst := out.st.data
	kernels.Parallel(len(dst), 8192, func(lo, hi int) { df(dst[lo:hi], xd[lo:hi], yd[lo:hi], gd[lo:hi]) })
	return out
}

// mapUnaryOn applies f elementwise (df its backward) on the host, or the
// device kernel k and its backward on a GPU.
func mapUnaryOn(t *Tensor, op string, k cuda.UnaryOp, f func(dst, src []float32), df func(dx, x, y, dy []float32)) *Tensor {
	if c := t.st.cu; c != nil {
		return mapUnaryDev(c, t, op,
			func(y, x cuda.Buffer) error { return c.d.Unary(k, y, x) },
			func(dx, x, dy cuda.Buffer) error { return c.d.UnaryBackward(k, dx, x, dy) })
	}
	return mapUnaryHost(t, op, f, df)
}

// mapUnary2 is mapUnaryOn for the functions of two scalars a, b (Pow,
// Clamp): the device kernel is cuda.Unary2's k.
func mapUnary2(t *Tensor, op string, k cuda.Unary2Op, a, b float32, f func(dst, src []float32), df func(dx, x, y, dy []float32)) *Tensor {
	if c := t.st.cu; c != nil {
		return mapUnaryDev(c, t, op,
			func(y, x cuda.Buffer) error { return c.d.Unary2(k, y, x, a, b) },
			func(dx, x, dy cuda.Buffer) error { return c.d.Unary2Backward(k, dx, x, dy, a, b) })
	}
	return mapUnaryHost(t, op, f, df)
}

func mapUnaryHost(t *Tensor, op string, f func(dst, src []float32), df func(dx, x, y, dy []float32)) *Tensor {
	out := unary(t, f)
	return record(out, op, func(g *Tensor) []*Tensor {
		return []*Tensor{unaryGrad(g, t, out, df)}
	}, t)
}

// Neg returns -t.
func (t *Tensor) Neg() *Tensor {
	var out *Tensor
	if c := t.st.cu; c != nil {
		out = unaryDev(c, "tensor.Neg", t, cuda.OpNeg)
	} else {
		out = unary(t, func(d, s []float32) { kernels.MulScalar(d, s, -1) })
	}
	return record(out, "Neg", func(g *Tensor) []*Tensor { return []*Tensor{g.Neg()} }, t)
}

// AddScalar returns t + s.
func (t *Tensor) AddScalar(s float32) *Tensor {
	var out *Tensor
	if c := t.st.cu; c != nil {
		out = scalarDev(c, "tensor.AddScalar", t, s, false)
	} else {
		out = unary(t, func(d, x []float32) { kernels.AddScalar(d, x, s) })
	}
	return record(out, "AddScalar", func(g *Tensor) []*Tensor { return []*Tensor{g} }, t)
}

// MulScalar returns t * s.
func (t *Tensor) MulScalar(s float32) *Tensor {
	var out *Tensor
	if c := t.st.cu; c != nil {
		out = scalarDev(c, "tensor.MulScalar", t, s, true)
	} else {
		out = unary(t, func(d, x []float32) { kernels.MulScalar(d, x, s) })
	}
	return record(out, "MulScalar", func(g *Tensor) []*Tensor { return []*Tensor{g.MulScalar(s)} }, t)
}

// SubScalar returns t - s; DivScalar t / s; RSubScalar s - t.
func (t *Tensor) SubScalar(s float32) *Tensor  { return t.AddScalar(-s) }
func (t *Tensor) DivScalar(s float32) *Tensor  { return t.MulScalar(1 / s) }
func (t *Tensor) RSubScalar(s float32) *Tensor { return t.Neg().AddScalar(s) }

// Pow returns t^p elementwise (p a scalar exponent).
func (t *Tensor) Pow(p float32) *Tensor {
	return mapUnary2(t, "Pow", cuda.OpPow, p, 0, func(d, x []float32) {
		for i, v := range x {
			d[i] = float32(math.Pow(float64(v), float64(p)))
		}
	}, func(dx, x, _, dy []float32) {
		for i, v := range x {
			dx[i] = dy[i] * p * float32(math.Pow(float64(v), float64(p-1)))
		}
	})
}

// Exp returns e^t.
func (t *Tensor) Exp() *Tensor {
	return mapUnaryOn(t, "Exp", cuda.OpExp, kernels.Exp, func(dx, _, y, dy []float32) { kernels.Mul(dx, dy, y) })
}

// Log returns the natural logarithm.
func (t *Tensor) Log() *Tensor {
	return mapUnaryOn(t, "Log", cuda.OpLog, func(d, x []float32) {
		for i, v := range x {
			d[i] = float32(math.Log(float64(v)))
		}
	}, func(dx, x, _, dy []float32) { kernels.Div(dx, dy, x) })
}

// Sqrt returns the square root.
func (t *Tensor) Sqrt() *Tensor {
	return mapUnaryOn(t, "Sqrt", cuda.OpSqrt, func(d, x []float32) {
		for i, v := range x {
			d[i] = float32(math.Sqrt(float64(v)))
		}
	}, func(dx, _, y, dy []float32) {
		for i, v := range y {
			dx[i] = dy[i] * 0.5 / v
		}
	})
}

// Rsqrt returns 1/sqrt(t).
func (t *Tensor) Rsqrt() *Tensor {
	return mapUnaryOn(t, "Rsqrt", cuda.OpRsqrt, func(d, x []float32) {
		for i, v := range x {
			d[i] = float32(1 / math.Sqrt(float64(v)))
		}
	}, func(dx, x, y, dy []float32) {
		for i, v := range y {
			dx[i] = dy[i] * -0.5 * v / x[i]
		}
	})
}

// Tanh returns the hyperbolic tangent.
func (t *Tensor) Tanh() *Tensor {
	return mapUnaryOn(t, "Tanh", cuda.OpTanh, func(d, x []float32) {
		for i, v := range x {
			d[i] = float32(math.Tanh(float64(v)))
		}
	}, func(dx, _, y, dy []float32) {
		for i, v := range y {
			dx[i] = dy[i] * (1 - v*v)
		}
	})
}

// Sigmoid returns 1/(1+e^-t), computed without overflow.
func (t *Tensor) Sigmoid() *Tensor {
	return mapUnaryOn(t, "Sigmoid", cuda.OpSigmoid, func(d, x []float32) {
		for i, v := range x {
			f := float64(v)
			if f >= 0 {
				d[i] = float32(1 / (1 + math.Exp(-f)))
			} else {
				e := math.Exp(f)
				d[i] = float32(e / (1 + e))
			}
		}
	}, func(dx, _, y, dy []float32) {
		for i, v := range y {
			dx[i] = dy[i] * v * (1 - v)
		}
	})
}

// Relu returns max(t, 0); its gradient at 0 is 0 (PyTorch's convention).
func (t *Tensor) Relu() *Tensor {
	return mapUnaryOn(t, "Relu", cuda.OpRelu, func(d, x []float32) {
		for i, v := range x {
			d[i] = max(v, 0)
		}
	}, func(dx, x, _, dy []float32) {
		for i, v := range x {
			if v > 0 {
				dx[i] = dy[i]
			} else {
				dx[i] = 0
			}
		}
	})
}

// Gelu returns x*Phi(x) with the exact erf form.
func (t *Tensor) Gelu() *Tensor {
	return mapUnaryOn(t, "Gelu", cuda.OpGelu, kernels.Gelu, func(dx, x, _, dy []float32) { kernels.GeluBackward(dx, x, dy) })
}

// GeluTanh returns the tanh approximation of GELU (PyTorch approximate="tanh").
func (t *Tensor) GeluTanh() *Tensor {
	return mapUnaryOn(t, "GeluTanh", cuda.OpGeluTanh, kernels.GeluTanh, func(dx, x, _, dy []float32) { kernels.GeluTanhBackward(dx, x, dy) })
}

// Silu returns x*sigmoid(x).
func (t *Tensor) Silu() *Tensor {
	return mapUnaryOn(t, "Silu", cuda.OpSilu, kernels.Silu, func(dx, x, _, dy []float32) { kernels.SiluBackward(dx, x, dy) })
}

// Clamp limits t to [lo, hi]; the gradient passes where lo <= t <= hi
// (PyTorch's convention, bounds included). Use ±Inf for a one-sided clamp.
func (t *Tensor) Clamp(lo, hi float32) *Tensor {
	if lo > hi {
		panic(opErr("tensor.Clamp", "lo %v > hi %v (shape %v)", lo, hi, t.shape))
	}
	return mapUnary2(t, "Clamp", cuda.OpClamp, lo, hi, func(d, x []float32) {
		for i, v := range x {
			d[i] = min(max(v, lo), hi)
		}
	}, func(dx, x, _, dy []float32) {
		for i, v := range x {
			if v >= lo && v <= hi {
				dx[i] = dy[i]
			} else {
				dx[i] = 0
			}
		}
	})
}
