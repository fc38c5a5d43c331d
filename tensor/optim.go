package tensor

import (
	"slices"

	"github.com/kiln-ml/kiln/kernels"
)

// AdamWUpdate applies one fused AdamW step in place, as kernels.AdamW: p,
// m and v are updated from the gradient g at step (counting from 1). On the
// host it runs kernels.AdamW, on a GPU the device kernel (which repeats the
// reference's float32 operations). All four must have one shape, be
// contiguous and live on one device. It is an optimizer update, not an op:
// autograd does not record it.
func AdamWUpdate(p, g, m, v *Tensor, lr, beta1, beta2, eps, wd float32, step int) {
	const op = "tensor.AdamWUpdate"
	for _, t := range []*Tensor{g, m, v} {
		if !slices.Equal(t.shape, p.shape) {
			panic(opErr(op, "shapes %v, %v, %v, %v differ", p.shape, g.shape, m.shape, v.shape))
		}
	}
	for _, t := range []*Tensor{p, g, m, v} {
		if !t.IsContiguous() {
			panic(opErr(op, "operand of shape %v strides %v is not contiguous", t.shape, t.strides))
		}
	}
	if c := onDevice(op, p, g, m, v); c != nil {
		defer keep(p, g, m, v)
		must(op, c.d.AdamW(p.cbuf(), g.cbuf(), m.cbuf(), v.cbuf(), lr, beta1, beta2, eps, wd, step))
		return
	}
	kernels.AdamW(p.Data(), g.Data(), m.Data(), v.Data(), lr, beta1, beta2, eps, wd, step)
}
