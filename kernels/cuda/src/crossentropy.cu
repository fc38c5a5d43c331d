// Cross-entropy of logits [rows, n] against one int32 target a row, with an
// ignore index, forward (per-row losses) and backward.
// reference: tensor.CrossEntropy (log-softmax by kernels.LogSoftmaxRowRef,
// loss = -logp[target]; gradient w*(softmax - onehot)); the slice form is
// crossEntropyRef in kernels/cuda/ref_test.go.
//
// Forward writes loss[r] (0 for ignored rows) and lse[r], the row's
// log-sum-exp, which the backward reads instead of storing log-probs.
// The host reduces the losses (sum or mean over counted rows) and validates
// the targets before upload, so targets here are ignore or in [0, n).
// Backward: dlogits[r,j] = w_r*(exp(x[r,j]-lse[r]) - [j == target]), 0 for
// ignored rows, with w_r = wrow[r] when wrow is non-null, else w.
#include "common.cuh"

extern "C" __global__ void kiln_cross_entropy(int rows, int n, int ignore, float *loss, float *lse,
	const float *logits, const int *targets) {
	__shared__ float scratch[32];
	for (int r = blockIdx.x; r < rows; r += gridDim.x) {
		const float *x = logits + (long long)r * n;
		float m, s;
		row_max_sumexp(x, n, scratch, m, s);
		if (threadIdx.x == 0) {
			float l = m + logf(s);
			int t = targets[r];
			lse[r] = l;
			loss[r] = t == ignore ? 0.f : -(x[t] - l);
		}
	}
}

extern "C" __global__ void kiln_cross_entropy_backward(int rows, int n, int ignore, float *dlogits,
	const float *logits, const float *lse, const int *targets, float w, const float *wrow) {
	for (int r = blockIdx.x; r < rows; r += gridDim.x) {
		long long off = (long long)r * n;
		int t = targets[r];
		float *d = dlogits + off;
		if (t == ignore) {
			for (int j = threadIdx.x; j < n; j += blockDim.x) d[j] = 0.f;
			continue;
		}
		const float *x = logits + off;
		float wr = wrow ? wrow[r] : w, l = lse[r];
		for (int j = threadIdx.x; j < n; j += blockDim.x) {
			float g = expf(x[j] - l) * wr;
			d[j] = j == t ? g - wr : g;
		}
	}
}
