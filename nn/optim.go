package nn

import (
	"fmt"
	"slices"
	"strings"

	"github.com/kiln-ml/kiln/kernels"
	"github.com/kiln-ml/kiln/tensor"
)

// Optimizer updates parameters from their accumulated gradients.
//
// A Step uses every parameter of its groups whose gradient is non-nil and
// skips the others (frozen parameters, or adapters that took no part in the
// forward pass). Before it changes anything, Step checks every gradient it is
// about to use; if one holds a NaN or an Inf it returns a *NonFiniteError
// naming the step and the first such parameter, and updates nothing.
//
// Optimizers allocate their state (moment or momentum buffers) once, when they
// are built; a Step allocates nothing.
type Optimizer interface {
	// Step applies one update with base learning rate lr; each group
	// multiplies it by its own Group.LR.
	Step(lr float32) error
	// ZeroGrad drops the gradients of every parameter in the groups.
	ZeroGrad()
	// Steps is the number of updates applied so far.
	Steps() int64
	// State returns the optimizer's state for a checkpoint. Its tensors are
	// views of the live buffers: save them before the next Step.
	State() OptimState
	// CheckState reports whether SetState would accept s: the kind, every
	// buffer of every parameter with its shape, and the step counts must fit
	// this optimizer. It changes nothing.
	CheckState(s OptimState) error
	// SetState copies s in after the checks of CheckState; on error nothing
	// has changed.
	SetState(s OptimState) error
}

// OptimState is an optimizer's state in a form a checkpoint can store.
type OptimState struct {
	Kind string // "adamw" or "sgd"
	Step int64  // updates applied (Optimizer.Steps)
	// ParamSteps counts the updates of each parameter by name (AdamW's bias
	// correction uses them, as PyTorch does); parameters skipped because they
	// had no gradient lag behind Step.
	ParamSteps map[string]int64
	// Tensors are the buffers, named "<buffer>.<param>": "m.<param>" and
	// "v.<param>" for AdamW, "momentum.<param>" for SGD with momentum.
	Tensors []StateTensor
}

// StateTensor is one named optimizer buffer with its parameter's shape.
type StateTensor struct {
	Name  string
	Shape []int
	Data  []float32
}

// NonFiniteError reports a gradient holding a NaN or an Inf. The optimizer
// that returned it changed nothing.
type NonFiniteError struct {
	Step  int64  // the step that was refused (Steps()+1)
	Param string // the first parameter, in group order, with a bad gradient
	Index int    // the flat index of the first bad element
	Value float32
}

func (e *NonFiniteError) Error() string {
	return fmt.Sprintf("nn: step %d: gradient of %q is not finite (%v at element %d); no parameter was updated",
		e.Step, e.Param, e.Value, e.Index)
}

// slot is one parameter an optimizer updates, with its group's settings and
// its buffers.
type slot struct {
	p      *Param
	lrMult float32
	wd     float32
	step   int64
	bufs   [][]float32      // AdamW: m, v; SGD: momentum (none without momentum)
	dbufs  []*tensor.Tensor // the buffers of a parameter on a GPU (bufs is nil)
}

// optimBase holds what AdamW and SGD share: the parameter slots, the step
// counter and the finiteness check.
type optimBase struct {
	kind     string
	bufNames []string
	slots    []slot
	step     int64
	grads    [][]float32      // per slot, this step's gradient (nil: skipped)
	dgrads   []*tensor.Tensor // the same for parameters on a GPU
}

