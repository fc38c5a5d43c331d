package tasks_test

import (
	"fmt"

	"github.com/kiln-ml/kiln/vision/tasks"
)

func Example() {
	train, err := tasks.NewStream(tasks.DefaultConfig(), tasks.Train, 1)
	if err != nil {
		panic(err)
	}
	it := train.Item(0) // random access: item i depends only on (config, split, seed, i)
	fmt.Println(it.Family, it.Level, it.Image.Rect.Dx())
	for _, m := range it.Solver() {
		fmt.Printf("%s (image %v): %s\n", m.Role, m.Image, m.Content)
	}
	fmt.Println(tasks.Correct("I think <answer>Right.</answer>", it.Answer))
	// Output:
	// spatial 2 32
	// user (image true): Is the blue square left or right of the green square? Answer with <answer>...</answer>.
	// assistant (image false): blue x=24 green x=11, 24>11. <answer>right</answer>
	// true
}
