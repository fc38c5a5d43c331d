package tokenizer

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/kiln-ml/kiln/internal/atomicfile"
)

// splitDigitsPattern is the HF Split pattern of the default pre-tokenizer:
// GPT-2's with one digit per number word. ByteLevel then runs without its
// own pattern.
const splitDigitsPattern = `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`

// Save writes the tokenizer to path in the HF tokenizer.json format,
// atomically: a reader sees the old file or the new one, never a mix.
func (t *Tokenizer) Save(path string) error {
	if err := atomicfile.WriteFile(path, t.WriteJSON); err != nil {
		return fmt.Errorf("tokenizer: save %s: %w", path, err)
	}
	return nil
}

// WriteJSON writes the tokenizer in the HF tokenizer.json format. The output
// depends only on the tokenizer: the vocabulary is in id order and merges in
// rank order.
func (t *Tokenizer) WriteJSON(w io.Writer) error {
	bw := bufio.NewWriter(w)
	p := func(format string, args ...any) { fmt.Fprintf(bw, format, args...) }
	p("{\n  \"version\": \"1.0\",\n  \"truncation\": null,\n  \"padding\": null,\n  \"added_tokens\": [")
	first := true
	for id, sp := range t.special {
		if !sp {
			continue
		}
		if !first {
			p(",")
		}
		first = false
		p("\n    {\n      \"id\": %d,\n      \"content\": %s,\n      \"single_word\": false,\n      \"lstrip\": false,\n      \"rstrip\": false,\n      \"normalized\": false,\n      \"special\": true\n    }", id, quote(t.tokens[id]))
	}
	if !first {
		p("\n  ")
	}
	p("],\n  \"normalizer\": null,\n")
	if t.splitDigits {
		p("  \"pre_tokenizer\": {\n    \"type\": \"Sequence\",\n    \"pretokenizers\": [\n")
		p("      {\n        \"type\": \"Split\",\n        \"pattern\": {\n          \"Regex\": %s\n        },\n        \"behavior\": \"Isolated\",\n        \"invert\": false\n      },\n", quote(splitDigitsPattern))
		p("      {\n        \"type\": \"ByteLevel\",\n        \"add_prefix_space\": false,\n        \"trim_offsets\": true,\n        \"use_regex\": false\n      }\n    ]\n  },\n")
	} else {
		p("  \"pre_tokenizer\": {\n    \"type\": \"ByteLevel\",\n    \"add_prefix_space\": false,\n    \"trim_offsets\": true,\n    \"use_regex\": true\n  },\n")
	}
	p("  \"post_processor\": null,\n")
	p("  \"decoder\": {\n    \"type\": \"ByteLevel\",\n    \"add_prefix_space\": true,\n    \"trim_offsets\": true,\n    \"use_regex\": true\n  },\n")
	p("  \"model\": {\n    \"type\": \"BPE\",\n    \"dropout\": null,\n    \"unk_token\": null,\n    \"continuing_subword_prefix\": null,\n    \"end_of_word_suffix\": null,\n    \"fuse_unk\": false,\n    \"byte_fallback\": false,\n    \"vocab\": {")
	for id := range t.tokens {
		if id > 0 {
			p(",")
		}
		tok, _ := t.Token(id)
		p("\n      %s: %d", quote(tok), id)
	}
	p("\n    },\n    \"merges\": [")
	for r, m := range t.merges {
		if r > 0 {
			p(",")
		}
		a, _ := t.Token(m.left())
		b, _ := t.Token(m.right())
		p("\n      %s", quote(a+" "+b))
	}
	if len(t.merges) > 0 {
		p("\n    ")
	}
	p("]\n  }\n}\n")
	return bw.Flush()
}

// quote returns s as a JSON string, without escaping <, > and & (which the
// special tokens are full of).
func quote(s string) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.Encode(s) // a string always encodes
	return strings.TrimSuffix(b.String(), "\n")
}

