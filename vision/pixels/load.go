package pixels

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
	"io"
	"os"
)

// MaxSide is the largest width or height, in pixels, that Load and Decode
// accept. The size is read from the header before any pixel is decoded, so a
// hostile or broken file cannot make them allocate gigabytes.
const MaxSide = 8192

// Sentinel errors wrapped by Load and Decode (test with errors.Is).
var (
	// ErrNotImage: the data is not a PNG or JPEG image (text, an empty
	// file, an unknown header).
	ErrNotImage = errors.New("not a PNG or JPEG image")
	// ErrUnsupported: the data is an image in a format other than PNG or
	// JPEG (GIF, BMP, WebP, TIFF).
	ErrUnsupported = errors.New("unsupported image format")
	// ErrSize: the header gives a zero width or height, or a side larger
	// than MaxSide.
	ErrSize = errors.New("unusable image size")
)

// Load decodes the PNG or JPEG image in the file at path. Errors name the
// file; see Decode for the checks.
func Load(path string) (image.Image, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("pixels: %w", err) // *fs.PathError names the file
	}
	defer f.Close()
	return Decode(f, path)
}

// Decode decodes a PNG or JPEG image from r; name (a file name, or any label
// of embedded data) only appears in errors. It reads the header first and
// refuses, before decoding any pixels, data that is not PNG or JPEG
// (ErrNotImage, ErrUnsupported) and images with a zero side or a side over
// MaxSide (ErrSize). A truncated or corrupt image gives an error that wraps
// the decoder's.
//
// The decoders are called directly, so the result does not depend on which
// formats other packages registered with the image package. Importing this
// package registers the standard PNG and JPEG decoders for image.Decode.
func Decode(r io.Reader, name string) (image.Image, error) {
	br := bufio.NewReader(r)
	head, err := br.Peek(24)
	if err != nil && err != io.EOF {
		return nil, fmt.Errorf("pixels: %s: read: %w", name, err)
	}
	if len(head) == 0 {
		return nil, fmt.Errorf("pixels: %s: %w: the file is empty", name, ErrNotImage)
	}
	format := sniff(head)
	var decodeConfig func(io.Reader) (image.Config, error)
	var decode func(io.Reader) (image.Image, error)
	switch format {
	case "PNG":
		decodeConfig, decode = png.DecodeConfig, png.Decode
	case "JPEG":
		decodeConfig, decode = jpeg.DecodeConfig, jpeg.Decode
	case "":
		return nil, fmt.Errorf("pixels: %s: %w: the data starts with %q", name, ErrNotImage, head)
	default:
		return nil, fmt.Errorf("pixels: %s: %w %s: only PNG and JPEG are read", name, ErrUnsupported, format)
	}

	// The PNG decoder refuses a zero side as a generic format error; name it.
	if format == "PNG" && len(head) >= 24 && string(head[12:16]) == "IHDR" {
		w, h := binary.BigEndian.Uint32(head[16:20]), binary.BigEndian.Uint32(head[20:24])
		if w == 0 || h == 0 {
			return nil, fmt.Errorf("pixels: %s: %w: %dx%d pixels (zero size)", name, ErrSize, w, h)
		}
	}

	// Read the header through a tee, then decode from the bytes it kept
	// followed by the rest of the stream: r is read once.
	var kept bytes.Buffer
	cfg, err := decodeConfig(io.TeeReader(br, &kept))
	if err != nil {
		return nil, fmt.Errorf("pixels: %s: corrupt or truncated %s header: %w", name, format, err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return nil, fmt.Errorf("pixels: %s: %w: %dx%d pixels (zero size)", name, ErrSize, cfg.Width, cfg.Height)
	}
	if cfg.Width > MaxSide || cfg.Height > MaxSide {
		return nil, fmt.Errorf("pixels: %s: %w: %dx%d pixels, more than the %d-pixel limit per side",
			name, ErrSize, cfg.Width, cfg.Height, MaxSide)
	}
	img, err := decode(io.MultiReader(&kept, br))
	if err != nil {
		return nil, fmt.Errorf("pixels: %s: corrupt or truncated %s: %w", name, format, err)
	}
	return img, nil
}

// sniff names the image format whose magic bytes begin head: "PNG" and
// "JPEG", which Decode reads, a few others it refuses by name, or "".
func sniff(head []byte) string {
	switch {
	case bytes.HasPrefix(head, []byte("\x89PNG\r\n\x1a\n")):
		return "PNG"
	case bytes.HasPrefix(head, []byte("\xff\xd8")):
		return "JPEG"
	case bytes.HasPrefix(head, []byte("GIF87a")), bytes.HasPrefix(head, []byte("GIF89a")):
		return "GIF"
	case bytes.HasPrefix(head, []byte("BM")) && len(head) >= 10 && string(head[6:10]) == "\x00\x00\x00\x00":
		return "BMP"
	case bytes.HasPrefix(head, []byte("RIFF")) && len(head) >= 12 && string(head[8:12]) == "WEBP":
		return "WebP"
	case bytes.HasPrefix(head, []byte("II*\x00")), bytes.HasPrefix(head, []byte("MM\x00*")):
		return "TIFF"
	}
	return ""
}
