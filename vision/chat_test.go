package vision

import (
	"slices"
	"testing"

	"github.com/kiln-ml/kiln/vision/tokenizer"
)

func testTokenizer(t *testing.T) *tokenizer.Tokenizer {
	corpus := []string{"How many red circles? <answer>3</answer>", "I see 3 red circles.", "Look again. Is it right?"}
	tok, err := tokenizer.Train(slices.Values(corpus), tokenizer.TrainConfig{VocabSize: 300})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestChatTemplate(t *testing.T) {
	tok := testTokenizer(t)
	c, err := NewChat(tok, 4)
	if err != nil {
		t.Fatal(err)
	}
	msgs := []Message{
		{Role: "system", Content: "sys"},
		{Role: "user", Content: "How many?", Image: true},
		{Role: "assistant", Content: "<answer>3</answer>"},
		{Role: "user", Content: "Look again."},
		{Role: "assistant", Content: "<answer>3</answer>"},
	}
	ids, targets := c.Encode(msgs)
	if len(ids) != len(targets) {
		t.Fatal("length mismatch")
	}
	n := 0
	for _, id := range ids {
		if id == c.ImageID() {
			n++
		}
	}
	if n != 4 {
		t.Errorf("%d image placeholders, want 4", n)
	}
	// The trained tokens are exactly the two assistant bodies and their ends.
	var trained []int
	for i, y := range targets {
		if y != IgnoreIndex {
			if y != ids[i+1] {
				t.Fatalf("target %d is not the next token", i)
			}
			trained = append(trained, y)
		}
	}
	body := append(tok.EncodeOrdinary("<answer>3</answer>"), c.EndID())
	if want := append(append([]int{}, body...), body...); !slices.Equal(trained, want) {
		t.Errorf("trained tokens %v, want %v", trained, want)
	}
	// A given (Context) assistant turn is not trained: only the last body is.
	ctx := slices.Clone(msgs)
	ctx[2].Content, ctx[2].Context = "<answer>4</answer>", true
	cids, ctargets := c.Encode(ctx)
	trained = trained[:0]
	for _, y := range ctargets {
		if y != IgnoreIndex {
			trained = append(trained, y)
		}
	}
	if !slices.Equal(trained, body) || len(cids) != len(ids) {
		t.Errorf("with a context turn, trained tokens %v, want %v", trained, body)
	}
	// The prompt stops at an open assistant turn; decoding drops the end.
	p := c.Prompt(msgs[:2])
	if p[len(p)-1] != c.roleID("assistant") {
		t.Error("prompt does not end with an assistant marker")
	}
	if got := c.Decode(body); got != "<answer>3</answer>" {
		t.Errorf("decode %q", got)
	}
	b := c.Collate([][]int{ids, ids[:5]}, [][]int{targets, targets[:5]})
	if b.T != len(ids) || !b.Pad[len(ids)] || b.Pad[2*len(ids)-1] {
		t.Error("collate padding")
	}
}
