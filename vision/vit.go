package vision

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/kiln-ml/kiln/nn"
	"github.com/kiln-ml/kiln/tensor"
	"github.com/kiln-ml/kiln/vision/pixels"
)

// ViT is the vision encoder: patch embedding (a linear map of each flattened
// patch, the same as a stride-p convolution), learned position embeddings,
// pre-norm blocks with bidirectional attention, and a final LayerNorm.
type ViT struct {
	cfg    Config
	Patch  *nn.Linear
	Pos    *tensor.Tensor // [patches, dim]
	Blocks []*nn.Block
	Norm   *nn.LayerNorm
}

func newViT(p *nn.Params, c Config, rng *rand.Rand) *ViT {
	v := &ViT{cfg: c}
	std, outStd := c.InitStd, c.InitStd/float32(math.Sqrt(2*float64(c.VitLayers)))
	v.Patch = nn.NewLinear(p, "vit.patch_embed", 3*c.PatchSize*c.PatchSize, c.VitDim, true, rng, std)
	v.Pos = p.Add("vit.pos_embed", tensor.Randn(rng, std, c.Patches(), c.VitDim))
	for i := 0; i < c.VitLayers; i++ {
		n := fmt.Sprintf("vit.layers.%d", i)
		attn := nn.NewAttention(p, n+".attn", c.VitDim, c.VitHeads, c.VitHeads, true, false, false, 0, rng, std, outStd)
		mlp := nn.NewMLP(p, n+".mlp", c.VitDim, c.VitMLP, rng, std, outStd)
		mlp.Tanh = c.VitGeluTanh
		v.Blocks = append(v.Blocks, nn.NewBlock(p,
			nn.NewLayerNorm(p, n+".norm1", c.VitDim, c.NormEps), nn.NewLayerNorm(p, n+".norm2", c.VitDim, c.NormEps),
			attn, mlp, c.Dropout))
	}
	v.Norm = nn.NewLayerNorm(p, "vit.norm", c.VitDim, c.NormEps)
	return v
}

// Forward maps images [B, 3, H, W] to patch features [B, patches, VitDim].
func (v *ViT) Forward(img *tensor.Tensor) *tensor.Tensor {
	x := v.Patch.Forward(pixels.Patchify(img, v.cfg.PatchSize)).Add(v.Pos)
	for _, b := range v.Blocks {
		x = tensor.Scoped(func() *tensor.Tensor { return b.Forward(x, nn.AttnInput{}) })
	}
	return v.Norm.Forward(x)
}

// Projector maps ViT features to LM embeddings: pixel shuffle (neighbouring
// s x s patch features concatenated: s^2 fewer, wider tokens), then a linear
// map or a GELU MLP.
type Projector struct {
	cfg      Config
	FC1, FC2 *nn.Linear // FC2 nil for the linear projector
}

func newProjector(p *nn.Params, c Config, rng *rand.Rand) *Projector {
	s := max(c.PixelShuffle, 1)
	in := c.VitDim * s * s
	pr := &Projector{cfg: c}
	if c.ProjHidden > 0 {
		pr.FC1 = nn.NewLinear(p, "proj.fc1", in, c.ProjHidden, true, rng, c.InitStd)
		pr.FC2 = nn.NewLinear(p, "proj.fc2", c.ProjHidden, c.LMDim, true, rng, c.InitStd)
	} else {
		pr.FC1 = nn.NewLinear(p, "proj.fc1", in, c.LMDim, false, rng, c.InitStd)
	}
	return pr
}

func (pr *Projector) Forward(x *tensor.Tensor) *tensor.Tensor {
	if s := max(pr.cfg.PixelShuffle, 1); s > 1 {
		x = pixels.PixelShuffle(x, s)
	}
	x = pr.FC1.Forward(x)
	if pr.FC2 != nil {
		x = pr.FC2.Forward(x.Gelu())
	}
	return x
}
