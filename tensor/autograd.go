package tensor

import (
	"runtime"
	"slices"
	"sync/atomic"

	"github.com/kiln-ml/kiln/kernels"
	"github.com/kiln-ml/kiln/kernels/cuda"
)

// node records how a tensor was made: its inputs and the function that maps
// the gradient of the output to gradients of the inputs (nil where an input
// needs none). Closures hold exactly the buffers the backward needs; they are
// dropped after Backward, which frees the graph. A backward function may
// return g or views of it, but must not keep g, or any tensor it makes,
// anywhere but in its result: inside an Arena, Backward frees those buffers
// once no pending gradient refers to them (gradPool).
type node struct {
	op       string
	inputs   []*Tensor
	backward func(g *Tensor) []*Tensor
}

var noGradDepth atomic.Int32

// NoGrad runs fn with graph recording off: ops inside record nothing and
// allocate no graph (inference, optimizer updates). The mode is process-wide
// (Go has no goroutine-local state): do not train on one goroutine while
// another is inside NoGrad.
func NoGrad(fn func()) {
	noGradDepth.Add(1)
	defer noGradDepth.Add(-1)
	fn()
}

// GradEnabled reports whether ops currently record the graph.
func GradEnabled() bool { return noGradDepth.Load() == 0 }

// RequiresGrad marks a leaf tensor as a parameter whose gradient Backward
// accumulates into Grad. It returns t for chaining.
func (t *Tensor) RequiresGrad() *Tensor {
	if t.node != nil {
		panic(opErr("tensor.RequiresGrad", "tensor of shape %v is not a leaf (made by %s)", t.shape, t.node.op))
	}
	t.requiresGrad = true
	return t
}

// SetRequiresGrad turns gradient tracking of a leaf on or off (freezing).
func (t *Tensor) SetRequiresGrad(on bool) {
	if t.node != nil {
		panic(opErr("tensor.SetRequiresGrad", "tensor of shape %v is not a leaf (made by %s)", t.shape, t.node.op))
	}
	t.requiresGrad = on
}

// NeedsGrad reports whether t is tracked by autograd (a parameter or the
// result of an op on one).
func (t *Tensor) NeedsGrad() bool { return t.requiresGrad }

// Grad returns the accumulated gradient (nil before the first Backward).
func (t *Tensor) Grad() *Tensor { return t.grad }

// ZeroGrad drops the accumulated gradient.
func (t *Tensor) ZeroGrad() { t.grad = nil }

// SetGrad replaces the gradient (used by optimizers and tests).
func (t *Tensor) SetGrad(g *Tensor) { t.grad = g }

// Detach returns a view of the same data that autograd does not track.
func (t *Tensor) Detach() *Tensor {
	return &Tensor{shape: t.shape, strides: t.strides, offset: t.offset, st: t.st}
}

// record attaches a node to out when grad mode is on and some input needs a
// gradient. It returns out.
func record(out *Tensor, op string, backward func(g *Tensor) []*Tensor, inputs ...*Tensor) *Tensor {
	if !GradEnabled() {
		return out
	}
	need := false
	for _, in := range inputs {
		if in != nil && in.requiresGrad {
			need = true
			break
		}
	}
	if !need {
		return out
	}
	out.requiresGrad = true
	out.node = &node{op: op, inputs: inputs, backward: backward}
	return out
}

// Backward computes the gradient of the scalar t with respect to every leaf
// that requires grad, accumulating into their Grad. The graph is freed.
func (t *Tensor) Backward() {
	if t.Numel() != 1 {
		panic(opErr("tensor.Backward", "output of shape %v is not a scalar; use BackwardWith", t.shape))
	}
	seed := Full(1, t.shape...)
	if t.st.cu != nil {
		seed = upload(t.st.cu, "tensor.Backward", seed)
	}
	t.BackwardWith(seed)
}