// Load reads a tokenizer from a tokenizer.json file as Save writes it. It
// also reads GPT-2 style byte-level BPE files, and rejects any file that it
// would not tokenize exactly as HF tokenizers does. Errors name the file and
// the problem.
func Load(path string) (*Tokenizer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: load: %w", err)
	}
	t, err := parseJSON(data)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: load %s: %w", path, err)
	}
	return t, nil
}

// ReadJSON reads a tokenizer in the tokenizer.json format from r, as Load
// does from a file.
func ReadJSON(r io.Reader) (*Tokenizer, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: read tokenizer.json: %w", err)
	}
	t, err := parseJSON(data)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: read tokenizer.json: %w", err)
	}
	return t, nil
}

type hfFile struct {
	Truncation    json.RawMessage `json:"truncation"`
	Padding       json.RawMessage `json:"padding"`
	AddedTokens   []hfAddedToken  `json:"added_tokens"`
	Normalizer    json.RawMessage `json:"normalizer"`
	PreTokenizer  *hfPreTokenizer `json:"pre_tokenizer"`
	PostProcessor *hfPreTokenizer `json:"post_processor"`
	Decoder       *hfPreTokenizer `json:"decoder"`
	Model         *hfModel        `json:"model"`
	_             struct{}        `json:"-"`
}

type hfAddedToken struct {
	ID         *int   `json:"id"`
	Content    string `json:"content"`
	SingleWord bool   `json:"single_word"`
	LStrip     bool   `json:"lstrip"`
	RStrip     bool   `json:"rstrip"`
}

// hfPreTokenizer holds the fields of the ByteLevel, Split and Sequence
// pre-tokenizers (and of ByteLevel decoders and post-processors).
type hfPreTokenizer struct {
	Type           string            `json:"type"`
	AddPrefixSpace bool              `json:"add_prefix_space"`
	UseRegex       *bool             `json:"use_regex"`
	Pattern        map[string]string `json:"pattern"`
	Behavior       string            `json:"behavior"`
	Invert         bool              `json:"invert"`
	PreTokenizers  []hfPreTokenizer  `json:"pretokenizers"`
}

type hfModel struct {
	Type                    string            `json:"type"`
	Dropout                 *float64          `json:"dropout"`
	ContinuingSubwordPrefix *string           `json:"continuing_subword_prefix"`
	EndOfWordSuffix         *string           `json:"end_of_word_suffix"`
	IgnoreMerges            bool              `json:"ignore_merges"`
	Vocab                   json.RawMessage   `json:"vocab"`
	Merges                  []json.RawMessage `json:"merges"`
}

func isNull(m json.RawMessage) bool {
	return len(m) == 0 || string(bytes.TrimSpace(m)) == "null"
}

