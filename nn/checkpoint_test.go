package nn

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io/fs"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kiln-ml/kiln/nn/safetensors"
	"github.com/kiln-ml/kiln/tensor"
)

// toyConfig describes the toy model; it goes to config.json.
type toyConfig struct {
	In, Hidden, Out int
	Dropout         float32
}

// toyRun is a small training run with every kind of state a resume must
// restore: AdamW moments and step counts (two groups, one with an LR
// multiplier), a warmup-cosine schedule indexed by the loop's step, dropout
// drawing from Params.RNG, a seeded data stream with a position, gradient
// accumulation over two micro-batches and clipping.
type toyRun struct {
	cfg     toyConfig
	p       *Params
	opt     *AdamW
	sched   WarmupCosine
	data    *rand.PCG // the data stream's generator
	draw    *rand.Rand
	step    int64
	dataPos int64
	dev     *tensor.Device // nil: the host
}

func newToyRun(seed uint64, cfg toyConfig) *toyRun {
	p := NewParams(seed)
	init := tensor.NewRNG(seed + 100)
	p.Add("fc1.weight", tensor.Randn(init, 0.5, cfg.Hidden, cfg.In))
	p.Add("fc1.bias", tensor.Randn(init, 0.1, cfg.Hidden))
	p.Add("fc2.weight", tensor.Randn(init, 0.5, cfg.Out, cfg.Hidden))
	p.Add("fc2.bias", tensor.Randn(init, 0.1, cfg.Out))
	p.Train = true
	groups := p.DefaultGroups(0.05)
	groups[1].LR = 2
	data := rand.NewPCG(seed, seed+7)
	return &toyRun{
		cfg: cfg, p: p, opt: NewAdamW(groups, 0.9, 0.99, 1e-8),
		sched: WarmupCosine{Base: 3e-2, Min: 3e-3, Warmup: 3, Total: 10},
		data:  data, draw: rand.New(data),
	}
}

func (r *toyRun) state() *TrainState {
	return &TrainState{Optimizer: r.opt, Step: r.step, DataPos: r.dataPos,
		Data: []byte("shard-0"), RNGs: map[string]RandState{"data": r.data}}
}

// batch draws 6 examples; the label depends on the inputs and the position.
func (r *toyRun) batch() (*tensor.Tensor, []int) {
	const n = 6
	x := make([]float32, n*r.cfg.In)
	y := make([]int, n)
	for i := range n {
		s := float32(0)
		for j := range r.cfg.In {
			v := float32(r.draw.NormFloat64())
			x[i*r.cfg.In+j] = v
			s += v * float32(j%3-1)
		}
		y[i] = (int(r.dataPos) + int(s*2+100)) % r.cfg.Out
	}
	r.dataPos++
	return tensor.FromSlice(x, n, r.cfg.In), y
}

func (r *toyRun) train(t *testing.T, steps int) {
	t.Helper()
	w1, b1 := r.p.Get("fc1.weight").T, r.p.Get("fc1.bias").T
	w2, b2 := r.p.Get("fc2.weight").T, r.p.Get("fc2.bias").T
	params := r.p.Trainable()
	for range steps {
		for range 2 {
			x, y := r.batch()
			if r.dev != nil {
				x = x.MustTo(*r.dev)
			}
			h := x.MatMul(w1.T()).Add(b1).Gelu().Dropout(r.cfg.Dropout, r.p.RNG)
			h.MatMul(w2.T()).Add(b2).CrossEntropy(y, -1, tensor.ReduceMean).Backward()
		}
		ScaleGrads(params, 0.5)
		ClipGradNorm(params, 0.5)
		if err := r.opt.Step(r.sched.At(int(r.step))); err != nil {
			t.Fatal(err)
		}
		r.opt.ZeroGrad()
		r.step++
	}
}

var toyCfg = toyConfig{In: 5, Hidden: 12, Out: 3, Dropout: 0.25}

func assertBitwise(t *testing.T, a, b *Params) {
	t.Helper()
	for _, q := range a.All() {
		if !sameFloatBits(q.T.ToSlice(), b.Get(q.Name).T.ToSlice()) {
			t.Fatalf("%s differs", q.Name)
		}
	}
}

