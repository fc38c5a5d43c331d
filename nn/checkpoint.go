package nn

import (
	"bytes"
	"crypto/sha256"
	"encoding"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"

	"github.com/kiln-ml/kiln/internal/atomicfile"
	"github.com/kiln-ml/kiln/nn/safetensors"
	"github.com/kiln-ml/kiln/tensor"
)

// A checkpoint is a directory:
//
//	model.safetensors      the weights, named as in Params (HF-compatible header,
//	                       metadata {"format": "pt"})
//	config.json            the model config, when one was given
//	optimizer.safetensors  the optimizer buffers, F32, named optim.<buffer>.<param>
//	                       (optim.m.lm.head.weight, optim.v.…, optim.momentum.…)
//	train_state.json       step, data position, optimizer and parameter step
//	                       counts, random generator states
//	<extra files>          any the caller adds (tokenizer.json, …)
//	checkpoint.json        the manifest: format, weight dtype, and the size and
//	                       SHA-256 of every other file
//
// SaveCheckpoint writes every file into a fresh temporary directory next to
// dir, the manifest last, then renames that directory to dir, so dir is
// either the old checkpoint or the complete new one. LoadCheckpoint refuses
// a directory without a manifest, and a file whose size or checksum differs
// from it.
const (
	ModelFile     = "model.safetensors"
	ConfigFile    = "config.json"
	OptimizerFile = "optimizer.safetensors"
	StateFile     = "train_state.json"
	ManifestFile  = "checkpoint.json"
)

const (
	manifestFormat  = "kiln-checkpoint"
	manifestVersion = 1
	optimPrefix     = "optim."
)

// RandState is a random generator whose state a checkpoint saves and
// restores in place. *rand.PCG and *rand.ChaCha8 implement it.
type RandState interface {
	encoding.BinaryMarshaler
	encoding.BinaryUnmarshaler
}

// TrainState is the training state a checkpoint carries besides the weights:
// with it, a resumed run continues bitwise as if it had never stopped.
type TrainState struct {
	// Optimizer's buffers and step counts are saved; on load they are
	// restored if Optimizer is non-nil (nil resumes with a fresh optimizer).
	Optimizer Optimizer
	// Step is the training loop's own step, the index of the schedule (it
	// differs from Optimizer.Steps when steps are skipped).
	Step int64
	// DataPos and Data are the data stream's position and any opaque state
	// of the data loader.
	DataPos int64
	Data    []byte
	// RNGs are further random generators (data shuffling, augmentation) by
	// name; they are restored in place and must match the checkpoint's names
	// exactly. The dropout generator Params.RNG is always saved and restored.
	RNGs map[string]RandState
}

// Checkpoint is what SaveCheckpoint writes besides the weights.
type Checkpoint struct {
	// Config is marshalled with encoding/json into config.json (nil: none).
	Config any
	// State, when non-nil, makes a training checkpoint; nil saves the
	// weights alone (with Config and Files).
	State *TrainState
	// DType encodes the weights: F32, or BF16/F16 for a weights-only export.
	// A training checkpoint (State non-nil) must be F32.
	DType safetensors.DType
	// Files are further files to store, by base name (e.g. "tokenizer.json");
	// ReadCheckpointFile reads them back, checked against the manifest.
	Files map[string][]byte
}

type fileSum struct {
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
	// Tensors holds, for a safetensors file, the SHA-256 of each tensor's
	// float32 values (little-endian bits, as loaded), so that a damaged file
	// can be blamed on the tensor it damaged.
	Tensors map[string]string `json:"tensors,omitempty"`
}

type manifest struct {
	Format       string             `json:"format"`
	Version      int                `json:"version"`
	WeightsDType string             `json:"weights_dtype"`
	Files        map[string]fileSum `json:"files"`
}

type optimMeta struct {
	Kind       string           `json:"kind"`
	Step       int64            `json:"step"`
	ParamSteps map[string]int64 `json:"param_steps"`
}

