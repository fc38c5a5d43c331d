package vision

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"

	"github.com/kiln-ml/kiln/kernels"
	"github.com/kiln-ml/kiln/tensor"
)

// SampleOpts controls Generate.
type SampleOpts struct {
	MaxNew      int     // token budget per sequence
	Temperature float32 // 0 = greedy
	TopK        int     // keep the K most likely tokens (0 = all)
	TopP        float32 // keep the smallest set with mass >= TopP (0 or 1 = all)
	Stop        []int   // tokens that end a sequence (kept in its output)
	RNG         *rand.Rand
	// NoCache recomputes the whole sequence at every step (slow; it exists
	// to test the KV cache against).
	NoCache bool
	// Arena, if set, recycles each decoding step's buffers (tensor.Arena):
	// the same tokens and log-probabilities, less time in the allocator.
	// The arena is process-wide while a step runs, so set it only where
	// nothing else works on tensors concurrently (kiln's own loops do).
	Arena *tensor.Arena
}

// Sample is one generated continuation.
type Sample struct {
	Tokens []int
	// LogProbs[i] is log p(Tokens[i]) under the model's full distribution
	// at temperature 1, before top-k/top-p: the policy's log-probability
	// that RL losses and KL estimates use.
	LogProbs []float32
	Stopped  bool // ended on a stop token, not the budget
}

// Generate continues each prompt (token ids that contain the image
// placeholders when images [B,3,H,W] is given) and returns one Sample per
// prompt. Prompts are left-padded; the KV cache keeps per-sequence
// positions. It records no graph.
func (m *VLM) Generate(images *tensor.Tensor, prompts [][]int, o SampleOpts) []Sample {
	B := len(prompts)
	if o.MaxNew < 1 || B == 0 {
		return make([]Sample, B)
	}
	if o.Temperature > 0 && o.RNG == nil {
		panic("vision.VLM.Generate: sampling needs an RNG")
	}
	t0 := 0
	for i, p := range prompts {
		if len(p) == 0 {
			panic(fmt.Sprintf("vision.VLM.Generate: prompt %d is empty", i))
		}
		t0 = max(t0, len(p))
	}
	if t0+o.MaxNew > m.Cfg.MaxSeq {
		panic(fmt.Sprintf("vision.VLM.Generate: prompt %d + budget %d exceed max_seq %d", t0, o.MaxNew, m.Cfg.MaxSeq))
	}
	b := &Batch{B: B, T: t0, IDs: make([]int, B*t0), Pad: make([]bool, B*t0), Images: images}
	for i, p := range prompts {
		off := t0 - len(p)
		for t := 0; t < off; t++ {
			b.Pad[i*t0+t] = true
		}
		copy(b.IDs[i*t0+off:], p)
	}
	stop := map[int]bool{}
	for _, s := range o.Stop {
		stop[s] = true
	}
	out := make([]Sample, B)
	done := make([]bool, B)
	V := m.Cfg.Vocab
	scratch := newSampler(V)
	tensor.NoGrad(func() {
		var cache *Cache
		pos := b.positions(nil)
		if !o.NoCache {
			cache = m.NewCache(B, t0+o.MaxNew) // outside the arena: it lives across steps
		}
		// last holds the newest position's logits [B*V], copied out of the
		// step that made them (whose buffers an arena recycles).
		last := make([]float32, 0, B*V)
		o.Arena.Do(func() {
			var logits *tensor.Tensor
			if o.NoCache {
				logits = m.Forward(b)
			} else {
				logits = m.LM.Forward(m.Embed(b), pos, b.Pad, cache)
			}
			last = append(last[:0], hostData(logits.Narrow(1, logits.Dim(1)-1, 1))...)
		})
		pad := append([]bool(nil), b.Pad...) // grows with the sequence
		next := make([]int, B)
		nextPos := make([]int, B)
		for i := range nextPos {
			nextPos[i] = pos[i*t0+t0-1] + 1
		}
		for step := 0; step < o.MaxNew; step++ {
			alive := false
			for i := 0; i < B; i++ {
				if done[i] {
					next[i] = b.IDs[i*b.T+b.T-1]
					continue
				}
				row := last[i*V : (i+1)*V]
				tok, lp := scratch.pick(row, o)
				out[i].Tokens = append(out[i].Tokens, tok)
				out[i].LogProbs = append(out[i].LogProbs, lp)
				next[i] = tok
				if stop[tok] {
					done[i], out[i].Stopped = true, true
				} else {
					alive = true
				}
			}
			if !alive || step == o.MaxNew-1 {
				break
			}
			// Extend the batch by one token per sequence.
			L := b.T + 1
			ids := make([]int, B*L)
			np := make([]bool, B*L)
			for i := 0; i < B; i++ {
				copy(ids[i*L:], b.IDs[i*b.T:(i+1)*b.T])
				copy(np[i*L:], pad[i*b.T:(i+1)*b.T])
				ids[i*L+b.T] = next[i]
			}
			b = &Batch{B: B, T: L, IDs: ids, Pad: np, Images: images}
			pad = np
			if o.NoCache {
				o.Arena.Do(func() {
					last = append(last[:0], hostData(m.Forward(b).Narrow(1, L-1, 1))...)
				})
				continue
			}
			o.Arena.Do(func() {
				x := m.LM.Embed.Forward(next, B, 1)
				last = append(last[:0], hostData(m.LM.Forward(x, append([]int(nil), nextPos...), np, cache))...)
			})
			for i := range nextPos {
				nextPos[i]++
			}
		}
	})
	return out
}

