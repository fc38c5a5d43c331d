// Sum and max over one axis of a contiguous [outer, n, inner] array.
// reference: kernels.SumRef, kernels.MaxRef (applied to each reduced line;
// Max is -Inf for n == 0 and NaN if any element is NaN).
//
// inner == 1 (the last axis, rows): one block a row, a block reduction.
// inner > 1: one thread an (outer, inner) pair walking the axis, so that a
// warp reads consecutive inner elements; when there are few pairs and a long
// axis, in two stages: kiln_reduce_axis_partial reduces fixed chunks of the
// axis into partial[c][pair], kiln_reduce_chunks combines the chunks in
// order (deterministic: the partition depends only on the sizes).
#include "common.cuh"

extern "C" __global__ void kiln_reduce_rows(int isMax, int rows, int n, float *dst, const float *src) {
	__shared__ float scratch[32];
	for (int r = blockIdx.x; r < rows; r += gridDim.x) {
		const float *x = src + (long long)r * n;
		float acc = isMax ? -INFINITY : 0.f;
		for (int j = threadIdx.x; j < n; j += blockDim.x) {
			float v = x[j];
			if (isMax) acc = (v > acc || v != v) ? v : acc;
			else acc += v;
		}
		acc = isMax ? block_max(acc, scratch) : block_sum(acc, scratch);
		if (threadIdx.x == 0) dst[r] = acc;
	}
}

extern "C" __global__ void kiln_reduce_axis(int isMax, int outer, int n, int inner, float *dst, const float *src) {
	long long total = (long long)outer * inner;
	KILN_FOR(t, total) {
		long long o = t / inner, in = t % inner;
		const float *x = src + o * n * inner + in;
		float acc = isMax ? -INFINITY : 0.f;
		for (int j = 0; j < n; j++) {
			float v = x[(long long)j * inner];
			if (isMax) acc = (v > acc || v != v) ? v : acc;
			else acc += v;
		}
		dst[t] = acc;
	}
}

extern "C" __global__ void kiln_reduce_axis_partial(int isMax, int outer, int n, int inner, int chunk, float *partial, const float *src) {
	long long total = (long long)outer * inner;
	long long t = (long long)blockIdx.x * blockDim.x + threadIdx.x;
	if (t >= total) return;
	long long o = t / inner, in = t % inner;
	const float *x = src + o * n * inner + in;
	int j0 = blockIdx.y * chunk, j1 = min(n, j0 + chunk);
	float acc = isMax ? -INFINITY : 0.f;
	for (int j = j0; j < j1; j++) {
		float v = x[(long long)j * inner];
		if (isMax) acc = (v > acc || v != v) ? v : acc;
		else acc += v;
	}
	partial[(long long)blockIdx.y * total + t] = acc;
}

extern "C" __global__ void kiln_reduce_chunks(int isMax, int chunks, long long m, float *dst, const float *partial) {
	KILN_FOR(t, m) {
		float acc = isMax ? -INFINITY : 0.f;
		for (int c = 0; c < chunks; c++) {
			float v = partial[(long long)c * m + t];
			if (isMax) acc = (v > acc || v != v) ? v : acc;
			else acc += v;
		}
		dst[t] = acc;
	}
}