type stateFile struct {
	Step      int64             `json:"step"`
	DataPos   int64             `json:"data_pos"`
	Data      []byte            `json:"data,omitempty"`
	ParamsRNG []byte            `json:"params_rng,omitempty"`
	RNGs      map[string][]byte `json:"rngs,omitempty"`
	Optimizer *optimMeta        `json:"optimizer,omitempty"`
}

// SaveCheckpoint writes p's weights and c into the directory dir, replacing
// a checkpoint already there as one unit (see ModelFile): SaveCheckpoint owns
// dir, and files put there by hand do not survive a new save (pass them in
// c.Files). An existing dir that is not a checkpoint (no manifest) and not
// empty is an error, so a wrong path cannot delete unrelated files.
func SaveCheckpoint(dir string, p *Params, c Checkpoint) (err error) {
	dir = filepath.Clean(dir)
	if c.State != nil && c.DType != safetensors.F32 {
		return fmt.Errorf("nn: checkpoint %s: a training checkpoint keeps F32 weights (asked for %v)", dir, c.DType)
	}
	if err := checkReplaceable(dir); err != nil {
		return err
	}
	for name := range c.Files {
		if name == "" || name != filepath.Base(name) || name[0] == '.' || isCheckpointFile(name) {
			return fmt.Errorf("nn: checkpoint %s: bad extra file name %q", dir, name)
		}
	}

	// Marshal the small parts first: a config that cannot be encoded or a
	// generator whose state cannot be read fails before any file exists.
	var config []byte
	if c.Config != nil {
		if config, err = json.MarshalIndent(c.Config, "", "  "); err != nil {
			return fmt.Errorf("nn: checkpoint %s: %s: %w", dir, ConfigFile, err)
		}
		config = append(config, '\n')
	}
	var state []byte
	var optimTensors []safetensors.Tensor
	if st := c.State; st != nil {
		sf := stateFile{Step: st.Step, DataPos: st.DataPos, Data: st.Data}
		if p.RNG != nil {
			rs, err := paramsRandState(p)
			if err != nil {
				return fmt.Errorf("nn: checkpoint %s: Params.RNG: %w", dir, err)
			}
			if sf.ParamsRNG, err = rs.MarshalBinary(); err != nil {
				return fmt.Errorf("nn: checkpoint %s: Params.RNG: %w", dir, err)
			}
		}
		if len(st.RNGs) > 0 {
			sf.RNGs = map[string][]byte{}
			for name, r := range st.RNGs {
				b, err := r.MarshalBinary()
				if err != nil {
					return fmt.Errorf("nn: checkpoint %s: random generator %q: %w", dir, name, err)
				}
				sf.RNGs[name] = b
			}
		}
		if st.Optimizer != nil {
			ostate := st.Optimizer.State()
			sf.Optimizer = &optimMeta{Kind: ostate.Kind, Step: ostate.Step, ParamSteps: ostate.ParamSteps}
			for _, t := range ostate.Tensors {
				optimTensors = append(optimTensors, safetensors.Tensor{Name: optimPrefix + t.Name, Shape: t.Shape, Data: t.Data})
			}
		}
		if state, err = json.MarshalIndent(sf, "", "  "); err != nil {
			return fmt.Errorf("nn: checkpoint %s: %s: %w", dir, StateFile, err)
		}
		state = append(state, '\n')
	}
	weights := make([]safetensors.Tensor, 0, len(p.list))
	for _, q := range p.list {
		var d []float32
		if q.T.IsContiguous() && q.T.Device() == tensor.CPU {
			d = q.T.Data() // Encode only reads it
		} else {
			d = q.T.ToSlice()
		}
		weights = append(weights, safetensors.Tensor{Name: q.Name, DType: c.DType, Shape: q.T.Shape(), Data: d})
	}

	tmp, err := os.MkdirTemp(filepath.Dir(dir), "."+filepath.Base(dir)+".tmp-*")
	if err != nil {
		return fmt.Errorf("nn: checkpoint %s: %w", dir, err)
	}
	defer func() {
		if err != nil {
			os.RemoveAll(tmp)
		}
	}()
	m := manifest{Format: manifestFormat, Version: manifestVersion, WeightsDType: c.DType.String(), Files: map[string]fileSum{}}
	write := func(name string, fn func(io.Writer) error) error {
		var sum fileSum
		err := atomicfile.WriteFile(filepath.Join(tmp, name), func(w io.Writer) error {
			h := sha256.New()
			cw := &countWriter{w: io.MultiWriter(w, h)}
			if err := fn(cw); err != nil {
				return err
			}
			sum = fileSum{Size: cw.n, SHA256: hex.EncodeToString(h.Sum(nil))}
			return nil
		})
		if err != nil {
			return fmt.Errorf("nn: checkpoint %s: %s: %w", dir, name, err)
		}
		m.Files[name] = sum
		return nil
	}
	writeBytes := func(name string, b []byte) error {
		return write(name, func(w io.Writer) error { _, err := w.Write(b); return err })
	}
	// writeTensors writes a safetensors file and records each tensor's sum
	// over the values a load will see: the data itself for F32, the values
	// read back from the encoding for BF16 and F16, which round.
	writeTensors := func(name string, ts []safetensors.Tensor, meta map[string]string) error {
		sums := make(map[string]string, len(ts))
		if c.DType == safetensors.F32 || name != ModelFile {
			for _, t := range ts {
				sums[t.Name] = tensorSum(t.Data)
			}
			if err := write(name, func(w io.Writer) error { return safetensors.Encode(w, ts, meta) }); err != nil {
				return err
			}
		} else {
			var buf bytes.Buffer
			if err := safetensors.Encode(&buf, ts, meta); err != nil {
				return fmt.Errorf("nn: checkpoint %s: %s: %w", dir, name, err)
			}
			back, _, err := safetensors.Decode(buf.Bytes())
			if err != nil {
				return fmt.Errorf("nn: checkpoint %s: %s: reading back: %w", dir, name, err)
			}
			for _, t := range back {
				sums[t.Name] = tensorSum(t.Data)
			}
			if err := writeBytes(name, buf.Bytes()); err != nil {
				return err
			}
		}
		entry := m.Files[name]
		entry.Tensors = sums
		m.Files[name] = entry
		return nil
	}
	if err = writeTensors(ModelFile, weights, map[string]string{"format": "pt"}); err != nil {
		return err
	}
	if config != nil {
		if err = writeBytes(ConfigFile, config); err != nil {
			return err
		}
	}
	if c.State != nil {
		if c.State.Optimizer != nil {
			if err = writeTensors(OptimizerFile, optimTensors, nil); err != nil {
				return err
			}
		}
		if err = writeBytes(StateFile, state); err != nil {
			return err
		}
	}
	for _, name := range sortedKeys(c.Files) {
		if err = writeBytes(name, c.Files[name]); err != nil {
			return err
		}
	}
	mb, _ := json.MarshalIndent(m, "", "  ") // plain strings and ints
	if err = writeBytes(ManifestFile, append(mb, '\n')); err != nil {
		return err
	}
	return swapDir(tmp, dir)
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.n += int64(n)
	return n, err
}

