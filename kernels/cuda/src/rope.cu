// Rotary position embedding, HF rotate-half convention, forward and backward.
// reference: tensor.RoPE; the slice form is ropeRef in
// kernels/cuda/ref_test.go.
//
// x is [rows, D] (D even, half = D/2), each row a (..., t) position of a
// [..., T, D] tensor. For i < half the pair (x[i], x[i+half]) is rotated by
// the row's angle table: out[i] = x[i]*c - x[i+half]*s, out[i+half] =
// x[i+half]*c + x[i]*s, with s negated for the backward (the inverse
// rotation). The host computes cos/sin once per distinct position in float64
// (as tensor.RoPE) into tables [npos, half], and slot[] maps each entry of
// the position list to its table row. Row r uses position-list entry
// (r/perItem)*T + r%T when perFirst (one position row per item of the first
// dim), else r%T.
#include "common.cuh"

extern "C" __global__ void kiln_rope(int rows, int D, int T, int perItem, int perFirst, float sign,
	float *out, const float *x, const float *cosT, const float *sinT, const int *slot) {
	int half = D / 2;
	long long total = (long long)rows * half;
	KILN_FOR(t, total) {
		long long r = t / half;
		int i = (int)(t % half);
		long long lp = perFirst ? (r / perItem) * T + r % T : r % T;
		long long tab = (long long)slot[lp] * half + i;
		float c = cosT[tab], s = __fmul_rn(sign, sinT[tab]);
		float x1 = x[r * D + i], x2 = x[r * D + half + i];
		// Separate roundings, as the Go reference (no FMA contraction).
		out[r * D + i] = __fsub_rn(__fmul_rn(x1, c), __fmul_rn(x2, s));
		out[r * D + half + i] = __fadd_rn(__fmul_rn(x2, c), __fmul_rn(x1, s));
	}
}
