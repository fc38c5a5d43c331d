package tasks

// Conversations for the three roles. A chat-template layer (package
// vision) turns []Message into tokens; this package knows no tokenizer.

// Message roles.
const (
	RoleUser      = "user"
	RoleAssistant = "assistant"
)

// Message is one turn. Image says the image goes at the start of this
// turn's content (the chat template inserts the image tokens there).
type Message struct {
	Role    string
	Content string
	Image   bool
	Context bool // given, not a training target (see vision.Message)
}

// The fixed prompts.
const (
	// AnswerInstruction follows the question in every solver turn.
	AnswerInstruction = "Answer with <answer>...</answer>."
	// ProposerPrompt is the proposer's whole user turn (after the image).
	ProposerPrompt = "Propose a question about this image."
	// SelfEvalPrompt is AdaPO's second-turn prompt, verbatim from the
	// spec (shared/papers/adapo.md).
	SelfEvalPrompt = "There might be an error in the solution, please evaluate the previous solution and provide a final answer."
	// DefaultWrongFirst is the default share of self-evaluation examples
	// whose first answer is wrong (fix-wrong); the rest keep a right one.
	DefaultWrongFirst = 0.3
)

// SolverUser is the solver's user turn for question: image, question,
// instruction.
func SolverUser(question string) Message {
	return Message{Role: RoleUser, Content: question + " " + AnswerInstruction, Image: true}
}

// ProposerUser is the proposer's user turn.
func ProposerUser() Message {
	return Message{Role: RoleUser, Content: ProposerPrompt, Image: true}
}

// SolverPrompt is the solver conversation up to the answer (for
// generation).
func (it *Item) SolverPrompt() []Message { return []Message{SolverUser(it.Question)} }

// Solver is the supervised solver example: the user turn and Target.
func (it *Item) Solver() []Message {
	target := it.Target
	if target == "" { // an Item built by hand
		target = it.Trace
	}
	return []Message{SolverUser(it.Question), {Role: RoleAssistant, Content: target}}
}

// Proposer is the supervised proposer example: the proposer prompt and
// "<question>Q</question>" with the item's question, one of the
// templates' valid questions for this image.
func (it *Item) Proposer() []Message {
	return []Message{ProposerUser(), {Role: RoleAssistant, Content: "<question>" + it.Question + "</question>"}}
}

// SelfEvalContext is the two-turn conversation up to the second answer:
// question, first (the turn-1 output, from a model or FirstAnswer), and
// AdaPO's self-evaluation prompt.
func (it *Item) SelfEvalContext(first string) []Message {
	return []Message{SolverUser(it.Question), {Role: RoleAssistant, Content: first, Context: true},
		{Role: RoleUser, Content: SelfEvalPrompt}}
}

// SelfEval is the supervised self-evaluation example after first: the
// second answer is always the exact trace, so a right first answer is
// kept and a wrong one is fixed.
func (it *Item) SelfEval(first string) []Message {
	return append(it.SelfEvalContext(first), Message{Role: RoleAssistant, Content: it.Trace})
}

// SelfEvalExample returns a supervised self-evaluation example whose first
// answer is wrong with probability wrongFirst (DefaultWrongFirst is the
// default mix), deterministically per item, and whether it is. A wrong
// first answer is context (no loss: the solver must not learn it); a right
// one is the exact trace and is trained like a solver example, so the
// self-evaluation share costs the solver no supervision.
func (it *Item) SelfEvalExample(wrongFirst float64) ([]Message, bool) {
	first, wrong := it.FirstAnswer(wrongFirst)
	msgs := it.SelfEval(first)
	msgs[1].Context = wrong
	return msgs, wrong
}

// FirstAnswer returns a stand-in turn-1 answer for the item, drawn
// deterministically from its key and index: with probability wrongFirst a
// wrong trace (see WrongTrace), else the exact trace. wrong reports which.
func (it *Item) FirstAnswer(wrongFirst float64) (first string, wrong bool) {
	r := newRNG(hashKey(it.Key, it.Index, 0x5e1f))
	if r.float() < wrongFirst {
		if t, ok := WrongTrace(it.Scene, it.Query, r.next()); ok {
			return t, true
		}
	}
	return it.Trace, false
}

// WrongTrace returns a plausible wrong trace for q over s: the exact trace
// of a scene with one reading error (a shape miscounted, a bar value
// misread by 1-2 or two values swapped, a digit read as a look-alike or
// another digit, shapes misplaced or swapped, a size or kind misjudged),
// with a different answer. The trace is internally consistent, so only
// reading the image again tells that it is wrong. Readings for which q
// stays a valid question (with its margins) are tried first, then any
// reading with another answer; ok is false when none was found.
func WrongTrace(s *Scene, q Query, seed uint64) (string, bool) {
	t, err := lookup(s, q)
	if err != nil {
		return "", false
	}
	right := t.answer(s, q)
	r := newRNG(hashKey(seed, 0x3b0f))
	for try := range 256 {
		p := s.clone()
		perturbs[s.Family](r, p, q)
		if (try >= 128 || t.valid(p, q)) && t.answer(p, q) != right {
			return traceOf(t, p, q), true
		}
	}
	return "", false
}
