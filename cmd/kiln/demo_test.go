package main

import "testing"

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
