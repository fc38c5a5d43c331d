package selfevolve

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/kiln-ml/kiln/internal/jsonl"
	"github.com/kiln-ml/kiln/tensor"
	"github.com/kiln-ml/kiln/vision"
	"github.com/kiln-ml/kiln/vision/tasks"
	"github.com/kiln-ml/kiln/vision/train"
)

// EvalOptions configures Evaluate.
type EvalOptions struct {
	Items   int    // items from index 0 of the stream
	Samples int    // sampled answers per item at temperature 1 (0 = greedy only)
	MaxNew  int    // token budget per answer
	Seed    uint64 // sampling seed
	// Arena, if set, runs the decoding steps in it (train.EvalOptions.Arena).
	Arena *tensor.Arena
}

// FamilyEval is one family's row (Family "all" is the overall row).
type FamilyEval struct {
	Family   string  `json:"family"`
	N        int     `json:"n"`
	Greedy   float64 `json:"greedy"`
	Sampled  float64 `json:"sampled"`
	Majority float64 `json:"majority"`
	// Entropy is the mean entropy (nats) of the Samples answers per item.
	Entropy float64 `json:"entropy"`
	// TopShare is the share of the family's greedy answers taken by its most
	// common answer: near 1 is the constant-answer collapse.
	TopShare float64 `json:"top_share"`
	// Answers counts the greedy answers (the histogram the guard logs).
	Answers map[string]int `json:"answers"`
}

// Eval is one validation (a line of evals.jsonl) or a test report.
type Eval struct {
	Step     int          `json:"step"`
	Families []FamilyEval `json:"families"`
	BestAcc  float64      `json:"best_acc,omitempty"`
	BestStep int          `json:"best_step,omitempty"`
	Guard    string       `json:"guard,omitempty"`
	Seconds  float64      `json:"seconds,omitempty"`
}

// All returns the overall row.
func (e Eval) All() FamilyEval {
	for _, f := range e.Families {
		if f.Family == string(tasks.AllFamilies) {
			return f
		}
	}
	return FamilyEval{}
}

// Family returns the row of family f (zero when absent).
func (e Eval) Family(f string) FamilyEval {
	for _, r := range e.Families {
		if r.Family == f {
			return r
		}
	}
	return FamilyEval{}
}

// Evaluate scores the model's current adapter on the first o.Items items of
// stream: greedy, sampled and majority-of-Samples accuracy, answer entropy
// and greedy answer histograms per family, with the tasks package's
// extractor and normaliser.
func Evaluate(m *vision.VLM, chat *vision.Chat, stream train.Stream, o EvalOptions) Eval {
	items := make([]train.Item, o.Items)
	for i := range items {
		items[i] = stream.Item(i)
	}
	greedy := make([]string, len(items))
	for i, smp := range train.SamplesOpts(m, chat, items, nil, vision.SampleOpts{MaxNew: o.MaxNew, Arena: o.Arena}) {
		greedy[i] = chat.Decode(smp.Tokens)
	}
	var samples [][]vision.Sample
	if o.Samples > 0 {
		rng := tensor.NewRNG(o.Seed ^ 0xe7a1)
		for k := 0; k < o.Samples; k++ {
			samples = append(samples, train.SamplesOpts(m, chat, items, nil, vision.SampleOpts{MaxNew: o.MaxNew, Temperature: 1, RNG: rng, Arena: o.Arena}))
		}
	}
	type acc struct {
		n, g, s, maj int
		h            float64
		answers      map[string]int
	}
	fam := map[string]*acc{}
	get := func(f string) *acc {
		if fam[f] == nil {
			fam[f] = &acc{answers: map[string]int{}}
		}
		return fam[f]
	}
	for i, it := range items {
		truth := tasks.Normalize(it.Answer)
		g := Answer(greedy[i])
		answers := make([]string, len(samples))
		lps := make([]float64, len(samples))
		for k := range samples {
			answers[k] = Answer(chat.Decode(samples[k][i].Tokens))
			lps[k] = train.LogProb(samples[k][i])
		}
		maj, _ := tasks.MajorityScored(answers, lps)
		for _, a := range []*acc{get(it.Family), get(string(tasks.AllFamilies))} {
			a.n++
			a.answers[g]++
			if g == truth {
				a.g++
			}
			for _, s := range answers {
				if s == truth {
					a.s++
				}
			}
			if len(answers) > 0 && maj == truth {
				a.maj++
			}
			if len(answers) > 0 {
				a.h += Entropy(answers)
			}
		}
	}
	var ev Eval
	var names []string
	for _, f := range tasks.Families {
		if fam[string(f)] != nil {
			names = append(names, string(f))
		}
	}
	for f := range fam {
		if f != string(tasks.AllFamilies) && !contains(names, f) {
			names = append(names, f)
		}
	}
	for _, f := range append(names, string(tasks.AllFamilies)) {
		a := fam[f]
		if a == nil {
			continue
		}
		r := FamilyEval{Family: f, N: a.n, Greedy: ratio(a.g, a.n), Majority: ratio(a.maj, a.n), Answers: a.answers}
		if o.Samples > 0 {
			r.Sampled = ratio(a.s, a.n*o.Samples)
			r.Entropy = a.h / float64(a.n)
		} else {
			r.Majority = 0
		}
		top := 0
		for _, c := range a.answers {
			top = max(top, c)
		}
		r.TopShare = ratio(top, a.n)
		ev.Families = append(ev.Families, r)
	}
	return ev
}

