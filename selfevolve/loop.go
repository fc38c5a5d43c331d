package selfevolve

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/kiln-ml/kiln/nn"
	"github.com/kiln-ml/kiln/nn/safetensors"
	"github.com/kiln-ml/kiln/tensor"
	"github.com/kiln-ml/kiln/vision"
	"github.com/kiln-ml/kiln/vision/policy"
	"github.com/kiln-ml/kiln/vision/tasks"
	"github.com/kiln-ml/kiln/vision/train"
	"github.com/schollz/progressbar/v3"
)

// The two roles, which are also the names of their LoRA adapters.
const (
	Proposer = "proposer"
	Solver   = "solver"
)

// Files of a run directory.
const (
	StepsFile      = "steps.jsonl" // one StepLog per outer step
	EvalsFile      = "evals.jsonl" // one Eval per validation
	CheckpointDir  = "checkpoint"  // resumable state
	bestFile       = "best.safetensors"
	RewardsPlot    = "rewards.png" // solver and proposer reward
	KLPlot         = "kl.png"      // KL and beta per role
	EntropyPlot    = "entropy.png" // answer-split histogram over training
	ValidationPlot = "validation.png"
)

// State is the loop's own state, saved in checkpoints.
type State struct {
	Step      int                `json:"step"` // outer steps done
	Baseline  map[string]float64 `json:"baseline"`
	Beta      map[string]float64 `json:"beta"`
	BaseAcc   float64            `json:"base_acc"` // validation greedy accuracy before training
	BestAcc   float64            `json:"best_acc"`
	BestStep  int                `json:"best_step"`
	Evaluated bool               `json:"evaluated"` // the step-0 validation is done
	Rollbacks int                `json:"rollbacks"`
	Stopped   string             `json:"stopped,omitempty"` // why the guard ended the run
	Seconds   float64            `json:"seconds"`           // wall time of the steps so far
}

// Trainer runs EvoLMM on one model: two LoRA adapters (proposer, solver) on
// the frozen base weights, which with adapters disabled are the reference
// policy of the KL term.
type Trainer struct {
	Model *vision.VLM
	Chat  *vision.Chat
	// Images is the unlabeled image stream: only Item.Image is used for
	// training (Family and Task only label the logs).
	Images train.Stream
	// Val is the validation stream of the guard (labels for evaluation only).
	Val   train.Stream
	Opt   Options
	Cfg   any               // saved as the checkpoint's config.json
	Files map[string][]byte // further checkpoint files (tokenizer.json)

	S State

	opt    *nn.AdamW
	src    *rand.PCG
	rng    *rand.Rand
	perm   []int
	params map[string][]*nn.Param
	best   *bestState // training state at the best validation
	start  time.Time
	done0  float64
	arena  *tensor.Arena // the updates' and decoding steps' buffers (nil under PlainAlloc)
}

// New attaches the two adapters to m (B = 0, so both roles start as the base
// model) and builds the optimizer: one AdamW holding both adapters in two
// groups; a step only moves the parameters that received gradients, which
// are those of the role being updated.
func New(m *vision.VLM, chat *vision.Chat, images, val train.Stream, o Options) (*Trainer, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	p := m.P
	lrng := tensor.NewRNG(o.Seed ^ 0x10a4)
	t := &Trainer{Model: m, Chat: chat, Images: images, Val: val, Opt: o, params: map[string][]*nn.Param{}}
	if !o.PlainAlloc {
		t.arena = tensor.NewArena()
	}
	for _, role := range []string{Solver, Proposer} {
		n := 0
		for _, pat := range o.LoRATargets {
			n += p.AddLoRA(pat, role, o.LoRARank, o.LoRAAlpha, o.LoRADropout, lrng)
		}
		if n == 0 {
			return nil, fmt.Errorf("selfevolve: LoRA targets %v match no Linear", o.LoRATargets)
		}
		for _, q := range p.All() {
			if q.Adapter == role {
				t.params[role] = append(t.params[role], q)
			}
		}
	}
	p.TrainOnlyAdapter(Solver)
	t.opt = nn.NewAdamW([]nn.Group{
		{Params: t.params[Solver], WeightDecay: o.WeightDecay},
		{Params: t.params[Proposer], WeightDecay: o.WeightDecay},
	}, o.Beta1, o.Beta2, o.Eps)
	t.src = tensor.NewPCG(o.Seed)
	t.rng = rand.New(t.src)
	t.perm = rand.New(tensor.NewPCG(o.Seed ^ 0x5eed)).Perm(o.ImagePool)
	t.S = State{Baseline: map[string]float64{Solver: o.BaselineInit, Proposer: o.BaselineInit},
		Beta: map[string]float64{Solver: o.BetaInit, Proposer: o.BetaInit}}
	return t, nil
}