func newOptimBase(kind string, groups []Group, bufNames []string) optimBase {
	o := optimBase{kind: kind, bufNames: bufNames}
	seen := map[*Param]bool{}
	for gi, g := range groups {
		mult := g.LR
		if mult == 0 {
			mult = 1
		}
		for _, p := range g.Params {
			if p == nil || p.T == nil {
				panic(fmt.Sprintf("nn.New%s: group %d holds a nil parameter", kind, gi))
			}
			if seen[p] {
				panic(fmt.Sprintf("nn.New%s: parameter %q is in more than one group", kind, p.Name))
			}
			if !p.T.IsContiguous() {
				panic(fmt.Sprintf("nn.New%s: parameter %q is not contiguous", kind, p.Name))
			}
			seen[p] = true
			s := slot{p: p, lrMult: mult, wd: g.WeightDecay}
			if dev := p.T.Device(); dev != tensor.CPU {
				// A parameter on a GPU: its buffers live there too, and
				// Step runs the device kernel (AdamW only).
				if kind != "adamw" {
					panic(fmt.Sprintf("nn.New%s: parameter %q is on %v: only AdamW updates parameters on a device", kind, p.Name, dev))
				}
				for range bufNames {
					s.dbufs = append(s.dbufs, tensor.Zeros(p.T.Shape()...).MustTo(dev))
				}
			} else {
				for range bufNames {
					s.bufs = append(s.bufs, make([]float32, p.T.Numel()))
				}
			}
			o.slots = append(o.slots, s)
		}
	}
	o.grads = make([][]float32, len(o.slots))
	o.dgrads = make([]*tensor.Tensor, len(o.slots))
	return o
}

// gather collects this step's gradients and checks them all before any
// update: a non-finite element stops the step with a *NonFiniteError.
// Gradients on a GPU are checked there, all at once after the host's
// (g*0 sums to 0 unless an element is NaN or Inf; one read back a device),
// and only a failing check downloads them to find the element.
func (o *optimBase) gather() error {
	var zeros map[tensor.Device]*tensor.Tensor // per device, the sum of every g*0
	for i := range o.slots {
		p := o.slots[i].p
		o.grads[i], o.dgrads[i] = nil, nil
		g := p.T.Grad()
		if g == nil {
			continue
		}
		if !sameDims(g, p.T) {
			panic(fmt.Sprintf("nn.%s.Step: gradient of %q has shape %v, parameter %v", o.kind, p.Name, g.Shape(), p.T.Shape()))
		}
		if !g.IsContiguous() {
			g = g.Contiguous()
			p.T.SetGrad(g)
		}
		if dev := g.Device(); dev != tensor.CPU {
			if zeros == nil {
				zeros = map[tensor.Device]*tensor.Tensor{}
			}
			z := g.MulScalar(0).Sum(nil, false)
			if acc := zeros[dev]; acc != nil {
				z = acc.Add(z)
			}
			zeros[dev] = z
			o.dgrads[i] = g
			continue
		}
		d := g.Data()
		if j := firstNonFinite(d); j >= 0 {
			return &NonFiniteError{Step: o.step + 1, Param: p.Name, Index: j, Value: d[j]}
		}
		o.grads[i] = d
	}
	for dev, z := range zeros {
		if z.Item() == 0 {
			continue
		}
		for i, g := range o.dgrads {
			if g == nil || g.Device() != dev {
				continue
			}
			d := g.ToSlice()
			if j := firstNonFinite(d); j >= 0 {
				return &NonFiniteError{Step: o.step + 1, Param: o.slots[i].p.Name, Index: j, Value: d[j]}
			}
		}
	}
	return nil
}

// firstNonFinite returns the index of the first NaN or Inf in x, or -1.
// x-x is 0 for finite x and NaN otherwise; the sum of products with zero
// stays 0 until a NaN or Inf comes along.
func firstNonFinite(x []float32) int {
	const block = 256
	for lo := 0; lo < len(x); lo += block {
		hi := min(lo+block, len(x))
		var s float32
		for _, v := range x[lo:hi] {
			s += v * 0
		}
		if s != 0 || s != s {
			for j := lo; j < hi; j++ {
				if v := x[j]; v-v != 0 {
					return j
				}
			}
		}
	}
	return -1
}

func (o *optimBase) ZeroGrad() {
	for i := range o.slots {
		o.slots[i].p.T.ZeroGrad()
	}
}

func (o *optimBase) Steps() int64 { return o.step }

