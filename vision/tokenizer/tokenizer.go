package tokenizer

import (
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
)

// Names of the special tokens of kiln's chat template.
const (
	Pad       = "<|pad|>"       // padding
	End       = "<|end|>"       // end of a turn
	Image     = "<|image|>"     // where the projected image tokens go
	System    = "<|system|>"    // starts the system turn
	User      = "<|user|>"      // starts a user turn
	Assistant = "<|assistant|>" // starts an assistant turn
)

// DefaultSpecials returns the special tokens of the chat template in id order:
// Pad, End, Image, System, User, Assistant.
func DefaultSpecials() []string {
	return []string{Pad, End, Image, System, User, Assistant}
}

// A Tokenizer is a trained byte-level BPE tokenizer. It is immutable apart
// from an internal cache, and safe for concurrent use.
type Tokenizer struct {
	// tokens[id] is the raw bytes of an ordinary token, or the content of a
	// special token.
	tokens  []string
	special []bool // special[id]: tokens[id] is a special token

	byteID [256]int                // the token of each single byte
	merges []pairKey               // merges in rank order
	ranks  map[pairKey]mergeResult // merge rank and merged token by pair

	specialIDs map[string]int
	specials   specialSet

	splitDigits bool

	cache wordCache
}

// pairKey is an adjacent pair of token ids, left in the high half.
type pairKey uint64

func makePair(left, right int) pairKey { return pairKey(uint64(left)<<32 | uint64(uint32(right))) }
func (p pairKey) left() int            { return int(p >> 32) }
func (p pairKey) right() int           { return int(uint32(p)) }

type mergeResult struct {
	rank int32
	id   int32
}

// newTokenizer assembles a Tokenizer from checked parts: tokens and special
// flags by id, byte ids, and merges in rank order with their results.
func newTokenizer(tokens []string, special []bool, byteID [256]int, merges []pairKey, results []int, splitDigits bool) *Tokenizer {
	t := &Tokenizer{
		tokens:      tokens,
		special:     special,
		byteID:      byteID,
		merges:      merges,
		ranks:       make(map[pairKey]mergeResult, len(merges)),
		specialIDs:  make(map[string]int),
		splitDigits: splitDigits,
	}
	for r, p := range merges {
		t.ranks[p] = mergeResult{rank: int32(r), id: int32(results[r])}
	}
	var contents []string
	for id, sp := range special {
		if sp {
			t.specialIDs[tokens[id]] = id
			contents = append(contents, tokens[id])
		}
	}
	t.specials = newSpecialSet(contents)
	return t
}

// VocabSize returns the number of token ids: ids are 0..VocabSize()-1.
func (t *Tokenizer) VocabSize() int { return len(t.tokens) }

// SpecialID returns the id of the special token with the given content, such
// as Image, and whether there is one.
func (t *Tokenizer) SpecialID(content string) (int, bool) {
	id, ok := t.specialIDs[content]
	return id, ok
}

// Specials returns the special tokens' contents in id order.
func (t *Tokenizer) Specials() []string {
	var s []string
	for id, sp := range t.special {
		if sp {
			s = append(s, t.tokens[id])
		}
	}
	return s
}

// IsSpecial reports whether id is a special token.
func (t *Tokenizer) IsSpecial(id int) bool {
	return id >= 0 && id < len(t.special) && t.special[id]
}

// Token returns the vocabulary string of id as tokenizer.json has it: the
// byte-level form of an ordinary token ("Ġthe" for " the"), the content of a
// special one. It returns false for an id out of range.
func (t *Tokenizer) Token(id int) (string, bool) {
	if id < 0 || id >= len(t.tokens) {
		return "", false
	}
	if t.special[id] {
		return t.tokens[id], true
	}
	return toByteLevel(t.tokens[id]), true
}

// SplitDigits reports whether the pre-tokenizer puts each digit in a word of
// its own (the default) rather than grouping runs of digits as GPT-2 does.
func (t *Tokenizer) SplitDigits() bool { return t.splitDigits }

// NumMerges returns the number of learned merges.
func (t *Tokenizer) NumMerges() int { return len(t.merges) }

