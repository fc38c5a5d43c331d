package tensor

import (
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kiln-ml/kiln/kernels/cuda"
)

// Device tensors: storage in GPU memory, ops dispatched to kernels/cuda.
// The rules are in the package doc (# Devices); this file holds the device
// registry, the storage's ownership and the copies every device op shares.

// CUDA is GPU ordinal n. It is only a name: To (or Open) opens the GPU the
// first time it is used, and fails with a clear error in a build without
// -tags cuda (or cudaemu) or on a machine without a usable GPU.
func CUDA(ordinal int) Device { return Device{Kind: "cuda", Index: ordinal} }

// Open opens d (once per process; later calls return the first result)
// and reports why it cannot be used. The CPU is always open.
func (d Device) Open() error {
	switch d.Kind {
	case "cpu":
		return nil
	case "cuda":
		_, err := openCUDA(d.Index)
		return err
	}
	return fmt.Errorf("tensor: unknown device %q", d.String())
}

// DeviceError is the panic value of an op whose device work failed (the
// driver's error: out of memory, a kernel fault surfacing at a later call).
// Ops have no error result, and such a failure is neither a programmer
// error nor bad user data: it names the op and wraps the cuda error.
type DeviceError struct {
	Op  string
	Err error
}

func (e *DeviceError) Error() string { return e.Op + ": " + e.Err.Error() }
func (e *DeviceError) Unwrap() error { return e.Err }

// cudaDev is one opened GPU.
type cudaDev struct {
	d   *cuda.Device
	dev Device
	one cuda.Buffer // a 1.0 on the device: strided copies are x*1 broadcasts

	gcMu      sync.Mutex
	gcAt      int64 // live device bytes at which alloc next starts a collection
	gcPending bool  // one it started has not finished
}

// deviceGCFloor is the live device memory below which alloc never starts a
// collection itself (a variable for the tests).
var deviceGCFloor int64 = 1 << 30

var (
	cudaMu   sync.Mutex
	cudaDevs = map[int]*cudaDev{}
	cudaErrs = map[int]error{}
)

func openCUDA(ordinal int) (*cudaDev, error) {
	cudaMu.Lock()
	defer cudaMu.Unlock()
	if c := cudaDevs[ordinal]; c != nil {
		return c, nil
	}
	if err := cudaErrs[ordinal]; err != nil {
		return nil, err
	}
	c, err := func() (*cudaDev, error) {
		if ordinal < 0 {
			return nil, errors.New("negative ordinal")
		}
		d, err := cuda.Open(ordinal)
		if err != nil {
			return nil, err
		}
		one, err := d.Alloc(1)
		if err == nil {
			err = d.Upload(one, []float32{1})
		}
		if err != nil {
			d.Close()
			return nil, err
		}
		return &cudaDev{d: d, dev: CUDA(ordinal), one: one}, nil
	}()
	if err != nil {
		err = fmt.Errorf("tensor: cannot use %s: %w", CUDA(ordinal), err)
		cudaErrs[ordinal] = err
		return nil, err
	}
	cudaDevs[ordinal] = c
	return c, nil
}

// must panics with a *DeviceError when a device call failed.
func must(op string, err error) {
	if err != nil {
		panic(&DeviceError{Op: op, Err: err})
	}
}

// alloc returns a buffer of n elements. Device buffers go back to the
// allocator's cache when their storage is garbage collected, which Go's GC
// does not schedule by device memory (a step's activations weigh little on
// the Go heap). So alloc starts a collection itself, in the background,
// when the live device bytes pass twice what its last one left (and at
// least deviceGCFloor), as GOGC=100 does for the heap; and when
// the device is full it runs the GC, waits for the cleanups and tries
// again.
func (c *cudaDev) alloc(op string, n int) cuda.Buffer {
	if live := c.d.Stats().LiveBytes; live >= deviceGCFloor {
		c.gcMu.Lock()
		if live >= c.gcAt && !c.gcPending {
			c.gcPending = true
			go c.collect()
		}
		c.gcMu.Unlock()
	}
	b, err := c.d.Alloc(n)
	for try := 0; err != nil && try < 3; try++ {
		runtime.GC()
		time.Sleep(time.Duration(1+try) * 10 * time.Millisecond) // the cleanups run on their own goroutine
		b, err = c.d.Alloc(n)
	}
	must(op, err)
	return b
}

// collect runs a collection, gives the cleanups it queued a moment, and
// sets the next trigger at twice the live device bytes that remain.
func (c *cudaDev) collect() {
	runtime.GC()
	time.Sleep(time.Millisecond) // the cleanups run on their own goroutine
	live := c.d.Stats().LiveBytes
	c.gcMu.Lock()
	c.gcAt, c.gcPending = max(deviceGCFloor, 2*live), false
	c.gcMu.Unlock()
}

// newDev returns an uninitialised contiguous tensor on c. Its buffer goes
// back to c's cache when the storage is collected (runtime.AddCleanup): no
// kernel can be queued on it after that, and the stream runs everything
// queued before any later use of the reused memory.
func newDev(c *cudaDev, op string, shape []int) *Tensor {
	sh := append([]int(nil), shape...)
	b := c.alloc(op, numel(sh))
	st := &storage{device: c.dev, cu: c, buf: b}
	d := c.d
	runtime.AddCleanup(st, func(b cuda.Buffer) { d.Free(b) }, b)
	return &Tensor{shape: sh, strides: contigStrides(sh), st: st}
}