func (o *optimBase) State() OptimState {
	s := OptimState{Kind: o.kind, Step: o.step, ParamSteps: make(map[string]int64, len(o.slots))}
	for _, sl := range o.slots {
		s.ParamSteps[sl.p.Name] = sl.step
		for b, name := range o.bufNames {
			var data []float32
			if sl.dbufs != nil {
				data = sl.dbufs[b].ToSlice() // a copy, downloaded
			} else {
				data = sl.bufs[b]
			}
			s.Tensors = append(s.Tensors, StateTensor{Name: name + "." + sl.p.Name, Shape: sl.p.T.Shape(), Data: data})
		}
	}
	return s
}

func (o *optimBase) CheckState(s OptimState) error {
	_, err := o.checkState(s)
	return err
}

func (o *optimBase) SetState(s OptimState) error {
	found, err := o.checkState(s)
	if err != nil {
		return err
	}
	o.step = s.Step
	for i := range o.slots {
		o.slots[i].step = s.ParamSteps[o.slots[i].p.Name]
		for b := range o.bufNames {
			if sl := &o.slots[i]; sl.dbufs != nil {
				sl.dbufs[b] = tensor.New(found[i][b], sl.p.T.Shape()...).MustTo(sl.p.T.Device())
				continue
			}
			copy(o.slots[i].bufs[b], found[i][b])
		}
	}
	return nil
}

// checkState validates s and returns its buffers by slot and buffer index.
func (o *optimBase) checkState(s OptimState) ([][][]float32, error) {
	if s.Kind != o.kind {
		return nil, fmt.Errorf("nn: optimizer state is for %q, this optimizer is %q", s.Kind, o.kind)
	}
	if s.Step < 0 {
		return nil, fmt.Errorf("nn: optimizer state has step %d", s.Step)
	}
	bySlot := map[string]int{}
	for i, sl := range o.slots {
		bySlot[sl.p.Name] = i
	}
	for name, n := range s.ParamSteps {
		if _, ok := bySlot[name]; !ok {
			return nil, fmt.Errorf("nn: optimizer state: parameter %q: not in this optimizer", name)
		}
		if n < 0 || n > s.Step {
			return nil, fmt.Errorf("nn: optimizer state: parameter %q: step %d outside [0, %d]", name, n, s.Step)
		}
	}
	found := make([][][]float32, len(o.slots))
	for i := range found {
		found[i] = make([][]float32, len(o.bufNames))
	}
	for _, t := range s.Tensors {
		buf, param, _ := strings.Cut(t.Name, ".")
		b := -1
		for j, n := range o.bufNames {
			if n == buf {
				b = j
			}
		}
		i, ok := bySlot[param]
		if b < 0 || !ok {
			return nil, fmt.Errorf("nn: optimizer state: tensor %q: not a buffer of this %s optimizer", t.Name, o.kind)
		}
		if found[i][b] != nil {
			return nil, fmt.Errorf("nn: optimizer state: tensor %q: duplicate", t.Name)
		}
		p := o.slots[i].p
		if !slices.Equal(t.Shape, p.T.Shape()) || len(t.Data) != p.T.Numel() {
			return nil, fmt.Errorf("nn: optimizer state: tensor %q: shape %v (%d values), parameter has shape %v",
				t.Name, t.Shape, len(t.Data), p.T.Shape())
		}
		found[i][b] = t.Data
	}
	for i, sl := range o.slots {
		if _, ok := s.ParamSteps[sl.p.Name]; !ok {
			return nil, fmt.Errorf("nn: optimizer state: parameter %q: missing step count", sl.p.Name)
		}
		for b, name := range o.bufNames {
			if found[i][b] == nil {
				return nil, fmt.Errorf("nn: optimizer state: tensor %q: missing", name+"."+sl.p.Name)
			}
		}
	}
	return found, nil
}

// sameDims compares shapes without the copy Shape makes.
func sameDims(a, b *tensor.Tensor) bool {
	if a.NDim() != b.NDim() {
		return false
	}
	for i := range a.NDim() {
		if a.Dim(i) != b.Dim(i) {
			return false
		}
	}
	return true
}

