package kernels

import (
	"fmt"
	"math"
)

// Vector kernels. Each public function checks lengths, then calls its
// implementation hook; the hooks start as the *Ref references below and are
// replaced by SIMD variants at init where the CPU has them.

// checkLen1/checkLen2 are the inlinable fast paths of checkLen.
func checkLen1(name string, n int, a []float32) {
	if len(a) != n {
		checkLen(name, n, a)
	}
}

func checkLen2(name string, n int, a, b []float32) {
	if len(a) != n || len(b) != n {
		checkLen(name, n, a, b)
	}
}

func checkLen(name string, n int, xs ...[]float32) {
	for _, x := range xs {
		if len(x) != n {
			lens := make([]int, len(xs))
			for i, y := range xs {
				lens[i] = len(y)
			}
			panic(fmt.Sprintf("%s: length mismatch %v", name, lens))
		}
	}
}

// Axpy: y += alpha*x.
func Axpy(alpha float32, x, y []float32) { checkLen1("Axpy", len(y), x); axpyImpl(alpha, x, y) }

// Dot returns sum x[i]*y[i].
func Dot(x, y []float32) float32 { checkLen1("Dot", len(x), y); return dotImpl(x, y) }

// Scale: x *= alpha.
func Scale(alpha float32, x []float32) { scaleImpl(alpha, x) }

// Add: dst = a + b (dst may alias a or b). Likewise Sub, Mul, Div.
func Add(dst, a, b []float32) { checkLen2("Add", len(dst), a, b); addImpl(dst, a, b) }
func Sub(dst, a, b []float32) { checkLen2("Sub", len(dst), a, b); subImpl(dst, a, b) }
func Mul(dst, a, b []float32) { checkLen2("Mul", len(dst), a, b); mulImpl(dst, a, b) }
func Div(dst, a, b []float32) { checkLen2("Div", len(dst), a, b); divImpl(dst, a, b) }

// AddScalar: dst = a + s. MulScalar: dst = a * s.
func AddScalar(dst, a []float32, s float32) {
	checkLen1("AddScalar", len(dst), a)
	addScalarImpl(dst, a, s)
}
func MulScalar(dst, a []float32, s float32) {
	checkLen1("MulScalar", len(dst), a)
	mulScalarImpl(dst, a, s)
}

// Sum returns the sum of x; Max its largest element (-Inf when empty, NaN if any is NaN).
func Sum(x []float32) float32 { return sumImpl(x) }
func Max(x []float32) float32 { return maxImpl(x) }

// Exp: dst = exp(src).
func Exp(dst, src []float32) { checkLen1("Exp", len(dst), src); expImpl(dst, src) }

// SoftmaxRow: dst = softmax(src), stable (max subtracted).
func SoftmaxRow(dst, src []float32) { checkLen1("SoftmaxRow", len(dst), src); softmaxRowImpl(dst, src) }

// SoftmaxRowBackward: dx = y*(dy - sum(dy*y)) where y = softmax output.
func SoftmaxRowBackward(dx, y, dy []float32) {
	checkLen2("SoftmaxRowBackward", len(dx), y, dy)
	softmaxRowBackwardImpl(dx, y, dy)
}

// LogSoftmaxRow: dst = src - logsumexp(src).
func LogSoftmaxRow(dst, src []float32) {
	checkLen1("LogSoftmaxRow", len(dst), src)
	logSoftmaxRowImpl(dst, src)
}

// LogSoftmaxRowBackward: dx = dy - exp(y)*sum(dy) where y = log_softmax output.
func LogSoftmaxRowBackward(dx, y, dy []float32) {
	checkLen2("LogSoftmaxRowBackward", len(dx), y, dy)
	logSoftmaxRowBackwardImpl(dx, y, dy)
}

// LayerNormRow: y = (x-mean)*rstd*w + b; w and b may be nil (no affine).
// Returns mean and rstd for the backward.
func LayerNormRow(y, x, w, b []float32, eps float32) (mean, rstd float32) {
	checkLen1("LayerNormRow", len(y), x)
	if w != nil {
		checkLen1("LayerNormRow", len(y), w)
	}
	if b != nil {
		checkLen1("LayerNormRow", len(y), b)
	}
	return layerNormRowImpl(y, x, w, b, eps)
}

