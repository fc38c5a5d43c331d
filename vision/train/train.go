package train

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"time"

	"github.com/kiln-ml/kiln/internal/jsonl"
	"github.com/kiln-ml/kiln/internal/plots"
	"github.com/kiln-ml/kiln/nn"
	"github.com/kiln-ml/kiln/tensor"
	"github.com/kiln-ml/kiln/vision"
	"github.com/schollz/progressbar/v3"
)

// Options configures a supervised run.
type Options struct {
	Steps       int     // optimizer steps
	Batch       int     // conversations per step
	LR, MinLR   float32 // peak and final learning rate (warmup + cosine)
	Warmup      int     // warmup steps
	WeightDecay float32 // AdamW decay on matrices (not on vectors)
	Clip        float32 // global gradient-norm clip (0 = off)
	EvalEvery   int     // validate every N steps (0 = only at the end)
	EvalItems   int     // validation items per evaluation
	SaveEvery   int     // checkpoint every N steps (0 = only at the end)
	Dir         string  // run directory: metrics.jsonl, curves.png, checkpoint/
	Progress    io.Writer
	// RestartAt > 0 ends the first cosine there (it reaches MinLR at
	// RestartAt) and starts a second one, without warmup, from RestartLR to
	// RestartMinLR at Steps: a second phase of one run.
	RestartAt               int
	RestartLR, RestartMinLR float32
	// PlainAlloc turns off the step arena (tensor.Arena): every step's
	// tensors then come from the Go heap. The numbers are the same bit for
	// bit; the arena only saves time (about 15% of a step on 2 cores).
	PlainAlloc bool
}

// Validate says what is wrong with o, if anything, before a run spends time
// on it (a user's flags end up here).
func (o Options) Validate() error {
	finite := func(x float32) bool { return !math.IsNaN(float64(x)) && !math.IsInf(float64(x), 0) }
	switch {
	case o.Steps < 1 || o.Batch < 1:
		return fmt.Errorf("train: need steps and batch >= 1, got %d and %d", o.Steps, o.Batch)
	case !finite(o.LR) || o.LR < 0:
		return fmt.Errorf("train: learning rate must be >= 0, got %v", o.LR)
	case !finite(o.MinLR) || o.MinLR < 0 || o.MinLR > o.LR:
		return fmt.Errorf("train: final learning rate must be in [0, %v], got %v", o.LR, o.MinLR)
	case o.Warmup < 0 || o.EvalEvery < 0 || o.EvalItems < 0 || o.SaveEvery < 0:
		return fmt.Errorf("train: warmup, eval-every, eval-items and save-every must be >= 0, got %d, %d, %d, %d",
			o.Warmup, o.EvalEvery, o.EvalItems, o.SaveEvery)
	case !finite(o.WeightDecay) || o.WeightDecay < 0 || !finite(o.Clip) || o.Clip < 0:
		return fmt.Errorf("train: weight decay and clip must be >= 0, got %v and %v", o.WeightDecay, o.Clip)
	case o.RestartAt < 0 || (o.RestartAt > 0 && o.RestartAt >= o.Steps):
		return fmt.Errorf("train: restart step must be in 1 to %d (steps - 1), got %d", o.Steps-1, o.RestartAt)
	case o.RestartAt > 0 && (!finite(o.RestartLR) || !finite(o.RestartMinLR) || o.RestartMinLR < 0 || o.RestartMinLR > o.RestartLR):
		return fmt.Errorf("train: restart learning rates must have 0 <= final <= peak, got %v and %v", o.RestartLR, o.RestartMinLR)
	case o.Dir == "":
		return fmt.Errorf("train: no run directory")
	}
	return nil
}

// Metrics is one line of metrics.jsonl.
type Metrics struct {
	Step     int     `json:"step"`
	Loss     float64 `json:"loss"`
	LR       float64 `json:"lr"`
	GradNorm float64 `json:"grad_norm"`
	Seconds  float64 `json:"seconds"` // wall time since the run (first) started
	ValLoss  float64 `json:"val_loss,omitempty"`
	ValAcc   float64 `json:"val_acc,omitempty"` // greedy accuracy on EvalItems
}

// Trainer runs supervised training with checkpoints that resume bitwise.
type Trainer struct {
	Model  *vision.VLM
	Chat   *vision.Chat
	Train  Stream
	Val    Stream
	Scorer Scorer
	Opt    Options
	// Config is saved in the checkpoint's config.json (the model config).
	Config any
	// Files are extra checkpoint files (tokenizer.json).
	Files map[string][]byte
}

// CheckpointDir is where Run keeps its resumable state.
func (t *Trainer) CheckpointDir() string { return filepath.Join(t.Opt.Dir, "checkpoint") }

