package main

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/kiln-ml/kiln/internal/atomicfile"
	"github.com/kiln-ml/kiln/tensor"
	"github.com/kiln-ml/kiln/vision"
	"github.com/kiln-ml/kiln/vision/tasks"
	"github.com/kiln-ml/kiln/vision/train"
)

func init() {
	register(&command{
		name:    "eval",
		summary: "per-family accuracy (greedy, sampled, majority-of-N) and self-evaluation metrics on the test stream",
		run:     runEval,
	})
}

// loadModel loads a bundle or checkpoint directory, or the embedded model
// when dir is empty.
func loadModel(dir string) (*vision.VLM, *vision.Chat, error) {
	if dir == "" {
		return loadEmbedded()
	}
	return train.LoadBundle(dir)
}

// defaultBlindItems is the training sample of the blind baseline: about a
// second to draw, and every question text of the default tasks appears in
// it many times (666 distinct texts in 200k items).
const defaultBlindItems = 100000

func runEval(args []string) error {
	c := commands["eval"]
	fs := newFlags(c)
	model := fs.String("model", "", "model bundle or checkpoint directory (default: the embedded model)")
	items := fs.Int("items", 500, "test items")
	samples := fs.Int("samples", 5, "sampled answers per item for sampled and majority accuracy")
	temp := fs.Float64("temperature", 1, "sampling temperature of those answers (the spec's is 1)")
	maxNew := fs.Int("max-new", 48, "token budget per answer")
	seed := fs.Uint64("seed", 1, "seed of the test stream and of sampling")
	selfEval := fs.Bool("self-eval", true, "also measure the second turn after AdaPO's self-evaluation prompt")
	split := fs.String("split", "test", "stream to evaluate on: test or validation")
	jsonOut := fs.String("json", "", "also write the report as JSON to this file")
	templates := fs.Bool("templates", false, "also break the accuracies down by question template within each family")
	plainAlloc := fs.Bool("plain-alloc", false, "allocate the decoding steps' tensors from the Go heap instead of an arena (the same outputs, slower, a third of the peak memory)")
	families := fs.String("families", "", "comma-separated task families to evaluate (default all: "+familyNames()+")")
	blind := fs.Int("blind", defaultBlindItems, "training items the image-blind baseline (the blind column: what above chance means) counts answers over (0: no baseline)")
	dump := fs.String("dump", "", "also write every item's question, truth, greedy and sampled outputs (with log-probabilities) as JSON lines to this file")
	if err := parseFlags(c, fs, args); err != nil {
		return err
	}
	if *temp <= 0 {
		return fmt.Errorf("-temperature must be above 0, got %g", *temp)
	}
	if *items < 1 {
		return fmt.Errorf("-items must be at least 1, got %d", *items)
	}
	if *blind < 0 {
		return fmt.Errorf("-blind must be 0 or more, got %d", *blind)
	}
	sp := tasks.Test
	switch *split {
	case "test":
	case "validation":
		sp = tasks.Validation
	default:
		return fmt.Errorf("-split must be test or validation, got %q", *split)
	}
	m, chat, err := loadModel(*model)
	if err != nil {
		return err
	}
	tcfg := tasks.DefaultConfig()
	if tcfg.Families, err = parseFamilies(*families); err != nil {
		return err
	}
	s, err := tasks.NewStream(tcfg, sp, *seed)
	if err != nil {
		return err
	}
	opts := train.EvalOptions{Items: *items, Samples: *samples, MaxNew: *maxNew, Seed: *seed, SelfEval: *selfEval, Temperature: float32(*temp), Templates: *templates, Records: *dump != ""}
	if !*plainAlloc { // decoding steps recycle their buffers: the same outputs, faster
		opts.Arena = tensor.NewArena()
		defer tensor.TightGC()()
	}
	if *blind > 0 {
		if opts.Blind, err = tasks.NewBlind(tcfg, *blind, *seed); err != nil {
			return err
		}
	}
	r := train.Evaluate(m, chat, train.TaskStream{S: s}, opts)
	fmt.Printf("%s stream, %d items (seed %d), %.0fs\n\n%s", *split, *items, *seed, r.Seconds, r.Table())
	if *dump != "" {
		err := atomicfile.WriteFile(*dump, func(w io.Writer) error {
			enc := json.NewEncoder(w)
			for _, rec := range r.Records {
				if err := enc.Encode(rec); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	if *jsonOut != "" {
		b, _ := json.MarshalIndent(r, "", "  ")
		return atomicfile.WriteFile(*jsonOut, func(w io.Writer) error { _, err := w.Write(append(b, '\n')); return err })
	}
	return nil
}