// LayerNormRowBackward writes dx and ACCUMULATES dw += dy*xhat, db += dy
// (dw, db may be nil; w nil means unit weight).
func LayerNormRowBackward(dx, dw, db, dy, x, w []float32, mean, rstd float32) {
	checkLen2("LayerNormRowBackward", len(dx), dy, x)
	layerNormRowBackwardImpl(dx, dw, db, dy, x, w, mean, rstd)
}

// RMSNormRow: y = x*rstd*w with rstd = 1/sqrt(mean(x^2)+eps); w may be nil.
func RMSNormRow(y, x, w []float32, eps float32) (rstd float32) {
	checkLen1("RMSNormRow", len(y), x)
	return rmsNormRowImpl(y, x, w, eps)
}

// RMSNormRowBackward writes dx and ACCUMULATES dw += dy*x*rstd (dw may be nil).
func RMSNormRowBackward(dx, dw, dy, x, w []float32, rstd float32) {
	checkLen2("RMSNormRowBackward", len(dx), dy, x)
	rmsNormRowBackwardImpl(dx, dw, dy, x, w, rstd)
}

// Gelu (erf form), GeluTanh (tanh approximation) and Silu, with backwards
// dx = dy * f'(x).
func Gelu(dst, x []float32) { checkLen1("Gelu", len(dst), x); geluImpl(dst, x) }
func GeluBackward(dx, x, dy []float32) {
	checkLen2("GeluBackward", len(dx), x, dy)
	geluBackwardImpl(dx, x, dy)
}
func GeluTanh(dst, x []float32) { checkLen1("GeluTanh", len(dst), x); geluTanhImpl(dst, x) }
func GeluTanhBackward(dx, x, dy []float32) {
	checkLen2("GeluTanhBackward", len(dx), x, dy)
	geluTanhBackwardImpl(dx, x, dy)
}
func Silu(dst, x []float32) { checkLen1("Silu", len(dst), x); siluImpl(dst, x) }
func SiluBackward(dx, x, dy []float32) {
	checkLen2("SiluBackward", len(dx), x, dy)
	siluBackwardImpl(dx, x, dy)
}

// AdamW performs one decoupled-weight-decay Adam step in place (PyTorch's
// torch.optim.AdamW semantics), step counting from 1.
func AdamW(p, g, m, v []float32, lr, beta1, beta2, eps, wd float32, step int) {
	checkLen("AdamW", len(p), g, m, v)
	if step < 1 {
		panic(fmt.Sprintf("AdamW: step %d < 1", step))
	}
	adamWImpl(p, g, m, v, lr, beta1, beta2, eps, wd, step)
}

var (
	axpyImpl                  = AxpyRef
	dotImpl                   = DotRef
	scaleImpl                 = ScaleRef
	addImpl                   = AddRef
	subImpl                   = SubRef
	mulImpl                   = MulRef
	divImpl                   = DivRef
	addScalarImpl             = AddScalarRef
	mulScalarImpl             = MulScalarRef
	sumImpl                   = SumRef
	maxImpl                   = MaxRef
	expImpl                   = ExpRef
	softmaxRowImpl            = SoftmaxRowRef
	softmaxRowBackwardImpl    = SoftmaxRowBackwardRef
	logSoftmaxRowImpl         = LogSoftmaxRowRef
	logSoftmaxRowBackwardImpl = LogSoftmaxRowBackwardRef
	layerNormRowImpl          = LayerNormRowRef
	layerNormRowBackwardImpl  = LayerNormRowBackwardRef
	rmsNormRowImpl            = RMSNormRowRef
	rmsNormRowBackwardImpl    = RMSNormRowBackwardRef
	geluImpl                  = GeluRef
	geluBackwardImpl          = GeluBackwardRef
	geluTanhImpl              = GeluTanhRef
	geluTanhBackwardImpl      = GeluTanhBackwardRef
	siluImpl                  = SiluRef
	siluBackwardImpl          = SiluBackwardRef
	adamWImpl                 = AdamWRef
)