// Encode returns the token ids of s. Occurrences of special tokens' contents
// in s become those special tokens; the text around them is encoded as by
// EncodeOrdinary. This is what a chat template wants.
func (t *Tokenizer) Encode(s string) []int {
	ids := make([]int, 0, len(s)/3+1)
	for len(s) > 0 {
		at, sp := t.specials.find(s)
		if sp == "" {
			break
		}
		ids = t.appendOrdinary(ids, s[:at])
		ids = append(ids, t.specialIDs[sp])
		s = s[at+len(sp):]
	}
	return t.appendOrdinary(ids, s)
}

// EncodeOrdinary returns the token ids of s with special tokens' contents
// taken as plain text: the result never holds a special token. Use it for
// user-supplied content that must not inject turn markers.
func (t *Tokenizer) EncodeOrdinary(s string) []int {
	return t.appendOrdinary(make([]int, 0, len(s)/3+1), s)
}

// EncodeBatch encodes each text as Encode does, in parallel.
func (t *Tokenizer) EncodeBatch(texts []string) [][]int {
	out := make([][]int, len(texts))
	workers := min(runtime.GOMAXPROCS(0), len(texts))
	if workers <= 1 {
		for i, s := range texts {
			out[i] = t.Encode(s)
		}
		return out
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	next := 0
	for range workers {
		wg.Go(func() {
			for {
				mu.Lock()
				i := next
				next++
				mu.Unlock()
				if i >= len(texts) {
					return
				}
				out[i] = t.Encode(texts[i])
			}
		})
	}
	wg.Wait()
	return out
}

// specialSet finds special tokens in text.
type specialSet struct {
	order []string  // longest first
	start [256]bool // first bytes
}

// newSpecialSet returns the set of the given non-empty contents.
func newSpecialSet(contents []string) specialSet {
	s := specialSet{order: slices.Clone(contents)}
	slices.SortStableFunc(s.order, func(a, b string) int { return len(b) - len(a) })
	for _, c := range contents {
		s.start[c[0]] = true
	}
	return s
}

// find returns the leftmost special token in text (the longest one where
// several start at the same byte) and its offset, or "" if there is none.
func (s *specialSet) find(text string) (int, string) {
	if len(s.order) == 0 {
		return 0, ""
	}
	for i := 0; i < len(text); i++ {
		if !s.start[text[i]] {
			continue
		}
		for _, sp := range s.order {
			if strings.HasPrefix(text[i:], sp) {
				return i, sp
			}
		}
	}
	return 0, ""
}

// appendOrdinary appends the ids of s, pre-tokenized and merged word by word.
func (t *Tokenizer) appendOrdinary(ids []int, s string) []int {
	for i := 0; i < len(s); {
		j := nextPiece(s, i, t.splitDigits)
		ids = t.appendWord(ids, s[i:j])
		i = j
	}
	return ids
}

// maxCachedWord is the longest word, in bytes, kept in the word cache.
const maxCachedWord = 64

// appendWord appends the ids of one pre-token.
func (t *Tokenizer) appendWord(ids []int, w string) []int {
	if len(w) == 1 {
		return append(ids, t.byteID[w[0]])
	}
	if len(w) <= maxCachedWord {
		if cached, ok := t.cache.get(w); ok {
			return append(ids, cached...)
		}
	}
	start := len(ids)
	ids = t.mergeWord(ids, w)
	if len(w) <= maxCachedWord {
		t.cache.put(w, slices.Clone(ids[start:])) // the caller owns ids
	}
	return ids
}

// mergeWord appends the ids of w after applying the merges: repeatedly the
// adjacent pair of lowest rank, the leftmost among equals. The pairs wait in a
// heap and the symbols form a linked list, so a word of n bytes takes
// O(n log n) time, however long it is.
func (t *Tokenizer) mergeWord(ids []int, w string) []int {
	n := len(w)
	syms := make([]symbol, n)
	for i := 0; i < n; i++ {
		syms[i] = symbol{id: t.byteID[w[i]], prev: i - 1, next: i + 1}
	}
	syms[n-1].next = -1
	h := candHeap(make([]candidate, 0, n))
	for i := 0; i+1 < n; i++ {
		if m, ok := t.ranks[makePair(syms[i].id, syms[i+1].id)]; ok {
			h.push(candidate{rank: m.rank, pos: int32(i), left: int32(syms[i].id), right: int32(syms[i+1].id)})
		}
	}
	for len(h) > 0 {
		c := h.pop()
		l := &syms[c.pos]
		// Skip a stale candidate: merged away, or its pair has changed since.
		// A position's token only ever grows, so ids that still match mean
		// the pair is the same.
		if l.id < 0 || l.next < 0 || l.id != int(c.left) || syms[l.next].id != int(c.right) {
			continue
		}
		r := &syms[l.next]
		l.id = int(t.ranks[makePair(int(c.left), int(c.right))].id)
		r.id = -1
		l.next = r.next
		if l.next >= 0 {
			syms[l.next].prev = int(c.pos)
		}
		if l.prev >= 0 {
			p := &syms[l.prev]
			if m, ok := t.ranks[makePair(p.id, l.id)]; ok {
				h.push(candidate{rank: m.rank, pos: int32(l.prev), left: int32(p.id), right: int32(l.id)})
			}
		}
		if l.next >= 0 {
			nx := &syms[l.next]
			if m, ok := t.ranks[makePair(l.id, nx.id)]; ok {
				h.push(candidate{rank: m.rank, pos: c.pos, left: int32(l.id), right: int32(nx.id)})
			}
		}
	}
	for i := 0; i >= 0; i = syms[i].next {
		ids = append(ids, syms[i].id)
	}
	return ids
}

type symbol struct {
	id         int // -1 once merged into its left neighbour
	prev, next int // -1 at the ends
}

type candidate struct {
	rank, pos   int32
	left, right int32
}

// candHeap is a binary min-heap by (rank, pos).
type candHeap []candidate

func (c candidate) less(d candidate) bool {
	return c.rank < d.rank || (c.rank == d.rank && c.pos < d.pos)
}

func (h *candHeap) push(c candidate) {
	*h = append(*h, c)
	s := *h
	i := len(s) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !s[i].less(s[p]) {
			break
		}
		s[i], s[p] = s[p], s[i]
		i = p
	}
}

