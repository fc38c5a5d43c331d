package tokenizer

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/tiny.tokenizer.json")

func TestSaveLoadRoundTrip(t *testing.T) {
	corpus := syntheticCorpus(400, 4)
	for _, group := range []bool{false, true} {
		tok, err := Train(slices.Values(corpus), TrainConfig{VocabSize: 450, GroupDigits: group})
		if err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		path := filepath.Join(dir, "tokenizer.json")
		if err := tok.Save(path); err != nil {
			t.Fatal(err)
		}
		if err := tok.Save(path); err != nil { // over an existing file
			t.Fatal(err)
		}
		if entries, _ := os.ReadDir(dir); len(entries) != 1 {
			t.Errorf("directory holds %d entries after Save, want just the file", len(entries))
		}
		back, err := Load(path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(jsonOf(t, tok), jsonOf(t, back)) {
			t.Error("saving the loaded tokenizer gives a different file")
		}
		if back.VocabSize() != tok.VocabSize() || back.SplitDigits() != tok.SplitDigits() || !slices.Equal(back.Specials(), tok.Specials()) {
			t.Errorf("loaded: vocab %d digits split %v specials %q", back.VocabSize(), back.SplitDigits(), back.Specials())
		}
		for _, s := range append(slices.Clone(trickyStrings), syntheticCorpus(100, 40)...) {
			if a, b := tok.Encode(s), back.Encode(s); !slices.Equal(a, b) {
				t.Errorf("group=%v: %q encodes as %v, after loading %v", group, s, a, b)
			}
		}
		r, err := ReadJSON(bytes.NewReader(jsonOf(t, tok)))
		if err != nil || !bytes.Equal(jsonOf(t, r), jsonOf(t, tok)) {
			t.Errorf("ReadJSON: %v", err)
		}
	}
}

func TestSaveError(t *testing.T) {
	tok := sharedTokenizer(t)
	path := filepath.Join(t.TempDir(), "missing", "tokenizer.json")
	err := tok.Save(path)
	if err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("Save into a missing directory: %v", err)
	}
}

