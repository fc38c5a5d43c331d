package tensor

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"

	"github.com/kiln-ml/kiln/kernels/cuda"
)

// Device says where a tensor's storage lives: CPU, or CUDA(n), GPU n, which
// needs a build with -tags cuda (or cudaemu, the CPU emulator of the
// kernels) and a usable GPU at run time. See the package doc (# Devices).
type Device struct {
	Kind  string // "cpu" or "cuda"
	Index int    // the GPU ordinal
}

// CPU is the host device.
var CPU = Device{Kind: "cpu"}

func (d Device) String() string {
	if d.Kind == "cpu" {
		return "cpu"
	}
	return fmt.Sprintf("%s:%d", d.Kind, d.Index)
}

// storage is the flat buffer that views share: host memory (data), or
// device memory (buf on the GPU cu; data is nil).
type storage struct {
	data   []float32
	device Device
	cu     *cudaDev
	buf    cuda.Buffer
}

// Tensor is a float32 N-d array: a view (shape, strides, offset) over shared
// storage, plus what autograd needs. The zero value is not usable; build
// tensors with the constructors below.
type Tensor struct {
	shape   []int
	strides []int
	offset  int
	st      *storage

	requiresGrad bool
	grad         *Tensor
	node         *node // the op that made this tensor; nil for leaves
}

// ---- constructors ----

// FromSlice wraps data (not copied: the tensor owns it from now on) as a
// contiguous tensor of the given shape. Panics if len(data) != prod(shape).
func FromSlice(data []float32, shape ...int) *Tensor {
	n := checkShape("tensor.FromSlice", shape)
	if len(data) != n {
		panic(opErr("tensor.FromSlice", "len(data)=%d does not match shape %v (%d elements)", len(data), shape, n))
	}
	return newContig(data, shape)
}

// New copies data into a new contiguous tensor of the given shape.
func New(data []float32, shape ...int) *Tensor {
	n := checkShape("tensor.New", shape)
	if len(data) != n {
		panic(opErr("tensor.New", "len(data)=%d does not match shape %v (%d elements)", len(data), shape, n))
	}
	return newContig(append([]float32(nil), data...), shape)
}

// Zeros returns a new tensor of zeros.
func Zeros(shape ...int) *Tensor {
	n := checkShape("tensor.Zeros", shape)
	return newContig(allocZeroed(n), shape)
}

// Full returns a new tensor filled with v.
func Full(v float32, shape ...int) *Tensor {
	t := Zeros(shape...)
	for i := range t.st.data {
		t.st.data[i] = v
	}
	return t
}

// Ones returns a new tensor of ones.
func Ones(shape ...int) *Tensor { return Full(1, shape...) }

// Scalar returns a 0-d tensor.
func Scalar(v float32) *Tensor { return newContig([]float32{v}, nil) }

// Arange returns [0, 1, ..., n-1] as a 1-d tensor.
func Arange(n int) *Tensor {
	t := Zeros(n)
	for i := range t.st.data {
		t.st.data[i] = float32(i)
	}
	return t
}

// NewRNG returns the deterministic generator every random op takes: the same
// seed gives the same numbers on every machine.
func NewRNG(seed uint64) *rand.Rand { return rand.New(NewPCG(seed)) }

// NewPCG returns the source behind NewRNG; keep it to save and restore the
// generator's state (it implements encoding.BinaryMarshaler).
func NewPCG(seed uint64) *rand.PCG { return rand.NewPCG(seed, seed^0x9e3779b97f4a7c15) }

// Rand returns uniform [lo, hi) values.
func Rand(rng *rand.Rand, lo, hi float32, shape ...int) *Tensor {
	t := Zeros(shape...)
	for i := range t.st.data {
		t.st.data[i] = lo + (hi-lo)*rng.Float32()
	}
	return t
}

// Randn returns standard normal values times std.
func Randn(rng *rand.Rand, std float32, shape ...int) *Tensor {
	t := Zeros(shape...)
	for i := range t.st.data {
		t.st.data[i] = float32(rng.NormFloat64()) * std
	}
	return t
}

func newContig(data []float32, shape []int) *Tensor {
	sh := append([]int(nil), shape...)
	return &Tensor{shape: sh, strides: contigStrides(sh), st: &storage{data: data, device: CPU}}
}

