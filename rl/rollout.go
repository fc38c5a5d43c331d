package rl

import (
	"github.com/kiln-ml/kiln/tensor"
	"github.com/kiln-ml/kiln/vision"
	"github.com/kiln-ml/kiln/vision/policy"
	"github.com/kiln-ml/kiln/vision/tasks"
	"github.com/kiln-ml/kiln/vision/train"
)

// Episode is one two-turn trajectory: the answer y1, then, after the fixed
// self-evaluation prompt, the answer y2.
type Episode struct {
	Question int   // index of the question (and its image) in the step
	Prompt   []int // turn-1 prompt: image, question, open assistant turn
	Y1, Y2   []int // sampled turns (each ends with <|end|> when it stopped)
	// LP1 and LP2 are the sampling-time (temperature-1) log-probs of Y1, Y2.
	LP1, LP2 []float32
	// Ctx is what stands between Y1 and Y2: <|end|> if Y1 ran out of
	// budget, then the user turn with tasks.SelfEvalPrompt and the open
	// assistant turn. It is context, not trained.
	Ctx          []int
	Text1, Text2 string
	C1, C2       bool // turn-1 and turn-2 answers right
}

// Type returns the trajectory type index: 0 for 1->1, 1 for 0->1, 2 for
// 1->0, 3 for 0->0 (the order of TypeNames).
func (e *Episode) Type() int { return typeIndex(e.C1, e.C2) }

// TypeNames names the trajectory types in the order of Episode.Type.
var TypeNames = []string{"1->1", "0->1", "1->0", "0->0"}

func typeIndex(c1, c2 bool) int {
	switch {
	case c1 && c2:
		return 0
	case !c1 && c2:
		return 1
	case c1 && !c2:
		return 2
	}
	return 3
}

// Scorer says whether an output answers an item rightly.
type Scorer func(out string, it train.Item) bool

// ExactAnswer is the default Scorer: exact match with the generator's
// answer after the shared normaliser.
func ExactAnswer(out string, it train.Item) bool { return tasks.Correct(out, it.Answer) }

// selfEvalTurn is the token suffix that opens turn 2: the user turn with
// AdaPO's prompt, then the assistant tag. Chat.Encode of the whole
// conversation gives exactly prompt + y1 + this.
func selfEvalTurn(chat *vision.Chat) []int {
	return chat.Prompt([]vision.Message{{Role: tasks.RoleUser, Content: tasks.SelfEvalPrompt}})
}

// Rollouts samples g two-turn episodes for each item: turn 1 from the
// solver prompt, turn 2 after the sampled y1 and the self-evaluation prompt.
// images [Q,3,H,W] holds the items' images. Both turns are scored by
// correct, nil meaning the task generator's exact answers (tasks.Correct).
func Rollouts(m *vision.VLM, chat *vision.Chat, items []train.Item, images *tensor.Tensor, g int, o vision.SampleOpts, correct Scorer) []Episode {
	if correct == nil {
		correct = ExactAnswer
	}
	o.Stop = []int{chat.EndID()}
	n := len(items) * g
	eps := make([]Episode, n)
	idx := make([]int, n)
	prompts := make([][]int, n)
	for q, it := range items {
		p := chat.Prompt(it.Prompt)
		for k := 0; k < g; k++ {
			i := q*g + k
			idx[i] = q
			eps[i].Question, eps[i].Prompt = q, p
			prompts[i] = p
		}
	}
	img := images.IndexSelect(0, idx)
	suffix := selfEvalTurn(chat)
	bad := structural(chat)
	for i, s := range m.Generate(img, prompts, o) {
		s = truncate(s, bad)
		e := &eps[i]
		e.Y1, e.LP1 = s.Tokens, s.LogProbs
		if !s.Stopped {
			e.Ctx = append(e.Ctx, chat.EndID())
		}
		e.Ctx = append(e.Ctx, suffix...)
		e.Text1 = chat.Decode(e.Y1)
		e.C1 = correct(e.Text1, items[e.Question])
		prompts[i] = concat(e.Prompt, e.Y1, e.Ctx)
	}
	for i, s := range m.Generate(img, prompts, o) {
		s = truncate(s, bad)
		e := &eps[i]
		e.Y2, e.LP2 = s.Tokens, s.LogProbs
		e.Text2 = chat.Decode(e.Y2)
		e.C2 = correct(e.Text2, items[e.Question])
	}
	return eps
}

// structural returns the special tokens other than <|end|> (image
// placeholder, pad, role tags): sampled inside an answer they would change
// the conversation's structure (an extra image placeholder breaks the
// image-token count).
func structural(chat *vision.Chat) map[int]bool {
	bad := map[int]bool{}
	for _, s := range chat.Tok.Specials() {
		if id, ok := chat.Tok.SpecialID(s); ok && id != chat.EndID() {
			bad[id] = true
		}
	}
	return bad
}

// truncate cuts a sample before its first structural token; the kept
// prefix is still a sample of the policy, now one that ran out of budget.
func truncate(s vision.Sample, bad map[int]bool) vision.Sample {
	for k, t := range s.Tokens {
		if bad[t] {
			return vision.Sample{Tokens: s.Tokens[:k], LogProbs: s.LogProbs[:k]}
		}
	}
	return s
}

func concat(parts ...[]int) []int {
	var out []int
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// BuildBatch lays episodes out as one training batch (prompt, y1, context,
// y2 in one sequence) and returns it with the sampling-time log-probs and
// the loss weights: y1 and y2 positions are masked in, each episode's
// advantage on both turns, beta1 on y1 and beta2 on y2. images [Q,...] are
// the step's question images.
func BuildBatch(eps []Episode, images *tensor.Tensor, padID int, adv, beta1, beta2 []float64) (*policy.Batch, *tensor.Tensor, Weights) {
	rolls := make([]policy.Rollout, len(eps))
	for i, e := range eps {
		lps := make([]float32, 0, len(e.Y1)+len(e.Ctx)+len(e.Y2))
		lps = append(lps, e.LP1...)
		lps = append(lps, make([]float32, len(e.Ctx))...)
		lps = append(lps, e.LP2...)
		rolls[i] = policy.Rollout{Prompt: e.Prompt, Completion: concat(e.Y1, e.Ctx, e.Y2), OldLogProbs: lps, Image: e.Question}
	}
	b := policy.NewBatch(rolls, images, padID)
	old := policy.OldLogProbs(rolls, b)
	n := b.B * b.T
	w := Weights{Mask: make([]float32, n), Adv: make([]float32, n), Beta: make([]float32, n), Turn: make([]int8, n)}
	for i, e := range eps {
		off := b.T - len(e.Prompt) - len(rolls[i].Completion)
		for k := range rolls[i].Completion {
			var turn int8
			var beta float64
			switch {
			case k < len(e.Y1):
				turn, beta = 1, beta1[i]
			case k >= len(e.Y1)+len(e.Ctx):
				turn, beta = 2, beta2[i]
			default:
				continue
			}
			j := i*b.T + off + len(e.Prompt) + k - 1
			w.Mask[j], w.Turn[j] = 1, turn
			w.Adv[j], w.Beta[j] = float32(adv[i]), float32(beta)
		}
	}
	b.Mask = w.Mask
	return b, old, w
}
