package rl

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"

	"github.com/kiln-ml/kiln/internal/atomicfile"
	"github.com/kiln-ml/kiln/vision"
	"github.com/kiln-ml/kiln/vision/tasks"
	"github.com/kiln-ml/kiln/vision/train"
)

// AblationOptions configures the paper's comparison at our scale.
type AblationOptions struct {
	// Load returns a fresh copy of the starting model (called twice per
	// run: policy and reference).
	Load    func() (*vision.VLM, *vision.Chat, error)
	Methods []Method
	Seeds   []uint64 // training seeds (sampling and training questions)
	// Opt is the template of every run; its Reward.Method, Seed, Dir and
	// Progress are set per run. Method-specific settings (theta, K, lambda,
	// betas, SCoRe's) are shared.
	Opt Options
	// TestItems are scored greedily on the test stream (seed TestSeed) after
	// training; the base model is scored on the same items.
	TestItems int
	TestSeed  uint64
	Dir       string // one subdirectory per run, plus ablation.json and ablation.md
	Progress  io.Writer
}

// Stat is a mean and a sample standard deviation over seeds.
type Stat struct {
	Mean float64 `json:"mean"`
	Std  float64 `json:"std"`
}

// AblationRow is one method's test metrics over seeds.
type AblationRow struct {
	Method  string       `json:"method"`
	Seeds   []uint64     `json:"seeds"`
	PerSeed []ValMetrics `json:"per_seed"`
	AccT1   Stat         `json:"acc_t1"`
	AccT2   Stat         `json:"acc_t2"`
	Delta   Stat         `json:"delta"`
	DeltaIC Stat         `json:"delta_i_c"`
	DeltaCI Stat         `json:"delta_c_i"`
}

// RunAblation trains every method for every seed (resuming or reusing
// finished runs found in Dir), scores each on the test stream and returns
// the table, base model first. It writes ablation.json and ablation.md.
func RunAblation(o AblationOptions) ([]AblationRow, error) {
	if o.Load == nil || len(o.Methods) == 0 || len(o.Seeds) == 0 || o.TestItems < 1 {
		return nil, errors.New("rl: ablation needs a loader, methods, seeds and test items")
	}
	if err := os.MkdirAll(o.Dir, 0o755); err != nil {
		return nil, err
	}
	test, err := tasks.NewStream(tasks.DefaultConfig(), tasks.Test, o.TestSeed)
	if err != nil {
		return nil, err
	}
	val, err := tasks.NewStream(tasks.DefaultConfig(), tasks.Validation, 1)
	if err != nil {
		return nil, err
	}
	score := func(m *vision.VLM, chat *vision.Chat) ValMetrics {
		return Evaluate(m, chat, train.TaskStream{S: test}, o.TestItems, o.Opt.MaxNew)
	}
	base, err := cached(filepath.Join(o.Dir, "base-test.json"), o.TestItems, o.TestSeed, func() (ValMetrics, error) {
		m, chat, err := o.Load()
		if err != nil {
			return ValMetrics{}, err
		}
		return score(m, chat), nil
	})
	if err != nil {
		return nil, err
	}
	rows := []AblationRow{summarise("base", o.Seeds, repeat(base, len(o.Seeds)))}
	for _, meth := range o.Methods {
		var per []ValMetrics
		for _, seed := range o.Seeds {
			dir := filepath.Join(o.Dir, string(meth), fmt.Sprintf("seed%d", seed))
			opt := o.Opt
			opt.Reward.Method, opt.Seed, opt.Dir, opt.Progress = meth, seed, dir, o.Progress
			// A finished run is reused only if it was trained with these
			// settings (a 60-step run must not fill a 200-step table).
			if err := sameRun(filepath.Join(dir, "options.json"), opt); err != nil {
				return nil, err
			}
			v, err := cached(filepath.Join(dir, "test.json"), o.TestItems, o.TestSeed, func() (ValMetrics, error) {
				pol, chat, err := o.Load()
				if err != nil {
					return ValMetrics{}, err
				}
				ref, _, err := o.Load()
				if err != nil {
					return ValMetrics{}, err
				}
				trainS, err := tasks.NewStream(tasks.DefaultConfig(), tasks.Train, seed)
				if err != nil {
					return ValMetrics{}, err
				}
				tb, err := TokenizerFile(chat)
				if err != nil {
					return ValMetrics{}, err
				}
				r := &Runner{Policy: pol, Ref: ref, Chat: chat, Train: train.TaskStream{S: trainS}, Val: train.TaskStream{S: val},
					Opt: opt, Files: tb}
				if _, err := r.Run(); err != nil {
					return ValMetrics{}, err
				}
				return score(pol, chat), nil
			})
			if err != nil {
				return nil, fmt.Errorf("%s seed %d: %w", meth, seed, err)
			}
			per = append(per, v)
		}
		rows = append(rows, summarise(string(meth), o.Seeds, per))
	}
	b, _ := json.MarshalIndent(rows, "", "  ")
	if err := writeFile(filepath.Join(o.Dir, "ablation.json"), append(b, '\n')); err != nil {
		return rows, err
	}
	md := fmt.Sprintf("Test stream, %d items (seed %d), greedy; mean ± std over %d training seeds; %d steps x %d questions x %d episodes.\n\n%s",
		o.TestItems, o.TestSeed, len(o.Seeds), o.Opt.Steps, o.Opt.Questions, o.Opt.Group, Table(rows))
	return rows, writeFile(filepath.Join(o.Dir, "ablation.md"), []byte(md))
}

