package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// equalTensors compares bitwise (NaNs by bits too) and treats a nil and an
// empty Shape as the same scalar.
func equalTensors(t *testing.T, got, want []Tensor) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d tensors, want %d", len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.Name != w.Name || g.DType != w.DType || !slices.Equal(g.Shape, w.Shape) || len(g.Data) != len(w.Data) {
			t.Fatalf("tensor %d: got %q %v %v (%d elements), want %q %v %v (%d elements)",
				i, g.Name, g.DType, g.Shape, len(g.Data), w.Name, w.DType, w.Shape, len(w.Data))
		}
		for j := range w.Data {
			if math.Float32bits(g.Data[j]) != math.Float32bits(w.Data[j]) {
				t.Fatalf("tensor %q element %d: got %#08x, want %#08x",
					w.Name, j, math.Float32bits(g.Data[j]), math.Float32bits(w.Data[j]))
			}
		}
	}
}

func sortedByName(ts []Tensor) []Tensor {
	ts = slices.Clone(ts)
	slices.SortFunc(ts, func(a, b Tensor) int { return strings.Compare(a.Name, b.Name) })
	return ts
}

// quantized is what t reads back as after writing it with its DType.
func quantized(t Tensor) Tensor {
	t.Data = slices.Clone(t.Data)
	for i, x := range t.Data {
		switch t.DType {
		case BF16:
			t.Data[i] = f32FromBF16(bf16FromF32(x))
		case F16:
			t.Data[i] = f32FromF16(f16FromF32(x))
		}
	}
	if t.Shape == nil {
		t.Shape = []int{}
	}
	return t
}

func randomData(rng *rand.Rand, n int) []float32 {
	d := make([]float32, n)
	for i := range d {
		d[i] = float32(rng.NormFloat64())
	}
	return d
}

func TestRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var in []Tensor
	for _, dt := range []DType{F32, BF16, F16} {
		for _, shape := range [][]int{{}, nil, {1}, {7}, {3, 5}, {2, 1, 3}, {1, 1, 1, 1}, {0}, {4, 0}, {2, 0, 3}, {33, 3}} {
			n := 1
			for _, d := range shape {
				n *= d
			}
			in = append(in, Tensor{
				Name:  fmt.Sprintf("%s.t%d", strings.ToLower(dt.String()), len(in)),
				DType: dt, Shape: shape, Data: randomData(rng, n),
			})
		}
	}
	meta := map[string]string{"step": "42", "config": `{"width": 128}`, "ünï": "<&>"}
	var buf bytes.Buffer
	if err := Encode(&buf, in, meta); err != nil {
		t.Fatal(err)
	}
	raw := buf.Bytes()
	hlen := binary.LittleEndian.Uint64(raw)
	if hlen%8 != 0 || raw[8] != '{' {
		t.Errorf("header length %d not a multiple of 8, or header starts with %q", hlen, raw[8])
	}
	got, gotMeta, err := Decode(raw)
	if err != nil {
		t.Fatal(err)
	}
	want := make([]Tensor, len(in))
	for i, tt := range in {
		want[i] = quantized(tt)
	}
	equalTensors(t, got, sortedByName(want))
	if len(gotMeta) != len(meta) {
		t.Fatalf("metadata = %v, want %v", gotMeta, meta)
	}
	for k, v := range meta {
		if gotMeta[k] != v {
			t.Errorf("metadata[%q] = %q, want %q", k, gotMeta[k], v)
		}
	}

	// Encoding what was read gives the same bytes: one canonical form.
	var again bytes.Buffer
	if err := Encode(&again, got, gotMeta); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again.Bytes(), raw) {
		t.Error("re-encoding the decoded tensors gives different bytes")
	}
	// The tensors' order in the input does not matter.
	slices.Reverse(in)
	again.Reset()
	if err := Encode(&again, in, meta); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again.Bytes(), raw) {
		t.Error("encoding the tensors in another order gives different bytes")
	}
}

func TestEmptyAndNoMetadata(t *testing.T) {
	var buf bytes.Buffer
	if err := Encode(&buf, nil, nil); err != nil {
		t.Fatal(err)
	}
	golden, err := os.ReadFile("testdata/empty.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), golden) {
		t.Errorf("empty file = %q, want %q", buf.Bytes(), golden)
	}
	ts, meta, err := Decode(golden)
	if err != nil || len(ts) != 0 || meta == nil || len(meta) != 0 {
		t.Errorf("Decode(empty) = %v, %v, %v; want no tensors, empty non-nil metadata", ts, meta, err)
	}
}

// golden is testdata/mixed.json: what testdata/mixed.safetensors holds.
type golden struct {
	Metadata map[string]string
	Tensors  []struct {
		Name            string
		DType           string
		Shape           []int
		Source, Decoded []uint32
	}
}

func loadGolden(t *testing.T) (source, decoded []Tensor, meta map[string]string) {
	raw, err := os.ReadFile("testdata/mixed.json")
	if err != nil {
		t.Fatal(err)
	}
	var g golden
	if err := json.Unmarshal(raw, &g); err != nil {
		t.Fatal(err)
	}
	floats := func(bits []uint32) []float32 {
		f := make([]float32, len(bits))
		for i, b := range bits {
			f[i] = math.Float32frombits(b)
		}
		return f
	}
	for _, gt := range g.Tensors {
		dt, ok := parseDType(gt.DType)
		if !ok {
			t.Fatalf("golden dtype %q", gt.DType)
		}
		source = append(source, Tensor{gt.Name, dt, gt.Shape, floats(gt.Source)})
		decoded = append(decoded, Tensor{gt.Name, dt, gt.Shape, floats(gt.Decoded)})
	}
	return source, decoded, g.Metadata
}