// AdapterParams returns the LoRA parameters of a role.
func (t *Trainer) AdapterParams(role string) []*nn.Param { return t.params[role] }

// StepLog is one line of steps.jsonl.
type StepLog struct {
	Step      int    `json:"step"`
	Image     int    `json:"image"`  // index in the image stream
	Family    string `json:"family"` // of the image (logging only)
	Proposal  string `json:"proposal"`
	Question  string `json:"question"`
	Malformed bool   `json:"malformed"` // no <question> tag
	// Valid: the question is one the task generator can answer for this
	// image (tasks.MatchQuestion; logging only, never a training signal).
	Valid          bool      `json:"valid"`
	Outputs        []string  `json:"outputs"`
	Answers        []string  `json:"answers"`
	Words          []int     `json:"words"`
	Rewards        []float64 `json:"rewards"`
	Advantages     []float64 `json:"advantages,omitempty"`
	ProposerReward float64   `json:"proposer_reward"`
	Entropy        float64   `json:"entropy"`
	Split          string    `json:"split"` // answer partition, e.g. "3+1+1"
	Majority       int       `json:"majority"`
	Filtered       bool      `json:"filtered,omitempty"` // confidence filter skipped the solver updates
	KLSolver       float64   `json:"kl_solver"`          // mean token KL(pi_S || ref) over this step's updates
	NLLSolver      float64   `json:"nll_solver"`
	ProposerStep   bool      `json:"proposer_step,omitempty"`
	KLProposer     float64   `json:"kl_proposer,omitempty"`
	AdvProposer    float64   `json:"adv_proposer,omitempty"`
	BetaSolver     float64   `json:"beta_solver"`
	BetaProposer   float64   `json:"beta_proposer"`
	BaseSolver     float64   `json:"baseline_solver"`
	BaseProposer   float64   `json:"baseline_proposer"`
	Seconds        float64   `json:"seconds"`
}

