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
// 64 x 32 tile as 4 x 4 mma.sync tiles of 16 x 8 (m16n8k16 for BF16,
// m16n8k8 for TF32, by inline PTX). A and B go through shared memory
// BF16_BK / TF32_BK values of k at a time (64 and 32), two stages deep in
// dynamic shared memory (ops.go sizes it), each operand kept in its global
// layout (contiguous dimension last, rows padded by 16 bytes against bank
// conflicts), so every global load is a 16-byte run along the contiguous
// dimension. Runs that are in range and 16-byte aligned go by cp.async
// (sm_80): the next k-slab is in flight while the tensor cores work on
// this one, with one barrier a slab; other runs are loaded element by
// element with zeros outside the matrix, so any size and alignment works.
// BF16 fragments are loaded by ldmatrix (.trans where the operand's layout
// needs it); TF32 ones element by element. Results go from the
// accumulators to C, bounds-checked, with alpha and beta.
#include "common.cuh"
#include <cuda_bf16.h>
#include <mma.h>

using namespace nvcuda;

#define TBM 128
#define TBN 128
#define TTHREADS 256
#define TSTAGE 20480 // bytes of a stage of 128 x 128 tiles and 32 bytes of k
#ifndef BF16_STAGES
#define BF16_STAGES 2 // the BF16 pipeline's depth (ops.go: bf16Stages)
#endif
#ifndef BF16_BK
#define BF16_BK 64 // the BF16 k-slab (ops.go: bf16BK)
#endif
#define BF16_BN 128 // the BF16 block tile's columns (ops.go: bf16BN)
#define TF32_STAGES 2 // the TF32 pipeline (ops.go: tf32Stages, tf32BK)
#define TF32_BK 32

// cp_async16 copies 16 bytes global -> shared without going through
// registers (cp.async.cg, sm_80); the emulator copies at once.
__device__ __forceinline__ void cp_async16(void *dst, const void *src) {
#ifdef __CUDA_ARCH__
	unsigned d = (unsigned)__cvta_generic_to_shared(dst);
	asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n" ::"r"(d), "l"(src));
#else
	memcpy(dst, src, 16);
#endif
}
__device__ __forceinline__ void cp_async_commit() {
#ifdef __CUDA_ARCH__
	asm volatile("cp.async.commit_group;\n" ::);
#endif
}
// cp_async_wait<N> waits until at most N committed groups are in flight.
template <int N>
__device__ __forceinline__ void cp_async_wait() {
#ifdef __CUDA_ARCH__
	asm volatile("cp.async.wait_group %0;\n" ::"n"(N));
#endif
}

// copy_tile copies the R x C tile of a row-major global matrix (rows r0..,
// cols c0.., leading dimension ld; rows >= rmax or cols >= cmax read as
// zero) into dst[r][c] (leading dimension LD), 16 bytes a thread at a time.
template <typename T, int R, int C, int LD>
__device__ __forceinline__ void copy_tile(T *dst, const T *src, int ld, int r0, int c0, int rmax, int cmax) {
	constexpr int V = 16 / sizeof(T);
#pragma unroll
	for (int e = threadIdx.x; e < R * C / V; e += TTHREADS) {
		int r = e / (C / V), c = (e % (C / V)) * V;
		int gr = r0 + r, gc = c0 + c;
		int valid = gr < rmax ? max(0, min(V, cmax - gc)) : 0;
		const T *p = src + (long long)(gr < rmax ? gr : 0) * ld + (valid > 0 ? gc : 0);
		T *d = dst + r * LD + c;
		if (valid == V && (reinterpret_cast<unsigned long long>(p) & 15) == 0) {
			cp_async16(d, p);
		} else {
#pragma unroll
			for (int q = 0; q < V; q++) d[q] = q < valid ? p[q] : T(0.f);
		}
	}
}

