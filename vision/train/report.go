package train

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/kiln-ml/kiln/tensor"
	"github.com/kiln-ml/kiln/vision"
	"github.com/kiln-ml/kiln/vision/tasks"
)

// EvalOptions configures Evaluate.
type EvalOptions struct {
	Items    int    // test items (from index 0 of the stream)
	Samples  int    // sampled answers per item for sampled/majority accuracy (0 = skip)
	MaxNew   int    // token budget per answer
	Seed     uint64 // sampling seed
	SelfEval bool   // also run AdaPO's second turn after the greedy answer
	// Temperature of the sampled answers (0 means 1, the spec's): a lower one
	// measures how much majority voting gains where sampling is less noisy.
	Temperature float32
	// Templates also breaks the accuracies down by question template
	// (tasks.Template) within each family: majority voting gains on some
	// templates and loses on others, which the family rows average away.
	Templates bool
	// Records keeps every item's outputs in Report.Records, for looking at
	// where the vote and greedy decoding part (kiln eval -dump).
	Records bool
	// Blind, when set, adds the image-blind baseline's accuracy to every
	// row: what "above chance" means for a family or template.
	Blind *tasks.Blind
	// Arena, if set, runs the decoding steps in it (vision.SampleOpts.Arena:
	// the same outputs, faster). Only where nothing else works on tensors
	// meanwhile, as in kiln's commands.
	Arena *tensor.Arena
}

// ItemRecord is one evaluated item: the question, the truth and its trace,
// the greedy output and the sampled outputs with their log-probabilities.
type ItemRecord struct {
	Index      int       `json:"index"`
	Family     string    `json:"family"`
	Template   string    `json:"template,omitempty"`
	Question   string    `json:"question"`
	Answer     string    `json:"answer"`
	Trace      string    `json:"trace,omitempty"`
	Greedy     string    `json:"greedy"`
	Samples    []string  `json:"samples,omitempty"`
	SampleLogP []float64 `json:"sample_logp,omitempty"`
	// The answers as scored: extracted and normalised (tasks.Normalize).
	Truth         string   `json:"truth"`
	GreedyAnswer  string   `json:"greedy_answer"`
	SampleAnswers []string `json:"sample_answers,omitempty"`
	BlindAnswer   string   `json:"blind_answer,omitempty"` // the blind baseline's guess, with EvalOptions.Blind
}

// FamilyRow is one row of the accuracy table.
type FamilyRow struct {
	Family   string  `json:"family"`
	N        int     `json:"n"`
	Greedy   float64 `json:"greedy"`
	Sampled  float64 `json:"sampled,omitempty"`  // mean over Samples answers at temperature 1
	Majority float64 `json:"majority,omitempty"` // majority vote of the Samples answers, ties to the likeliest (tasks.MajorityScored)
	Blind    float64 `json:"blind,omitempty"`    // the image-blind baseline (tasks.Blind), with EvalOptions.Blind
}

// Report is the result of Evaluate.
type Report struct {
	Items       int         `json:"items"`
	Samples     int         `json:"samples"`
	Temperature float32     `json:"temperature,omitempty"`
	Families    []FamilyRow `json:"families"` // per family, then "all"
	// BlindItems is how many training items the blind baseline counted
	// (0: no baseline).
	BlindItems int                     `json:"blind_items,omitempty"`
	SelfEval   []tasks.SelfEvalMetrics `json:"self_eval,omitempty"`
	// Templates are the per-template rows ("family: template"), with
	// EvalOptions.Templates, in family then template order.
	Templates []FamilyRow `json:"templates,omitempty"`
	Seconds   float64     `json:"seconds"`
	// Outputs keeps each item's greedy output (for grids and inspection).
	Outputs []string `json:"-"`
	// Records holds every item's outputs, with EvalOptions.Records.
	Records []ItemRecord `json:"-"`
}

