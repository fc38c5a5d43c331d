//go:build !noasm && amd64

package kernels

import (
	"math"
	"sync/atomic"
)

// vecAsm is one SIMD width's set of vector kernels (vec_amd64.s). Every
// kernel runs on the largest multiple of the vector width w; the Go methods
// below finish the tail with the reference code and compose the row kernels
// (softmax, norms) from the primitives.
type vecAsm struct {
	w int // vector width in floats: 16 (AVX-512) or 8 (AVX2)
}

// install sets the row kernels and reductions of this width (the
// elementwise ones are set by setFlatAVX512/AVX2 in vec_amd64.go).
func (v *vecAsm) install() {
	maxImpl = v.Max
	softmaxRowImpl = v.SoftmaxRow
	softmaxRowBackwardImpl = v.SoftmaxRowBackward
	logSoftmaxRowImpl = v.LogSoftmaxRow
	logSoftmaxRowBackwardImpl = v.LogSoftmaxRowBackward
	layerNormRowImpl = v.LayerNormRow
	layerNormRowBackwardImpl = v.LayerNormRowBackward
	rmsNormRowImpl = v.RMSNormRow
	rmsNormRowBackwardImpl = v.RMSNormRowBackward
	adamWImpl = v.AdamW
}

// body is the length the assembly handles: the largest multiple of w.
func (v *vecAsm) body(n int) int { return n &^ (v.w - 1) }

func (v *vecAsm) addsv(dst, a []float32, s float32) {
	nv := v.body(len(dst))
	if nv > 0 {
		v.adds(&dst[0], &a[0], s, nv)
	}
	AddScalarRef(dst[nv:], a[nv:], s)
}

func (v *vecAsm) scalv(dst, a []float32, s float32) {
	nv := v.body(len(dst))
	if nv > 0 {
		v.scal(&dst[0], &a[0], s, nv)
	}
	MulScalarRef(dst[nv:], a[nv:], s)
}

func (v *vecAsm) expv(dst, src []float32) {
	nv := v.body(len(dst))
	if nv > 0 {
		v.exp(&dst[0], &src[0], nv)
	}
	ExpRef(dst[nv:], src[nv:])
}

func (v *vecAsm) Axpy(alpha float32, x, y []float32) {
	nv := v.body(len(y))
	if nv > 0 {
		v.axpy(alpha, &x[0], &y[0], nv)
	}
	AxpyRef(alpha, x[nv:], y[nv:])
}

func (v *vecAsm) Scale(alpha float32, x []float32) {
	nv := v.body(len(x))
	if nv > 0 {
		v.scal(&x[0], &x[0], alpha, nv)
	}
	ScaleRef(alpha, x[nv:])
}

// lanes sums the first w lanes and the tail in float64.
func (v *vecAsm) lanes(l *[16]float32, tail float64) float64 {
	for _, x := range l[:v.w] {
		tail += float64(x)
	}
	return tail
}

func (v *vecAsm) dot64(x, y []float32) float64 {
	nv := v.body(len(x))
	var s float64
	for i := nv; i < len(x); i++ {
		s += float64(x[i]) * float64(y[i])
	}
	if nv > 0 {
		var l [16]float32
		v.dot(&x[0], &y[0], nv, &l[0])
		s = v.lanes(&l, s)
	}
	return s
}

func (v *vecAsm) sum64(x []float32) float64 {
	nv := v.body(len(x))
	var s float64
	for _, e := range x[nv:] {
		s += float64(e)
	}
	if nv > 0 {
		var l [16]float32
		v.sum(&x[0], nv, &l[0])
		s = v.lanes(&l, s)
	}
	return s
}

func (v *vecAsm) Dot(x, y []float32) float32 { return float32(v.dot64(x, y)) }
func (v *vecAsm) Sum(x []float32) float32    { return float32(v.sum64(x)) }

func (v *vecAsm) Max(x []float32) float32 {
	nv := v.body(len(x))
	if nv == 0 {
		return MaxRef(x)
	}
	var l, nan [16]float32
	v.max(&x[0], nv, &l[0], &nan[0])
	m := float32(math.Inf(-1))
	for i, e := range l[:v.w] {
		if nan[i] != nan[i] { // a NaN in this lane: let the reference decide
			return MaxRef(x)
		}
		m = max(m, e)
	}
	return max(m, MaxRef(x[nv:]))
}

