package tokenizer

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
)

// syntheticCorpus returns n deterministic lines of chart-question-like text:
// English words, numbers, punctuation, some accented, CJK and emoji words,
// newlines and tabs.
func syntheticCorpus(n int, seed uint64) []string {
	r := rand.New(rand.NewPCG(seed, 1))
	words := strings.Fields(`the a of and to in is was what which how many value chart bar line
		plot axis year total sales revenue growth percent highest lowest between compared
		answer question image shows there are it its they don't can't we'll I'm you're
		country city population temperature average median sum difference ratio color red blue
		green label legend title café naïve über Zürich 東京 数据 图表 年 🙂 📈 ñandú`)
	punct := []string{".", ",", "?", "!", ":", ";", "%", "(", ")", "...", " -", "'s", "\""}
	var lines []string
	for range n {
		var b strings.Builder
		k := 3 + r.IntN(12)
		for j := range k {
			if j > 0 {
				b.WriteByte(' ')
			}
			switch x := r.IntN(10); {
			case x < 7:
				b.WriteString(words[r.IntN(len(words))])
			case x < 9:
				fmt.Fprintf(&b, "%d", r.IntN(3000))
				if r.IntN(3) == 0 {
					fmt.Fprintf(&b, ".%d", r.IntN(100))
				}
			default:
				b.WriteString(punct[r.IntN(len(punct))])
			}
		}
		switch r.IntN(8) {
		case 0:
			b.WriteString("\n\n")
		case 1:
			b.WriteString("\t")
		case 2:
			b.WriteString("  ")
		}
		lines = append(lines, b.String())
	}
	return lines
}

var (
	testTokOnce sync.Once
	testTok     *Tokenizer
	testTokErr  error
)

// sharedTokenizer returns a tokenizer trained once per test binary.
func sharedTokenizer(t testing.TB) *Tokenizer {
	t.Helper()
	testTokOnce.Do(func() {
		testTok, testTokErr = Train(slices.Values(syntheticCorpus(2000, 1)), TrainConfig{VocabSize: 700})
	})
	if testTokErr != nil {
		t.Fatal(testTokErr)
	}
	return testTok
}

// trickyStrings are round-trip cases.
var trickyStrings = []string{
	"",
	" ",
	"  ",
	"\n",
	"\t",
	"\r\n",
	"hello",
	" hello",
	"hello ",
	"  leading and trailing  ",
	"multiple   spaces\tand\ttabs\n\nand newlines\n",
	"The chart's highest value was 42.5% in 2019.",
	"don't can't we'll I'm you're they've he'd",
	"'s's 'S 'll'",
	"emoji 🙂📈🏳️‍🌈 👩🏽‍💻 and flags 🇫🇷",
	"CJK 東京の数据图表 한국어",
	"combining: e\u0301 a\u0300\u0323 Z\u0351\u0352",
	"zero\u200bwidth and nbsp\u00a0here and ideographic\u3000space",
	"Ä ö ü ß ﬁ Ⅻ ½ ²",
	"<|image|>",
	"<|user|>What is the value?<|end|><|assistant|>42<|end|>",
	"text <|image|> more <|image|><|image|> end",
	"<|imag <|image <|image|",
	"<|end|><|pad|><|pad|>",
	"1234567890",
	" 1 22 333",
	"\x00\x01\x7f",
	"\u0085\u2028\u2029",
	"\ufeffBOM",
	strings.Repeat("a", 500),
	strings.Repeat(" ", 300) + "x",
	strings.Repeat("!?", 200),
	"<answer>12</answer>",
}
