package nn

import (
	"fmt"
	"math/rand/v2"

	"github.com/kiln-ml/kiln/tensor"
)

// Attention is multi-head attention with optional rotary embeddings and
// grouped-query heads (KVHeads divides Heads; each K/V head serves
// Heads/KVHeads query heads; the fused attention op handles the grouping
// without copying K/V).
type Attention struct {
	Q, K, V, O     *Linear
	Heads, KVHeads int
	HeadDim        int
	RoPE           bool
	RoPEBase       float64
	Causal         bool
	p              *Params
}

// NewAttention registers name.{q,k,v,o}_proj.
func NewAttention(p *Params, name string, dim, heads, kvHeads int, bias, rope, causal bool, ropeBase float64, rng *rand.Rand, std, outStd float32) *Attention {
	if kvHeads == 0 {
		kvHeads = heads
	}
	if dim%heads != 0 || heads%kvHeads != 0 {
		panic(fmt.Sprintf("nn.NewAttention: %s: dim %d, heads %d, kv heads %d do not divide", name, dim, heads, kvHeads))
	}
	hd := dim / heads
	return &Attention{
		Q:     NewLinear(p, name+".q_proj", dim, dim, bias, rng, std),
		K:     NewLinear(p, name+".k_proj", dim, kvHeads*hd, bias, rng, std),
		V:     NewLinear(p, name+".v_proj", dim, kvHeads*hd, bias, rng, std),
		O:     NewLinear(p, name+".o_proj", dim, dim, bias, rng, outStd),
		Heads: heads, KVHeads: kvHeads, HeadDim: hd,
		RoPE: rope, RoPEBase: ropeBase, Causal: causal, p: p,
	}
}

// AttnInput is what one attention call needs besides x.
type AttnInput struct {
	// Pos holds rotary positions: T entries, or B*T (one row per sequence).
	Pos []int
	// KeyPadding marks padded keys (B*L entries, L = cached + new length).
	KeyPadding []bool
	// Cache, when set, receives the new keys and values and the attention
	// runs over everything cached so far (generation).
	Cache *LayerCache
}

// Forward attends x [B, T, dim] and returns [B, T, dim].
func (a *Attention) Forward(x *tensor.Tensor, in AttnInput) *tensor.Tensor {
	B, T := x.Dim(0), x.Dim(1)
	heads := func(l *Linear, h int) *tensor.Tensor {
		return l.Forward(x).Reshape(B, T, h, a.HeadDim).Permute(0, 2, 1, 3) // [B, h, T, hd]
	}
	q, k, v := heads(a.Q, a.Heads), heads(a.K, a.KVHeads), heads(a.V, a.KVHeads)
	if a.RoPE {
		q, k = q.RoPE(in.Pos, a.RoPEBase), k.RoPE(in.Pos, a.RoPEBase)
	}
	if in.Cache != nil {
		k, v = in.Cache.append(k, v)
	}
	o := tensor.ScaledDotProductAttention(q, k, v, tensor.AttnOpts{Causal: a.Causal, KeyPadding: in.KeyPadding})
	o = o.Permute(0, 2, 1, 3).Reshape(B, T, a.Heads*a.HeadDim)
	return a.O.Forward(o)
}

// LayerCache holds one layer's keys and values: [B, KVHeads, MaxLen, HeadDim]
// buffers, filled up to Len. Used under tensor.NoGrad (generation).
type LayerCache struct {
	K, V   *tensor.Tensor
	Len    int
	MaxLen int
}

// NewLayerCache allocates the buffers once; generation reuses them.
func NewLayerCache(b, kvHeads, maxLen, headDim int) *LayerCache {
	return &LayerCache{K: tensor.Zeros(b, kvHeads, maxLen, headDim), V: tensor.Zeros(b, kvHeads, maxLen, headDim), MaxLen: maxLen}
}

// Reset empties the cache without freeing it.
func (c *LayerCache) Reset() { c.Len = 0 }

func (c *LayerCache) append(k, v *tensor.Tensor) (*tensor.Tensor, *tensor.Tensor) {
	s := k.Shape() // [B, H, T, D]
	B, H, T, D := s[0], s[1], s[2], s[3]
	if c.Len+T > c.MaxLen {
		panic(fmt.Sprintf("nn.LayerCache: %d cached + %d new tokens exceed capacity %d", c.Len, T, c.MaxLen))
	}
	if dev := k.Device(); dev != tensor.CPU {
		// On a GPU: the buffers move there on first use, and the new keys
		// and values are copied in on the device.
		for _, buf := range []*tensor.Tensor{c.K, c.V} {
			if err := buf.MoveTo(dev); err != nil {
				panic(fmt.Sprintf("nn.LayerCache: %v", err))
			}
		}
		c.K.Narrow(2, c.Len, T).CopyFrom(k)
		c.V.Narrow(2, c.Len, T).CopyFrom(v)
		c.Len += T
		return c.K.Narrow(2, 0, c.Len), c.V.Narrow(2, 0, c.Len)
	}
	for _, pair := range [2][2]*tensor.Tensor{{c.K, k}, {c.V, v}} {
		dst, src := pair[0].Data(), pair[1].Contiguous().Data()
		for bh := 0; bh < B*H; bh++ {
			copy(dst[(bh*c.MaxLen+c.Len)*D:(bh*c.MaxLen+c.Len+T)*D], src[bh*T*D:(bh+1)*T*D])
		}
	}
	c.Len += T
	return c.K.Narrow(2, 0, c.Len), c.V.Narrow(2, 0, c.Len)
}

// Block is the pre-norm transformer block:
// x += drop(attn(norm1(x))); x += drop(ffn(norm2(x))).
type Block struct {
	Norm1, Norm2 Module
	Attn         *Attention
	FFN          Module
	Dropout      float32
	p            *Params
}

// NewBlock assembles a block from its parts (the model chooses norms and FFN).
func NewBlock(p *Params, norm1, norm2 Module, attn *Attention, ffn Module, dropout float32) *Block {
	return &Block{Norm1: norm1, Norm2: norm2, Attn: attn, FFN: ffn, Dropout: dropout, p: p}
}

func (b *Block) Forward(x *tensor.Tensor, in AttnInput) *tensor.Tensor {
	x = x.Add(b.p.dropout(b.Attn.Forward(b.Norm1.Forward(x), in), b.Dropout))
	return x.Add(b.p.dropout(b.FFN.Forward(b.Norm2.Forward(x)), b.Dropout))
}