// expSub writes dst = exp(src - m) and returns the float64 sum. The tail
// (fewer than one vector) runs through the vector exp too, padded with m:
// the scalar math.Exp it replaced cost more than the whole vector body on
// attention's causal rows, whose lengths are anything from 1 up.
func (v *vecAsm) expSub(dst, src []float32, m float32) float64 {
	nv := v.body(len(src))
	var s float64
	if tail := len(src) - nv; tail > 0 {
		var in, out, l [16]float32
		copy(in[:], src[nv:])
		for i := tail; i < v.w; i++ {
			in[i] = m
		}
		v.expsub(&out[0], &in[0], m, v.w, &l[0])
		for _, e := range out[:tail] {
			s += float64(e)
		}
		copy(dst[nv:], out[:tail])
	}
	if nv > 0 {
		var l [16]float32
		v.expsub(&dst[0], &src[0], m, nv, &l[0])
		s = v.lanes(&l, s)
	}
	return s
}

// ones stands in for a nil (unit) weight in the norm backwards.
var ones = func() []float32 {
	o := make([]float32, 8192)
	for i := range o {
		o[i] = 1
	}
	return o
}()

func finite(x float32) bool { return !math.IsInf(float64(x), 0) && x == x }

func (v *vecAsm) SoftmaxRow(dst, src []float32) {
	if len(src) == 0 {
		return
	}
	m := v.Max(src)
	if !finite(m) {
		SoftmaxRowRef(dst, src)
		return
	}
	s := v.expSub(dst, src, m)
	v.Scale(float32(1/s), dst)
}

func (v *vecAsm) SoftmaxRowBackward(dx, y, dy []float32) {
	s := float32(v.dot64(y, dy))
	nv := v.body(len(dx))
	if nv > 0 {
		v.smul(&dx[0], &dy[0], &y[0], -s, nv)
	}
	for i := nv; i < len(dx); i++ {
		dx[i] = y[i] * (dy[i] - s)
	}
}

func (v *vecAsm) LogSoftmaxRow(dst, src []float32) {
	n := len(src)
	if n == 0 {
		return
	}
	m := v.Max(src)
	if !finite(m) {
		LogSoftmaxRowRef(dst, src)
		return
	}
	nv := v.body(n)
	var s float64
	for _, x := range src[nv:] {
		s += math.Exp(float64(x - m))
	}
	if nv > 0 {
		var l [16]float32
		v.expsum(&src[0], m, nv, &l[0])
		s = v.lanes(&l, s)
	}
	lse := m + float32(math.Log(s))
	v.addsv(dst, src, -lse)
}

func (v *vecAsm) LogSoftmaxRowBackward(dx, y, dy []float32) {
	sf := float32(v.sum64(dy))
	nv := v.body(len(dx))
	if nv > 0 {
		v.lsmb(&dx[0], &y[0], &dy[0], sf, nv)
	}
	for i := nv; i < len(dx); i++ {
		dx[i] = dy[i] - float32(math.Exp(float64(y[i])))*sf
	}
}

func (v *vecAsm) LayerNormRow(y, x, w, b []float32, eps float32) (float32, float32) {
	n := len(x)
	if n == 0 {
		return 0, 0
	}
	mean := v.sum64(x) / float64(n)
	mf := float32(mean)
	nv := v.body(n)
	var ss float64
	for _, e := range x[nv:] {
		d := float64(e) - mean
		ss += d * d
	}
	if nv > 0 {
		var l [16]float32
		v.sqdev(&x[0], mf, nv, &l[0])
		ss = v.lanes(&l, ss)
	}
	rstd := float32(1 / math.Sqrt(ss/float64(n)+float64(eps)))
	if w == nil || b == nil {
		if nv > 0 {
			v.norm(&y[0], &x[0], mf, rstd, nv)
		}
		for i := nv; i < n; i++ {
			y[i] = (x[i] - mf) * rstd
		}
		if w != nil {
			Mul(y, y, w)
		}
		if b != nil {
			Add(y, y, b)
		}
		return mf, rstd
	}
	if nv > 0 {
		v.normaff(&y[0], &x[0], &w[0], &b[0], mf, rstd, nv)
	}
	for i := nv; i < n; i++ {
		y[i] = (x[i]-mf)*rstd*w[i] + b[i]
	}
	return mf, rstd
}

// normStats returns sum(dy*w) and sum(dy*w*xh), xh = (x-mean)*xs, and does
// dw += dy*xh*ds and (db != nil) db += dy.
func (v *vecAsm) normStats(dy, x, w, dw, db []float32, mean, xs, ds float32) (sg, sgx float64) {
	n := len(x)
	nv := v.body(n)
	for i := nv; i < n; i++ {
		xh := (x[i] - mean) * xs
		g := dy[i] * w[i]
		sg += float64(g)
		sgx += float64(g) * float64(xh)
		if dw != nil {
			dw[i] += dy[i] * ds * xh
		}
		if db != nil {
			db[i] += dy[i]
		}
	}
	if nv > 0 {
		var l [32]float32
		var dwp, dbp *float32
		if dw != nil {
			dwp = &dw[0]
		}
		if db != nil {
			dbp = &db[0]
		}
		v.nb1(&dy[0], &x[0], &w[0], dwp, dbp, mean, xs, ds, nv, &l[0])
		for i := 0; i < v.w; i++ {
			sg += float64(l[i])
			sgx += float64(l[v.w+i])
		}
	}
	return
}