// Shared-memory layout of one stage for operand layouts TA, TB: A is
// As[m][k] (!TA) or As[k][m] (TA); B is Bs[k][n] (!TB) or Bs[n][k] (TB);
// rows padded by 16 bytes.
template <typename T, int BK, bool TA, bool TB, int BN = TBN>
struct tc_tiles {
	static constexpr int P = 16 / sizeof(T);
	static constexpr int LDA = TA ? TBM + P : BK + P;
	static constexpr int LDB = TB ? BK + P : BN + P;
	static constexpr int ABYTES = (TBM * (BK + P) > BK * (TBM + P) ? TBM * (BK + P) : BK * (TBM + P)) * sizeof(T);
	static constexpr int BBYTES = (BN * (BK + P) > BK * (BN + P) ? BN * (BK + P) : BK * (BN + P)) * sizeof(T);
	static constexpr int STAGE = ABYTES + BBYTES; // TSTAGE for BN = TBN
	__device__ static T *A(unsigned char *sm, int s) { return reinterpret_cast<T *>(sm + s * STAGE); }
	__device__ static T *B(unsigned char *sm, int s) { return reinterpret_cast<T *>(sm + s * STAGE + ABYTES); }
	// load issues the k-slab [p0, p0+BK) of op(A) and op(B) into stage s.
	__device__ static void load(unsigned char *sm, int s, const T *a, int lda, const T *b, int ldb,
		int m, int n, int k, int row0, int col0, int p0) {
		if (!TA) copy_tile<T, TBM, BK, LDA>(A(sm, s), a, lda, row0, p0, m, k);
		else copy_tile<T, BK, TBM, LDA>(A(sm, s), a, lda, p0, row0, k, m);
		if (!TB) copy_tile<T, BK, BN, LDB>(B(sm, s), b, ldb, p0, col0, k, n);
		else copy_tile<T, BN, BK, LDB>(B(sm, s), b, ldb, col0, p0, n, k);
	}
};
static_assert(tc_tiles<float, 16, false, false>::STAGE == TSTAGE, "TF32 stage size");
static_assert(tc_tiles<__nv_bfloat16, 32, true, true>::STAGE == TSTAGE, "BF16 stage size");

// ---- BF16 by mma.sync (m16n8k16) with ldmatrix ----
//
// wmma's fragment loads compile to 32-bit shared loads; ldmatrix moves four
// 8 x 8 matrices of 16-bit values a warp instruction (.trans transposes
// them on the way), so the BF16 GEMM issues its tensor-core work as
// mma.sync.m16n8k16 on fragments loaded by ldmatrix.x4. The register
// layouts are the PTX ISA's (mma m16n8k16 .bf16 fragments; g = lane/4,
// q = lane%4): a0..a3 = A[g | g+8 | g | g+8][2q.. | 2q.. | 2q+8.. | 2q+8..],
// b0, b1 = B[2q.., 2q+8..][g], c0..c3 = C[g, g, g+8, g+8][2q, 2q+1, 2q, 2q+1].
// The emulator does each warp instruction through per-warp scratch between
// two warp barriers.

#ifndef __CUDA_ARCH__
static inline float emu_bf16_bits(unsigned h) { return __uint_as_float((h & 0xffffu) << 16); }
#endif

// ldsm_x4 loads four 8 x 8 matrices: lanes 8j..8j+7 give the addresses of
// matrix j's rows (16 bytes each, 16-byte aligned); r[j] holds this lane's
// two values of matrix j: row lane/4, columns 2(lane%4), +1, of the matrix
// as stored (TRANS false) or transposed (TRANS true).
template <bool TRANS>
__device__ __forceinline__ void ldsm_x4(unsigned (&r)[4], const __nv_bfloat16 *p) {
#ifdef __CUDA_ARCH__
	unsigned a = (unsigned)__cvta_generic_to_shared(p);
	if (TRANS)
		asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
			: "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3]) : "r"(a));
	else
		asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
			: "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3]) : "r"(a));
#else
	static const uint16_t *addr[32][32];
	int w = threadIdx.x / KILN_WARP, l = threadIdx.x % KILN_WARP;
	if (reinterpret_cast<uintptr_t>(p) & 15) {
		std::fprintf(stderr, "cudaemu: ldmatrix: row address %p not 16-byte aligned\n", (const void *)p);
		std::abort();
	}
	addr[w][l] = reinterpret_cast<const uint16_t *>(p);
	__syncwarp();
	for (int j = 0; j < 4; j++) {
		unsigned lo, hi;
		if (!TRANS) {
			const uint16_t *row = addr[w][j * 8 + l / 4];
			lo = row[2 * (l % 4)], hi = row[2 * (l % 4) + 1];
		} else {
			lo = addr[w][j * 8 + 2 * (l % 4)][l / 4], hi = addr[w][j * 8 + 2 * (l % 4) + 1][l / 4];
		}
		r[j] = lo | hi << 16;
	}
	__syncwarp();
#endif
}

