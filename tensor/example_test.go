package tensor_test

import (
	"fmt"

	"github.com/kiln-ml/kiln/tensor"
)

// A parameter, a forward pass, a loss, its gradient, and inference without a
// graph: the whole autograd workflow.
func Example() {
	rng := tensor.NewRNG(1)
	w := tensor.Randn(rng, 0.1, 4, 3).RequiresGrad() // a parameter
	x := tensor.Randn(rng, 1, 2, 4)                  // a batch of two
	targets := []int{0, 2}

	loss := x.MatMul(w).Gelu().CrossEntropy(targets, -1, tensor.ReduceMean)
	loss.Backward() // w.Grad() now holds dloss/dw
	fmt.Println("grad shape:", w.Grad().Shape())

	var logits *tensor.Tensor
	tensor.NoGrad(func() { logits = x.MatMul(w) }) // inference: no graph
	fmt.Println("tracked:", logits.NeedsGrad())
	// Output:
	// grad shape: [4 3]
	// tracked: false
}
