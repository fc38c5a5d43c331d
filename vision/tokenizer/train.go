package tokenizer

import (
	"errors"
	"fmt"
	"iter"
	"slices"
	"strings"
	"unicode/utf8"
)

// TrainConfig configures Train.
type TrainConfig struct {
	// VocabSize is the number of ids wanted: special tokens, the 256 byte
	// tokens and merged tokens together. Training stops early when no pair
	// is left to merge.
	VocabSize int

	// Specials are the special tokens' contents, given ids 0, 1, ... in this
	// order. Nil means DefaultSpecials(); an empty non-nil slice means none.
	Specials []string

	// GroupDigits makes a run of digits one word, as in GPT-2. The default,
	// false, makes each digit a word of its own (see the package doc).
	GroupDigits bool

	// MinFrequency stops training when the most frequent pair occurs fewer
	// times than this in the corpus; 0 and 1 merge down to single pairs.
	MinFrequency int
}

// Train learns a tokenizer from the texts of corpus (use slices.Values for a
// slice). Special tokens' contents in the texts are cut out and not learned
// from. Merges are chosen greedily: each time the adjacent pair of tokens
// that occurs most often, counted over all words with their frequencies;
// ties go to the pair with the smaller left id, then the smaller right id. A
// merged token's id is the next free one, unless the same bytes were already
// a token (from another pair), whose id it then shares. The same corpus and
// config always give the same tokenizer.
//
// Pair counts are kept up to date incrementally, touching only the words
// that hold the merged pair, so training is fast: a 2k vocabulary on 1 MB of
// text takes well under a second on one core.
func Train(corpus iter.Seq[string], cfg TrainConfig) (*Tokenizer, error) {
	specials := cfg.Specials
	if specials == nil {
		specials = DefaultSpecials()
	}
	if err := checkSpecials(specials); err != nil {
		return nil, fmt.Errorf("tokenizer: train: %w", err)
	}
	nBase := len(specials) + 256
	if cfg.VocabSize < nBase {
		return nil, fmt.Errorf("tokenizer: train: vocab size %d is less than the %d special and 256 byte tokens", cfg.VocabSize, len(specials))
	}
	splitDigits := !cfg.GroupDigits

	// Count words.
	set := newSpecialSet(specials)
	freq := make(map[string]int64)
	count := func(s string) {
		for i := 0; i < len(s); {
			j := nextPiece(s, i, splitDigits)
			w := s[i:j]
			if n, ok := freq[w]; ok {
				freq[w] = n + 1
			} else {
				freq[strings.Clone(w)] = 1 // don't keep the whole text alive
			}
			i = j
		}
	}
	for text := range corpus {
		for {
			at, sp := set.find(text)
			if sp == "" {
				break
			}
			count(text[:at])
			text = text[at+len(sp):]
		}
		count(text)
	}

	// The base vocabulary.
	tokens := make([]string, 0, cfg.VocabSize)
	special := make([]bool, 0, cfg.VocabSize)
	for _, sp := range specials {
		tokens = append(tokens, sp)
		special = append(special, true)
	}
	var byteID [256]int
	tokenID := make(map[string]int, cfg.VocabSize) // ordinary tokens by raw bytes
	for b := 0; b < 256; b++ {
		byteID[b] = len(tokens)
		raw := string([]byte{byte(b)})
		tokenID[raw] = len(tokens)
		tokens = append(tokens, raw)
		special = append(special, false)
	}
	// A merge must not produce a token equal to a special token, in raw or
	// in byte-level form (where it would take the special's vocab entry).
	banned := make(map[string]bool, 2*len(specials))
	for _, sp := range specials {
		banned[sp] = true
		if raw, ok := fromByteLevel(sp); ok {
			banned[raw] = true
		}
	}

	// Words as symbol sequences, in sorted order so that nothing depends on
	// map iteration.
	keys := make([]string, 0, len(freq))
	for w := range freq {
		keys = append(keys, w)
	}
	slices.Sort(keys)
	words := make([][]int32, len(keys))
	counts := make([]int64, len(keys))
	pairCount := make(map[pairKey]int64)
	where := make(map[pairKey][]int32) // words holding the pair; may list stale words
	for wi, w := range keys {
		syms := make([]int32, len(w))
		for i := 0; i < len(w); i++ {
			syms[i] = int32(byteID[w[i]])
		}
		words[wi] = syms
		counts[wi] = freq[w]
		for i := 0; i+1 < len(syms); i++ {
			p := makePair(int(syms[i]), int(syms[i+1]))
			pairCount[p] += counts[wi]
			if ws := where[p]; len(ws) == 0 || ws[len(ws)-1] != int32(wi) {
				where[p] = append(ws, int32(wi))
			}
		}
	}
	freq, keys = nil, nil

	h := make(pairHeap, 0, len(pairCount))
	for p, c := range pairCount {
		h = append(h, pairEntry{count: c, pair: p})
	}
	h.init()

	minFreq := max(int64(cfg.MinFrequency), 1)
	var merges []pairKey
	var results []int
	newPairs := make(map[pairKey]struct{})
	for len(tokens) < cfg.VocabSize && len(h) > 0 {
		top := h.pop()
		// Counts only fall, except for pairs with the new token, which are
		// pushed when it is made: an entry whose count is out of date goes
		// back with the current count, and the first current one is the max.
		if c := pairCount[top.pair]; c != top.count {
			if c > 0 {
				h.push(pairEntry{count: c, pair: top.pair})
			}
			continue
		}
		if top.count < minFreq {
			break
		}
		a, b := top.pair.left(), top.pair.right()
		raw := tokens[a] + tokens[b]
		if banned[raw] || banned[toByteLevel(raw)] {
			continue // never again on top: its count can only fall
		}
		x, ok := tokenID[raw]
		if !ok {
			x = len(tokens)
			tokenID[raw] = x
			tokens = append(tokens, raw)
			special = append(special, false)
		}
		merges = append(merges, top.pair)
		results = append(results, x)

		clear(newPairs)
		for _, wi := range where[top.pair] {
			words[wi] = mergeInWord(words[wi], int32(a), int32(b), int32(x), counts[wi], pairCount, func(p pairKey) {
				newPairs[p] = struct{}{}
				if ws := where[p]; len(ws) == 0 || ws[len(ws)-1] != wi {
					where[p] = append(ws, wi)
				}
			})
		}
		delete(pairCount, top.pair)
		delete(where, top.pair)
		for p := range newPairs {
			if c := pairCount[p]; c > 0 {
				h.push(pairEntry{count: c, pair: p})
			}
		}
	}
	return newTokenizer(tokens, special, byteID, merges, results, splitDigits), nil
}

