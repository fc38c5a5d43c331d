package rl

import (
	"fmt"
	"math"
)

// ARM is AdaPO's Adaptive Reward Model: the reward of a trajectory i->j is
// R_base(j) + R_dyn(P), with P the question's turn-1 error rate in the group:
//
//	j = 1: R = +1 + K_{i->1} (P - Theta)
//	j = 0: R = -1 + K_{i->0} P
//
// Defaults (DefaultARM): Theta 0.6 from the paper; the K constants are
// inferred from its worked example (shared/papers/adapo.md).
type ARM struct {
	Theta              float64
	K11, K01, K10, K00 float64
}

// DefaultARM is the spec's setting: theta 0.6, K11 -1, K01 +1, K10 +0.5,
// K00 -0.5.
func DefaultARM() ARM { return ARM{Theta: 0.6, K11: -1, K01: 1, K10: 0.5, K00: -0.5} }

// Validate checks the spec's sign constraints (K01 >= 0, K11 <= 0, K10 >= 0,
// K00 <= 0) and that totals keep their sign for every P in [0, 1] (j = 1
// pays more than 0, j = 0 less than 0).
func (a ARM) Validate() error {
	if a.K01 < 0 || a.K11 > 0 || a.K10 < 0 || a.K00 > 0 {
		return fmt.Errorf("rl: ARM constants need K01 >= 0, K11 <= 0, K10 >= 0, K00 <= 0 (got %v %v %v %v)", a.K01, a.K11, a.K10, a.K00)
	}
	if a.Theta < 0 || a.Theta > 1 {
		return fmt.Errorf("rl: ARM theta %v is outside [0, 1]", a.Theta)
	}
	for _, p := range []float64{0, 1} {
		r := a.Rewards(p)
		if r.R11 <= 0 || r.R01 <= 0 || r.R10 >= 0 || r.R00 >= 0 {
			return fmt.Errorf("rl: ARM rewards change sign at P=%v: %+v", p, r)
		}
	}
	return nil
}

// Rewards is the reward of each trajectory type of one question: Rij for
// turn-1 correctness i and turn-2 correctness j.
type Rewards struct {
	R11, R01, R10, R00 float64
}

// Rewards returns the four closed-form rewards at error rate p: they exist
// whether or not the group holds each type.
func (a ARM) Rewards(p float64) Rewards {
	return Rewards{
		R11: 1 + a.K11*(p-a.Theta),
		R01: 1 + a.K01*(p-a.Theta),
		R10: -1 + a.K10*p,
		R00: -1 + a.K00*p,
	}
}

// Of returns the reward of a trajectory whose turns were right (c1, c2).
func (r Rewards) Of(c1, c2 bool) float64 {
	switch {
	case c1 && c2:
		return r.R11
	case !c1 && c2:
		return r.R01
	case c1 && !c2:
		return r.R10
	}
	return r.R00
}

// DynamicBetas is the reward-aware KL of AdaPO: beta1 (turn-1 tokens) grows
// when correction pays more than keeping (R01 > R11) and pins turn 1 to the
// reference; beta2 (turn-2 tokens) grows when keeping pays more and pins
// turn 2.
//
//	beta1 = max(lambda (R01 - R11), 0) + base
//	beta2 = max(lambda (R11 - R01), 0) + base
func DynamicBetas(r Rewards, lambda, base float64) (beta1, beta2 float64) {
	return math.Max(lambda*(r.R01-r.R11), 0) + base, math.Max(lambda*(r.R11-r.R01), 0) + base
}

// ErrorRate is P: the share of wrong first answers in a group.
func ErrorRate(correct1 []bool) float64 {
	if len(correct1) == 0 {
		return 0
	}
	wrong := 0
	for _, c := range correct1 {
		if !c {
			wrong++
		}
	}
	return float64(wrong) / float64(len(correct1))
}

// Method is a training recipe: AdaPO, one of its ablations, or a baseline.
type Method string

// The methods of the paper's table.
const (
	// AdaPO: ARM rewards and reward-aware dynamic KL.
	AdaPO Method = "adapo"
	// NoARM: AdaPO with R = +1/-1 on the final answer only. The dynamic KL
	// formula still runs, and with R11 = R01 it gives beta_base to both turns.
	NoARM Method = "no-arm"
	// NoDynKL: ARM rewards, one fixed beta on every token.
	NoDynKL Method = "no-dynkl"
	// GRPOCorrect: GRPO with a fixed reward that pays fixing a wrong answer
	// more than keeping a right one (the ARM table pinned at P = 1: R01 1.4 >
	// R11 0.6): the reward-hacking case.
	GRPOCorrect Method = "grpo-correct"
	// GRPOKeep: GRPO with a fixed reward that pays keeping more (the ARM
	// table pinned at P = 0: R11 1.6 > R01 0.4): the stagnation case.
	GRPOKeep Method = "grpo-keep"
	// SCoRe: stage I trains turn 2 on its own correctness with a strong KL
	// on turn 1; stage II trains both turns on r1 + r2 + alpha (r2 - r1)
	// (r in {0, 1}).
	SCoRe Method = "score"
)

