package tokenizer

import (
	"unicode"
	"unicode/utf8"
)

// Character classes of the pre-tokenizer: \s, \p{L}, \p{N}, and everything
// else. Bytes that are not valid UTF-8 are "other", like punctuation, so any
// byte string splits and the pieces always concatenate back to the input.
type charClass uint8

const (
	classOther charClass = iota
	classSpace
	classLetter
	classNumber
)

var asciiClass [utf8.RuneSelf]charClass

func init() {
	for c := 0; c < utf8.RuneSelf; c++ {
		asciiClass[c] = classOfRune(rune(c))
	}
}

func classOfRune(r rune) charClass {
	switch {
	case unicode.IsSpace(r): // the Unicode White_Space set, as \s in HF's regex engine
		return classSpace
	case unicode.IsLetter(r):
		return classLetter
	case unicode.IsNumber(r):
		return classNumber
	}
	return classOther
}

// classAt returns the class of the character starting at s[i] and its length
// in bytes; an invalid byte is one "other" character of length 1.
func classAt(s string, i int) (charClass, int) {
	if c := s[i]; c < utf8.RuneSelf {
		return asciiClass[c], 1
	}
	r, n := utf8.DecodeRuneInString(s[i:])
	if r == utf8.RuneError && n == 1 {
		return classOther, 1
	}
	return classOfRune(r), n
}

// runEnd returns the end of the run of characters of class c that starts at i.
func runEnd(s string, i int, c charClass) int {
	for i < len(s) {
		ci, n := classAt(s, i)
		if ci != c {
			break
		}
		i += n
	}
	return i
}

// contractions are the GPT-2 contraction suffixes, matched case-sensitively.
var contractions = [...]string{"s", "t", "re", "ve", "m", "ll", "d"}

// nextPiece returns the end of the pre-token that starts at s[i], i < len(s).
// It does what the leftmost-first pattern in the package documentation does
// at i; with splitDigits the number alternative takes one digit.
func nextPiece(s string, i int, splitDigits bool) int {
	if s[i] == '\'' {
		rest := s[i+1:]
		for _, c := range contractions {
			if len(rest) >= len(c) && rest[:len(c)] == c {
				return i + 1 + len(c)
			}
		}
	}
	start := i // start of the letter, number or other run
	if s[i] == ' ' && i+1 < len(s) {
		start = i + 1
	}
	c, n := classAt(s, start)
	if start > i && c == classSpace {
		// " " before a space or the end: not an optional-space prefix.
		start = i
		c, n = classSpace, 1
	}
	switch c {
	case classLetter, classOther:
		return runEnd(s, start+n, c)
	case classNumber:
		if splitDigits {
			return start + n
		}
		return runEnd(s, start+n, c)
	}
	// Whitespace: \s+(?!\S) takes the whole run if it ends the text, else the
	// run less its last character if that leaves any; \s+ takes a run of one.
	end := runEnd(s, i, classSpace)
	if end == len(s) {
		return end
	}
	_, last := utf8.DecodeLastRuneInString(s[:end]) // whitespace is valid UTF-8
	if end-last > i {
		return end - last
	}
	return end
}
