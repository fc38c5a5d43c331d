// Package jsonl reads and trims the metrics.jsonl files that kiln's training
// loops append one record per step to.
package jsonl

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/kiln-ml/kiln/internal/atomicfile"
)

// Read returns every record of path; errors name the file and line.
func Read[T any](path string) ([]T, error) { return read[T](path, false) }

// read parses path line by line. With dropTorn, a last line without its
// newline that does not parse, what a write cut short by a crash leaves, is
// dropped; any other line that does not parse is an error.
func read[T any](path string, dropTorn bool) ([]T, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []T
	for line := 1; len(b) > 0; line++ {
		l, rest, complete := bytes.Cut(b, []byte{'\n'})
		b = rest
		var r T
		if err := json.Unmarshal(l, &r); err != nil {
			if !complete {
				if dropTorn {
					break
				}
				return nil, fmt.Errorf("%s:%d: %w (the last line, without its newline: a write cut short?)", path, line, err)
			}
			return nil, fmt.Errorf("%s:%d: %w", path, line, err)
		}
		out = append(out, r)
	}
	return out, nil
}

// Resume returns the records whose step (as keep reports it) is kept and
// rewrites path (atomically) without the others: a run resumed from a
// checkpoint drops the lines written after that checkpoint. A missing file
// is an empty history. A last line without its newline that does not parse
// (a write cut short by a crash) is dropped too; a line that does not parse
// anywhere else is an error naming the file and line, and leaves it as it is.
func Resume[T any](path string, keep func(T) bool) ([]T, error) {
	all, err := read[T](path, true)
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
