package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// kiln train -init starts from a bundle: with a zero learning rate the
// exported weights and tokenizer are the bundle's, byte for byte; a missing
// bundle is an error naming it.
func TestTrainInit(t *testing.T) {
	model := filepath.Join("..", "..", "vision", "pretrained", "model")
	dir := t.TempDir()
	out, export := filepath.Join(dir, "run"), filepath.Join(dir, "bundle")
	args := []string{"-init", model, "-out", out, "-steps", "1", "-batch", "2", "-lr", "0", "-min-lr", "0", "-warmup", "0",
		"-eval-items", "2", "-export", export}
	if err := runTrain(args); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"model.safetensors", "tokenizer.json"} {
		want, err := os.ReadFile(filepath.Join(model, f))
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Join(export, f))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from the -init bundle's (%d vs %d bytes)", f, len(got), len(want))
		}
	}
	if err := runTrain([]string{"-init", filepath.Join(dir, "nothing"), "-out", filepath.Join(dir, "run2"), "-steps", "1"}); err == nil {
		t.Error("-init with a missing bundle: no error")
	}
	if err := runTrain([]string{"-init", model, "-config", filepath.Join(model, "config.json"), "-out", filepath.Join(dir, "run3"), "-steps", "1"}); err == nil {
		t.Error("-init with -config: no error")
	}
}

// Bad numbers on the command line fail before anything is built or written.
func TestTrainBadFlagsFailFast(t *testing.T) {
	for _, args := range [][]string{
		{"-batch", "0"}, {"-steps", "0"}, {"-lr", "-1"}, {"-lr", "1e-3", "-min-lr", "1e-2"}, {"-lr", "NaN"},
		{"-warmup", "-1"}, {"-clip", "-1"}, {"-wd", "-0.1"}, {"-eval-items", "-2"}, {"-answer-only", "1.5"}, {"-answer-only", "NaN"},
		{"-answer-only-from", "10"}, {"-answer-only-families", "count"}, {"-answer-only", "0.3", "-answer-only-from", "3000"},
		{"-answer-only", "0.3", "-answer-only-from", "-1"}, {"-answer-only", "0.3", "-answer-only-families", "count,clocks"},
		{"-answer-only", "0.3", "-answer-only-openings", "9"}, {"-restart-at", "3000"}, {"-restart-at", "-1"},
		{"-restart-at", "100", "-restart-lr", "1e-4", "-restart-min-lr", "1e-3"},
	} {
		out := filepath.Join(t.TempDir(), "run")
		if err := runTrain(append(args, "-out", out)); err == nil {
			t.Errorf("train %v: no error", args)
		}
		if _, err := os.Stat(out); !os.IsNotExist(err) {
			t.Errorf("train %v: the run directory was made (%v)", args, err)
		}
	}
}
