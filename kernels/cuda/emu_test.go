//go:build cudaemu && !cuda

package cuda

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestEmulatorHasEveryKernel: every kernel of the PTX is compiled into the
// emulator, and every source has its cudaemu_*.cpp.
func TestEmulatorHasEveryKernel(t *testing.T) {
	for k := range ptxParams {
		if !emuHas(k) {
			t.Errorf("%s is not in the emulator: add EMU_KERNEL(%s) to its cudaemu_*.cpp", k, k)
		}
	}
	files, _ := filepath.Glob("src/*.cu")
	for _, f := range files {
		m := strings.TrimSuffix(filepath.Base(f), ".cu")
		if _, err := os.Stat("cudaemu_" + m + ".cpp"); err != nil {
			t.Errorf("%s has no cudaemu_%s.cpp", f, m)
		}
	}
}