// mma_bf16 is d += a * b for one m16n8k16 tile (FP32 accumulation).
__device__ __forceinline__ void mma_bf16(float (&d)[4], const unsigned (&a)[4], unsigned b0, unsigned b1) {
#ifdef __CUDA_ARCH__
	asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};\n"
		: "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
		: "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
#else
	static unsigned buf[32][32][6];
	int w = threadIdx.x / KILN_WARP, l = threadIdx.x % KILN_WARP;
	for (int i = 0; i < 4; i++) buf[w][l][i] = a[i];
	buf[w][l][4] = b0, buf[w][l][5] = b1;
	__syncwarp();
	for (int i = 0; i < 4; i++) {
		int row = l / 4 + (i / 2) * 8, col = 2 * (l % 4) + i % 2;
		float s = d[i];
		for (int k = 0; k < 16; k++) {
			unsigned av = buf[w][(row % 8) * 4 + (k % 8) / 2][row / 8 + 2 * (k / 8)];
			unsigned bv = buf[w][col * 4 + (k % 8) / 2][4 + k / 8];
			s += emu_bf16_bits(k % 2 ? av >> 16 : av) * emu_bf16_bits(k % 2 ? bv >> 16 : bv);
		}
		d[i] = s;
	}
	__syncwarp();
#endif
}

