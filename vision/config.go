// Package vision holds kiln's vision-language model: a ViT encoder, a
// modality projector and a decoder-only language model, with the chat
// template that places image tokens in a conversation, and generation.
//
// The whole model is described by one Config and reads top to bottom in
// vit.go, projector.go, lm.go and vlm.go (in the spirit of nanoVLM).
package vision

import (
	"encoding/json"
	"fmt"
	"os"
)

// Config describes the whole VLM.
type Config struct {
	// Images: square ImageSize x ImageSize RGB, cut into PatchSize patches.
	ImageSize int `json:"image_size"`
	PatchSize int `json:"patch_size"`
	// Vision encoder (pre-norm ViT, LayerNorm + GELU MLP, learned positions).
	VitDim    int `json:"vit_dim"`
	VitLayers int `json:"vit_layers"`
	VitHeads  int `json:"vit_heads"`
	VitMLP    int `json:"vit_mlp"`
	// VitGeluTanh uses GELU's tanh approximation in the ViT MLP (as SigLIP).
	VitGeluTanh bool `json:"vit_gelu_tanh"`
	// Projector: pixel shuffle by PixelShuffle (s^2 fewer image tokens, s^2
	// wider), then a linear map, or a GELU MLP when ProjHidden > 0.
	PixelShuffle int `json:"pixel_shuffle"`
	ProjHidden   int `json:"proj_hidden"`
	// Language model (pre-norm, RMSNorm, SwiGLU, RoPE, optional GQA).
	Vocab         int     `json:"vocab"`
	LMDim         int     `json:"lm_dim"`
	LMLayers      int     `json:"lm_layers"`
	LMHeads       int     `json:"lm_heads"`
	LMKVHeads     int     `json:"lm_kv_heads"`
	LMHidden      int     `json:"lm_hidden"`
	MaxSeq        int     `json:"max_seq"`
	RoPEBase      float64 `json:"rope_base"`
	TieEmbeddings bool    `json:"tie_embeddings"`
	// Shared.
	NormEps float32 `json:"norm_eps"`
	Dropout float32 `json:"dropout"`
	InitStd float32 `json:"init_std"`
	// ImageToken is the placeholder id the chat template repeats
	// ImageTokens() times where the image goes.
	ImageToken int `json:"image_token"`
}

// DemoConfig is the default small model: 32 px images in 4 px patches (16
// image tokens after pixel shuffle), width 64, 3 ViT + 3 LM layers: the
// scale the papers' "at our scale" notes found trainable on 2 cores.
func DemoConfig(vocab, imageToken int) Config {
	return Config{
		ImageSize: 32, PatchSize: 4,
		VitDim: 64, VitLayers: 3, VitHeads: 4, VitMLP: 256, VitGeluTanh: true,
		PixelShuffle: 2,
		Vocab:        vocab, LMDim: 64, LMLayers: 3, LMHeads: 4, LMKVHeads: 2, LMHidden: 176,
		MaxSeq: 192, RoPEBase: 10000, TieEmbeddings: true,
		NormEps: 1e-5, InitStd: 0.02, ImageToken: imageToken,
	}
}

// Patches is the number of ViT patches; ImageTokens the number of image
// tokens the LM sees after pixel shuffle.
func (c Config) Patches() int { return (c.ImageSize / c.PatchSize) * (c.ImageSize / c.PatchSize) }
func (c Config) ImageTokens() int {
	s := max(c.PixelShuffle, 1)
	return c.Patches() / (s * s)
}

// Validate reports the first inconsistency, naming the field.
func (c Config) Validate() error {
	pos := map[string]int{"image_size": c.ImageSize, "patch_size": c.PatchSize, "vit_dim": c.VitDim, "vit_layers": c.VitLayers,
		"vit_heads": c.VitHeads, "vit_mlp": c.VitMLP, "vocab": c.Vocab, "lm_dim": c.LMDim, "lm_layers": c.LMLayers,
		"lm_heads": c.LMHeads, "lm_hidden": c.LMHidden, "max_seq": c.MaxSeq}
	for k, v := range pos {
		if v <= 0 {
			return fmt.Errorf("config: %s must be positive, got %d", k, v)
		}
	}
	side := c.ImageSize / c.PatchSize
	s := max(c.PixelShuffle, 1)
	switch {
	case c.ImageSize%c.PatchSize != 0:
		return fmt.Errorf("config: image_size %d is not a multiple of patch_size %d", c.ImageSize, c.PatchSize)
	case side%s != 0:
		return fmt.Errorf("config: %d patches per side not divisible by pixel_shuffle %d", side, s)
	case c.VitDim%c.VitHeads != 0:
		return fmt.Errorf("config: vit_dim %d not divisible by vit_heads %d", c.VitDim, c.VitHeads)
	case c.LMDim%c.LMHeads != 0 || (c.LMDim/c.LMHeads)%2 != 0:
		return fmt.Errorf("config: lm_dim %d / lm_heads %d must give an even head size", c.LMDim, c.LMHeads)
	case c.LMKVHeads < 0 || (c.LMKVHeads > 0 && c.LMHeads%c.LMKVHeads != 0):
		return fmt.Errorf("config: lm_heads %d not divisible by lm_kv_heads %d", c.LMHeads, c.LMKVHeads)
	case c.ImageToken < 0 || c.ImageToken >= c.Vocab:
		return fmt.Errorf("config: image_token %d outside vocab %d", c.ImageToken, c.Vocab)
	case c.ImageTokens() >= c.MaxSeq:
		return fmt.Errorf("config: %d image tokens do not fit max_seq %d", c.ImageTokens(), c.MaxSeq)
	case c.Dropout < 0 || c.Dropout >= 1:
		return fmt.Errorf("config: dropout %v outside [0,1)", c.Dropout)
	}
	return nil
}

// LoadConfig reads a JSON config; errors name the file.
func LoadConfig(path string) (Config, error) {
	var c Config
	b, err := os.ReadFile(path)
	if err != nil {
		return c, err
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return c, fmt.Errorf("%s: %w", path, err)
	}
	if err := c.Validate(); err != nil {
		return c, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}