// TestResumeBitwise trains 8 steps straight, and 4 steps, checkpoint, fresh
// objects (other seeds, so nothing carries over by accident), load, 4 more
// steps: the weights must be bitwise equal. A control run that restores all
// but the dropout generator must differ, showing the test can fail.
func TestResumeBitwise(t *testing.T) {
	const n = 8
	straight := newToyRun(1, toyCfg)
	straight.train(t, n)

	first := newToyRun(1, toyCfg)
	first.train(t, n/2)
	dir := filepath.Join(t.TempDir(), "ckpt")
	if err := SaveCheckpoint(dir, first.p, Checkpoint{Config: first.cfg, State: first.state()}); err != nil {
		t.Fatal(err)
	}

	var cfg toyConfig
	if err := ReadConfig(dir, &cfg); err != nil || cfg != toyCfg {
		t.Fatalf("config %+v, %v", cfg, err)
	}
	resumed := newToyRun(2, cfg)
	st := resumed.state()
	if err := LoadCheckpoint(dir, resumed.p, st); err != nil {
		t.Fatal(err)
	}
	if st.Step != n/2 || st.DataPos != n || string(st.Data) != "shard-0" || resumed.opt.Steps() != n/2 {
		t.Fatalf("state: step %d, data pos %d, data %q, optimizer steps %d", st.Step, st.DataPos, st.Data, resumed.opt.Steps())
	}
	resumed.step, resumed.dataPos = st.Step, st.DataPos
	resumed.train(t, n-n/2)
	assertBitwise(t, straight.p, resumed.p)
	if first.opt.Steps() != n/2 || resumed.opt.Steps() != n {
		t.Fatalf("optimizer steps %d, %d", first.opt.Steps(), resumed.opt.Steps())
	}

	control := newToyRun(2, cfg)
	st = control.state()
	if err := LoadCheckpoint(dir, control.p, st); err != nil {
		t.Fatal(err)
	}
	control.step, control.dataPos = st.Step, st.DataPos
	control.p.RNG = tensor.NewRNG(99)
	control.train(t, n-n/2)
	same := true
	for _, q := range straight.p.All() {
		same = same && sameFloatBits(q.T.ToSlice(), control.p.Get(q.Name).T.ToSlice())
	}
	if same {
		t.Fatal("a run with another dropout generator matched: the test cannot see the RNG state")
	}

	// Saving again over the checkpoint replaces it whole.
	if err := SaveCheckpoint(dir, straight.p, Checkpoint{Config: cfg, State: straight.state()}); err != nil {
		t.Fatal(err)
	}
	again := newToyRun(3, cfg)
	if err := LoadCheckpoint(dir, again.p, again.state()); err != nil {
		t.Fatal(err)
	}
	assertBitwise(t, straight.p, again.p)
	ents, _ := os.ReadDir(filepath.Dir(dir))
	if len(ents) != 1 {
		t.Fatalf("left behind: %v", ents)
	}
}

// TestSaveWeightsDTypes exports weights-only checkpoints in BF16 and F16
// (with an extra file) and loads them back: the values are the rounded
// originals. A training checkpoint refuses a lossy dtype.
func TestSaveWeightsDTypes(t *testing.T) {
	run := newToyRun(1, toyCfg)
	for _, dt := range []safetensors.DType{safetensors.F32, safetensors.BF16, safetensors.F16} {
		dir := filepath.Join(t.TempDir(), "export")
		extra := map[string][]byte{"tokenizer.json": []byte(`{"model":{}}`)}
		if err := SaveCheckpoint(dir, run.p, Checkpoint{DType: dt, Files: extra}); err != nil {
			t.Fatal(err)
		}
		ts, meta, err := safetensors.ReadFile(filepath.Join(dir, ModelFile))
		if err != nil || meta["format"] != "pt" || len(ts) != 4 || ts[0].DType != dt {
			t.Fatalf("%v: %v %v %v", dt, err, meta, ts)
		}
		loaded := newToyRun(2, toyCfg)
		if err := LoadCheckpoint(dir, loaded.p, nil); err != nil {
			t.Fatal(err)
		}
		for _, q := range run.p.All() {
			got, want := loaded.p.Get(q.Name).T.ToSlice(), q.T.ToSlice()
			rel := map[safetensors.DType]float64{safetensors.F32: 0, safetensors.BF16: 1.0 / 256, safetensors.F16: 1.0 / 2048}[dt]
			for i := range want {
				if math.Abs(float64(got[i])-float64(want[i])) > rel*math.Abs(float64(want[i])) {
					t.Fatalf("%v %s[%d]: %v, want %v", dt, q.Name, i, got[i], want[i])
				}
			}
		}
		if err := LoadCheckpoint(dir, loaded.p, loaded.state()); err == nil {
			t.Fatalf("%v: resumed training from a weights-only checkpoint", dt)
		}
		b, err := ReadCheckpointFile(dir, "tokenizer.json")
		if err != nil || string(b) != `{"model":{}}` {
			t.Fatalf("extra file: %q %v", b, err)
		}
		if _, err := os.Stat(filepath.Join(dir, ConfigFile)); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("config.json without a config: %v", err)
		}
	}
	err := SaveCheckpoint(filepath.Join(t.TempDir(), "x"), run.p, Checkpoint{DType: safetensors.BF16, State: run.state()})
	if err == nil || !strings.Contains(err.Error(), "F32") {
		t.Fatalf("BF16 training checkpoint: %v", err)
	}
}