// ---- references ----

func AxpyRef(alpha float32, x, y []float32) {
	for i, v := range x {
		y[i] += alpha * v
	}
}

func DotRef(x, y []float32) float32 {
	var s float64
	for i, v := range x {
		s += float64(v) * float64(y[i])
	}
	return float32(s)
}

func ScaleRef(alpha float32, x []float32) {
	for i := range x {
		x[i] *= alpha
	}
}

func AddRef(dst, a, b []float32) {
	for i := range dst {
		dst[i] = a[i] + b[i]
	}
}
func SubRef(dst, a, b []float32) {
	for i := range dst {
		dst[i] = a[i] - b[i]
	}
}
func MulRef(dst, a, b []float32) {
	for i := range dst {
		dst[i] = a[i] * b[i]
	}
}
func DivRef(dst, a, b []float32) {
	for i := range dst {
		dst[i] = a[i] / b[i]
	}
}
func AddScalarRef(dst, a []float32, s float32) {
	for i := range dst {
		dst[i] = a[i] + s
	}
}
func MulScalarRef(dst, a []float32, s float32) {
	for i := range dst {
		dst[i] = a[i] * s
	}
}

func SumRef(x []float32) float32 {
	var s float64
	for _, v := range x {
		s += float64(v)
	}
	return float32(s)
}

func MaxRef(x []float32) float32 {
	m := float32(math.Inf(-1))
	for _, v := range x {
		if v > m || v != v {
			m = v
			if v != v {
				return v
			}
		}
	}
	return m
}

func ExpRef(dst, src []float32) {
	for i, v := range src {
		dst[i] = float32(math.Exp(float64(v)))
	}
}

func SoftmaxRowRef(dst, src []float32) {
	if len(src) == 0 {
		return
	}
	m := MaxRef(src)
	var s float64
	for i, v := range src {
		e := float32(math.Exp(float64(v - m)))
		dst[i] = e
		s += float64(e)
	}
	inv := float32(1 / s)
	for i := range dst {
		dst[i] *= inv
	}
}

func SoftmaxRowBackwardRef(dx, y, dy []float32) {
	var s float64
	for i, v := range y {
		s += float64(v) * float64(dy[i])
	}
	sf := float32(s)
	for i, v := range y {
		dx[i] = v * (dy[i] - sf)
	}
}

func LogSoftmaxRowRef(dst, src []float32) {
	if len(src) == 0 {
		return
	}
	m := MaxRef(src)
	var s float64
	for _, v := range src {
		s += math.Exp(float64(v - m))
	}
	lse := m + float32(math.Log(s))
	for i, v := range src {
		dst[i] = v - lse
	}
}

func LogSoftmaxRowBackwardRef(dx, y, dy []float32) {
	var s float64
	for _, v := range dy {
		s += float64(v)
	}
	sf := float32(s)
	for i, v := range y {
		dx[i] = dy[i] - float32(math.Exp(float64(v)))*sf
	}
}

func LayerNormRowRef(y, x, w, b []float32, eps float32) (float32, float32) {
	n := len(x)
	if n == 0 {
		return 0, 0
	}
	var s float64
	for _, v := range x {
		s += float64(v)
	}
	mean := s / float64(n)
	var ss float64
	for _, v := range x {
		d := float64(v) - mean
		ss += d * d
	}
	rstd := float32(1 / math.Sqrt(ss/float64(n)+float64(eps)))
	mf := float32(mean)
	for i, v := range x {
		o := (v - mf) * rstd
		if w != nil {
			o *= w[i]
		}
		if b != nil {
			o += b[i]
		}
		y[i] = o
	}
	return mf, rstd
}

func LayerNormRowBackwardRef(dx, dw, db, dy, x, w []float32, mean, rstd float32) {
	n := len(x)
	if n == 0 {
		return
	}
	var sg, sgx float64
	for i, v := range x {
		xh := (v - mean) * rstd
		g := dy[i]
		if w != nil {
			g *= w[i]
		}
		sg += float64(g)
		sgx += float64(g) * float64(xh)
		if dw != nil {
			dw[i] += dy[i] * xh
		}
		if db != nil {
			db[i] += dy[i]
		}
	}
	mg, mgx := float32(sg/float64(n)), float32(sgx/float64(n))
	for i, v := range x {
		xh := (v - mean) * rstd
		g := dy[i]
		if w != nil {
			g *= w[i]
		}
		dx[i] = rstd * (g - mg - xh*mgx)
	}
}

