package tasks

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestBlindBaseline checks the image-blind baseline: it is deterministic,
// answers a binary question with one of the two options it names, falls
// back to the template for a question text it never saw, and no template
// can be answered from its text alone (the generator never leaks the
// answer into the question: a leak would put some template near 100%).
func TestBlindBaseline(t *testing.T) {
	if _, err := NewBlind(DefaultConfig(), 0, 1); err == nil {
		t.Error("NewBlind with 0 items: no error")
	}
	if _, err := NewBlind(Config{Families: []Family{"bogus"}}, 10, 1); err == nil {
		t.Error("NewBlind with an unknown family: no error")
	}
	b, err := NewBlind(DefaultConfig(), 50000, 1)
	if err != nil {
		t.Fatal(err)
	}
	b2, _ := NewBlind(DefaultConfig(), 50000, 1)
	if d := cmp.Diff(b.byText, b2.byText); d != "" {
		t.Errorf("same seed, different baseline (-a +b):\n%s", d)
	}
	if b.Items() != 50000 {
		t.Errorf("Items = %d", b.Items())
	}

	// A question text absent from the sample (a plural kind) takes
	// its template's answer, which for a colour question is a colour.
	q := "What colour is the shape nearest to the red shapes?" // a plural kind is never drawn
	if _, seen := b.byText[q]; seen {
		t.Fatalf("%q was drawn; pick another unseen text", q)
	}
	if g := b.Guess(q); !isColour(Colour(g)) {
		t.Errorf("Guess(%q) = %q, want the template's colour", q, g)
	}
	if g := b.Guess("What is the meaning of life?"); g != "" {
		t.Errorf("Guess of an unknown template = %q, want empty", g)
	}

	st := mustStream(t, DefaultConfig(), Validation, 3)
	type acc struct{ n, right int }
	per := map[string]*acc{}
	for i := range uint64(6000) {
		s, q, _ := st.scene(i)
		tp := templates[q.Template]
		text, g := tp.text(q), b.Guess(tp.text(q))
		switch q.Template {
		case "spatial_lr", "spatial_ab", "geo_bigger", "chart_larger":
			opts := binaryOptions(q)
			if g != opts[0] && g != opts[1] {
				t.Errorf("Guess(%q) = %q, not one of %v", text, g, opts)
			}
		}
		if per[q.Template] == nil {
			per[q.Template] = &acc{}
		}
		per[q.Template].n++
		if g == Normalize(tp.answer(s, q)) {
			per[q.Template].right++
		}
	}
	for name, a := range per {
		if frac := float64(a.right) / float64(a.n); frac > 0.7 {
			t.Errorf("%s: blind baseline right on %.0f%% of %d validation items: the question gives the answer away", name, 100*frac, a.n)
		}
	}
	if len(per) != len(templates) {
		t.Errorf("6000 items drew %d of %d templates", len(per), len(templates))
	}
}

// binaryOptions are the two answers a binary question allows.
func binaryOptions(q Query) [2]string {
	switch q.Template {
	case "spatial_lr":
		return [2]string{"left", "right"}
	case "spatial_ab":
		return [2]string{"above", "below"}
	case "chart_larger":
		return [2]string{Normalize(q.A), Normalize(q.B)}
	}
	return [2]string{Normalize(string(q.Colour)), Normalize(string(q.Other))}
}

// The fallback key is the template, so every question of a template
// shares it.
func TestBlindTemplateKey(t *testing.T) {
	a := Template("Is the red square left or right of the blue circle?")
	b := Template("Is the green hexagon left or right of the yellow triangle?")
	if a != b || strings.Contains(a, "red") {
		t.Errorf("templates differ: %q vs %q", a, b)
	}
}
