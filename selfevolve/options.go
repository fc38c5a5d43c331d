package selfevolve

import (
	"fmt"
	"io"
)

// GuardAction is what the validation guard does when validation greedy
// accuracy falls more than Options.GuardMargin below the best seen.
type GuardAction string

const (
	GuardStop     GuardAction = "stop"     // restore the best validation weights and end the run
	GuardRollback GuardAction = "rollback" // restore the best training state and go on (at most MaxRollbacks times, then stop)
	GuardOff      GuardAction = "off"      // only log
)

// Options holds every constant of the EvoLMM loop. Defaults returns the
// spec's values (shared/papers/evolmm.md, the authors' trainer); Scaled
// returns the overrides our tiny model needs, which kiln evolve uses:
//
//   - LR 1e-6 -> 3e-5: at 1e-6 a LoRA of a 64-wide model barely moves in
//     a few thousand steps (AdamW steps are ~lr per weight, the adapters'
//     B starts at 0); the prototype collapsed at 1e-4 and its counting
//     family collapsed at 1e-5 within ~500 steps, so we stay between and
//     rely on the guard. The README's tables ran with -lr 1e-4 (chosen on
//     the previous model's validation stream; on the shipped model 1e-5,
//     3e-5 and 1e-4 are within validation noise of each other).
//   - ProposerMaxNew 128 -> 48 and SolverMaxNew 128 -> 48 (the spec gives
//     128 for the proposer; we assume the same generation budget for the
//     solver): our questions are at most 80 bytes and traces at most 34
//     tokens of the 512-token BPE (measured on 2000 validation items), the
//     model's context is 192 tokens with 16 image tokens, and kiln eval
//     scores with 48.
//
// Everything else keeps the spec's value.
type Options struct {
	Steps int // outer steps (one image each)
	N     int // solver samples per question (5)

	ProposerMaxNew int     // proposer token budget (spec 128)
	SolverMaxNew   int     // solver token budget (also of validation and test scoring)
	Temperature    float32 // sampling temperature of both roles (1.0)

	Reward    RewardKind // Continuous (EvoLMM) or Discrete (ablation)
	Gamma     float64    // solver reward exponent on p(a) (0.7)
	LambdaLen float64    // length-penalty weight (0.10)
	Tau       float64    // words before <answer> without penalty (6)
	MuH       float64    // proposer band-pass centre, nats (0.90)
	SigmaH    float64    // proposer band-pass width, nats (0.35)

	BaselineMomentum float64 // b <- m b + (1-m) r per role (0.9)
	BaselineInit     float64 // the moving baselines' start value (0)
	// GroupBaseline replaces the solver's moving baseline by the mean
	// reward of the N samples of the question (GRPO style, an ablation).
	GroupBaseline bool
	// ConfidenceFilter skips the solver updates of a question whose
	// majority share (count/N) is below it (0 = off; 0.8 = 4 of 5 agree).
	ConfidenceFilter float64

	ProposerEvery  int  // proposer step every K outer steps (5)
	FreezeProposer bool // never update the proposer (ablation; the authors' trainer probably did this by accident)

	BetaInit   float64 // initial KL weight per role (1e-3)
	KLTarget   float64 // adaptive beta target KL, nats per token (0.02)
	BetaRate   float64 // beta <- beta exp(rate (KL - target)/target) (0.1)
	BetaMin    float64 // clip (1e-8)
	BetaMax    float64 // clip (100)
	AdaptiveKL bool    // false keeps beta at BetaInit

	LR          float32 // AdamW learning rate (spec 1e-6)
	WeightDecay float32 // (0.01)
	Beta1       float32 // AdamW (0.9)
	Beta2       float32 // AdamW (0.999)
	Eps         float32 // AdamW (1e-8)
	Clip        float32 // global grad-norm clip per step (1.0)

	LoRARank    int      // (16)
	LoRAAlpha   float32  // (32)
	LoRADropout float32  // (0.05)
	LoRATargets []string // Params globs of the adapted Linears: the LM's attention and MLP projections

	ImagePool int    // unlabeled images the loop cycles through in a fixed shuffled order (~6K in the paper)
	ImageSeed uint64 // seed of the unlabeled image stream (train split)
	Seed      uint64 // seed of the shuffle, sampling, dropout and adapter init

	// Guards, on by default.
	EvalEvery    int         // validate every N outer steps (and at 0 and the end)
	EvalItems    int         // validation items per evaluation
	EvalSamples  int         // sampled answers per validation item (entropy, sampled and majority accuracy)
	Guard        GuardAction // on a fall of more than GuardMargin below the best validation greedy accuracy
	GuardMargin  float64     // accuracy points as a fraction (0.05 = 5 points)
	MaxRollbacks int         // GuardRollback: stop after this many

	SaveEvery int       // checkpoint every N outer steps (0 = only at the end)
	Dir       string    // run directory ("" = no files: tests)
	Progress  io.Writer `json:"-"` // progress bar (nil = none)
	// PlainAlloc turns off the tensor.Arena of the updates and of the
	// rollouts' decoding steps (same bits either way; see
	// train.Options.PlainAlloc).
	PlainAlloc bool `json:"-"`
}

