package main

import (
	"encoding/json"
	"os"
	"testing"

	"github.com/kiln-ml/kiln/internal/jsonl"
	"github.com/kiln-ml/kiln/vision/tasks"
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
	dump, js := t.TempDir()+"/dump.jsonl", t.TempDir()+"/eval.json"
	if err := runEval([]string{"-families", "geometry", "-items", "6", "-samples", "2", "-self-eval=false", "-split", "validation", "-dump", dump, "-blind", "3000", "-json", js}); err != nil {
		t.Fatal(err)
	}
	// The blind baseline counts the families evaluated: its guesses
	// re-score from the dump to the table's blind column.
	var rep train.Report
	if b, err := os.ReadFile(js); err != nil || json.Unmarshal(b, &rep) != nil || rep.BlindItems != 3000 {
		t.Fatalf("eval JSON: %v, blind over %d items", err, rep.BlindItems)
	}
	blind, _ := tasks.NewBlind(tasks.Config{Families: []tasks.Family{tasks.Geometry}}, 3000, 1)
	right := 0.0
	recs, err := jsonl.Read[train.ItemRecord](dump)
	if err != nil || len(recs) != 6 {
		t.Fatalf("dump: %d records, %v", len(recs), err)
	}
	for _, r := range recs {
		if r.Family != "geometry" || len(r.SampleAnswers) != 2 || r.Truth == "" {
			t.Errorf("dump record %+v", r)
		}
		if blind.Guess(r.Question) == r.Truth {
			right++
		}
	}
	if all := rep.Families[len(rep.Families)-1]; all.Blind != right/6 {
		t.Errorf("blind column %v, re-scored %v", all.Blind, right/6)
	}
	if err := runEval([]string{"-blind", "-1"}); err == nil {
		t.Error("eval -blind -1: no error")
	}
}

// The demo's noise line uses the smallest family, never the "all" row.
func TestSmallestFamily(t *testing.T) {
	r := train.Report{Families: []train.FamilyRow{{Family: "count", N: 71}, {Family: "chart", N: 50}, {Family: "all", N: 121}}}
	if n := smallestFamily(r); n != 50 {
		t.Errorf("smallestFamily = %d, want 50", n)
	}
	if n := smallestFamily(train.Report{}); n != 0 {
		t.Errorf("smallestFamily of an empty report = %d, want 0", n)
	}
}
