package selfevolve

import (
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/kiln-ml/kiln/nn"
)

// trainingState is what the guard's rollback must restore: both adapters'
// weights, the optimizer's moments and step counts (both roles share one
// AdamW), and the KL coefficient and moving baseline per role.
type trainingState struct {
	weights  map[string][]float32
	opt      nn.OptimState
	beta     map[string]float64
	baseline map[string]float64
}

func captureTraining(tr *Trainer) trainingState {
	s := trainingState{weights: map[string][]float32{}, beta: map[string]float64{}, baseline: map[string]float64{}}
	for _, role := range []string{Solver, Proposer} {
		for _, q := range tr.AdapterParams(role) {
			s.weights[q.Name] = q.T.ToSlice()
		}
		s.beta[role], s.baseline[role] = tr.S.Beta[role], tr.S.Baseline[role]
	}
	o := tr.opt.State()
	s.opt = nn.OptimState{Kind: o.Kind, Step: o.Step, ParamSteps: o.ParamSteps}
	for _, x := range o.Tensors {
		s.opt.Tensors = append(s.opt.Tensors, nn.StateTensor{Name: x.Name, Shape: x.Shape, Data: append([]float32(nil), x.Data...)})
	}
	return s
}

func sameBits(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return false
		}
	}
	return true
}

// diffTraining names the parts of the training state that differ (nil: the
// same, bitwise for tensors).
func diffTraining(a, b trainingState) []string {
	var d []string
	for name, w := range a.weights {
		if !sameBits(w, b.weights[name]) {
			d = append(d, "weights "+name)
		}
	}
	if len(a.weights) != len(b.weights) {
		d = append(d, "weight count")
	}
	if a.opt.Kind != b.opt.Kind || a.opt.Step != b.opt.Step || len(a.opt.ParamSteps) != len(b.opt.ParamSteps) {
		d = append(d, "optimizer step count")
	}
	for name, n := range a.opt.ParamSteps {
		if b.opt.ParamSteps[name] != n {
			d = append(d, "optimizer step count of "+name)
		}
	}
	if len(a.opt.Tensors) != len(b.opt.Tensors) {
		d = append(d, "optimizer buffers")
	} else {
		for i, x := range a.opt.Tensors {
			if x.Name != b.opt.Tensors[i].Name || !sameBits(x.Data, b.opt.Tensors[i].Data) {
				d = append(d, "optimizer "+x.Name)
			}
		}
	}
	for _, role := range []string{Solver, Proposer} {
		if math.Float64bits(a.beta[role]) != math.Float64bits(b.beta[role]) {
			d = append(d, "beta "+role)
		}
		if math.Float64bits(a.baseline[role]) != math.Float64bits(b.baseline[role]) {
			d = append(d, "baseline "+role)
		}
	}
	return d
}

func steps(t *testing.T, tr *Trainer, n int) {
	t.Helper()
	for range n {
		if _, err := tr.Step(); err != nil {
			t.Fatal(err)
		}
	}
}

// The guard's rollback is a resume from the best snapshot: after it, the
// training state (adapters, AdamW moments and step counts of both roles,
// beta and baseline per role) equals, bitwise, that of the checkpoint the
// run saved at the best step, resumed in fresh objects; the snapshot
// survives a checkpoint and resume; and a run that rolls back and goes on
// ends with the weights of a run that, at the same position (outer step,
// random streams), takes its training state from the best checkpoint.
func TestRollbackIsResumeFromBest(t *testing.T) {
	base := t.TempDir()
	o := tinyOptions()
	o.Steps, o.EvalItems, o.Guard, o.SaveEvery = 4, 0, GuardOff, 0
	ckpt := func(dir string, steps int) *Trainer {
		oo := o
		oo.Dir, oo.Steps = dir, steps
		tr := tiny(t, oo)
		if err := tr.Run(); err != nil {
			t.Fatal(err)
		}
		return tr
	}

	// The best checkpoint: an ordinary run stopped at step 2, resumed.
	ckpt(filepath.Join(base, "best"), 2)
	want := captureTraining(ckpt(filepath.Join(base, "best"), 2))

	oa := o
	oa.Dir = filepath.Join(base, "a")
	if err := os.MkdirAll(oa.Dir, 0o755); err != nil {
		t.Fatal(err)
	}
	a := tiny(t, oa)
	steps(t, a, 2)
	a.S.BestStep = 2
	a.snapshot()
	steps(t, a, 2)
	if d := diffTraining(captureTraining(a), want); len(d) < 5 {
		t.Fatalf("two steps past the best changed only %v", d)
	}
	if err := a.save(); err != nil {
		t.Fatal(err)
	}
	rng, _ := a.src.MarshalBinary()
	if err := a.rollback(); err != nil {
		t.Fatal(err)
	}
	if d := diffTraining(captureTraining(a), want); d != nil {
		t.Errorf("after the rollback the training state differs from the best checkpoint's: %v", d)
	}
	if after, _ := a.src.MarshalBinary(); a.S.Step != 4 || string(after) != string(rng) {
		t.Errorf("the rollback moved the run's position: step %d", a.S.Step)
	}

	// The snapshot is in the checkpoint: a resumed run rolls back alike.
	a2 := tiny(t, oa)
	if err := a2.load(); err != nil {
		t.Fatal(err)
	}
	if err := a2.rollback(); err != nil {
		t.Fatal(err)
	}
	if d := diffTraining(captureTraining(a2), want); d != nil {
		t.Errorf("after resume and rollback the training state differs from the best checkpoint's: %v", d)
	}

	// Go on two steps from the rollback, and from the best checkpoint's
	// training state at the same position.
	b := tiny(t, o)
	steps(t, b, 4)
	best := ckpt(filepath.Join(base, "best"), 2)
	for name, w := range captureTraining(best).weights {
		copy(b.Model.P.Get(name).T.Data(), w)
	}
	if err := b.opt.SetState(best.opt.State()); err != nil {
		t.Fatal(err)
	}
	for _, role := range []string{Solver, Proposer} {
		b.S.Beta[role], b.S.Baseline[role] = best.S.Beta[role], best.S.Baseline[role]
	}
	steps(t, a, 2)
	steps(t, a2, 2)
	steps(t, b, 2)
	if d := diffTraining(captureTraining(a), captureTraining(b)); d != nil {
		t.Errorf("rolled back and went on vs resumed from the best checkpoint: %v differ", d)
	}
	if d := diffTraining(captureTraining(a2), captureTraining(b)); d != nil {
		t.Errorf("resumed, rolled back and went on vs resumed from the best checkpoint: %v differ", d)
	}
}
