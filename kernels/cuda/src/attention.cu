// Fused scaled-dot-product attention, forward and backward, flash style: the
// S x S score matrix is never stored. FP32 on the CUDA cores.
// reference: tensor.ScaledDotProductAttention (causal mask aligned right for
// a KV cache, key padding, grouped-query heads, scale); the slice form is
// attentionRef in kernels/cuda/ref_test.go.
//
// Layout, as tensor's GEMMs see it: G groups (batch x kv heads); q [G, TQ, D]
// with TQ = rep*T (the rep query heads sharing a kv head are contiguous), k
// [G, S, D], v [G, S, Dv], out [G, TQ, Dv]. Query row r of a group has
// position i = r % T and may see key j when !(causal && j > i + S - T) and
// the key is not padded (pad[(g/perItem)*S + j] != 0; pad may be null). A
// row that sees no key gets a zero output and zero gradients.
//
// Forward: one thread a query row, its q and output accumulator in
// registers; K and V stream through shared memory a tile at a time (every
// thread reads the same key: broadcasts, no bank conflicts), with the
// online softmax rescaling once per 16 keys. It writes lse[r] = the row's
// log-sum-exp of the scaled scores (+Inf for a row that sees nothing, so
// that exp(s - lse) is 0 there).
// Backward (FlashAttention-2's): delta_r = dO_r . O_r; P = exp(s - lse);
// dS = P*(dO V^T - delta). kiln_attn_bwd_dq_*: one thread a query row,
// dQ = scale * dS K over the key tiles (and it writes delta first).
// kiln_attn_bwd_dkv_*: one thread a key, dV = P^T dO and dK = scale * dS^T Q
// over the query tiles. No atomics: each output has one owner, so the
// results do not depend on scheduling.
// The head dims D, Dv are at most DM (32, 64 or 128; the host picks the
// smallest that fits). First version: no tensor cores, DM = 128 spills.
#include "common.cuh"

#define ATT_CHUNK 16

// The largest key index any row in [r0, r1) may see (+1), for skipping the
// tiles that a causal mask hides from the whole block.
__device__ __forceinline__ int att_key_end(int causal, int r0, int r1, int S, int T) {
	if (!causal) return S;
	int maxi = (r0 / T == (r1 - 1) / T) ? (r1 - 1) % T : T - 1;
	return max(0, min(S, maxi + S - T + 1));
}

