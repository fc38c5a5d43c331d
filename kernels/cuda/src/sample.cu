// Token sampling for generation: temperature, top-k and top-p, one row of
// logits a block.
// reference: vision's sampler (sampler.pick in vision/generate.go); the slice
// form is sampleRef in kernels/cuda/ref_test.go.
//
// For row r with uniform draw u[r] in [0, 1) (drawn on the host, so runs are
// reproducible): temperature <= 0 takes the argmax (the first on ties).
// Otherwise p = softmax(logits/temperature); the tokens are ranked by p,
// descending, ties by index (a stable sort); top-k keeps the first k, top-p
// the shortest prefix whose probabilities sum to topP (topP in (0, 1)), both
// when both are set; and the draw walks the kept tokens in rank order (in
// index order when neither top-k nor top-p is set, as the reference, which
// sorts only then), choosing the first where the running sum exceeds
// u*total. tok[r] is the
// token and logp[r] its log-probability at temperature 1.
//
// No sort: the rank order is reached by binary searches over the float bit
// patterns of p (non-negative floats order as their bits do), each step a
// block-wide count and float64 sum of the probabilities at or above a
// threshold, and a block scan in index order among equal probabilities.
// probs is scratch of the logits' size; removed tokens get p = -1 there.
#include "common.cuh"