// TestHFSchema checks the file against the structure HF tokenizers reads
// (tokenizers/src/tokenizer/serialization.rs and models/bpe/serialization.rs
// of the HF tokenizers library): it is what Python's tokenizers would load.
func TestHFSchema(t *testing.T) {
	for _, group := range []bool{false, true} {
		tok, err := Train(slices.Values(syntheticCorpus(300, 5)), TrainConfig{VocabSize: 400, GroupDigits: group})
		if err != nil {
			t.Fatal(err)
		}
		var f map[string]any
		if err := json.Unmarshal(jsonOf(t, tok), &f); err != nil {
			t.Fatal(err)
		}
		want := func(cond bool, format string, args ...any) {
			t.Helper()
			if !cond {
				t.Errorf("group=%v: "+format, append([]any{group}, args...)...)
			}
		}
		want(f["version"] == "1.0", "version %v", f["version"])
		for _, k := range []string{"truncation", "padding", "normalizer", "post_processor"} {
			v, ok := f[k]
			want(ok && v == nil, "%s = %v, want null", k, v)
		}
		added, _ := f["added_tokens"].([]any)
		want(len(added) == len(DefaultSpecials()), "%d added tokens", len(added))
		for i, a := range added {
			m, _ := a.(map[string]any)
			want(m["id"] == float64(i) && m["content"] == DefaultSpecials()[i], "added token %d: %v", i, m)
			for _, k := range []string{"single_word", "lstrip", "rstrip", "normalized"} {
				want(m[k] == false, "added token %d: %s = %v", i, k, m[k])
			}
			want(m["special"] == true, "added token %d not special", i)
		}
		pre, _ := f["pre_tokenizer"].(map[string]any)
		byteLevel := func(m map[string]any, useRegex bool) bool {
			return m["type"] == "ByteLevel" && m["add_prefix_space"] == false && m["trim_offsets"] == true && m["use_regex"] == useRegex
		}
		if group {
			want(byteLevel(pre, true), "pre_tokenizer %v", pre)
		} else {
			seq, _ := pre["pretokenizers"].([]any)
			want(pre["type"] == "Sequence" && len(seq) == 2, "pre_tokenizer %v", pre)
			if len(seq) == 2 {
				split, _ := seq[0].(map[string]any)
				pat, _ := split["pattern"].(map[string]any)
				want(split["type"] == "Split" && pat["Regex"] == splitDigitsPattern && split["behavior"] == "Isolated" && split["invert"] == false, "split %v", split)
				bl, _ := seq[1].(map[string]any)
				want(byteLevel(bl, false), "byte level %v", bl)
			}
		}
		dec, _ := f["decoder"].(map[string]any)
		want(dec["type"] == "ByteLevel", "decoder %v", dec)
		model, _ := f["model"].(map[string]any)
		want(model["type"] == "BPE", "model type %v", model["type"])
		for _, k := range []string{"dropout", "unk_token", "continuing_subword_prefix", "end_of_word_suffix"} {
			v, ok := model[k]
			want(ok && v == nil, "model.%s = %v", k, v)
		}
		want(model["fuse_unk"] == false && model["byte_fallback"] == false, "fuse_unk/byte_fallback")
		vocab, _ := model["vocab"].(map[string]any)
		want(len(vocab) == tok.VocabSize(), "vocab has %d entries, VocabSize %d", len(vocab), tok.VocabSize())
		ids := map[float64]bool{}
		for s, id := range vocab {
			n, ok := id.(float64)
			want(ok && n == float64(int(n)) && n >= 0 && n < float64(tok.VocabSize()), "vocab %q: id %v", s, id)
			want(!ids[n], "id %v twice", n)
			ids[n] = true
			want(!strings.ContainsAny(s, " \n\t"), "vocab entry %q holds whitespace", s)
		}
		for b := range 256 {
			_, ok := vocab[string(byteToRune[b])]
			want(ok, "no vocab entry for byte %d", b)
		}
		merges, _ := model["merges"].([]any)
		want(len(merges) == tok.NumMerges() && len(merges) > 0, "%d merges", len(merges))
		for _, m := range merges {
			s, _ := m.(string)
			a, b, ok := strings.Cut(s, " ")
			_, okA := vocab[a]
			_, okB := vocab[b]
			_, okAB := vocab[a+b]
			want(ok && okA && okB && okAB && !strings.Contains(b, " "), "merge %q", s)
		}
	}
}

// TestGolden pins the exact file of a tiny tokenizer. Run with -update after
// an intended change of format.
func TestGolden(t *testing.T) {
	corpus := []string{"The chart shows 12.5% growth in 2024.", "What's the highest bar?", "the the the <|image|> chart charts"}
	tok, err := Train(slices.Values(corpus), TrainConfig{VocabSize: 275})
	if err != nil {
		t.Fatal(err)
	}
	got := jsonOf(t, tok)
	path := filepath.Join("testdata", "tiny.tokenizer.json")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("tokenizer.json differs from %s (run go test -update if intended):\n%s", path, got)
	}
	back, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if a, b := tok.Encode(corpus[0]), back.Encode(corpus[0]); !slices.Equal(a, b) {
		t.Errorf("golden file encodes differently: %v, %v", a, b)
	}
}

