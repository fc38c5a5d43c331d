// Package nn holds kiln's modules (Linear with LoRA adapters, Embedding,
// norms, MLPs, attention with RoPE, GQA and a KV cache, the transformer
// block), optimizers, schedules and checkpoints.
//
// Every module registers its parameters in one *Params under a stable dotted
// name in the HF style (lm.layers.3.attn.q_proj.weight), so parameters can be
// listed, looked up, frozen, grouped and saved by name. The same *Params
// carries the state a forward pass needs from its model: training mode (for
// dropout), the dropout RNG, and which LoRA adapter is active.
package nn

import (
	"fmt"
	"math/rand/v2"
	"path"
	"sort"
	"strings"

	"github.com/kiln-ml/kiln/tensor"
)

// Param is a named trainable tensor. Adapter is the LoRA adapter it belongs
// to ("" for base weights).
type Param struct {
	Name    string
	T       *tensor.Tensor
	Adapter string
}

// Params is the registry of a model's parameters plus its forward-pass state.
type Params struct {
	list   []*Param
	byName map[string]*Param

	// Train turns dropout on. RNG draws dropout masks (seeded); checkpoints
	// save its state through rngSrc.
	Train  bool
	RNG    *rand.Rand
	rngSrc *rand.PCG

	activeAdapter    string
	adaptersDisabled bool
	linears          []*Linear
}

// NewParams returns an empty registry whose dropout RNG has the given seed.
func NewParams(seed uint64) *Params {
	src := tensor.NewPCG(seed)
	return &Params{byName: map[string]*Param{}, RNG: rand.New(src), rngSrc: src}
}

// Add registers t under name (marking it RequiresGrad) and returns t.
// Duplicate names are programmer errors and panic.
func (p *Params) Add(name string, t *tensor.Tensor) *tensor.Tensor {
	return p.add(name, t, "")
}

func (p *Params) add(name string, t *tensor.Tensor, adapter string) *tensor.Tensor {
	if name == "" || strings.HasPrefix(name, ".") || strings.HasSuffix(name, ".") {
		panic(fmt.Sprintf("nn.Params.Add: bad name %q", name))
	}
	if _, dup := p.byName[name]; dup {
		panic(fmt.Sprintf("nn.Params.Add: duplicate parameter %q", name))
	}
	t.RequiresGrad()
	q := &Param{Name: name, T: t, Adapter: adapter}
	p.list = append(p.list, q)
	p.byName[name] = q
	return t
}

// To moves every parameter to device d in place (tensor.MoveTo: the
// modules holding them follow), dropping their gradients. Build optimizers
// after moving: they keep their buffers where the parameters are then.
func (p *Params) To(d tensor.Device) error {
	for _, q := range p.list {
		if err := q.T.MoveTo(d); err != nil {
			return fmt.Errorf("nn.Params.To: %s: %w", q.Name, err)
		}
	}
	return nil
}

// All returns every parameter in registration order (stable across runs).
func (p *Params) All() []*Param { return append([]*Param(nil), p.list...) }

// Get returns the parameter called name, or nil.
func (p *Params) Get(name string) *Param { return p.byName[name] }

// Names returns all names, sorted.
func (p *Params) Names() []string {
	s := make([]string, len(p.list))
	for i, q := range p.list {
		s[i] = q.Name
	}
	sort.Strings(s)
	return s
}

// Match returns the parameters whose name matches the glob pattern, where
// '*' matches one dotted segment and '**' any number (e.g. "lm.layers.*.attn.**",
// "**.bias"). Registration order is kept.
func (p *Params) Match(pattern string) []*Param {
	var out []*Param
	for _, q := range p.list {
		if globMatch(pattern, q.Name) {
			out = append(out, q)
		}
	}
	return out
}

func globMatch(pattern, name string) bool {
	ps, ns := strings.Split(pattern, "."), strings.Split(name, ".")
	var rec func(i, j int) bool
	rec = func(i, j int) bool {
		if i == len(ps) {
			return j == len(ns)
		}
		if ps[i] == "**" {
			for k := j; k <= len(ns); k++ {
				if rec(i+1, k) {
					return true
				}
			}
			return false
		}
		if j == len(ns) {
			return false
		}
		if ok, _ := path.Match(ps[i], ns[j]); !ok {
			return false
		}
		return rec(i+1, j+1)
	}
	return rec(0, 0)
}

// Trainable returns the parameters that currently require grad.
func (p *Params) Trainable() []*Param {
	var out []*Param
	for _, q := range p.list {
		if q.T.NeedsGrad() {
			out = append(out, q)
		}
	}
	return out
}

// SetTrainable freezes (false) or unfreezes (true) every parameter matching
// pattern and returns how many it touched.
func (p *Params) SetTrainable(pattern string, on bool) int {
	ms := p.Match(pattern)
	for _, q := range ms {
		q.T.SetRequiresGrad(on)
		if !on {
			q.T.ZeroGrad()
		}
	}
	return len(ms)
}

// TrainOnlyAdapter freezes everything except adapter name's parameters.
func (p *Params) TrainOnlyAdapter(name string) {
	for _, q := range p.list {
		q.T.SetRequiresGrad(q.Adapter == name && name != "")
		if q.Adapter != name {
			q.T.ZeroGrad()
		}
	}
}

// ZeroGrad drops every parameter's gradient.
func (p *Params) ZeroGrad() {
	for _, q := range p.list {
		q.T.ZeroGrad()
	}
}

// Count returns the number of scalar parameters (all, or trainable only).
func (p *Params) Count(trainableOnly bool) int {
	n := 0
	for _, q := range p.list {
		if !trainableOnly || q.T.NeedsGrad() {
			n += q.T.Numel()
		}
	}
	return n
}

// UseAdapter makes adapter name active for every LoRA layer of the model
// ("" = none) and re-enables adapters.
func (p *Params) UseAdapter(name string) {
	p.activeAdapter = name
	p.adaptersDisabled = false
}

// ActiveAdapter reports the adapter forward passes use ("" when none or
// disabled).
func (p *Params) ActiveAdapter() string {
	if p.adaptersDisabled {
		return ""
	}
	return p.activeAdapter
}

// WithAdaptersDisabled runs fn with every adapter off: the frozen base
// model, used as the reference policy.
func (p *Params) WithAdaptersDisabled(fn func()) {
	old := p.adaptersDisabled
	p.adaptersDisabled = true
	defer func() { p.adaptersDisabled = old }()
	fn()
}

// WithAdapter runs fn with adapter name active, then restores the previous one.
func (p *Params) WithAdapter(name string, fn func()) {
	oldA, oldD := p.activeAdapter, p.adaptersDisabled
	p.activeAdapter, p.adaptersDisabled = name, false
	defer func() { p.activeAdapter, p.adaptersDisabled = oldA, oldD }()
	fn()
}

// Group is a set of parameters with their own optimizer settings.
type Group struct {
	Params      []*Param
	LR          float32 // multiplies the schedule's rate; 0 means 1
	WeightDecay float32
}

// DefaultGroups splits the trainable parameters the usual way: weight decay
// on matrices, none on biases, norms and other vectors.
func (p *Params) DefaultGroups(weightDecay float32) []Group {
	var decay, plain []*Param
	for _, q := range p.Trainable() {
		if q.T.NDim() >= 2 {
			decay = append(decay, q)
		} else {
			plain = append(plain, q)
		}
	}
	return []Group{{Params: decay, WeightDecay: weightDecay}, {Params: plain}}
}