// zerosDev is Zeros on c.
func zerosDev(c *cudaDev, op string, shape []int) *Tensor {
	t := newDev(c, op, shape)
	must(op, c.d.Fill(t.st.buf, 0))
	return t
}

// onDevice returns the GPU of the operands (nil: all on the host) and
// panics, naming op and the devices, when they are not all on one device.
// nil operands are skipped.
func onDevice(op string, ts ...*Tensor) *cudaDev {
	var first *Tensor
	for _, t := range ts {
		if t == nil {
			continue
		}
		if first == nil {
			first = t
			continue
		}
		if t.st.device != first.st.device {
			panic(opErr(op, "operands on different devices: %v (shape %v) and %v (shape %v); move one with To", first.st.device, first.shape, t.st.device, t.shape))
		}
	}
	if first == nil {
		return nil
	}
	return first.st.cu
}

// To returns t on device d: t itself when it is already there, else a
// contiguous copy (an upload, or a download, which waits for the device).
// The copy is differentiable: its gradient goes back to t's device. It
// fails when d cannot be opened (see CUDA).
func (t *Tensor) To(d Device) (*Tensor, error) {
	src := t.st.device
	if d == src {
		return t, nil
	}
	var out *Tensor
	switch d.Kind {
	case "cpu":
		out = newContig(t.ToSlice(), t.shape)
	case "cuda":
		c, err := openCUDA(d.Index)
		if err != nil {
			return nil, err
		}
		host := t
		if t.st.cu != nil { // another GPU: through the host
			host = newContig(t.ToSlice(), t.shape)
		}
		out = newDev(c, "tensor.To", t.shape)
		must("tensor.To", c.d.Upload(out.st.buf, contigData(host)))
		runtime.KeepAlive(host)
	default:
		return nil, fmt.Errorf("tensor.To: unknown device %q", d.String())
	}
	return record(out, "To", func(g *Tensor) []*Tensor { return []*Tensor{g.MustTo(src)} }, t), nil
}

// MustTo is To that panics when the device cannot be opened (for code that
// opened it already).
func (t *Tensor) MustTo(d Device) *Tensor {
	out, err := t.To(d)
	if err != nil {
		panic(err)
	}
	return out
}

// ---- buffers of views ----

// dbuf is t's device storage from its offset to the end: what a strided
// view of t may read.
func (t *Tensor) dbuf() cuda.Buffer { return t.st.buf.Slice(t.offset, t.st.buf.Len()) }

// cbuf is the buffer of a contiguous device tensor's elements.
func (t *Tensor) cbuf() cuda.Buffer { return t.st.buf.Slice(t.offset, t.offset+t.Numel()) }

// devContig returns t when it is contiguous, else a contiguous device copy.
func devContig(op string, t *Tensor) *Tensor {
	if t.IsContiguous() {
		return t
	}
	out := newDev(t.st.cu, op, t.shape)
	devCopy(op, out.st.buf, t)
	return out
}

// devCopy writes t's elements in row-major order into dst: a memcpy when t
// is contiguous, else a broadcast multiply by a device 1.0 (x*1 is exact)
// that reads t with its strides.
func devCopy(op string, dst cuda.Buffer, t *Tensor) {
	c := t.st.cu
	if t.IsContiguous() {
		must(op, c.d.Copy(dst, t.cbuf()))
		runtime.KeepAlive(t)
		return
	}
	devBinary(op, c, cuda.OpMul, dst, t.shape, t.dbuf(), t.strides, c.one, make([]int, len(t.shape)))
	runtime.KeepAlive(t)
}

// devBinary writes a op b into the contiguous out of the given shape, a and
// b read with element strides (0 along broadcast dims). The dims are
// coalesced first; the kernel takes at most 4, so more are looped over.
func devBinary(op string, c *cudaDev, bop cuda.BinaryOp, out cuda.Buffer, shape []int, a cuda.Buffer, as []int, b cuda.Buffer, bs []int) {
	n := numel(shape)
	if n == 0 {
		return
	}
	sh, st := coalesce(shape, contigStrides(shape), as, bs)
	if len(sh) == 1 && st[1][0] == 1 && st[2][0] == 1 {
		must(op, c.d.Binary(bop, out.Slice(0, n), a.Slice(0, n), b.Slice(0, n)))
		return
	}
	if len(sh) <= 4 {
		must(op, c.d.BinaryBroadcast(bop, out, a, b, sh, st[1], st[2]))
		return
	}
	lead := len(sh) - 4
	inner := numel(sh[lead:])
	outer := numel(sh[:lead])
	for i := 0; i < outer; i++ {
		oo, oa, ob, rem := 0, 0, 0, i
		for d := lead - 1; d >= 0; d-- {
			id := rem % sh[d]
			rem /= sh[d]
			oo += id * st[0][d]
			oa += id * st[1][d]
			ob += id * st[2][d]
		}
		must(op, c.d.BinaryBroadcast(bop, out.Slice(oo, oo+inner), a.Slice(oa, a.Len()), b.Slice(ob, b.Len()), sh[lead:], st[1][lead:], st[2][lead:]))
	}
}

