package tokenizer

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestByteLevelMapping(t *testing.T) {
	// Fixed points of the GPT-2 mapping that HF vocabularies rely on.
	for b, want := range map[byte]rune{' ': 'Ġ', '\n': 'Ċ', '\t': 'ĉ', 0: 'Ā', 'a': 'a', '!': '!', 0x7f: 'ġ', 0xa0: 'ł', 0xad: 'Ń', 0xff: 'ÿ'} {
		if got := byteToRune[b]; got != want {
			t.Errorf("byte %#02x maps to %q, want %q", b, got, want)
		}
	}
	if len(runeToByte) != 256 {
		t.Fatalf("mapping is not one-to-one: %d distinct runes", len(runeToByte))
	}
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	bl := toByteLevel(string(all))
	if strings.ContainsAny(bl, " \t\n") {
		t.Error("byte-level form holds whitespace")
	}
	if back, ok := fromByteLevel(bl); !ok || back != string(all) {
		t.Error("byte-level form does not map back")
	}
	if _, ok := fromByteLevel("a b"); ok {
		t.Error(`"a b" accepted as byte-level`)
	}
}

func roundTrip(t *testing.T, tok *Tokenizer, s string) {
	t.Helper()
	for name, enc := range map[string]func(string) []int{"Encode": tok.Encode, "EncodeOrdinary": tok.EncodeOrdinary} {
		ids := enc(s)
		got, err := tok.Decode(ids)
		if err != nil {
			t.Fatalf("%s(%q): decode: %v", name, s, err)
		}
		if got != s {
			t.Errorf("%s(%q) = %v decodes to %q", name, s, ids, got)
		}
	}
}

func TestRoundTrip(t *testing.T) {
	tok := sharedTokenizer(t)
	for _, s := range trickyStrings {
		roundTrip(t, tok, s)
	}
	for _, s := range syntheticCorpus(50, 99) {
		roundTrip(t, tok, s)
	}
	// Arbitrary bytes.
	r := rand.New(rand.NewPCG(3, 3))
	for range 200 {
		b := make([]byte, r.IntN(40))
		for i := range b {
			b[i] = byte(r.UintN(256))
		}
		roundTrip(t, tok, string(b))
	}
}

func TestCompression(t *testing.T) {
	tok := sharedTokenizer(t)
	text := strings.Join(syntheticCorpus(200, 5), "\n")
	ids := tok.Encode(text)
	if ratio := float64(len(text)) / float64(len(ids)); ratio < 2.5 {
		t.Errorf("%.2f bytes per token on text like the corpus; merges seem not to apply", ratio)
	}
}

func TestSpecialTokens(t *testing.T) {
	tok := sharedTokenizer(t)
	for i, sp := range DefaultSpecials() {
		id, ok := tok.SpecialID(sp)
		if !ok || id != i {
			t.Errorf("SpecialID(%q) = %d, %v; want %d", sp, id, ok, i)
		}
		if !tok.IsSpecial(id) {
			t.Errorf("IsSpecial(%d) is false", id)
		}
		if s, _ := tok.Token(id); s != sp {
			t.Errorf("Token(%d) = %q", id, s)
		}
	}
	if _, ok := tok.SpecialID("<|nope|>"); ok {
		t.Error("unknown special found")
	}
	if !slices.Equal(tok.Specials(), DefaultSpecials()) {
		t.Errorf("Specials() = %q", tok.Specials())
	}
	img, _ := tok.SpecialID(Image)
	user, _ := tok.SpecialID(User)
	end, _ := tok.SpecialID(End)

	// Atomic: one id each, whatever surrounds them.
	ids := tok.Encode("a<|image|>b" + User + "x " + Image + End)
	var got []int
	for _, id := range ids {
		if tok.IsSpecial(id) {
			got = append(got, id)
		}
	}
	if want := []int{img, user, img, end}; !slices.Equal(got, want) {
		t.Errorf("specials in %v are %v, want %v", ids, got, want)
	}
	if ids := tok.Encode(Image); !slices.Equal(ids, []int{img}) {
		t.Errorf("Encode(Image) = %v", ids)
	}
	// The text around a special encodes as if the special were not there.
	if a, b := tok.Encode("hello world"+Image+"  again"), append(append(tok.Encode("hello world"), img), tok.Encode("  again")...); !slices.Equal(a, b) {
		t.Errorf("text around a special: %v, want %v", a, b)
	}
	// Plain text: no special ids, and near-misses are plain text in Encode.
	for _, s := range []string{Image + User + End + Pad, "<|imag", "<|image |>", "<| image|>"} {
		for _, id := range tok.EncodeOrdinary(s) {
			if tok.IsSpecial(id) {
				t.Errorf("EncodeOrdinary(%q) holds special %d", s, id)
			}
		}
	}
	for _, id := range tok.Encode("<|imag <|image |>") {
		if tok.IsSpecial(id) {
			t.Errorf("near-miss encoded as special %d", id)
		}
	}
	// No ordinary token is a special's text.
	for id := range tok.VocabSize() {
		if s, _ := tok.Token(id); !tok.IsSpecial(id) && slices.Contains(DefaultSpecials(), s) {
			t.Errorf("ordinary token %d is %q", id, s)
		}
	}
}

