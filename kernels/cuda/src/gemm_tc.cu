// Tensor-core GEMM, TF32 and BF16 inputs with FP32 accumulation (sm_80+),
// plain and strided-batched, and the FP32 -> BF16 conversion.
// reference: kernels.SgemmRef on the inputs rounded as the tensor cores
// round them (tf32: to nearest, ties away from zero, 10 mantissa bits; bf16:
// to nearest even, 7 mantissa bits): the products of rounded inputs are exact
// in FP32, so only the order of the FP32 sums differs.
//
// Same contract as kernels.Sgemm (row-major, transposes, leading
// dimensions, alpha/beta, beta == 0 does not read C). BF16 operands are
// arrays of 16-bit values with leading dimensions and strides in elements.
//
// A block computes a 128 x 128 tile of C with 8 warps (2 x 4), each a
// 64 x 32 tile as 4 x 2 wmma fragments of 16 x 16. A and B go through
// shared memory 32 columns of k at a time (row-major As[m][k], Bs[k][n],
// padded against bank conflicts); global loads are bounds-checked and zero
// filled, so any size works. Each warp's fragments leave through a 16 x 16
// staging tile so that the stores can be bounds-checked.
// First version: no cp.async pipelining or swizzling yet.
#include "common.cuh"
#include <cuda_bf16.h>
#include <mma.h>

using namespace nvcuda;

#define TBM 128
#define TBN 128
#define TBK 32
#define TPADA 8 // As row padding (elements)
#define TPADB 8
#define TTHREADS 256
#define STG 20 // staging tile leading dimension (floats)

// load_tiles copies the k-slab [p0, p0+TBK) of op(A) (rows row0..+TBM) into
// As[m][k] and of op(B) (cols col0..+TBN) into Bs[k][n]. A thread moves 16
// bytes at a time (4 floats or 8 bf16) along the operand's contiguous
// dimension: one vector load where the run is in range and aligned, else
// element by element with zeros outside the matrix.
template <typename T, int V>
__device__ __forceinline__ void load_vec(T out[V], const T *src, bool full, int valid) {
	if (full && (reinterpret_cast<unsigned long long>(src) & 15) == 0) {
		uint4 raw = *reinterpret_cast<const uint4 *>(src);
		memcpy(out, &raw, 16); // not a T* into raw: that would break type aliasing
		return;
	}
#pragma unroll
	for (int q = 0; q < V; q++) out[q] = q < valid ? src[q] : T(0.f);
}

template <typename T>
__device__ __forceinline__ void load_tiles(T (*As)[TBK + TPADA], T (*Bs)[TBN + TPADB],
	const T *a, int lda, bool transA, const T *b, int ldb, bool transB,
	int m, int n, int k, int row0, int col0, int p0) {
	constexpr int V = 16 / sizeof(T);
	for (int e = threadIdx.x; e < TBM * TBK / V; e += TTHREADS) {
		T v[V];
		if (!transA) { // a[i*lda + p]: runs along k
			int i = e / (TBK / V), p = (e % (TBK / V)) * V;
			int gi = row0 + i, gp = p0 + p;
			int valid = gi < m ? max(0, min(V, k - gp)) : 0;
			load_vec<T, V>(v, a + (long long)(gi < m ? gi : 0) * lda + (valid > 0 ? gp : 0), valid == V, valid);
#pragma unroll
			for (int q = 0; q < V; q++) As[i][p + q] = v[q];
		} else { // a[p*lda + i]: runs along m
			int p = e / (TBM / V), i = (e % (TBM / V)) * V;
			int gi = row0 + i, gp = p0 + p;
			int valid = gp < k ? max(0, min(V, m - gi)) : 0;
			load_vec<T, V>(v, a + (long long)(gp < k ? gp : 0) * lda + (valid > 0 ? gi : 0), valid == V, valid);
#pragma unroll
			for (int q = 0; q < V; q++) As[i + q][p] = v[q];
		}
	}
	for (int e = threadIdx.x; e < TBK * TBN / V; e += TTHREADS) {
		T v[V];
		if (!transB) { // b[p*ldb + j]: runs along n
			int p = e / (TBN / V), j = (e % (TBN / V)) * V;
			int gj = col0 + j, gp = p0 + p;
			int valid = gp < k ? max(0, min(V, n - gj)) : 0;
			load_vec<T, V>(v, b + (long long)(gp < k ? gp : 0) * ldb + (valid > 0 ? gj : 0), valid == V, valid);
#pragma unroll
			for (int q = 0; q < V; q++) Bs[p][j + q] = v[q];
		} else { // b[j*ldb + p]: runs along k
			int j = e / (TBK / V), p = (e % (TBK / V)) * V;
			int gj = col0 + j, gp = p0 + p;
			int valid = gj < n ? max(0, min(V, k - gp)) : 0;
			load_vec<T, V>(v, b + (long long)(gj < n ? gj : 0) * ldb + (valid > 0 ? gp : 0), valid == V, valid);
#pragma unroll
			for (int q = 0; q < V; q++) Bs[p + q][j] = v[q];
		}
	}
}

