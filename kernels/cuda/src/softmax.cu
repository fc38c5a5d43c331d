// Softmax and log-softmax over the rows of a contiguous [rows, n] array,
// forward and backward.
// reference: kernels.SoftmaxRowRef, kernels.SoftmaxRowBackwardRef,
// kernels.LogSoftmaxRowRef, kernels.LogSoftmaxRowBackwardRef
//
// One block a row (grid-stride over rows). Forward: max, sum of exp(x-max),
// then the outputs (stable: max subtracted). Backward, y being the forward's
// output: softmax dx = y*(dy - sum(y*dy)); log-softmax dx = dy -
// exp(y)*sum(dy).
#include "common.cuh"

extern "C" __global__ void kiln_softmax(int isLog, int rows, int n, float *dst, const float *src) {
	__shared__ float scratch[32];
	for (int r = blockIdx.x; r < rows; r += gridDim.x) {
		const float *x = src + (long long)r * n;
		float *y = dst + (long long)r * n;
		float m, s;
		row_max_sumexp(x, n, scratch, m, s);
		if (isLog) {
			float lse = m + logf(s);
			for (int j = threadIdx.x; j < n; j += blockDim.x) y[j] = x[j] - lse;
		} else {
			float inv = 1.f / s;
			for (int j = threadIdx.x; j < n; j += blockDim.x) y[j] = expf(x[j] - m) * inv;
		}
	}
}

extern "C" __global__ void kiln_softmax_backward(int isLog, int rows, int n, float *dxp, const float *yp, const float *dyp) {
	__shared__ float scratch[32];
	for (int r = blockIdx.x; r < rows; r += gridDim.x) {
		long long off = (long long)r * n;
		const float *y = yp + off, *dy = dyp + off;
		float *dx = dxp + off;
		float s = 0.f;
		for (int j = threadIdx.x; j < n; j += blockDim.x) s += isLog ? dy[j] : y[j] * dy[j];
		s = block_sum(s, scratch);
		for (int j = threadIdx.x; j < n; j += blockDim.x)
			dx[j] = isLog ? dy[j] - expf(y[j]) * s : y[j] * (dy[j] - s);
	}
}
