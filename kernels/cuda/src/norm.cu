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
// references, summed over fixed chunks of rows and then over the chunks
// (two stages, no atomics), so the result does not depend on scheduling.
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

// The weight gradients in two deterministic stages. Stage 1: block (bx, c)
// sums rows [c*chunk, (c+1)*chunk) of each column j into partial[c*n + j]
// (one thread a column, rows in order); stage 2, kiln_colsum_acc, adds the
// chunks' partials into dw in chunk order. The partition depends only on
// the sizes, so the result does not depend on scheduling.
// LayerNorm: pdw = sum dy*xhat, pdb = sum dy (either may be null).
extern "C" __global__ void kiln_layernorm_dwdb_partial(int rows, int n, int chunk, float *pdw, float *pdb,
	const float *dy, const float *x, const float *meanp, const float *rstdp) {
	int j = blockIdx.x * blockDim.x + threadIdx.x;
	if (j >= n) return;
	int r0 = blockIdx.y * chunk, r1 = min(rows, r0 + chunk);
	float aw = 0.f, ab = 0.f;
	for (int r = r0; r < r1; r++) {
		long long o = (long long)r * n + j;
		aw += dy[o] * ((x[o] - meanp[r]) * rstdp[r]);
		ab += dy[o];
	}
	long long po = (long long)blockIdx.y * n + j;
	if (pdw) pdw[po] = aw;
	if (pdb) pdb[po] = ab;
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

// RMSNorm: pdw = sum dy*x*rstd over the chunk's rows.
extern "C" __global__ void kiln_rmsnorm_dw_partial(int rows, int n, int chunk, float *pdw, const float *dy,
	const float *x, const float *rstdp) {
	int j = blockIdx.x * blockDim.x + threadIdx.x;
	if (j >= n) return;
	int r0 = blockIdx.y * chunk, r1 = min(rows, r0 + chunk);
	float a = 0.f;
	for (int r = r0; r < r1; r++) {
		long long o = (long long)r * n + j;
		a += dy[o] * x[o] * rstdp[r];
	}
	pdw[(long long)blockIdx.y * n + j] = a;
}

// kiln_colsum_acc: dst[j] += sum over c < chunks of partial[c*n + j], in c order.
extern "C" __global__ void kiln_colsum_acc(int chunks, int n, float *dst, const float *partial) {
	KILN_FOR(j, n) {
		float a = 0.f;
		for (int c = 0; c < chunks; c++) a += partial[(long long)c * n + j];
		dst[j] += a;
	}
}
