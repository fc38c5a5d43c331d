package pretrained_test

import (
	"fmt"
	"image"

	"github.com/kiln-ml/kiln/vision"
	"github.com/kiln-ml/kiln/vision/pixels"
	"github.com/kiln-ml/kiln/vision/pretrained"
	"github.com/kiln-ml/kiln/vision/tasks"
)

// Load the shipped model, show it a test image and a question, and decode
// its greedy answer.
func Example() {
	m, chat, err := pretrained.Load()
	if err != nil {
		panic(err)
	}
	test, _ := tasks.NewStream(tasks.DefaultConfig(), tasks.Test, 1)
	it := test.Item(1)
	img, _ := pixels.ToTensor([]image.Image{it.Image}, pixels.SigLIPMean, pixels.SigLIPStd)
	prompt := chat.Prompt([]vision.Message{{Role: "user", Content: it.Question + " " + tasks.AnswerInstruction, Image: true}})
	out := m.Generate(img, [][]int{prompt}, vision.SampleOpts{MaxNew: 48, Stop: []int{chat.EndID()}})
	fmt.Println(it.Question)
	fmt.Println("model:", chat.Decode(out[0].Tokens))
	fmt.Println("truth:", it.Answer)
	// Output:
	// What is the difference between F and E?
	// model: F=6 E=7. 7-6=1. <answer>1</answer>
	// truth: 1
}
