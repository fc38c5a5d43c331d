// Package devtest opens the GPU for the device tests of the packages above
// tensor (tensor's own tests keep cudaOrSkip: they cannot import a package
// that imports tensor).
package devtest

import (
	"os"
	"testing"

	"github.com/kiln-ml/kiln/tensor"
)

// Open returns GPU 0 (a real one, or the emulator under -tags cudaemu). It
// skips t when there is none, and fails it instead under
// KILN_CUDA_REQUIRE=1, which the GPU run sets: there a missing device is an
// error, not a reason to pass.
func Open(t testing.TB) tensor.Device {
	t.Helper()
	dev := tensor.CUDA(0)
	if err := dev.Open(); err != nil {
		if os.Getenv("KILN_CUDA_REQUIRE") == "1" {
			t.Fatalf("KILN_CUDA_REQUIRE=1: %v", err)
		}
		t.Skipf("needs a GPU or -tags cudaemu: %v", err)
	}
	return dev
}