func RMSNormRowRef(y, x, w []float32, eps float32) float32 {
	n := len(x)
	if n == 0 {
		return 0
	}
	var ss float64
	for _, v := range x {
		ss += float64(v) * float64(v)
	}
	rstd := float32(1 / math.Sqrt(ss/float64(n)+float64(eps)))
	for i, v := range x {
		o := v * rstd
		if w != nil {
			o *= w[i]
		}
		y[i] = o
	}
	return rstd
}

func RMSNormRowBackwardRef(dx, dw, dy, x, w []float32, rstd float32) {
	n := len(x)
	if n == 0 {
		return
	}
	var sgx float64
	for i, v := range x {
		g := dy[i]
		if w != nil {
			g *= w[i]
		}
		sgx += float64(g) * float64(v)
		if dw != nil {
			dw[i] += dy[i] * v * rstd
		}
	}
	c := float32(sgx/float64(n)) * rstd * rstd
	for i, v := range x {
		g := dy[i]
		if w != nil {
			g *= w[i]
		}
		dx[i] = rstd * (g - v*c)
	}
}

const (
	invSqrt2    = 0.70710678118654752440
	invSqrt2Pi  = 0.39894228040143267794
	sqrt2OverPi = 0.79788456080286535588
	geluC       = 0.044715
)

func GeluRef(dst, x []float32) {
	for i, v := range x {
		f := float64(v)
		dst[i] = float32(0.5 * f * (1 + math.Erf(f*invSqrt2)))
	}
}

func GeluBackwardRef(dx, x, dy []float32) {
	for i, v := range x {
		f := float64(v)
		d := 0.5*(1+math.Erf(f*invSqrt2)) + f*invSqrt2Pi*math.Exp(-0.5*f*f)
		dx[i] = dy[i] * float32(d)
	}
}

func GeluTanhRef(dst, x []float32) {
	for i, v := range x {
		f := float64(v)
		dst[i] = float32(0.5 * f * (1 + math.Tanh(sqrt2OverPi*(f+geluC*f*f*f))))
	}
}

func GeluTanhBackwardRef(dx, x, dy []float32) {
	for i, v := range x {
		f := float64(v)
		t := math.Tanh(sqrt2OverPi * (f + geluC*f*f*f))
		d := 0.5*(1+t) + 0.5*f*(1-t*t)*sqrt2OverPi*(1+3*geluC*f*f)
		dx[i] = dy[i] * float32(d)
	}
}

func sigmoid64(f float64) float64 {
	if f >= 0 {
		return 1 / (1 + math.Exp(-f))
	}
	e := math.Exp(f)
	return e / (1 + e)
}

func SiluRef(dst, x []float32) {
	for i, v := range x {
		f := float64(v)
		dst[i] = float32(f * sigmoid64(f))
	}
}

func SiluBackwardRef(dx, x, dy []float32) {
	for i, v := range x {
		f := float64(v)
		s := sigmoid64(f)
		dx[i] = dy[i] * float32(s*(1+f*(1-s)))
	}
}

func AdamWRef(p, g, m, v []float32, lr, beta1, beta2, eps, wd float32, step int) {
	bc1 := 1 - math.Pow(float64(beta1), float64(step))
	bc2 := 1 - math.Pow(float64(beta2), float64(step))
	stepSize := float32(float64(lr) / bc1)
	bc2s := float32(math.Sqrt(bc2))
	decay := 1 - lr*wd
	for i := range p {
		gi := g[i]
		m[i] = beta1*m[i] + (1-beta1)*gi
		v[i] = beta2*v[i] + (1-beta2)*gi*gi
		denom := float32(math.Sqrt(float64(v[i])))/bc2s + eps
		p[i] = p[i]*decay - stepSize*m[i]/denom
	}
}
