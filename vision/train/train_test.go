package train

import (
	"github.com/kiln-ml/kiln/nn"
	"image"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/kiln-ml/kiln/vision"
	"github.com/kiln-ml/kiln/vision/tokenizer"
)

// colourStream: a solid image whose colour is the answer.
type colourStream struct{ off int }

var colours = []struct {
	name string
	c    color.RGBA
}{{"red", color.RGBA{220, 30, 30, 255}}, {"green", color.RGBA{30, 200, 30, 255}}, {"blue", color.RGBA{30, 30, 220, 255}}}

func (s colourStream) Item(i int) Item {
	k := colours[(i*7+s.off)%3]
	img := image.NewRGBA(image.Rect(0, 0, 16, 16))
	for p := 0; p < len(img.Pix); p += 4 {
		img.Pix[p], img.Pix[p+1], img.Pix[p+2], img.Pix[p+3] = k.c.R, k.c.G, k.c.B, 255
	}
	prompt := []vision.Message{{Role: "user", Content: "What colour is it?", Image: true}}
	return Item{Image: img, Family: "colour", Prompt: prompt, Answer: k.name,
		Conversation: append(slices.Clone(prompt), vision.Message{Role: "assistant", Content: "<answer>" + k.name + "</answer>"})}
}

type tagScorer struct{}

