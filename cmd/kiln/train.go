package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"
	"time"

	"github.com/kiln-ml/kiln/nn"
	"github.com/kiln-ml/kiln/tensor"
	"github.com/kiln-ml/kiln/vision"
	"github.com/kiln-ml/kiln/vision/tasks"
	"github.com/kiln-ml/kiln/vision/tokenizer"
	"github.com/kiln-ml/kiln/vision/train"
)

func init() {
	register(&command{
		name:    "train",
		summary: "supervised training of the VLM on the synthetic visual-reasoning tasks (resumes from -out)",
		run:     runTrain,
	})
}

func runTrain(args []string) error {
	c := commands["train"]
	fs := newFlags(c)
	out := fs.String("out", "runs/sft", "run directory (metrics.jsonl, curves.png, checkpoint/); an existing checkpoint there is resumed")
	steps := fs.Int("steps", 3000, "optimizer steps")
	batch := fs.Int("batch", 32, "conversations per step")
	lr := fs.Float64("lr", 3e-3, "peak learning rate")
	minLR := fs.Float64("min-lr", 3e-4, "final learning rate of the cosine schedule")
	warmup := fs.Int("warmup", 100, "warmup steps")
	wd := fs.Float64("wd", 0.01, "AdamW weight decay on matrices")
	clip := fs.Float64("clip", 1, "gradient-norm clip (0 = off)")
	evalEvery := fs.Int("eval-every", 250, "validate every N steps")
	evalItems := fs.Int("eval-items", 128, "validation items per evaluation")
	saveEvery := fs.Int("save-every", 250, "checkpoint every N steps")
	seed := fs.Uint64("seed", 1, "seed of the weights and the data streams")
	vocab := fs.Int("vocab", 512, "tokenizer vocabulary size (new runs)")
	configPath := fs.String("config", "", "model config JSON (new runs; default: the demo model)")
	cpuProf := fs.String("cpuprofile", "", "write a CPU profile of the run to this file (go tool pprof)")
	export := fs.String("export", "", "after training, write the weights-only model bundle to this directory")
	device := fs.String("device", "cpu", "where to train: cpu, or cuda:N (a build with -tags cuda and a GPU)")
	countRoutes := fs.Bool("count-routes", false, "half the counting traces go by columns instead of rows (two routes to one answer; tasks.Config.CountRoutes; pass it again on resume)")
	answerOnly := fs.Float64("answer-only", 0, "share (0-1) of solver examples trained on the bare answer, the rest on traces after one of -answer-only-openings openings, so greedy and samples take different routes (tasks.Config.AnswerOnly; pass it again on resume)")
	restartAt := fs.Int("restart-at", 0, "end the first cosine at this step and start a second one there, from -restart-lr to -restart-min-lr (0 = one cosine)")
	restartLR := fs.Float64("restart-lr", 1e-3, "peak learning rate of the second cosine (-restart-at)")
	restartMinLR := fs.Float64("restart-min-lr", 1e-4, "final learning rate of the second cosine (-restart-at)")
	aoFamilies := fs.String("answer-only-families", "", "confine -answer-only to these comma-separated families (default all; tasks.Config.AnswerOnlyFamilies)")
	aoOpenings := fs.Int("answer-only-openings", 4, "how many trace openings share the reasoned targets under -answer-only (1-8)")
	aoFrom := fs.Int("answer-only-from", 0, "train on plain traces until this step, then with -answer-only (a second data phase in one run; the tokenizer comes from the first phase)")
	families := fs.String("families", "", "comma-separated task families to train on (default all: "+familyNames()+"); repeat one to weight it")
	plainAlloc := fs.Bool("plain-alloc", false, "allocate each step's tensors from the Go heap instead of the step arena (the same numbers, slower; for comparison)")
	initDir := fs.String("init", "", "start a new run from this model bundle's weights and tokenizer (fine-tuning; ignored when -out has a checkpoint)")
	if err := parseFlags(c, fs, args); err != nil {
		return err
	}
	opts := train.Options{Steps: *steps, Batch: *batch, LR: float32(*lr), MinLR: float32(*minLR), Warmup: *warmup,
		WeightDecay: float32(*wd), Clip: float32(*clip), EvalEvery: *evalEvery, EvalItems: *evalItems,
		SaveEvery: *saveEvery, Dir: *out, Progress: os.Stderr, PlainAlloc: *plainAlloc,
		RestartAt: *restartAt, RestartLR: float32(*restartLR), RestartMinLR: float32(*restartMinLR)}
	if err := opts.Validate(); err != nil { // before a tokenizer is trained for nothing
		return err
	}
	dev, err := tensor.ParseDevice(*device)
	if err != nil {
		return err
	}
	if err := dev.Open(); err != nil {
		return err
	}
	tcfg := tasks.DefaultConfig()
	tcfg.CountRoutes = *countRoutes
	if tcfg.Families, err = parseFamilies(*families); err != nil {
		return err
	}
	if *aoFamilies != "" || *aoFrom != 0 {
		if *answerOnly == 0 {
			return fmt.Errorf("-answer-only-families and -answer-only-from need -answer-only above 0")
		}
		if *aoFrom < 0 || *aoFrom >= *steps {
			return fmt.Errorf("-answer-only-from %d is outside 0 to -steps %d", *aoFrom, *steps)
		}
	}
	aoCfg := tcfg
	aoCfg.AnswerOnly = *answerOnly
	aoCfg.Openings = *aoOpenings
	if aoCfg.AnswerOnlyFamilies, err = parseFamilies(*aoFamilies); err != nil {
		return fmt.Errorf("-answer-only%w", err)
	}
	if *aoFrom == 0 {
		tcfg = aoCfg
	}
	trainS, err := tasks.NewStream(tcfg, tasks.Train, *seed)
	if err != nil {
		return err
	}
	var trainData train.Stream = train.TaskStream{S: trainS, Mix: train.DefaultMix}
	if *aoFrom > 0 {
		aoS, err := tasks.NewStream(aoCfg, tasks.Train, *seed)
		if err != nil {
			return err
		}
		trainData = train.Switch{A: trainData, B: train.TaskStream{S: aoS, Mix: train.DefaultMix}, At: *aoFrom * *batch}
	}
	valS, err := tasks.NewStream(tcfg, tasks.Validation, *seed)
	if err != nil {
		return err
	}
	ckpt := filepath.Join(*out, "checkpoint")
	var tok *tokenizer.Tokenizer
	var cfg vision.Config
	var initModel *vision.VLM
	if _, err := os.Stat(filepath.Join(ckpt, nn.ManifestFile)); err == nil {
		b, err := nn.ReadCheckpointFile(ckpt, train.BundleTokenizer)
		if err != nil {
			return err
		}
		if tok, err = tokenizer.ReadJSON(bytesReader(b)); err != nil {
			return fmt.Errorf("%s: %w", filepath.Join(ckpt, train.BundleTokenizer), err)
		}
		if err := nn.ReadConfig(ckpt, &cfg); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "resuming from %s (model config and tokenizer from the checkpoint)\n", ckpt)
	} else if *initDir != "" {
		if *configPath != "" {
			return fmt.Errorf("-init %s and -config %s both give the model: use one", *initDir, *configPath)
		}
		im, ichat, err := train.LoadBundle(*initDir)
		if err != nil {
			return err
		}
		tok, cfg, initModel = ichat.Tok, im.Cfg, im
		fmt.Fprintf(os.Stderr, "starting from the weights of %s\n", *initDir)
	} else {
		if tok, err = train.NewTokenizer(trainS, *vocab); err != nil {
			return err
		}
		img, _ := tok.SpecialID(tokenizer.Image)
		cfg = vision.DemoConfig(tok.VocabSize(), img)
		if *configPath != "" {
			if cfg, err = vision.LoadConfig(*configPath); err != nil {
				return err
			}
			if cfg.Vocab != tok.VocabSize() || cfg.ImageToken != img {
				return fmt.Errorf("%s: vocab %d / image_token %d do not match the tokenizer (%d / %d)", *configPath, cfg.Vocab, cfg.ImageToken, tok.VocabSize(), img)
			}
		}
	}
	m := initModel
	if m == nil {
		if m, err = vision.New(cfg, *seed); err != nil {
			return err
		}
	}
	if err := m.P.To(dev); err != nil { // before the trainer loads a checkpoint into them
		return err
	}
	chat, err := vision.NewChat(tok, cfg.ImageTokens())
	if err != nil {
		return err
	}
	tb, err := tokenizerJSON(tok)
	if err != nil {
		return err
	}
	tr := &train.Trainer{
		Model: m, Chat: chat, Scorer: train.TaskScorer{}, Config: cfg, Files: map[string][]byte{train.BundleTokenizer: tb},
		Train: trainData,
		Val:   train.TaskStream{S: valS},
		Opt:   opts,
	}
	cj, _ := json.Marshal(cfg)
	fmt.Fprintf(os.Stderr, "model: %d parameters, %d image tokens; config %s\n", m.P.Count(false), cfg.ImageTokens(), cj)
	if *cpuProf != "" {
		f, err := os.Create(*cpuProf)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("%s: %w", *cpuProf, err)
		}
		defer pprof.StopCPUProfile()
	}
	start := time.Now()
	if err := tr.Run(); err != nil {
		return err
	}
	fmt.Printf("trained %d steps in %s; metrics and curves in %s\n", *steps, time.Since(start).Round(time.Second), *out)
	if *export != "" {
		if err := train.SaveBundle(*export, m, chat); err != nil {
			return err
		}
		fmt.Printf("model bundle written to %s\n", *export)
	}
	return nil
}
