package nn

import (
	"math/rand/v2"

	"github.com/kiln-ml/kiln/tensor"
)

// Module is anything with a forward pass from one tensor to another.
type Module interface {
	Forward(x *tensor.Tensor) *tensor.Tensor
}

// Embedding maps token ids to rows of Weight [vocab, dim].
type Embedding struct {
	Weight *tensor.Tensor
}

// NewEmbedding registers name.weight ~ N(0, std).
func NewEmbedding(p *Params, name string, vocab, dim int, rng *rand.Rand, std float32) *Embedding {
	return &Embedding{Weight: p.Add(name+".weight", tensor.Randn(rng, std, vocab, dim))}
}

// Forward looks up ids laid out in shape: the result is shape + [dim].
func (e *Embedding) Forward(ids []int, shape ...int) *tensor.Tensor {
	return e.Weight.Embedding(ids, shape...)
}

// LayerNorm over the last dim with affine weight and bias.
type LayerNorm struct {
	Weight, Bias *tensor.Tensor
	Eps          float32
}

func NewLayerNorm(p *Params, name string, dim int, eps float32) *LayerNorm {
	return &LayerNorm{Weight: p.Add(name+".weight", tensor.Ones(dim)), Bias: p.Add(name+".bias", tensor.Zeros(dim)), Eps: eps}
}

func (n *LayerNorm) Forward(x *tensor.Tensor) *tensor.Tensor {
	return x.LayerNorm(n.Weight, n.Bias, n.Eps)
}

// RMSNorm over the last dim with an affine weight.
type RMSNorm struct {
	Weight *tensor.Tensor
	Eps    float32
}

func NewRMSNorm(p *Params, name string, dim int, eps float32) *RMSNorm {
	return &RMSNorm{Weight: p.Add(name+".weight", tensor.Ones(dim)), Eps: eps}
}

func (n *RMSNorm) Forward(x *tensor.Tensor) *tensor.Tensor { return x.RMSNorm(n.Weight, n.Eps) }

// MLP is fc2(gelu(fc1(x))), the ViT feed-forward. Tanh selects GELU's tanh
// approximation (SigLIP's gelu_pytorch_tanh), cheaper than the erf form.
type MLP struct {
	FC1, FC2 *Linear
	Tanh     bool
}

func NewMLP(p *Params, name string, dim, hidden int, rng *rand.Rand, std, outStd float32) *MLP {
	return &MLP{
		FC1: NewLinear(p, name+".fc1", dim, hidden, true, rng, std),
		FC2: NewLinear(p, name+".fc2", hidden, dim, true, rng, outStd),
	}
}

func (m *MLP) Forward(x *tensor.Tensor) *tensor.Tensor {
	h := m.FC1.Forward(x)
	if m.Tanh {
		return m.FC2.Forward(h.GeluTanh())
	}
	return m.FC2.Forward(h.Gelu())
}

// SwiGLU is down(silu(gate(x)) * up(x)), the Llama feed-forward.
type SwiGLU struct {
	Gate, Up, Down *Linear
}

func NewSwiGLU(p *Params, name string, dim, hidden int, rng *rand.Rand, std, outStd float32) *SwiGLU {
	return &SwiGLU{
		Gate: NewLinear(p, name+".gate_proj", dim, hidden, false, rng, std),
		Up:   NewLinear(p, name+".up_proj", dim, hidden, false, rng, std),
		Down: NewLinear(p, name+".down_proj", hidden, dim, false, rng, outStd),
	}
}

func (m *SwiGLU) Forward(x *tensor.Tensor) *tensor.Tensor {
	return m.Down.Forward(m.Gate.Forward(x).Silu().Mul(m.Up.Forward(x)))
}