func isCheckpointFile(name string) bool {
	switch name {
	case ModelFile, ConfigFile, OptimizerFile, StateFile, ManifestFile:
		return true
	}
	return false
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// checkReplaceable allows dir to be absent, empty, or a checkpoint.
func checkReplaceable(dir string) error {
	fi, err := os.Lstat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("nn: checkpoint %s: %w", dir, err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("nn: checkpoint %s: exists and is not a directory", dir)
	}
	if _, err := os.Stat(filepath.Join(dir, ManifestFile)); err == nil {
		return nil
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("nn: checkpoint %s: %w", dir, err)
	}
	if len(ents) > 0 {
		return fmt.Errorf("nn: checkpoint %s: directory holds files but no %s; not replacing it", dir, ManifestFile)
	}
	return nil
}

// swapDir puts the complete directory tmp at dir. An old dir is renamed
// aside first and removed last; a crash between the two renames leaves no
// dir (never a partial one) and the old checkpoint beside it.
func swapDir(tmp, dir string) error {
	syncDir(tmp)
	old := ""
	if _, err := os.Lstat(dir); err == nil {
		old = tmp + ".old"
		if err := os.Rename(dir, old); err != nil {
			return fmt.Errorf("nn: checkpoint %s: move the old checkpoint aside: %w", dir, err)
		}
	}
	if err := os.Rename(tmp, dir); err != nil {
		if old != "" {
			os.Rename(old, dir)
		}
		return fmt.Errorf("nn: checkpoint %s: %w", dir, err)
	}
	syncDir(filepath.Dir(dir))
	if old != "" {
		os.RemoveAll(old)
	}
	return nil
}

func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync() // best effort: some file systems cannot sync a directory
		d.Close()
	}
}

