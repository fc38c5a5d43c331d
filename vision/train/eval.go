package train

import (
	"math/rand/v2"

	"github.com/kiln-ml/kiln/vision"
)

// generate runs one generation over prompts (token ids; built from the
// items' Prompt when nil) and returns the samples.
func generate(m *vision.VLM, chat *vision.Chat, items []Item, prompts [][]int, o vision.SampleOpts) []vision.Sample {
	img, err := Images(items, m.Cfg.ImageSize)
	if err != nil {
		panic(err) // item images come from the generator: a bug, not user input
	}
	if prompts == nil {
		prompts = make([][]int, len(items))
		for i, it := range items {
			prompts[i] = chat.Prompt(it.Prompt)
		}
	}
	o.Stop = []int{chat.EndID()}
	return m.Generate(img, prompts, o)
}

// Samples generates for items in chunks of 32 (prompts optional, as in
// generate) and returns the raw samples.
func Samples(m *vision.VLM, chat *vision.Chat, items []Item, prompts [][]int, maxNew int, temperature float32, rng *rand.Rand) []vision.Sample {
	return SamplesOpts(m, chat, items, prompts, vision.SampleOpts{MaxNew: maxNew, Temperature: temperature, RNG: rng})
}

// SamplesOpts is Samples with the sampling options given whole (the stop
// token is the chat's end of turn whatever o.Stop says).
func SamplesOpts(m *vision.VLM, chat *vision.Chat, items []Item, prompts [][]int, o vision.SampleOpts) []vision.Sample {
	out := make([]vision.Sample, 0, len(items))
	for lo := 0; lo < len(items); lo += 32 {
		hi := min(lo+32, len(items))
		var ps [][]int
		if prompts != nil {
			ps = prompts[lo:hi]
		}
		out = append(out, generate(m, chat, items[lo:hi], ps, o)...)
	}
	return out
}

// Outputs generates answers for items in chunks of 32 (greedy when
// temperature is 0).
func Outputs(m *vision.VLM, chat *vision.Chat, items []Item, maxNew int, temperature float32, rng *rand.Rand) []string {
	return texts(chat, Samples(m, chat, items, nil, maxNew, temperature, rng))
}

// LogProb is a sample's sequence log-probability (the sum of its tokens'),
// the score majority votes break ties with.
func LogProb(s vision.Sample) float64 {
	var lp float64
	for _, v := range s.LogProbs {
		lp += float64(v)
	}
	return lp
}

func texts(chat *vision.Chat, ss []vision.Sample) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = chat.Decode(s.Tokens)
	}
	return out
}

// Greedy returns the greedy-decoding accuracy on items.
func Greedy(m *vision.VLM, chat *vision.Chat, items []Item, sc Scorer, maxNew int) float64 {
	outs := Outputs(m, chat, items, maxNew, 0, nil)
	right := 0
	for i, o := range outs {
		if sc.Normalize(sc.Extract(o)) == sc.Normalize(items[i].Answer) {
			right++
		}
	}
	return float64(right) / float64(max(len(items), 1))
}