// Defaults returns the spec's values.
func Defaults() Options {
	return Options{
		Steps: 1000, N: 5,
		ProposerMaxNew: 128, SolverMaxNew: 128, Temperature: 1,
		Reward: Continuous, Gamma: 0.7, LambdaLen: 0.10, Tau: 6, MuH: 0.90, SigmaH: 0.35,
		BaselineMomentum: 0.9, BaselineInit: 0,
		ProposerEvery: 5,
		BetaInit:      1e-3, KLTarget: 0.02, BetaRate: 0.1, BetaMin: 1e-8, BetaMax: 100, AdaptiveKL: true,
		LR: 1e-6, WeightDecay: 0.01, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, Clip: 1,
		LoRARank: 16, LoRAAlpha: 32, LoRADropout: 0.05,
		LoRATargets: []string{"lm.layers.*.attn.q_proj", "lm.layers.*.attn.k_proj", "lm.layers.*.attn.v_proj", "lm.layers.*.attn.o_proj",
			"lm.layers.*.mlp.gate_proj", "lm.layers.*.mlp.up_proj", "lm.layers.*.mlp.down_proj"},
		ImagePool: 6000, ImageSeed: 2, Seed: 1,
		EvalEvery: 100, EvalItems: 256, EvalSamples: 5, Guard: GuardStop, GuardMargin: 0.05, MaxRollbacks: 3,
		SaveEvery: 100,
	}
}

// Scaled returns Defaults with the overrides our model needs (see Options).
func Scaled() Options {
	o := Defaults()
	o.LR = 3e-5
	o.ProposerMaxNew = 48
	o.SolverMaxNew = 48
	return o
}

// Validate reports the first unusable option.
func (o Options) Validate() error {
	switch {
	case o.Steps < 0:
		return fmt.Errorf("selfevolve: steps must be >= 0, got %d", o.Steps)
	case o.N < 2:
		return fmt.Errorf("selfevolve: N must be >= 2, got %d", o.N)
	case o.ProposerMaxNew < 1 || o.SolverMaxNew < 1:
		return fmt.Errorf("selfevolve: token budgets must be >= 1")
	case o.Reward != Continuous && o.Reward != Discrete:
		return fmt.Errorf("selfevolve: reward must be %q or %q, got %q", Continuous, Discrete, o.Reward)
	case o.ProposerEvery < 1:
		return fmt.Errorf("selfevolve: proposer-every must be >= 1, got %d", o.ProposerEvery)
	case o.SigmaH <= 0:
		return fmt.Errorf("selfevolve: sigma_H must be > 0")
	case o.LoRARank < 1 || len(o.LoRATargets) == 0:
		return fmt.Errorf("selfevolve: LoRA needs rank >= 1 and targets")
	case o.ImagePool < 1:
		return fmt.Errorf("selfevolve: image pool must be >= 1")
	case o.Guard != GuardStop && o.Guard != GuardRollback && o.Guard != GuardOff:
		return fmt.Errorf("selfevolve: guard must be stop, rollback or off, got %q", o.Guard)
	case o.KLTarget <= 0:
		return fmt.Errorf("selfevolve: KL target must be > 0")
	}
	return nil
}