// mergeInWord replaces each occurrence of (a, b) in syms, left to right, by
// x, and updates pairCount by the word's count: the pairs around each
// occurrence lose it, the pairs with x gain it (and are reported to added).
// The count of (a, b) itself is left for the caller to drop.
func mergeInWord(syms []int32, a, b, x int32, count int64, pairCount map[pairKey]int64, added func(pairKey)) []int32 {
	out := syms[:0]     // in place: out never overtakes the read position
	afterMerge := false // the last symbol of out is an x just made
	for i := 0; i < len(syms); {
		if !(i+1 < len(syms) && syms[i] == a && syms[i+1] == b) {
			out = append(out, syms[i])
			afterMerge = false
			i++
			continue
		}
		if afterMerge {
			// (b, a) between the two occurrences was dropped by the
			// previous one, which left (x, x) to this one.
			p := makePair(int(x), int(x))
			pairCount[p] += count
			added(p)
		} else if len(out) > 0 {
			prev := int(out[len(out)-1])
			decPair(pairCount, makePair(prev, int(a)), count)
			p := makePair(prev, int(x))
			pairCount[p] += count
			added(p)
		}
		if i+2 < len(syms) {
			next := int(syms[i+2])
			decPair(pairCount, makePair(int(b), next), count)
			if !(i+3 < len(syms) && syms[i+2] == a && syms[i+3] == b) {
				p := makePair(int(x), next)
				pairCount[p] += count
				added(p)
			}
		}
		out = append(out, x)
		afterMerge = true
		i += 2
	}
	return out
}

func decPair(pairCount map[pairKey]int64, p pairKey, count int64) {
	if c := pairCount[p] - count; c > 0 {
		pairCount[p] = c
	} else {
		delete(pairCount, p)
	}
}

// pairEntry is a pair and its count when it was pushed.
type pairEntry struct {
	count int64
	pair  pairKey
}

// before orders the heap: higher count first, then smaller pair (left id,
// then right id).
func (e pairEntry) before(f pairEntry) bool {
	return e.count > f.count || (e.count == f.count && e.pair < f.pair)
}

// pairHeap is a binary heap with the first pair by before on top.
type pairHeap []pairEntry

func (h pairHeap) init() {
	for i := len(h)/2 - 1; i >= 0; i-- {
		h.down(i)
	}
}

func (h pairHeap) down(i int) {
	for {
		l, m := 2*i+1, i
		if l < len(h) && h[l].before(h[m]) {
			m = l
		}
		if r := l + 1; r < len(h) && h[r].before(h[m]) {
			m = r
		}
		if m == i {
			return
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
}

func (h *pairHeap) push(e pairEntry) {
	*h = append(*h, e)
	s := *h
	for i := len(s) - 1; i > 0; {
		p := (i - 1) / 2
		if !s[i].before(s[p]) {
			break
		}
		s[i], s[p] = s[p], s[i]
		i = p
	}
}

func (h *pairHeap) pop() pairEntry {
	s := *h
	top := s[0]
	s[0] = s[len(s)-1]
	s = s[:len(s)-1]
	s.down(0)
	*h = s
	return top
}

// checkSpecials checks special tokens' contents: non-empty, valid UTF-8,
// distinct, and none the vocab string of a byte token.
func checkSpecials(specials []string) error {
	seen := make(map[string]bool, len(specials))
	for _, sp := range specials {
		switch {
		case sp == "":
			return errors.New("empty special token")
		case !utf8.ValidString(sp):
			return fmt.Errorf("special token %q is not valid UTF-8", sp)
		case seen[sp]:
			return fmt.Errorf("duplicate special token %q", sp)
		}
		if raw, ok := fromByteLevel(sp); ok && len(raw) == 1 {
			return fmt.Errorf("special token %q is the vocab string of byte %#02x", sp, raw[0])
		}
		seen[sp] = true
	}
	return nil
}
