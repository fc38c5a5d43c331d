// Package cuda runs kiln's kernels on an NVIDIA GPU: hand-written CUDA
// kernels (src/*.cu, one family a file, each naming its CPU reference in
// package kernels) driven from Go through the driver API bindings
// github.com/mumax/3/cuda/cu. Status: issue 4, in progress. Nothing here has
// run on a GPU yet; it compiles and vets, and its CPU-side checks pass,
// including the conformance suite in the CPU emulator (below).
//
// # Building
//
// The GPU code is behind the build tag cuda. Without it the package still
// compiles, and Open returns ErrNotBuilt ("kiln built without -tags cuda").
// With it, cgo needs cuda.h and the libcuda.so link stub, which
// .ci/cuda-deps.sh installs on a Debian machine without a GPU:
//
//	.ci/cuda-deps.sh && . ~/.cache/kiln-cuda/env.sh
//	go build -tags cuda ./...
//
// A binary built with the tag links libcuda.so.1 dynamically: it starts
// only where the NVIDIA driver is installed. On a machine without the
// driver the dynamic loader refuses to start it at all, before any Go code
// runs, so no Go error can be given there; build without the tag for such
// machines. Where the driver is present but no usable GPU is, Open returns
// an error naming the driver's result (CUDA_ERROR_NO_DEVICE, ...).
//
// # PTX
//
// The kernels are compiled by nvcc to PTX for compute_80 and compute_90 and
// committed inside zptx_cuda.go, so `go build -tags cuda` needs no nvcc
// (the mumax/3 pattern); the driver JIT-compiles the PTX when a Device
// opens (compute_90 on sm_90 and newer, compute_80 otherwise; older GPUs
// are refused). After editing src/, regenerate with nvcc installed
// (.ci/cuda-deps.sh --nvcc):
//
//	go generate ./kernels/cuda/
//
// zptx_sums.go records each source's SHA-256: TestPTXFresh fails in the
// ordinary tests when a source changed without regenerating, and
// `go run ./kernels/cuda/genptx -check -dir kernels/cuda` compares the
// committed PTX byte for byte where the same nvcc is installed.
//
// # Host side
//
// A Device owns one CUDA context. The context lives on one goroutine locked
// to its OS thread; every driver call goes to it through a work queue, so a
// Device may be used from any goroutine (calls are serialised in arrival
// order). All work goes to one stream, so kernels run in the order they were
// launched and memory freed to the allocator can be reused by the next
// launch without a synchronisation. Download is the synchronisation point:
// it waits for the stream before the host reads.
//
// Each module is loaded once, when the Device opens, and each kernel gets
// its argument array (in C memory) then; a launch writes the values into it
// and calls cuLaunchKernel directly (the cu package's LaunchKernel
// allocates on every call). Every argument travels in an 8-byte slot, the
// kernels take only pointers, int, long long and float, and the tests
// check each launch's arguments against the parameter types read from the
// PTX (zptx_sums.go).
//
// Device memory comes from a caching allocator: sizes are rounded up to a
// class (four classes per power of two, at least 256 bytes), freed blocks go
// to a free list of their class, and a request is served from the list
// before the driver is asked, so a training loop in steady state makes no
// cuMemAlloc calls (Stats counts them). When the driver is out of memory
// the cached blocks are released and the allocation is tried once more.
//
// # Errors
//
// The cu package panics on every driver error; those panics are recovered
// on the context's goroutine and returned as *Error (the operation and the
// driver's result). Shape and length mismatches are programmer errors and
// panic with the kernel's name and the sizes, as in package kernels.
// Kernel launches are asynchronous: a fault inside a kernel surfaces as the
// error of a later call, usually Download or Sync.
//
// # Accuracy
//
// Each kernel is meant to agree with its reference in package kernels (or,
// for ops kernels has no slice kernel for, the Go reference in ref_test.go,
// which follows package tensor or vision) within NMSE 1e-6 in FP32; the
// conformance tests (conformance_test.go, build tag cuda) check it on random
// data over awkward sizes with guard bands around every output. The TF32
// and BF16 GEMMs are held to the reference on inputs rounded as the tensor
// cores round them (NMSE 1e-6), and to the FP32 result within NMSE 1e-5
// (TF32) and 1e-4 (BF16). AdamW and RoPE repeat the reference's float32
// operations with explicit rounding and are meant to match bitwise.
// Sampling uses a uniform number drawn on the host for each row and
// chooses the reference's token except within rounding of a boundary.
//
// # The CPU emulator
//
// With the build tag cudaemu (and without cuda) the kernels of src/*.cu are
// compiled as C++ for the CPU (cudaemu.h, emu/), every CUDA thread a fiber
// scheduled explicitly at its barriers and warp shuffles, so that the same
// conformance suite runs, on small sizes, on a machine without a GPU:
//
//	go test -tags cudaemu ./kernels/cuda/
//
// It checks the kernels' indexing, bounds, barriers (a barrier that not all
// threads reach is reported as a deadlock), wmma and ldmatrix alignment and
// the mma.sync fragment layouts (each warp instruction is done lane by lane
// through per-warp scratch), and the host side's launches; it does not check
// speed, the GPU's rounding of expf and friends, or the JIT. cp.async copies
// there complete at once, so a missing wait before a barrier would not show.
// CI runs it. Go's build cache does not see src/*.cu or emu/*.h (they are
// #included, not files of the package): after editing them, change the cgo
// flags, e.g. CGO_CXXFLAGS="-O2 -DSRC_$(cat kernels/cuda/src/* kernels/cuda/emu/* | sha256sum | cut -c1-8)",
// or the emulator keeps running the kernels as they were.
//
// # The GPU check
//
// gpurun.sh runs the conformance suite, the benchmarks and PyTorch
// baselines (torch_baseline.py) on the GPU machine from a test binary built
// here; its header says how.
package cuda

//go:generate go run ./genptx
