package tasks

import (
	"regexp"
	"strings"
)

// templateWord matches what varies between questions of one template:
// colours, shape kinds (singular or plural, "shape" included), chart labels
// and numbers.
var templateWord = func() *regexp.Regexp {
	var words []string
	for _, c := range Colours {
		words = append(words, string(c))
	}
	for _, k := range []Kind{Circle, Square, Triangle, Pentagon, Hexagon, "shape"} {
		words = append(words, string(k), k.plural())
	}
	words = append(words, chartLabels...)
	return regexp.MustCompile(`\b(` + strings.Join(words, "|") + `|\d+)\b`)
}()

// Template is a question with its colours, shape kinds, chart labels and
// numbers replaced by "_": the question template, for accuracy broken down
// finer than the family ("Is the _ _ left or right of the _ _?").
func Template(question string) string {
	return templateWord.ReplaceAllString(question, "_")
}
