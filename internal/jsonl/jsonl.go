// Package jsonl reads and trims the metrics.jsonl files that kiln's training
// loops append one record per step to.
package jsonl

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/kiln-ml/kiln/internal/atomicfile"
)

// Read returns every record of path; errors name the file and line.
func Read[T any](path string) ([]T, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []T
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for line := 1; sc.Scan(); line++ {
		var r T
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, line, err)
		}
		out = append(out, r)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return out, nil
}

// Resume returns the records whose step (as keep reports it) is kept and
// rewrites path (atomically) without the others: a run resumed from a
// checkpoint drops the lines written after that checkpoint. A missing file
// is an empty history.
func Resume[T any](path string, keep func(T) bool) ([]T, error) {
	all, err := Read[T](path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []T
	for _, r := range all {
		if keep(r) {
			out = append(out, r)
		}
	}
	err = atomicfile.WriteFile(path, func(w io.Writer) error {
		enc := json.NewEncoder(w)
		for _, r := range out {
			if err := enc.Encode(r); err != nil {
				return err
			}
		}
		return nil
	})
	return out, err
}
