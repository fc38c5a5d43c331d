package vision

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/kiln-ml/kiln/nn"
	"github.com/kiln-ml/kiln/tensor"
)

// LM is the decoder-only language model: token embedding, pre-norm blocks
// (RMSNorm, causal attention with RoPE and optional GQA, SwiGLU), a final
// RMSNorm and the output head (tied to the embedding by default).
type LM struct {
	cfg    Config
	Embed  *nn.Embedding
	Blocks []*nn.Block
	Norm   *nn.RMSNorm
	Head   *nn.Linear // nil when tied
}

func newLM(p *nn.Params, c Config, rng *rand.Rand) *LM {
	lm := &LM{cfg: c}
	std, outStd := c.InitStd, c.InitStd/float32(math.Sqrt(2*float64(c.LMLayers)))
	lm.Embed = nn.NewEmbedding(p, "lm.embed_tokens", c.Vocab, c.LMDim, rng, std)
	for i := 0; i < c.LMLayers; i++ {
		n := fmt.Sprintf("lm.layers.%d", i)
		attn := nn.NewAttention(p, n+".attn", c.LMDim, c.LMHeads, c.LMKVHeads, false, true, true, c.RoPEBase, rng, std, outStd)
		lm.Blocks = append(lm.Blocks, nn.NewBlock(p,
			nn.NewRMSNorm(p, n+".norm1", c.LMDim, c.NormEps), nn.NewRMSNorm(p, n+".norm2", c.LMDim, c.NormEps),
			attn, nn.NewSwiGLU(p, n+".mlp", c.LMDim, c.LMHidden, rng, std, outStd), c.Dropout))
	}
	lm.Norm = nn.NewRMSNorm(p, "lm.norm", c.LMDim, c.NormEps)
	if !c.TieEmbeddings {
		lm.Head = nn.NewLinear(p, "lm.head", c.LMDim, c.Vocab, false, rng, std)
	}
	return lm
}

// Forward maps input embeddings [B, T, D] to logits [B, T, vocab].
func (lm *LM) Forward(x *tensor.Tensor, pos []int, keyPad []bool, cache *Cache) *tensor.Tensor {
	for i, b := range lm.Blocks {
		in := nn.AttnInput{Pos: pos, KeyPadding: keyPad}
		if cache != nil {
			in.Cache = cache.layers[i]
		}
		x = tensor.Scoped(func() *tensor.Tensor { return b.Forward(x, in) }) // inference in an arena: the block's temporaries go at once
	}
	x = lm.Norm.Forward(x)
	if lm.Head != nil {
		return lm.Head.Forward(x)
	}
	return x.MatMul(lm.Embed.Weight.T())
}

// Cache holds every LM layer's keys and values for generation.
type Cache struct {
	layers []*nn.LayerCache
}

// NewCache allocates a cache for batch b and up to maxLen tokens.
func (m *VLM) NewCache(b, maxLen int) *Cache {
	c := m.Cfg
	kv := c.LMKVHeads
	if kv == 0 {
		kv = c.LMHeads
	}
	cache := &Cache{}
	for range c.LMLayers {
		cache.layers = append(cache.layers, nn.NewLayerCache(b, kv, maxLen, c.LMDim/c.LMHeads))
	}
	return cache
}

// Len is the number of cached positions.
func (c *Cache) Len() int { return c.layers[0].Len }