func checkShape(op string, shape []int) int {
	n := 1
	for _, d := range shape {
		if d < 0 {
			panic(opErr(op, "negative dimension in shape %v", shape))
		}
		n *= d
	}
	return n
}

func contigStrides(shape []int) []int {
	s := make([]int, len(shape))
	acc := 1
	for i := len(shape) - 1; i >= 0; i-- {
		s[i] = acc
		acc *= shape[i]
	}
	return s
}

func numel(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

// ---- accessors ----

// Shape returns a copy of the shape.
func (t *Tensor) Shape() []int { return append([]int(nil), t.shape...) }

// Strides returns a copy of the strides (in elements).
func (t *Tensor) Strides() []int { return append([]int(nil), t.strides...) }

// Dim returns the size of dimension d (negative d counts from the end).
func (t *Tensor) Dim(d int) int { return t.shape[t.axis("tensor.Dim", d)] }

// NDim returns the number of dimensions.
func (t *Tensor) NDim() int { return len(t.shape) }

// Numel returns the number of elements.
func (t *Tensor) Numel() int { return numel(t.shape) }

// Device returns where the storage lives.
func (t *Tensor) Device() Device { return t.st.device }

// IsContiguous reports whether the elements are dense in row-major order.
func (t *Tensor) IsContiguous() bool {
	acc := 1
	for i := len(t.shape) - 1; i >= 0; i-- {
		if t.shape[i] != 1 && t.strides[i] != acc {
			return false
		}
		acc *= t.shape[i]
	}
	return true
}

// SharesStorage reports whether t and u are views of the same buffer.
func (t *Tensor) SharesStorage(u *Tensor) bool { return t.st == u.st }

// Data returns the elements of a contiguous tensor as a slice of its storage
// (writes show through every view). Panics if t is not contiguous: call
// Contiguous first, or ToSlice for a copy. Panics on a device tensor, whose
// storage the host cannot address: use ToSlice (a downloaded copy) or To(CPU).
func (t *Tensor) Data() []float32 {
	if t.st.cu != nil {
		panic(opErr("tensor.Data", "tensor of shape %v is on %v, not in host memory: use ToSlice (a copy) or To(tensor.CPU)", t.shape, t.st.device))
	}
	if !t.IsContiguous() {
		panic(opErr("tensor.Data", "tensor of shape %v strides %v is not contiguous", t.shape, t.strides))
	}
	return t.st.data[t.offset : t.offset+t.Numel()]
}

// ToSlice returns a copy of the elements in row-major order. On a device
// tensor it downloads them, waiting for the device's queued work.
func (t *Tensor) ToSlice() []float32 {
	if t.st.cu != nil {
		return t.download()
	}
	out := make([]float32, t.Numel())
	copyInto(out, t)
	return out
}

// Item returns the value of a one-element tensor (downloaded from a device,
// waiting for its queued work).
func (t *Tensor) Item() float32 {
	if t.Numel() != 1 {
		panic(opErr("tensor.Item", "tensor of shape %v has %d elements, want 1", t.shape, t.Numel()))
	}
	if t.st.cu != nil {
		return t.devElem("tensor.Item", t.offset)
	}
	return t.st.data[t.offset]
}

// At returns the element at the given index (downloaded from a device,
// waiting for its queued work: slow in a loop, use ToSlice).
func (t *Tensor) At(idx ...int) float32 {
	if len(idx) != len(t.shape) {
		panic(opErr("tensor.At", "%d indices for shape %v", len(idx), t.shape))
	}
	off := t.offset
	for i, v := range idx {
		if v < 0 || v >= t.shape[i] {
			panic(opErr("tensor.At", "index %v out of range for shape %v", idx, t.shape))
		}
		off += v * t.strides[i]
	}
	if t.st.cu != nil {
		return t.devElem("tensor.At", off)
	}
	return t.st.data[off]
}

// axis normalises a possibly negative axis, panicking with op's name if bad.
func (t *Tensor) axis(op string, d int) int {
	n := len(t.shape)
	if d < -n || d >= n {
		panic(opErr(op, "axis %d out of range for shape %v", d, t.shape))
	}
	if d < 0 {
		d += n
	}
	return d
}

func (t *Tensor) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Tensor%v", t.shape)
	if t.Numel() <= 16 {
		fmt.Fprintf(&b, "%v", t.ToSlice())
	}
	if t.requiresGrad {
		b.WriteString(" requires_grad")
	}
	return b.String()
}