// normDx writes dx = gs*dy*w + ((x-mean)*xs)*a + c.
func (v *vecAsm) normDx(dx, dy, x, w []float32, mean, xs, gs, a, c float32) {
	nv := v.body(len(dx))
	if nv > 0 {
		v.nb2(&dx[0], &dy[0], &x[0], &w[0], mean, xs, gs, a, c, nv)
	}
	for i := nv; i < len(dx); i++ {
		dx[i] = gs*dy[i]*w[i] + (x[i]-mean)*xs*a + c
	}
}

// short reports whether a non-nil optional row is shorter than n (the
// reference then panics with an index error; the assembly must not run).
func short(n int, xs ...[]float32) bool {
	for _, x := range xs {
		if x != nil && len(x) < n {
			return true
		}
	}
	return false
}

func (v *vecAsm) LayerNormRowBackward(dx, dw, db, dy, x, w []float32, mean, rstd float32) {
	n := len(x)
	if n == 0 || short(n, dw, db, w) {
		LayerNormRowBackwardRef(dx, dw, db, dy, x, w, mean, rstd)
		return
	}
	if w == nil {
		if n > len(ones) {
			LayerNormRowBackwardRef(dx, dw, db, dy, x, w, mean, rstd)
			return
		}
		w = ones[:n]
	}
	sg, sgx := v.normStats(dy, x, w, dw, db, mean, rstd, 1)
	mg, mgx := float32(sg/float64(n)), float32(sgx/float64(n))
	v.normDx(dx, dy, x, w, mean, rstd, rstd, -rstd*mgx, -rstd*mg)
}

func (v *vecAsm) RMSNormRow(y, x, w []float32, eps float32) float32 {
	n := len(x)
	if n == 0 || short(n, w) {
		return RMSNormRowRef(y, x, w, eps)
	}
	ss := v.dot64(x, x)
	rstd := float32(1 / math.Sqrt(ss/float64(n)+float64(eps)))
	if w == nil {
		v.scalv(y, x, rstd)
		return rstd
	}
	nv := v.body(n)
	if nv > 0 {
		v.mul3(&y[0], &x[0], &w[0], rstd, nv)
	}
	for i := nv; i < n; i++ {
		y[i] = x[i] * rstd * w[i]
	}
	return rstd
}

func (v *vecAsm) RMSNormRowBackward(dx, dw, dy, x, w []float32, rstd float32) {
	n := len(x)
	if n == 0 || short(n, dw, w) {
		RMSNormRowBackwardRef(dx, dw, dy, x, w, rstd)
		return
	}
	if w == nil {
		if n > len(ones) {
			RMSNormRowBackwardRef(dx, dw, dy, x, w, rstd)
			return
		}
		w = ones[:n]
	}
	_, sgx := v.normStats(dy, x, w, dw, nil, 0, 1, rstd)
	c := float32(sgx/float64(n)) * rstd * rstd
	v.normDx(dx, dy, x, w, 0, 1, rstd, -rstd*c, 0)
}

// adamBias caches the bias corrections of the last (beta1, beta2, step): an
// optimizer step calls AdamW once per parameter tensor with the same values,
// and two math.Pow calls cost as much as updating a small tensor.
type adamBias struct {
	beta1, beta2 float32
	step         int
	bc1, bc2     float64
}

var lastAdamBias atomic.Pointer[adamBias]

func adamCorrections(beta1, beta2 float32, step int) (bc1, bc2 float64) {
	if c := lastAdamBias.Load(); c != nil && c.beta1 == beta1 && c.beta2 == beta2 && c.step == step {
		return c.bc1, c.bc2
	}
	c := &adamBias{beta1, beta2, step, 1 - math.Pow(float64(beta1), float64(step)), 1 - math.Pow(float64(beta2), float64(step))}
	lastAdamBias.Store(c)
	return c.bc1, c.bc2
}

func (v *vecAsm) AdamW(p, g, m, vv []float32, lr, beta1, beta2, eps, wd float32, step int) {
	nv := v.body(len(p))
	if nv > 0 {
		bc1, bc2 := adamCorrections(beta1, beta2, step)
		stepSize := float32(float64(lr) / bc1)
		bc2s := float32(math.Sqrt(bc2))
		c := [8]float32{beta1, 1 - beta1, beta2, 1 - beta2, 1 - lr*wd, -stepSize, 1 / bc2s, eps}
		v.adamw(&p[0], &g[0], &m[0], &vv[0], nv, &c)
	}
	if nv < len(p) {
		AdamWRef(p[nv:], g[nv:], m[nv:], vv[nv:], lr, beta1, beta2, eps, wd, step)
	}
}
