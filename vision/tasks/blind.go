package tasks

import (
	"fmt"
	"maps"
	"slices"
)

// Blind is the image-blind baseline that "above chance" is measured
// against: it answers a question with the answer most often right for that
// exact question text on a sample of the training stream, and a question
// text it never saw with its template's most frequent answer. It knows
// what a question names (a binary question's two options, a nearest
// question's anchor colour) and the generator's answer frequencies, but
// never the scene, so a model at or below it has learned nothing from the
// image for that question.
type Blind struct {
	byText     map[string]string
	byTemplate map[string]string
	n          int
}

// NewBlind counts the answers of the first n items of the training stream
// of cfg with seed (scenes are drawn, not rendered).
func NewBlind(cfg Config, n int, seed uint64) (*Blind, error) {
	if n < 1 {
		return nil, fmt.Errorf("tasks: blind baseline needs at least one item, got %d", n)
	}
	st, err := NewStream(cfg, Train, seed)
	if err != nil {
		return nil, err
	}
	text := map[string]map[string]int{}
	tmpl := map[string]map[string]int{}
	add := func(m map[string]map[string]int, k, a string) {
		if m[k] == nil {
			m[k] = map[string]int{}
		}
		m[k][a]++
	}
	for i := range uint64(n) {
		s, q, _ := st.scene(i)
		t := templates[q.Template]
		question, answer := t.text(q), Normalize(t.answer(s, q))
		add(text, question, answer)
		add(tmpl, Template(question), answer)
	}
	return &Blind{byText: mostFrequent(text), byTemplate: mostFrequent(tmpl), n: n}, nil
}

// mostFrequent keeps each key's most frequent answer, ties to the smallest
// string so the baseline does not depend on map order.
func mostFrequent(m map[string]map[string]int) map[string]string {
	out := make(map[string]string, len(m))
	for k, counts := range m {
		best, bestN := "", 0
		for _, a := range slices.Sorted(maps.Keys(counts)) {
			if counts[a] > bestN {
				best, bestN = a, counts[a]
			}
		}
		out[k] = best
	}
	return out
}

// Guess is the baseline's normalised answer to question ("" for a template
// it never saw).
func (b *Blind) Guess(question string) string {
	if a, ok := b.byText[question]; ok {
		return a
	}
	return b.byTemplate[Template(question)]
}

// Items is the number of training items the baseline counted.
func (b *Blind) Items() int { return b.n }
