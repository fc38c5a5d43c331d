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

// A crash mid-write leaves a last line without its newline: Resume drops it
// and keeps the rest (Read still refuses it); a complete last line that
// does not parse, or a bad line before the last, is an error naming the
// file and line, and the file is left as it is.
func TestResumeTornLastLine(t *testing.T) {
	p := filepath.Join(t.TempDir(), "metrics.jsonl")
	good := `{"step":1,"loss":2}` + "\n" + `{"step":2,"loss":1.5}` + "\n"
	os.WriteFile(p, []byte(good+`{"step":3,"lo`), 0o644)
	if _, err := Read[rec](p); err == nil || !strings.Contains(err.Error(), "metrics.jsonl:3") {
		t.Errorf("Read of a torn last line: %v", err)
	}
	got, err := Resume(p, func(r rec) bool { return true })
	if err != nil || len(got) != 2 || got[1].Loss != 1.5 {
		t.Fatalf("resume of a torn last line: %v %v", got, err)
	}
	if b, _ := os.ReadFile(p); string(b) != good {
		t.Errorf("rewritten as %q, want %q", b, good)
	}
	// A parseable last line without its newline is a record.
	os.WriteFile(p, []byte(good+`{"step":3,"loss":1}`), 0o644)
	if got, err := Resume(p, func(r rec) bool { return true }); err != nil || len(got) != 3 {
		t.Errorf("unterminated complete last line: %v %v", got, err)
	}
	for _, c := range []struct{ text, where string }{
		{`{"step":1}` + "\n" + `{"step":2,"lo` + "\n" + `{"step":3}` + "\n", "metrics.jsonl:2"},
		{`{"step":1}` + "\n" + `{"step":2,"lo` + "\n" + `{"step":3}`, "metrics.jsonl:2"},
		{good + `{"step":3,"lo` + "\n", "metrics.jsonl:3"},
		{`{"step":1}` + "\n\n" + `{"step":3}` + "\n", "metrics.jsonl:2"},
	} {
		os.WriteFile(p, []byte(c.text), 0o644)
		if _, err := Resume(p, func(r rec) bool { return true }); err == nil || !strings.Contains(err.Error(), c.where) {
			t.Errorf("%q: error %v, want one naming %s", c.text, err, c.where)
		}
		if b, _ := os.ReadFile(p); string(b) != c.text {
			t.Errorf("%q: the file was changed to %q", c.text, b)
		}
	}
}