func (h *candHeap) pop() candidate {
	s := *h
	top := s[0]
	last := len(s) - 1
	s[0] = s[last]
	s = s[:last]
	for i := 0; ; {
		l, m := 2*i+1, i
		if l < len(s) && s[l].less(s[m]) {
			m = l
		}
		if r := l + 1; r < len(s) && s[r].less(s[m]) {
			m = r
		}
		if m == i {
			break
		}
		s[i], s[m] = s[m], s[i]
		i = m
	}
	*h = s
	return top
}

// Decode returns the text of ids: the bytes of ordinary tokens and the
// contents of special tokens, concatenated. It fails on an id out of range.
func (t *Tokenizer) Decode(ids []int) (string, error) {
	var b strings.Builder
	for i, id := range ids {
		if id < 0 || id >= len(t.tokens) {
			return "", fmt.Errorf("tokenizer: decode: id %d at position %d is out of range [0, %d)", id, i, len(t.tokens))
		}
		b.WriteString(t.tokens[id])
	}
	return b.String(), nil
}

// wordCacheSize bounds the word cache: it holds between wordCacheSize and
// 2*wordCacheSize words.
const wordCacheSize = 1 << 15

// wordCache maps words to their ids. It keeps two generations: lookups that
// hit the old one move the word to the new one, and when the new one is full
// it becomes the old one and the previous old one is dropped, so memory stays
// bounded and frequent words stay cached.
type wordCache struct {
	mu       sync.Mutex
	cur, old map[string][]int
}

func (c *wordCache) get(w string) ([]int, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if ids, ok := c.cur[w]; ok {
		return ids, true
	}
	ids, ok := c.old[w]
	if ok {
		c.putLocked(w, ids)
	}
	return ids, ok
}

func (c *wordCache) put(w string, ids []int) {
	c.mu.Lock()
	c.putLocked(strings.Clone(w), ids)
	c.mu.Unlock()
}

func (c *wordCache) putLocked(w string, ids []int) {
	if len(c.cur) >= wordCacheSize {
		c.old, c.cur = c.cur, nil
	}
	if c.cur == nil {
		c.cur = make(map[string][]int)
	}
	c.cur[w] = ids
}