// The golden file, written from PyTorch tensors by testdata/gen_golden.py,
// decodes to the values PyTorch upcasts them to; encoding those gives its
// exact bytes (the same layout and header), and encoding the float32 tensors
// it was made from gives the same values (the same rounding; PyTorch writes
// its own NaN bits, 0xffff for a bfloat16 NaN, so NaNs compare as NaNs).
func TestGoldenMixed(t *testing.T) {
	source, decoded, meta := loadGolden(t)
	file, err := os.ReadFile("testdata/mixed.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	got, gotMeta, err := ReadFile("testdata/mixed.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	equalTensors(t, got, decoded)
	if !mapsEqual(gotMeta, meta) {
		t.Errorf("metadata = %v, want %v", gotMeta, meta)
	}

	var buf bytes.Buffer
	if err := Encode(&buf, decoded, meta); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), file) {
		n := 0
		for n < min(buf.Len(), len(file)) && buf.Bytes()[n] == file[n] {
			n++
		}
		t.Errorf("Encode differs from the golden file at byte %d of %d/%d\n got: %q\nwant: %q",
			n, buf.Len(), len(file), buf.Bytes()[max(0, n-20):min(buf.Len(), n+40)], file[max(0, n-20):min(len(file), n+40)])
	}

	buf.Reset()
	if err := Encode(&buf, source, meta); err != nil {
		t.Fatal(err)
	}
	if hdrEnd := 8 + binary.LittleEndian.Uint64(file); buf.Len() != len(file) || !bytes.Equal(buf.Bytes()[:hdrEnd], file[:hdrEnd]) {
		t.Errorf("Encode(source): %d bytes, header differs from the golden file's %d bytes", buf.Len(), len(file))
	}
	fromSource, _, err := Decode(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	for i, tt := range fromSource {
		for j, x := range tt.Data {
			if !sameValue(x, decoded[i].Data[j]) {
				t.Errorf("tensor %q element %d: %g encodes as %#08x, PyTorch as %#08x", tt.Name, j,
					source[i].Data[j], math.Float32bits(x), math.Float32bits(decoded[i].Data[j]))
			}
		}
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func TestWriteReadFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "model.safetensors")
	in := []Tensor{
		{Name: "w", DType: BF16, Shape: []int{2, 3}, Data: []float32{1, 2, 3, 4, 5, 6}},
		{Name: "b", Shape: []int{3}, Data: []float32{0.1, 0.2, 0.3}},
	}
	if err := WriteFile(path, in, map[string]string{"step": "1"}); err != nil {
		t.Fatal(err)
	}
	got, meta, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	equalTensors(t, got, sortedByName(in))
	if meta["step"] != "1" {
		t.Errorf("metadata = %v", meta)
	}

	// A failing write (bad tensors) names the file and leaves the old one.
	before, _ := os.ReadFile(path)
	bad := []Tensor{{Name: "w", Shape: []int{2}, Data: []float32{1}}}
	err = WriteFile(path, bad, nil)
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), `"w"`) {
		t.Errorf("WriteFile(bad) error = %v, want it to name %s and tensor w", err, path)
	}
	var fe *FormatError
	if !errors.As(err, &fe) || fe.File != path || fe.Tensor != "w" {
		t.Errorf("WriteFile(bad) error = %#v, want a *FormatError naming file and tensor", err)
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
		t.Error("failed WriteFile changed the existing file")
	}
	if es, _ := os.ReadDir(dir); len(es) != 1 {
		t.Errorf("directory holds %d entries after a failed write, want 1", len(es))
	}

	// Missing file.
	missing := filepath.Join(dir, "nope.safetensors")
	if ts, meta, err := ReadFile(missing); err == nil || ts != nil || meta != nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("ReadFile(missing) = %v, %v, %v; want nothing and an error naming the file", ts, meta, err)
	}
}

func TestDTypeNames(t *testing.T) {
	for _, c := range []struct {
		d    DType
		name string
		size int
	}{{F32, "F32", 4}, {BF16, "BF16", 2}, {F16, "F16", 2}} {
		if c.d.String() != c.name || c.d.Size() != c.size {
			t.Errorf("%d: %s, %d; want %s, %d", c.d, c.d, c.d.Size(), c.name, c.size)
		}
		if d, ok := parseDType(c.name); !ok || d != c.d {
			t.Errorf("parseDType(%s) = %v, %v", c.name, d, ok)
		}
	}
	if DType(9).String() != "DType(9)" {
		t.Errorf("DType(9) = %s", DType(9))
	}
	var zero Tensor
	if zero.DType != F32 {
		t.Error("the zero DType is not F32")
	}
}

func BenchmarkEncodeDecode(b *testing.B) {
	const n = 1 << 20
	data := randomData(rand.New(rand.NewPCG(3, 4)), n)
	for _, dt := range []DType{F32, BF16, F16} {
		ts := []Tensor{{Name: "w", DType: dt, Shape: []int{n}, Data: data}}
		var buf bytes.Buffer
		b.Run("Encode/"+dt.String(), func(b *testing.B) {
			b.SetBytes(4 * n)
			for b.Loop() {
				buf.Reset()
				if err := Encode(&buf, ts, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("Decode/"+dt.String(), func(b *testing.B) {
			b.SetBytes(4 * n)
			for b.Loop() {
				if _, _, err := Decode(buf.Bytes()); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