// ReadCheckpointFile returns the file name of the checkpoint in dir (e.g.
// ConfigFile or an extra file), after checking it against the manifest.
func ReadCheckpointFile(dir, name string) ([]byte, error) {
	m, err := readManifest(dir)
	if err != nil {
		return nil, err
	}
	return m.read(dir, name)
}

// ReadConfig decodes the checkpoint's config.json into v (a pointer), e.g.
// to build the model before LoadCheckpoint fills in its weights.
func ReadConfig(dir string, v any) error {
	b, err := ReadCheckpointFile(dir, ConfigFile)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("nn: checkpoint %s: %w", filepath.Join(dir, ConfigFile), err)
	}
	return nil
}

func readManifest(dir string) (*manifest, error) {
	path := filepath.Join(dir, ManifestFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("nn: checkpoint %s: no %s: not a checkpoint, or an incomplete one", dir, ManifestFile)
	}
	if err != nil {
		return nil, fmt.Errorf("nn: checkpoint %s: %w", dir, err)
	}
	var m manifest
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("nn: checkpoint %s: %w", path, err)
	}
	if m.Format != manifestFormat || m.Version != manifestVersion {
		return nil, fmt.Errorf("nn: checkpoint %s: format %q version %d, want %q version %d",
			path, m.Format, m.Version, manifestFormat, manifestVersion)
	}
	if _, ok := m.Files[ModelFile]; !ok {
		return nil, fmt.Errorf("nn: checkpoint %s: lists no %s", path, ModelFile)
	}
	return &m, nil
}

// read returns a file listed in the manifest, checked against it.
func (m *manifest) read(dir, name string) ([]byte, error) {
	path := filepath.Join(dir, name)
	sum, ok := m.Files[name]
	if !ok {
		return nil, fmt.Errorf("nn: checkpoint %s: has no %s", dir, name)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("nn: checkpoint %s: %w", dir, err)
	}
	if err := sum.check(path, b); err != nil {
		return nil, err
	}
	return b, nil
}

func (s fileSum) check(path string, b []byte) error {
	if int64(len(b)) != s.Size {
		return fmt.Errorf("nn: checkpoint %s: %d bytes, the manifest says %d (truncated or replaced)", path, len(b), s.Size)
	}
	h := sha256.Sum256(b)
	if hex.EncodeToString(h[:]) != s.SHA256 {
		return fmt.Errorf("nn: checkpoint %s: SHA-256 differs from the manifest (corrupt or replaced)", path)
	}
	return nil
}

// readTensors reads and decodes a safetensors file of the checkpoint and
// runs match on its tensors (path is the file). The decoder's and match's
// errors name the file and the tensor; the checksums are checked last, and a
// file that differs from them is blamed on the first tensor that does.
func (m *manifest) readTensors(dir, name string, match func(path string, ts []safetensors.Tensor) error) ([]safetensors.Tensor, error) {
	path := filepath.Join(dir, name)
	sum, ok := m.Files[name]
	if !ok {
		return nil, fmt.Errorf("nn: checkpoint %s: has no %s", dir, name)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("nn: checkpoint %s: %w", dir, err)
	}
	ts, _, err := safetensors.Decode(b)
	if err != nil {
		var fe *safetensors.FormatError
		if errors.As(err, &fe) {
			c := *fe
			c.File = path
			return nil, &c
		}
		return nil, fmt.Errorf("nn: checkpoint %s: %w", path, err)
	}
	if err := match(path, ts); err != nil {
		return nil, err
	}
	if err := sum.check(path, b); err != nil {
		for _, t := range ts { // blame the tensor, if the damage is in one
			if want, ok := sum.Tensors[t.Name]; ok && tensorSum(t.Data) != want {
				return nil, fmt.Errorf("nn: checkpoint %s: tensor %q: values differ from the manifest's checksum (corrupt or replaced)", path, t.Name)
			}
		}
		return nil, err
	}
	return ts, nil
}