// gemm_bf16_mma is gemm_tc for BF16 with the same tiles and warp tiles
// (64 x 32: 4 x 4 mma tiles of 16 x 8), but NS stages deep (in dynamic
// shared memory) and one barrier a k-slab: at iteration t, once slab t has
// landed and every thread has passed the barrier, slab t+NS-1 is issued
// into the stage slab t-1 was read from. The epilogue writes straight from
// the accumulators.
template <int NS, int BN, bool TA, bool TB>
__device__ __forceinline__ void gemm_bf16_mma(unsigned char *sm, int m, int n, int k, float alpha,
	const __nv_bfloat16 *a, int lda, const __nv_bfloat16 *b, int ldb, float beta, float *c, int ldc, int row0, int col0) {
	constexpr int BK = BF16_BK;
	using T = __nv_bfloat16;
	using L = tc_tiles<T, BK, TA, TB, BN>;
	constexpr int WN = BN / 4, NJ = WN / 8; // warp tile columns, n8 tiles
	int warp = threadIdx.x / KILN_WARP, lane = threadIdx.x % KILN_WARP;
	int wm = warp / 4, wn = warp % 4;
	float acc[4][NJ][4];
#pragma unroll
	for (int i = 0; i < 4; i++)
#pragma unroll
		for (int j = 0; j < NJ; j++)
#pragma unroll
			for (int q = 0; q < 4; q++) acc[i][j][q] = 0.f;
	// This lane's ldmatrix row addresses, relative to the warp tile's
	// corner (see ldsm_x4 and the fragment layouts above).
	int l8 = lane % 8, l16 = lane % 16, h1 = (lane / 8) % 2, h2 = lane / 16;
	int aoff = TA ? (l8 + h2 * 8) * L::LDA + h1 * 8 // As[k][m], transposed
	              : l16 * L::LDA + h2 * 8;          // As[m][k]
	int boff = TB ? (l8 + h2 * 8) * L::LDB + h1 * 8 // Bs[n][k]
	              : (l8 + h1 * 8) * L::LDB + h2 * 8; // Bs[k][n], transposed
	int nt = (k + BK - 1) / BK;
#pragma unroll
	for (int s = 0; s < NS - 1; s++) {
		if (s < nt) L::load(sm, s, a, lda, b, ldb, m, n, k, row0, col0, s * BK);
		cp_async_commit(); // a group a slab, empty past the end
	}
	for (int t = 0; t < nt; t++) {
		cp_async_wait<NS - 2>(); // slab t has landed (this thread's part)
		__syncthreads();         // everyone's part, and slab t-1 is read
		if (t + NS - 1 < nt) L::load(sm, (t + NS - 1) % NS, a, lda, b, ldb, m, n, k, row0, col0, (t + NS - 1) * BK);
		cp_async_commit();
		const T *As = L::A(sm, t % NS), *Bs = L::B(sm, t % NS);
#pragma unroll
		for (int kk = 0; kk < BK; kk += 16) {
			unsigned af[4][4], bf[NJ / 2][4];
#pragma unroll
			for (int i = 0; i < 4; i++) {
				int r = wm * 64 + i * 16;
				ldsm_x4<TA>(af[i], As + (TA ? kk * L::LDA + r : r * L::LDA + kk) + aoff);
			}
#pragma unroll
			for (int j = 0; j < NJ / 2; j++) {
				int cc = wn * WN + j * 16;
				ldsm_x4<!TB>(bf[j], Bs + (TB ? cc * L::LDB + kk : kk * L::LDB + cc) + boff);
			}
#pragma unroll
			for (int i = 0; i < 4; i++)
#pragma unroll
				for (int j = 0; j < NJ; j++) mma_bf16(acc[i][j], af[i], bf[j / 2][(j % 2) * 2], bf[j / 2][(j % 2) * 2 + 1]);
		}
	}
	cp_async_wait<0>(); // only empty groups are left; the caller syncs before the next item
	int g = lane / 4, q = lane % 4;
#pragma unroll
	for (int i = 0; i < 4; i++)
#pragma unroll
		for (int j = 0; j < NJ; j++)
#pragma unroll
			for (int e = 0; e < 4; e++) {
				int gi = row0 + wm * 64 + i * 16 + g + (e / 2) * 8, gj = col0 + wn * WN + j * 8 + 2 * q + e % 2;
				if (gi < m && gj < n) {
					float *cp = c + (long long)gi * ldc + gj;
					float v = alpha * acc[i][j][e];
					*cp = beta == 0.f ? v : v + beta * *cp;
				}
			}
}

// ---- TF32 by mma.sync (m16n8k8) ----
//
// Fragments (PTX ISA, m16n8k8 .tf32; g = lane/4, q = lane%4): a0..a3 =
// A[g | g+8 | g | g+8][q | q | q+4 | q+4], b0, b1 = B[q, q+4][g], c as for
// BF16. ldmatrix cannot transpose 32-bit values, so the fragments are read
// from shared memory element by element, each rounded to TF32 (to nearest,
// ties away: cvt.rna) as wmma's __float_to_tf32 did.

__device__ __forceinline__ unsigned to_tf32(float f) {
#ifdef __CUDA_ARCH__
	unsigned r;
	asm("cvt.rna.tf32.f32 %0, %1;\n" : "=r"(r) : "f"(f));
	return r;
#else
	float t = wmma::__float_to_tf32(f);
	unsigned r;
	memcpy(&r, &t, 4);
	return r;
#endif
}