// store_tile writes a warp's accumulator fragment at C[r0.., c0..] through
// the staging tile, bounds-checked, with alpha and beta.
__device__ __forceinline__ void store_tile(wmma::fragment<wmma::accumulator, 16, 16, 8, float> &acc, float *stage,
	float *c, int ldc, int m, int n, int r0, int c0, float alpha, float beta) {
	wmma::store_matrix_sync(stage, acc, STG, wmma::mem_row_major);
	__syncwarp();
	int lane = threadIdx.x % KILN_WARP;
	for (int e = lane; e < 256; e += KILN_WARP) {
		int i = e / 16, j = e % 16;
		int gi = r0 + i, gj = c0 + j;
		if (gi < m && gj < n) {
			float *cp = c + (long long)gi * ldc + gj;
			float v = alpha * stage[i * STG + j];
			*cp = beta == 0.f ? v : v + beta * *cp;
		}
	}
	__syncwarp();
}

__device__ __forceinline__ void store_tile16(wmma::fragment<wmma::accumulator, 16, 16, 16, float> &acc, float *stage,
	float *c, int ldc, int m, int n, int r0, int c0, float alpha, float beta) {
	wmma::store_matrix_sync(stage, acc, STG, wmma::mem_row_major);
	__syncwarp();
	int lane = threadIdx.x % KILN_WARP;
	for (int e = lane; e < 256; e += KILN_WARP) {
		int i = e / 16, j = e % 16;
		int gi = r0 + i, gj = c0 + j;
		if (gi < m && gj < n) {
			float *cp = c + (long long)gi * ldc + gj;
			float v = alpha * stage[i * STG + j];
			*cp = beta == 0.f ? v : v + beta * *cp;
		}
	}
	__syncwarp();
}

extern "C" __global__ void __launch_bounds__(TTHREADS)
kiln_gemm_tf32(int transA, int transB, int m, int n, int k, float alpha,
	const float *__restrict__ A, int lda, long long strideA,
	const float *__restrict__ B, int ldb, long long strideB,
	float beta, float *__restrict__ C, int ldc, long long strideC, int batch) {
	__shared__ __align__(32) float As[TBM][TBK + TPADA];
	__shared__ __align__(32) float Bs[TBK][TBN + TPADB];
	__shared__ __align__(32) float stage[TTHREADS / KILN_WARP][16 * STG];
	int warp = threadIdx.x / KILN_WARP;
	int wm = warp / 4, wn = warp % 4; // warp tile: rows wm*64.., cols wn*32..
	int row0 = blockIdx.y * TBM, col0 = blockIdx.x * TBN;
	for (int z = blockIdx.z; z < batch; z += gridDim.z) {
		const float *a = A + z * strideA, *b = B + z * strideB;
		float *c = C + z * strideC;
		wmma::fragment<wmma::accumulator, 16, 16, 8, float> acc[4][2];
#pragma unroll
		for (int i = 0; i < 4; i++)
#pragma unroll
			for (int j = 0; j < 2; j++) wmma::fill_fragment(acc[i][j], 0.f);
		for (int p0 = 0; p0 < k; p0 += TBK) {
			load_tiles<float>(As, Bs, a, lda, transA, b, ldb, transB, m, n, k, row0, col0, p0);
			__syncthreads();
#pragma unroll
			for (int kk = 0; kk < TBK; kk += 8) {
				wmma::fragment<wmma::matrix_a, 16, 16, 8, wmma::precision::tf32, wmma::row_major> af[4];
				wmma::fragment<wmma::matrix_b, 16, 16, 8, wmma::precision::tf32, wmma::row_major> bf[2];
#pragma unroll
				for (int i = 0; i < 4; i++) {
					wmma::load_matrix_sync(af[i], &As[wm * 64 + i * 16][kk], TBK + TPADA);
#pragma unroll
					for (int t = 0; t < af[i].num_elements; t++) af[i].x[t] = wmma::__float_to_tf32(af[i].x[t]);
				}
#pragma unroll
				for (int j = 0; j < 2; j++) {
					wmma::load_matrix_sync(bf[j], &Bs[kk][wn * 32 + j * 16], TBN + TPADB);
#pragma unroll
					for (int t = 0; t < bf[j].num_elements; t++) bf[j].x[t] = wmma::__float_to_tf32(bf[j].x[t]);
				}
#pragma unroll
				for (int i = 0; i < 4; i++)
#pragma unroll
					for (int j = 0; j < 2; j++) wmma::mma_sync(acc[i][j], af[i], bf[j], acc[i][j]);
			}
			__syncthreads();
		}
#pragma unroll
		for (int i = 0; i < 4; i++)
#pragma unroll
			for (int j = 0; j < 2; j++)
				store_tile(acc[i][j], stage[warp], c, ldc, m, n, row0 + wm * 64 + i * 16, col0 + wn * 32 + j * 16, alpha, beta);
	}
}