// tensorSum is the SHA-256 of x's little-endian float32 bits, in hex.
func tensorSum(x []float32) string {
	h := sha256.New()
	var buf [4096]byte
	for len(x) > 0 {
		n := min(len(x), len(buf)/4)
		for i, v := range x[:n] {
			binary.LittleEndian.PutUint32(buf[4*i:], math.Float32bits(v))
		}
		h.Write(buf[:4*n])
		x = x[n:]
	}
	return hex.EncodeToString(h.Sum(nil))
}

// LoadCheckpoint loads the checkpoint in dir into p and, when st is non-nil,
// the training state into st (its Optimizer, Params.RNG and the generators
// of st.RNGs in place; Step, DataPos and Data by assignment).
//
// It checks everything before it changes anything: the manifest, every
// file's size and checksum, that the weights are exactly p's parameters
// (no tensor missing or extra, the same shapes, the manifest's dtype, F32
// for training), and that the optimizer state and generator states fit. Any
// problem returns an error naming the file and, where there is one, the
// tensor, and leaves p, st and its optimizer and generators unchanged.
func LoadCheckpoint(dir string, p *Params, st *TrainState) error {
	m, err := readManifest(dir)
	if err != nil {
		return err
	}
	dtype, ok := parseDTypeName(m.WeightsDType)
	if !ok {
		return fmt.Errorf("nn: checkpoint %s: unknown weights dtype %q", filepath.Join(dir, ManifestFile), m.WeightsDType)
	}
	if st != nil && dtype != safetensors.F32 {
		return fmt.Errorf("nn: checkpoint %s: weights are %v, resuming training needs F32", dir, dtype)
	}
	weights, err := m.readTensors(dir, ModelFile, func(path string, ts []safetensors.Tensor) error {
		return matchParams(path, ts, p, dtype)
	})
	if err != nil {
		return err
	}

	type restore struct {
		r RandState
		b []byte
	}
	var (
		sf       stateFile
		ostate   *OptimState
		restores []restore
	)
	if st != nil {
		path := filepath.Join(dir, StateFile)
		b, err := m.read(dir, StateFile)
		if err != nil {
			return err
		}
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&sf); err != nil {
			return fmt.Errorf("nn: checkpoint %s: %w", path, err)
		}
		if p.RNG != nil {
			rs, err := paramsRandState(p)
			if err != nil {
				return fmt.Errorf("nn: checkpoint %s: Params.RNG: %w", path, err)
			}
			if sf.ParamsRNG == nil {
				return fmt.Errorf("nn: checkpoint %s: no state for Params.RNG", path)
			}
			if err := tryUnmarshal(rs, sf.ParamsRNG); err != nil {
				return fmt.Errorf("nn: checkpoint %s: Params.RNG: %w", path, err)
			}
			restores = append(restores, restore{rs, sf.ParamsRNG})
		}
		for _, name := range sortedKeys(st.RNGs) {
			b, ok := sf.RNGs[name]
			if !ok {
				return fmt.Errorf("nn: checkpoint %s: no state for random generator %q", path, name)
			}
			if err := tryUnmarshal(st.RNGs[name], b); err != nil {
				return fmt.Errorf("nn: checkpoint %s: random generator %q: %w", path, name, err)
			}
			restores = append(restores, restore{st.RNGs[name], b})
		}
		for _, name := range sortedKeys(sf.RNGs) {
			if _, ok := st.RNGs[name]; !ok {
				return fmt.Errorf("nn: checkpoint %s: holds random generator %q, which TrainState.RNGs lacks", path, name)
			}
		}
		if st.Optimizer != nil {
			if sf.Optimizer == nil {
				return fmt.Errorf("nn: checkpoint %s: holds no optimizer state", dir)
			}
			s := OptimState{Kind: sf.Optimizer.Kind, Step: sf.Optimizer.Step, ParamSteps: sf.Optimizer.ParamSteps}
			_, err := m.readTensors(dir, OptimizerFile, func(path string, ts []safetensors.Tensor) error {
				for _, t := range ts {
					name, ok := strings.CutPrefix(t.Name, optimPrefix)
					if !ok {
						return fmt.Errorf("nn: checkpoint %s: tensor %q: not an optimizer buffer (no %q prefix)", path, t.Name, optimPrefix)
					}
					if t.DType != safetensors.F32 {
						return fmt.Errorf("nn: checkpoint %s: tensor %q: dtype %v, optimizer state must be F32", path, t.Name, t.DType)
					}
					s.Tensors = append(s.Tensors, StateTensor{Name: name, Shape: t.Shape, Data: t.Data})
				}
				if err := st.Optimizer.CheckState(s); err != nil {
					return fmt.Errorf("nn: checkpoint %s: %w", path, err)
				}
				return nil
			})
			if err != nil {
				return err
			}
			ostate = &s
		}
	}

	// Everything is checked. SetState checks again before it copies, so it
	// goes first: should it refuse, nothing has changed yet.
	if ostate != nil {
		if err := st.Optimizer.SetState(*ostate); err != nil {
			return fmt.Errorf("nn: checkpoint %s: %w", filepath.Join(dir, OptimizerFile), err)
		}
	}
	for _, t := range weights {
		setData(p.byName[t.Name].T, t.Data)
	}
	if st != nil {
		for _, r := range restores {
			r.r.UnmarshalBinary(r.b) // checked on a scratch copy above
		}
		st.Step, st.DataPos, st.Data = sf.Step, sf.DataPos, sf.Data
	}
	return nil
}

