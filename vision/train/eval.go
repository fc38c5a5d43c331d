package train

import (
	"math/rand/v2"

	"github.com/kiln-ml/kiln/vision"
)

// generate runs one generation over items' prompts and returns the decoded
// outputs.
func generate(m *vision.VLM, chat *vision.Chat, items []Item, o vision.SampleOpts) []string {
	img, err := Images(items, m.Cfg.ImageSize)
	if err != nil {
		panic(err)
	}
	prompts := make([][]int, len(items))
	for i, it := range items {
		prompts[i] = chat.Prompt(it.Prompt)
	}
	o.Stop = []int{chat.EndID()}
	out := make([]string, len(items))
	for i, s := range m.Generate(img, prompts, o) {
		out[i] = chat.Decode(s.Tokens)
	}
	return out
}

// Outputs generates answers for items in chunks of 32 (greedy when
// temperature is 0).
func Outputs(m *vision.VLM, chat *vision.Chat, items []Item, maxNew int, temperature float32, rng *rand.Rand) []string {
	out := make([]string, 0, len(items))
	for lo := 0; lo < len(items); lo += 32 {
		part := items[lo:min(lo+32, len(items))]
		out = append(out, generate(m, chat, part, vision.SampleOpts{MaxNew: maxNew, Temperature: temperature, RNG: rng})...)
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
