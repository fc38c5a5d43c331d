package pixels

import (
	"fmt"
	"image"
	"image/color"
	"math"

	"github.com/kiln-ml/kiln/tensor"
)

// Normalisation constants. SigLIP's (0.5, 0.5) maps [0, 1] to [-1, 1]; it is
// what nanoVLM's SigLIP encoder expects.
var (
	ImageNetMean = [3]float32{0.485, 0.456, 0.406}
	ImageNetStd  = [3]float32{0.229, 0.224, 0.225}
	SigLIPMean   = [3]float32{0.5, 0.5, 0.5}
	SigLIPStd    = [3]float32{0.5, 0.5, 0.5}
)

// ToTensor converts a batch of images of the same size to a [B, 3, H, W]
// float32 tensor of R, G, B planes, each value v in [0, 1] normalised to
// (v - mean[c]) / std[c].
//
// Transparent pixels are composited over white: v = c + (1 - a) with c the
// premultiplied colour and a the alpha, both in [0, 1]. (image.RGBA stores
// premultiplied colour, image.NRGBA straight colour; both, and every other
// colour model, go through the same formula with color.Color's 16-bit
// premultiplied values.) Gray images give three equal planes.
//
// *image.RGBA, *image.NRGBA, *image.Gray, *image.YCbCr (what the JPEG
// decoder returns) and *image.Paletted are read without the per-pixel
// interface call of image.At; they give bitwise the values the generic path
// gives. The arithmetic is float64, rounded once to float32.
//
// Errors (the batch comes from data): an empty batch, a nil or empty image,
// images of different sizes, or a zero or non-finite std.
func ToTensor(imgs []image.Image, mean, std [3]float32) (*tensor.Tensor, error) {
	if len(imgs) == 0 {
		return nil, fmt.Errorf("pixels.ToTensor: empty batch")
	}
	for c, s := range std {
		if s == 0 || math.IsNaN(float64(s)) || math.IsInf(float64(s), 0) {
			return nil, fmt.Errorf("pixels.ToTensor: std[%d] = %v, want a finite non-zero value", c, s)
		}
	}
	var w, h int
	for i, img := range imgs {
		if img == nil || img.Bounds().Empty() {
			return nil, fmt.Errorf("pixels.ToTensor: image %d is nil or empty", i)
		}
		b := img.Bounds()
		if i == 0 {
			w, h = b.Dx(), b.Dy()
		} else if b.Dx() != w || b.Dy() != h {
			return nil, fmt.Errorf("pixels.ToTensor: image %d is %dx%d, image 0 is %dx%d: resize them to one size first",
				i, b.Dx(), b.Dy(), w, h)
		}
	}
	n := newNormaliser(mean, std)
	plane := w * h
	out := make([]float32, len(imgs)*3*plane)
	for i, img := range imgs {
		o := out[i*3*plane : (i+1)*3*plane]
		n.image(o[:plane], o[plane:2*plane], o[2*plane:], img, w, h)
	}
	return tensor.FromSlice(out, len(imgs), 3, h, w), nil
}

// normaliser maps composited 16-bit values v16 = c + 0xffff - a (in
// [0, 2*0xffff] for any input, [0, 0xffff] for valid premultiplied colour) to
// normalised floats.
type normaliser struct {
	mean, std [3]float64
	// lut8[c][k] is the value of v16 = k*0x101, k in [0, 510]: every 8-bit
	// premultiplied input, valid or not.
	lut8 [3][511]float32
}

func newNormaliser(mean, std [3]float32) *normaliser {
	n := &normaliser{}
	for c := range 3 {
		n.mean[c], n.std[c] = float64(mean[c]), float64(std[c])
		for k := range n.lut8[c] {
			n.lut8[c][k] = n.at(c, uint32(k)*0x101)
		}
	}
	return n
}

func (n *normaliser) at(c int, v16 uint32) float32 {
	return float32((float64(v16)/0xffff - n.mean[c]) / n.std[c])
}

// rgba64 writes the pixel given as color.Color's 16-bit premultiplied values.
func (n *normaliser) rgba64(R, G, B []float32, i int, r, g, b, a uint32) {
	bg := 0xffff - a
	R[i], G[i], B[i] = n.at(0, r+bg), n.at(1, g+bg), n.at(2, b+bg)
}

