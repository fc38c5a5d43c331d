// LayerNorm and RMSNorm over the rows of a contiguous [rows, n] array,
// forward and backward, with optional affine weight (and LayerNorm bias).
// reference: kernels.LayerNormRowRef, kernels.LayerNormRowBackwardRef,
// kernels.RMSNormRowRef, kernels.RMSNormRowBackwardRef
//
// Forward: one block a row; writes y and the per-row statistics (mean and
// rstd for LayerNorm, rstd for RMSNorm) that the backward reads. w and b may
// be null (unit weight, no bias). LayerNorm's variance is two-pass, as the
// reference's.
// Backward: dx one block a row; dw and db ACCUMULATE (+=), as the
// references, one thread a column summing the rows in order, so the result
// does not depend on scheduling (no atomics).
#include "common.cuh"

extern "C" __global__ void kiln_layernorm(int rows, int n, float eps, float *yp, float *meanp, float *rstdp,
	const float *xp, const float *w, const float *b) {
	__shared__ float scratch[32];
	for (int r = blockIdx.x; r < rows; r += gridDim.x) {
		const float *x = xp + (long long)r * n;
		float *y = yp + (long long)r * n;
		float s = 0.f;
		for (int j = threadIdx.x; j < n; j += blockDim.x) s += x[j];
		float mean = block_sum(s, scratch) / n;
		float ss = 0.f;
		for (int j = threadIdx.x; j < n; j += blockDim.x) {
			float d = x[j] - mean;
			ss += d * d;
		}
		float rstd = rsqrtf(block_sum(ss, scratch) / n + eps);
		for (int j = threadIdx.x; j < n; j += blockDim.x) {
			float o = (x[j] - mean) * rstd;
			if (w) o *= w[j];
			if (b) o += b[j];
			y[j] = o;
		}
		if (threadIdx.x == 0) {
			meanp[r] = mean;
			rstdp[r] = rstd;
		}
	}
}

extern "C" __global__ void kiln_layernorm_backward_dx(int rows, int n, float *dxp, const float *dyp, const float *xp,
	const float *w, const float *meanp, const float *rstdp) {
	__shared__ float scratch[32];
	for (int r = blockIdx.x; r < rows; r += gridDim.x) {
		long long off = (long long)r * n;
		const float *x = xp + off, *dy = dyp + off;
		float *dx = dxp + off;
		float mean = meanp[r], rstd = rstdp[r];
		float sg = 0.f, sgx = 0.f;
		for (int j = threadIdx.x; j < n; j += blockDim.x) {
			float xh = (x[j] - mean) * rstd;
			float g = w ? dy[j] * w[j] : dy[j];
			sg += g;
			sgx += g * xh;
		}
		float mg = block_sum(sg, scratch) / n;
		float mgx = block_sum(sgx, scratch) / n;
		for (int j = threadIdx.x; j < n; j += blockDim.x) {
			float xh = (x[j] - mean) * rstd;
			float g = w ? dy[j] * w[j] : dy[j];
			dx[j] = rstd * (g - mg - xh * mgx);
		}
	}
}

// dw[j] += sum_r dy[r,j]*xhat[r,j]; db[j] += sum_r dy[r,j] (either may be null).
extern "C" __global__ void kiln_layernorm_backward_dwdb(int rows, int n, float *dw, float *db, const float *dy,
	const float *x, const float *meanp, const float *rstdp) {
	KILN_FOR(j, n) {
		float aw = dw ? dw[j] : 0.f, ab = db ? db[j] : 0.f;
		for (int r = 0; r < rows; r++) {
			long long o = (long long)r * n + j;
			aw += dy[o] * ((x[o] - meanp[r]) * rstdp[r]);
			ab += dy[o];
		}
		if (dw) dw[j] = aw;
		if (db) db[j] = ab;
	}
}

extern "C" __global__ void kiln_rmsnorm(int rows, int n, float eps, float *yp, float *rstdp, const float *xp, const float *w) {
	__shared__ float scratch[32];
	for (int r = blockIdx.x; r < rows; r += gridDim.x) {
		const float *x = xp + (long long)r * n;
		float *y = yp + (long long)r * n;
		float ss = 0.f;
		for (int j = threadIdx.x; j < n; j += blockDim.x) ss += x[j] * x[j];
		float rstd = rsqrtf(block_sum(ss, scratch) / n + eps);
		for (int j = threadIdx.x; j < n; j += blockDim.x) {
			float o = x[j] * rstd;
			y[j] = w ? o * w[j] : o;
		}
		if (threadIdx.x == 0) rstdp[r] = rstd;
	}
}

extern "C" __global__ void kiln_rmsnorm_backward_dx(int rows, int n, float *dxp, const float *dyp, const float *xp,
	const float *w, const float *rstdp) {
	__shared__ float scratch[32];
	for (int r = blockIdx.x; r < rows; r += gridDim.x) {
		long long off = (long long)r * n;
		const float *x = xp + off, *dy = dyp + off;
		float *dx = dxp + off;
		float rstd = rstdp[r];
		float sgx = 0.f;
		for (int j = threadIdx.x; j < n; j += blockDim.x) sgx += (w ? dy[j] * w[j] : dy[j]) * x[j];
		float c = block_sum(sgx, scratch) / n * rstd * rstd;
		for (int j = threadIdx.x; j < n; j += blockDim.x) {
			float g = w ? dy[j] * w[j] : dy[j];
			dx[j] = rstd * (g - x[j] * c);
		}
	}
}

// dw[j] += sum_r dy[r,j]*x[r,j]*rstd[r].
extern "C" __global__ void kiln_rmsnorm_backward_dw(int rows, int n, float *dw, const float *dy, const float *x, const float *rstdp) {
	KILN_FOR(j, n) {
		float a = dw[j];
		for (int r = 0; r < rows; r++) {
			long long o = (long long)r * n + j;
			a += dy[o] * x[o] * rstdp[r];
		}
		dw[j] = a;
	}
}
