//go:build !cuda && !cudaemu

package cuda

// Without the cuda build tag there is no driver to open.
func openBackend(ordinal int) (backend, error) { return nil, ErrNotBuilt }

const emulated = false