func sumHex(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// runState captures everything LoadCheckpoint may touch.
type runState struct {
	weights       map[string][]float32
	optim         OptimState
	rng, data     []byte
	step, dataPos int64
}

func capture(t *testing.T, r *toyRun, st *TrainState) runState {
	t.Helper()
	rs, err := paramsRandState(r.p)
	if err != nil {
		t.Fatal(err)
	}
	rb, _ := rs.MarshalBinary()
	db, _ := r.data.MarshalBinary()
	return runState{weightSnapshot(r.p), cloneState(r.opt.State()), rb, db, st.Step, st.DataPos}
}

func (a runState) same(b runState) bool {
	for k, v := range a.weights {
		if !sameFloatBits(v, b.weights[k]) {
			return false
		}
	}
	return sameState(a.optim, b.optim) && string(a.rng) == string(b.rng) && string(a.data) == string(b.data) &&
		a.step == b.step && a.dataPos == b.dataPos
}

// TestLoadCheckpointRejects damages a checkpoint in every way the issue
// names (truncated, corrupt, mismatched: missing, extra, wrong shape, wrong
// dtype) and some more; each load must fail with an error naming the file
// and the tensor, and leave weights, optimizer and generators bitwise as
// they were.
func TestLoadCheckpointRejects(t *testing.T) {
	root := t.TempDir()
	src := newToyRun(1, toyCfg)
	src.train(t, 2)
	good := filepath.Join(root, "good")
	if err := SaveCheckpoint(good, src.p, Checkpoint{Config: src.cfg, State: src.state()}); err != nil {
		t.Fatal(err)
	}
	// A checkpoint of a model with a wider hidden layer, and one with an
	// extra parameter: complete and consistent, but not this model's.
	wide := newToyRun(1, toyConfig{In: 5, Hidden: 13, Out: 3})
	if err := SaveCheckpoint(filepath.Join(root, "wide"), wide.p, Checkpoint{State: wide.state()}); err != nil {
		t.Fatal(err)
	}
	extra := newToyRun(1, toyCfg)
	extra.p.Add("fc3.weight", tensor.Zeros(2, 2))
	if err := SaveCheckpoint(filepath.Join(root, "extra"), extra.p, Checkpoint{State: extra.state()}); err != nil {
		t.Fatal(err)
	}

	model := ModelFile
	rewrite := func(dir, file string, f func([]safetensors.Tensor) []safetensors.Tensor) {
		path := filepath.Join(dir, file)
		ts, meta, err := safetensors.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := safetensors.WriteFile(path, f(ts), meta); err != nil {
			t.Fatal(err)
		}
	}
	find := func(ts []safetensors.Tensor, name string) int {
		for i := range ts {
			if ts[i].Name == name {
				return i
			}
		}
		t.Fatalf("no %s", name)
		return -1
	}
	cases := []struct {
		name   string
		from   string // checkpoint to start from
		damage func(dir string)
		want   []string // in the error
	}{
		{"truncated", "good", func(dir string) {
			path := filepath.Join(dir, model)
			fi, _ := os.Stat(path)
			os.Truncate(path, fi.Size()-7)
		}, []string{model, `"fc2.weight"`, "truncated"}},
		{"flipped bit", "good", func(dir string) {
			path := filepath.Join(dir, model)
			b, _ := os.ReadFile(path)
			b[len(b)-1] ^= 0x10 // in fc2.weight, the last tensor of the file
			os.WriteFile(path, b, 0o644)
		}, []string{model, `"fc2.weight"`, "checksum"}},
		{"missing tensor", "good", func(dir string) {
			rewrite(dir, model, func(ts []safetensors.Tensor) []safetensors.Tensor {
				i := find(ts, "fc1.bias")
				return append(ts[:i], ts[i+1:]...)
			})
		}, []string{model, `"fc1.bias": missing`}},
		{"wrong shape", "good", func(dir string) {
			rewrite(dir, model, func(ts []safetensors.Tensor) []safetensors.Tensor {
				ts[find(ts, "fc1.weight")].Shape = []int{5, 12}
				return ts
			})
		}, []string{model, `"fc1.weight": shape [5 12]`}},
		{"wrong dtype", "good", func(dir string) {
			rewrite(dir, model, func(ts []safetensors.Tensor) []safetensors.Tensor {
				ts[find(ts, "fc2.bias")].DType = safetensors.BF16
				return ts
			})
		}, []string{model, `"fc2.bias": dtype BF16`}},
		{"other model", "wide", nil, []string{model, `"fc1.bias": shape [13]`}},
		{"extra tensor", "extra", nil, []string{model, `"fc3.weight": no such parameter`}},
		{"optimizer tensor missing", "good", func(dir string) {
			rewrite(dir, OptimizerFile, func(ts []safetensors.Tensor) []safetensors.Tensor {
				i := find(ts, "optim.v.fc2.weight")
				return append(ts[:i], ts[i+1:]...)
			})
		}, []string{OptimizerFile, `"v.fc2.weight": missing`}},
		{"optimizer shape", "good", func(dir string) {
			rewrite(dir, OptimizerFile, func(ts []safetensors.Tensor) []safetensors.Tensor {
				ts[find(ts, "optim.m.fc1.bias")].Shape = []int{3, 4}
				return ts
			})
		}, []string{OptimizerFile, `"m.fc1.bias": shape [3 4]`}},
		{"optimizer truncated", "good", func(dir string) {
			path := filepath.Join(dir, OptimizerFile)
			fi, _ := os.Stat(path)
			os.Truncate(path, fi.Size()-1)
		}, []string{OptimizerFile, "tensor", "truncated"}},
		{"no manifest", "good", func(dir string) { os.Remove(filepath.Join(dir, ManifestFile)) },
			[]string{ManifestFile, "incomplete"}},
		{"state edited", "good", func(dir string) {
			path := filepath.Join(dir, StateFile)
			b, _ := os.ReadFile(path)
			os.WriteFile(path, []byte(strings.Replace(string(b), `"step": 2`, `"step": 3`, 1)), 0o644)
		}, []string{StateFile, "SHA-256"}},
		{"bad generator state", "good", func(dir string) {
			editState(t, dir, func(sf *stateFile) { sf.RNGs["data"] = []byte("junk") })
		}, []string{StateFile, `"data"`}},
		{"missing generator", "good", func(dir string) {
			editState(t, dir, func(sf *stateFile) { delete(sf.RNGs, "data") })
		}, []string{StateFile, `"data"`}},
		{"optimizer step count", "good", func(dir string) {
			editState(t, dir, func(sf *stateFile) { sf.Optimizer.ParamSteps["fc2.bias"] = 9 })
		}, []string{OptimizerFile, `"fc2.bias": step 9`}},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := filepath.Join(root, "case", string(rune('a'+i)))
			copyCheckpointDir(t, filepath.Join(root, c.from), dir)
			if c.damage != nil {
				c.damage(dir)
			}
			r := newToyRun(5, toyCfg)
			r.train(t, 1) // non-trivial moments and step counts
			st := r.state()
			before := capture(t, r, st)
			err := LoadCheckpoint(dir, r.p, st)
			if err == nil {
				t.Fatal("loaded a damaged checkpoint")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			if !before.same(capture(t, r, st)) {
				t.Error("a failed load changed the model, optimizer or generators")
			}
		})
	}
}