// parseJSON builds a tokenizer from tokenizer.json bytes and checks it.
func parseJSON(data []byte) (*Tokenizer, error) {
	var f hfFile
	if err := json.Unmarshal(data, &f); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			line := 1 + bytes.Count(data[:se.Offset], []byte("\n"))
			return nil, fmt.Errorf("bad JSON at line %d: %v", line, err)
		}
		return nil, fmt.Errorf("bad JSON: %w", err)
	}
	switch {
	case !isNull(f.Truncation):
		return nil, errors.New("truncation is not supported")
	case !isNull(f.Padding):
		return nil, errors.New("padding is not supported")
	case !isNull(f.Normalizer):
		return nil, errors.New("a normalizer is not supported")
	case f.Decoder == nil || f.Decoder.Type != "ByteLevel":
		return nil, errors.New(`decoder is not "ByteLevel"`)
	case f.PostProcessor != nil && f.PostProcessor.Type != "ByteLevel":
		return nil, fmt.Errorf("post_processor %q is not supported", f.PostProcessor.Type)
	}
	splitDigits, err := preTokenizerMode(f.PreTokenizer)
	if err != nil {
		return nil, err
	}
	m := f.Model
	switch {
	case m == nil:
		return nil, errors.New("no model")
	case m.Type != "BPE":
		return nil, fmt.Errorf("model type %q is not BPE", m.Type)
	case m.Dropout != nil && *m.Dropout != 0:
		return nil, errors.New("BPE dropout is not supported")
	case m.ContinuingSubwordPrefix != nil && *m.ContinuingSubwordPrefix != "":
		return nil, errors.New("continuing_subword_prefix is not supported")
	case m.EndOfWordSuffix != nil && *m.EndOfWordSuffix != "":
		return nil, errors.New("end_of_word_suffix is not supported")
	case m.IgnoreMerges:
		return nil, errors.New("ignore_merges is not supported")
	}

	vocab, err := parseVocab(m.Vocab)
	if err != nil {
		return nil, err
	}
	// Place every token at its id: vocabulary entries, then added tokens,
	// which may repeat a vocabulary entry with the same id.
	byID := make(map[int]string, len(vocab)+len(f.AddedTokens))
	for tok, id := range vocab {
		if other, dup := byID[id]; dup {
			a, b := min(tok, other), max(tok, other) // name them in a fixed order
			return nil, fmt.Errorf("model.vocab: tokens %q and %q have the same id %d", a, b, id)
		}
		byID[id] = tok
	}
	isAdded := make(map[int]bool, len(f.AddedTokens))
	var specials []string
	for i, at := range f.AddedTokens {
		switch {
		case at.ID == nil:
			return nil, fmt.Errorf("added_tokens[%d] %q: no id", i, at.Content)
		case *at.ID < 0:
			return nil, fmt.Errorf("added_tokens[%d] %q: negative id %d", i, at.Content, *at.ID)
		case at.SingleWord || at.LStrip || at.RStrip:
			return nil, fmt.Errorf("added_tokens[%d] %q: single_word, lstrip and rstrip are not supported", i, at.Content)
		}
		id := *at.ID
		if isAdded[id] {
			return nil, fmt.Errorf("added_tokens[%d] %q: duplicate id %d", i, at.Content, id)
		}
		if other, ok := byID[id]; ok && other != at.Content {
			return nil, fmt.Errorf("added_tokens[%d] %q: id %d is also token %q in model.vocab", i, at.Content, id, other)
		}
		if vid, ok := vocab[at.Content]; ok && vid != id {
			return nil, fmt.Errorf("added_tokens[%d] %q: id %d, but model.vocab gives it id %d", i, at.Content, id, vid)
		}
		byID[id] = at.Content
		isAdded[id] = true
		specials = append(specials, at.Content)
	}
	if err := checkSpecials(specials); err != nil {
		return nil, fmt.Errorf("added_tokens: %w", err)
	}

	n := len(byID)
	tokens := make([]string, n)
	special := make([]bool, n)
	rawID := make(map[string]int, n) // ordinary tokens by raw bytes
	for id := range n {
		tok, ok := byID[id]
		if !ok {
			return nil, fmt.Errorf("ids are not 0..%d: none has id %d", n-1, id)
		}
		if isAdded[id] {
			tokens[id], special[id] = tok, true
			continue
		}
		raw, ok := fromByteLevel(tok)
		if !ok || raw == "" {
			return nil, fmt.Errorf("model.vocab: token %q (id %d) is not a byte-level string", tok, id)
		}
		tokens[id] = raw
		rawID[raw] = id
	}
	var byteID [256]int
	for b := range 256 {
		id, ok := rawID[string([]byte{byte(b)})]
		if !ok {
			return nil, fmt.Errorf("model.vocab: no token for byte %#02x (%q)", b, string(byteToRune[b]))
		}
		byteID[b] = id
	}

	merges := make([]pairKey, len(m.Merges))
	results := make([]int, len(m.Merges))
	seen := make(map[pairKey]int, len(m.Merges))
	for r, raw := range m.Merges {
		a, b, err := parseMerge(raw)
		if err != nil {
			return nil, fmt.Errorf("model.merges[%d]: %w", r, err)
		}
		ia, oka := vocab[a]
		ib, okb := vocab[b]
		switch {
		case !oka:
			return nil, fmt.Errorf("model.merges[%d] %q: unknown token %q", r, a+" "+b, a)
		case !okb:
			return nil, fmt.Errorf("model.merges[%d] %q: unknown token %q", r, a+" "+b, b)
		case isAdded[ia] || isAdded[ib]:
			return nil, fmt.Errorf("model.merges[%d] %q: merges a special token", r, a+" "+b)
		}
		x, ok := vocab[a+b]
		switch {
		case !ok:
			return nil, fmt.Errorf("model.merges[%d] %q: the merged token %q is not in model.vocab", r, a+" "+b, a+b)
		case isAdded[x]:
			return nil, fmt.Errorf("model.merges[%d] %q: makes special token %q", r, a+" "+b, a+b)
		}
		p := makePair(ia, ib)
		if first, dup := seen[p]; dup {
			return nil, fmt.Errorf("model.merges[%d] %q: duplicate of merges[%d]", r, a+" "+b, first)
		}
		seen[p] = r
		merges[r], results[r] = p, x
	}
	return newTokenizer(tokens, special, byteID, merges, results, splitDigits), nil
}

