package cuda

import (
	"math"
	"sort"
	"testing"

	"github.com/kiln-ml/kiln/kernels"
)

// Go references for the kernels that package kernels has no slice kernel
// for. Each restates, on slices, what the tensor op named beside it
// computes; the conformance tests hold the GPU to them.

// unaryRef applies op forward (dy == nil) or backward (dx = dy*f'(x)),
// with kernels' references where they exist.
func unaryRef(op UnaryOp, out, x, dy []float32) {
	if dy == nil {
		switch op {
		case OpExp:
			kernels.ExpRef(out, x)
		case OpGelu:
			kernels.GeluRef(out, x)
		case OpGeluTanh:
			kernels.GeluTanhRef(out, x)
		case OpSilu:
			kernels.SiluRef(out, x)
		default:
			for i, v := range x {
				out[i] = scalarUnary(op, v)
			}
		}
		return
	}
	switch op {
	case OpExp: // tensor.Exp's backward: dy*exp(x)
		for i, v := range x {
			out[i] = dy[i] * float32(math.Exp(float64(v)))
		}
	case OpGelu:
		kernels.GeluBackwardRef(out, x, dy)
	case OpGeluTanh:
		kernels.GeluTanhBackwardRef(out, x, dy)
	case OpSilu:
		kernels.SiluBackwardRef(out, x, dy)
	case OpLog: // tensor.Log's backward: dy/x in float32
		for i, v := range x {
			out[i] = dy[i] / v
		}
	case OpSqrt: // tensor.Sqrt's: dy*0.5/y, y the rounded sqrt
		for i, v := range x {
			out[i] = dy[i] * 0.5 / float32(math.Sqrt(float64(v)))
		}
	case OpRsqrt: // tensor.Rsqrt's: dy*-0.5*y/x, y the rounded 1/sqrt
		for i, v := range x {
			out[i] = dy[i] * -0.5 * float32(1/math.Sqrt(float64(v))) / v
		}
	default:
		for i, v := range x {
			out[i] = dy[i] * scalarUnaryGrad(op, v)
		}
	}
}

// scalarUnary: tensor.Relu, Tanh, Sigmoid, Neg, Log, Sqrt, Rsqrt, in
// float64 rounded once.
func scalarUnary(op UnaryOp, v float32) float32 {
	f := float64(v)
	switch op {
	case OpRelu:
		return float32(math.Max(f, 0))
	case OpTanh:
		return float32(math.Tanh(f))
	case OpSigmoid:
		return float32(sigmoid(f))
	case OpNeg:
		return -v
	case OpLog:
		return float32(math.Log(f))
	case OpSqrt:
		return float32(math.Sqrt(f))
	case OpRsqrt:
		return float32(1 / math.Sqrt(f))
	}
	panic("scalarUnary: " + op.String())
}

func scalarUnaryGrad(op UnaryOp, v float32) float32 {
	f := float64(v)
	switch op {
	case OpRelu:
		if f > 0 {
			return 1
		}
		return 0
	case OpTanh:
		t := math.Tanh(f)
		return float32(1 - t*t)
	case OpSigmoid:
		s := sigmoid(f)
		return float32(s * (1 - s))
	case OpNeg:
		return -1
	}
	panic("scalarUnaryGrad: " + op.String())
}

// unary2Ref is tensor.Pow (a the exponent), tensor.Clamp (to [a, b]) and
// the tie mask of tensor.Max's gradient (1 where x == a), forward (dy ==
// nil) or backward, in tensor's operations: Pow in float64 rounded once, its
// backward dy*p*float32(x^(p-1)) in float32; Clamp's gradient passes where
// a <= x <= b; the mask's gradient is 0.
func unary2Ref(op Unary2Op, a, b float32, out, x, dy []float32) {
	for i, v := range x {
		switch {
		case op == OpPow && dy == nil:
			out[i] = float32(math.Pow(float64(v), float64(a)))
		case op == OpPow:
			out[i] = dy[i] * a * float32(math.Pow(float64(v), float64(a-1)))
		case op == OpClamp && dy == nil:
			out[i] = min(max(v, a), b)
		case op == OpClamp:
			if v >= a && v <= b {
				out[i] = dy[i]
			} else {
				out[i] = 0
			}
		case op == OpIsEqual && dy == nil:
			out[i] = 0
			if v == a {
				out[i] = 1
			}
		case op == OpIsEqual:
			out[i] = 0
		default:
			panic("unary2Ref: " + op.String())
		}
	}
}