// Step runs one outer step of EvoLMM on image index S.Step of the shuffled
// pool and returns its log.
func (t *Trainer) Step() (StepLog, error) {
	o := t.Opt
	m, chat, p := t.Model, t.Chat, t.Model.P
	idx := t.perm[t.S.Step%len(t.perm)]
	it := t.Images.Item(idx)
	lg := StepLog{Step: t.S.Step, Image: idx, Family: it.Family}
	img, err := train.Images([]train.Item{it}, m.Cfg.ImageSize)
	if err != nil {
		return lg, err
	}
	stop := []int{chat.EndID()}

	// 1. Proposer: one question about the image.
	pPrompt := chat.Prompt(toVision([]tasks.Message{tasks.ProposerUser()}))
	pBudget := min(o.ProposerMaxNew, m.Cfg.MaxSeq-len(pPrompt))
	if pBudget < 1 {
		return lg, fmt.Errorf("selfevolve: proposer prompt of %d tokens leaves no room in max_seq %d", len(pPrompt), m.Cfg.MaxSeq)
	}
	var prop vision.Sample
	p.WithAdapter(Proposer, func() {
		prop = m.Generate(img, [][]int{pPrompt}, vision.SampleOpts{MaxNew: pBudget, Temperature: o.Temperature, Stop: stop, RNG: t.rng, Arena: t.arena})[0]
	})
	lg.Proposal = chat.Decode(prop.Tokens)
	q, tagged := tasks.ExtractQuestion(lg.Proposal)
	lg.Malformed = !tagged
	sPrompt, q := t.solverPrompt(q)
	lg.Question = q
	if it.Task != nil {
		_, lg.Valid = tasks.MatchQuestion(it.Task.Scene, q)
	}

	// 2. Solver: N answers.
	prompts := make([][]int, o.N)
	for i := range prompts {
		prompts[i] = sPrompt
	}
	imgN := img.IndexSelect(0, make([]int, o.N))
	var sols []vision.Sample
	p.WithAdapter(Solver, func() {
		sols = m.Generate(imgN, prompts, vision.SampleOpts{MaxNew: o.SolverMaxNew, Temperature: o.Temperature, Stop: stop, RNG: t.rng, Arena: t.arena})
	})
	lg.Outputs = make([]string, o.N)
	lg.Answers = make([]string, o.N)
	lg.Words = make([]int, o.N)
	for i, s := range sols {
		lg.Outputs[i] = chat.Decode(s.Tokens)
		lg.Answers[i] = Answer(lg.Outputs[i])
		lg.Words[i] = WordsBeforeAnswer(lg.Outputs[i])
	}

	// 3. Rewards.
	var rP float64
	lg.Rewards, rP, lg.Entropy, lg.Majority = Rewards(lg.Answers, lg.Words, o)
	lg.ProposerReward = rP
	lg.Split = Partition(lg.Answers)

	// 4. Solver updates: one optimizer step per sample.
	if o.ConfidenceFilter > 0 && float64(lg.Majority)/float64(o.N) < o.ConfidenceFilter {
		lg.Filtered = true
	} else {
		mean := 0.0
		for _, r := range lg.Rewards {
			mean += r / float64(o.N)
		}
		var kl, nll float64
		n := 0
		for i, s := range sols {
			if len(s.Tokens) == 0 {
				continue
			}
			var adv float64
			if o.GroupBaseline {
				adv = lg.Rewards[i] - mean
			} else {
				adv = lg.Rewards[i] - t.S.Baseline[Solver]
				t.S.Baseline[Solver] = o.BaselineMomentum*t.S.Baseline[Solver] + (1-o.BaselineMomentum)*lg.Rewards[i]
			}
			lg.Advantages = append(lg.Advantages, adv)
			k, l, err := t.update(Solver, policy.Rollout{Prompt: sPrompt, Completion: s.Tokens}, img, adv)
			if err != nil {
				return lg, err
			}
			kl += k
			nll += l
			n++
		}
		if n > 0 {
			lg.KLSolver, lg.NLLSolver = kl/float64(n), nll/float64(n)
		}
	}

	// 5. Proposer update every K outer steps (on this step's proposal).
	advP := rP - t.S.Baseline[Proposer]
	t.S.Baseline[Proposer] = o.BaselineMomentum*t.S.Baseline[Proposer] + (1-o.BaselineMomentum)*rP
	if !o.FreezeProposer && (t.S.Step+1)%o.ProposerEvery == 0 && len(prop.Tokens) > 0 {
		k, _, err := t.update(Proposer, policy.Rollout{Prompt: pPrompt, Completion: prop.Tokens}, img, advP)
		if err != nil {
			return lg, err
		}
		lg.ProposerStep, lg.KLProposer, lg.AdvProposer = true, k, advP
	}
	lg.BetaSolver, lg.BetaProposer = t.S.Beta[Solver], t.S.Beta[Proposer]
	lg.BaseSolver, lg.BaseProposer = t.S.Baseline[Solver], t.S.Baseline[Proposer]
	t.S.Step++
	return lg, nil
}