// preTokenizerMode recognises the two pre-tokenizers that this package
// implements and returns whether digits are split.
func preTokenizerMode(p *hfPreTokenizer) (splitDigits bool, err error) {
	byteLevel := func(q *hfPreTokenizer, regex bool) bool {
		useRegex := q.UseRegex == nil || *q.UseRegex // HF's default is true
		return q.Type == "ByteLevel" && !q.AddPrefixSpace && useRegex == regex
	}
	switch {
	case p == nil:
		return false, errors.New("no pre_tokenizer")
	case byteLevel(p, true):
		return false, nil
	case p.Type == "Sequence" && len(p.PreTokenizers) == 2:
		s := &p.PreTokenizers[0]
		if s.Type == "Split" && len(s.Pattern) == 1 && s.Pattern["Regex"] == splitDigitsPattern &&
			s.Behavior == "Isolated" && !s.Invert && byteLevel(&p.PreTokenizers[1], false) {
			return true, nil
		}
	}
	return false, errors.New("unsupported pre_tokenizer: want ByteLevel (add_prefix_space false), or Sequence of the digit-splitting Split and ByteLevel without regex")
}

// parseVocab reads model.vocab, an object of token to id, rejecting
// duplicate tokens (which a map would silently merge) and ids that are not
// non-negative integers.
func parseVocab(raw json.RawMessage) (map[string]int, error) {
	if isNull(raw) {
		return nil, errors.New("no model.vocab")
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, errors.New("model.vocab is not an object")
	}
	vocab := make(map[string]int)
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("model.vocab: %w", err)
		}
		key := k.(string) // object keys are strings
		v, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("model.vocab: %w", err)
		}
		num, ok := v.(json.Number)
		if !ok {
			return nil, fmt.Errorf("model.vocab: token %q: id %v is not a number", key, v)
		}
		id, err := strconv.Atoi(num.String())
		if err != nil || id < 0 {
			return nil, fmt.Errorf("model.vocab: token %q: id %s is not a non-negative integer", key, num)
		}
		if _, dup := vocab[key]; dup {
			return nil, fmt.Errorf("model.vocab: duplicate token %q", key)
		}
		vocab[key] = id
	}
	return vocab, nil
}

// parseMerge reads a merge, either "left right" or ["left", "right"].
func parseMerge(raw json.RawMessage) (string, string, error) {
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		a, b, ok := strings.Cut(s, " ")
		if !ok || a == "" || b == "" || strings.Contains(b, " ") {
			return "", "", fmt.Errorf("%q is not two tokens separated by a space", s)
		}
		return a, b, nil
	}
	var pair []string
	if err := json.Unmarshal(raw, &pair); err != nil || len(pair) != 2 {
		return "", "", fmt.Errorf("%s is neither \"left right\" nor [\"left\", \"right\"]", raw)
	}
	return pair[0], pair[1], nil
}