// Methods lists every method in the order of the ablation table.
var Methods = []Method{GRPOCorrect, GRPOKeep, SCoRe, AdaPO, NoARM, NoDynKL}

// ParseMethod checks a method name.
func ParseMethod(s string) (Method, error) {
	for _, m := range Methods {
		if string(m) == s {
			return m, nil
		}
	}
	return "", fmt.Errorf("rl: unknown method %q (known: adapo, no-arm, no-dynkl, grpo-correct, grpo-keep, score)", s)
}

// RewardConfig is what decides rewards and KL weights.
type RewardConfig struct {
	Method Method
	ARM    ARM
	// Lambda and BetaBase set AdaPO's dynamic KL; FixedBeta is the one beta
	// of the methods without it (GRPO baselines, NoDynKL, SCoRe stage II).
	Lambda, BetaBase, FixedBeta float64
	// SCoReAlpha is the bonus weight of stage II, SCoReStageI the share of
	// the steps spent in stage I and SCoReBeta1 its turn-1 KL weight.
	SCoReAlpha, SCoReStageI, SCoReBeta1 float64
}

// DefaultRewardConfig returns the settings this package uses by default
// for method m (see the package doc for why).
func DefaultRewardConfig(m Method) RewardConfig {
	return RewardConfig{Method: m, ARM: DefaultARM(), Lambda: 0.05, BetaBase: 0.02, FixedBeta: 0.02,
		SCoReAlpha: 10, SCoReStageI: 0.5, SCoReBeta1: 0.2}
}

// Validate reports the first bad setting.
func (c RewardConfig) Validate() error {
	if _, err := ParseMethod(string(c.Method)); err != nil {
		return err
	}
	if err := c.ARM.Validate(); err != nil {
		return err
	}
	if c.Lambda < 0 || c.BetaBase < 0 || c.FixedBeta < 0 || c.SCoReBeta1 < 0 {
		return fmt.Errorf("rl: KL weights must be >= 0 (lambda %v, beta_base %v, fixed beta %v, SCoRe beta1 %v)", c.Lambda, c.BetaBase, c.FixedBeta, c.SCoReBeta1)
	}
	if c.SCoReStageI < 0 || c.SCoReStageI > 1 {
		return fmt.Errorf("rl: SCoRe stage I share %v is outside [0, 1]", c.SCoReStageI)
	}
	return nil
}

// Question returns the reward table and the KL weights of one question with
// turn-1 error rate p, at training step (0-based) of total.
func (c RewardConfig) Question(p float64, step, total int) (r Rewards, beta1, beta2 float64) {
	switch c.Method {
	case AdaPO:
		r = c.ARM.Rewards(p)
		beta1, beta2 = DynamicBetas(r, c.Lambda, c.BetaBase)
	case NoARM:
		r = Rewards{R11: 1, R01: 1, R10: -1, R00: -1}
		beta1, beta2 = DynamicBetas(r, c.Lambda, c.BetaBase)
	case NoDynKL:
		r = c.ARM.Rewards(p)
		beta1, beta2 = c.FixedBeta, c.FixedBeta
	case GRPOCorrect:
		r = c.ARM.Rewards(1)
		beta1, beta2 = c.FixedBeta, c.FixedBeta
	case GRPOKeep:
		r = c.ARM.Rewards(0)
		beta1, beta2 = c.FixedBeta, c.FixedBeta
	case SCoRe:
		if c.SCoReStage(step, total) == 1 {
			// Stage I: only the final answer pays; turn 1 held to the base.
			r = Rewards{R11: 1, R01: 1, R10: 0, R00: 0}
			beta1, beta2 = c.SCoReBeta1, c.FixedBeta
		} else {
			// Stage II: r1 + r2 + alpha (r2 - r1).
			a := c.SCoReAlpha
			r = Rewards{R11: 2, R01: 1 + a, R10: 1 - a, R00: 0}
			beta1, beta2 = c.FixedBeta, c.FixedBeta
		}
	default:
		panic(fmt.Sprintf("rl: unknown method %q", c.Method))
	}
	return r, beta1, beta2
}

// SCoReStage returns 1 or 2: the SCoRe stage of step (0-based) of total.
func (c RewardConfig) SCoReStage(step, total int) int {
	if float64(step) < c.SCoReStageI*float64(total) {
		return 1
	}
	return 2
}
