package cuda

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestPTXFresh fails when a source in src/ changed after the PTX was last
// generated (the generator records each source's hash).
func TestPTXFresh(t *testing.T) {
	hdr, err := os.ReadFile("src/common.cuh")
	if err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob("src/*.cu")
	if len(files) != len(ptxSourceSHA256) {
		t.Errorf("%d sources in src/, %d in zptx_sums.go: run go generate ./kernels/cuda/ (nvcc: .ci/cuda-deps.sh --nvcc)", len(files), len(ptxSourceSHA256))
	}
	for _, f := range files {
		text, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		h := sha256.New()
		h.Write(hdr)
		h.Write(text)
		if got, want := hex.EncodeToString(h.Sum(nil)), ptxSourceSHA256[filepath.Base(f)]; got != want {
			t.Errorf("%s changed since its PTX was generated: run go generate ./kernels/cuda/ (nvcc: .ci/cuda-deps.sh --nvcc)", f)
		}
	}
}

// TestSourcesNameReferences checks that every kernel source names the CPU
// reference its results are held to.
func TestSourcesNameReferences(t *testing.T) {
	files, _ := filepath.Glob("src/*.cu")
	re := regexp.MustCompile(`(?m)^// reference: \S+`)
	for _, f := range files {
		text, _ := os.ReadFile(f)
		if !re.Match(text) {
			t.Errorf("%s has no \"// reference: ...\" line", f)
		}
		if !strings.Contains(string(text), `#include "common.cuh"`) {
			t.Errorf("%s does not include common.cuh (the generator's hash assumes it)", f)
		}
	}
}
