package main

import (
	"testing"

	"github.com/kiln-ml/kiln/internal/jsonl"
	"github.com/kiln-ml/kiln/vision/train"
)

// The README's first command must run: a short demo end to end.
func TestDemoRuns(t *testing.T) {
	grid := t.TempDir() + "/grid.png"
	if err := runDemo([]string{"-items", "24", "-samples", "2", "-grid", grid, "-evolve-steps", "2", "-adapo-steps", "1", "-research-items", "8"}); err != nil {
		t.Fatal(err)
	}
}

func TestBadFlagsAreErrors(t *testing.T) {
	for _, args := range [][]string{{"-items", "x"}, {"-items", "0"}, {"extra"}, {"-model", "/nonexistent"}} {
		if err := runDemo(args); err == nil {
			t.Errorf("demo %v: no error", args)
		}
	}
}

func TestFamiliesFlag(t *testing.T) {
	if fs, err := parseFamilies(""); err != nil || fs != nil {
		t.Errorf(`parseFamilies(""): %v, %v; want every family (nil)`, fs, err)
	}
	fs, err := parseFamilies("spatial, count,spatial")
	if err != nil || len(fs) != 3 || fs[0] != "spatial" || fs[1] != "count" || fs[2] != "spatial" {
		t.Errorf("parseFamilies: %v, %v", fs, err)
	}
	for _, bad := range []string{"spatial,", "Count", "bogus"} {
		if _, err := parseFamilies(bad); err == nil {
			t.Errorf("parseFamilies(%q): no error", bad)
		}
	}
	// The eval command's stream holds only the families asked for.
	dump := t.TempDir() + "/dump.jsonl"
	if err := runEval([]string{"-families", "geometry", "-items", "6", "-samples", "2", "-self-eval=false", "-split", "validation", "-dump", dump}); err != nil {
		t.Fatal(err)
	}
	recs, err := jsonl.Read[train.ItemRecord](dump)
	if err != nil || len(recs) != 6 {
		t.Fatalf("dump: %d records, %v", len(recs), err)
	}
	for _, r := range recs {
		if r.Family != "geometry" || len(r.SampleAnswers) != 2 || r.Truth == "" {
			t.Errorf("dump record %+v", r)
		}
	}
}
