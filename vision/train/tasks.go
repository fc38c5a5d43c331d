package train

import (
	"fmt"
	"iter"

	"github.com/kiln-ml/kiln/vision"
	"github.com/kiln-ml/kiln/vision/tasks"
	"github.com/kiln-ml/kiln/vision/tokenizer"
)

// Mix is the share of each conversation role in training data: the
// research packages need the solver, proposer and self-evaluation roles from
// step 0. Shares are normalised; all zero means solver only.
type Mix struct {
	Solver, Proposer, SelfEval float64
	WrongFirst                 float64 // share of self-evaluation examples whose first answer is wrong
}

// DefaultMix trains mostly the solver, with enough proposer and
// self-evaluation examples for EvoLMM and AdaPO to start from.
var DefaultMix = Mix{Solver: 0.7, Proposer: 0.15, SelfEval: 0.15, WrongFirst: tasks.DefaultWrongFirst}

// TaskStream adapts a task generator stream to training items.
type TaskStream struct {
	S   *tasks.Stream
	Mix Mix
}

func toMessages(ms []tasks.Message) []vision.Message {
	out := make([]vision.Message, len(ms))
	for i, m := range ms {
		out[i] = vision.Message{Role: m.Role, Content: m.Content, Image: m.Image, Context: m.Context}
	}
	return out
}

// Item returns item i: its role is drawn from the mix by a hash of i, so a
// stream is the same on every run.
func (d TaskStream) Item(i int) Item {
	it := d.S.Item(uint64(i))
	out := Item{Image: it.Image, Family: string(it.Family), Prompt: toMessages(it.SolverPrompt()), Answer: it.Answer, Task: it}
	m := d.Mix
	total := m.Solver + m.Proposer + m.SelfEval
	u := float64(splitmix(uint64(i))>>11) / (1 << 53)
	switch {
	case total == 0 || u < m.Solver/total:
		out.Conversation = toMessages(it.Solver())
	case u < (m.Solver+m.Proposer)/total:
		out.Conversation = toMessages(it.Proposer())
	default:
		conv, _ := it.SelfEvalExample(m.WrongFirst)
		out.Conversation = toMessages(conv)
	}
	return out
}

func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// TaskScorer scores outputs with the tasks package's shared extractor and
// normaliser.
type TaskScorer struct{}

func (TaskScorer) Extract(out string) string { return tasks.ExtractAnswer(out) }
func (TaskScorer) Normalize(s string) string { return tasks.Normalize(s) }

// Corpus yields the texts a tokenizer for the task world is trained on:
// every role's turns for n training items.
func Corpus(s *tasks.Stream, n int) iter.Seq[string] {
	return func(yield func(string) bool) {
		for i := 0; i < n; i++ {
			it := s.Item(uint64(i))
			conv, _ := it.SelfEvalExample(0.5)
			for _, ms := range [][]tasks.Message{it.Solver(), it.Proposer(), conv} {
				for _, m := range ms {
					if !yield(m.Content) {
						return
					}
				}
			}
		}
	}
}

// NewTokenizer trains the task world's tokenizer (deterministic).
func NewTokenizer(s *tasks.Stream, vocab int) (*tokenizer.Tokenizer, error) {
	tok, err := tokenizer.Train(Corpus(s, 4000), tokenizer.TrainConfig{VocabSize: vocab})
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	return tok, nil
}
