package pixels

import (
	"fmt"
	"math"

	"github.com/kiln-ml/kiln/tensor"
)

// Patchify cuts a [B, C, H, W] batch into non-overlapping p x p patches and
// returns them as [B, (H/p)*(W/p), C*p*p] tokens. Patches are in row-major
// order over the (H/p) x (W/p) grid; each is flattened in (c, dy, dx) order,
// the layout of a Conv2d(C, D, kernel=p, stride=p) weight reshaped to
// [D, C*p*p], so Patchify(x, p) @ W.T equals that convolution (as in
// PyTorch's unfold and ViT patch embeddings).
//
// It is a Reshape, a Permute and a copy, so autograd differentiates it.
// Panics if x is not 4-D, p < 1, or H or W is not a multiple of p.
func Patchify(x *tensor.Tensor, p int) *tensor.Tensor {
	const op = "pixels.Patchify"
	s := x.Shape()
	if len(s) != 4 {
		panic(&tensor.OpError{Op: op, Msg: fmt.Sprintf("want a [B, C, H, W] tensor, have shape %v", s)})
	}
	b, c, h, w := s[0], s[1], s[2], s[3]
	if p < 1 || h%p != 0 || w%p != 0 {
		panic(&tensor.OpError{Op: op, Msg: fmt.Sprintf("patch size %d does not divide H=%d and W=%d of shape %v", p, h, w, s)})
	}
	gh, gw := h/p, w/p
	t := x.Reshape(b, c, gh, p, gw, p) // b c gy dy gx dx
	t = t.Permute(0, 2, 4, 1, 3, 5)    // b gy gx c dy dx
	return t.Contiguous().Reshape(b, gh*gw, c*p*p)
}

// Unpatchify inverts Patchify: it takes [B, (H/p)*(W/p), C*p*p] tokens and
// the image's height h and width w and returns [B, C, H, W]. Differentiable.
// Panics if the shapes do not fit.
func Unpatchify(x *tensor.Tensor, p, h, w int) *tensor.Tensor {
	const op = "pixels.Unpatchify"
	s := x.Shape()
	if len(s) != 3 {
		panic(&tensor.OpError{Op: op, Msg: fmt.Sprintf("want a [B, N, C*p*p] tensor, have shape %v", s)})
	}
	if p < 1 || h < 1 || w < 1 || h%p != 0 || w%p != 0 {
		panic(&tensor.OpError{Op: op, Msg: fmt.Sprintf("patch size %d does not divide H=%d and W=%d", p, h, w)})
	}
	b, n, d := s[0], s[1], s[2]
	gh, gw := h/p, w/p
	if n != gh*gw || d%(p*p) != 0 {
		panic(&tensor.OpError{Op: op, Msg: fmt.Sprintf("shape %v does not hold %dx%d patches of %dx%d pixels (want [B, %d, C*%d])",
			s, gh, gw, p, p, gh*gw, p*p)})
	}
	c := d / (p * p)
	t := x.Reshape(b, gh, gw, c, p, p) // b gy gx c dy dx
	t = t.Permute(0, 3, 1, 4, 2, 5)    // b c gy dy gx dx
	return t.Contiguous().Reshape(b, c, h, w)
}

// PixelShuffle reduces the number of image tokens by s*s, as nanoVLM's
// modality projector does: the N tokens of x [B, N, D] are taken as a
// sqrt(N) x sqrt(N) grid in row-major order, and each s x s block of
// neighbouring tokens becomes one token of dimension D*s*s. Blocks are in
// row-major order over the (side/s) x (side/s) grid, and within a block the
// s*s tokens are concatenated row-major: feature (i*s + j)*D + d of the new
// token is feature d of the token at row i, column j of the block. The
// result is [B, N/(s*s), D*s*s].
//
// Built from Reshape and Permute, so autograd differentiates it. Panics if x
// is not 3-D, N is not a perfect square, or the side is not a multiple of s.
func PixelShuffle(x *tensor.Tensor, s int) *tensor.Tensor {
	const op = "pixels.PixelShuffle"
	sh := x.Shape()
	if len(sh) != 3 {
		panic(&tensor.OpError{Op: op, Msg: fmt.Sprintf("want a [B, N, D] tensor, have shape %v", sh)})
	}
	b, n, d := sh[0], sh[1], sh[2]
	side := int(math.Sqrt(float64(n)) + 0.5)
	if side*side != n {
		panic(&tensor.OpError{Op: op, Msg: fmt.Sprintf("N=%d tokens of shape %v are not a square grid", n, sh)})
	}
	if s < 1 || side%s != 0 {
		panic(&tensor.OpError{Op: op, Msg: fmt.Sprintf("scale %d does not divide the %dx%d token grid of shape %v", s, side, side, sh)})
	}
	g := side / s
	t := x.Reshape(b, g, s, g, s, d) // b gy i gx j d
	t = t.Permute(0, 1, 3, 2, 4, 5)  // b gy gx i j d
	return t.Contiguous().Reshape(b, g*g, s*s*d)
}
