package nn

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kiln-ml/kiln/nn/safetensors"
	"github.com/kiln-ml/kiln/tensor"
)

func TestWeightsRoundTripAndErrors(t *testing.T) {
	mk := func(seed uint64) *Params {
		p := NewParams(1)
		rng := tensor.NewRNG(seed)
		NewLinear(p, "a", 3, 4, true, rng, 1)
		NewRMSNorm(p, "n", 4, 1e-6)
		return p
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "w.safetensors")
	src := mk(1)
	if err := src.SaveWeights(path, safetensors.F32, nil); err != nil {
		t.Fatal(err)
	}
	dst := mk(2)
	if err := dst.LoadWeights(path); err != nil {
		t.Fatal(err)
	}
	for _, q := range src.All() {
		if maxDiff(q.T.ToSlice(), dst.Get(q.Name).T.ToSlice()) != 0 {
			t.Errorf("%s differs after load", q.Name)
		}
	}
	// A model with another shape: error names the file and tensor, nothing changes.
	other := NewParams(1)
	NewLinear(other, "a", 3, 5, true, tensor.NewRNG(3), 1)
	NewRMSNorm(other, "n", 4, 1e-6)
	before := other.Get("n.weight").T.ToSlice()
	other.Get("n.weight").T.Data()[0] = 42
	before[0] = 42
	err := other.LoadWeights(path)
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), `tensor "a.`) {
		t.Errorf("shape mismatch error %v", err)
	}
	if maxDiff(before, other.Get("n.weight").T.ToSlice()) != 0 {
		t.Error("a failed load changed a parameter")
	}
	// Truncated file.
	b, _ := os.ReadFile(path)
	os.WriteFile(path, b[:len(b)-3], 0o644)
	if err := dst.LoadWeights(path); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("truncated file error %v", err)
	}
}