// Evaluate measures the model on the first o.Items items of stream with the
// tasks package's shared extractor and normaliser.
func Evaluate(m *vision.VLM, chat *vision.Chat, stream Stream, o EvalOptions) Report {
	start := time.Now()
	items := make([]Item, o.Items)
	for i := range items {
		items[i] = stream.Item(i)
	}
	first := SamplesOpts(m, chat, items, nil, vision.SampleOpts{MaxNew: o.MaxNew, Arena: o.Arena})
	greedy := texts(chat, first)
	type acc struct{ n, g, s, maj, blind int }
	fam := map[string]*acc{}
	order := []string{}
	get := func(f string) *acc {
		if fam[f] == nil {
			fam[f] = &acc{}
			order = append(order, f)
		}
		return fam[f]
	}
	var samples [][]string
	var scores [][]float64
	if o.Samples > 0 {
		rng := tensor.NewRNG(o.Seed)
		temp := o.Temperature
		if temp == 0 {
			temp = 1
		}
		for k := 0; k < o.Samples; k++ {
			ss := SamplesOpts(m, chat, items, nil, vision.SampleOpts{MaxNew: o.MaxNew, Temperature: temp, RNG: rng, Arena: o.Arena})
			samples = append(samples, texts(chat, ss))
			sc := make([]float64, len(ss))
			for i, s := range ss {
				sc[i] = LogProb(s)
			}
			scores = append(scores, sc)
		}
	}
	// Each item is scored from its record, built once: the extracted and
	// normalised answers the counts use are the ones -dump writes.
	r := Report{Items: o.Items, Samples: o.Samples, Outputs: greedy}
	if o.Records {
		r.Records = make([]ItemRecord, len(items))
	}
	tmpl := map[string]*acc{}
	for i, it := range items {
		rec := ItemRecord{Index: i, Family: it.Family, Question: question(it), Answer: it.Answer, Greedy: greedy[i],
			Truth: tasks.Normalize(it.Answer), GreedyAnswer: tasks.Normalize(tasks.ExtractAnswer(greedy[i]))}
		if it.Task != nil {
			rec.Template, rec.Trace = tasks.Template(it.Task.Question), it.Task.Trace
		}
		if o.Blind != nil {
			rec.BlindAnswer = o.Blind.Guess(rec.Question)
		}
		sampledRight, majRight := 0, false
		if o.Samples > 0 {
			rec.Samples, rec.SampleLogP, rec.SampleAnswers = make([]string, o.Samples), make([]float64, o.Samples), make([]string, o.Samples)
			for k := range samples {
				rec.Samples[k], rec.SampleLogP[k] = samples[k][i], scores[k][i]
				rec.SampleAnswers[k] = tasks.Normalize(tasks.ExtractAnswer(samples[k][i]))
				if rec.SampleAnswers[k] == rec.Truth {
					sampledRight++
				}
			}
			maj, _ := tasks.MajorityScored(rec.SampleAnswers, rec.SampleLogP)
			majRight = maj == rec.Truth
		}
		targets := []*acc{get(it.Family), get("all")}
		if o.Templates && it.Task != nil {
			k := it.Family + ": " + rec.Template
			if tmpl[k] == nil {
				tmpl[k] = &acc{}
			}
			targets = append(targets, tmpl[k])
		}
		for _, a := range targets {
			a.n++
			a.s += sampledRight
			if rec.GreedyAnswer == rec.Truth {
				a.g++
			}
			if majRight {
				a.maj++
			}
			if o.Blind != nil && rec.BlindAnswer == rec.Truth {
				a.blind++
			}
		}
		if o.Records {
			r.Records[i] = rec
		}
	}
	if o.Samples > 0 && o.Temperature != 0 && o.Temperature != 1 {
		r.Temperature = o.Temperature
	}
	if o.Blind != nil {
		r.BlindItems = o.Blind.Items()
	}
	row := func(name string, a *acc) FamilyRow {
		fr := FamilyRow{Family: name, N: a.n, Greedy: float64(a.g) / float64(a.n)}
		if o.Samples > 0 {
			fr.Sampled = float64(a.s) / float64(a.n*o.Samples)
			fr.Majority = float64(a.maj) / float64(a.n)
		}
		if o.Blind != nil {
			fr.Blind = float64(a.blind) / float64(a.n)
		}
		return fr
	}
	// Families in a fixed order, "all" last.
	for _, f := range append(familyOrder(order), "all") {
		a := fam[f]
		if a == nil {
			continue
		}
		r.Families = append(r.Families, row(f, a))
	}
	for _, f := range familyOrder(order) {
		var ks []string
		for k := range tmpl {
			if strings.HasPrefix(k, f+": ") {
				ks = append(ks, k)
			}
		}
		slices.Sort(ks)
		for _, k := range ks {
			r.Templates = append(r.Templates, row(k, tmpl[k]))
		}
	}
	if o.SelfEval {
		r.SelfEval = selfEvaluate(m, chat, items, first, o.MaxNew, o.Arena)
	}
	r.Seconds = time.Since(start).Seconds()
	return r
}

