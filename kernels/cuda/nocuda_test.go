//go:build !cuda && !cudaemu

package cuda

import (
	"errors"
	"strings"
	"testing"
)

func TestOpenWithoutTag(t *testing.T) {
	d, err := Open(0)
	if d != nil || !errors.Is(err, ErrNotBuilt) || !strings.Contains(err.Error(), "kiln built without -tags cuda") {
		t.Fatalf("Open = %v, %v; want ErrNotBuilt", d, err)
	}
}
