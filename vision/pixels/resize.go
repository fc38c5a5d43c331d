package pixels

import (
	"fmt"
	"image"

	"golang.org/x/image/draw"

	"github.com/kiln-ml/kiln/tensor"
)

// Method is a resampling filter. The zero value is CatmullRom.
type Method int

const (
	// CatmullRom (the default) is a cubic filter whose support widens with
	// the scale factor when downscaling, so every source pixel contributes:
	// thin chart lines and small text fade gracefully instead of dropping
	// out or aliasing. It costs about 2x BiLinear, which is nothing at the
	// 32-64 px sizes kiln trains on.
	CatmullRom Method = iota
	// BiLinear is a tent filter that, like CatmullRom, widens when
	// downscaling; softer, and never overshoots.
	BiLinear
	// ApproxBiLinear interpolates between the four nearest source pixels:
	// fast and fine for upscaling or mild downscaling, but it aliases below
	// about half size because most source pixels are skipped.
	ApproxBiLinear
	// NearestNeighbor copies the nearest source pixel: exact colours, blocky
	// edges (masks, pixel art, tests).
	NearestNeighbor
)

// String returns the method's name.
func (m Method) String() string {
	switch m {
	case CatmullRom:
		return "CatmullRom"
	case BiLinear:
		return "BiLinear"
	case ApproxBiLinear:
		return "ApproxBiLinear"
	case NearestNeighbor:
		return "NearestNeighbor"
	}
	return fmt.Sprintf("Method(%d)", int(m))
}

func (m Method) scaler(op string) draw.Scaler {
	switch m {
	case CatmullRom:
		return draw.CatmullRom
	case BiLinear:
		return draw.BiLinear
	case ApproxBiLinear:
		return draw.ApproxBiLinear
	case NearestNeighbor:
		return draw.NearestNeighbor
	}
	panic(&tensor.OpError{Op: op, Msg: fmt.Sprintf("unknown resampling method %v", m)})
}

// Fit says how ResizeSquare makes a non-square image square.
type Fit int

const (
	// Letterbox (the default) scales the image so that its long side fits
	// the square and centres it, leaving transparent bars on the short
	// side (ToTensor turns them white, like any transparent pixel). All
	// content survives: for charts, the axis labels, titles and legends at
	// the edges are often what a question is about.
	Letterbox Fit = iota
	// CenterCrop cuts the largest centred square out of the image and
	// scales it: no bars and more pixels per object, but the edges of the
	// long side are lost. Suited to photos with a centred subject.
	CenterCrop
)

// String returns the fit's name.
func (f Fit) String() string {
	switch f {
	case Letterbox:
		return "Letterbox"
	case CenterCrop:
		return "CenterCrop"
	}
	return fmt.Sprintf("Fit(%d)", int(f))
}

// Resize returns img scaled to w x h pixels (aspect ratio not kept) as a
// new *image.RGBA with bounds (0,0)-(w,h). Transparency is kept
// (premultiplied, as image.RGBA stores it). An image that already has the
// target size is copied exactly. Panics if w or h is not positive, img is
// empty, or m is not a known Method.
func Resize(img image.Image, w, h int, m Method) *image.RGBA {
	const op = "pixels.Resize"
	checkTarget(op, img, w, h)
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	scaleInto(op, dst, dst.Bounds(), img, img.Bounds(), m)
	return dst
}

// ResizeSquare returns img scaled into a size x size *image.RGBA, made
// square as fit says (Letterbox, the zero Fit, keeps everything; CenterCrop
// fills the square). Panics like Resize.
func ResizeSquare(img image.Image, size int, fit Fit, m Method) *image.RGBA {
	const op = "pixels.ResizeSquare"
	checkTarget(op, img, size, size)
	dst := image.NewRGBA(image.Rect(0, 0, size, size)) // transparent
	sb := img.Bounds()
	sw, sh := sb.Dx(), sb.Dy()
	switch fit {
	case Letterbox:
		// The long side becomes size, the short side keeps the ratio
		// (rounded, at least one pixel) and is centred.
		cw, ch := size, size
		if sw > sh {
			ch = max(1, (sh*size+sw/2)/sw)
		} else if sh > sw {
			cw = max(1, (sw*size+sh/2)/sh)
		}
		x0, y0 := (size-cw)/2, (size-ch)/2
		scaleInto(op, dst, image.Rect(x0, y0, x0+cw, y0+ch), img, sb, m)
	case CenterCrop:
		side := min(sw, sh)
		x0, y0 := sb.Min.X+(sw-side)/2, sb.Min.Y+(sh-side)/2
		scaleInto(op, dst, dst.Bounds(), img, image.Rect(x0, y0, x0+side, y0+side), m)
	default:
		panic(&tensor.OpError{Op: op, Msg: fmt.Sprintf("unknown fit %v", fit)})
	}
	return dst
}

func checkTarget(op string, img image.Image, w, h int) {
	if w <= 0 || h <= 0 {
		panic(&tensor.OpError{Op: op, Msg: fmt.Sprintf("target size %dx%d is not positive", w, h)})
	}
	if img == nil || img.Bounds().Empty() {
		var b image.Rectangle
		if img != nil {
			b = img.Bounds()
		}
		panic(&tensor.OpError{Op: op, Msg: fmt.Sprintf("empty source image (bounds %v)", b)})
	}
}

// scaleInto writes the sr part of src, scaled, over the dr part of dst,
// replacing what was there (draw.Src). Equal sizes are copied exactly.
func scaleInto(op string, dst *image.RGBA, dr image.Rectangle, src image.Image, sr image.Rectangle, m Method) {
	s := m.scaler(op)
	if dr.Dx() == sr.Dx() && dr.Dy() == sr.Dy() {
		draw.Draw(dst, dr, src, sr.Min, draw.Src)
		return
	}
	s.Scale(dst, dr, src, sr, draw.Src, nil)
}
