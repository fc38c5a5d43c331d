package pixels_test

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"

	"github.com/kiln-ml/kiln/vision/pixels"
)

// From encoded bytes to ViT patch tokens and pixel-shuffled tokens.
func Example() {
	// A 48x32 chart-like image, encoded as PNG (Load reads the same from a file).
	src := image.NewNRGBA(image.Rect(0, 0, 48, 32))
	for x := range 48 {
		src.SetNRGBA(x, 16, color.NRGBA{0, 0, 255, 255})
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, src); err != nil {
		panic(err)
	}

	img, err := pixels.Decode(&buf, "embedded:chart")
	if err != nil {
		panic(err)
	}
	sq := pixels.ResizeSquare(img, 32, pixels.Letterbox, pixels.CatmullRom)
	x, err := pixels.ToTensor([]image.Image{sq}, pixels.SigLIPMean, pixels.SigLIPStd)
	if err != nil {
		panic(err)
	}
	tokens := pixels.Patchify(x, 8)           // 4x4 grid of 8x8 patches
	reduced := pixels.PixelShuffle(tokens, 2) // 2x2 blocks of tokens
	fmt.Println(x.Shape(), tokens.Shape(), reduced.Shape())
	// Output: [1 3 32 32] [1 16 192] [1 4 768]
}
