package tasks

import (
	"fmt"
	"slices"
	"strings"
)

// Query is a question in structured form: a template and its arguments.
// Text renders it; Answer and Trace evaluate it over a scene.
type Query struct {
	Template  string
	Colour    Colour // the subject's colour, when the template names one
	Kind      Kind   // the subject's kind, when the template names one
	Other     Colour // the second shape of a pair
	OtherKind Kind
	A, B      string // chart labels
	Dir       string // spatial_extreme: left, right, top or bottom
}

// template is one question template of a family.
type template struct {
	name   string
	family Family
	text   func(q Query) string
	// queries lists candidate queries over s; valid filters them.
	queries func(s *Scene) []Query
	valid   func(s *Scene, q Query) bool
	// answer and reason read only the scene description; they work on any
	// scene of the family (ties broken by scene or palette order), which
	// the perturbed first answers of the self-evaluation data rely on.
	answer func(s *Scene, q Query) string
	reason func(s *Scene, q Query) string
}

var templates = map[string]*template{}

// templateOrder lists template names per family, in registration order.
var templateOrder = map[Family][]string{}

func register(ts ...*template) {
	for _, t := range ts {
		templates[t.name] = t
		templateOrder[t.family] = append(templateOrder[t.family], t.name)
	}
}

// Templates returns the template names of family f (all families when f
// is empty), in a fixed order.
func Templates(f Family) []string {
	if f != "" {
		return slices.Clone(templateOrder[f])
	}
	var out []string
	for _, fam := range Families {
		out = append(out, templateOrder[fam]...)
	}
	return out
}

// Text is the question as the model reads it.
func (q Query) Text() string {
	t, ok := templates[q.Template]
	if !ok {
		return ""
	}
	return t.text(q)
}

func lookup(s *Scene, q Query) (*template, error) {
	t, ok := templates[q.Template]
	switch {
	case !ok:
		return nil, fmt.Errorf("tasks: unknown template %q", q.Template)
	case t.family != s.Family:
		return nil, fmt.Errorf("tasks: template %q is not of family %q", q.Template, s.Family)
	case !t.valid(s, q):
		return nil, fmt.Errorf("tasks: %q is not a valid question for this scene", t.text(q))
	}
	return t, nil
}

// Answer returns the exact answer to q over s, computed from the scene
// description alone. It fails when q is not a valid question for s (an
// unknown template, another family, or an ambiguous or impossible case).
func Answer(s *Scene, q Query) (string, error) {
	t, err := lookup(s, q)
	if err != nil {
		return "", err
	}
	return t.answer(s, q), nil
}

// Trace returns the solver's target output for q over s: a short
// reasoning that states what it read and computed, then
// "<answer>X</answer>" with X = Answer(s, q).
func Trace(s *Scene, q Query) (string, error) {
	t, err := lookup(s, q)
	if err != nil {
		return "", err
	}
	return traceOf(t, s, q), nil
}

func traceOf(t *template, s *Scene, q Query) string {
	return withAnswer(t.reason(s, q), t.answer(s, q))
}

// withAnswer is a trace: the reasoning, then the tagged answer.
func withAnswer(reason, answer string) string { return reason + " " + tagAnswer(answer) }

// tagAnswer is "<answer>answer</answer>", what ExtractAnswer reads back.
func tagAnswer(answer string) string { return "<answer>" + answer + "</answer>" }

// Questions lists every valid query over s, in a fixed order.
func Questions(s *Scene) []Query {
	var out []Query
	for _, name := range templateOrder[s.Family] {
		t := templates[name]
		for _, q := range t.queries(s) {
			if t.valid(s, q) {
				out = append(out, q)
			}
		}
	}
	return out
}

// MatchQuestion returns the valid query over s whose text equals text
// after normalisation (see Normalize), and whether there is one. It tells
// a proposed question that the generator could have asked from free text.
func MatchQuestion(s *Scene, text string) (Query, bool) {
	want := Normalize(text)
	for _, q := range Questions(s) {
		if Normalize(q.Text()) == want {
			return q, true
		}
	}
	return Query{}, false
}

// joinInts writes xs separated by sep.
func joinInts(xs []int, sep string) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = fmt.Sprint(x)
	}
	return strings.Join(parts, sep)
}

// shapeOf returns the index of the only shape of colour c, or -1 when
// there is none or more than one.
func shapeOf(s *Scene, c Colour) int {
	at := -1
	for i, sh := range s.Shapes {
		if sh.Colour == c {
			if at >= 0 {
				return -1
			}
			at = i
		}
	}
	return at
}

// byPalette returns the shape indices of s in palette order (red, green,
// blue, yellow), the order traces list shapes in: one a reader can follow
// from the image, unlike the scene's own order.
func byPalette(s *Scene) []int {
	var out []int
	for _, c := range Colours {
		for i, sh := range s.Shapes {
			if sh.Colour == c {
				out = append(out, i)
			}
		}
	}
	return out
}
