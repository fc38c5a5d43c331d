package train

import (
	"math"
	"path/filepath"
	"testing"

	"github.com/kiln-ml/kiln/internal/devtest"
)

// The trainer runs on a device unchanged once the model's parameters are
// moved (go test -tags cudaemu ./vision/train/): host-built batches go to
// the model's device, validation generates there, checkpoints save from it
// and a resumed device run continues. Its metrics match a CPU run's within
// 1e-4 relative (plus 1e-5), the greedy validation accuracy exactly.
func TestTrainOnDevice(t *testing.T) {
	dev := devtest.Open(t)
	base := t.TempDir()
	trainer := func(dir string, steps int) *Trainer {
		tr := newTrainer(t, filepath.Join(base, dir), steps)
		tr.Opt.EvalItems = 2 // the emulator is slow
		return tr
	}
	cpu := trainer("cpu", 4)
	if err := cpu.Run(); err != nil {
		t.Fatal(err)
	}
	half := trainer("dev", 4)
	half.Opt.Steps = 3
	if err := half.Model.P.To(dev); err != nil {
		t.Fatal(err)
	}
	if err := half.Run(); err != nil {
		t.Fatal(err)
	}
	resumed := trainer("dev", 4)
	if err := resumed.Model.P.To(dev); err != nil {
		t.Fatal(err)
	}
	if err := resumed.Run(); err != nil {
		t.Fatal(err)
	}
	want, err := readMetrics(filepath.Join(base, "cpu", "metrics.jsonl"), 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	got, err := readMetrics(filepath.Join(base, "dev", "metrics.jsonl"), 1<<30)
	if err != nil || len(got) != len(want) {
		t.Fatalf("device metrics: %d lines, %v", len(got), err)
	}
	close := func(g, w float64) bool { return math.Abs(g-w) <= 1e-4*math.Abs(w)+1e-5 }
	for i, w := range want {
		g := got[i]
		if !close(g.Loss, w.Loss) || !close(g.GradNorm, w.GradNorm) || !close(g.ValLoss, w.ValLoss) || g.ValAcc != w.ValAcc || g.LR != w.LR {
			t.Errorf("step %d: device %+v, cpu %+v", w.Step, g, w)
		}
	}
	if d := resumed.Model.P.All()[0].T.Device(); d != dev {
		t.Errorf("parameters on %v after the run", d)
	}
}
