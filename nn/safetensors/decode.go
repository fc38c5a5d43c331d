package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"slices"
	"strings"
	"unicode/utf8"
)

// unsupported are the other dtypes of the reference implementation: valid
// safetensors, but not float tensors kiln can hold.
var unsupported = map[string]bool{
	"BOOL": true, "U8": true, "I8": true, "I16": true, "U16": true, "I32": true,
	"U32": true, "I64": true, "U64": true, "F64": true, "C64": true,
	"F8_E5M2": true, "F8_E4M3": true, "F8_E8M0": true, "F4": true,
	"F6_E2M3": true, "F6_E3M2": true,
}

func parseDType(s string) (DType, bool) {
	for d, name := range dtypeNames {
		if s == name {
			return DType(d), true
		}
	}
	return 0, false
}

// entry is one tensor of the header, before its data is read.
type entry struct {
	name       string
	dtype      DType
	shape      []int
	begin, end uint64
}

// ReadFile reads the safetensors file at path; see Decode. Errors name the
// file.
func ReadFile(path string) ([]Tensor, map[string]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("safetensors: %w", err)
	}
	tensors, metadata, err := Decode(data)
	if err != nil {
		return nil, nil, withFile(path, err)
	}
	return tensors, metadata, nil
}

// Decode parses a whole safetensors file. It returns the tensors sorted by
// name, with Data converted to float32 (exactly) and a non-nil Shape, and the
// metadata (empty, not nil, if the file has none). On any error, a
// *FormatError, it returns no tensors and no metadata.
//
// The tensors must cover the data region exactly: holes between tensors,
// overlaps and bytes after the last tensor are errors, as in the reference
// implementation. Header keys other than dtype, shape and data_offsets are
// ignored; duplicate tensor names are errors.
func Decode(data []byte) ([]Tensor, map[string]string, error) {
	entries, metadata, dataStart, err := parseHeader(data)
	if err != nil {
		return nil, nil, err
	}
	body := data[dataStart:]
	if err := checkLayout(entries, uint64(len(body))); err != nil {
		return nil, nil, err
	}

	tensors := make([]Tensor, len(entries))
	for i, e := range entries {
		raw := body[e.begin:e.end]
		out := make([]float32, len(raw)/e.dtype.Size())
		switch e.dtype {
		case F32:
			for j := range out {
				out[j] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*j:]))
			}
		case BF16:
			for j := range out {
				out[j] = f32FromBF16(binary.LittleEndian.Uint16(raw[2*j:]))
			}
		case F16:
			for j := range out {
				out[j] = f32FromF16(binary.LittleEndian.Uint16(raw[2*j:]))
			}
		}
		tensors[i] = Tensor{Name: e.name, DType: e.dtype, Shape: e.shape, Data: out}
	}
	slices.SortFunc(tensors, func(a, b Tensor) int { return strings.Compare(a.Name, b.Name) })
	return tensors, metadata, nil
}

// parseHeader reads the length prefix and the JSON header, and checks each
// tensor entry on its own: dtype, shape, and that its offsets match its size.
func parseHeader(data []byte) ([]entry, map[string]string, uint64, error) {
	if len(data) < 8 {
		return nil, nil, 0, errorf("", "truncated: %d bytes, too short for the 8-byte header length", len(data))
	}
	n := binary.LittleEndian.Uint64(data)
	if n > MaxHeaderSize {
		return nil, nil, 0, errorf("", "header length %d exceeds the limit of %d bytes", n, MaxHeaderSize)
	}
	if n > uint64(len(data)-8) {
		return nil, nil, 0, errorf("", "truncated: header length %d runs past the end of the %d-byte file", n, len(data))
	}
	hdr := data[8 : 8+n]
	if !utf8.Valid(hdr) {
		return nil, nil, 0, errorf("", "header is not valid UTF-8")
	}
	if len(hdr) == 0 || hdr[0] != '{' {
		return nil, nil, 0, errorf("", "header does not start with '{': %q", truncate(hdr))
	}

	dec := json.NewDecoder(bytes.NewReader(hdr))
	dec.UseNumber()
	if _, err := dec.Token(); err != nil { // the '{' checked above
		return nil, nil, 0, errorf("", "bad header JSON: %v", err)
	}
	var entries []entry
	metadata := map[string]string{}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, nil, 0, errorf("", "bad header JSON: %v", err)
		}
		name, ok := tok.(string)
		if !ok { // the decoder only returns strings as keys; be safe
			return nil, nil, 0, errorf("", "bad header JSON: key %v", tok)
		}
		if seen[name] {
			return nil, nil, 0, errorf(name, "duplicate name in header")
		}
		seen[name] = true
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, nil, 0, errorf("", "bad header JSON after key %q: %v", name, err)
		}
		if name == metadataKey {
			if err := json.Unmarshal(raw, &metadata); err != nil {
				return nil, nil, 0, errorf("", "__metadata__ is not an object of strings: %s", truncate(raw))
			}
			continue
		}
		e, err := parseEntry(name, raw)
		if err != nil {
			return nil, nil, 0, err
		}
		entries = append(entries, e)
	}
	if _, err := dec.Token(); err != nil { // the closing '}'
		return nil, nil, 0, errorf("", "bad header JSON: %v", err)
	}
	if rest := bytes.Trim(hdr[dec.InputOffset():], " \t\r\n"); len(rest) > 0 {
		return nil, nil, 0, errorf("", "bad header JSON: %q after the header object", truncate(rest))
	}
	return entries, metadata, 8 + n, nil
}