// matchParams checks that ts are exactly p's parameters, with their shapes
// and dtype, and that every parameter can take a copy.
func matchParams(path string, ts []safetensors.Tensor, p *Params, dtype safetensors.DType) error {
	seen := make(map[string]bool, len(ts))
	for _, t := range ts {
		q := p.byName[t.Name]
		if q == nil {
			return fmt.Errorf("nn: checkpoint %s: tensor %q: no such parameter in the model", path, t.Name)
		}
		if !slices.Equal(t.Shape, q.T.Shape()) {
			return fmt.Errorf("nn: checkpoint %s: tensor %q: shape %v, the parameter has %v", path, t.Name, t.Shape, q.T.Shape())
		}
		if t.DType != dtype {
			return fmt.Errorf("nn: checkpoint %s: tensor %q: dtype %v, the manifest says %v", path, t.Name, t.DType, dtype)
		}
		if !q.T.IsContiguous() {
			return fmt.Errorf("nn: checkpoint %s: tensor %q: the parameter is not contiguous", path, t.Name)
		}
		seen[t.Name] = true
	}
	for _, q := range p.list {
		if !seen[q.Name] {
			return fmt.Errorf("nn: checkpoint %s: tensor %q: missing", path, q.Name)
		}
	}
	return nil
}

func parseDTypeName(s string) (safetensors.DType, bool) {
	for _, d := range []safetensors.DType{safetensors.F32, safetensors.BF16, safetensors.F16} {
		if d.String() == s {
			return d, true
		}
	}
	return 0, false
}

// tryUnmarshal checks that b restores r, on a scratch value of r's type when
// r is a pointer (as *rand.PCG and *rand.ChaCha8 are), so r is untouched.
func tryUnmarshal(r RandState, b []byte) error {
	t := reflect.TypeOf(r)
	if t.Kind() != reflect.Pointer {
		return nil
	}
	scratch, ok := reflect.New(t.Elem()).Interface().(RandState)
	if !ok {
		return nil
	}
	return scratch.UnmarshalBinary(b)
}

// paramsRandState returns the source of p.RNG, whose state a checkpoint
// saves. A generator swapped in by hand has no reachable state: an error.
func paramsRandState(p *Params) (RandState, error) {
	if p.rngSrc == nil || p.RNG == nil {
		return nil, errors.New("Params.RNG was not made by NewParams, so its state cannot be saved")
	}
	return p.rngSrc, nil
}