extern "C" __global__ void __launch_bounds__(TTHREADS)
kiln_gemm_bf16(int transA, int transB, int m, int n, int k, float alpha,
	const __nv_bfloat16 *__restrict__ A, int lda, long long strideA,
	const __nv_bfloat16 *__restrict__ B, int ldb, long long strideB,
	float beta, float *__restrict__ C, int ldc, long long strideC, int batch) {
	__shared__ __align__(32) __nv_bfloat16 As[TBM][TBK + TPADA];
	__shared__ __align__(32) __nv_bfloat16 Bs[TBK][TBN + TPADB];
	__shared__ __align__(32) float stage[TTHREADS / KILN_WARP][16 * STG];
	int warp = threadIdx.x / KILN_WARP;
	int wm = warp / 4, wn = warp % 4;
	int row0 = blockIdx.y * TBM, col0 = blockIdx.x * TBN;
	for (int z = blockIdx.z; z < batch; z += gridDim.z) {
		const __nv_bfloat16 *a = A + z * strideA, *b = B + z * strideB;
		float *c = C + z * strideC;
		wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc[4][2];
#pragma unroll
		for (int i = 0; i < 4; i++)
#pragma unroll
			for (int j = 0; j < 2; j++) wmma::fill_fragment(acc[i][j], 0.f);
		for (int p0 = 0; p0 < k; p0 += TBK) {
			load_tiles<__nv_bfloat16>(As, Bs, a, lda, transA, b, ldb, transB, m, n, k, row0, col0, p0);
			__syncthreads();
#pragma unroll
			for (int kk = 0; kk < TBK; kk += 16) {
				wmma::fragment<wmma::matrix_a, 16, 16, 16, __nv_bfloat16, wmma::row_major> af[4];
				wmma::fragment<wmma::matrix_b, 16, 16, 16, __nv_bfloat16, wmma::row_major> bf[2];
#pragma unroll
				for (int i = 0; i < 4; i++) wmma::load_matrix_sync(af[i], &As[wm * 64 + i * 16][kk], TBK + TPADA);
#pragma unroll
				for (int j = 0; j < 2; j++) wmma::load_matrix_sync(bf[j], &Bs[kk][wn * 32 + j * 16], TBN + TPADB);
#pragma unroll
				for (int i = 0; i < 4; i++)
#pragma unroll
					for (int j = 0; j < 2; j++) wmma::mma_sync(acc[i][j], af[i], bf[j], acc[i][j]);
			}
			__syncthreads();
		}
#pragma unroll
		for (int i = 0; i < 4; i++)
#pragma unroll
			for (int j = 0; j < 2; j++)
				store_tile16(acc[i][j], stage[warp], c, ldc, m, n, row0 + wm * 64 + i * 16, col0 + wn * 32 + j * 16, alpha, beta);
	}
}

// kiln_f32_to_bf16: dst[i] = bf16(src[i]), round to nearest even.
extern "C" __global__ void kiln_f32_to_bf16(long long n, __nv_bfloat16 *dst, const float *src) {
	KILN_FOR(i, n) dst[i] = __float2bfloat16_rn(src[i]);
}
