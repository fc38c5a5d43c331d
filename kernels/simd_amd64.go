//go:build !noasm

package kernels

import "github.com/klauspost/cpuid/v2"

var (
	hasAVX2   = cpuid.CPU.Supports(cpuid.AVX, cpuid.AVX2, cpuid.FMA3)
	hasAVX512 = hasAVX2 && cpuid.CPU.Supports(cpuid.AVX512F, cpuid.AVX512DQ, cpuid.AVX512BW, cpuid.AVX512VL)
)

func detectVariants() []string {
	v := []string{VariantGeneric}
	if hasAVX2 {
		v = append(v, VariantAVX2)
	}
	if hasAVX512 {
		v = append(v, VariantAVX512)
	}
	return v
}

func newGemmArch(name string, mr, nr int, k, kr gemmKernel) *gemmArch {
	mc, kc, nc := blockSizes(mr, nr, cpuid.CPU.Cache.L1D, cpuid.CPU.Cache.L2, cpuid.CPU.Cache.L3)
	return &gemmArch{name: name, mr: mr, nr: nr, mc: mc, kc: kc, nc: nc, kernel: k, kernelR: kr}
}

var (
	gemmAVX512 = newGemmArch(VariantAVX512, 12, 32, sgemmKernel12x32, sgemmKernel12x32R)
	gemmAVX2   = newGemmArch(VariantAVX2, 6, 16, sgemmKernel6x16, sgemmKernel6x16R)
)

// setArch installs the assembly kernels of variant v over the generic ones.
func setArch(v string) {
	switch v {
	case VariantAVX512:
		setGemm(gemmAVX512)
		setVecAVX512()
	case VariantAVX2:
		setGemm(gemmAVX2)
		setVecAVX2()
	}
}