__device__ __forceinline__ double warp_sum_d(double v) {
	for (int o = KILN_WARP / 2; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
	return v;
}

__device__ __forceinline__ int warp_sum_i(int v) {
	for (int o = KILN_WARP / 2; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
	return v;
}

struct cs {
	int n;
	double s;
};

// block_cs sums (n, s) over the block; every thread gets the result.
__device__ cs block_cs(cs v, int *sn, double *ss) {
	int lane = threadIdx.x % KILN_WARP, warp = threadIdx.x / KILN_WARP;
	v.n = warp_sum_i(v.n);
	v.s = warp_sum_d(v.s);
	__syncthreads();
	if (lane == 0) {
		sn[warp] = v.n;
		ss[warp] = v.s;
	}
	__syncthreads();
	int nw = blockDim.x / KILN_WARP;
	v.n = lane < nw ? sn[lane] : 0;
	v.s = lane < nw ? ss[lane] : 0.0;
	v.n = warp_sum_i(v.n);
	v.s = warp_sum_d(v.s);
	return v;
}

// count_ge counts and sums the kept p (p >= 0) with p >= t (strict: p > t).
__device__ cs count_ge(const float *p, int V, float t, bool strict, int *sn, double *ss) {
	cs a = {0, 0.0};
	for (int j = threadIdx.x; j < V; j += blockDim.x) {
		float v = p[j];
		if (v >= 0.f && (strict ? v > t : v >= t)) {
			a.n++;
			a.s += v;
		}
	}
	return block_cs(a, sn, ss);
}

// largest_bits returns the largest bit pattern b of a non-negative float
// with pred(count_ge(b)) true, given that pred holds at 0; pred is monotone.
// mode 0: count >= k; mode 1: sum >= x; mode 2: sum > x.
__device__ unsigned largest_bits(const float *p, int V, int mode, int k, double x, int *sn, double *ss) {
	unsigned lo = 0, hi = 0x7f800000u; // pred(lo) holds; pred(+Inf) does not (p <= 1)
	while (hi - lo > 1) {
		unsigned mid = lo + (hi - lo) / 2;
		cs c = count_ge(p, V, __uint_as_float(mid), false, sn, ss);
		bool ok = mode == 0 ? c.n >= k : mode == 1 ? c.s >= x : c.s > x;
		if (ok) lo = mid;
		else hi = mid;
	}
	return lo;
}

// nth_tie returns the index of the e-th (from 0) kept token with p == t in
// index order (-1 if there are not that many), by a block scan.
__device__ int nth_tie(const float *p, int V, float t, int e, int *sn, int *found) {
	int lane = threadIdx.x % KILN_WARP, warp = threadIdx.x / KILN_WARP, nw = blockDim.x / KILN_WARP;
	int base = 0; // ties before this chunk
	if (threadIdx.x == 0) *found = -1;
	__syncthreads();
	for (int c0 = 0; c0 < V; c0 += blockDim.x) {
		int j = c0 + threadIdx.x;
		bool tie = j < V && p[j] == t;
		unsigned ballot = __ballot_sync(0xffffffffu, tie);
		int before = __popc(ballot & ((1u << lane) - 1));
		__syncthreads();
		if (lane == 0) sn[warp] = __popc(ballot);
		__syncthreads();
		int off = base;
		for (int w = 0; w < warp; w++) off += sn[w];
		if (tie && off + before == e) *found = j;
		for (int w = 0; w < nw; w++) base += sn[w];
		__syncthreads();
		if (*found >= 0 || base > e) break;
	}
	return *found;
}

// first_cum returns the first index j in index order whose running sum of
// the kept p (p >= 0) exceeds target, or the last kept index if none does
// (rounding): chunk totals by block reductions, then one thread walks the
// chunk that holds the crossing.
__device__ int first_cum(const float *p, int V, double target, int *sn, double *ss, int *found) {
	double run = 0.0;
	for (int c0 = 0; c0 < V; c0 += blockDim.x) {
		int j = c0 + threadIdx.x;
		float v = j < V ? p[j] : -1.f;
		cs c = {v >= 0.f ? 1 : 0, v >= 0.f ? (double)v : 0.0};
		c = block_cs(c, sn, ss);
		if (run + c.s > target || c0 + (int)blockDim.x >= V) {
			__syncthreads();
			if (threadIdx.x == 0) {
				int pick = -1, last = -1;
				for (int i = c0; i < min(V, c0 + (int)blockDim.x); i++) {
					if (p[i] < 0.f) continue;
					last = i;
					run += p[i];
					if (run > target) {
						pick = i;
						break;
					}
				}
				*found = pick >= 0 ? pick : last;
			}
			__syncthreads();
			if (*found >= 0 || c0 + (int)blockDim.x >= V) return *found;
			// Only removed tokens in this chunk and rounding: go on.
		}
		run += c.s;
	}
	return -1;
}

extern "C" __global__ void __launch_bounds__(1024)
kiln_sample(int rows, int V, float temperature, int topK, float topP,
	const float *logits, float *probs, const float *u, int *tok, float *logp) {
	__shared__ float scratch[32];
	__shared__ int sn[32];
	__shared__ double ss[32];
	__shared__ int found;
	__shared__ float sbest;
	__shared__ int sbi;
	for (int r = blockIdx.x; r < rows; r += gridDim.x) {
		const float *x = logits + (long long)r * V;
		float *p = probs + (long long)r * V;
		// Temperature-1 log-sum-exp, for the chosen token's log-probability.
		float m = -INFINITY;
		for (int j = threadIdx.x; j < V; j += blockDim.x) m = fmaxf(m, x[j]);
		m = block_max(m, scratch);
		float s = 0.f;
		for (int j = threadIdx.x; j < V; j += blockDim.x) s += expf(x[j] - m);
		float lse = m + logf(block_sum(s, scratch));

		int choice;
		if (temperature <= 0.f) {
			// Argmax, the first index on ties.
			float bv = -INFINITY;
			int bi = 0x7fffffff;
			for (int j = threadIdx.x; j < V; j += blockDim.x)
				if (x[j] > bv) bv = x[j], bi = j; // increasing j: the first wins
			for (int o = KILN_WARP / 2; o > 0; o >>= 1) {
				float ov = __shfl_xor_sync(0xffffffffu, bv, o);
				int oi = __shfl_xor_sync(0xffffffffu, bi, o);
				if (ov > bv || (ov == bv && oi < bi)) bv = ov, bi = oi;
			}
			__syncthreads();
			if (threadIdx.x == 0) sbest = -INFINITY, sbi = 0x7fffffff;
			__syncthreads();
			for (int w = 0; w < blockDim.x / KILN_WARP; w++) {
				if (threadIdx.x == w * KILN_WARP && (bv > sbest || (bv == sbest && bi < sbi))) sbest = bv, sbi = bi;
				__syncthreads();
			}
			choice = sbi == 0x7fffffff ? 0 : sbi;
		} else {
			float inv = 1.f / temperature;
			float mz = -INFINITY;
			for (int j = threadIdx.x; j < V; j += blockDim.x) mz = fmaxf(mz, x[j] * inv);
			mz = block_max(mz, scratch);
			float sz = 0.f;
			for (int j = threadIdx.x; j < V; j += blockDim.x) sz += expf(x[j] * inv - mz);
			float invs = 1.f / block_sum(sz, scratch);
			for (int j = threadIdx.x; j < V; j += blockDim.x) p[j] = expf(x[j] * inv - mz) * invs;
			__syncthreads();

			int keep = V;
			if (topK > 0) keep = min(topK, V);
			if (topP > 0.f && topP < 1.f) {
				cs all = count_ge(p, V, 0.f, false, sn, ss);
				if (all.s >= (double)topP) {
					float t = __uint_as_float(largest_bits(p, V, 1, 0, (double)topP, sn, ss));
					cs gt = count_ge(p, V, t, true, sn, ss);
					cs ge = count_ge(p, V, t, false, sn, ss);
					int ties = ge.n - gt.n;
					int e = t > 0.f ? (int)ceil(((double)topP - gt.s) / (double)t) : ties;
					e = max(1, min(e, ties));
					keep = min(keep, gt.n + e);
				}
			}
			if (keep < V) {
				// Remove every token ranked keep or later.
				float tk = __uint_as_float(largest_bits(p, V, 0, keep, 0.0, sn, ss));
				cs gt = count_ge(p, V, tk, true, sn, ss);
				int need = keep - gt.n; // ties at tk that stay, in index order
				int last = need > 0 ? nth_tie(p, V, tk, need - 1, sn, &found) : -1;
				__syncthreads();
				for (int j = threadIdx.x; j < V; j += blockDim.x) {
					float v = p[j];
					if (v < tk || (v == tk && j > last)) p[j] = -1.f;
				}
				__syncthreads();
			}
			cs tot = count_ge(p, V, 0.f, false, sn, ss);
			double target = (double)u[r] * tot.s;
			bool ranked = topK > 0 || (topP > 0.f && topP < 1.f);
			if (!ranked) {
				// Without top-k or top-p the reference walks in index order.
				choice = first_cum(p, V, target, sn, ss, &found);
			} else if (!(tot.s > target)) {
				// Rounding ran past the end: the last kept token in rank
				// order (the smallest p, the highest index among those).
				float t = __uint_as_float(largest_bits(p, V, 0, tot.n, 0.0, sn, ss));
				cs gt = count_ge(p, V, t, true, sn, ss);
				choice = nth_tie(p, V, t, tot.n - gt.n - 1, sn, &found);
			} else {
				float t = __uint_as_float(largest_bits(p, V, 2, 0, target, sn, ss));
				cs gt = count_ge(p, V, t, true, sn, ss);
				cs ge = count_ge(p, V, t, false, sn, ss);
				int ties = ge.n - gt.n;
				int e = t > 0.f ? (int)floor((target - gt.s) / (double)t) : 0;
				e = max(0, min(e, ties - 1));
				choice = nth_tie(p, V, t, e, sn, &found);
			}
			if (choice < 0) choice = 0; // unreachable unless p holds NaN
		}
		if (threadIdx.x == 0) {
			tok[r] = choice;
			logp[r] = x[choice] - lse;
		}
		__syncthreads();
	}
}