template <int DM, int BC>
__device__ void attn_fwd(int G, int TQ, int T, int S, int D, int Dv, float scale, int causal, int perItem,
	const int *pad, const float *q, const float *k, const float *v, float *out, float *lse) {
	__shared__ float Ks[BC][DM];
	__shared__ float Vs[BC][DM];
	__shared__ int Ps[BC];
	int g = blockIdx.y;
	int r0 = blockIdx.x * blockDim.x, r = r0 + threadIdx.x;
	int r1 = min(TQ, r0 + (int)blockDim.x);
	bool active = r < TQ;
	int i = r % T;
	const int *padrow = pad ? pad + (long long)(g / perItem) * S : nullptr;
	float qr[DM], o[DM];
	const float *qp = q + ((long long)g * TQ + (active ? r : 0)) * D;
#pragma unroll
	for (int d = 0; d < DM; d++) {
		qr[d] = (active && d < D) ? qp[d] : 0.f;
		o[d] = 0.f;
	}
	float m = -INFINITY, l = 0.f;
	int jend = att_key_end(causal, r0, r1, S, T);
	const float *kg = k + (long long)g * S * D, *vg = v + (long long)g * S * Dv;
	for (int j0 = 0; j0 < jend; j0 += BC) {
		for (int e = threadIdx.x; e < BC * DM; e += blockDim.x) {
			int jj = e / DM, d = e % DM, j = j0 + jj;
			Ks[jj][d] = (j < S && d < D) ? kg[(long long)j * D + d] : 0.f;
			Vs[jj][d] = (j < S && d < Dv) ? vg[(long long)j * Dv + d] : 0.f;
		}
		for (int jj = threadIdx.x; jj < BC; jj += blockDim.x) {
			int j = j0 + jj;
			Ps[jj] = j >= S || (padrow && padrow[j]); // the causal mask is per row, below
		}
		__syncthreads();
		if (active) {
			for (int c0 = 0; c0 < BC; c0 += ATT_CHUNK) {
				float s[ATT_CHUNK];
				float cm = -INFINITY;
#pragma unroll
				for (int c = 0; c < ATT_CHUNK; c++) {
					int jj = c0 + c, j = j0 + jj;
					float acc = 0.f;
#pragma unroll
					for (int d = 0; d < DM; d++) acc = fmaf(qr[d], Ks[jj][d], acc);
					bool hid = Ps[jj] || (causal && j > i + S - T);
					s[c] = hid ? -INFINITY : acc * scale;
					cm = fmaxf(cm, s[c]);
				}
				if (cm == -INFINITY) continue; // nothing visible in this chunk
				float mn = fmaxf(m, cm);
				float corr = expf(m - mn); // 0 while m is -Inf
				l *= corr;
#pragma unroll
				for (int d = 0; d < DM; d++) o[d] *= corr;
#pragma unroll
				for (int c = 0; c < ATT_CHUNK; c++) {
					float p = expf(s[c] - mn);
					l += p;
#pragma unroll
					for (int d = 0; d < DM; d++) o[d] = fmaf(p, Vs[c0 + c][d], o[d]);
				}
				m = mn;
			}
		}
		__syncthreads();
	}
	if (!active) return;
	float *op = out + ((long long)g * TQ + r) * Dv;
	float inv = l > 0.f ? 1.f / l : 0.f;
#pragma unroll
	for (int d = 0; d < DM; d++)
		if (d < Dv) op[d] = o[d] * inv;
	lse[(long long)g * TQ + r] = l > 0.f ? m + logf(l) : INFINITY;
}

template <int DM, int BC>
__device__ void attn_bwd_dq(int G, int TQ, int T, int S, int D, int Dv, float scale, int causal, int perItem,
	const int *pad, const float *q, const float *k, const float *v, const float *out, const float *lse,
	const float *dout, float *delta, float *dq) {
	__shared__ float Ks[BC][DM];
	__shared__ float Vs[BC][DM];
	__shared__ int Ps[BC];
	int g = blockIdx.y;
	int r0 = blockIdx.x * blockDim.x, r = r0 + threadIdx.x;
	int r1 = min(TQ, r0 + (int)blockDim.x);
	bool active = r < TQ;
	int i = r % T;
	const int *padrow = pad ? pad + (long long)(g / perItem) * S : nullptr;
	long long row = (long long)g * TQ + (active ? r : 0);
	float qr[DM], dor[DM], acc[DM];
	float dl = 0.f;
#pragma unroll
	for (int d = 0; d < DM; d++) {
		qr[d] = (active && d < D) ? q[row * D + d] : 0.f;
		dor[d] = (active && d < Dv) ? dout[row * Dv + d] : 0.f;
		dl += (active && d < Dv) ? dor[d] * out[row * Dv + d] : 0.f;
		acc[d] = 0.f;
	}
	float L = active ? lse[row] : INFINITY;
	if (active) delta[row] = dl;
	int jend = att_key_end(causal, r0, r1, S, T);
	const float *kg = k + (long long)g * S * D, *vg = v + (long long)g * S * Dv;
	for (int j0 = 0; j0 < jend; j0 += BC) {
		for (int e = threadIdx.x; e < BC * DM; e += blockDim.x) {
			int jj = e / DM, d = e % DM, j = j0 + jj;
			Ks[jj][d] = (j < S && d < D) ? kg[(long long)j * D + d] : 0.f;
			Vs[jj][d] = (j < S && d < Dv) ? vg[(long long)j * Dv + d] : 0.f;
		}
		for (int jj = threadIdx.x; jj < BC; jj += blockDim.x) {
			int j = j0 + jj;
			Ps[jj] = j >= S || (padrow && padrow[j]);
		}
		__syncthreads();
		if (active) {
			for (int jj = 0; jj < BC; jj++) {
				int j = j0 + jj;
				if (Ps[jj] || (causal && j > i + S - T)) continue;
				float s = 0.f, dp = 0.f;
#pragma unroll
				for (int d = 0; d < DM; d++) {
					s = fmaf(qr[d], Ks[jj][d], s);
					dp = fmaf(dor[d], Vs[jj][d], dp);
				}
				float p = expf(s * scale - L);
				float ds = p * (dp - dl);
#pragma unroll
				for (int d = 0; d < DM; d++) acc[d] = fmaf(ds, Ks[jj][d], acc[d]);
			}
		}
		__syncthreads();
	}
	if (!active) return;
#pragma unroll
	for (int d = 0; d < DM; d++)
		if (d < D) dq[row * D + d] = acc[d] * scale;
}