func TestLongestSpecialWins(t *testing.T) {
	tok, err := Train(slices.Values([]string{"abc abc"}), TrainConfig{VocabSize: 300, Specials: []string{"<s>", "<s><s>", "<x"}})
	if err != nil {
		t.Fatal(err)
	}
	s1, _ := tok.SpecialID("<s>")
	s2, _ := tok.SpecialID("<s><s>")
	s3, _ := tok.SpecialID("<x")
	if got, want := tok.Encode("<s><s><s><x"), []int{s2, s1, s3}; !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestEncodeBatch(t *testing.T) {
	tok := sharedTokenizer(t)
	texts := append(slices.Clone(trickyStrings), syntheticCorpus(100, 11)...)
	batch := tok.EncodeBatch(texts)
	for i, s := range texts {
		if want := tok.Encode(s); !slices.Equal(batch[i], want) {
			t.Errorf("EncodeBatch[%d] = %v, Encode = %v", i, batch[i], want)
		}
	}
	if got := tok.EncodeBatch(nil); len(got) != 0 {
		t.Errorf("EncodeBatch(nil) = %v", got)
	}
}

func TestCacheNotAliased(t *testing.T) {
	tok := sharedTokenizer(t)
	want := tok.Encode("chart chart chart")
	ids := tok.Encode("chart chart chart")
	for i := range ids {
		ids[i] = -7
	}
	if got := tok.Encode("chart chart chart"); !slices.Equal(got, want) {
		t.Errorf("after changing a result: %v, want %v", got, want)
	}
}

func TestWordCacheBounded(t *testing.T) {
	var c wordCache
	for i := range 3 * wordCacheSize {
		c.put(strings.Repeat("x", i%50)+string(rune('a'+i%26))+string(rune(i)), []int{i})
	}
	if n := len(c.cur) + len(c.old); n > 2*wordCacheSize {
		t.Errorf("cache holds %d words, bound %d", n, 2*wordCacheSize)
	}
}

func TestDecodeErrors(t *testing.T) {
	tok := sharedTokenizer(t)
	for _, ids := range [][]int{{-1}, {0, tok.VocabSize()}} {
		if _, err := tok.Decode(ids); err == nil || !strings.Contains(err.Error(), "out of range") {
			t.Errorf("Decode(%v): err = %v", ids, err)
		}
	}
	if _, ok := tok.Token(tok.VocabSize()); ok {
		t.Error("Token out of range found")
	}
	if s, err := tok.Decode(nil); s != "" || err != nil {
		t.Errorf("Decode(nil) = %q, %v", s, err)
	}
}

// naiveMerge applies merges as the GPT-2 reference does: while some adjacent
// pair has a rank, merge every occurrence of the lowest-ranked one, left to
// right. It is quadratic; mergeWord must agree with it.
func naiveMerge(t *Tokenizer, w string) []int {
	syms := make([]int, len(w))
	for i := range len(w) {
		syms[i] = t.byteID[w[i]]
	}
	for {
		best, bestRank := pairKey(0), int32(-1)
		for i := 0; i+1 < len(syms); i++ {
			if m, ok := t.ranks[makePair(syms[i], syms[i+1])]; ok && (bestRank < 0 || m.rank < bestRank) {
				best, bestRank = makePair(syms[i], syms[i+1]), m.rank
			}
		}
		if bestRank < 0 {
			return syms
		}
		var out []int
		for i := 0; i < len(syms); i++ {
			if i+1 < len(syms) && makePair(syms[i], syms[i+1]) == best {
				out = append(out, int(t.ranks[best].id))
				i++
			} else {
				out = append(out, syms[i])
			}
		}
		syms = out
	}
}

func TestMergeWordMatchesNaive(t *testing.T) {
	tok := sharedTokenizer(t)
	words := []string{"aaaaaaa", "   ", strings.Repeat("ab", 20), strings.Repeat("e", 33)}
	for _, line := range syntheticCorpus(300, 21) {
		words = append(words, pieces(line, true)...)
		words = append(words, strings.ReplaceAll(line, " ", "")) // long words
	}
	r := rand.New(rand.NewPCG(4, 4))
	alphabet := []byte("aeiouthsnr ")
	for range 300 {
		b := make([]byte, 2+r.IntN(30))
		for i := range b {
			b[i] = alphabet[r.IntN(len(alphabet))]
		}
		words = append(words, string(b))
	}
	for _, w := range words {
		if w == "" {
			continue
		}
		if got, want := tok.mergeWord(nil, w), naiveMerge(tok, w); !slices.Equal(got, want) {
			t.Errorf("mergeWord(%q) = %v, want %v", w, got, want)
		}
	}
}

func TestLongInputsAreLinearish(t *testing.T) {
	tok := sharedTokenizer(t)
	// One 1 MB word of each kind; quadratic merging would take minutes.
	for _, s := range []string{strings.Repeat("ab", 1<<19), strings.Repeat(" ", 1<<20), strings.Repeat("!?", 1<<19)} {
		ids := tok.Encode(s)
		if got, _ := tok.Decode(ids); got != s {
			t.Fatal("long input does not round-trip")
		}
	}
}

func FuzzRoundTrip(f *testing.F) {
	for _, s := range trickyStrings {
		f.Add(s)
	}
	f.Add("\xff\xfe<|image|>\xc3")
	f.Fuzz(func(t *testing.T, s string) {
		tok := sharedTokenizer(t)
		roundTrip(t, tok, s)
		for _, id := range tok.EncodeOrdinary(s) {
			if tok.IsSpecial(id) {
				t.Fatalf("EncodeOrdinary(%q) holds a special", s)
			}
		}
		if utf8.ValidString(s) {
			// Cached and uncached encodings agree.
			if a, b := tok.Encode(s), tok.Encode(s); !slices.Equal(a, b) {
				t.Fatalf("Encode(%q) not stable: %v then %v", s, a, b)
			}
		}
	})
}
