//go:build cuda

package cuda

// Module loading and kernel launches call the driver directly: the JIT's
// error log is worth having when the PTX does not load, and the cu package's
// LaunchKernel allocates two C arrays on every launch, where a kernel here
// builds its argument array once (in C memory) and refills it.

/*
#cgo LDFLAGS: -lcuda
#include <cuda.h>
#include <stdint.h>
#include <stdlib.h>

static CUresult kiln_module_load(CUmodule *mod, const char *image, char *log, unsigned size) {
	CUjit_option opts[2] = {CU_JIT_ERROR_LOG_BUFFER, CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES};
	void *vals[2] = {log, (void *)(uintptr_t)size};
	return cuModuleLoadDataEx(mod, image, 2, opts, vals);
}

static CUresult kiln_launch(CUfunction f, unsigned gx, unsigned gy, unsigned gz,
	unsigned bx, unsigned by, unsigned bz, unsigned shmem, CUstream s, void **argp) {
	return cuLaunchKernel(f, gx, gy, gz, bx, by, bz, shmem, s, argp, NULL);
}
*/
import "C"

import (
	"fmt"
	"strings"
	"unsafe"

	"github.com/mumax/3/cuda/cu"
)

// maxArgs bounds a kernel's parameters (kiln_sgemm has 17).
const maxArgs = 24

type kernel struct {
	name   string
	fn     C.CUfunction
	params []string          // PTX parameter types
	argv   *[maxArgs]uint64  // C memory: one 8-byte slot an argument
	argp   *[maxArgs]uintptr // C memory: argp[i] = &argv[i]
	shmem  int               // dynamic shared memory the kernel may use, once raised past 48 KiB
}

func loadModule(name, ptx string) (C.CUmodule, error) {
	const logSize = 8192
	img := C.CString(ptx)
	defer C.free(unsafe.Pointer(img))
	log := (*C.char)(C.calloc(logSize, 1))
	defer C.free(unsafe.Pointer(log))
	var mod C.CUmodule
	if res := C.kiln_module_load(&mod, img, log, logSize); res != C.CUDA_SUCCESS {
		return nil, &Error{Op: "load module " + name, Result: cu.Result(res).String() + ": " + strings.TrimSpace(C.GoString(log))}
	}
	return mod, nil
}

func newKernel(mod C.CUmodule, name, params string) (*kernel, error) {
	cname := C.CString(name)
	defer C.free(unsafe.Pointer(cname))
	k := &kernel{name: name, params: strings.Fields(params)}
	if len(k.params) > maxArgs {
		return nil, fmt.Errorf("cuda: %s has %d parameters, more than %d", name, len(k.params), maxArgs)
	}
	if res := C.cuModuleGetFunction(&k.fn, mod, cname); res != C.CUDA_SUCCESS {
		return nil, &Error{Op: "find kernel " + name, Result: cu.Result(res).String()}
	}
	k.argv = (*[maxArgs]uint64)(C.calloc(maxArgs, 8))
	k.argp = (*[maxArgs]uintptr)(C.calloc(maxArgs, C.size_t(unsafe.Sizeof(uintptr(0)))))
	for i := range k.argp {
		k.argp[i] = uintptr(unsafe.Pointer(&k.argv[i]))
	}
	return k, nil
}

// launch fills the argument slots and queues the kernel on stream. Only the
// context's goroutine calls it, so the slots are never shared.
func (k *kernel) launch(grid, block [3]int, shmem int, stream cu.Stream, args []arg) error {
	for i, a := range args {
		k.argv[i] = a.bits
	}
	if shmem > 48<<10 && shmem > k.shmem {
		// More than 48 KiB of dynamic shared memory is an opt-in (sm_70+).
		if res := C.cuFuncSetAttribute(k.fn, C.CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, C.int(shmem)); res != C.CUDA_SUCCESS {
			return &Error{Op: fmt.Sprintf("allow %s %d bytes of shared memory", k.name, shmem), Result: cu.Result(res).String()}
		}
		k.shmem = shmem
	}
	s := *(*C.CUstream)(unsafe.Pointer(&stream))
	res := C.kiln_launch(k.fn, C.uint(grid[0]), C.uint(grid[1]), C.uint(grid[2]),
		C.uint(block[0]), C.uint(block[1]), C.uint(block[2]), C.uint(shmem), s,
		(*unsafe.Pointer)(unsafe.Pointer(k.argp)))
	if res != C.CUDA_SUCCESS {
		return &Error{Op: "launch " + k.name, Result: cu.Result(res).String()}
	}
	return nil
}

func (k *kernel) free() {
	C.free(unsafe.Pointer(k.argv))
	C.free(unsafe.Pointer(k.argp))
	k.argv, k.argp = nil, nil
}
