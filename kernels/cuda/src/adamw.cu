// Fused AdamW step, in place on parameters p and moments m, v.
// reference: kernels.AdamWRef (PyTorch's torch.optim.AdamW semantics)
//
// The host computes the step's scalars exactly as AdamWRef does (stepSize =
// lr/(1-beta1^step) and bc2s = sqrt(1-beta2^step) in float64 rounded to
// float32, decay = 1 - lr*wd and the (1-beta) factors in float32), and the
// kernel repeats AdamWRef's float32 operations in its order with explicit
// round-to-nearest intrinsics (no FMA contraction), so the result is meant
// to be bitwise AdamWRef's.
#include "common.cuh"

extern "C" __global__ void kiln_adamw(long long n, float *p, const float *g, float *m, float *v,
	float beta1, float omb1, float beta2, float omb2, float eps, float stepSize, float bc2s, float decay) {
	KILN_FOR(i, n) {
		float gi = g[i];
		float mi = __fadd_rn(__fmul_rn(beta1, m[i]), __fmul_rn(omb1, gi));
		float vi = __fadd_rn(__fmul_rn(beta2, v[i]), __fmul_rn(__fmul_rn(omb2, gi), gi));
		m[i] = mi;
		v[i] = vi;
		float denom = __fadd_rn(__fdiv_rn(__fsqrt_rn(vi), bc2s), eps);
		p[i] = __fsub_rn(__fmul_rn(p[i], decay), __fdiv_rn(__fmul_rn(stepSize, mi), denom));
	}
}