// solverPrompt builds the solver's prompt for q, shortening a question
// too long for the context (a proposer that never closes its tag).
func (t *Trainer) solverPrompt(q string) ([]int, string) {
	for {
		ids := t.Chat.Prompt(toVision([]tasks.Message{tasks.SolverUser(q)}))
		if len(ids)+t.Opt.SolverMaxNew <= t.Model.Cfg.MaxSeq {
			return ids, q
		}
		w := strings.Fields(q)
		if len(w) <= 1 {
			q = tasks.FallbackQuestion
			continue
		}
		q = strings.Join(w[:len(w)*3/4], " ")
	}
}

func toVision(ms []tasks.Message) []vision.Message {
	out := make([]vision.Message, len(ms))
	for i, m := range ms {
		out[i] = vision.Message{Role: m.Role, Content: m.Content, Image: m.Image, Context: m.Context}
	}
	return out
}

// update takes one REINFORCE step of role on one rollout:
//
//	loss = adv * mean token NLL + beta * mean token KL(pi || pi_ref)
//
// with the exact full-vocabulary KL against the same model with adapters
// disabled, then adapts the role's beta to the measured KL. It returns the
// KL and the NLL (before the step).
func (t *Trainer) update(role string, r policy.Rollout, img *tensor.Tensor, adv float64) (kl, nll float64, err error) {
	// Every tensor the update makes dies with it: it runs in the trainer's
	// arena (nil under PlainAlloc), recycled after each call.
	t.arena.Do(func() {
		kl, nll, err = t.updateStep(role, r, img, adv)
	})
	return kl, nll, err
}

func (t *Trainer) updateStep(role string, r policy.Rollout, img *tensor.Tensor, adv float64) (kl, nll float64, err error) {
	o, m, p := t.Opt, t.Model, t.Model.P
	// A sampled image placeholder cannot be fed back (the model's input
	// holds exactly one image's placeholders): train on the tokens before
	// it. Only an untrained model samples it.
	if k := slices.Index(r.Completion, m.Cfg.ImageToken); k >= 0 {
		r.Completion = r.Completion[:k]
	}
	if len(r.Completion) == 0 {
		return 0, 0, nil
	}
	b := policy.NewBatch([]policy.Rollout{r}, img, t.Chat.PadID())
	var ref *tensor.Tensor
	tensor.NoGrad(func() { p.WithAdaptersDisabled(func() { ref = m.LogProbs(b.Batch) }) })
	p.TrainOnlyAdapter(role)
	t.opt.ZeroGrad()
	beta := t.S.Beta[role]
	var loss *tensor.Tensor
	var klT, nllT *tensor.Tensor
	p.WithAdapter(role, func() {
		p.Train = true
		defer func() { p.Train = false }()
		logp := m.LogProbs(b.Batch)
		nllT = policy.MaskedMean(policy.TokenLogProbs(logp, b.Targets), b.Mask).Neg()
		klT = policy.MaskedMean(policy.ExactKL(logp, ref), b.Mask)
		loss = nllT.MulScalar(float32(adv)).Add(klT.MulScalar(float32(beta)))
	})
	kl, nll = float64(klT.Item()), float64(nllT.Item())
	loss.Backward()
	if o.Clip > 0 {
		nn.ClipGradNorm(t.params[role], o.Clip)
	}
	if err := t.opt.Step(o.LR); err != nil {
		return kl, nll, err
	}
	t.opt.ZeroGrad()
	if o.AdaptiveKL {
		beta *= math.Exp(o.BetaRate * (kl - o.KLTarget) / o.KLTarget)
		t.S.Beta[role] = math.Min(o.BetaMax, math.Max(o.BetaMin, beta))
	}
	return kl, nll, nil
}

