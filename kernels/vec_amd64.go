//go:build !noasm

package kernels

func setVecAVX512() {}
func setVecAVX2()   {}
