package tasks

import "testing"

func TestTemplate(t *testing.T) {
	for q, want := range map[string]string{
		"Is the blue square left or right of the green circle? Answer with <answer>...</answer>.": "Is the _ _ left or right of the _ _? Answer with <answer>...</answer>.",
		"How many red triangles are there?":            "How many _ _ are there?",
		"How many shapes are there?":                   "How many _ are there?",
		"What is the sum of D and F?":                  "What is the sum of _ and _?",
		"Which label has the highest value?":           "Which label has the highest value?",
		"How many sides does the yellow hexagon have?": "How many sides does the _ _ have?",
		"What colour is the biggest shape?":            "What colour is the biggest _?",
		"What is the value of A?":                      "What is the value of _?",
	} {
		if got := Template(q); got != want {
			t.Errorf("Template(%q) = %q, want %q", q, got, want)
		}
	}
	// Every family's questions fall into a handful of templates, and two
	// questions that differ only in what the scene holds share one.
	s, err := NewStream(DefaultConfig(), Validation, 1)
	if err != nil {
		t.Fatal(err)
	}
	per := map[Family]map[string]bool{}
	for i := uint64(0); i < 2000; i++ {
		it := s.Item(i)
		if per[it.Family] == nil {
			per[it.Family] = map[string]bool{}
		}
		per[it.Family][Template(it.Question)] = true
	}
	for f, ts := range per {
		if len(ts) < 2 || len(ts) > 12 {
			t.Errorf("%s: %d templates in 2000 items: %v", f, len(ts), ts)
		}
	}
}
