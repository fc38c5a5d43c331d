package tokenizer

import (
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

func pieces(s string, splitDigits bool) []string {
	var out []string
	for i := 0; i < len(s); {
		j := nextPiece(s, i, splitDigits)
		out = append(out, s[i:j])
		i = j
	}
	return out
}

func TestPreTokenizeGolden(t *testing.T) {
	cases := []struct {
		in          string
		split, grop []string
	}{
		{"Hello world", []string{"Hello", " world"}, nil},
		{"Hello  world", []string{"Hello", " ", " world"}, nil},
		{"a\n\nb", []string{"a", "\n", "\n", "b"}, nil},
		{"end  ", []string{"end", "  "}, nil},
		{"don't", []string{"don", "'t"}, nil},
		{"I'M", []string{"I", "'", "M"}, nil},
		{"!'s", []string{"!'", "s"}, nil},
		{"in 2024, 3.5%", []string{"in", " 2", "0", "2", "4", ",", " 3", ".", "5", "%"},
			[]string{"in", " 2024", ",", " 3", ".", "5", "%"}},
		{"x?!  (y)", []string{"x", "?!", " ", " (", "y", ")"}, nil},
		{" \t x", []string{" \t", " x"}, nil},
		{"東京 数据", []string{"東京", " 数据"}, nil},
		{"e\u0301t\u00e9", []string{"e", "\u0301", "t\u00e9"}, nil},
		{"Ⅻ½", []string{"Ⅻ", "½"}, []string{"Ⅻ½"}},
		{"a\xffb", []string{"a", "\xff", "b"}, nil},
		{" \xff\xfe", []string{" \xff\xfe"}, nil},
	}
	for _, c := range cases {
		if got := pieces(c.in, true); !slices.Equal(got, c.split) {
			t.Errorf("split digits %q: got %q, want %q", c.in, got, c.split)
		}
		want := c.grop
		if want == nil {
			want = c.split
		}
		if got := pieces(c.in, false); !slices.Equal(got, want) {
			t.Errorf("group digits %q: got %q, want %q", c.in, got, want)
		}
	}
}

// whiteSpace is \s of HF's regex engine: the Unicode White_Space set (Go's
// \s is ASCII only).
const whiteSpace = `\t\n\v\f\r \x{85}\x{A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000}`

var (
	refHead = map[bool]*regexp.Regexp{
		true:  regexp.MustCompile(`^(?:'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}| ?[^` + whiteSpace + `\p{L}\p{N}]+)`),
		false: regexp.MustCompile(`^(?:'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^` + whiteSpace + `\p{L}\p{N}]+)`),
	}
	refSpace = regexp.MustCompile(`^[` + whiteSpace + `]+`)
)

// refPieces splits s as the HF pattern does, using Go's (backtracking-order)
// regexp for all alternatives but the look-ahead one, which it backtracks by
// hand.
func refPieces(s string, splitDigits bool) []string {
	var out []string
	for len(s) > 0 {
		n := 0
		if m := refHead[splitDigits].FindString(s); m != "" {
			n = len(m)
		} else {
			run := refSpace.FindString(s) // not empty: the head takes all else
			n = len(run)
			if n < len(s) { // \s+(?!\S): give back characters until a space follows
				for k := n; k > 0; {
					_, sz := utf8.DecodeLastRuneInString(run[:k])
					k -= sz
					if k > 0 && refSpace.MatchString(s[k:]) {
						n = k
						break
					}
				}
			}
		}
		out = append(out, s[:n])
		s = s[n:]
	}
	return out
}

func TestPreTokenizeMatchesPattern(t *testing.T) {
	inputs := append(slices.Clone(trickyStrings), syntheticCorpus(300, 7)...)
	inputs = append(inputs, strings.Join(syntheticCorpus(50, 8), " \u3000\n \t"))
	for _, s := range inputs {
		for _, split := range []bool{true, false} {
			got, want := pieces(s, split), refPieces(s, split)
			if !slices.Equal(got, want) {
				t.Errorf("split=%v %q:\n got %q\nwant %q", split, s, got, want)
			}
		}
	}
}

func FuzzPreTokenize(f *testing.F) {
	for _, s := range trickyStrings {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, split := range []bool{true, false} {
			got := pieces(s, split)
			if strings.Join(got, "") != s {
				t.Fatalf("pieces of %q do not concatenate back: %q", s, got)
			}
			if want := refPieces(s, split); !slices.Equal(got, want) {
				t.Fatalf("split=%v %q:\n got %q\nwant %q", split, s, got, want)
			}
		}
	})
}
