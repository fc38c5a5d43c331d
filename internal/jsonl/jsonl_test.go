package jsonl

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

type rec struct {
	Step int     `json:"step"`
	Loss float64 `json:"loss"`
}

func TestResumeTrimsAndRewrites(t *testing.T) {
	p := filepath.Join(t.TempDir(), "metrics.jsonl")
	if got, err := Resume(p, func(r rec) bool { return true }); err != nil || got != nil {
		t.Fatalf("missing file: %v %v", got, err)
	}
	os.WriteFile(p, []byte(`{"step":1,"loss":2}`+"\n"+`{"step":2,"loss":1.5}`+"\n"+`{"step":3,"loss":1}`+"\n"), 0o644)
	got, err := Resume(p, func(r rec) bool { return r.Step <= 2 })
	if err != nil || len(got) != 2 || got[1].Loss != 1.5 {
		t.Fatalf("resume: %v %v", got, err)
	}
	again, err := Read[rec](p)
	if err != nil || len(again) != 2 {
		t.Fatalf("file not rewritten: %v %v", again, err)
	}
	os.WriteFile(p, []byte("{\"step\":1}\nnot json\n"), 0o644)
	if _, err := Read[rec](p); err == nil || !strings.Contains(err.Error(), "metrics.jsonl:2") {
		t.Errorf("bad line error %v", err)
	}
}