// mma_tf32 is d += a * b for one m16n8k8 tile (FP32 accumulation).
__device__ __forceinline__ void mma_tf32(float (&d)[4], const unsigned (&a)[4], unsigned b0, unsigned b1) {
#ifdef __CUDA_ARCH__
	asm volatile("mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};\n"
		: "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
		: "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
#else
	static unsigned buf[32][32][6];
	int w = threadIdx.x / KILN_WARP, l = threadIdx.x % KILN_WARP;
	for (int i = 0; i < 4; i++) buf[w][l][i] = a[i];
	buf[w][l][4] = b0, buf[w][l][5] = b1;
	__syncwarp();
	for (int i = 0; i < 4; i++) {
		int row = l / 4 + (i / 2) * 8, col = 2 * (l % 4) + i % 2;
		float s = d[i];
		for (int k = 0; k < 8; k++) {
			float av = __uint_as_float(buf[w][(row % 8) * 4 + k % 4][row / 8 + 2 * (k / 4)]);
			float bv = __uint_as_float(buf[w][col * 4 + k % 4][4 + k / 4]);
			s += av * bv;
		}
		d[i] = s;
	}
	__syncwarp();
#endif
}

// gemm_tf32_mma is gemm_bf16_mma for TF32: 128 x 128 tiles, warp tiles of
// 64 x 32 (4 x 4 mma tiles of 16 x 8), k-slabs of TF32_BK, NS stages.
template <int NS, bool TA, bool TB>
__device__ __forceinline__ void gemm_tf32_mma(unsigned char *sm, int m, int n, int k, float alpha,
	const float *a, int lda, const float *b, int ldb, float beta, float *c, int ldc, int row0, int col0) {
	constexpr int BK = TF32_BK;
	using L = tc_tiles<float, BK, TA, TB, TBN>;
	int warp = threadIdx.x / KILN_WARP, lane = threadIdx.x % KILN_WARP;
	int wm = warp / 4, wn = warp % 4;
	int g = lane / 4, q = lane % 4;
	float acc[4][4][4];
#pragma unroll
	for (int i = 0; i < 4; i++)
#pragma unroll
		for (int j = 0; j < 4; j++)
#pragma unroll
			for (int e = 0; e < 4; e++) acc[i][j][e] = 0.f;
	int nt = (k + BK - 1) / BK;
#pragma unroll
	for (int s = 0; s < NS - 1; s++) {
		if (s < nt) L::load(sm, s, a, lda, b, ldb, m, n, k, row0, col0, s * BK);
		cp_async_commit();
	}
	for (int t = 0; t < nt; t++) {
		cp_async_wait<NS - 2>();
		__syncthreads();
		if (t + NS - 1 < nt) L::load(sm, (t + NS - 1) % NS, a, lda, b, ldb, m, n, k, row0, col0, (t + NS - 1) * BK);
		cp_async_commit();
		const float *As = L::A(sm, t % NS), *Bs = L::B(sm, t % NS);
#pragma unroll
		for (int kk = 0; kk < BK; kk += 8) {
			unsigned af[4][4], bf[4][2];
#pragma unroll
			for (int i = 0; i < 4; i++) {
				int r = wm * 64 + i * 16 + g;
#pragma unroll
				for (int e = 0; e < 4; e++) {
					int rr = r + (e % 2) * 8, kc = kk + q + (e / 2) * 4;
					af[i][e] = to_tf32(TA ? As[kc * L::LDA + rr] : As[rr * L::LDA + kc]);
				}
			}
#pragma unroll
			for (int j = 0; j < 4; j++) {
				int cc = wn * 32 + j * 8 + g;
#pragma unroll
				for (int e = 0; e < 2; e++) {
					int kc = kk + q + e * 4;
					bf[j][e] = to_tf32(TB ? Bs[cc * L::LDB + kc] : Bs[kc * L::LDB + cc]);
				}
			}
#pragma unroll
			for (int i = 0; i < 4; i++)
#pragma unroll
				for (int j = 0; j < 4; j++) mma_tf32(acc[i][j], af[i], bf[j][0], bf[j][1]);
		}
	}
	cp_async_wait<0>();
#pragma unroll
	for (int i = 0; i < 4; i++)
#pragma unroll
		for (int j = 0; j < 4; j++)
#pragma unroll
			for (int e = 0; e < 4; e++) {
				int gi = row0 + wm * 64 + i * 16 + g + (e / 2) * 8, gj = col0 + wn * 32 + j * 8 + 2 * q + e % 2;
				if (gi < m && gj < n) {
					float *cp = c + (long long)gi * ldc + gj;
					float v = alpha * acc[i][j][e];
					*cp = beta == 0.f ? v : v + beta * *cp;
				}
			}
}

template <typename T, int BK, bool TA, bool TB>
__device__ __forceinline__ void gemm_tc_batched(unsigned char *sm, int m, int n, int k, float alpha,
	const T *A, int lda, long long strideA, const T *B, int ldb, long long strideB,
	float beta, float *C, int ldc, long long strideC, int batch) {
	int row0 = blockIdx.y * TBM, col0 = blockIdx.x * (sizeof(T) == 2 ? BF16_BN : TBN);
	for (int z = blockIdx.z; z < batch; z += gridDim.z) {
		__syncthreads(); // the previous item's staging tiles are read
		if constexpr (sizeof(T) == 2)
			gemm_bf16_mma<BF16_STAGES, BF16_BN, TA, TB>(sm, m, n, k, alpha, A + z * strideA, lda, B + z * strideB, ldb, beta, C + z * strideC, ldc, row0, col0);
		else
			gemm_tf32_mma<TF32_STAGES, TA, TB>(sm, m, n, k, alpha, A + z * strideA, lda, B + z * strideB, ldb, beta, C + z * strideC, ldc, row0, col0);
	}
}

template <typename T, int BK>
__device__ __forceinline__ void gemm_tc_dispatch(unsigned char *sm, int transA, int transB, int m, int n, int k, float alpha,
	const T *A, int lda, long long strideA, const T *B, int ldb, long long strideB,
	float beta, float *C, int ldc, long long strideC, int batch) {
	if (!transA && !transB) gemm_tc_batched<T, BK, false, false>(sm, m, n, k, alpha, A, lda, strideA, B, ldb, strideB, beta, C, ldc, strideC, batch);
	else if (transA && !transB) gemm_tc_batched<T, BK, true, false>(sm, m, n, k, alpha, A, lda, strideA, B, ldb, strideB, beta, C, ldc, strideC, batch);
	else if (!transA && transB) gemm_tc_batched<T, BK, false, true>(sm, m, n, k, alpha, A, lda, strideA, B, ldb, strideB, beta, C, ldc, strideC, batch);
	else gemm_tc_batched<T, BK, true, true>(sm, m, n, k, alpha, A, lda, strideA, B, ldb, strideB, beta, C, ldc, strideC, batch);
}

extern "C" __global__ void __launch_bounds__(TTHREADS, 2)
kiln_gemm_tf32(int transA, int transB, int m, int n, int k, float alpha,
	const float *__restrict__ A, int lda, long long strideA,
	const float *__restrict__ B, int ldb, long long strideB,
	float beta, float *__restrict__ C, int ldc, long long strideC, int batch) {
	// TF32_STAGES stages of dynamic shared memory (ops.go).
#ifdef __CUDA_ARCH__
	extern __shared__ __align__(128) unsigned char sm[];
#else
	static __align__(128) unsigned char sm[TF32_STAGES * tc_tiles<float, TF32_BK, false, false, TBN>::STAGE];
#endif
	gemm_tc_dispatch<float, TF32_BK>(sm, transA, transB, m, n, k, alpha, A, lda, strideA, B, ldb, strideB, beta, C, ldc, strideC, batch);
}

extern "C" __global__ void __launch_bounds__(TTHREADS, 2)
kiln_gemm_bf16(int transA, int transB, int m, int n, int k, float alpha,
	const __nv_bfloat16 *__restrict__ A, int lda, long long strideA,
	const __nv_bfloat16 *__restrict__ B, int ldb, long long strideB,
	float beta, float *__restrict__ C, int ldc, long long strideC, int batch) {
	// BF16_STAGES stages of dynamic shared memory (ops.go).
#ifdef __CUDA_ARCH__
	extern __shared__ __align__(128) unsigned char sm[];
#else
	static __align__(128) unsigned char sm[BF16_STAGES * tc_tiles<__nv_bfloat16, BF16_BK, false, false, BF16_BN>::STAGE];
#endif
	gemm_tc_dispatch<__nv_bfloat16, 32>(sm, transA, transB, m, n, k, alpha, A, lda, strideA, B, ldb, strideB, beta, C, ldc, strideC, batch);
}

// kiln_f32_to_bf16: dst[i] = bf16(src[i]), round to nearest even.
extern "C" __global__ void kiln_f32_to_bf16(long long n, __nv_bfloat16 *dst, const float *src) {
	KILN_FOR(i, n) dst[i] = __float2bfloat16_rn(src[i]);
}
