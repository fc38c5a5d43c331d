package atomicfile

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// entries lists the names in dir, so tests can check that no temporary file
// was left behind.
func entries(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

func writeString(s string) func(io.Writer) error {
	return func(w io.Writer) error {
		_, err := io.WriteString(w, s)
		return err
	}
}

func TestWriteFileCreatesAndReplaces(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "ckpt.safetensors")
	if err := WriteFile(path, writeString("first")); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(path); string(got) != "first" {
		t.Fatalf("content = %q, want %q", got, "first")
	}
	if err := WriteFile(path, writeString("second, longer")); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(path); string(got) != "second, longer" {
		t.Fatalf("content = %q, want %q", got, "second, longer")
	}
	if names := entries(t, dir); len(names) != 1 || names[0] != "ckpt.safetensors" {
		t.Fatalf("directory holds %q, want only the target", names)
	}
	if runtime.GOOS != "windows" {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != newFilePerm {
			t.Errorf("new file mode = %v, want %v", fi.Mode().Perm(), os.FileMode(newFilePerm))
		}
	}
}

func TestWriteFileLargeContent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "big")
	want := strings.Repeat("0123456789abcdef", 1<<14) // 256 KiB, several buffer flushes
	if err := WriteFile(path, writeString(want)); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(path); string(got) != want {
		t.Fatalf("content differs: %d bytes, want %d", len(got), len(want))
	}
}

func TestWriteFileFailureLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out")
	boom := errors.New("boom")
	err := WriteFile(path, func(w io.Writer) error {
		// More than the buffer, so part of it reached the temporary file.
		if _, err := w.Write(make([]byte, 1<<17)); err != nil {
			return err
		}
		return boom
	})
	if err != boom {
		t.Fatalf("err = %v, want the writer's error unchanged", err)
	}
	if names := entries(t, dir); len(names) != 0 {
		t.Fatalf("directory holds %q after a failed write, want nothing", names)
	}
}

func TestWriteFileFailureKeepsExisting(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out")
	if err := os.WriteFile(path, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	err := WriteFile(path, func(w io.Writer) error {
		io.WriteString(w, "half of the new")
		return errors.New("disk on fire")
	})
	if err == nil || err.Error() != "disk on fire" {
		t.Fatalf("err = %v, want the writer's error", err)
	}
	if got, _ := os.ReadFile(path); string(got) != "old" {
		t.Fatalf("content = %q after a failed write, want %q", got, "old")
	}
	if names := entries(t, dir); len(names) != 1 {
		t.Fatalf("directory holds %q, want only the target", names)
	}
}

func TestWriteFilePanicLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out")
	func() {
		defer func() {
			if recover() == nil {
				t.Fatal("panic was swallowed")
			}
		}()
		WriteFile(path, func(w io.Writer) error { panic("writer bug") })
	}()
	if names := entries(t, dir); len(names) != 0 {
		t.Fatalf("directory holds %q after a panicking writer, want nothing", names)
	}
}

func TestWriteFileErrors(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "no", "such", "dir", "out")
	called := false
	err := WriteFile(missing, func(io.Writer) error { called = true; return nil })
	if err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("missing directory: err = %v, want it to name %s", err, missing)
	}
	if called {
		t.Error("writer called although no temporary file could be created")
	}

	if err := WriteFile(dir, writeString("x")); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("directory as target: err = %v, want 'not a regular file'", err)
	}
	if names := entries(t, dir); len(names) != 0 {
		t.Fatalf("directory holds %q, want nothing", names)
	}
}