// One thread a key j of group g; query tiles of BR rows stream through
// shared memory. The key's own k and v rows are in shared memory too
// (padded rows: no bank conflicts), its dk and dv accumulators in registers.
template <int DM, int BCK, int BR>
__device__ void attn_bwd_dkv(int G, int TQ, int T, int S, int D, int Dv, float scale, int causal, int perItem,
	const int *pad, const float *q, const float *k, const float *v, const float *lse, const float *delta,
	const float *dout, float *dk, float *dv) {
	__shared__ float Kr[BCK][DM + 1];
	__shared__ float Vr[BCK][DM + 1];
	__shared__ float Qs[BR][DM];
	__shared__ float Os[BR][DM]; // dO rows
	__shared__ float Ls[BR], Ds[BR];
	int g = blockIdx.y;
	int j = blockIdx.x * blockDim.x + threadIdx.x;
	bool active = j < S;
	const int *padrow = pad ? pad + (long long)(g / perItem) * S : nullptr;
	bool hidden = !active || (padrow && padrow[j]);
	const float *kg = k + (long long)g * S * D, *vg = v + (long long)g * S * Dv;
	for (int d = 0; d < DM; d++) {
		Kr[threadIdx.x][d] = (active && d < D) ? kg[(long long)j * D + d] : 0.f;
		Vr[threadIdx.x][d] = (active && d < Dv) ? vg[(long long)j * Dv + d] : 0.f;
	}
	float dka[DM], dva[DM];
#pragma unroll
	for (int d = 0; d < DM; d++) dka[d] = dva[d] = 0.f;
	// Under a causal mask key j is seen by positions i >= j - (S - T).
	const float *qg = q + (long long)g * TQ * D, *og = dout + (long long)g * TQ * Dv;
	for (int i0 = 0; i0 < TQ; i0 += BR) {
		__syncthreads();
		for (int e = threadIdx.x; e < BR * DM; e += blockDim.x) {
			int rr = e / DM, d = e % DM, r = i0 + rr;
			Qs[rr][d] = (r < TQ && d < D) ? qg[(long long)r * D + d] : 0.f;
			Os[rr][d] = (r < TQ && d < Dv) ? og[(long long)r * Dv + d] : 0.f;
		}
		for (int rr = threadIdx.x; rr < BR; rr += blockDim.x) {
			int r = i0 + rr;
			Ls[rr] = r < TQ ? lse[(long long)g * TQ + r] : INFINITY;
			Ds[rr] = r < TQ ? delta[(long long)g * TQ + r] : 0.f;
		}
		__syncthreads();
		if (hidden) continue;
		for (int rr = 0; rr < BR; rr++) {
			int r = i0 + rr;
			if (r >= TQ) break;
			int i = r % T;
			if (causal && j > i + S - T) continue;
			float s = 0.f, dp = 0.f;
#pragma unroll
			for (int d = 0; d < DM; d++) {
				s = fmaf(Qs[rr][d], Kr[threadIdx.x][d], s);
				dp = fmaf(Os[rr][d], Vr[threadIdx.x][d], dp);
			}
			float p = expf(s * scale - Ls[rr]);
			float ds = p * (dp - Ds[rr]);
#pragma unroll
			for (int d = 0; d < DM; d++) {
				dva[d] = fmaf(p, Os[rr][d], dva[d]);
				dka[d] = fmaf(ds, Qs[rr][d], dka[d]);
			}
		}
	}
	if (!active) return;
	float *dkp = dk + ((long long)g * S + j) * D, *dvp = dv + ((long long)g * S + j) * Dv;
#pragma unroll
	for (int d = 0; d < DM; d++) {
		if (d < D) dkp[d] = dka[d] * scale;
		if (d < Dv) dvp[d] = dva[d];
	}
}

