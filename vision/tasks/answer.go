package tasks

import (
	"strings"
	"unicode"
)

// Unknown is the answer extracted from an output with no answer at all.
const Unknown = "unknown"

// FallbackQuestion is the question used when a proposer's output is empty.
const FallbackQuestion = "How many shapes are there?"

// ExtractAnswer returns the answer in a model output: the text inside the
// last <answer>...</answer> (an unclosed last <answer> runs to the end of
// the output, as when generation hit its length limit), else the last
// non-empty line, else Unknown. An empty tag gives Unknown.
func ExtractAnswer(out string) string {
	if i := strings.LastIndex(out, "<answer>"); i >= 0 {
		a := out[i+len("<answer>"):]
		if j := strings.Index(a, "</answer>"); j >= 0 {
			a = a[:j]
		}
		if a = strings.TrimSpace(a); a != "" {
			return a
		}
		return Unknown
	}
	lines := strings.Split(out, "\n")
	for k := len(lines) - 1; k >= 0; k-- {
		if l := strings.TrimSpace(lines[k]); l != "" {
			return l
		}
	}
	return Unknown
}

// ExtractQuestion returns the question in a proposer output: the text
// inside the first <question>...</question>, else the whole output, else
// FallbackQuestion. tagged reports whether a non-empty tag was found (an
// untagged output is malformed).
func ExtractQuestion(out string) (q string, tagged bool) {
	if i := strings.Index(out, "<question>"); i >= 0 {
		a := out[i+len("<question>"):]
		if j := strings.Index(a, "</question>"); j >= 0 {
			a = a[:j]
		}
		if a = strings.TrimSpace(a); a != "" {
			return a, true
		}
	}
	if q = strings.TrimSpace(out); q != "" {
		return q, false
	}
	return FallbackQuestion, false
}

// Normalize is the one answer normaliser all evaluation shares (the
// EvoLMM spec): trim, lowercase, drop commas, collapse whitespace, strip
// leading and trailing punctuation and symbols; then a number is written
// canonically ("03" -> "3", "3.0" -> "3", "2.50" -> "2.5", "+4" -> "4",
// "-0" -> "0"). Unlike a blind strip, a sign or decimal point directly
// before a digit is kept ("-3" stays "-3", ".5" becomes "0.5").
func Normalize(s string) string {
	s = strings.ToLower(strings.ReplaceAll(s, ",", ""))
	s = strings.Join(strings.Fields(s), " ")
	for {
		t := strings.TrimRightFunc(s, isPunct)
		rs := []rune(t)
		k := 0
		for k < len(rs) && isPunct(rs[k]) {
			if (rs[k] == '-' || rs[k] == '+' || rs[k] == '.') && k+1 < len(rs) && unicode.IsDigit(rs[k+1]) {
				break
			}
			k++
		}
		t = strings.TrimSpace(string(rs[k:]))
		if t == s {
			break
		}
		s = t
	}
	if n, ok := canonicalNumber(s); ok {
		return n
	}
	return s
}

func isPunct(r rune) bool { return unicode.IsPunct(r) || unicode.IsSymbol(r) }

// canonicalNumber rewrites [+-]digits[.digits] without redundant zeros.
func canonicalNumber(s string) (string, bool) {
	sign := ""
	if s != "" && (s[0] == '+' || s[0] == '-') {
		if s[0] == '-' {
			sign = "-"
		}
		s = s[1:]
	}
	whole, frac, dot := strings.Cut(s, ".")
	if whole == "" && frac == "" || !allDigits(whole) || !allDigits(frac) || dot && frac == "" && whole == "" {
		return "", false
	}
	whole = strings.TrimLeft(whole, "0")
	if whole == "" {
		whole = "0"
	}
	frac = strings.TrimRight(frac, "0")
	out := whole
	if frac != "" {
		out += "." + frac
	}
	if out == "0" {
		sign = ""
	}
	return sign + out, true
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// Correct says whether a model output's extracted answer equals truth
// after normalisation.
func Correct(out, truth string) bool { return Normalize(ExtractAnswer(out)) == Normalize(truth) }
