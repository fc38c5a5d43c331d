package tokenizer

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

func jsonOf(t *testing.T, tok *Tokenizer) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := tok.WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestTrainDeterministic(t *testing.T) {
	corpus := syntheticCorpus(500, 2)
	cfg := TrainConfig{VocabSize: 500}
	a, err := Train(slices.Values(corpus), cfg)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Train(slices.Values(corpus), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(jsonOf(t, a), jsonOf(t, b)) {
		t.Fatal("two trainings on the same corpus differ")
	}
	// Word order does not matter either: only word counts do.
	rev := slices.Clone(corpus)
	slices.Reverse(rev)
	c, err := Train(slices.Values(rev), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(jsonOf(t, a), jsonOf(t, c)) {
		t.Fatal("training on the reversed corpus differs")
	}
	if a.VocabSize() != 500 {
		t.Errorf("VocabSize() = %d, want 500", a.VocabSize())
	}
}

// naiveTrain is the textbook trainer: recount every pair before each merge.
// It returns the merges (as token strings) that Train must learn.
func naiveTrain(corpus []string, vocabSize int, specials []string) []string {
	segments := corpus
	for _, sp := range specials { // cut out specials (none overlap in the tests)
		var next []string
		for _, s := range segments {
			next = append(next, strings.Split(s, sp)...)
		}
		segments = next
	}
	freq := map[string]int64{}
	for _, text := range segments {
		for _, w := range pieces(text, true) {
			freq[w]++
		}
	}
	var tokens []string
	tokens = append(tokens, specials...)
	for b := range 256 {
		tokens = append(tokens, string([]byte{byte(b)}))
	}
	idOf := map[string]int{}
	for i, s := range tokens[len(specials):] {
		idOf[s] = i + len(specials)
	}
	type word struct {
		syms  []int
		count int64
	}
	var words []word
	for w, c := range freq {
		var syms []int
		for i := range len(w) {
			syms = append(syms, idOf[w[i:i+1]])
		}
		words = append(words, word{syms, c})
	}
	banned := map[string]bool{}
	for _, s := range specials {
		banned[s] = true
		if raw, ok := fromByteLevel(s); ok {
			banned[raw] = true
		}
	}
	var merges []string
	for len(tokens) < vocabSize {
		counts := map[pairKey]int64{}
		for _, w := range words {
			for i := 0; i+1 < len(w.syms); i++ {
				counts[makePair(w.syms[i], w.syms[i+1])] += w.count
			}
		}
		best, bestCount := pairKey(0), int64(0)
		for p, c := range counts {
			raw := tokens[p.left()] + tokens[p.right()]
			if banned[raw] || banned[toByteLevel(raw)] {
				continue
			}
			if c > bestCount || (c == bestCount && p < best) {
				best, bestCount = p, c
			}
		}
		if bestCount == 0 {
			break
		}
		raw := tokens[best.left()] + tokens[best.right()]
		x, ok := idOf[raw]
		if !ok {
			x = len(tokens)
			idOf[raw] = x
			tokens = append(tokens, raw)
		}
		merges = append(merges, toByteLevel(tokens[best.left()])+" "+toByteLevel(tokens[best.right()]))
		for wi, w := range words {
			var out []int
			for i := 0; i < len(w.syms); i++ {
				if i+1 < len(w.syms) && makePair(w.syms[i], w.syms[i+1]) == best {
					out = append(out, x)
					i++
				} else {
					out = append(out, w.syms[i])
				}
			}
			words[wi].syms = out
		}
	}
	return merges
}

func mergeStrings(tok *Tokenizer) []string {
	var out []string
	for _, m := range tok.merges {
		a, _ := tok.Token(m.left())
		b, _ := tok.Token(m.right())
		out = append(out, a+" "+b)
	}
	return out
}

func TestTrainMatchesNaive(t *testing.T) {
	corpora := map[string][]string{
		"synthetic": syntheticCorpus(150, 3),
		"zipf":      zipfText(20000, 2),
		// Repeats stress the bookkeeping of adjacent occurrences.
		"repeats": {"aaaa aaaaa aaa a ababab abababa bababab", "abc abc ab c xabc abcabc", "aaaaaaaa bbbbbbbb abababab", "  \t\t  x"},
	}
	for name, corpus := range corpora {
		tok, err := Train(slices.Values(corpus), TrainConfig{VocabSize: 400})
		if err != nil {
			t.Fatal(err)
		}
		got, want := mergeStrings(tok), naiveTrain(corpus, 400, DefaultSpecials())
		if !slices.Equal(got, want) {
			n := 0
			for n < min(len(got), len(want)) && got[n] == want[n] {
				n++
			}
			t.Errorf("%s: merges differ from the naive trainer's at %d (of %d, %d): got %q, want %q",
				name, n, len(got), len(want), got[n:min(n+3, len(got))], want[n:min(n+3, len(want))])
		}
	}
}

func TestTrainStopsWhenNothingToMerge(t *testing.T) {
	tok, err := Train(slices.Values([]string{"ab ab", "c"}), TrainConfig{VocabSize: 1000, Specials: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	// Merges: "a b", then "Ġ ab" (from " ab"). Nothing else pairs.
	if got := mergeStrings(tok); !slices.Equal(got, []string{"a b", "Ġ ab"}) {
		t.Errorf("merges %q", got)
	}
	if tok.VocabSize() != 258 || len(tok.Specials()) != 0 {
		t.Errorf("VocabSize() = %d, specials %q", tok.VocabSize(), tok.Specials())
	}
	tok, err = Train(slices.Values([]string{"ab ab", "cd"}), TrainConfig{VocabSize: 1000, MinFrequency: 2})
	if err != nil {
		t.Fatal(err)
	}
	if got := mergeStrings(tok); !slices.Equal(got, []string{"a b"}) {
		t.Errorf("MinFrequency 2: merges %q", got)
	}
}

func TestTrainNeverMakesSpecials(t *testing.T) {
	// " z" ("Ġz" in byte-level form) would be the first merge, "Ġz q" the
	// second. ("xy" and "<a>" in the text are cut out, so never merged.)
	specials := []string{"Ġz", "xy", "<a>"}
	corpus := []string{strings.Repeat(" z", 40) + "q x<a>y xy"}
	tok, err := Train(slices.Values(corpus), TrainConfig{VocabSize: 300, Specials: specials})
	if err != nil {
		t.Fatal(err)
	}
	for id := range tok.VocabSize() {
		if s, _ := tok.Token(id); !tok.IsSpecial(id) && slices.Contains(specials, s) {
			t.Errorf("merged token %d is special %q", id, s)
		}
		if !tok.IsSpecial(id) && slices.Contains(specials, tok.tokens[id]) {
			t.Errorf("merged token %d has the bytes of special %q", id, tok.tokens[id])
		}
	}
	if got, want := mergeStrings(tok), naiveTrain(corpus, 300, specials); !slices.Equal(got, want) {
		t.Errorf("merges %q, naive %q", got, want)
	}
	// Specials in the corpus are not learned from.
	tok, err = Train(slices.Values([]string{Image + Image + Image}), TrainConfig{VocabSize: 400})
	if err != nil {
		t.Fatal(err)
	}
	if tok.NumMerges() != 0 {
		t.Errorf("learned %q from special tokens", mergeStrings(tok))
	}
}

func TestTrainDigits(t *testing.T) {
	corpus := []string{strings.Repeat("in 2024 and 2023, 1999 ", 30)}
	split, err := Train(slices.Values(corpus), TrainConfig{VocabSize: 400})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range mergeStrings(split) {
		a, b, _ := strings.Cut(m, " ")
		if strings.ContainsAny(a, "0123456789") && strings.ContainsAny(b, "0123456789") {
			t.Errorf("digits split, yet merge %q joins digits", m)
		}
	}
	if !split.SplitDigits() {
		t.Error("digits are not split by default")
	}
	grouped, err := Train(slices.Values(corpus), TrainConfig{VocabSize: 400, GroupDigits: true})
	if err != nil {
		t.Fatal(err)
	}
	if grouped.SplitDigits() {
		t.Error("GroupDigits ignored")
	}
	if ids := grouped.Encode(" 2024"); len(ids) != 1 {
		t.Errorf("grouped digits: \" 2024\" is %v", ids)
	}
	if ids := split.Encode(" 2024"); len(ids) != 4 {
		t.Errorf("split digits: \" 2024\" is %v", ids)
	}
}

func TestTrainErrors(t *testing.T) {
	corpus := slices.Values([]string{"x"})
	for _, c := range []struct {
		cfg  TrainConfig
		want string
	}{
		{TrainConfig{VocabSize: 261}, "less than the 6 special and 256 byte tokens"},
		{TrainConfig{VocabSize: 300, Specials: []string{"a", "b"}}, `"a" is the vocab string of byte 0x61`},
		{TrainConfig{VocabSize: 300, Specials: []string{"<a>", "<a>"}}, "duplicate special"},
		{TrainConfig{VocabSize: 300, Specials: []string{""}}, "empty special"},
		{TrainConfig{VocabSize: 300, Specials: []string{"<\xff>"}}, "not valid UTF-8"},
	} {
		if _, err := Train(corpus, c.cfg); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: err = %v, want %q", c.cfg, err, c.want)
		}
	}
}

// zipfText returns about n bytes of text made of pseudo-words of random
// syllables drawn with Zipf-like frequencies (tens of thousands of distinct
// words, like real prose), with numbers and punctuation.
func zipfText(n int, seed uint64) []string {
	r := rand.New(rand.NewPCG(seed, 9))
	syll := strings.Fields("ka to ri ne sa mu lo pe chi an er in on th st re ed ing ly al ou ar or en es")
	z := rand.NewZipf(r, 1.1, 1, 40000)
	word := func(k uint64) string {
		rr := rand.New(rand.NewPCG(k, 0))
		var b strings.Builder
		for range 1 + rr.IntN(4) {
			b.WriteString(syll[rr.IntN(len(syll))])
		}
		if k%7 == 0 {
			return strings.ToUpper(b.String()[:1]) + b.String()[1:]
		}
		return b.String()
	}
	var lines []string
	total := 0
	for total < n {
		var b strings.Builder
		for j := range 8 + r.IntN(20) {
			if j > 0 {
				b.WriteByte(' ')
			}
			if r.IntN(12) == 0 {
				fmt.Fprintf(&b, "%d", r.IntN(10000))
			} else {
				b.WriteString(word(z.Uint64()))
			}
			if r.IntN(10) == 0 {
				b.WriteString([]string{",", ".", "?", ":"}[r.IntN(4)])
			}
		}
		b.WriteByte('\n')
		lines = append(lines, b.String())
		total += b.Len()
	}
	return lines
}

// BenchmarkTrain1MB trains a 2k vocabulary on 1 MB of text.
func BenchmarkTrain1MB(b *testing.B) {
	corpus := zipfText(1<<20, 1)
	b.SetBytes(int64(len(strings.Join(corpus, ""))))
	var tok *Tokenizer
	for b.Loop() {
		var err error
		if tok, err = Train(slices.Values(corpus), TrainConfig{VocabSize: 2048}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(tok.NumMerges()), "merges")
}

func BenchmarkEncode(b *testing.B) {
	tok := sharedTokenizer(b)
	text := strings.Join(syntheticCorpus(2000, 77), "\n")
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		tok.Encode(text)
	}
}