// Run trains for Opt.Steps outer steps, resuming from Dir's checkpoint when
// there is one, validating and guarding every EvalEvery steps, and leaves
// the final (or, after a guard stop, the best) weights in the model.
func (t *Trainer) Run() error {
	o := t.Opt
	if t.arena != nil {
		defer tensor.TightGC()() // the arena's buffers are live heap (see TightGC)
	}
	if o.Dir != "" {
		if err := os.MkdirAll(o.Dir, 0o755); err != nil {
			return err
		}
		if _, err := os.Stat(filepath.Join(o.Dir, CheckpointDir, nn.ManifestFile)); err == nil {
			if err := t.load(); err != nil {
				return err
			}
		} else {
			for _, f := range []string{StepsFile, EvalsFile} {
				if err := os.Remove(filepath.Join(o.Dir, f)); err != nil && !errors.Is(err, os.ErrNotExist) {
					return err
				}
			}
		}
	}
	t.start, t.done0 = time.Now(), t.S.Seconds
	if !t.S.Evaluated && t.Val != nil && o.EvalItems > 0 {
		if err := t.validate(); err != nil {
			return err
		}
		t.S.Evaluated = true
	}
	steps, err := openAppend(o.Dir, StepsFile)
	if err != nil {
		return err
	}
	defer steps.Close()
	var bar *progressbar.ProgressBar
	if o.Progress != nil {
		bar = progressbar.NewOptions(o.Steps, progressbar.OptionSetWriter(o.Progress), progressbar.OptionSetDescription("evolve"),
			progressbar.OptionShowCount(), progressbar.OptionSetPredictTime(true), progressbar.OptionThrottle(200*time.Millisecond))
		bar.Set(t.S.Step)
	}
	for t.S.Step < o.Steps && t.S.Stopped == "" {
		lg, err := t.Step()
		if err != nil {
			return fmt.Errorf("selfevolve: step %d: %w", lg.Step, err)
		}
		lg.Seconds = t.elapsed()
		if err := steps.write(lg); err != nil {
			return err
		}
		if bar != nil {
			bar.Describe(fmt.Sprintf("evolve r_S %.2f r_P %.2f H %.2f KL %.3f", mean(lg.Rewards), lg.ProposerReward, lg.Entropy, lg.KLSolver))
			bar.Set(t.S.Step)
		}
		last := t.S.Step == o.Steps
		if t.Val != nil && o.EvalItems > 0 && (last || o.EvalEvery > 0 && t.S.Step%o.EvalEvery == 0) {
			if err := t.validate(); err != nil {
				return err
			}
		}
		if o.Dir != "" && (last || t.S.Stopped != "" || o.SaveEvery > 0 && t.S.Step%o.SaveEvery == 0) {
			if err := t.save(); err != nil {
				return err
			}
		}
	}
	if bar != nil {
		bar.Finish()
		fmt.Fprintln(o.Progress)
	}
	if o.Dir != "" {
		if err := t.save(); err != nil {
			return err
		}
		return Plots(o.Dir, o.N)
	}
	return nil
}

func (t *Trainer) elapsed() float64 { return t.done0 + time.Since(t.start).Seconds() }

func mean(x []float64) float64 {
	if len(x) == 0 {
		return 0
	}
	s := 0.0
	for _, v := range x {
		s += v
	}
	return s / float64(len(x))
}