func (tagScorer) Extract(o string) string {
	if a, b := strings.Index(o, "<answer>"), strings.Index(o, "</answer>"); a >= 0 && b > a {
		return o[a+8 : b]
	}
	return o
}
func (tagScorer) Normalize(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

func newTrainer(t *testing.T, dir string, steps int) *Trainer {
	tok, err := tokenizer.Train(slices.Values([]string{"What colour is it? <answer>red</answer> <answer>green</answer> <answer>blue</answer>"}), tokenizer.TrainConfig{VocabSize: 300})
	if err != nil {
		t.Fatal(err)
	}
	img, _ := tok.SpecialID(tokenizer.Image)
	cfg := vision.DemoConfig(tok.VocabSize(), img)
	cfg.ImageSize, cfg.PatchSize = 16, 4
	cfg.VitDim, cfg.VitLayers, cfg.VitHeads, cfg.VitMLP = 16, 1, 2, 32
	cfg.LMDim, cfg.LMLayers, cfg.LMHeads, cfg.LMKVHeads, cfg.LMHidden = 16, 1, 2, 1, 32
	cfg.MaxSeq, cfg.Dropout = 64, 0.1
	m, err := vision.New(cfg, 3)
	if err != nil {
		t.Fatal(err)
	}
	chat, err := vision.NewChat(tok, cfg.ImageTokens())
	if err != nil {
		t.Fatal(err)
	}
	return &Trainer{Model: m, Chat: chat, Train: colourStream{}, Val: colourStream{off: 1}, Scorer: tagScorer{}, Config: cfg,
		Opt: Options{Steps: steps, Batch: 6, LR: 1e-2, MinLR: 1e-3, Warmup: 2, WeightDecay: 0.01, Clip: 1, EvalEvery: 3, EvalItems: 6, SaveEvery: 3, Dir: dir}}
}

func TestTrainLearnsAndResumesBitwise(t *testing.T) {
	base := t.TempDir()
	straight := newTrainer(t, filepath.Join(base, "a"), 6)
	if err := straight.Run(); err != nil {
		t.Fatal(err)
	}
	// Stop after 3 steps (a checkpoint), then resume in fresh objects.
	half := newTrainer(t, filepath.Join(base, "b"), 6)
	half.Opt.Steps = 3
	if err := half.Run(); err != nil {
		t.Fatal(err)
	}
	resumed := newTrainer(t, filepath.Join(base, "b"), 6)
	if err := resumed.Run(); err != nil {
		t.Fatal(err)
	}
	if name := firstDiffering(straight.Model, resumed.Model); name != "" {
		t.Fatalf("%s differs after resume", name)
	}
	hist, err := readMetrics(filepath.Join(base, "a", "metrics.jsonl"), 1<<30)
	if err != nil || len(hist) != 6 {
		t.Fatalf("metrics: %d lines, %v", len(hist), err)
	}
	if !(hist[5].Loss < hist[0].Loss) {
		t.Errorf("loss did not fall: %v -> %v", hist[0].Loss, hist[5].Loss)
	}
	if hist[2].ValLoss == 0 {
		t.Error("no validation at step 3")
	}
	if _, err := os.Stat(filepath.Join(base, "a", "curves.png")); err != nil {
		t.Error(err)
	}
}

// The step arena changes where tensors live, not what they hold: a run with
// it and one without give the same weights and metrics bit for bit.
func TestTrainArenaSameBits(t *testing.T) {
	base := t.TempDir()
	withArena := newTrainer(t, filepath.Join(base, "arena"), 4)
	plain := newTrainer(t, filepath.Join(base, "plain"), 4)
	plain.Opt.PlainAlloc = true
	for _, tr := range []*Trainer{withArena, plain} {
		if err := tr.Run(); err != nil {
			t.Fatal(err)
		}
	}
	if name := firstDiffering(plain.Model, withArena.Model); name != "" {
		t.Fatalf("%s differs with the arena", name)
	}
	ha, err := readMetrics(filepath.Join(base, "arena", "metrics.jsonl"), 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	hp, err := readMetrics(filepath.Join(base, "plain", "metrics.jsonl"), 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	for i := range hp {
		if ha[i].Loss != hp[i].Loss || ha[i].GradNorm != hp[i].GradNorm || ha[i].ValAcc != hp[i].ValAcc {
			t.Fatalf("step %d: %+v with the arena, %+v without", i+1, ha[i], hp[i])
		}
	}
}

// firstDiffering names the first parameter whose bits differ between a and
// b ("" when none).
func firstDiffering(a, b *vision.VLM) string {
	for _, q := range a.P.All() {
		x, y := q.T.ToSlice(), b.P.Get(q.Name).T.ToSlice()
		for i := range x {
			if math.Float32bits(x[i]) != math.Float32bits(y[i]) {
				return q.Name
			}
		}
	}
	return ""
}

// Switch serves A below At and B from At on, by index alone.
func TestSwitch(t *testing.T) {
	a, b := colourStream{off: 0}, colourStream{off: 1}
	s := Switch{A: a, B: b, At: 5}
	for _, i := range []int{0, 4, 5, 6, 40, 4} {
		want := a.Item(i).Answer
		if i >= 5 {
			want = b.Item(i).Answer
		}
		if got := s.Item(i).Answer; got != want {
			t.Fatalf("item %d: %q, want %q", i, got, want)
		}
	}
}

// A restart at step 3 logs the first cosine's rates before it and the
// second's from it, and a run stopped at the restart resumes onto the same
// weights as one that never stopped.
func TestTrainRestart(t *testing.T) {
	base := t.TempDir()
	withRestart := func(tr *Trainer) *Trainer {
		tr.Opt.RestartAt, tr.Opt.RestartLR, tr.Opt.RestartMinLR = 3, 5e-3, 5e-4
		return tr
	}
	straight := withRestart(newTrainer(t, filepath.Join(base, "a"), 6))
	if err := straight.Run(); err != nil {
		t.Fatal(err)
	}
	hist, err := readMetrics(filepath.Join(base, "a", "metrics.jsonl"), 1<<30)
	if err != nil || len(hist) != 6 {
		t.Fatalf("metrics: %d lines, %v", len(hist), err)
	}
	first := nn.WarmupCosine{Base: 1e-2, Min: 1e-3, Warmup: 2, Total: 3}
	then := nn.WarmupCosine{Base: 5e-3, Min: 5e-4, Total: 3}
	for i, h := range hist {
		want := first.At(i)
		if i >= 3 {
			want = then.At(i - 3)
		}
		if float32(h.LR) != want {
			t.Fatalf("step %d: lr %v, want %v", i+1, h.LR, want)
		}
	}
	half := withRestart(newTrainer(t, filepath.Join(base, "b"), 6))
	half.Opt.Steps = 3
	half.Opt.RestartAt = 0 // a run that stops at 3 has no second phase yet
	if err := half.Run(); err != nil {
		t.Fatal(err)
	}
	resumed := withRestart(newTrainer(t, filepath.Join(base, "b"), 6))
	if err := resumed.Run(); err != nil {
		t.Fatal(err)
	}
	if name := firstDiffering(straight.Model, resumed.Model); name != "" {
		t.Fatalf("%s differs after resume", name)
	}
	bad := withRestart(newTrainer(t, filepath.Join(base, "c"), 3))
	if err := bad.Opt.Validate(); err == nil {
		t.Fatal("restart at the last step: no error")
	}
}
