package main

import (
	"bytes"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/kiln-ml/kiln/vision/tasks"
	"github.com/kiln-ml/kiln/vision/tokenizer"
)

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }

func tokenizerJSON(t *tokenizer.Tokenizer) ([]byte, error) {
	var buf bytes.Buffer
	err := t.WriteJSON(&buf)
	return buf.Bytes(), err
}

// parseFamilies reads a -families flag: "" is every family (nil, the
// stream's default); otherwise comma-separated names of tasks.Families.
func parseFamilies(s string) ([]tasks.Family, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var out []tasks.Family
	for _, name := range strings.Split(s, ",") {
		f := tasks.Family(strings.TrimSpace(name))
		if !slices.Contains(tasks.Families, f) {
			return nil, fmt.Errorf("-families: unknown family %q (want some of %s)", name, familyNames())
		}
		out = append(out, f)
	}
	return out, nil
}

// familyNames lists the task families for flag help and errors.
func familyNames() string {
	names := make([]string, len(tasks.Families))
	for i, f := range tasks.Families {
		names[i] = string(f)
	}
	return strings.Join(names, ",")
}