// hostData returns t's elements for the host's sampler: a view of its
// storage on the CPU, a download (the generation step's one
// synchronisation) from a device.
func hostData(t *tensor.Tensor) []float32 {
	if t.Device() != tensor.CPU {
		return t.ToSlice()
	}
	return t.Contiguous().Data()
}

// sampler holds per-call scratch so sampling allocates once.
type sampler struct {
	logp, z, prob []float32
	order         []int
}

func newSampler(v int) *sampler {
	return &sampler{logp: make([]float32, v), z: make([]float32, v), prob: make([]float32, v), order: make([]int, v)}
}

// pick chooses the next token from one row of logits and returns it with
// its temperature-1 log-probability.
func (s *sampler) pick(row []float32, o SampleOpts) (int, float32) {
	kernels.LogSoftmaxRow(s.logp, row)
	if o.Temperature <= 0 {
		best := 0
		for j, v := range row {
			if v > row[best] {
				best = j
			}
		}
		return best, s.logp[best]
	}
	V := len(row)
	inv := 1 / o.Temperature
	for j, v := range row {
		s.z[j] = v * inv
	}
	kernels.SoftmaxRow(s.prob, s.z)
	for j := range s.order {
		s.order[j] = j
	}
	keep := V
	if o.TopK > 0 || (o.TopP > 0 && o.TopP < 1) {
		sort.SliceStable(s.order, func(a, b int) bool { return s.prob[s.order[a]] > s.prob[s.order[b]] })
		if o.TopK > 0 {
			keep = min(keep, o.TopK)
		}
		if o.TopP > 0 && o.TopP < 1 {
			var c float64
			for j := 0; j < keep; j++ {
				c += float64(s.prob[s.order[j]])
				if c >= float64(o.TopP) {
					keep = j + 1
					break
				}
			}
		}
	}
	var total float64
	for _, j := range s.order[:keep] {
		total += float64(s.prob[j])
	}
	u := o.RNG.Float64() * total
	tok := s.order[keep-1]
	for _, j := range s.order[:keep] {
		u -= float64(s.prob[j])
		if u < 0 {
			tok = j
			break
		}
	}
	if math.IsNaN(float64(s.logp[tok])) {
		panic("vision.VLM.Generate: NaN log-probability (non-finite logits)")
	}
	return tok, s.logp[tok]
}
