package safetensors

import (
	"bytes"
	"errors"
	"math"
	"os"
	"testing"
)

// FuzzDecode checks that Decode never panics, returns nothing but a
// *FormatError on failure, and accepts only files whose tensors re-encode to
// a file that decodes to the same tensors (bitwise, NaNs included) and
// metadata, and encodes again to the same bytes.
func FuzzDecode(f *testing.F) {
	for _, name := range []string{"mixed", "empty", "convert"} {
		data, err := os.ReadFile("testdata/" + name + ".safetensors")
		if err != nil {
			f.Fatal(err)
		}
		if len(data) < 4096 {
			f.Add(data)
		}
	}
	f.Add(validFile())
	for _, c := range decodeErrors {
		f.Add(c.data)
	}
	f.Add(file(`{"a":{"dtype":"BF16","shape":[0,5],"data_offsets":[0,0]},"b":{"dtype":"F16","shape":[],"data_offsets":[0,2]},"__metadata__":{"x":"y"}}`, 2))
	f.Add(file(`{"w":{"dtype":"F16","shape":[2],"data_offsets":[0,4],"extra":[1,{"a":null}]}}   `, 4))

	f.Fuzz(func(t *testing.T, data []byte) {
		ts, meta, err := Decode(data)
		if err != nil {
			var fe *FormatError
			if !errors.As(err, &fe) {
				t.Fatalf("error %v is a %T, want a *FormatError", err, err)
			}
			if ts != nil || meta != nil {
				t.Fatalf("error %v returned with %d tensors and metadata %v", err, len(ts), meta)
			}
			return
		}
		var enc bytes.Buffer
		if err := Encode(&enc, ts, meta); err != nil {
			t.Fatalf("decoded tensors do not re-encode: %v", err)
		}
		ts2, meta2, err := Decode(enc.Bytes())
		if err != nil {
			t.Fatalf("re-encoded file does not decode: %v", err)
		}
		if len(ts2) != len(ts) || !mapsEqual(meta, meta2) {
			t.Fatalf("re-encoded file has %d tensors and metadata %v, want %d and %v", len(ts2), meta2, len(ts), meta)
		}
		for i := range ts {
			a, b := ts[i], ts2[i]
			if a.Name != b.Name || a.DType != b.DType || len(a.Shape) != len(b.Shape) || len(a.Data) != len(b.Data) {
				t.Fatalf("tensor %d: %q %v %v became %q %v %v", i, a.Name, a.DType, a.Shape, b.Name, b.DType, b.Shape)
			}
			for j := range a.Shape {
				if a.Shape[j] != b.Shape[j] {
					t.Fatalf("tensor %q: shape %v became %v", a.Name, a.Shape, b.Shape)
				}
			}
			for j := range a.Data {
				if math.Float32bits(a.Data[j]) != math.Float32bits(b.Data[j]) {
					t.Fatalf("tensor %q element %d: %#08x became %#08x", a.Name, j, math.Float32bits(a.Data[j]), math.Float32bits(b.Data[j]))
				}
			}
		}
		var enc2 bytes.Buffer
		if err := Encode(&enc2, ts2, meta2); err != nil || !bytes.Equal(enc.Bytes(), enc2.Bytes()) {
			t.Fatalf("encoding is not stable (err %v)", err)
		}
	})
}
