//go:build cudaemu && !cuda

package cuda

// The emulated backend (build tag cudaemu): the kernels of src/*.cu compiled
// for the CPU with cudaemu.h, each CUDA thread a fiber, so that the
// conformance suite runs, on small sizes, on a machine without a GPU. It
// checks the kernels' logic, indexing and barriers and the host code's
// launches; not speed, and not the GPU's rounding of expf and friends. The
// tensor cores are emulated by emu/mma.h (every lane computes the whole
// fragment).
//
//	go test -tags cudaemu ./kernels/cuda/

/*
#cgo CXXFLAGS: -std=c++17 -O2 -Wno-unknown-pragmas -I${SRCDIR}/emu
#include <stdint.h>
#include <stdlib.h>
int emu_has(const char *name);
int emu_launch(const char *name, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz, const uint64_t *slots);
uint64_t emu_malloc(size_t bytes);
void emu_free(uint64_t p);
void emu_upload(uint64_t dst, const void *src, size_t n);
void emu_download(void *dst, uint64_t src, size_t n);
void emu_copy(uint64_t dst, uint64_t src, size_t n);
void emu_memset32(uint64_t dst, uint32_t v, size_t n);
*/
import "C"

import (
	"fmt"
	"strings"
	"sync"
	"unsafe"
)

// emulated tells the tests that kernels run in the CPU emulator (small
// sizes only).
const emulated = true

type emuBackend struct {
	mu sync.Mutex // the emulator is single-threaded
}

func openBackend(ordinal int) (backend, error) {
	if ordinal != 0 {
		return nil, fmt.Errorf("cuda: the emulator has only GPU 0")
	}
	return &emuBackend{}, nil
}

func (b *emuBackend) info() Info {
	return Info{Name: "kiln CPU emulator (cudaemu)", Major: 9, PTXArch: 90}
}

func (b *emuBackend) malloc(bytes int64) (uint64, error) {
	p := uint64(C.emu_malloc(C.size_t(bytes)))
	if p == 0 {
		return 0, &Error{Op: "alloc", Result: "out of host memory (emulator)"}
	}
	return p, nil
}

func (b *emuBackend) free(ptr uint64) error { C.emu_free(C.uint64_t(ptr)); return nil }

func (b *emuBackend) upload(dst uint64, src unsafe.Pointer, bytes int64) error {
	C.emu_upload(C.uint64_t(dst), src, C.size_t(bytes))
	return nil
}

func (b *emuBackend) download(dst unsafe.Pointer, src uint64, bytes int64) error {
	C.emu_download(dst, C.uint64_t(src), C.size_t(bytes))
	return nil
}

func (b *emuBackend) memset32(dst uint64, v uint32, n int64) error {
	C.emu_memset32(C.uint64_t(dst), C.uint32_t(v), C.size_t(n))
	return nil
}

func (b *emuBackend) copy(dst, src uint64, bytes int64) error {
	C.emu_copy(C.uint64_t(dst), C.uint64_t(src), C.size_t(bytes))
	return nil
}

func (b *emuBackend) launch(kernel string, grid, block [3]int, shmem int, args []arg) error {
	if err := checkArgs(kernel, strings.Fields(ptxParams[kernel]), args); err != nil {
		panic(err.Error())
	}
	slots := make([]uint64, len(args)+1) // +1: never empty
	for i, a := range args {
		slots[i] = a.bits
	}
	name := C.CString(kernel)
	defer C.free(unsafe.Pointer(name))
	b.mu.Lock()
	defer b.mu.Unlock()
	switch C.emu_launch(name, C.uint(grid[0]), C.uint(grid[1]), C.uint(grid[2]), C.uint(block[0]), C.uint(block[1]), C.uint(block[2]),
		(*C.uint64_t)(unsafe.Pointer(&slots[0]))) {
	case 0:
		return nil
	case -1:
		return &Error{Op: "launch " + kernel, Result: fmt.Sprintf("not in the emulator, or block %v not 1-D whole warps", block)}
	default:
		return &Error{Op: "launch " + kernel, Result: "barrier deadlock (see stderr)"}
	}
}

func (b *emuBackend) sync() error  { return nil }
func (b *emuBackend) close() error { return nil }

// emuHas reports whether the emulator has kernel name.
func emuHas(name string) bool {
	c := C.CString(name)
	defer C.free(unsafe.Pointer(c))
	return C.emu_has(c) != 0
}