// ---- strided iteration ----

// coalesce merges adjacent dims that are contiguous with each other in every
// operand (and drops size-1 dims), so iteration runs over long inner rows.
func coalesce(shape []int, strides ...[]int) ([]int, [][]int) {
	var sh []int
	st := make([][]int, len(strides))
	for d := range shape {
		if shape[d] == 1 {
			continue
		}
		if len(sh) > 0 {
			last := len(sh) - 1
			ok := true
			for k := range strides {
				if st[k][last] != strides[k][d]*shape[d] {
					ok = false
					break
				}
			}
			if ok {
				sh[last] *= shape[d]
				for k := range strides {
					st[k][last] = strides[k][d]
				}
				continue
			}
		}
		sh = append(sh, shape[d])
		for k := range strides {
			st[k] = append(st[k], strides[k][d])
		}
	}
	if len(sh) == 0 {
		sh = []int{1}
		for k := range st {
			st[k] = []int{0}
		}
	}
	return sh, st
}

// forRows walks the rows [lo,hi) of a coalesced iteration space (a row being
// the last dim) and calls fn with each operand's row offset. offs is reused.
func forRows(shape []int, strides [][]int, base []int, lo, hi int, fn func(offs []int)) {
	nd := len(shape) - 1
	idx := make([]int, nd)
	offs := make([]int, len(strides))
	// Decompose lo into an index.
	r := lo
	for d := nd - 1; d >= 0; d-- {
		idx[d] = r % shape[d]
		r /= shape[d]
	}
	for k := range strides {
		offs[k] = base[k]
		for d := 0; d < nd; d++ {
			offs[k] += idx[d] * strides[k][d]
		}
	}
	for row := lo; row < hi; row++ {
		fn(offs)
		for d := nd - 1; d >= 0; d-- {
			idx[d]++
			for k := range strides {
				offs[k] += strides[k][d]
			}
			if idx[d] < shape[d] {
				break
			}
			for k := range strides {
				offs[k] -= strides[k][d] * shape[d]
			}
			idx[d] = 0
		}
	}
}

// copyInto writes t's elements in row-major order into dst. The two
// innermost (coalesced) dims are looped directly, so short rows (a permuted
// patch of 4 floats) do not pay a call each.
func copyInto(dst []float32, t *Tensor) {
	if t.IsContiguous() {
		copy(dst, t.st.data[t.offset:t.offset+t.Numel()])
		return
	}
	sh, st := coalesce(t.shape, contigStrides(t.shape), t.strides)
	if len(sh) == 1 {
		sh, st = []int{1, sh[0]}, [][]int{{0, st[0][0]}, {0, st[1][0]}}
	}
	nd := len(sh)
	n1, n0 := sh[nd-2], sh[nd-1]
	sd1, ss1 := st[0][nd-2], st[1][nd-2]
	ss0 := st[1][nd-1] // the destination is contiguous: sd0 == 1
	outer := numel(sh[:nd-2])
	src := t.st.data
	plane := func(od, os int) {
		for i := 0; i < n1; i++ {
			d := dst[od+i*sd1 : od+i*sd1+n0]
			o := os + i*ss1
			if ss0 == 1 {
				copy(d, src[o:o+n0])
				continue
			}
			for j := range d {
				d[j] = src[o+j*ss0]
			}
		}
	}
	if outer == 1 {
		plane(0, t.offset)
		return
	}
	osh, ost := sh[:nd-1], [][]int{st[0][:nd-1], st[1][:nd-1]}
	parallelRows(outer, n1*n0, func(lo, hi int) {
		// forRows walks all but the last dim of osh: exactly the outer dims.
		forRows(osh, ost, []int{0, t.offset}, lo, hi, func(o []int) { plane(o[0], o[1]) })
	})
}

// ---- errors ----

// OpError is the panic value of programmer errors (bad shapes, bad axes):
// it names the op and the shapes involved.
type OpError struct {
	Op  string
	Msg string
}

func (e *OpError) Error() string { return e.Op + ": " + e.Msg }

func opErr(op, format string, args ...any) *OpError {
	return &OpError{Op: op, Msg: fmt.Sprintf(format, args...)}
}

var (
	negInf = float32(math.Inf(-1))
)
