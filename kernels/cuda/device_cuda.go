//go:build cuda

package cuda

import (
	"fmt"
	"unsafe"

	"github.com/mumax/3/cuda/cu"
)

const emulated = false

// ptxModule is one source's PTX (zptx_cuda.go) and the kernels it defines.
type ptxModule struct {
	name         string
	kernels      []string
	ptx80, ptx90 string
}

// cudaBackend owns a context on the worker's goroutine (worker.go); every
// driver call is a closure run there.
type cudaBackend struct {
	w       *worker
	inf     Info
	ctx     cu.Context
	stream  cu.Stream
	kernels map[string]*kernel
}

// cuDriverErr turns the cu package's panic value into an *Error.
func cuDriverErr(op string, p any) (error, bool) {
	if res, ok := p.(cu.Result); ok {
		return &Error{Op: op, Result: res.String()}, true
	}
	return nil, false
}

func openBackend(ordinal int) (backend, error) {
	b := &cudaBackend{kernels: map[string]*kernel{}}
	op := fmt.Sprintf("open GPU %d", ordinal)
	w, err := startWorker(cuDriverErr, func() error {
		err := catch(op, func() error { return b.open(ordinal) })
		if err != nil {
			b.freeKernels()
			if b.ctx != 0 {
				catch(op, func() error { cu.CtxDestroy(&b.ctx); return nil })
			}
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	b.w = w
	return b, nil
}

func (b *cudaBackend) open(ordinal int) error {
	cu.Init(0)
	if n := cu.DeviceGetCount(); ordinal < 0 || ordinal >= n {
		return fmt.Errorf("cuda: no GPU %d (the driver sees %d)", ordinal, n)
	}
	dev := cu.DeviceGet(ordinal)
	major, minor := dev.ComputeCapability()
	b.inf = Info{Ordinal: ordinal, Name: dev.Name(), Major: major, Minor: minor, TotalMem: dev.TotalMem(), PTXArch: 80}
	if major < 8 {
		return fmt.Errorf("cuda: %s has compute capability %d.%d; kiln's PTX needs 8.0 or newer", b.inf.Name, major, minor)
	}
	if major >= 9 {
		b.inf.PTXArch = 90
	}
	b.ctx = cu.CtxCreate(cu.CTX_SCHED_AUTO, dev)
	b.stream = cu.StreamCreate()
	for _, m := range ptxModules {
		src := m.ptx80
		if b.inf.PTXArch == 90 {
			src = m.ptx90
		}
		mod, err := loadModule(m.name, src)
		if err != nil {
			return err
		}
		for _, name := range m.kernels {
			k, err := newKernel(mod, name, ptxParams[name])
			if err != nil {
				return err
			}
			b.kernels[name] = k
		}
	}
	return nil
}

// catch runs f and turns a cu panic into an *Error; other panics go on.
func catch(op string, f func() error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			res, ok := p.(cu.Result)
			if !ok {
				panic(p)
			}
			err = &Error{Op: op, Result: res.String()}
		}
	}()
	return f()
}

// run executes f on the context's goroutine.
func (b *cudaBackend) run(op string, f func() error) error { return b.w.run(op, f) }

func (b *cudaBackend) info() Info { return b.inf }

func (b *cudaBackend) malloc(bytes int64) (uint64, error) {
	var p cu.DevicePtr
	err := b.run("alloc", func() error { p = cu.MemAlloc(bytes); return nil })
	return uint64(p), err
}

func (b *cudaBackend) free(ptr uint64) error {
	return b.run("free", func() error { cu.MemFree(cu.DevicePtr(ptr)); return nil })
}

func (b *cudaBackend) upload(dst uint64, src unsafe.Pointer, bytes int64) error {
	return b.run("upload", func() error {
		cu.MemcpyHtoDAsync(cu.DevicePtr(dst), src, bytes, b.stream)
		return nil
	})
}

func (b *cudaBackend) download(dst unsafe.Pointer, src uint64, bytes int64) error {
	return b.run("download", func() error {
		cu.MemcpyDtoHAsync(dst, cu.DevicePtr(src), bytes, b.stream)
		b.stream.Synchronize()
		return nil
	})
}

func (b *cudaBackend) memset32(dst uint64, v uint32, n int64) error {
	return b.run("fill", func() error { cu.MemsetD32Async(cu.DevicePtr(dst), v, n, b.stream); return nil })
}

func (b *cudaBackend) copy(dst, src uint64, bytes int64) error {
	return b.run("copy", func() error {
		cu.MemcpyDtoDAsync(cu.DevicePtr(dst), cu.DevicePtr(src), bytes, b.stream)
		return nil
	})
}

func (b *cudaBackend) launch(name string, grid, block [3]int, shmem int, args []arg) error {
	return b.run("launch "+name, func() error {
		k := b.kernels[name]
		if k == nil {
			panic(fmt.Sprintf("cuda: no kernel %s in the embedded PTX", name))
		}
		if err := checkArgs(name, k.params, args); err != nil {
			panic(err.Error())
		}
		return k.launch(grid, block, shmem, b.stream, args)
	})
}

func (b *cudaBackend) sync() error {
	return b.run("sync", func() error { b.stream.Synchronize(); return nil })
}

func (b *cudaBackend) close() error {
	err := b.run("close", func() error {
		b.freeKernels()
		b.stream.Destroy()
		cu.CtxDestroy(&b.ctx) // unloads the modules and frees what is left
		return nil
	})
	b.w.stop() // ends the goroutine and its thread
	return err
}

func (b *cudaBackend) freeKernels() {
	for name, k := range b.kernels {
		k.free()
		delete(b.kernels, name)
	}
}
