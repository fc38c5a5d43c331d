package nn

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/kiln-ml/kiln/tensor"
)

// Linear is y = x W^T + b with W [out, in] (the HF layout), plus any number of
// named LoRA adapters of which the model's active one is added:
// y += (dropout(x) A^T B^T) * alpha/rank.
type Linear struct {
	p        *Params
	Name     string
	In, Out  int
	Weight   *tensor.Tensor
	Bias     *tensor.Tensor // nil without bias
	adapters map[string]*LoRA
	merged   string // adapter folded into Weight, "" if none
}

// LoRA is one low-rank adapter of a Linear: A [rank, in], B [out, rank].
type LoRA struct {
	A, B    *tensor.Tensor
	Rank    int
	Alpha   float32
	Dropout float32
}

// Scale is alpha/rank, the factor on the adapter's output.
func (l *LoRA) Scale() float32 { return l.Alpha / float32(l.Rank) }

// NewLinear registers name.weight (normal, std) and name.bias (zeros).
func NewLinear(p *Params, name string, in, out int, bias bool, rng *rand.Rand, std float32) *Linear {
	l := &Linear{p: p, Name: name, In: in, Out: out, adapters: map[string]*LoRA{}}
	l.Weight = p.Add(name+".weight", tensor.Randn(rng, std, out, in))
	if bias {
		l.Bias = p.Add(name+".bias", tensor.Zeros(out))
	}
	p.linears = append(p.linears, l)
	return l
}

// Forward applies the layer to x [..., in].
func (l *Linear) Forward(x *tensor.Tensor) *tensor.Tensor {
	y := x.MatMul(l.Weight.T())
	if l.Bias != nil {
		y = y.Add(l.Bias)
	}
	active := l.p.ActiveAdapter()
	if l.merged != "" && active != l.merged {
		// The merged adapter is in Weight but must not apply: take it out.
		y = y.Sub(l.delta(x, l.adapters[l.merged], false))
	}
	if active != "" && active != l.merged {
		if ad := l.adapters[active]; ad != nil {
			y = y.Add(l.delta(x, ad, true))
		}
	}
	return y
}

func (l *Linear) delta(x *tensor.Tensor, ad *LoRA, dropout bool) *tensor.Tensor {
	h := x
	if dropout {
		h = l.p.dropout(h, ad.Dropout)
	}
	return h.MatMul(ad.A.T()).MatMul(ad.B.T()).MulScalar(ad.Scale())
}

// AddAdapter attaches adapter name: A ~ U(-1/sqrt(in), 1/sqrt(in)) and B = 0,
// so the layer's output is unchanged until B trains. Parameters are
// registered as <linear>.lora_A.<name>.weight and lora_B (the PEFT names).
func (l *Linear) AddAdapter(name string, rank int, alpha, dropout float32, rng *rand.Rand) *LoRA {
	if name == "" || rank < 1 {
		panic(fmt.Sprintf("nn.Linear.AddAdapter: %s: bad adapter %q rank %d", l.Name, name, rank))
	}
	if _, dup := l.adapters[name]; dup {
		panic(fmt.Sprintf("nn.Linear.AddAdapter: %s already has adapter %q", l.Name, name))
	}
	bound := float32(1 / math.Sqrt(float64(l.In)))
	ad := &LoRA{Rank: rank, Alpha: alpha, Dropout: dropout}
	dev := l.Weight.Device() // the adapter lives where the layer does
	ad.A = l.p.add(l.Name+".lora_A."+name+".weight", tensor.Rand(rng, -bound, bound, rank, l.In).MustTo(dev), name)
	ad.B = l.p.add(l.Name+".lora_B."+name+".weight", tensor.Zeros(l.Out, rank).MustTo(dev), name)
	l.adapters[name] = ad
	return ad
}

// Adapter returns adapter name of this layer, or nil.
func (l *Linear) Adapter(name string) *LoRA { return l.adapters[name] }

// Merge folds adapter name into Weight (W += B A * scale) for fast inference;
// forward passes stay correct whichever adapter is active. Unmerge undoes it.
func (l *Linear) Merge(name string) {
	ad := l.adapters[name]
	if ad == nil || l.merged != "" {
		panic(fmt.Sprintf("nn.Linear.Merge: %s: cannot merge %q (merged: %q)", l.Name, name, l.merged))
	}
	l.foldAdapter(ad, 1)
	l.merged = name
}

// Unmerge takes the merged adapter back out of Weight.
func (l *Linear) Unmerge() {
	if l.merged == "" {
		return
	}
	l.foldAdapter(l.adapters[l.merged], -1)
	l.merged = ""
}

func (l *Linear) foldAdapter(ad *LoRA, sign float32) {
	tensor.NoGrad(func() {
		dt := ad.B.MatMul(ad.A).MulScalar(sign * ad.Scale())
		if l.Weight.Device() != tensor.CPU {
			l.Weight.CopyFrom(l.Weight.Add(dt)) // w += d, in place on the device
			return
		}
		d := dt.Data()
		w := l.Weight.Data()
		for i := range w {
			w[i] += d[i]
		}
	})
}

// AddLoRA attaches adapter name to every Linear whose name matches pattern
// (a Params.Match glob such as "lm.layers.*.attn.*") and returns how many.
func (p *Params) AddLoRA(pattern, name string, rank int, alpha, dropout float32, rng *rand.Rand) int {
	n := 0
	for _, l := range p.linears {
		if globMatch(pattern, l.Name) {
			l.AddAdapter(name, rank, alpha, dropout, rng)
			n++
		}
	}
	return n
}

// Linears returns every Linear registered with p, in creation order.
func (p *Params) Linears() []*Linear { return append([]*Linear(nil), p.linears...) }

// MergeAdapter merges adapter name into every Linear that has it; UnmergeAll
// undoes every merge.
func (p *Params) MergeAdapter(name string) {
	for _, l := range p.linears {
		if l.adapters[name] != nil {
			l.Merge(name)
		}
	}
}

func (p *Params) UnmergeAll() {
	for _, l := range p.linears {
		l.Unmerge()
	}
}

// dropout applies inverted dropout when the model is training.
func (p *Params) dropout(x *tensor.Tensor, prob float32) *tensor.Tensor {
	if !p.Train || prob == 0 {
		return x
	}
	return x.Dropout(prob, p.RNG)
}
