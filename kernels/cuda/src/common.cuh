// Shared helpers of kiln's CUDA kernels (included by every .cu file).
//
// Conventions, the same for every kernel:
//   - extern "C" __global__ entry points, so the host finds them by name.
//   - Parameters are pointers, int, long long or float only: the host
//     passes each argument in an 8-byte slot (kernels/cuda/launch_cuda.go).
//   - A kernel touches only the elements its sizes name (the conformance
//     tests put guard bands around every output).
#pragma once

#define KILN_WARP 32

__device__ __forceinline__ float warp_sum(float v) {
	for (int o = KILN_WARP / 2; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
	return v;
}

__device__ __forceinline__ float warp_max(float v) {
	for (int o = KILN_WARP / 2; o > 0; o >>= 1) {
		float w = __shfl_xor_sync(0xffffffffu, v, o);
		// NaN wins, as in kernels.MaxRef.
		v = (w > v || w != w) ? w : v;
	}
	return v;
}

// block_sum and block_max reduce over the whole block (blockDim.x a multiple
// of 32, at most 1024) and return the result to every thread. scratch holds
// 32 floats of shared memory; the call synchronises the block.
__device__ __forceinline__ float block_sum(float v, float *scratch) {
	int lane = threadIdx.x % KILN_WARP, warp = threadIdx.x / KILN_WARP;
	v = warp_sum(v);
	__syncthreads(); // scratch may still be read by a previous call
	if (lane == 0) scratch[warp] = v;
	__syncthreads();
	int nw = blockDim.x / KILN_WARP;
	v = lane < nw ? scratch[lane] : 0.f;
	return warp_sum(v);
}

__device__ __forceinline__ float block_max(float v, float *scratch) {
	int lane = threadIdx.x % KILN_WARP, warp = threadIdx.x / KILN_WARP;
	v = warp_max(v);
	__syncthreads();
	if (lane == 0) scratch[warp] = v;
	__syncthreads();
	int nw = blockDim.x / KILN_WARP;
	v = lane < nw ? scratch[lane] : -INFINITY;
	return warp_max(v);
}

// row_max_sumexp gives every thread of the block the row's maximum m (a NaN
// propagates, as in kernels.SoftmaxRowRef) and the sum of exp(x[j] - m): the
// two passes softmax, log_softmax and cross-entropy share.
__device__ __forceinline__ void row_max_sumexp(const float *x, int n, float *scratch, float &m, float &s) {
	m = -INFINITY;
	for (int j = threadIdx.x; j < n; j += blockDim.x) {
		float v = x[j];
		m = (v > m || v != v) ? v : m;
	}
	m = block_max(m, scratch);
	s = 0.f;
	for (int j = threadIdx.x; j < n; j += blockDim.x) s += expf(x[j] - m);
	s = block_sum(s, scratch);
}

// Grid-stride loop over n elements (n may exceed the grid).
#define KILN_FOR(i, n) \
	for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += (long long)gridDim.x * blockDim.x)