// parseEntry checks one tensor's header entry on its own.
func parseEntry(name string, raw json.RawMessage) (entry, error) {
	e := entry{name: name}
	if name == "" {
		return e, errorf("", "tensor with an empty name")
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil || fields == nil {
		return e, errorf(name, "header entry is not an object: %s", truncate(raw))
	}
	for _, key := range []string{"dtype", "shape", "data_offsets"} {
		if fields[key] == nil {
			return e, errorf(name, "header entry has no %s", key)
		}
	}
	var dtype string
	if err := json.Unmarshal(fields["dtype"], &dtype); err != nil {
		return e, errorf(name, "bad dtype: %s", truncate(fields["dtype"]))
	}
	d, ok := parseDType(dtype)
	switch {
	case !ok && unsupported[dtype]:
		return e, errorf(name, "dtype %s is not supported (kiln reads F32, BF16 and F16)", dtype)
	case !ok:
		return e, errorf(name, "unknown dtype %q", dtype)
	}
	e.dtype = d

	var shape []json.Number
	if err := json.Unmarshal(fields["shape"], &shape); err != nil || shape == nil {
		return e, errorf(name, "bad shape: %s", truncate(fields["shape"]))
	}
	e.shape = make([]int, len(shape))
	for i, s := range shape {
		v, err := s.Int64()
		if err != nil || v < 0 || int64(int(v)) != v {
			return e, errorf(name, "bad dimension %s in shape", s)
		}
		e.shape[i] = int(v)
	}

	var offsets []json.Number
	if err := json.Unmarshal(fields["data_offsets"], &offsets); err != nil || len(offsets) != 2 {
		return e, errorf(name, "bad data_offsets (want [begin,end]): %s", truncate(fields["data_offsets"]))
	}
	var off [2]uint64
	for i, s := range offsets {
		v, err := s.Int64()
		if err != nil || v < 0 {
			return e, errorf(name, "bad offset %s in data_offsets", s)
		}
		off[i] = uint64(v)
	}
	e.begin, e.end = off[0], off[1]
	if e.begin > e.end {
		return e, errorf(name, "data_offsets [%d,%d] end before they begin", e.begin, e.end)
	}

	count, err := numElements(e.shape, (e.end-e.begin)/uint64(d.Size())+1)
	if err != nil || count*uint64(d.Size()) != e.end-e.begin {
		return e, errorf(name, "shape %v of %s does not match data_offsets [%d,%d], which span %d bytes",
			e.shape, d, e.begin, e.end, e.end-e.begin)
	}
	return e, nil
}

// checkLayout checks that the tensors tile the data region of n bytes: in
// offset order, each begins where the previous one ended, the first at 0 and
// the last ending at n.
func checkLayout(entries []entry, n uint64) error {
	order := make([]*entry, len(entries))
	for i := range entries {
		order[i] = &entries[i]
	}
	slices.SortFunc(order, func(a, b *entry) int {
		if a.begin != b.begin {
			return cmpUint(a.begin, b.begin)
		}
		if a.end != b.end {
			return cmpUint(a.end, b.end)
		}
		return strings.Compare(a.name, b.name)
	})
	var pos uint64
	prev := ""
	for _, e := range order {
		if e.end > n {
			return errorf(e.name, "data_offsets [%d,%d] run past the %d-byte data region (truncated file?)", e.begin, e.end, n)
		}
		switch {
		case e.begin < pos:
			return errorf(e.name, "data_offsets [%d,%d] overlap tensor %q, which ends at %d", e.begin, e.end, prev, pos)
		case e.begin > pos && prev == "":
			return errorf(e.name, "data_offsets [%d,%d] leave bytes [0,%d) of the data region unused", e.begin, e.end, e.begin)
		case e.begin > pos:
			return errorf(e.name, "data_offsets [%d,%d] leave bytes [%d,%d) unused after tensor %q", e.begin, e.end, pos, e.begin, prev)
		}
		pos, prev = e.end, e.name
	}
	if pos != n {
		if prev == "" {
			return errorf("", "%d bytes of data but no tensors", n)
		}
		return errorf(prev, "is the last tensor and ends at %d, but the data region has %d bytes (trailing bytes)", pos, n)
	}
	return nil
}

func cmpUint(a, b uint64) int {
	if a < b {
		return -1
	}
	return 1
}

// truncate shortens b for an error message.
func truncate(b []byte) string {
	const max = 80
	if len(b) > max {
		return string(b[:max]) + "..."
	}
	return string(b)
}
