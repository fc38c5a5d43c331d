package train

import (
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/kiln-ml/kiln/tensor"
	"github.com/kiln-ml/kiln/vision"
	"github.com/kiln-ml/kiln/vision/tasks"
	"github.com/kiln-ml/kiln/vision/tokenizer"
)

func TestTaskStreamMix(t *testing.T) {
	s, err := tasks.NewStream(tasks.DefaultConfig(), tasks.Train, 1)
	if err != nil {
		t.Fatal(err)
	}
	d := TaskStream{S: s, Mix: DefaultMix}
	roles := map[string]int{}
	for i := 0; i < 2000; i++ {
		it := d.Item(i)
		c := it.Conversation
		switch {
		case strings.Contains(c[0].Content, tasks.ProposerPrompt):
			roles["proposer"]++
		case len(c) == 4:
			roles["selfeval"]++
		default:
			roles["solver"]++
		}
		if it.Answer == "" || it.Task == nil {
			t.Fatal("item without answer or task")
		}
	}
	for role, want := range map[string]float64{"solver": 0.7, "proposer": 0.15, "selfeval": 0.15} {
		if got := float64(roles[role]) / 2000; math.Abs(got-want) > 0.03 {
			t.Errorf("%s share %.3f, want %.2f", role, got, want)
		}
	}
	if d.Item(17).Conversation[0].Content != d.Item(17).Conversation[0].Content {
		t.Error("not deterministic")
	}
}

