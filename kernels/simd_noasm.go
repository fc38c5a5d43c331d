//go:build noasm || !amd64

package kernels

// Pure-Go build: only the generic variant exists.

func detectVariants() []string { return []string{VariantGeneric} }

func setArch(v string) {}

func gemmArchs() []*gemmArch { return nil }
