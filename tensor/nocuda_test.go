//go:build !cuda && !cudaemu

package tensor

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/kiln-ml/kiln/kernels/cuda"
)

// Without -tags cuda (or cudaemu) asking for a GPU is an error that says
// why, and nothing else changes.
func TestToWithoutCUDA(t *testing.T) {
	x := Randn(NewRNG(1), 1, 2, 3)
	_, err := x.To(CUDA(0))
	if err == nil {
		t.Fatal("To(CUDA(0)) succeeded in a build without -tags cuda")
	}
	if !errors.Is(err, cuda.ErrNotBuilt) || !strings.Contains(err.Error(), "cuda:0") || !strings.Contains(err.Error(), "-tags cuda") {
		t.Errorf("error %q: want cuda.ErrNotBuilt naming cuda:0", err)
	}
	if err := CUDA(0).Open(); !errors.Is(err, cuda.ErrNotBuilt) {
		t.Errorf("Open: %v", err)
	}
	if y, err := x.To(CPU); err != nil || y != x {
		t.Errorf("To(CPU) of a CPU tensor: %v, %v (want itself)", y, err)
	}
	if err := (Device{Kind: "tpu"}).Open(); err == nil {
		t.Error("an unknown device opened")
	}
	w := Randn(NewRNG(2), 1, 3).RequiresGrad()
	before := w.ToSlice()
	if err := w.MoveTo(CUDA(0)); !errors.Is(err, cuda.ErrNotBuilt) {
		t.Errorf("MoveTo: %v", err)
	}
	if w.Device() != CPU || !slices.Equal(w.Data(), before) || !w.NeedsGrad() {
		t.Errorf("a failed MoveTo changed the tensor: %v", w)
	}
}
