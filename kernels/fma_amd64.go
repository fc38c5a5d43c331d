//go:build !noasm

package kernels

func fmaPeakAVX512(iters int)
func fmaPeakAVX2(iters int)

func fmaLoop(v string) (func(int), float64) {
	switch {
	case v == VariantAVX512 && hasAVX512:
		return fmaPeakAVX512, 384
	case v == VariantAVX2 && hasAVX2:
		return fmaPeakAVX2, 192
	}
	return nil, 0
}
