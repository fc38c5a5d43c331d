// Tiled FP32 GEMM, plain and strided-batched.
// reference: kernels.SgemmRef (batched: kernels.SgemmStridedBatched, which is
// SgemmRef per batch item)
//
// C = alpha*op(A)*op(B) + beta*C, row-major, explicit leading dimensions, as
// kernels.Sgemm: op(A) is m x k and read as a[i*lda+p] (a[p*lda+i] when
// transA), op(B) is k x n and read as b[p*ldb+j] (b[j*ldb+p] when transB).
// beta == 0 writes C without reading it (NaNs in C vanish).
//
// One block computes a BM x BN tile of C with 256 threads, each an 8 x 8
// register tile; A and B go through shared memory BK columns at a time,
// stored k-major so the inner loop reads 8 consecutive floats of each.
// Loads and stores are bounds-checked, so any m, n, k and leading dimension
// works (edge tiles read zeros past the matrix). Batch item z starts
// strideA/B/C elements after item z-1 (0 broadcasts an operand).
#include "common.cuh"

#define BM 128
#define BN 128
#define BK 8
#define TM 8
#define TN 8
#define THREADS 256 // (BM/TM) * (BN/TN)

// load_tile copies the BK-wide slab of op(X) starting at (row0, p0) into
// s[BK][R] (R = 128 rows of op(X)), zero-filling outside rows x k.
// X is read as x[r*ld+p] when !trans (rows are contiguous in p), else
// x[p*ld+r].
__device__ __forceinline__ void load_tile(float (*s)[BM], const float *x, int ld, bool trans, int rows, int k, int row0, int p0) {
	int t = threadIdx.x;
	if (!trans) {
		// 128 rows x 8 p: two threads a row, four consecutive p each.
		int r = t >> 1, pq = (t & 1) * 4;
		int gr = row0 + r;
#pragma unroll
		for (int q = 0; q < 4; q++) {
			int gp = p0 + pq + q;
			s[pq + q][r] = (gr < rows && gp < k) ? x[(long long)gr * ld + gp] : 0.f;
		}
	} else {
		// 8 p x 128 rows: a warp reads 128 consecutive rows of one p.
		int p = t >> 5, rq = (t & 31) * 4;
		int gp = p0 + p;
#pragma unroll
		for (int q = 0; q < 4; q++) {
			int gr = row0 + rq + q;
			s[p][rq + q] = (gr < rows && gp < k) ? x[(long long)gp * ld + gr] : 0.f;
		}
	}
}

extern "C" __global__ void __launch_bounds__(THREADS)
kiln_sgemm(int transA, int transB, int m, int n, int k, float alpha,
	const float *__restrict__ A, int lda, long long strideA,
	const float *__restrict__ B, int ldb, long long strideB,
	float beta, float *__restrict__ C, int ldc, long long strideC, int batch) {
	__shared__ __align__(16) float As[BK][BM];
	__shared__ __align__(16) float Bs[BK][BN];

	int tx = threadIdx.x % (BN / TN), ty = threadIdx.x / (BN / TN);
	int row0 = blockIdx.y * BM, col0 = blockIdx.x * BN;

	for (int z = blockIdx.z; z < batch; z += gridDim.z) {
		const float *a = A + z * strideA;
		const float *b = B + z * strideB;
		float *c = C + z * strideC;

		float acc[TM][TN];
#pragma unroll
		for (int i = 0; i < TM; i++)
#pragma unroll
			for (int j = 0; j < TN; j++) acc[i][j] = 0.f;

		for (int p0 = 0; p0 < k; p0 += BK) {
			// op(A) rows are C's rows; op(B)^T rows are C's columns, so B
			// is loaded as the transpose: !transB reads b[p*ldb+j].
			load_tile(As, a, lda, transA != 0, m, k, row0, p0);
			load_tile(Bs, b, ldb, transB == 0, n, k, col0, p0);
			__syncthreads();
#pragma unroll
			for (int kk = 0; kk < BK; kk++) {
				float ra[TM], rb[TN];
				const float4 *pa = reinterpret_cast<const float4 *>(&As[kk][ty * TM]);
				const float4 *pb = reinterpret_cast<const float4 *>(&Bs[kk][tx * TN]);
				float4 a0 = pa[0], a1 = pa[1], b0 = pb[0], b1 = pb[1];
				ra[0] = a0.x; ra[1] = a0.y; ra[2] = a0.z; ra[3] = a0.w;
				ra[4] = a1.x; ra[5] = a1.y; ra[6] = a1.z; ra[7] = a1.w;
				rb[0] = b0.x; rb[1] = b0.y; rb[2] = b0.z; rb[3] = b0.w;
				rb[4] = b1.x; rb[5] = b1.y; rb[6] = b1.z; rb[7] = b1.w;
#pragma unroll
				for (int i = 0; i < TM; i++)
#pragma unroll
					for (int j = 0; j < TN; j++) acc[i][j] = fmaf(ra[i], rb[j], acc[i][j]);
			}
			__syncthreads();
		}

#pragma unroll
		for (int i = 0; i < TM; i++) {
			int gi = row0 + ty * TM + i;
			if (gi >= m) break;
#pragma unroll
			for (int j = 0; j < TN; j++) {
				int gj = col0 + tx * TN + j;
				if (gj < n) {
					float *cp = c + (long long)gi * ldc + gj;
					*cp = beta == 0.f ? alpha * acc[i][j] : alpha * acc[i][j] + beta * *cp;
				}
			}
		}
	}
}
