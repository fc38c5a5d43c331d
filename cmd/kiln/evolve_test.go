package main

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/kiln-ml/kiln/selfevolve"
)

// Every selfevolve option has a flag of kiln evolve whose default is
// selfevolve.Scaled's (the spec's values but for the learning rate and the
// token budgets), and the flags set the options.
func TestEvolveFlags(t *testing.T) {
	flagOf := map[string]string{
		"Steps": "steps", "N": "n", "ProposerMaxNew": "proposer-max-new", "SolverMaxNew": "solver-max-new",
		"Temperature": "temperature", "Reward": "reward", "Gamma": "gamma", "LambdaLen": "lambda-len", "Tau": "tau",
		"MuH": "mu-h", "SigmaH": "sigma-h", "BaselineMomentum": "baseline-momentum", "BaselineInit": "baseline-init",
		"GroupBaseline": "group-baseline", "ConfidenceFilter": "confidence", "ProposerEvery": "proposer-every",
		"FreezeProposer": "freeze-proposer", "BetaInit": "beta", "KLTarget": "kl-target", "BetaRate": "beta-rate",
		"BetaMin": "beta-min", "BetaMax": "beta-max", "AdaptiveKL": "adaptive-kl", "LR": "lr", "WeightDecay": "wd",
		"Beta1": "adam-beta1", "Beta2": "adam-beta2", "Eps": "adam-eps", "Clip": "clip", "LoRARank": "lora-rank",
		"LoRAAlpha": "lora-alpha", "LoRADropout": "lora-dropout", "LoRATargets": "lora-targets", "ImagePool": "image-pool",
		"ImageSeed": "image-seed", "Seed": "seed", "EvalEvery": "eval-every", "EvalItems": "eval-items",
		"EvalSamples": "eval-samples", "Guard": "guard", "GuardMargin": "guard-margin", "MaxRollbacks": "max-rollbacks",
		"SaveEvery": "save-every", "PlainAlloc": "plain-alloc",
		"Dir": "", "Progress": "", // -out of runEvolve; the terminal
	}
	fs := flag.NewFlagSet("evolve", flag.ContinueOnError)
	o := selfevolve.Scaled()
	reward, guard := evolveFlags(fs, &o)
	for _, f := range reflect.VisibleFields(reflect.TypeFor[selfevolve.Options]()) {
		name, ok := flagOf[f.Name]
		if !ok {
			t.Errorf("option %s has no flag in the test's table", f.Name)
		} else if name != "" && fs.Lookup(name) == nil {
			t.Errorf("option %s: no flag -%s", f.Name, name)
		}
	}
	if err := fs.Parse(nil); err != nil {
		t.Fatal(err)
	}
	o.Reward, o.Guard = selfevolve.RewardKind(*reward), selfevolve.GuardAction(*guard)
	if !reflect.DeepEqual(o, selfevolve.Scaled()) {
		t.Errorf("flag defaults %+v\nScaled       %+v", o, selfevolve.Scaled())
	}
	fs = flag.NewFlagSet("evolve", flag.ContinueOnError)
	o = selfevolve.Scaled()
	evolveFlags(fs, &o)
	if err := fs.Parse([]string{"-lr", "1e-4", "-baseline-init", "0.5", "-adam-beta2", "0.99", "-confidence", "0.8", "-group-baseline", "-lora-targets", "a,b"}); err != nil {
		t.Fatal(err)
	}
	if o.LR != 1e-4 || o.BaselineInit != 0.5 || o.Beta2 != 0.99 || o.ConfidenceFilter != 0.8 || !o.GroupBaseline || !reflect.DeepEqual(o.LoRATargets, []string{"a", "b"}) {
		t.Errorf("flags not applied: %+v", o)
	}
}

// kiln evolve on the shipped model: per-step JSONL with the fields,
// validation log, PNGs, report and checkpoint; a second call with more steps
// resumes; -ablation writes the table.
func TestEvolveCommand(t *testing.T) {
	model := filepath.Join("..", "..", "vision", "pretrained", "model")
	out := filepath.Join(t.TempDir(), "run")
	args := []string{"-model", model, "-out", out, "-eval-every", "1", "-eval-items", "4", "-eval-samples", "2",
		"-test-items", "4", "-test-samples", "2", "-save-every", "1", "-proposer-every", "2", "-guard", "off"}
	if err := runEvolve(append(args, "-steps", "2")); err != nil {
		t.Fatal(err)
	}
	lines := func() []map[string]any {
		b, err := os.ReadFile(filepath.Join(out, selfevolve.StepsFile))
		if err != nil {
			t.Fatal(err)
		}
		var ls []map[string]any
		for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			var m map[string]any
			if err := json.Unmarshal([]byte(l), &m); err != nil {
				t.Fatal(err)
			}
			ls = append(ls, m)
		}
		return ls
	}
	ls := lines()
	if len(ls) != 2 {
		t.Fatalf("%d step lines", len(ls))
	}
	for _, k := range []string{"question", "answers", "rewards", "proposer_reward", "entropy", "kl_solver", "beta_solver", "beta_proposer"} {
		if _, ok := ls[0][k]; !ok {
			t.Errorf("steps.jsonl lacks %q: %v", k, ls[0])
		}
	}
	if ls[0]["proposer_step"] != nil || ls[1]["proposer_step"] != true {
		t.Errorf("proposer steps: %v, %v (want the second only)", ls[0]["proposer_step"], ls[1]["proposer_step"])
	}
	for _, f := range []string{selfevolve.EvalsFile, selfevolve.RewardsPlot, selfevolve.KLPlot, selfevolve.EntropyPlot, selfevolve.ValidationPlot, "report.json", filepath.Join(selfevolve.CheckpointDir, "checkpoint.json")} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Error(err)
		}
	}
	if err := runEvolve(append(args, "-steps", "3")); err != nil {
		t.Fatal(err)
	}
	if ls := lines(); len(ls) != 3 || ls[2]["step"] != 2.0 {
		t.Errorf("resume: %d step lines", len(ls))
	}

	abl := filepath.Join(t.TempDir(), "ablation")
	if err := runEvolve([]string{"-model", model, "-out", abl, "-ablation", "-variants", "base,continuous", "-seeds", "1",
		"-steps", "1", "-eval-items", "4", "-eval-samples", "2", "-test-items", "4", "-test-samples", "2"}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(abl, "ablation.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"| base | 1 |", "| continuous | 1 |", "| count |", "| all |", "| steps |", "train time"} {
		if !strings.Contains(string(b), s) {
			t.Errorf("ablation.md lacks %q:\n%s", s, b)
		}
	}
}
