package cuda

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"unsafe"
)

// ErrNotBuilt is what Open returns in a build without the cuda tag.
var ErrNotBuilt = errors.New("kiln built without -tags cuda: CUDA is not available (see kernels/cuda's doc)")

// ErrClosed is returned by every call on a closed Device.
var ErrClosed = errors.New("cuda: device is closed")

// Error is a CUDA driver failure: the operation and the driver's result
// (the cu package's panic value, recovered on the context's goroutine).
type Error struct {
	Op     string // what kiln was doing: "open", "launch kiln_sgemm", "download", ...
	Result string // the driver's result, e.g. "CUDA_ERROR_OUT_OF_MEMORY"
}

func (e *Error) Error() string { return "cuda: " + e.Op + ": " + e.Result }

// Info describes the GPU behind a Device.
type Info struct {
	Ordinal      int
	Name         string
	Major, Minor int   // compute capability
	TotalMem     int64 // bytes
	PTXArch      int   // the embedded PTX loaded: 80 or 90
}

// Buffer is a range of float32 (or int32) elements in device memory, like a
// Go slice: Slice takes sub-ranges without copying. Buffers come from
// Device.Alloc and go back with Device.Free (the whole allocation, not a
// slice of it).
type Buffer struct {
	ptr uint64
	n   int
}

// Len is the number of 4-byte elements.
func (b Buffer) Len() int { return b.n }

// Slice returns elements [lo, hi) of b; it panics when out of range.
func (b Buffer) Slice(lo, hi int) Buffer {
	if lo < 0 || hi < lo || hi > b.n {
		panic(fmt.Sprintf("cuda.Buffer.Slice: [%d:%d] of %d elements", lo, hi, b.n))
	}
	return Buffer{ptr: b.ptr + 4*uint64(lo), n: hi - lo}
}

// IsNil reports whether b is the zero Buffer (optional arguments, such as
// LayerNorm's weight, take it for "absent").
func (b Buffer) IsNil() bool { return b.ptr == 0 }

// backend is what a Device needs from the driver. The cuda build's backend
// runs each call on the context's goroutine; the tests substitute a fake
// that checks every launch against the PTX's parameter types.
type backend interface {
	info() Info
	malloc(bytes int64) (uint64, error)
	free(ptr uint64) error
	upload(dst uint64, src unsafe.Pointer, bytes int64) error   // queued on the stream
	download(dst unsafe.Pointer, src uint64, bytes int64) error // waits for the stream
	memset32(dst uint64, v uint32, n int64) error               // queued on the stream
	copy(dst, src uint64, bytes int64) error                    // queued on the stream
	launch(kernel string, grid, block [3]int, shmem int, args []arg) error
	sync() error
	close() error
}

// Device is one GPU: a CUDA context, its stream and its memory cache. Its
// methods may be called from any goroutine.
type Device struct {
	mu     sync.RWMutex // held for reading by calls, for writing by Close
	be     backend
	alloc  *allocator
	closed bool
}

// Open opens GPU ordinal (0 for the first). It fails with ErrNotBuilt
// without the cuda build tag, and with an *Error when the driver finds no
// usable device; the embedded PTX needs compute capability 8.0 or newer.
func Open(ordinal int) (*Device, error) {
	be, err := openBackend(ordinal)
	if err != nil {
		return nil, err
	}
	return newDevice(be), nil
}

func newDevice(be backend) *Device {
	return &Device{be: be, alloc: newAllocator(be.malloc, be.free)}
}

// Info describes the GPU.
func (d *Device) Info() Info { return d.be.info() }

// Close waits for the queued work, frees all device memory and destroys the
// context. Buffers of the Device are invalid afterwards.
func (d *Device) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil
	}
	d.closed = true
	err := d.be.sync()
	d.alloc.releaseAll()
	if cerr := d.be.close(); err == nil {
		err = cerr
	}
	return err
}

// call runs f unless the device is closed.
func (d *Device) call(f func() error) error {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if d.closed {
		return ErrClosed
	}
	return f()
}

// Alloc returns a buffer of n 4-byte elements with undefined contents.
func (d *Device) Alloc(n int) (Buffer, error) {
	if n < 0 {
		panic(fmt.Sprintf("cuda.Alloc: negative length %d", n))
	}
	var b Buffer
	err := d.call(func() error {
		p, err := d.alloc.get(4 * int64(max(n, 1)))
		b = Buffer{ptr: p, n: n}
		return err
	})
	return b, err
}

// Free returns b's memory to the device's cache. b must be a whole buffer
// from Alloc; freeing the zero Buffer does nothing.
func (d *Device) Free(b Buffer) error {
	if b.ptr == 0 {
		return nil
	}
	return d.call(func() error { return d.alloc.put(b.ptr) })
}

// Stats reports the allocator's counters.
func (d *Device) Stats() AllocStats {
	d.alloc.mu.Lock()
	defer d.alloc.mu.Unlock()
	return d.alloc.stats
}

