//go:build noasm || !amd64

package kernels

// Pure-Go stand-ins for the direct GEMM path's vector kernels (the BLIS
// driver is only reached through assembly micro-kernels; tests may still
// link it).

func dot4N(x, y []float32, ldy int, out *[4]float32) {
	for r := range out {
		out[r] = dotN(x, y[r*ldy:r*ldy+len(x)])
	}
}

func axpyN(alpha float32, x, y []float32) {
	for i, v := range x {
		y[i] += alpha * v
	}
}

func dotN(x, y []float32) float32 {
	var s float32
	for i, v := range x {
		s += v * y[i]
	}
	return s
}

const hasPackA4 = false

func packA4(dst *float32, ds int, src *float32, lda, n int) { panic("packA4: no assembly") }