func sigmoid(f float64) float64 {
	if f >= 0 {
		return 1 / (1 + math.Exp(-f))
	}
	e := math.Exp(f)
	return e / (1 + e)
}

// crossEntropyRef is tensor.CrossEntropy's per-row loss (ReduceNone) and the
// gradient for per-row weights w: loss[r] = -log_softmax(row)[t] (0 when
// ignored); dlogits = w[r]*(softmax(row) - onehot(t)).
func crossEntropyRef(loss, dlogits, logits []float32, targets []int, n, ignore int, w []float32) {
	logp := make([]float32, n)
	for r, t := range targets {
		row := logits[r*n : (r+1)*n]
		kernels.LogSoftmaxRowRef(logp, row)
		d := dlogits[r*n : (r+1)*n]
		if t == ignore {
			loss[r] = 0
			clear(d)
			continue
		}
		loss[r] = -logp[t]
		for j, v := range logp {
			d[j] = float32(math.Exp(float64(v))) * w[r]
		}
		d[t] -= w[r]
	}
}

// embeddingRef is tensor.Embedding (IndexSelect along dim 0) and its
// backward, which accumulates in position order.
func embeddingRef(out, table []float32, ids []int, dim int) {
	for i, id := range ids {
		copy(out[i*dim:(i+1)*dim], table[id*dim:(id+1)*dim])
	}
}

func embeddingBackwardRef(dtable, dy []float32, ids []int, dim int) {
	for i, id := range ids {
		row := dtable[id*dim : (id+1)*dim]
		for j, v := range dy[i*dim : (i+1)*dim] {
			row[j] += v
		}
	}
}

// ropeRef is tensor.RoPE on a contiguous x of the given shape (sign -1:
// its backward).
func ropeRef(out, x []float32, shape, pos []int, base float64, sign float32) {
	nd := len(shape)
	T, D := shape[nd-2], shape[nd-1]
	half := D / 2
	rows := len(x) / D
	perFirst := len(pos) != T
	perItem := rows / shape[0]
	for r := 0; r < rows; r++ {
		p := pos[r%T]
		if perFirst {
			p = pos[(r/perItem)*T+r%T]
		}
		for i := 0; i < half; i++ {
			a := float64(p) * math.Pow(base, -float64(2*i)/float64(D))
			c, s := float32(math.Cos(a)), float32(math.Sin(a))
			si := sign * s
			x1, x2 := x[r*D+i], x[r*D+half+i]
			out[r*D+i] = x1*c - x2*si
			out[r*D+half+i] = x2*c + x1*si
		}
	}
}

// sampleRef is vision's sampler (sampler.pick) for one row with the
// uniform draw u in [0, 1): it returns the token and its temperature-1
// log-probability.
func sampleRef(row []float32, u float64, o SampleOpts) (int, float32) {
	tok, lp, _ := sampleRefGap(row, u, o)
	return tok, lp
}

// sampleRefGap is sampleRef that also returns how far the draw lies, in
// probability mass, from the nearer end of the chosen token's interval in
// the rank walk (+Inf for greedy).
func sampleRefGap(row []float32, u float64, o SampleOpts) (int, float32, float64) {
	V := len(row)
	logp := make([]float32, V)
	kernels.LogSoftmaxRowRef(logp, row)
	if o.Temperature <= 0 {
		best := 0
		for j, v := range row {
			if v > row[best] {
				best = j
			}
		}
		return best, logp[best], math.Inf(1)
	}
	z, prob, order := make([]float32, V), make([]float32, V), make([]int, V)
	inv := 1 / o.Temperature
	for j, v := range row {
		z[j] = v * inv
	}
	kernels.SoftmaxRowRef(prob, z)
	for j := range order {
		order[j] = j
	}
	keep := V
	if o.TopK > 0 || (o.TopP > 0 && o.TopP < 1) {
		sort.SliceStable(order, func(a, b int) bool { return prob[order[a]] > prob[order[b]] })
		if o.TopK > 0 {
			keep = min(keep, o.TopK)
		}
		if o.TopP > 0 && o.TopP < 1 {
			var c float64
			for j := 0; j < keep; j++ {
				c += float64(prob[order[j]])
				if c >= float64(o.TopP) {
					keep = j + 1
					break
				}
			}
		}
	}
	var total float64
	for _, j := range order[:keep] {
		total += float64(prob[j])
	}
	u *= total
	x := u
	tok := order[keep-1]
	var lo float64
	for _, j := range order[:keep] {
		u -= float64(prob[j])
		if u < 0 {
			tok = j
			break
		}
		lo += float64(prob[j])
	}
	gap := math.Min(math.Abs(x-lo), math.Abs(x-lo-float64(prob[tok])))
	return tok, logp[tok], gap
}