// BackwardWith is Backward with an explicit seed gradient of t's shape.
func (t *Tensor) BackwardWith(seed *Tensor) {
	if !t.requiresGrad {
		panic(opErr("tensor.Backward", "tensor of shape %v does not require grad", t.shape))
	}
	if !slices.Equal(seed.shape, t.shape) {
		panic(opErr("tensor.Backward", "seed shape %v does not match output shape %v", seed.shape, t.shape))
	}
	onDevice("tensor.Backward", t, seed)
	// Topological order by iterative DFS (deep graphs must not blow the stack).
	var order []*Tensor
	visited := map[*Tensor]bool{}
	type frame struct {
		t *Tensor
		i int
	}
	stack := []frame{{t, 0}}
	visited[t] = true
	for len(stack) > 0 {
		f := &stack[len(stack)-1]
		if f.t.node == nil || f.i >= len(f.t.node.inputs) {
			order = append(order, f.t)
			stack = stack[:len(stack)-1]
			continue
		}
		in := f.t.node.inputs[f.i]
		f.i++
		if in != nil && in.requiresGrad && !visited[in] {
			visited[in] = true
			stack = append(stack, frame{in, 0})
		}
	}
	grads := map[*Tensor]*Tensor{t: seed}
	pool := newGradPool(t)
	NoGrad(func() {
		for i := len(order) - 1; i >= 0; i-- {
			v := order[i]
			g := grads[v]
			delete(grads, v)
			if v.node == nil {
				if g != nil && v.requiresGrad {
					accumulateLeaf(v, g)
				}
				pool.drop(g)
				continue
			}
			n := v.node
			v.node = nil // free the graph as we go
			if g == nil {
				continue
			}
			before := pool.mark()
			gs := n.backward(g)
			for j, in := range n.inputs {
				if in == nil || !in.requiresGrad || j >= len(gs) || gs[j] == nil {
					continue
				}
				gi := gs[j]
				if !slices.Equal(gi.shape, in.shape) {
					panic(opErr("tensor.Backward", "%s produced grad of shape %v for input of shape %v", n.op, gi.shape, in.shape))
				}
				if prev, ok := grads[in]; ok {
					sum := prev.Add(gi)
					grads[in] = sum
					pool.hold(sum)
					pool.drop(prev)
				} else {
					grads[in] = gi
					pool.hold(gi)
				}
			}
			pool.drop(g)
			pool.sweep(before) // the backward's own scratch, and gradients summed away
		}
	})
}

// gradPool frees, inside an active Arena, the buffers of gradients that
// Backward no longer needs. A buffer handed out during this Backward can be
// reached only through the gradients it returns (backward closures capture
// forward tensors, and leaves get copies), so once no pending gradient
// refers to it, it is free. Buffers made before Backward (the forward's,
// the seed) are never touched. Outside an arena the pool does nothing.
type gradPool struct {
	a     *Arena
	start int             // the arena's mark when Backward began
	refs  map[uintptr]int // pending gradients per buffer
	held  func(key uintptr) bool
}

func newGradPool(t *Tensor) *gradPool {
	a := activeArena.Load()
	if a == nil || t.st.cu != nil {
		return nil
	}
	p := &gradPool{a: a, start: a.mark(), refs: map[uintptr]int{}}
	p.held = func(k uintptr) bool { return p.refs[k] > 0 }
	return p
}

func (p *gradPool) key(t *Tensor) uintptr {
	if p == nil || t == nil || t.st.cu != nil {
		return 0
	}
	return bufKey(t.st.data)
}

func (p *gradPool) mark() int {
	if p == nil {
		return 0
	}
	return p.a.mark()
}

// hold counts a pending gradient's reference to its buffer.
func (p *gradPool) hold(t *Tensor) {
	if k := p.key(t); k != 0 {
		p.refs[k]++
	}
}

// drop ends one reference; a buffer this Backward made is freed with its last.
func (p *gradPool) drop(t *Tensor) {
	k := p.key(t)
	if k == 0 {
		return
	}
	if p.refs[k] > 1 {
		p.refs[k]--
		return
	}
	delete(p.refs, k)
	p.a.releaseIfSince(k, p.start)
}

// sweep frees every buffer handed out since mark that no pending gradient
// holds: a backward closure's scratch, and gradients that were summed into
// another.
func (p *gradPool) sweep(mark int) {
	if p == nil {
		return
	}
	p.a.releaseSince(mark, p.held) // mark >= p.start: all made by this Backward
}

func accumulateLeaf(v, g *Tensor) {
	if c := onDevice("tensor.Backward", v, g); c != nil {
		if v.grad == nil {
			v.grad = newDev(c, "tensor.Backward", v.shape)
			devCopy("tensor.Backward", v.grad.st.buf, g)
			return
		}
		gc := devContig("tensor.Backward", g)
		dst := v.grad.cbuf()
		must("tensor.Backward", c.d.Binary(cuda.OpAdd, dst, dst, gc.cbuf()))
		runtime.KeepAlive(gc)
		return
	}
	if v.grad == nil {
		// Own a fresh contiguous copy: g may alias another tensor's gradient.
		v.grad = newContig(g.ToSlice(), v.shape)
		return
	}
	dst := v.grad.Data()
	if g.IsContiguous() {
		kernels.Add(dst, dst, g.Data())
		return
	}
	kernels.Add(dst, dst, g.ToSlice())
}

// parallelRows splits rows of length rowLen over the kernel workers, in
// chunks big enough (about 16K elements) to pay for a goroutine.
func parallelRows(rows, rowLen int, fn func(lo, hi int)) {
	grain := max(1, 16384/max(rowLen, 1))
	kernels.Parallel(rows, grain, fn)
}
