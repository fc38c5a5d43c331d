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
// register tile made of four 4 x 4 quarters (rows ty*4 and 64 + ty*4, columns
// tx*4 and 64 + tx*4, so that a warp's shared-memory reads are broadcasts or
// consecutive float4s: no bank conflicts). A and B go through shared memory
// BK columns of k at a time, stored k-major (As[k][m], Bs[k][n]) and double
// buffered: each thread loads the next slab into registers while the block
// computes on the current one, so there is one barrier a slab. Loads and
// stores are bounds-checked, so any m, n, k and leading dimension works
// (edge tiles read zeros past the matrix). Batch item z starts
// strideA/B/C elements after item z-1 (0 broadcasts an operand).
#include "common.cuh"

#define BM 128
#define BN 128
#define BK 8
#define TM 8
#define TN 8
#define THREADS 256 // (BM/TM) * (BN/TN)

#define PAD 4 // As/Bs row padding: rows 4 apart land 16 banks apart

// A thread's share of a BK x 128 slab of op(X) (X's rows = the 128 rows of
// the tile), four elements: load_slab reads them from global memory into
// registers, store_slab writes them to s[BK][128 + PAD]. X is read as
// x[r*ld + p] when !trans (contiguous in p: two threads a row, four
// consecutive p each), else x[p*ld + r] (contiguous in r: a warp reads 128
// consecutive rows of one p). Outside rows x k it loads zeros.
// A thread's four elements are consecutive in memory; where they are all in
// range and 16-byte aligned they come in one float4 load.
__device__ __forceinline__ bool aligned16(const float *p) { return (reinterpret_cast<unsigned long long>(p) & 15) == 0; }

__device__ __forceinline__ void load4(float v[4], const float *p) {
	float4 f = *reinterpret_cast<const float4 *>(p);
	v[0] = f.x, v[1] = f.y, v[2] = f.z, v[3] = f.w;
}

__device__ __forceinline__ void load_slab(float v[4], const float *x, int ld, bool trans, int rows, int k, int row0, int p0) {
	int t = threadIdx.x;
	if (!trans) {
		int r = t >> 1, pq = (t & 1) * 4;
		int gr = row0 + r, gp0 = p0 + pq;
		const float *px = x + (long long)gr * ld + gp0;
		if (gr < rows && gp0 + 3 < k && aligned16(px)) {
			load4(v, px);
			return;
		}
#pragma unroll
		for (int q = 0; q < 4; q++) {
			int gp = gp0 + q;
			v[q] = (gr < rows && gp < k) ? x[(long long)gr * ld + gp] : 0.f;
		}
	} else {
		int p = t >> 5, rq = (t & 31) * 4;
		int gp = p0 + p, gr0 = row0 + rq;
		const float *px = x + (long long)gp * ld + gr0;
		if (gp < k && gr0 + 3 < rows && aligned16(px)) {
			load4(v, px);
			return;
		}
#pragma unroll
		for (int q = 0; q < 4; q++) {
			int gr = gr0 + q;
			v[q] = (gr < rows && gp < k) ? x[(long long)gp * ld + gr] : 0.f;
		}
	}
}

__device__ __forceinline__ void store_slab(float (*s)[BM + PAD], const float v[4], bool trans) {
	int t = threadIdx.x;
	if (!trans) {
		int r = t >> 1, pq = (t & 1) * 4;
#pragma unroll
		for (int q = 0; q < 4; q++) s[pq + q][r] = v[q];
	} else {
		int p = t >> 5, rq = (t & 31) * 4;
#pragma unroll
		for (int q = 0; q < 4; q++) s[p][rq + q] = v[q];
	}
}

extern "C" __global__ void __launch_bounds__(THREADS)
kiln_sgemm(int transA, int transB, int m, int n, int k, float alpha,
	const float *__restrict__ A, int lda, long long strideA,
	const float *__restrict__ B, int ldb, long long strideB,
	float beta, float *__restrict__ C, int ldc, long long strideC, int batch) {
	__shared__ __align__(16) float As[2][BK][BM + PAD];
	__shared__ __align__(16) float Bs[2][BK][BN + PAD];

	int tx = threadIdx.x % 16, ty = threadIdx.x / 16;
	int row0 = blockIdx.y * BM, col0 = blockIdx.x * BN;
	// op(A) rows are C's rows; op(B)^T rows are C's columns, so B is loaded
	// as the transpose: !transB reads b[p*ldb + j], contiguous in j.
	bool ta = transA != 0, tb = transB == 0;

	for (int z = blockIdx.z; z < batch; z += gridDim.z) {
		const float *a = A + z * strideA;
		const float *b = B + z * strideB;
		float *c = C + z * strideC;

		float acc[TM][TN];
#pragma unroll
		for (int i = 0; i < TM; i++)
#pragma unroll
			for (int j = 0; j < TN; j++) acc[i][j] = 0.f;

		float va[4], vb[4];
		int cur = 0;
		if (k > 0) {
			load_slab(va, a, lda, ta, m, k, row0, 0);
			load_slab(vb, b, ldb, tb, n, k, col0, 0);
			store_slab(As[0], va, ta);
			store_slab(Bs[0], vb, tb);
		}
		__syncthreads();
		for (int p0 = 0; p0 < k; p0 += BK) {
			bool more = p0 + BK < k;
			if (more) { // the next slab's global loads overlap this slab's math
				load_slab(va, a, lda, ta, m, k, row0, p0 + BK);
				load_slab(vb, b, ldb, tb, n, k, col0, p0 + BK);
			}
#pragma unroll
			for (int kk = 0; kk < BK; kk++) {
				float4 a0 = *reinterpret_cast<const float4 *>(&As[cur][kk][ty * 4]);
				float4 a1 = *reinterpret_cast<const float4 *>(&As[cur][kk][64 + ty * 4]);
				float4 b0 = *reinterpret_cast<const float4 *>(&Bs[cur][kk][tx * 4]);
				float4 b1 = *reinterpret_cast<const float4 *>(&Bs[cur][kk][64 + tx * 4]);
				float ra[TM] = {a0.x, a0.y, a0.z, a0.w, a1.x, a1.y, a1.z, a1.w};
				float rb[TN] = {b0.x, b0.y, b0.z, b0.w, b1.x, b1.y, b1.z, b1.w};
#pragma unroll
				for (int i = 0; i < TM; i++)
#pragma unroll
					for (int j = 0; j < TN; j++) acc[i][j] = fmaf(ra[i], rb[j], acc[i][j]);
			}
			if (more) {
				// The other buffer was last read before the previous
				// barrier, so it is free to overwrite.
				store_slab(As[cur ^ 1], va, ta);
				store_slab(Bs[cur ^ 1], vb, tb);
			}
			__syncthreads();
			cur ^= 1;
		}

		// acc[i][j] is C[row(i), col(j)], row(i) = ty*4 + i (i < 4) or
		// 64 + ty*4 + i-4, likewise the columns with tx.
#pragma unroll
		for (int i = 0; i < TM; i++) {
			int gi = row0 + (i < 4 ? ty * 4 + i : 64 + ty * 4 + i - 4);
			if (gi >= m) continue;
#pragma unroll
			for (int j = 0; j < TN; j++) {
				int gj = col0 + (j < 4 ? tx * 4 + j : 64 + tx * 4 + j - 4);
				if (gj < n) {
					float *cp = c + (long long)gi * ldc + gj;
					*cp = beta == 0.f ? alpha * acc[i][j] : alpha * acc[i][j] + beta * *cp;
				}
			}
		}
		__syncthreads(); // the next batch item's prologue rewrites As[0], Bs[0]
	}
}