// ReleaseCache frees the cached (unused) blocks back to the driver.
func (d *Device) ReleaseCache() error {
	return d.call(func() error { return d.alloc.releaseCached() })
}

// Upload copies src into dst (len(src) == dst.Len()). It is queued on the
// stream; src may be reused as soon as Upload returns.
func (d *Device) Upload(dst Buffer, src []float32) error {
	if len(src) != dst.n {
		panic(fmt.Sprintf("cuda.Upload: %d elements into a buffer of %d", len(src), dst.n))
	}
	if dst.n == 0 {
		return nil
	}
	return d.call(func() error { return d.be.upload(dst.ptr, unsafe.Pointer(&src[0]), 4*int64(dst.n)) })
}

// UploadInt32 is Upload for int32 data (indices).
func (d *Device) UploadInt32(dst Buffer, src []int32) error {
	if len(src) != dst.n {
		panic(fmt.Sprintf("cuda.UploadInt32: %d elements into a buffer of %d", len(src), dst.n))
	}
	if dst.n == 0 {
		return nil
	}
	return d.call(func() error { return d.be.upload(dst.ptr, unsafe.Pointer(&src[0]), 4*int64(dst.n)) })
}

// Download waits for all queued work, then copies src into dst
// (len(dst) == src.Len()). It is the point where kernel faults surface.
func (d *Device) Download(dst []float32, src Buffer) error {
	if len(dst) != src.n {
		panic(fmt.Sprintf("cuda.Download: %d elements from a buffer of %d", len(dst), src.n))
	}
	if src.n == 0 {
		return d.Sync()
	}
	return d.call(func() error { return d.be.download(unsafe.Pointer(&dst[0]), src.ptr, 4*int64(src.n)) })
}

// DownloadInt32 is Download for int32 data.
func (d *Device) DownloadInt32(dst []int32, src Buffer) error {
	if len(dst) != src.n {
		panic(fmt.Sprintf("cuda.DownloadInt32: %d elements from a buffer of %d", len(dst), src.n))
	}
	if src.n == 0 {
		return d.Sync()
	}
	return d.call(func() error { return d.be.download(unsafe.Pointer(&dst[0]), src.ptr, 4*int64(src.n)) })
}

// Fill sets every element of b to v.
func (d *Device) Fill(b Buffer, v float32) error {
	if b.n == 0 {
		return nil
	}
	return d.call(func() error { return d.be.memset32(b.ptr, math.Float32bits(v), int64(b.n)) })
}

// Copy copies src into dst on the device (equal lengths).
func (d *Device) Copy(dst, src Buffer) error {
	if dst.n != src.n {
		panic(fmt.Sprintf("cuda.Copy: %d elements into %d", src.n, dst.n))
	}
	if dst.n == 0 {
		return nil
	}
	return d.call(func() error { return d.be.copy(dst.ptr, src.ptr, 4*int64(dst.n)) })
}

// Sync waits until every queued operation has finished.
func (d *Device) Sync() error { return d.call(d.be.sync) }

// launch queues kernel on the stream.
func (d *Device) launch(kernel string, grid, block [3]int, shmem int, args ...arg) error {
	return d.call(func() error { return d.be.launch(kernel, grid, block, shmem, args) })
}

// arg is one kernel argument in its 8-byte slot; kind is the PTX parameter
// type it must meet ("u32" for int, "f32" for float, "u64" for pointers and
// long long).
type arg struct {
	bits uint64
	kind string
}

func argInt(v int) arg {
	if v < math.MinInt32 || v > math.MaxInt32 {
		panic(fmt.Sprintf("cuda: kernel argument %d does not fit an int", v))
	}
	return arg{bits: uint64(uint32(int32(v))), kind: "u32"}
}

func argBool(v bool) arg {
	if v {
		return argInt(1)
	}
	return argInt(0)
}

func argLong(v int) arg        { return arg{bits: uint64(int64(v)), kind: "u64"} }
func argFloat(v float32) arg   { return arg{bits: uint64(math.Float32bits(v)), kind: "f32"} }
func argBuf(b Buffer) arg      { return arg{bits: b.ptr, kind: "u64"} }
func grid3(x, y, z int) [3]int { return [3]int{x, y, z} }
func ceilDiv(a, b int) int     { return (a + b - 1) / b }
func clampGrid(blocks int) int { return max(1, min(blocks, maxGrid)) }

// maxGrid caps the blocks of the grid-stride kernels: enough to fill an
// H100 several times over.
const maxGrid = 65535

// checkArgs compares a launch's arguments with the kernel's PTX parameter
// types (params, from zptx_sums.go).
func checkArgs(kernel string, params []string, args []arg) error {
	if len(args) != len(params) {
		return fmt.Errorf("cuda: %s takes %d arguments (%s), given %d", kernel, len(params), strings.Join(params, " "), len(args))
	}
	for i, a := range args {
		if a.kind != params[i] {
			return fmt.Errorf("cuda: %s argument %d is %s, the kernel takes %s", kernel, i+1, a.kind, params[i])
		}
	}
	return nil
}