func TestBundleRoundTripAndEvaluate(t *testing.T) {
	s, _ := tasks.NewStream(tasks.DefaultConfig(), tasks.Train, 1)
	tok, err := NewTokenizer(s, 300)
	if err != nil {
		t.Fatal(err)
	}
	img, _ := tok.SpecialID(tokenizer.Image)
	cfg := vision.DemoConfig(tok.VocabSize(), img)
	cfg.VitLayers, cfg.LMLayers = 1, 1
	m, err := vision.New(cfg, 2)
	if err != nil {
		t.Fatal(err)
	}
	chat, _ := vision.NewChat(tok, cfg.ImageTokens())
	dir := filepath.Join(t.TempDir(), "bundle")
	if err := SaveBundle(dir, m, chat); err != nil {
		t.Fatal(err)
	}
	m2, chat2, err := LoadBundle(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range m.P.All() {
		a, b := q.T.ToSlice(), m2.P.Get(q.Name).T.ToSlice()
		for i := range a {
			if a[i] != b[i] {
				t.Fatalf("%s differs", q.Name)
			}
		}
	}
	test, _ := tasks.NewStream(tasks.DefaultConfig(), tasks.Test, 1)
	r := Evaluate(m2, chat2, TaskStream{S: test}, EvalOptions{Items: 10, Samples: 2, MaxNew: 8, Seed: 1, SelfEval: true})
	if last := r.Families[len(r.Families)-1]; last.Family != "all" || last.N != 10 {
		t.Errorf("report rows %+v", r.Families)
	}
	if len(r.SelfEval) == 0 || !strings.Contains(r.Table(), "acc@t1") {
		t.Error("no self-evaluation metrics")
	}
	if len(r.Templates) != 0 {
		t.Errorf("template rows without EvalOptions.Templates: %+v", r.Templates)
	}
	// Per-template rows partition each family's items, with the same
	// greedy and majority counts; the family rows are unchanged.
	rt := Evaluate(m2, chat2, TaskStream{S: test}, EvalOptions{Items: 10, Samples: 2, MaxNew: 8, Seed: 1, Templates: true})
	if !slices.Equal(rt.Families, r.Families) {
		t.Errorf("family rows changed with templates: %+v vs %+v", rt.Families, r.Families)
	}
	for _, f := range rt.Families[:len(rt.Families)-1] {
		n, g, maj := 0, 0.0, 0.0
		for _, tr := range rt.Templates {
			if strings.HasPrefix(tr.Family, f.Family+": ") {
				n += tr.N
				g += tr.Greedy * float64(tr.N)
				maj += tr.Majority * float64(tr.N)
			}
		}
		if n != f.N || math.Abs(g-f.Greedy*float64(f.N)) > 1e-9 || math.Abs(maj-f.Majority*float64(f.N)) > 1e-9 {
			t.Errorf("%s: templates hold %d items, %.0f greedy, %.0f majority; the family %d, %.0f, %.0f", f.Family, n, g, maj, f.N, f.Greedy*float64(f.N), f.Majority*float64(f.N))
		}
	}
	if !strings.Contains(rt.Table(), "by question template") {
		t.Error("no template table")
	}
	// With an arena for the decoding steps (freed buffers poisoned), the
	// report is the same, sampled answers and self-evaluation included.
	t.Setenv("KILN_ARENA_POISON", "1")
	ra := Evaluate(m2, chat2, TaskStream{S: test}, EvalOptions{Items: 10, Samples: 2, MaxNew: 8, Seed: 1, SelfEval: true, Arena: tensor.NewArena()})
	ra.Seconds, r.Seconds = 0, 0
	if !cmp.Equal(ra, r) {
		t.Errorf("the report changed with an arena: %s", cmp.Diff(r, ra))
	}
	if len(r.Records) != 0 {
		t.Errorf("%d records without EvalOptions.Records", len(r.Records))
	}
	// Records hold the outputs the table was scored from: re-scoring them
	// gives the same greedy and majority counts.
	// With a blind baseline, its column re-scores from the records' questions too.
	blind, err := tasks.NewBlind(tasks.DefaultConfig(), 5000, 1)
	if err != nil {
		t.Fatal(err)
	}
	rr := Evaluate(m2, chat2, TaskStream{S: test}, EvalOptions{Items: 10, Samples: 2, MaxNew: 8, Seed: 1, Records: true, Blind: blind})
	if strings.Contains(r.Table(), "blind") || !strings.Contains(rr.Table(), "blind") || rr.BlindItems != 5000 {
		t.Errorf("blind column: without a baseline %q; with one (%d items) %q", r.Table(), rr.BlindItems, rr.Table())
	}
	if len(rr.Records) != 10 {
		t.Fatalf("%d records for 10 items", len(rr.Records))
	}
	g, maj, bl := 0, 0, 0
	for i, rec := range rr.Records {
		if rec.BlindAnswer != blind.Guess(rec.Question) {
			t.Errorf("record %d: blind answer %q, the baseline's %q", i, rec.BlindAnswer, blind.Guess(rec.Question))
		}
		if rec.BlindAnswer == rec.Truth {
			bl++
		}
		it := test.Item(uint64(i))
		if rec.Index != i || rec.Question != it.Question || rec.Answer != it.Answer || rec.Trace != it.Trace || rec.Template != tasks.Template(it.Question) {
			t.Errorf("record %d: %+v, item %+v", i, rec, it)
		}
		if len(rec.Samples) != 2 || len(rec.SampleLogP) != 2 {
			t.Fatalf("record %d: %d samples, %d log-probs", i, len(rec.Samples), len(rec.SampleLogP))
		}
		if tasks.Correct(rec.Greedy, rec.Answer) != (rec.GreedyAnswer == rec.Truth) {
			t.Errorf("record %d: greedy answer %q, truth %q, output %q", i, rec.GreedyAnswer, rec.Truth, rec.Greedy)
		}
		if rec.GreedyAnswer == rec.Truth {
			g++
		}
		if m, _ := tasks.MajorityScored(rec.SampleAnswers, rec.SampleLogP); m == rec.Truth {
			maj++
		}
	}
	all := rr.Families[len(rr.Families)-1]
	if float64(g) != all.Greedy*10 || math.Abs(float64(maj)-all.Majority*10) > 1e-9 || math.Abs(float64(bl)-all.Blind*10) > 1e-9 {
		t.Errorf("records re-score to %d greedy, %d majority, %d blind; the table says %+v", g, maj, bl, all)
	}
	// A broken bundle names the file.
	os.WriteFile(filepath.Join(dir, BundleConfig), []byte("{"), 0o644)
	if _, _, err := LoadBundle(dir); err == nil || !strings.Contains(err.Error(), BundleConfig) {
		t.Errorf("broken config: %v", err)
	}
}