// attentionRef is tensor.ScaledDotProductAttention on slices laid out as
// AttnShape says, and its backward when dout is non-nil (dq, dk, dv
// written). It follows tensor's steps: scores by SgemmRef, masked scores
// -Inf, SoftmaxRowRef (a row with nothing visible is zero), and the GEMMs
// of the backward with SoftmaxRowBackwardRef between them.
func attentionRef(out, q, k, v []float32, s AttnShape, o AttnOpts, dout, dq, dk, dv []float32) {
	tq := s.Rep * s.T
	scale := attnScale(o, s.D)
	perItem := 1
	if o.KeyPadding != nil {
		perItem = s.G / o.Batch
	}
	p := make([]float32, tq*s.S)
	tmp := make([]float32, s.S)
	for g := 0; g < s.G; g++ {
		qg, kg, vg := q[g*tq*s.D:], k[g*s.S*s.D:], v[g*s.S*s.Dv:]
		if s.S > 0 && tq > 0 {
			kernels.SgemmRef(false, true, tq, s.S, s.D, scale, qg, s.D, kg, s.D, 0, p, s.S)
		}
		for r := 0; r < tq; r++ {
			row, i := p[r*s.S:(r+1)*s.S], r%s.T
			any := false
			for j := range row {
				if (o.Causal && j > i+s.S-s.T) || (o.KeyPadding != nil && o.KeyPadding[(g/perItem)*s.S+j]) {
					row[j] = float32(math.Inf(-1))
				} else {
					any = true
				}
			}
			if any {
				kernels.SoftmaxRowRef(tmp, row)
				copy(row, tmp)
			} else {
				clear(row)
			}
		}
		if tq > 0 {
			kernels.SgemmRef(false, false, tq, s.Dv, s.S, 1, p, s.S, vg, s.Dv, 0, out[g*tq*s.Dv:], s.Dv)
		}
		if dout == nil {
			continue
		}
		dog := dout[g*tq*s.Dv:]
		kernels.SgemmRef(true, false, s.S, s.Dv, tq, 1, p, s.S, dog, s.Dv, 0, dv[g*s.S*s.Dv:], s.Dv)
		ds := make([]float32, tq*s.S)
		kernels.SgemmRef(false, true, tq, s.S, s.Dv, 1, dog, s.Dv, vg, s.Dv, 0, ds, s.S)
		for r := 0; r < tq; r++ {
			kernels.SoftmaxRowBackwardRef(tmp, p[r*s.S:(r+1)*s.S], ds[r*s.S:(r+1)*s.S])
			copy(ds[r*s.S:], tmp)
		}
		kernels.SgemmRef(false, false, tq, s.D, s.S, scale, ds, s.S, kg, s.D, 0, dq[g*tq*s.D:], s.D)
		kernels.SgemmRef(true, false, s.S, s.D, tq, scale, ds, s.S, qg, s.D, 0, dk[g*s.S*s.D:], s.D)
	}
}

// roundTF32 rounds to TF32 as cvt.rna.tf32.f32 does: 10 mantissa bits, to
// nearest, ties away from zero (finite inputs).
func roundTF32(x float32) float32 {
	return math.Float32frombits((math.Float32bits(x) + 0x1000) &^ 0x1fff)
}

// bf16Bits rounds to BF16, to nearest even (finite inputs), and returns its
// 16 bits.
func bf16Bits(x float32) uint16 {
	b := math.Float32bits(x)
	return uint16((b + 0x7fff + (b>>16)&1) >> 16)
}

func roundBF16(x float32) float32 { return math.Float32frombits(uint32(bf16Bits(x)) << 16) }