// ---- host access ----

// deviceReads counts the reads of device memory by the host (download and
// devElem: ToSlice, Item, At, To(CPU), and ops that read operands back). The
// tests hold ops that should stay on the device to none.
var deviceReads atomic.Int64

// download copies t's elements in row-major order to the host (waiting for
// the device's queued work).
func (t *Tensor) download() []float32 {
	deviceReads.Add(1)
	out := make([]float32, t.Numel())
	if len(out) == 0 {
		return out
	}
	src := devContig("tensor.ToSlice", t)
	must("tensor.ToSlice", t.st.cu.d.Download(out, src.cbuf()))
	runtime.KeepAlive(src)
	return out
}

// devElem reads the element at storage offset off.
func (t *Tensor) devElem(op string, off int) float32 {
	deviceReads.Add(1)
	v := make([]float32, 1)
	must(op, t.st.cu.d.Download(v, t.st.buf.Slice(off, off+1)))
	runtime.KeepAlive(t)
	return v[0]
}

// setDevElem writes the element at storage offset off (GradCheck's
// perturbations).
func (t *Tensor) setDevElem(op string, off int, v float32) {
	must(op, t.st.cu.d.Upload(t.st.buf.Slice(off, off+1), []float32{v}))
	runtime.KeepAlive(t)
}

// upload copies the host tensor h to a new contiguous tensor on c.
func upload(c *cudaDev, op string, h *Tensor) *Tensor {
	out := newDev(c, op, h.shape)
	if h.Numel() > 0 {
		must(op, c.d.Upload(out.st.buf, contigData(h)))
	}
	return out
}

// scalarOn returns the 0-d tensor v on the device of like.
func scalarOn(v float32, like *Tensor) *Tensor {
	s := Scalar(v)
	if like.st.cu == nil {
		return s
	}
	return upload(like.st.cu, "tensor.Scalar", s)
}

// MoveTo moves a leaf tensor to device d in place: the same *Tensor now
// holds a contiguous copy on d, so that every module holding it sees the
// move (nn.Params.To moves a model's parameters this way). Its gradient is
// dropped; views taken before the move keep the old storage. It panics on
// a tensor made by an op (not a leaf) and returns To's error when d cannot
// be opened.
func (t *Tensor) MoveTo(d Device) error {
	if t.node != nil {
		panic(opErr("tensor.MoveTo", "tensor of shape %v is not a leaf (made by %s)", t.shape, t.node.op))
	}
	if t.st.device == d {
		return nil
	}
	u, err := t.Detach().To(d)
	if err != nil {
		return err
	}
	t.st, t.offset, t.strides, t.grad = u.st, 0, u.strides, nil
	return nil
}

// CopyFrom writes src's elements into the view t in place (same shape, same
// device), for buffers that ops fill piecewise, such as a KV cache. It is
// not an op: autograd does not record it, and every view of t's storage
// sees the write.
func (t *Tensor) CopyFrom(src *Tensor) {
	const op = "tensor.CopyFrom"
	if !slices.Equal(t.shape, src.shape) {
		panic(opErr(op, "shapes %v and %v differ", t.shape, src.shape))
	}
	c := onDevice(op, t, src)
	if c == nil {
		copyRegion(t, src)
		return
	}
	defer keep(t, src)
	if t.Numel() == 0 {
		return
	}
	if t.IsContiguous() {
		devCopy(op, t.cbuf(), src)
		return
	}
	// Split t into its longest contiguous trailing block and loop over
	// the dims before it: one copy into each block.
	n := len(t.shape)
	inner, k := 1, n
	for k > 0 && (t.shape[k-1] == 1 || t.strides[k-1] == inner) {
		inner *= t.shape[k-1]
		k--
	}
	outer := t.shape[:k]
	for i := range numel(outer) {
		dOff, sOff, rem := t.offset, src.offset, i
		for d := k - 1; d >= 0; d-- {
			id := rem % outer[d]
			rem /= outer[d]
			dOff += id * t.strides[d]
			sOff += id * src.strides[d]
		}
		block := &Tensor{shape: t.shape[k:], strides: src.strides[k:], offset: sOff, st: src.st}
		devCopy(op, t.st.buf.Slice(dOff, dOff+inner), block)
	}
}

// ParseDevice reads a device name as Device.String writes it: "cpu",
// "cuda:N", or "cuda" for cuda:0. It does not open the device.
func ParseDevice(s string) (Device, error) {
	switch {
	case s == "cpu":
		return CPU, nil
	case s == "cuda":
		return CUDA(0), nil
	case strings.HasPrefix(s, "cuda:"):
		if n, err := strconv.Atoi(s[len("cuda:"):]); err == nil && n >= 0 {
			return CUDA(n), nil
		}
	}
	return Device{}, fmt.Errorf("tensor: unknown device %q (want cpu, cuda or cuda:N)", s)
}