func contains(xs []string, x string) bool {
	for _, s := range xs {
		if s == x {
			return true
		}
	}
	return false
}

func ratio(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// Table formats an evaluation for a terminal.
func (e Eval) Table() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-10s %5s %8s %8s %8s %8s %8s  %s\n", "family", "n", "greedy", "sampled", "majority", "entropy", "top", "greedy answers (top 3)")
	for _, f := range e.Families {
		fmt.Fprintf(&b, "%-10s %5d %7.1f%% %7.1f%% %7.1f%% %8.3f %7.0f%%  %s\n", f.Family, f.N, 100*f.Greedy, 100*f.Sampled, 100*f.Majority, f.Entropy, 100*f.TopShare, topAnswers(f.Answers, 3))
	}
	return b.String()
}

func topAnswers(h map[string]int, k int) string {
	type kv struct {
		a string
		n int
	}
	var s []kv
	for a, n := range h {
		s = append(s, kv{a, n})
	}
	sort.Slice(s, func(i, j int) bool { return s[i].n > s[j].n || s[i].n == s[j].n && s[i].a < s[j].a })
	var parts []string
	for i := 0; i < len(s) && i < k; i++ {
		parts = append(parts, fmt.Sprintf("%q:%d", s[i].a, s[i].n))
	}
	return strings.Join(parts, " ")
}

// logFile appends JSON lines to a file (a no-op writer when dir is "").
type logFile struct{ f *os.File }

func openAppend(dir, name string) (*logFile, error) {
	if dir == "" {
		return &logFile{}, nil
	}
	f, err := os.OpenFile(filepath.Join(dir, name), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, err
	}
	return &logFile{f: f}, nil
}

func (j *logFile) write(v any) error {
	if j.f == nil {
		return nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = j.f.Write(append(b, '\n'))
	return err
}

func (j *logFile) Close() error {
	if j.f == nil {
		return nil
	}
	return j.f.Close()
}

// truncateLog keeps the lines of a JSONL log whose "step" is below n
// (strict) or at most n.
func truncateLog(path string, n int, strict bool) error {
	_, err := jsonl.Resume(path, func(l json.RawMessage) bool {
		var s struct {
			Step int `json:"step"`
		}
		return json.Unmarshal(l, &s) == nil && (s.Step < n || !strict && s.Step == n)
	})
	return err
}

// evalArena is an arena for evaluation's decoding steps, unless o turns
// arenas off.
func evalArena(o Options) *tensor.Arena {
	if o.PlainAlloc {
		return nil
	}
	return tensor.NewArena()
}
