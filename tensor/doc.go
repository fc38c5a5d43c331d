// Package tensor is kiln's N-d array with eager reverse-mode autograd.
//
// # Data type
//
// Tensors hold float32 only. Integer data (token ids, class targets, gather
// and index_select indices) is passed as plain []int, with an explicit shape
// where the op needs one. Reductions and normalisations accumulate in float64
// inside the kernels, so results are stable for long rows.
//
// # Memory layout
//
// A Tensor is a view: shape, strides (in elements, may be 0) and an offset
// into storage shared by all views of it. Row-major (C order) is the
// contiguous layout. These return views without copying: Reshape (when the
// input is contiguous), Transpose, T, Permute, Slice, Narrow, Expand,
// Unsqueeze, Squeeze and Detach. Contiguous returns the tensor itself when it
// is already contiguous and a row-major copy otherwise; Reshape of a
// non-contiguous tensor copies. Every op accepts non-contiguous inputs; ops
// write fresh contiguous outputs. MatMul reads transposed views directly
// (the GEMM's transpose flags), without a copy.
//
// Host storage comes from the Go heap, except inside Arena.Do: there,
// buffers of 1024 elements or more come from the arena, which recycles them
// all at once when Do returns. A training loop wraps each step (forward,
// backward, update, reading out the loss) in Do; no tensor made in the step
// may be used after it. Backward hands each intermediate gradient's buffer
// back as soon as no pending gradient refers to it (intermediate gradients
// are never visible outside Backward), so the backward pass reuses a few
// buffers rather than holding one per op. In inference (gradients off),
// Scoped hands a block's temporaries back when the block returns. Leaf gradients, ToSlice
// and Clone never come from an arena. The values are the same bit for bit
// either way (TestArenaSameBits, and the trainer's TestTrainArenaSameBits).
// The active arena is process-wide (Go has no goroutine-local state): while
// Do runs, tensors that other goroutines make come from it too, so nothing
// else may work on tensors concurrently; a second Do panics. kiln's loops
// are sequential; train.Options.PlainAlloc turns the arena off.
//
// # Broadcasting
//
// Binary ops (Add, Sub, Mul, Div, Where, MaskedFill) and MatMul's batch dims
// follow NumPy: shapes are aligned at their trailing dims, missing leading
// dims count as 1, and each aligned pair must be equal or contain a 1, which
// stretches to the other size. The gradient of a broadcast input is summed
// over the dims that were stretched or added.
//
//	a            b          result      note
//	[3]          [3]        [3]         same shape
//	[2, 3]       [3]        [2, 3]      b repeats over rows
//	[2, 1]       [1, 3]     [2, 3]      both stretch (outer product)
//	[4, 1, 5]    [3, 1]     [4, 3, 5]   b gains a leading 1
//	[]           [2, 2]     [2, 2]      a scalar goes everywhere
//	[1]          [0]        [0]         1 stretches to 0
//	[2, 3]       [2]        error       trailing 3 vs 2
//	[3, 4]       [4, 3]     error       4 vs 3
//
// MatMul multiplies the last two dims and broadcasts the rest: [2,1,M,K] @
// [3,K,N] gives [2,3,M,N]. A 1-D left operand is a row vector, a 1-D right
// operand a column vector, and that dim is dropped from the result.
//
// # Autograd
//
// Mark parameters with RequiresGrad. Every op on a tensor that requires grad
// records a node (define-by-run); Backward (from a scalar) or BackwardWith (a
// seed gradient) walks the graph in reverse topological order, accumulates
// into the leaves' Grad (across calls, until ZeroGrad) and frees the graph as
// it goes. NoGrad(fn) records nothing and allocates no graph. Detach returns
// an untracked view. Higher-order gradients are not supported: backward
// functions run in no-grad mode.
//
// # Threads and determinism
//
// Large ops split their work over kernels.Threads() goroutines with a fixed
// partition, so the same inputs and thread count give bitwise the same
// results. Random ops take a *rand.Rand (NewRNG(seed)).
//
// # Devices
//
// A tensor lives on the CPU (host memory; everything above) or on a GPU,
// CUDA(n). t.To(CUDA(0)) copies t to GPU 0 and t.To(CPU) copies it back;
// To is differentiable (the gradient goes back to the source's device) and
// returns t itself when it is already there. Opening a GPU needs a build
// with -tags cuda (or cudaemu, kernels/cuda's CPU emulator, for tests) and
// a usable GPU: otherwise To, and CUDA(n).Open, return an error saying which
// (wrapping cuda.ErrNotBuilt without the tag), and nothing else changes.
// Constructors (Zeros, Randn, FromSlice, ...) make host tensors: build on
// the host and move with To. MoveTo moves a leaf in place (the same
// *Tensor, so modules holding a parameter follow it: nn.Params.To), and
// CopyFrom writes into a view in place (a KV cache); AdamWUpdate is the
// fused optimizer update on either device (nn.AdamW uses it).
//
// Every op takes its operands on one device and puts its result there; a
// mix panics with an *OpError naming the op and both devices ("tensor.Add:
// operands on different devices: cpu (shape [2 3]) and cuda:0 ..."). On a
// GPU the ops run the kernels of kernels/cuda, forward and backward:
// elementwise and broadcast binary ops, scalar ops, Neg, Exp, Log, Sqrt,
// Rsqrt, Pow, Tanh, Sigmoid, Relu, Gelu, GeluTanh, Silu, Clamp,
// Sum/Mean/Max (the tie mask of Max's gradient too), MatMul (SGEMM, batched
// and strided), Softmax/LogSoftmax, CrossEntropy, LayerNorm, RMSNorm, RoPE,
// IndexSelect/Embedding/Gather (the embedding gather and its deterministic
// scatter-add), Where/MaskedFill (the same gather over both operands),
// ScaledDotProductAttention (the fused flash-style kernels; head dims up to
// 128, larger panics), Dropout (mask drawn on the host, uploaded), and the
// copies of Contiguous, Clone, Reshape, Concat, Stack and Narrow's
// gradient. No op computes on the host: none downloads its operands for a
// CPU op (the device tests count reads of device memory; Where and
// MaskedFill, below, read only their mask). The kernels of Log,
// Sqrt, Rsqrt, Pow, Clamp and Max's tie mask, like the rest, have run only
// in kernels/cuda's CPU emulator so far, not on a GPU.
//
// Views (Reshape, Transpose, Permute, Slice, Narrow, Expand, Squeeze,
// Unsqueeze, Detach) are views on a GPU too. Binary ops read strided and
// broadcast operands directly (strides passed to the broadcast kernel, up
// to 4 coalesced dims a launch); MatMul reads transposed views through the
// GEMM's flags as on the host; the row kernels (softmax, norms, RoPE,
// attention, unary maps) take contiguous input and copy a strided view
// first (a device copy: the broadcast kernel multiplying by 1).
//
// The GPU runs its work in order on one stream; the host waits only where
// it reads: ToSlice, Item, At, String, To(CPU) download (and so wait for
// everything queued). Data panics on a device tensor (the host cannot
// address its storage). Where and MaskedFill read their mask back too, so
// they are synchronisation points as well.
// GradCheck works on device inputs (each perturbation an upload).
//
// Device memory comes from kernels/cuda's caching allocator. A device
// storage returns its buffer to the cache when the garbage collector finds
// it unreachable (runtime.AddCleanup); no call frees it. The collector does
// not see device memory, so device allocation starts a collection itself
// when the live device bytes pass twice what the last one left (above
// 1 GiB), and when an allocation fails it runs the collector, waits for
// the cleanups and tries again. A device failure inside an op (out of
// memory after that, a faulting kernel) panics with a *DeviceError naming
// the op. Results may differ from the CPU's in the last bits (other
// summation orders; the tests hold them to 1e-4 relative plus 1e-5 of the
// tensor's largest value).
//
// # Errors
//
// Programmer errors (shapes that do not fit, bad axes, out-of-range indices)
// panic with an *OpError whose message starts with the op's name, e.g.
// "tensor.Add: shapes [2 3] and [4] are not broadcastable". Errors from user
// data (files, configs) are never panics: the packages that read them return
// errors.
package tensor
