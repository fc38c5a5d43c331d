package safetensors

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// file assembles a safetensors file from a header and a data region.
func file(header string, data int) []byte {
	b := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
	b = append(b, header...)
	return append(b, make([]byte, data)...)
}

// rawLen is a file whose length prefix is n, followed by body.
func rawLen(n uint64, body string) []byte {
	return append(binary.LittleEndian.AppendUint64(nil, n), body...)
}

func validFile() []byte {
	var buf bytes.Buffer
	err := Encode(&buf, []Tensor{
		{Name: "a", Shape: []int{2}, Data: []float32{1, 2}},
		{Name: "z", DType: F16, Shape: []int{3}, Data: []float32{1, 2, 3}},
	}, nil)
	if err != nil {
		panic(err)
	}
	return buf.Bytes()
}

const w4 = `{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`

var decodeErrors = []struct {
	name   string
	data   []byte
	tensor string // the tensor the error must name, if any
	want   string // a substring of the problem
}{
	{"empty", nil, "", "truncated: 0 bytes"},
	{"short length", []byte{8, 0, 0}, "", "truncated: 3 bytes"},
	{"header past end", rawLen(100, "{}"), "", "header length 100 runs past the end of the 10-byte file"},
	{"file cut in header", validFile()[:20], "", "runs past the end of the 20-byte file"},
	{"header too large", rawLen(MaxHeaderSize+1, "{}"), "", "exceeds the limit"},
	{"header length 2^64-1", rawLen(1<<64-1, "{}"), "", "exceeds the limit"},
	{"bad JSON", file(`{"w":`, 0), "", "bad header JSON"},
	{"bad JSON value", file(`{"w":{"dtype":"F32",]}`, 0), "", "bad header JSON"},
	{"unterminated object", file(`{"__metadata__":{}`, 0), "", "bad header JSON"},
	{"not an object", file(`[1,2]`, 0), "", "does not start with '{'"},
	{"leading space", file(` {}`, 0), "", "does not start with '{'"},
	{"zero-length header", file(``, 0), "", "does not start with '{'"},
	{"garbage after header", file(`{} x`, 0), "", `"x" after the header object`},
	{"invalid UTF-8", file("{\"\xff\":1}", 0), "", "not valid UTF-8"},
	{"metadata not strings", file(`{"__metadata__":{"step":1}}`, 0), "", "__metadata__ is not an object of strings"},
	{"metadata not object", file(`{"__metadata__":[]}`, 0), "", "__metadata__ is not an object of strings"},
	{"empty name", file(`{"":{"dtype":"F32","shape":[],"data_offsets":[0,4]}}`, 4), "", "empty name"},
	{"duplicate name", file(`{"w":{"dtype":"F32","shape":[],"data_offsets":[0,4]},"w":{"dtype":"F32","shape":[],"data_offsets":[4,8]}}`, 8), "w", "duplicate name"},
	{"entry not object", file(`{"w":3}`, 0), "w", "header entry is not an object"},
	{"no dtype", file(`{"w":{"shape":[1],"data_offsets":[0,4]}}`, 4), "w", "has no dtype"},
	{"no shape", file(`{"w":{"dtype":"F32","data_offsets":[0,4]}}`, 4), "w", "has no shape"},
	{"no offsets", file(`{"w":{"dtype":"F32","shape":[1]}}`, 4), "w", "has no data_offsets"},
	{"dtype not string", file(`{"w":{"dtype":32,"shape":[1],"data_offsets":[0,4]}}`, 4), "w", "bad dtype: 32"},
	{"unknown dtype", file(`{"w":{"dtype":"Q7","shape":[1],"data_offsets":[0,4]}}`, 4), "w", `unknown dtype "Q7"`},
	{"lower-case dtype", file(`{"w":{"dtype":"f32","shape":[1],"data_offsets":[0,4]}}`, 4), "w", `unknown dtype "f32"`},
	{"I64 unsupported", file(`{"w":{"dtype":"I64","shape":[1],"data_offsets":[0,8]}}`, 8), "w", "dtype I64 is not supported"},
	{"F64 unsupported", file(`{"w":{"dtype":"F64","shape":[1],"data_offsets":[0,8]}}`, 8), "w", "dtype F64 is not supported"},
	{"BOOL unsupported", file(`{"w":{"dtype":"BOOL","shape":[1],"data_offsets":[0,1]}}`, 1), "w", "dtype BOOL is not supported"},
	{"F8 unsupported", file(`{"w":{"dtype":"F8_E4M3","shape":[1],"data_offsets":[0,1]}}`, 1), "w", "dtype F8_E4M3 is not supported"},
	{"shape not array", file(`{"w":{"dtype":"F32","shape":4,"data_offsets":[0,4]}}`, 4), "w", "bad shape"},
	{"negative dimension", file(`{"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}`, 4), "w", "bad dimension -1"},
	{"fractional dimension", file(`{"w":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}}`, 4), "w", "bad dimension 1.5"},
	{"shape/offset mismatch", file(`{"w":{"dtype":"F32","shape":[2,3],"data_offsets":[0,20]}}`, 20), "w", "shape [2 3] of F32 does not match data_offsets [0,20], which span 20 bytes"},
	{"shape/offset mismatch bf16", file(`{"w":{"dtype":"BF16","shape":[3],"data_offsets":[0,4]}}`, 4), "w", "shape [3] of BF16 does not match"},
	{"shape overflow", file(`{"w":{"dtype":"F32","shape":[4294967296,4294967296,4294967296],"data_offsets":[0,4]}}`, 4), "w", "does not match"},
	{"one offset", file(`{"w":{"dtype":"F32","shape":[1],"data_offsets":[4]}}`, 4), "w", "bad data_offsets"},
	{"three offsets", file(`{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4,8]}}`, 8), "w", "bad data_offsets"},
	{"negative offset", file(`{"w":{"dtype":"F32","shape":[1],"data_offsets":[-4,0]}}`, 4), "w", "bad offset -4"},
	{"huge offset", file(`{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,99999999999999999999]}}`, 4), "w", "bad offset 99999999999999999999"},
	{"offsets reversed", file(`{"w":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}}`, 4), "w", "end before they begin"},
	{"offsets out of range", file(w4, 2), "w", "data_offsets [0,4] run past the 2-byte data region"},
	{"file cut in data", validFile()[:len(validFile())-1], "z", "run past the 13-byte data region"},
	{"overlap", file(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}`, 12), "b", `overlap tensor "a", which ends at 8`},
	{"same offsets", file(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, 4), "b", `overlap tensor "a"`},
	{"empty tensor inside another", file(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"e":{"dtype":"F32","shape":[0],"data_offsets":[4,4]}}`, 8), "e", `overlap tensor "a"`},
	{"hole between", file(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}`, 12), "b", `leave bytes [4,8) unused after tensor "a"`},
	{"hole at start", file(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, 8), "a", "leave bytes [0,4) of the data region unused"},
	{"trailing bytes", file(w4, 8), "w", "ends at 4, but the data region has 8 bytes"},
	{"data without tensors", file(`{}`, 4), "", "4 bytes of data but no tensors"},
}

func TestDecodeErrors(t *testing.T) {
	for _, c := range decodeErrors {
		t.Run(c.name, func(t *testing.T) {
			ts, meta, err := Decode(c.data)
			checkError(t, ts, meta, err, "", c.tensor, c.want)
		})
	}
}

// ReadFile reports the same problems, naming the file.
func TestReadFileErrors(t *testing.T) {
	dir := t.TempDir()
	for i, c := range decodeErrors {
		path := filepath.Join(dir, fmt.Sprintf("case%02d.safetensors", i))
		if err := os.WriteFile(path, c.data, 0o644); err != nil {
			t.Fatal(err)
		}
		ts, meta, err := ReadFile(path)
		t.Run(c.name, func(t *testing.T) { checkError(t, ts, meta, err, path, c.tensor, c.want) })
	}
}

func checkError(t *testing.T, ts []Tensor, meta map[string]string, err error, path, tensor, want string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error; want %q", want)
	}
	if ts != nil || meta != nil {
		t.Errorf("returned %d tensors and metadata %v with the error", len(ts), meta)
	}
	var fe *FormatError
	if !errors.As(err, &fe) {
		t.Fatalf("error %v is a %T, want a *FormatError", err, err)
	}
	if fe.File != path || fe.Tensor != tensor || !strings.Contains(fe.Problem, want) {
		t.Errorf("error %q:\n file %q, tensor %q, problem %q;\nwant file %q, tensor %q, problem containing %q",
			err, fe.File, fe.Tensor, fe.Problem, path, tensor, want)
	}
	msg := err.Error()
	if !strings.HasPrefix(msg, "safetensors: ") || !strings.Contains(msg, path) || tensor != "" && !strings.Contains(msg, fmt.Sprintf("tensor %q", tensor)) {
		t.Errorf("message %q does not name the file %q and tensor %q", msg, path, tensor)
	}
}

func TestEncodeErrors(t *testing.T) {
	ok := Tensor{Name: "ok", Shape: []int{1}, Data: []float32{1}}
	for _, c := range []struct {
		name    string
		tensors []Tensor
		meta    map[string]string
		tensor  string
		want    string
	}{
		{"shape mismatch", []Tensor{ok, {Name: "w", Shape: []int{2, 3}, Data: make([]float32, 5)}}, nil, "w", "shape [2 3] needs 6 elements, Data has 5"},
		{"scalar without data", []Tensor{{Name: "s", Shape: []int{}}}, nil, "s", "needs 1 elements, Data has 0"},
		{"negative dimension", []Tensor{{Name: "w", Shape: []int{-2, -3}, Data: make([]float32, 6)}}, nil, "w", "negative dimension"},
		{"duplicate name", []Tensor{ok, {Name: "w", Data: []float32{1}}, {Name: "w", DType: F16, Data: []float32{1}}}, nil, "w", "duplicate name"},
		{"empty name", []Tensor{ok, {Shape: []int{1}, Data: []float32{1}}}, nil, "", "tensor 1 of 2 has an empty name"},
		{"reserved name", []Tensor{{Name: "__metadata__", Data: []float32{1}}}, nil, "__metadata__", "reserved"},
		{"invalid UTF-8 name", []Tensor{{Name: "w\xff", Data: []float32{1}}}, nil, "w\xff", "not valid UTF-8"},
		{"unknown dtype", []Tensor{{Name: "w", DType: 7, Data: []float32{1}}}, nil, "w", "unknown dtype DType(7)"},
		{"invalid UTF-8 metadata", []Tensor{ok}, map[string]string{"k": "\xff"}, "", `metadata entry "k" is not valid UTF-8`},
	} {
		t.Run(c.name, func(t *testing.T) {
			var buf bytes.Buffer
			err := Encode(&buf, c.tensors, c.meta)
			checkError(t, nil, nil, err, "", c.tensor, c.want)
			if buf.Len() != 0 {
				t.Errorf("wrote %d bytes before failing", buf.Len())
			}
		})
	}
}

// failWriter fails after n bytes.
type failWriter struct{ n int }

var errDiskFull = errors.New("disk full")

func (w *failWriter) Write(p []byte) (int, error) {
	if len(p) > w.n {
		k := w.n
		w.n = 0
		return k, errDiskFull
	}
	w.n -= len(p)
	return len(p), nil
}

func TestEncodeWriteError(t *testing.T) {
	ts := []Tensor{{Name: "w", Shape: []int{100000}, Data: make([]float32, 100000)}}
	for _, n := range []int{0, 4, 8 + 40, 100000} {
		if err := Encode(&failWriter{n: n}, ts, nil); !errors.Is(err, errDiskFull) {
			t.Errorf("failing after %d bytes: err = %v, want the writer's error", n, err)
		}
	}
}