// editState rewrites train_state.json and fixes the manifest's sum, as a
// consistent but wrong checkpoint would have it.
func editState(t *testing.T, dir string, f func(*stateFile)) {
	t.Helper()
	m, err := readManifest(dir)
	if err != nil {
		t.Fatal(err)
	}
	b, err := m.read(dir, StateFile)
	if err != nil {
		t.Fatal(err)
	}
	var sf stateFile
	if err := json.Unmarshal(b, &sf); err != nil {
		t.Fatal(err)
	}
	f(&sf)
	b, _ = json.Marshal(sf)
	os.WriteFile(filepath.Join(dir, StateFile), b, 0o644)
	m.Files[StateFile] = fileSum{Size: int64(len(b)), SHA256: sumHex(b)}
	mb, _ := json.Marshal(m)
	os.WriteFile(filepath.Join(dir, ManifestFile), mb, 0o644)
}

func copyCheckpointDir(t *testing.T, from, to string) {
	t.Helper()
	if err := os.MkdirAll(to, 0o755); err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir(from)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(from, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(to, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestSaveCheckpointSafety: a failed save leaves the old checkpoint loadable
// and no temporary directory; a directory that is not a checkpoint is never
// replaced.
func TestSaveCheckpointSafety(t *testing.T) {
	root := t.TempDir()
	run := newToyRun(1, toyCfg)
	dir := filepath.Join(root, "ckpt")
	if err := SaveCheckpoint(dir, run.p, Checkpoint{Config: run.cfg, State: run.state()}); err != nil {
		t.Fatal(err)
	}
	before := weightSnapshot(run.p)
	run.train(t, 1)
	// A config that cannot be encoded fails the save before any file exists.
	if err := SaveCheckpoint(dir, run.p, Checkpoint{Config: func() {}, State: run.state()}); err == nil {
		t.Fatal("saved an unencodable config")
	}
	// So does an extra file with a path in its name.
	if err := SaveCheckpoint(dir, run.p, Checkpoint{Files: map[string][]byte{"../x": nil}}); err == nil {
		t.Fatal("saved an extra file outside the checkpoint")
	}
	loaded := newToyRun(2, toyCfg)
	if err := LoadCheckpoint(dir, loaded.p, loaded.state()); err != nil {
		t.Fatal(err)
	}
	for name, w := range before {
		if !sameFloatBits(w, loaded.p.Get(name).T.ToSlice()) {
			t.Fatalf("%s: the old checkpoint changed", name)
		}
	}
	if ents, _ := os.ReadDir(root); len(ents) != 1 {
		t.Fatalf("left behind: %v", ents)
	}

	other := filepath.Join(root, "notes")
	os.MkdirAll(other, 0o755)
	os.WriteFile(filepath.Join(other, "todo.txt"), []byte("keep"), 0o644)
	if err := SaveCheckpoint(other, run.p, Checkpoint{}); err == nil || !strings.Contains(err.Error(), "not replacing") {
		t.Fatalf("replaced a directory that is not a checkpoint: %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(other, "todo.txt")); string(b) != "keep" {
		t.Fatal("unrelated file lost")
	}
}

// TestParamsRandState: the dropout generator's state is reachable, and
// restoring it replays the same draws; a generator swapped in by hand is an
// error, not a silent skip.
func TestParamsRandState(t *testing.T) {
	p := NewParams(42)
	r := p.RNG
	r.Uint64()
	rs, err := paramsRandState(p)
	if err != nil {
		t.Fatal(err)
	}
	b, err := rs.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	want := []uint64{r.Uint64(), r.Uint64()}
	if err := rs.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	if got := []uint64{r.Uint64(), r.Uint64()}; got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("replay %v, want %v", got, want)
	}
	if _, err := paramsRandState(&Params{RNG: rand.New(zeroSource{})}); err == nil {
		t.Fatal("a generator without reachable state passed")
	}
}

type zeroSource struct{}

func (zeroSource) Uint64() uint64 { return 0 }