// Run trains from the run directory's checkpoint if there is one, else from
// the model's current weights, and leaves the final checkpoint there.
func (t *Trainer) Run() error {
	o := t.Opt
	if err := o.Validate(); err != nil {
		return err
	}
	if err := os.MkdirAll(o.Dir, 0o755); err != nil {
		return err
	}
	m := t.Model
	opt := nn.NewAdamW(m.P.DefaultGroups(o.WeightDecay), 0.9, 0.95, 1e-8)
	var sched nn.Schedule = nn.WarmupCosine{Base: o.LR, Min: o.MinLR, Warmup: o.Warmup, Total: o.Steps}
	if o.RestartAt > 0 {
		sched = nn.Restart{
			First: nn.WarmupCosine{Base: o.LR, Min: o.MinLR, Warmup: o.Warmup, Total: o.RestartAt},
			Then:  nn.WarmupCosine{Base: o.RestartLR, Min: o.RestartMinLR, Total: o.Steps - o.RestartAt},
			From:  o.RestartAt,
		}
	}
	st := &nn.TrainState{Optimizer: opt}
	if _, err := os.Stat(filepath.Join(t.CheckpointDir(), nn.ManifestFile)); err == nil {
		if err := nn.LoadCheckpoint(t.CheckpointDir(), m.P, st); err != nil {
			return err
		}
	}
	start := int(st.Step)
	history, err := readMetrics(filepath.Join(o.Dir, "metrics.jsonl"), start)
	if err != nil {
		return err
	}
	mf, err := os.OpenFile(filepath.Join(o.Dir, "metrics.jsonl"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer mf.Close()
	enc := json.NewEncoder(mf)
	var elapsed0 float64
	if len(history) > 0 {
		elapsed0 = history[len(history)-1].Seconds
	}
	began := time.Now()
	var bar *progressbar.ProgressBar
	if o.Progress != nil {
		bar = progressbar.NewOptions(o.Steps, progressbar.OptionSetWriter(o.Progress), progressbar.OptionSetDescription("train"),
			progressbar.OptionShowCount(), progressbar.OptionSetPredictTime(true), progressbar.OptionThrottle(200*time.Millisecond))
		bar.Set(start)
	}
	items := make([]Item, o.Batch)
	// Each step's intermediates come from an arena, recycled after the
	// update (with the collector's target lowered to match, tensor.TightGC).
	var arena *tensor.Arena
	if !o.PlainAlloc {
		arena = tensor.NewArena()
		defer tensor.TightGC()()
	}
	m.P.Train = true
	defer func() { m.P.Train = false }()
	for step := start; step < o.Steps; step++ {
		for i := range items {
			items[i] = t.Train.Item(step*o.Batch + i)
		}
		b, err := Collate(t.Chat, items, m.Cfg.ImageSize)
		if err != nil {
			return fmt.Errorf("train: step %d: %w", step, err)
		}
		var lossV, gn float32
		lr := sched.At(step)
		var stepErr error
		arena.Do(func() {
			loss := m.Loss(b)
			loss.Backward()
			if o.Clip > 0 {
				gn = nn.ClipGradNorm(m.P.Trainable(), o.Clip)
			}
			stepErr = opt.Step(lr)
			opt.ZeroGrad()
			lossV = loss.Item()
		})
		if stepErr != nil {
			return fmt.Errorf("train: %w", stepErr)
		}
		rec := Metrics{Step: step + 1, Loss: float64(lossV), LR: float64(lr), GradNorm: float64(gn), Seconds: elapsed0 + time.Since(began).Seconds()}
		if math.IsNaN(rec.Loss) || math.IsInf(rec.Loss, 0) {
			return fmt.Errorf("train: loss is %v at step %d", rec.Loss, step+1)
		}
		last := step+1 == o.Steps
		if (o.EvalEvery > 0 && (step+1)%o.EvalEvery == 0) || last {
			m.P.Train = false
			rec.ValLoss, rec.ValAcc = t.validate()
			m.P.Train = true
		}
		if err := enc.Encode(rec); err != nil {
			return err
		}
		history = append(history, rec)
		if (o.SaveEvery > 0 && (step+1)%o.SaveEvery == 0) || last {
			st.Step, st.DataPos = int64(step+1), int64((step+1)*o.Batch)
			if err := nn.SaveCheckpoint(t.CheckpointDir(), m.P, nn.Checkpoint{Config: t.Config, State: st, Files: t.Files}); err != nil {
				return err
			}
			if err := plotHistory(filepath.Join(o.Dir, "curves.png"), history); err != nil {
				return err
			}
		}
		if bar != nil {
			bar.Describe(fmt.Sprintf("train loss %.3f", rec.Loss))
			bar.Add(1)
		}
	}
	if bar != nil {
		bar.Finish()
		fmt.Fprintln(o.Progress)
	}
	return nil
}

// validate returns the mean loss and greedy accuracy on EvalItems
// validation items.
func (t *Trainer) validate() (float64, float64) {
	n := t.Opt.EvalItems
	if n <= 0 || t.Val == nil {
		return 0, 0
	}
	items := make([]Item, n)
	for i := range items {
		items[i] = t.Val.Item(i)
	}
	var loss float64
	const chunk = 32
	for lo := 0; lo < n; lo += chunk {
		part := items[lo:min(lo+chunk, n)]
		b, err := Collate(t.Chat, part, t.Model.Cfg.ImageSize)
		if err != nil {
			return math.NaN(), 0
		}
		tensor.NoGrad(func() { loss += float64(t.Model.Loss(b).Item()) * float64(len(part)) })
	}
	acc := Greedy(t.Model, t.Chat, items, t.Scorer, 48)
	return loss / float64(n), acc
}

func readMetrics(path string, upTo int) ([]Metrics, error) {
	return jsonl.Resume(path, func(r Metrics) bool { return r.Step <= upTo })
}

func plotHistory(path string, h []Metrics) error {
	var xs, loss, vx, vacc, vloss []float64
	for _, r := range h {
		xs = append(xs, float64(r.Step))
		loss = append(loss, r.Loss)
		if r.ValLoss != 0 || r.ValAcc != 0 {
			vx = append(vx, float64(r.Step))
			vacc = append(vacc, r.ValAcc)
			vloss = append(vloss, r.ValLoss)
		}
	}
	return plots.Lines(path,
		plots.Panel{Title: "loss", XLabel: "step", Series: []plots.Series{{Name: "train", X: xs, Y: plots.Smooth(loss, 20)}, {Name: "validation", X: vx, Y: vloss}}},
		plots.Panel{Title: "validation accuracy (greedy)", XLabel: "step", Series: []plots.Series{{Name: "accuracy", X: vx, Y: vacc}}})
}
