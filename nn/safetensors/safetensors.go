// Package safetensors reads and writes the safetensors checkpoint format of
// Hugging Face (https://huggingface.co/docs/safetensors):
//
//	8 bytes   N, the header length, little-endian uint64
//	N bytes   a JSON object {"__metadata__": {string: string},
//	          name: {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}, ...}
//	the rest  the tensors' raw little-endian data; offsets count from here
//
// In memory every tensor is float32; Tensor.DType only chooses the encoding
// on disk (F32, BF16 or F16). Reading converts exactly; writing BF16 or F16
// rounds to nearest, ties to even, as PyTorch does.
//
// Files are written the way the reference implementation writes them, so
// Encode of the same tensors gives the same bytes: the header is compact JSON
// with "__metadata__" first (keys sorted) and padded with spaces to a multiple
// of 8 bytes; tensors are laid out by element size, largest first, then by
// name (so F32 before BF16 before F16), which keeps every tensor aligned to
// its element size; the header lists them in that order.
//
// Reading is strict, as in the reference implementation: the tensors must
// cover the data region exactly, without holes, overlaps or trailing bytes.
// Any problem returns a *FormatError naming the file (for ReadFile), the
// tensor and the problem, and no tensors.
package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/kiln-ml/kiln/internal/atomicfile"
)

// DType is the encoding of a tensor's elements on disk. The zero value is F32.
type DType uint8

const (
	F32  DType = iota // IEEE 754 binary32
	BF16              // bfloat16, the top half of a float32
	F16               // IEEE 754 binary16
)

var dtypeNames = [...]string{F32: "F32", BF16: "BF16", F16: "F16"}

// String returns the name the header uses: "F32", "BF16" or "F16".
func (d DType) String() string {
	if int(d) < len(dtypeNames) {
		return dtypeNames[d]
	}
	return "DType(" + strconv.Itoa(int(d)) + ")"
}

// Size is the number of bytes of one element.
func (d DType) Size() int {
	if d == F32 {
		return 4
	}
	return 2
}

func (d DType) valid() bool { return int(d) < len(dtypeNames) }

// Tensor is one named tensor. Data holds the product of Shape elements in
// row-major order; a nil or empty Shape is a scalar with one element.
type Tensor struct {
	Name  string
	DType DType
	Shape []int
	Data  []float32
}

// MaxHeaderSize bounds the JSON header, on reading and writing, so a corrupt
// length cannot make the reader allocate without limit. The reference
// implementation uses the same bound.
const MaxHeaderSize = 100_000_000

const metadataKey = "__metadata__"

// FormatError reports a file or tensor list that is not valid safetensors.
type FormatError struct {
	File    string // the file, when read by ReadFile or written by WriteFile
	Tensor  string // the tensor at fault, if one is
	Problem string
}

func (e *FormatError) Error() string {
	var b strings.Builder
	b.WriteString("safetensors: ")
	if e.File != "" {
		b.WriteString(e.File)
		b.WriteString(": ")
	}
	if e.Tensor != "" {
		fmt.Fprintf(&b, "tensor %q: ", e.Tensor)
	}
	b.WriteString(e.Problem)
	return b.String()
}

func errorf(tensor, format string, args ...any) error {
	return &FormatError{Tensor: tensor, Problem: fmt.Sprintf(format, args...)}
}

// withFile names the file in a *FormatError, or wraps any other error.
func withFile(file string, err error) error {
	if fe, ok := err.(*FormatError); ok {
		c := *fe
		c.File = file
		return &c
	}
	return fmt.Errorf("safetensors: %s: %w", file, err)
}

// numElements is the product of shape, or an error if a dimension is negative
// or the product exceeds limit.
func numElements(shape []int, limit uint64) (uint64, error) {
	for _, d := range shape {
		if d < 0 {
			return 0, fmt.Errorf("shape %v has a negative dimension", shape)
		}
		if d == 0 {
			return 0, nil
		}
	}
	n := uint64(1)
	for _, d := range shape {
		if uint64(d) > limit/n {
			return 0, fmt.Errorf("shape %v is too large", shape)
		}
		n *= uint64(d)
	}
	return n, nil
}

// fileOrder sorts tensors as the reference implementation lays them out:
// larger elements first, then by name.
func fileOrder(a, b *Tensor) int {
	if a.DType.Size() != b.DType.Size() {
		return b.DType.Size() - a.DType.Size()
	}
	if a.DType != b.DType { // BF16 before F16, as the reference orders dtypes
		return int(a.DType) - int(b.DType)
	}
	return strings.Compare(a.Name, b.Name)
}