// AdamW is Adam with decoupled weight decay, as torch.optim.AdamW: for each
// parameter with a gradient g, at its own step t (counting from 1),
//
//	p ← p·(1 − lr·wd)
//	m ← β1·m + (1−β1)·g,  v ← β2·v + (1−β2)·g²
//	p ← p − lr/(1−β1ᵗ) · m / (√v/√(1−β2ᵗ) + ε)
//
// through the fused kernels.AdamW (for parameters on a GPU the device
// kernel, via tensor.AdamWUpdate, with the moments on the device), where lr is Step's rate times the group's
// LR multiplier and wd the group's WeightDecay.
type AdamW struct {
	optimBase
	beta1, beta2, eps float32
}

// NewAdamW builds an AdamW over groups (see Params.DefaultGroups) with the
// usual defaults being beta1 0.9, beta2 0.999, eps 1e-8. A parameter in two
// groups panics.
func NewAdamW(groups []Group, beta1, beta2, eps float32) *AdamW {
	return &AdamW{optimBase: newOptimBase("adamw", groups, []string{"m", "v"}), beta1: beta1, beta2: beta2, eps: eps}
}

// Step applies one AdamW update; see Optimizer.
func (o *AdamW) Step(lr float32) error {
	if err := o.gather(); err != nil {
		return err
	}
	o.step++
	for i := range o.slots {
		s := &o.slots[i]
		g := o.grads[i]
		if dg := o.dgrads[i]; dg != nil {
			s.step++
			tensor.AdamWUpdate(s.p.T, dg, s.dbufs[0], s.dbufs[1], lr*s.lrMult, o.beta1, o.beta2, o.eps, s.wd, int(s.step))
			o.dgrads[i] = nil
			continue
		}
		if g == nil {
			continue
		}
		s.step++
		kernels.AdamW(s.p.T.Data(), g, s.bufs[0], s.bufs[1], lr*s.lrMult, o.beta1, o.beta2, o.eps, s.wd, int(s.step))
		o.grads[i] = nil
	}
	return nil
}

// SGD is stochastic gradient descent with optional momentum, as
// torch.optim.SGD without dampening: with d = g + wd·p (weight decay as an L2
// term), b ← μ·b + d, then p ← p − lr·d without momentum, p ← p − lr·b with
// it, and p ← p − lr·(d + μ·b) with Nesterov momentum.
type SGD struct {
	optimBase
	momentum float32
	nesterov bool
}

// NewSGD builds an SGD over groups. momentum 0 keeps no buffers; nesterov
// needs momentum > 0. A parameter in two groups panics.
func NewSGD(groups []Group, momentum float32, nesterov bool) *SGD {
	if nesterov && momentum <= 0 {
		panic("nn.NewSGD: Nesterov momentum needs momentum > 0")
	}
	var bufs []string
	if momentum != 0 {
		bufs = []string{"momentum"}
	}
	return &SGD{optimBase: newOptimBase("sgd", groups, bufs), momentum: momentum, nesterov: nesterov}
}

// Step applies one SGD update; see Optimizer.
func (o *SGD) Step(lr float32) error {
	if err := o.gather(); err != nil {
		return err
	}
	o.step++
	mu := o.momentum
	for i := range o.slots {
		s := &o.slots[i]
		g := o.grads[i]
		if g == nil {
			continue
		}
		s.step++
		p := s.p.T.Data()
		rate, wd := lr*s.lrMult, s.wd
		switch {
		case mu == 0:
			for j, gj := range g {
				p[j] -= rate * (gj + wd*p[j])
			}
		case o.nesterov:
			b := s.bufs[0]
			for j, gj := range g {
				d := gj + wd*p[j]
				b[j] = mu*b[j] + d
				p[j] -= rate * (d + mu*b[j])
			}
		default:
			b := s.bufs[0]
			for j, gj := range g {
				d := gj + wd*p[j]
				b[j] = mu*b[j] + d
				p[j] -= rate * b[j]
			}
		}
		o.grads[i] = nil
	}
	return nil
}

var (
	_ Optimizer = (*AdamW)(nil)
	_ Optimizer = (*SGD)(nil)
)