// question is the item's question: the task's, or the last prompt turn's.
func question(it Item) string {
	if it.Task != nil {
		return it.Task.Question
	}
	if n := len(it.Prompt); n > 0 {
		return it.Prompt[n-1].Content
	}
	return ""
}

func familyOrder(seen []string) []string {
	var out []string
	for _, f := range tasks.Families {
		for _, s := range seen {
			if s == string(f) {
				out = append(out, s)
			}
		}
	}
	return out
}

// selfEvaluate asks AdaPO's second-turn question after each greedy first
// answer (continuing from the model's own turn-1 tokens) and scores both.
func selfEvaluate(m *vision.VLM, chat *vision.Chat, items []Item, first []vision.Sample, maxNew int, arena *tensor.Arena) []tasks.SelfEvalMetrics {
	prompts := make([][]int, len(items))
	for i, it := range items {
		prompts[i] = chat.Continue(chat.Prompt(it.Prompt), first[i].Tokens, []vision.Message{{Role: tasks.RoleUser, Content: tasks.SelfEvalPrompt}})
	}
	second := texts(chat, SamplesOpts(m, chat, items, prompts, vision.SampleOpts{MaxNew: maxNew, Arena: arena}))
	recs := make([]tasks.Record, len(items))
	for i, it := range items {
		recs[i] = tasks.Record{Family: tasks.Family(it.Family), Correct1: tasks.Correct(chat.Decode(first[i].Tokens), it.Answer), Correct2: tasks.Correct(second[i], it.Answer)}
	}
	return tasks.SelfEval(recs)
}

// Table formats the report for a terminal. The blind column, when there
// is a baseline, is the image-blind guesser's accuracy on the same items.
func (r Report) Table() string {
	var b strings.Builder
	if r.Samples > 0 && r.Temperature != 0 {
		fmt.Fprintf(&b, "sampled at temperature %g\n", r.Temperature)
	}
	header := func(width int) {
		fmt.Fprintf(&b, "%-*s %5s %8s", width, "family", "n", "greedy")
		if r.Samples > 0 {
			fmt.Fprintf(&b, " %8s %8s", "sampled", fmt.Sprintf("maj@%d", r.Samples))
		}
		if r.BlindItems > 0 {
			fmt.Fprintf(&b, " %8s", "blind")
		}
		b.WriteString("\n")
	}
	line := func(width int, f FamilyRow, diff bool) {
		fmt.Fprintf(&b, "%-*s %5d %7.1f%%", width, f.Family, f.N, 100*f.Greedy)
		if r.Samples > 0 {
			fmt.Fprintf(&b, " %7.1f%% %7.1f%%", 100*f.Sampled, 100*f.Majority)
		}
		if r.BlindItems > 0 {
			fmt.Fprintf(&b, " %7.1f%%", 100*f.Blind)
		}
		if diff && r.Samples > 0 {
			fmt.Fprintf(&b, " %+6.1f", 100*(f.Majority-f.Greedy))
		}
		b.WriteString("\n")
	}
	header(10)
	for _, f := range r.Families {
		line(10, f, false)
	}
	if len(r.Templates) > 0 {
		if r.Samples > 0 {
			fmt.Fprintf(&b, "\nby question template (last column: maj - greedy in points)\n")
		} else {
			fmt.Fprintf(&b, "\nby question template\n")
		}
		for _, f := range r.Templates {
			line(60, f, true)
		}
	}
	if len(r.SelfEval) > 0 {
		fmt.Fprintf(&b, "\nself-evaluation (greedy turn 1, then the AdaPO prompt)\n%-10s %8s %8s %8s %8s %8s\n", "family", "acc@t1", "acc@t2", "delta", "i->c", "c->i")
		for _, s := range r.SelfEval {
			fmt.Fprintf(&b, "%-10s %7.1f%% %7.1f%% %+7.1f %7.1f%% %7.1f%%\n", s.Family, 100*s.AccT1, 100*s.AccT2, 100*s.Delta, 100*s.DeltaIC, 100*s.DeltaCI)
		}
	}
	return b.String()
}
