package vision

import (
	"fmt"

	"github.com/kiln-ml/kiln/vision/tokenizer"
)

// Message is one turn of a conversation. Image marks the user turn that
// shows the image (its placeholders come first in that turn).
type Message struct {
	Role    string // "system", "user" or "assistant"
	Content string
	Image   bool
	// Context marks an assistant turn that is given, not learned: Encode
	// puts no loss on it (a stand-in first answer before a self-evaluation,
	// which is wrong on purpose and must not become what the solver says).
	Context bool
}

// Chat renders conversations with kiln's template:
//
//	<|system|>...<|end|><|user|><|image|>xN ...<|end|><|assistant|>...<|end|>
//
// with any number of user/assistant turns (AdaPO's second user turn
// included). Training targets are the assistant turns' content and their
// <|end|>; everything else is IgnoreIndex.
type Chat struct {
	Tok                              *tokenizer.Tokenizer
	ImageTokens                      int
	pad, end, image, sys, user, asst int
}

// NewChat binds a tokenizer (which must have the default specials) to a
// model's image-token count.
func NewChat(tok *tokenizer.Tokenizer, imageTokens int) (*Chat, error) {
	c := &Chat{Tok: tok, ImageTokens: imageTokens}
	for _, s := range []struct {
		name string
		id   *int
	}{{tokenizer.Pad, &c.pad}, {tokenizer.End, &c.end}, {tokenizer.Image, &c.image}, {tokenizer.System, &c.sys}, {tokenizer.User, &c.user}, {tokenizer.Assistant, &c.asst}} {
		id, ok := tok.SpecialID(s.name)
		if !ok {
			return nil, fmt.Errorf("tokenizer has no special token %s", s.name)
		}
		*s.id = id
	}
	return c, nil
}

// EndID is the end-of-turn token (the stop token of generation); ImageID
// the image placeholder; PadID the padding token.
func (c *Chat) EndID() int   { return c.end }
func (c *Chat) ImageID() int { return c.image }
func (c *Chat) PadID() int   { return c.pad }

func (c *Chat) roleID(role string) int {
	switch role {
	case "system":
		return c.sys
	case "user":
		return c.user
	case "assistant":
		return c.asst
	}
	panic(fmt.Sprintf("vision.Chat: unknown role %q", role))
}

// Encode returns the token ids of a whole conversation and the next-token
// targets (same length; targets[i] is the label for predicting ids[i+1]).
func (c *Chat) Encode(msgs []Message) (ids, targets []int) {
	var train []bool
	for _, m := range msgs {
		ids = append(ids, c.roleID(m.Role))
		train = append(train, false)
		if m.Image {
			for range c.ImageTokens {
				ids = append(ids, c.image)
				train = append(train, false)
			}
		}
		body := append(c.Tok.EncodeOrdinary(m.Content), c.end)
		ids = append(ids, body...)
		for range body {
			train = append(train, m.Role == "assistant" && !m.Context)
		}
	}
	targets = make([]int, len(ids))
	for i := range ids {
		targets[i] = IgnoreIndex
		if i+1 < len(ids) && train[i+1] {
			targets[i] = ids[i+1]
		}
	}
	return ids, targets
}

// Prompt returns the ids of msgs followed by an open assistant turn: what
// generation continues from (stop at EndID).
func (c *Chat) Prompt(msgs []Message) []int {
	ids, _ := c.Encode(msgs)
	return append(ids, c.asst)
}

// Decode returns the text of generated ids without special tokens (a
// model's answer never contains turn markers as text).
func (c *Chat) Decode(ids []int) string {
	plain := make([]int, 0, len(ids))
	for _, id := range ids {
		if !c.Tok.IsSpecial(id) {
			plain = append(plain, id)
		}
	}
	s, err := c.Tok.Decode(plain)
	if err != nil {
		return ""
	}
	return s
}

// Continue returns the ids of a conversation continued at the token level:
// prompt (ending in an open assistant turn), the model's completion (closed
// with <|end|> if it was cut off), the further msgs, and a new open
// assistant turn. Multi-turn rollouts use it so each turn's tokens are the
// ones the model produced, not a re-tokenisation of their text.
func (c *Chat) Continue(prompt, completion []int, msgs []Message) []int {
	ids := append(append([]int{}, prompt...), completion...)
	if n := len(completion); n == 0 || completion[n-1] != c.end {
		ids = append(ids, c.end)
	}
	more, _ := c.Encode(msgs)
	return append(append(ids, more...), c.asst)
}

// Collate left-pads encoded conversations into a Batch (pad id, Pad mask,
// targets IgnoreIndex on padding).
func (c *Chat) Collate(ids, targets [][]int) *Batch {
	B, T := len(ids), 0
	for _, s := range ids {
		T = max(T, len(s))
	}
	b := &Batch{B: B, T: T, IDs: make([]int, B*T), Pad: make([]bool, B*T), Targets: make([]int, B*T)}
	for i, s := range ids {
		off := T - len(s)
		for t := 0; t < T; t++ {
			j := i*T + t
			if t < off {
				b.IDs[j], b.Pad[j], b.Targets[j] = c.pad, true, IgnoreIndex
				continue
			}
			b.IDs[j] = s[t-off]
			if targets != nil {
				b.Targets[j] = targets[i][t-off]
			} else {
				b.Targets[j] = IgnoreIndex
			}
		}
	}
	return b
}