#define ATT_PARAMS_FWD int G, int TQ, int T, int S, int D, int Dv, float scale, int causal, int perItem, \
	const int *pad, const float *q, const float *k, const float *v, float *out, float *lse
#define ATT_ARGS_FWD G, TQ, T, S, D, Dv, scale, causal, perItem, pad, q, k, v, out, lse
#define ATT_PARAMS_DQ int G, int TQ, int T, int S, int D, int Dv, float scale, int causal, int perItem, \
	const int *pad, const float *q, const float *k, const float *v, const float *out, const float *lse, \
	const float *dout, float *delta, float *dq
#define ATT_ARGS_DQ G, TQ, T, S, D, Dv, scale, causal, perItem, pad, q, k, v, out, lse, dout, delta, dq
#define ATT_PARAMS_DKV int G, int TQ, int T, int S, int D, int Dv, float scale, int causal, int perItem, \
	const int *pad, const float *q, const float *k, const float *v, const float *lse, const float *delta, \
	const float *dout, float *dk, float *dv
#define ATT_ARGS_DKV G, TQ, T, S, D, Dv, scale, causal, perItem, pad, q, k, v, lse, delta, dout, dk, dv

// Launch shapes (kernels/cuda/ops.go mirrors them): forward and dq take
// blocks of BC threads (64; 32 for DM = 128), dkv blocks of BCK.
extern "C" __global__ void kiln_attn_fwd_32(ATT_PARAMS_FWD) { attn_fwd<32, 64>(ATT_ARGS_FWD); }
extern "C" __global__ void kiln_attn_fwd_64(ATT_PARAMS_FWD) { attn_fwd<64, 64>(ATT_ARGS_FWD); }
extern "C" __global__ void kiln_attn_fwd_128(ATT_PARAMS_FWD) { attn_fwd<128, 32>(ATT_ARGS_FWD); }
extern "C" __global__ void kiln_attn_bwd_dq_32(ATT_PARAMS_DQ) { attn_bwd_dq<32, 64>(ATT_ARGS_DQ); }
extern "C" __global__ void kiln_attn_bwd_dq_64(ATT_PARAMS_DQ) { attn_bwd_dq<64, 64>(ATT_ARGS_DQ); }
extern "C" __global__ void kiln_attn_bwd_dq_128(ATT_PARAMS_DQ) { attn_bwd_dq<128, 32>(ATT_ARGS_DQ); }
extern "C" __global__ void kiln_attn_bwd_dkv_32(ATT_PARAMS_DKV) { attn_bwd_dkv<32, 64, 32>(ATT_ARGS_DKV); }
extern "C" __global__ void kiln_attn_bwd_dkv_64(ATT_PARAMS_DKV) { attn_bwd_dkv<64, 64, 16>(ATT_ARGS_DKV); }
extern "C" __global__ void kiln_attn_bwd_dkv_128(ATT_PARAMS_DKV) { attn_bwd_dkv<128, 32, 8>(ATT_ARGS_DKV); }
