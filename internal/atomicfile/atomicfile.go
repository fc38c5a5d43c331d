// Package atomicfile replaces files so that a reader, or the file system
// after a crash, sees either the old content or the complete new content,
// never a half-written file.
package atomicfile

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
)

// newFilePerm is the permission of a file that WriteFile creates. A file that
// WriteFile replaces keeps its permission bits.
const newFilePerm = 0o644

// WriteFile calls write with a buffered writer on a temporary file in the
// directory of path, then flushes it, fsyncs it, renames it over path and
// fsyncs the directory. If write returns an error (which WriteFile returns
// unchanged), panics, or any step fails, the temporary file is removed and
// path is left as it was: absent, or with its old content.
//
// A symbolic link at path is replaced by the new file, not followed.
// The directory fsync after the rename is best effort: some file systems
// cannot sync a directory, and the new content is in place by then.
func WriteFile(path string, write func(w io.Writer) error) error {
	dir := filepath.Dir(path)
	perm := os.FileMode(newFilePerm)
	if fi, err := os.Stat(path); err == nil {
		if !fi.Mode().IsRegular() {
			return fmt.Errorf("atomicfile: %s: not a regular file", path)
		}
		perm = fi.Mode().Perm()
	}

	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("atomicfile: create temporary file for %s: %w", path, err)
	}
	tmp := f.Name()
	done := false
	defer func() {
		if !done { // error or panic: leave nothing behind
			f.Close()
			os.Remove(tmp)
		}
	}()

	bw := bufio.NewWriterSize(f, 1<<16)
	if err := write(bw); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("atomicfile: write %s: %w", path, err)
	}
	if err := f.Chmod(perm); err != nil && runtime.GOOS != "windows" {
		return fmt.Errorf("atomicfile: write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("atomicfile: sync %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("atomicfile: close %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("atomicfile: rename over %s: %w", path, err)
	}
	done = true
	syncDir(dir)
	return nil
}

// syncDir makes a rename in dir durable where the platform allows it.
func syncDir(dir string) {
	if runtime.GOOS == "windows" {
		return
	}
	d, err := os.Open(dir)
	if err != nil {
		return
	}
	d.Sync()
	d.Close()
}