// validate evaluates the solver on the validation stream, logs it, and
// applies the guard.
func (t *Trainer) validate() error {
	o := t.Opt
	var ev Eval
	t.Model.P.WithAdapter(Solver, func() {
		ev = Evaluate(t.Model, t.Chat, t.Val, EvalOptions{Items: o.EvalItems, Samples: o.EvalSamples, MaxNew: o.SolverMaxNew, Seed: o.Seed, Arena: t.arena})
	})
	ev.Step = t.S.Step
	acc := ev.All().Greedy
	if !t.S.Evaluated {
		t.S.BaseAcc, t.S.BestAcc, t.S.BestStep = acc, acc, 0
		t.snapshot()
	} else if acc > t.S.BestAcc {
		t.S.BestAcc, t.S.BestStep = acc, t.S.Step
		t.snapshot()
	} else if o.Guard != GuardOff && acc < t.S.BestAcc-o.GuardMargin {
		ev.Guard = fmt.Sprintf("validation greedy %.3f fell more than %.3f below the best %.3f (step %d): restored the best training state", acc, o.GuardMargin, t.S.BestAcc, t.S.BestStep)
		if err := t.rollback(); err != nil {
			return err
		}
		t.S.Rollbacks++
		if o.Guard == GuardStop || t.S.Rollbacks > o.MaxRollbacks {
			t.S.Stopped = ev.Guard
			ev.Guard += "; stopped"
		}
	}
	ev.BestAcc, ev.BestStep = t.S.BestAcc, t.S.BestStep
	ev.Seconds = t.elapsed()
	f, err := openAppend(o.Dir, EvalsFile)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.write(ev)
}

// bestState is the training state at the best validation: everything a
// checkpoint restores that shapes the following updates. The guard's
// rollback puts all of it back (a resume from the best snapshot); the run's
// position (outer step, hence the image order and the proposer's every-K
// phase, the sampling and dropout random streams, the wall time) and the
// guard's own record (base and best accuracy, best step, rollbacks) go on,
// so the steps after a rollback see new images and new samples rather than
// replaying, bit for bit, the steps that led to the fall.
type bestState struct {
	Step     int                `json:"step"`
	Baseline map[string]float64 `json:"baseline"`
	Beta     map[string]float64 `json:"beta"`
	// Optimizer: AdamW's moments (in tensors) and step counts for both
	// roles. Nil in a best file written before full snapshots.
	Optimizer *optimMeta           `json:"optimizer,omitempty"`
	weights   map[string][]float32 // both adapters
	moments   []nn.StateTensor
}

type optimMeta struct {
	Kind       string           `json:"kind"`
	Step       int64            `json:"step"`
	ParamSteps map[string]int64 `json:"param_steps"`
}

// optimPrefix names the optimizer buffers in the best file (as
// nn.SaveCheckpoint names them in optimizer.safetensors).
const optimPrefix = "optim."

// snapshot keeps the current training state as the best validation state.
func (t *Trainer) snapshot() {
	s := &bestState{Step: t.S.Step, Baseline: maps.Clone(t.S.Baseline), Beta: maps.Clone(t.S.Beta), weights: map[string][]float32{}}
	for _, role := range []string{Solver, Proposer} {
		for _, q := range t.params[role] {
			s.weights[q.Name] = q.T.ToSlice()
		}
	}
	ost := t.opt.State()
	s.Optimizer = &optimMeta{Kind: ost.Kind, Step: ost.Step, ParamSteps: maps.Clone(ost.ParamSteps)}
	for _, x := range ost.Tensors {
		s.moments = append(s.moments, nn.StateTensor{Name: x.Name, Shape: slices.Clone(x.Shape), Data: slices.Clone(x.Data)})
	}
	t.best = s
}

// rollback restores the best snapshot's training state (see bestState).
func (t *Trainer) rollback() error {
	s := t.best
	if s.Optimizer == nil {
		return errors.New("selfevolve: the best snapshot holds only adapter weights (written by an older kiln): cannot roll back")
	}
	st := nn.OptimState{Kind: s.Optimizer.Kind, Step: s.Optimizer.Step, ParamSteps: maps.Clone(s.Optimizer.ParamSteps)}
	for _, x := range s.moments {
		st.Tensors = append(st.Tensors, nn.StateTensor{Name: x.Name, Shape: x.Shape, Data: slices.Clone(x.Data)})
	}
	if err := t.opt.SetState(st); err != nil {
		return fmt.Errorf("selfevolve: rollback: %w", err)
	}
	t.restore()
	t.S.Baseline, t.S.Beta = maps.Clone(s.Baseline), maps.Clone(s.Beta)
	return nil
}