// TokenizerFile returns the tokenizer as a checkpoint file, so that a
// checkpoint loads as a model bundle.
func TokenizerFile(chat *vision.Chat) (map[string][]byte, error) {
	var buf bytes.Buffer
	if err := chat.Tok.WriteJSON(&buf); err != nil {
		return nil, err
	}
	return map[string][]byte{train.BundleTokenizer: buf.Bytes()}, nil
}

// Table formats rows as a Markdown table in percent.
func Table(rows []AblationRow) string {
	var b strings.Builder
	b.WriteString("| method | acc@t1 | acc@t2 | delta | delta_i->c | delta_c->i |\n|---|---|---|---|---|---|\n")
	f := func(s Stat) string { return fmt.Sprintf("%.1f ± %.1f", 100*s.Mean, 100*s.Std) }
	for _, r := range rows {
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s |\n", r.Method, f(r.AccT1), f(r.AccT2), f(r.Delta), f(r.DeltaIC), f(r.DeltaCI))
	}
	return b.String()
}

func summarise(name string, seeds []uint64, per []ValMetrics) AblationRow {
	r := AblationRow{Method: name, Seeds: seeds, PerSeed: per}
	get := func(pick func(ValMetrics) float64) Stat {
		var s Stat
		for _, v := range per {
			s.Mean += pick(v) / float64(len(per))
		}
		if len(per) > 1 {
			for _, v := range per {
				d := pick(v) - s.Mean
				s.Std += d * d / float64(len(per)-1)
			}
			s.Std = math.Sqrt(s.Std)
		}
		return s
	}
	r.AccT1 = get(func(v ValMetrics) float64 { return v.AccT1 })
	r.AccT2 = get(func(v ValMetrics) float64 { return v.AccT2 })
	r.Delta = get(func(v ValMetrics) float64 { return v.Delta })
	r.DeltaIC = get(func(v ValMetrics) float64 { return v.DeltaIC })
	r.DeltaCI = get(func(v ValMetrics) float64 { return v.DeltaCI })
	return r
}

func repeat(v ValMetrics, n int) []ValMetrics {
	out := make([]ValMetrics, n)
	for i := range out {
		out[i] = v
	}
	return out
}

// testScore is a cached test score with the test items it was scored on.
type testScore struct {
	ValMetrics
	Items int    `json:"test_items"`
	Seed  uint64 `json:"test_seed"`
}

// cached returns the metrics stored at path if they were scored on the same
// test items (count and stream seed), or computes and stores them. A file
// without the item count (older runs) is scored again.
func cached(path string, items int, seed uint64, f func() (ValMetrics, error)) (ValMetrics, error) {
	if b, err := os.ReadFile(path); err == nil {
		var c testScore
		if err := json.Unmarshal(b, &c); err != nil {
			return c.ValMetrics, fmt.Errorf("%s: %w", path, err)
		}
		if c.Items == items && c.Seed == seed {
			return c.ValMetrics, nil
		}
	}
	v, err := f()
	if err != nil {
		return v, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return v, err
	}
	b, _ := json.MarshalIndent(testScore{ValMetrics: v, Items: items, Seed: seed}, "", "  ")
	return v, writeFile(path, append(b, '\n'))
}

func writeFile(path string, b []byte) error {
	return atomicfile.WriteFile(path, func(w io.Writer) error { _, err := w.Write(b); return err })
}
