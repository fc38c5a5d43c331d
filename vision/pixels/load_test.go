package pixels

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// testImage is a w x h NRGBA gradient with an alpha ramp.
func testImage(w, h int) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.SetNRGBA(x, y, color.NRGBA{uint8(x * 255 / max(1, w-1)), uint8(y * 255 / max(1, h-1)), uint8((x + y) * 37), uint8(255 - 20*x)})
		}
	}
	return img
}

func writeFile(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func encodePNG(t *testing.T, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestLoadPNGRoundTrip(t *testing.T) {
	src := testImage(7, 5)
	p := writeFile(t, "a.png", encodePNG(t, src))
	img, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if img.Bounds() != src.Bounds() {
		t.Fatalf("bounds %v, want %v", img.Bounds(), src.Bounds())
	}
	for y := range 5 {
		for x := range 7 {
			got := color.NRGBAModel.Convert(img.At(x, y)).(color.NRGBA)
			if want := src.NRGBAAt(x, y); got != want {
				t.Fatalf("pixel (%d,%d) = %v, want %v", x, y, got, want)
			}
		}
	}
}

func TestLoadJPEGRoundTrip(t *testing.T) {
	src := image.NewRGBA(image.Rect(0, 0, 16, 16))
	for y := range 16 {
		for x := range 16 {
			src.SetRGBA(x, y, color.RGBA{uint8(8 * x), uint8(8 * y), 128, 255})
		}
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, src, &jpeg.Options{Quality: 95}); err != nil {
		t.Fatal(err)
	}
	img, err := Load(writeFile(t, "a.jpg", b.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := img.(*image.YCbCr); !ok {
		t.Errorf("JPEG decoded to %T, want *image.YCbCr", img)
	}
	if img.Bounds() != src.Bounds() {
		t.Fatalf("bounds %v, want %v", img.Bounds(), src.Bounds())
	}
	// Lossy: a smooth gradient at quality 95 stays within a few levels.
	for y := range 16 {
		for x := range 16 {
			r, g, bl, _ := img.At(x, y).RGBA()
			w := src.RGBAAt(x, y)
			for c, pair := range [][2]uint32{{r >> 8, uint32(w.R)}, {g >> 8, uint32(w.G)}, {bl >> 8, uint32(w.B)}} {
				if d := int(pair[0]) - int(pair[1]); d < -8 || d > 8 {
					t.Fatalf("pixel (%d,%d) channel %d = %d, want %d +- 8", x, y, c, pair[0], pair[1])
				}
			}
		}
	}
}

func TestDecodeFromReader(t *testing.T) {
	img, err := Decode(bytes.NewReader(encodePNG(t, testImage(3, 2))), "embedded:chart")
	if err != nil {
		t.Fatal(err)
	}
	if img.Bounds().Dx() != 3 || img.Bounds().Dy() != 2 {
		t.Fatalf("bounds %v", img.Bounds())
	}
}

// pngHeader is a PNG signature and an IHDR chunk (with a valid CRC) for a
// w x h RGB image, and nothing else.
func pngHeader(w, h uint32) []byte {
	chunk := []byte("IHDR")
	chunk = binary.BigEndian.AppendUint32(chunk, w)
	chunk = binary.BigEndian.AppendUint32(chunk, h)
	chunk = append(chunk, 8, 2, 0, 0, 0)
	out := []byte("\x89PNG\r\n\x1a\n")
	out = binary.BigEndian.AppendUint32(out, 13)
	out = append(out, chunk...)
	return binary.BigEndian.AppendUint32(out, crc32.ChecksumIEEE(chunk))
}

func TestLoadErrors(t *testing.T) {
	good := encodePNG(t, testImage(8, 8))
	var gifData bytes.Buffer
	if err := gif.Encode(&gifData, testImage(4, 4), nil); err != nil {
		t.Fatal(err)
	}
	var wideJPEG bytes.Buffer
	if err := jpeg.Encode(&wideJPEG, image.NewGray(image.Rect(0, 0, MaxSide+1, 1)), nil); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		file    string
		data    []byte
		is      error
		problem string
	}{
		{"notes.png", []byte("hello, this is a text file\n"), ErrNotImage, `starts with "hello`},
		{"empty.png", nil, ErrNotImage, "empty"},
		{"trunc.png", good[:len(good)/2], nil, "corrupt or truncated PNG: png: "},
		{"header-only.png", good[:20], nil, "corrupt or truncated PNG header"},
		{"anim.gif", gifData.Bytes(), ErrUnsupported, "GIF"},
		{"zero.png", pngHeader(0, 5), ErrSize, "0x5 pixels (zero size)"},
		{"huge.png", pngHeader(MaxSide+1, 10), ErrSize, "8193x10 pixels, more than the 8192-pixel limit"},
		{"wide.jpg", wideJPEG.Bytes(), ErrSize, "8193x1 pixels"},
	}
	for _, c := range cases {
		p := writeFile(t, c.file, c.data)
		img, err := Load(p)
		if err == nil {
			t.Errorf("%s: no error, image %v", c.file, img.Bounds())
			continue
		}
		if img != nil {
			t.Errorf("%s: image returned with the error", c.file)
		}
		msg := err.Error()
		if !strings.Contains(msg, p) || !strings.Contains(msg, c.problem) {
			t.Errorf("%s: error %q does not name the file and %q", c.file, msg, c.problem)
		}
		if c.is != nil && !errors.Is(err, c.is) {
			t.Errorf("%s: error %q does not wrap %v", c.file, msg, c.is)
		}
	}

	missing := filepath.Join(t.TempDir(), "missing.png")
	_, err := Load(missing)
	if err == nil || !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), missing) {
		t.Errorf("missing file: error %v, want fs.ErrNotExist naming %s", err, missing)
	}
	dir := t.TempDir()
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), dir) {
		t.Errorf("directory: error %v, want one naming %s", err, dir)
	}
}