// restore puts the best snapshot's adapter weights into the model.
func (t *Trainer) restore() {
	if t.best == nil {
		return
	}
	for name, v := range t.best.weights {
		copy(t.Model.P.Get(name).T.Data(), v)
	}
}

// RestoreBest puts the best validation weights into the model (kiln evolve
// does it at the end unless told to keep the last weights); the optimizer
// and loop state stay those of the last step.
func (t *Trainer) RestoreBest() { t.restore() }

// encode writes the snapshot as safetensors: the adapter weights by
// name, the optimizer buffers as optim.<buffer>.<param>, and the rest as
// JSON in the metadata key "state".
func (s *bestState) encode(order []*nn.Param) ([]byte, error) {
	var ts []safetensors.Tensor
	for _, q := range order {
		ts = append(ts, safetensors.Tensor{Name: q.Name, DType: safetensors.F32, Shape: q.T.Shape(), Data: s.weights[q.Name]})
	}
	for _, x := range s.moments {
		ts = append(ts, safetensors.Tensor{Name: optimPrefix + x.Name, DType: safetensors.F32, Shape: x.Shape, Data: x.Data})
	}
	meta, err := json.Marshal(s)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := safetensors.Encode(&buf, ts, map[string]string{"state": string(meta)}); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func decodeSnapshot(b []byte) (*bestState, error) {
	ts, meta, err := safetensors.Decode(b)
	if err != nil {
		return nil, err
	}
	s := &bestState{weights: map[string][]float32{}}
	if m, ok := meta["state"]; ok {
		if err := json.Unmarshal([]byte(m), s); err != nil {
			return nil, fmt.Errorf("state: %w", err)
		}
	}
	for _, x := range ts {
		if name, ok := strings.CutPrefix(x.Name, optimPrefix); ok {
			s.moments = append(s.moments, nn.StateTensor{Name: name, Shape: x.Shape, Data: x.Data})
		} else {
			s.weights[x.Name] = x.Data
		}
	}
	return s, nil
}

func (t *Trainer) save() error {
	t.S.Seconds = t.elapsed()
	data, err := json.Marshal(t.S)
	if err != nil {
		return err
	}
	files := map[string][]byte{}
	for k, v := range t.Files {
		files[k] = v
	}
	if t.best != nil {
		b, err := t.best.encode(append(slices.Clone(t.params[Solver]), t.params[Proposer]...))
		if err != nil {
			return err
		}
		files[bestFile] = b
	}
	return nn.SaveCheckpoint(filepath.Join(t.Opt.Dir, CheckpointDir), t.Model.P, nn.Checkpoint{
		Config: t.Cfg, DType: safetensors.F32, Files: files,
		State: &nn.TrainState{Optimizer: t.opt, Step: int64(t.S.Step), DataPos: int64(t.S.Step), Data: data,
			RNGs: map[string]nn.RandState{"sample": t.src}},
	})
}

func (t *Trainer) load() error {
	dir := filepath.Join(t.Opt.Dir, CheckpointDir)
	st := &nn.TrainState{Optimizer: t.opt, RNGs: map[string]nn.RandState{"sample": t.src}}
	if err := nn.LoadCheckpoint(dir, t.Model.P, st); err != nil {
		return err
	}
	var s State
	if err := json.Unmarshal(st.Data, &s); err != nil {
		return fmt.Errorf("selfevolve: %s: loop state: %w", dir, err)
	}
	t.S = s
	if b, err := nn.ReadCheckpointFile(dir, bestFile); err == nil {
		if t.best, err = decodeSnapshot(b); err != nil {
			return fmt.Errorf("selfevolve: %s: %w", filepath.Join(dir, bestFile), err)
		}
	}
	// Logs past the checkpoint belong to steps that will run again.
	if err := truncateLog(filepath.Join(t.Opt.Dir, StepsFile), s.Step, true); err != nil {
		return err
	}
	return truncateLog(filepath.Join(t.Opt.Dir, EvalsFile), s.Step, false)
}