// gpt2Style returns a GPT-2 layout file: specials after the merges, merges
// as pairs, ByteLevel pre-tokenizer with its own pattern.
func gpt2Style() map[string]any {
	vocab := map[string]any{}
	for b := range 256 {
		vocab[string(byteToRune[b])] = b
	}
	vocab["Ġt"] = 256
	vocab["he"] = 257
	vocab["Ġthe"] = 258
	vocab["12"] = 259
	vocab["<|endoftext|>"] = 260
	return map[string]any{
		"version": "1.0", "truncation": nil, "padding": nil, "normalizer": nil,
		"added_tokens":   []any{map[string]any{"id": 260, "content": "<|endoftext|>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": true, "special": true}},
		"pre_tokenizer":  map[string]any{"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true},
		"post_processor": map[string]any{"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": false, "use_regex": true},
		"decoder":        map[string]any{"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true},
		"model": map[string]any{
			"type": "BPE", "dropout": nil, "unk_token": nil, "continuing_subword_prefix": "", "end_of_word_suffix": "",
			"fuse_unk": false, "byte_fallback": false, "ignore_merges": false,
			"vocab":  vocab,
			"merges": []any{[]any{"Ġ", "t"}, []any{"h", "e"}, []any{"Ġt", "he"}, "1 2"},
		},
	}
}

func writeJSONFile(t *testing.T, v any) string {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "tokenizer.json")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLoadGPT2Style(t *testing.T) {
	tok, err := Load(writeJSONFile(t, gpt2Style()))
	if err != nil {
		t.Fatal(err)
	}
	if tok.SplitDigits() {
		t.Error("ByteLevel with its pattern groups digits")
	}
	if id, ok := tok.SpecialID("<|endoftext|>"); !ok || id != 260 {
		t.Errorf("SpecialID = %d, %v", id, ok)
	}
	// "the" has no "Ġ" to start "Ġt"; " 12" is one word, merged to "Ġ", "12".
	if got, want := tok.Encode("the 12 the<|endoftext|>"), []int{'t', 257, ' ', 259, 258, 260}; !slices.Equal(got, want) {
		t.Errorf("Encode = %v, want %v", got, want)
	}
	if got := tok.Encode("12"); !slices.Equal(got, []int{259}) {
		t.Errorf("Encode(12) = %v", got)
	}
}

func TestLoadErrors(t *testing.T) {
	mutate := func(f func(m map[string]any)) any {
		m := gpt2Style()
		f(m)
		return m
	}
	model := func(m map[string]any) map[string]any { return m["model"].(map[string]any) }
	vocab := func(m map[string]any) map[string]any { return model(m)["vocab"].(map[string]any) }
	cases := []struct {
		name string
		file any // marshalled, or raw bytes
		want string
	}{
		{"bad JSON", []byte(`{"model": {"type": "BPE",`), "bad JSON"},
		{"bad JSON line", []byte("{\n\"model\": \n{\"type\": x}}"), "line 3"},
		{"not BPE", mutate(func(m map[string]any) { model(m)["type"] = "WordPiece" }), `model type "WordPiece" is not BPE`},
		{"no model", mutate(func(m map[string]any) { delete(m, "model") }), "no model"},
		{"unknown merge token", mutate(func(m map[string]any) { model(m)["merges"] = []any{"Ġ t", "x yz"} }), `model.merges[1] "x yz": unknown token "yz"`},
		{"merge result", mutate(func(m map[string]any) { model(m)["merges"] = []any{"a b"} }), `merged token "ab" is not in model.vocab`},
		{"duplicate merge", mutate(func(m map[string]any) { model(m)["merges"] = []any{"h e", "h e"} }), "duplicate of merges[0]"},
		{"bad merge", mutate(func(m map[string]any) { model(m)["merges"] = []any{"he"} }), "not two tokens"},
		{"merge special", mutate(func(m map[string]any) {
			vocab(m)["<|endoftext|>a"] = 261
			model(m)["merges"] = []any{[]any{"<|endoftext|>", "a"}}
		}), "merges a special token"},
		{"duplicate id", mutate(func(m map[string]any) { vocab(m)["he"] = 256 }), `tokens "he" and "Ġt" have the same id 256`},
		{"gap in ids", mutate(func(m map[string]any) { vocab(m)["he"] = 300 }), "none has id 257"},
		{"negative id", mutate(func(m map[string]any) { vocab(m)["he"] = -1 }), "not a non-negative integer"},
		{"fractional id", mutate(func(m map[string]any) { vocab(m)["he"] = 1.5 }), "not a non-negative integer"},
		{"missing byte", mutate(func(m map[string]any) {
			delete(vocab(m), "Ċ")
			vocab(m)["<|endoftext|>"] = 10
			m["added_tokens"] = []any{map[string]any{"id": 10, "content": "<|endoftext|>"}}
		}), "no token for byte 0x0a"},
		{"not byte level", mutate(func(m map[string]any) { delete(vocab(m), "he"); vocab(m)["h e"] = 257 }), `"h e" (id 257) is not a byte-level string`},
		{"added id clash", mutate(func(m map[string]any) {
			m["added_tokens"] = []any{map[string]any{"id": 259, "content": "<|endoftext|>", "special": true}}
		}), "id 259 is also token"},
		{"added twice", mutate(func(m map[string]any) {
			m["added_tokens"] = []any{map[string]any{"id": 260, "content": "<|endoftext|>"}, map[string]any{"id": 260, "content": "<|endoftext|>"}}
		}), "duplicate id 260"},
		{"added lstrip", mutate(func(m map[string]any) {
			m["added_tokens"] = []any{map[string]any{"id": 260, "content": "<|endoftext|>", "lstrip": true}}
		}), "lstrip"},
		{"normalizer", mutate(func(m map[string]any) { m["normalizer"] = map[string]any{"type": "NFC"} }), "normalizer"},
		{"padding", mutate(func(m map[string]any) { m["padding"] = map[string]any{"strategy": "BatchLongest"} }), "padding"},
		{"prefix space", mutate(func(m map[string]any) { m["pre_tokenizer"].(map[string]any)["add_prefix_space"] = true }), "unsupported pre_tokenizer"},
		{"other pattern", mutate(func(m map[string]any) {
			m["pre_tokenizer"] = map[string]any{"type": "Sequence", "pretokenizers": []any{
				map[string]any{"type": "Split", "pattern": map[string]any{"Regex": `\p{N}{1,3}`}, "behavior": "Isolated", "invert": false},
				map[string]any{"type": "ByteLevel", "add_prefix_space": false, "use_regex": false}}}
		}), "unsupported pre_tokenizer"},
		{"decoder", mutate(func(m map[string]any) { m["decoder"] = map[string]any{"type": "WordPiece"} }), "decoder"},
		{"template", mutate(func(m map[string]any) { m["post_processor"] = map[string]any{"type": "TemplateProcessing"} }), "post_processor"},
		{"dropout", mutate(func(m map[string]any) { model(m)["dropout"] = 0.1 }), "dropout"},
		{"suffix", mutate(func(m map[string]any) { model(m)["end_of_word_suffix"] = "</w>" }), "end_of_word_suffix"},
	}
	for _, c := range cases {
		var path string
		if raw, ok := c.file.([]byte); ok {
			path = filepath.Join(t.TempDir(), "tokenizer.json")
			if err := os.WriteFile(path, raw, 0o644); err != nil {
				t.Fatal(err)
			}
		} else {
			path = writeJSONFile(t, c.file)
		}
		_, err := Load(path)
		if err == nil {
			t.Errorf("%s: loaded", c.name)
			continue
		}
		if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %q, want the file name and %q", c.name, err, c.want)
		}
	}

	// A duplicate vocab key, which a JSON map would silently merge.
	data, _ := json.Marshal(gpt2Style())
	data = bytes.Replace(data, []byte(`"he":257`), []byte(`"Ġt":257`), 1)
	if _, err := ReadJSON(bytes.NewReader(data)); err == nil || !strings.Contains(err.Error(), `duplicate token "Ġt"`) {
		t.Errorf("duplicate vocab key: %v", err)
	}
	if _, err := Load(filepath.Join(t.TempDir(), "nope.json")); err == nil || !strings.Contains(err.Error(), "nope.json") {
		t.Errorf("missing file: %v", err)
	}
}

// FuzzReadJSON checks that no input makes the loader panic, and that what it
// accepts is a working tokenizer. The seeds are 10 kB files, so minimising a
// new input takes long: fuzz with -fuzzminimizetime=2x.
func FuzzReadJSON(f *testing.F) {
	golden, err := os.ReadFile(filepath.Join("testdata", "tiny.tokenizer.json"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(golden)
	gpt2, _ := json.Marshal(gpt2Style())
	f.Add(gpt2)
	f.Add([]byte(`{"model":{"type":"BPE","vocab":{"a":0},"merges":["a a"]}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		tok, err := ReadJSON(bytes.NewReader(data))
		if err != nil {
			return
		}
		s := "Hello, 東京 <|image|> 2024!\n\xff"
		if got, err := tok.Decode(tok.Encode(s)); err != nil || got != s {
			t.Fatalf("loaded tokenizer does not round-trip: %q, %v", got, err)
		}
		if _, err := ReadJSON(bytes.NewReader(jsonOf(t, tok))); err != nil {
			t.Fatalf("saved file does not load: %v", err)
		}
	})
}