// TestRefs checks the references above on values worked by hand.
func TestRefs(t *testing.T) {
	loss, d := make([]float32, 2), make([]float32, 4)
	crossEntropyRef(loss, d, []float32{0, 0, 1, 2}, []int{1, -1}, 2, -1, []float32{1, 1})
	if math.Abs(float64(loss[0])-math.Ln2) > 1e-6 || loss[1] != 0 || d[0] != 0.5 || d[1] != -0.5 || d[2] != 0 {
		t.Fatalf("crossEntropyRef: loss %v grad %v", loss, d)
	}
	out := make([]float32, 4)
	ropeRef(out, []float32{1, 0, 0, 1}, []int{1, 2, 2}, []int{0, 1}, 1, 1)
	// position 1, angle 1 rad: (0,1) -> (-sin 1, cos 1)
	if out[0] != 1 || out[1] != 0 || math.Abs(float64(out[2])+math.Sin(1)) > 1e-7 || math.Abs(float64(out[3])-math.Cos(1)) > 1e-7 {
		t.Fatalf("ropeRef: %v", out)
	}
	dt := make([]float32, 4)
	embeddingBackwardRef(dt, []float32{1, 2, 3, 4, 5, 6}, []int{1, 0, 1}, 2)
	if dt[0] != 3 || dt[1] != 4 || dt[2] != 6 || dt[3] != 8 {
		t.Fatalf("embeddingBackwardRef: %v", dt)
	}
	if g := roundTF32(1 + 0x1p-11); g != 1+0x1p-10 { // a tie: away from zero
		t.Errorf("roundTF32(1+2^-11) = %v", g)
	}
	if g := roundBF16(1 + 0x1p-8); g != 1 { // a tie: to even
		t.Errorf("roundBF16(1+2^-8) = %v", g)
	}
	if g := roundBF16(1 + 3*0x1p-8); g != 1+0x1p-6 {
		t.Errorf("roundBF16(1+3*2^-8) = %v", g)
	}
	// attentionRef with one key: the output is v, whatever the scores.
	attOut := make([]float32, 2)
	attentionRef(attOut, []float32{1, 2, 3, 4}, []float32{5, 6}, []float32{7}, AttnShape{G: 1, Rep: 1, T: 2, S: 1, D: 2, Dv: 1}, AttnOpts{}, nil, nil, nil, nil)
	if attOut[0] != 7 || attOut[1] != 7 {
		t.Errorf("attentionRef with one key: %v", attOut)
	}
	if tok, _ := sampleRef([]float32{0, 3, 3, 1}, 0.9, SampleOpts{}); tok != 1 {
		t.Errorf("greedy sampleRef: %d, want the first maximum 1", tok)
	}
	if tok, _ := sampleRef([]float32{0, 3, 3, 1}, 0.999, SampleOpts{Temperature: 1, TopK: 2}); tok != 2 {
		t.Errorf("top-2 sampleRef at u=0.999: %d, want 2", tok)
	}
	for _, op := range []UnaryOp{OpRelu, OpTanh, OpSigmoid, OpNeg} {
		if g, f := scalarUnaryGrad(op, 0.3), (scalarUnary(op, 0.3+1e-3)-scalarUnary(op, 0.3-1e-3))/2e-3; math.Abs(float64(g-f)) > 1e-3 {
			t.Errorf("%v: derivative %v, finite difference %v", op, g, f)
		}
	}
	// The references' backwards against finite differences at 0.3 (dy = 1).
	x, one := []float32{0.3, 0.3 + 1e-3, 0.3 - 1e-3}, []float32{1, 1, 1}
	fd := func(y []float32) float32 { return (y[1] - y[2]) / 2e-3 }
	for _, op := range []UnaryOp{OpLog, OpSqrt, OpRsqrt} {
		y, g := make([]float32, 3), make([]float32, 3)
		unaryRef(op, y, x, nil)
		unaryRef(op, g, x, one)
		if f := fd(y); math.Abs(float64(g[0]-f)) > 1e-2*math.Abs(float64(f)) {
			t.Errorf("%v: derivative %v, finite difference %v", op, g[0], f)
		}
	}
	for _, c := range []struct {
		op   Unary2Op
		a, b float32
	}{{OpPow, 1.7, 0}, {OpPow, -2, 0}, {OpClamp, 0, 1}, {OpClamp, 0.5, 1}, {OpIsEqual, 0.3, 0}} {
		y, g := make([]float32, 3), make([]float32, 3)
		unary2Ref(c.op, c.a, c.b, y, x, nil)
		unary2Ref(c.op, c.a, c.b, g, x, one)
		if f := fd(y); math.Abs(float64(g[0]-f)) > 1e-2*max(1e-3, math.Abs(float64(f))) {
			t.Errorf("%v(%v, %v): derivative %v, finite difference %v", c.op, c.a, c.b, g[0], f)
		}
	}
}
