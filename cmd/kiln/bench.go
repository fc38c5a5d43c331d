package main

import (
	"fmt"
	"os"
	"time"

	"github.com/kiln-ml/kiln/bench"
)

func init() {
	c := &command{name: "bench", summary: "benchmarks: `kiln bench kernels` times SGEMM against gonum and the FMA peak"}
	c.run = func(args []string) error {
		if len(args) == 0 || args[0] != "kernels" {
			return fmt.Errorf("want a benchmark name: kernels")
		}
		fs := newFlags(c)
		shapes := fs.String("shapes", "all", "square, model or all")
		reps := fs.Int("reps", 3, "timed repetitions per cell (best is reported)")
		minTime := fs.Duration("mintime", 200*time.Millisecond, "minimum length of one repetition")
		gonum := fs.Bool("gonum", true, "also time gonum's native SGEMM")
		if err := fs.Parse(args[1:]); err != nil {
			return errUsage
		}
		var sh []bench.Shape
		switch *shapes {
		case "square":
			sh = bench.SquareShapes()
		case "model":
			sh = bench.ModelShapes()
		case "all":
			sh = append(bench.SquareShapes(), bench.ModelShapes()...)
		default:
			return fmt.Errorf("-shapes %q: want square, model or all", *shapes)
		}
		res := bench.KernelTable(bench.Options{Shapes: sh, Reps: *reps, MinTime: *minTime, Gonum: *gonum})
		res.Markdown(os.Stdout)
		return nil
	}
	register(c)
}
