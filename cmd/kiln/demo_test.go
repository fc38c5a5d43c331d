package main

import "testing"

// The README's first command must run: a short demo end to end.
func TestDemoRuns(t *testing.T) {
	if err := runDemo([]string{"-steps", "60"}); err != nil {
		t.Fatal(err)
	}
}

func TestBadFlagsAreErrors(t *testing.T) {
	for _, args := range [][]string{{"-steps", "x"}, {"-steps", "0"}, {"extra"}} {
		if err := runDemo(args); err == nil {
			t.Errorf("demo %v: no error", args)
		}
	}
}
