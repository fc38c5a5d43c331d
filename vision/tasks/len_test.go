package tasks

import "testing"

// TestLengths bounds the text of every role's conversation, so that it
// fits the LM's context next to the image tokens: at most 80 bytes of
// question and 110 of trace, 400 bytes for a whole self-evaluation
// exchange (BPE tokens are fewer than bytes; about 100 tokens).
func TestLengths(t *testing.T) {
	st := mustStream(t, DefaultConfig(), Validation, 8)
	var maxQ, maxT, maxS int
	for i := range uint64(3000) {
		it := st.Item(i)
		maxQ, maxT = max(maxQ, len(it.Question)), max(maxT, len(it.Trace))
		msgs, _ := it.SelfEvalExample(1)
		n := 0
		for _, m := range msgs {
			n += len(m.Content)
		}
		maxS = max(maxS, n)
	}
	t.Logf("longest question %d bytes, trace %d, self-evaluation exchange %d", maxQ, maxT, maxS)
	if maxQ > 80 || maxT > 110 || maxS > 400 {
		t.Errorf("too long: question %d, trace %d, exchange %d bytes", maxQ, maxT, maxS)
	}
}