// Encode writes tensors and metadata (which may be nil) in safetensors form.
// It checks everything before it writes anything: names must be non-empty,
// valid UTF-8, unique and not "__metadata__"; each Data must hold exactly the
// elements its Shape says; metadata must be valid UTF-8.
func Encode(w io.Writer, tensors []Tensor, metadata map[string]string) error {
	order := make([]*Tensor, len(tensors))
	seen := make(map[string]bool, len(tensors))
	for i := range tensors {
		t := &tensors[i]
		switch {
		case t.Name == "":
			return errorf("", "tensor %d of %d has an empty name", i, len(tensors))
		case !utf8.ValidString(t.Name):
			return errorf(t.Name, "name is not valid UTF-8")
		case t.Name == metadataKey:
			return errorf(t.Name, "name is reserved for the metadata")
		case seen[t.Name]:
			return errorf(t.Name, "duplicate name")
		case !t.DType.valid():
			return errorf(t.Name, "unknown dtype %v", t.DType)
		}
		seen[t.Name] = true
		n, err := numElements(t.Shape, math.MaxInt)
		if err != nil {
			return errorf(t.Name, "%v", err)
		}
		if n != uint64(len(t.Data)) {
			return errorf(t.Name, "shape %v needs %d elements, Data has %d", t.Shape, n, len(t.Data))
		}
		order[i] = t
	}
	for k, v := range metadata {
		if !utf8.ValidString(k) || !utf8.ValidString(v) {
			return errorf("", "metadata entry %q is not valid UTF-8", k)
		}
	}
	slices.SortFunc(order, fileOrder)

	// The header: compact JSON, metadata first, tensors in file order.
	var hdr bytes.Buffer
	enc := json.NewEncoder(&hdr)
	enc.SetEscapeHTML(false)
	str := func(s string) {
		enc.Encode(s) // cannot fail on a string
		hdr.Truncate(hdr.Len() - 1)
	}
	hdr.WriteByte('{')
	if len(metadata) > 0 {
		str(metadataKey)
		hdr.WriteString(":{")
		keys := make([]string, 0, len(metadata))
		for k := range metadata {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for i, k := range keys {
			if i > 0 {
				hdr.WriteByte(',')
			}
			str(k)
			hdr.WriteByte(':')
			str(metadata[k])
		}
		hdr.WriteByte('}')
	}
	var offset uint64
	for i, t := range order {
		if i > 0 || len(metadata) > 0 {
			hdr.WriteByte(',')
		}
		str(t.Name)
		hdr.WriteString(`:{"dtype":"`)
		hdr.WriteString(t.DType.String())
		hdr.WriteString(`","shape":[`)
		for j, d := range t.Shape {
			if j > 0 {
				hdr.WriteByte(',')
			}
			hdr.WriteString(strconv.Itoa(d))
		}
		end := offset + uint64(len(t.Data)*t.DType.Size())
		fmt.Fprintf(&hdr, `],"data_offsets":[%d,%d]}`, offset, end)
		offset = end
	}
	hdr.WriteByte('}')
	for hdr.Len()%8 != 0 {
		hdr.WriteByte(' ')
	}
	if hdr.Len() > MaxHeaderSize {
		return errorf("", "header of %d bytes exceeds the limit of %d", hdr.Len(), MaxHeaderSize)
	}

	var size [8]byte
	binary.LittleEndian.PutUint64(size[:], uint64(hdr.Len()))
	if _, err := w.Write(size[:]); err != nil {
		return err
	}
	if _, err := w.Write(hdr.Bytes()); err != nil {
		return err
	}
	buf := make([]byte, 0, 1<<16)
	for _, t := range order {
		for i := 0; i < len(t.Data); {
			buf = buf[:0]
			for ; i < len(t.Data) && len(buf) < cap(buf); i++ {
				switch t.DType {
				case F32:
					buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(t.Data[i]))
				case BF16:
					buf = binary.LittleEndian.AppendUint16(buf, bf16FromF32(t.Data[i]))
				case F16:
					buf = binary.LittleEndian.AppendUint16(buf, f16FromF32(t.Data[i]))
				}
			}
			if _, err := w.Write(buf); err != nil {
				return err
			}
		}
	}
	return nil
}

// WriteFile writes tensors and metadata to path atomically: a reader sees the
// old file or the complete new one, and a failure leaves the old file (or
// none) in place.
func WriteFile(path string, tensors []Tensor, metadata map[string]string) error {
	return atomicfile.WriteFile(path, func(w io.Writer) error {
		if err := Encode(w, tensors, metadata); err != nil {
			return withFile(path, err)
		}
		return nil
	})
}