// image fills the three planes (w*h each) from img.
func (n *normaliser) image(R, G, B []float32, img image.Image, w, h int) {
	b := img.Bounds()
	switch m := img.(type) {
	case *image.RGBA:
		for y := range h {
			row := m.Pix[m.PixOffset(b.Min.X, b.Min.Y+y):]
			for x := range w {
				p := row[4*x : 4*x+4 : 4*x+4]
				bg := 255 - int(p[3])
				i := y*w + x
				R[i] = n.lut8[0][int(p[0])+bg]
				G[i] = n.lut8[1][int(p[1])+bg]
				B[i] = n.lut8[2][int(p[2])+bg]
			}
		}
	case *image.NRGBA:
		for y := range h {
			row := m.Pix[m.PixOffset(b.Min.X, b.Min.Y+y):]
			for x := range w {
				p := row[4*x : 4*x+4 : 4*x+4]
				i := y*w + x
				if p[3] == 0xff {
					R[i], G[i], B[i] = n.lut8[0][p[0]], n.lut8[1][p[1]], n.lut8[2][p[2]]
					continue
				}
				// color.NRGBA.RGBA's premultiplication, inlined.
				a := uint32(p[3])
				r, g, bl := uint32(p[0])*0x101*a/0xff, uint32(p[1])*0x101*a/0xff, uint32(p[2])*0x101*a/0xff
				n.rgba64(R, G, B, i, r, g, bl, a*0x101)
			}
		}
	case *image.Gray:
		for y := range h {
			row := m.Pix[m.PixOffset(b.Min.X, b.Min.Y+y):]
			for x := range w {
				k := row[x]
				i := y*w + x
				R[i], G[i], B[i] = n.lut8[0][k], n.lut8[1][k], n.lut8[2][k]
			}
		}
	case *image.YCbCr:
		for y := range h {
			for x := range w {
				r, g, bl, a := m.YCbCrAt(b.Min.X+x, b.Min.Y+y).RGBA()
				n.rgba64(R, G, B, y*w+x, r, g, bl, a)
			}
		}
	case *image.Paletted:
		// Convert each palette entry once. An index outside the palette
		// (image.Paletted.At would panic) reads as opaque black.
		var pal [256][3]float32
		for k := range pal {
			c := color.Color(color.Black)
			if k < len(m.Palette) {
				c = m.Palette[k]
			}
			r, g, bl, a := c.RGBA()
			n.rgba64(pal[k][0:1], pal[k][1:2], pal[k][2:3], 0, r, g, bl, a)
		}
		for y := range h {
			row := m.Pix[m.PixOffset(b.Min.X, b.Min.Y+y):]
			for x := range w {
				p := &pal[row[x]]
				i := y*w + x
				R[i], G[i], B[i] = p[0], p[1], p[2]
			}
		}
	default:
		genericImage(n, R, G, B, img, w, h)
	}
}

// genericImage is the reference path: color.Color's RGBA for every pixel.
func genericImage(n *normaliser, R, G, B []float32, img image.Image, w, h int) {
	b := img.Bounds()
	for y := range h {
		for x := range w {
			r, g, bl, a := img.At(b.Min.X+x, b.Min.Y+y).RGBA()
			n.rgba64(R, G, B, y*w+x, r, g, bl, a)
		}
	}
}

// FromTensor turns a [B, 3, H, W] tensor normalised with mean and std (as
// ToTensor makes) back into B opaque images: v = x*std[c] + mean[c], clamped
// to [0, 1] (NaN to 0), rounded to 8 bits. For an opaque 8-bit image,
// FromTensor(ToTensor(img)) gives back its pixels exactly. Panics if x is not
// 4-D with 3 channels.
func FromTensor(x *tensor.Tensor, mean, std [3]float32) []*image.RGBA {
	s := x.Shape()
	if len(s) != 4 || s[1] != 3 {
		panic(&tensor.OpError{Op: "pixels.FromTensor", Msg: fmt.Sprintf("want a [B, 3, H, W] tensor, have shape %v", s)})
	}
	bn, h, w := s[0], s[2], s[3]
	data := x.ToSlice() // a copy: no graph node, any layout
	plane := h * w
	out := make([]*image.RGBA, bn)
	for i := range bn {
		img := image.NewRGBA(image.Rect(0, 0, w, h))
		for c := range 3 {
			src := data[(i*3+c)*plane : (i*3+c+1)*plane]
			m, sd := float64(mean[c]), float64(std[c])
			for j, v := range src {
				img.Pix[4*j+c] = to8(float64(v)*sd + m)
			}
		}
		for j := range plane {
			img.Pix[4*j+3] = 0xff
		}
		out[i] = img
	}
	return out
}

// to8 rounds v in [0, 1] to 0..255, clamping outside values and NaN.
func to8(v float64) uint8 {
	switch {
	case !(v > 0): // also NaN
		return 0
	case v >= 1:
		return 0xff
	}
	return uint8(math.Round(v * 255))
}
