package vision

import (
	"fmt"

	"github.com/kiln-ml/kiln/nn"
	"github.com/kiln-ml/kiln/tensor"
)

// IgnoreIndex marks target positions that do not count in the loss.
const IgnoreIndex = -100

// VLM is the vision-language model: ViT -> projector -> LM, with the
// projected image tokens placed where the token sequence holds
// Config.ImageToken placeholders.
type VLM struct {
	Cfg  Config
	P    *nn.Params
	ViT  *ViT
	Proj *Projector
	LM   *LM
}

// New builds a VLM with weights drawn from seed.
func New(cfg Config, seed uint64) (*VLM, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	p := nn.NewParams(seed + 1)
	rng := tensor.NewRNG(seed)
	m := &VLM{Cfg: cfg, P: p}
	m.ViT = newViT(p, cfg, rng)
	m.Proj = newProjector(p, cfg, rng)
	m.LM = newLM(p, cfg, rng)
	return m, nil
}

// Batch is a left-padded batch of token sequences with optional images.
type Batch struct {
	B, T int
	// IDs holds B*T token ids; padding positions hold any valid id.
	IDs []int
	// Pad marks padding positions (B*T, true = pad); nil means none.
	Pad []bool
	// Images [B, 3, H, W] (already normalised), or nil for text only; on
	// the host or the model's device.
	// Every sequence of a batch with images holds exactly ImageTokens()
	// placeholders.
	Images *tensor.Tensor
	// Targets (B*T) are the next-token labels for the loss, IgnoreIndex
	// where a position does not count.
	Targets []int
}

// positions returns per-sequence positions (pads before the first real
// token get 0), for RoPE: a left-padded sequence starts at position 0.
func (b *Batch) positions(offset []int) []int {
	pos := make([]int, b.B*b.T)
	for i := 0; i < b.B; i++ {
		n := 0
		if offset != nil {
			n = offset[i]
		}
		for t := 0; t < b.T; t++ {
			pos[i*b.T+t] = n
			if b.Pad == nil || !b.Pad[i*b.T+t] {
				n++
			}
		}
	}
	return pos
}

// Device is where the model's parameters are (nn.Params.To moves them).
func (m *VLM) Device() tensor.Device { return m.LM.Embed.Weight.Device() }

// Embed returns the LM input embeddings [B, T, D]: token embeddings with
// the image placeholders replaced by the projected image features. Images
// on the host are copied to the model's device.
func (m *VLM) Embed(b *Batch) *tensor.Tensor {
	if len(b.IDs) != b.B*b.T {
		panic(fmt.Sprintf("vision.VLM.Embed: %d ids for batch %dx%d", len(b.IDs), b.B, b.T))
	}
	tok := m.LM.Embed.Forward(b.IDs, b.B, b.T)
	if b.Images == nil {
		return tok
	}
	images := b.Images
	if dev := m.Device(); images.Device() != dev {
		images = images.MustTo(dev) // host images for a model on a GPU
	}
	img := m.Proj.Forward(m.ViT.Forward(images)) // [B, N, D]
	N, D := m.Cfg.ImageTokens(), m.Cfg.LMDim
	// One IndexSelect over [tokens; image features] places every row, so
	// gradients flow to both.
	idx := make([]int, b.B*b.T)
	for i := 0; i < b.B; i++ {
		k := 0
		for t := 0; t < b.T; t++ {
			j := i*b.T + t
			idx[j] = j
			if b.IDs[j] == m.Cfg.ImageToken && (b.Pad == nil || !b.Pad[j]) {
				if k == N {
					panic(fmt.Sprintf("vision.VLM.Embed: sequence %d has more than %d image placeholders", i, N))
				}
				idx[j] = b.B*b.T + i*N + k
				k++
			}
		}
		if k != N {
			panic(fmt.Sprintf("vision.VLM.Embed: sequence %d has %d image placeholders, want %d", i, k, N))
		}
	}
	table := tensor.Concat([]*tensor.Tensor{tok.Reshape(b.B*b.T, D), img.Reshape(b.B*N, D)}, 0)
	return table.IndexSelect(0, idx).Reshape(b.B, b.T, D)
}

// Forward returns logits [B, T, vocab] for a whole batch (no cache).
func (m *VLM) Forward(b *Batch) *tensor.Tensor {
	return m.LM.Forward(m.Embed(b), b.positions(nil), b.Pad, nil)
}

// Loss is the mean cross-entropy over positions whose target is not
// IgnoreIndex.
func (m *VLM) Loss(b *Batch) *tensor.Tensor {
	if len(b.Targets) != b.B*b.T {
		panic(fmt.Sprintf("vision.VLM.Loss: %d targets for batch %dx%d", len(b.Targets), b.B, b.T))
	}
	logits := m.Forward(b)
	return logits.Reshape(b.B*b.T, m.Cfg.Vocab).CrossEntropy(b.Targets, IgnoreIndex, tensor.ReduceMean)
}

// LogProbs returns log-softmax over the vocabulary at every position
// [B, T, vocab] under the current weights and active adapter; it is
// differentiable (policy) or, under tensor.NoGrad, a plain scoring call
// (reference model, with adapters disabled).
func (m *VLM) LogProbs(b *Batch) *tensor.Tensor { return m.Forward(b).LogSoftmax() }
