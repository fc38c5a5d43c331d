// Unary functions and their backwards, one kernel each way with an op code,
// and the two-scalar functions (pow, clamp, is-equal) likewise.
// reference: kernels.ExpRef, kernels.GeluRef / GeluBackwardRef,
// kernels.GeluTanhRef / GeluTanhBackwardRef, kernels.SiluRef /
// SiluBackwardRef; for relu, tanh, sigmoid, neg, log, sqrt, rsqrt and the
// two-scalar kernels (which kernels has no slice kernel for) the references
// are in kernels/cuda/ref_test.go (unaryRef, unary2Ref) and follow tensor's
// ops: tensor.Relu, Tanh, Sigmoid, Neg, Log, Sqrt, Rsqrt, Pow, Clamp and the
// tie mask of Max's gradient.
//
// Forward: y = f(x). Backward: dx = dy * f'(x), from x (exp and sigmoid,
// tanh also from x, recomputing f). Log, sqrt, rsqrt and pow compute their
// backward in tensor's order of float32 operations: dy / x, dy*0.5/sqrt(x),
// dy*-0.5*r/x with r = 1/sqrtf(x) (not the approximate rsqrtf), and
// dy*p*pow(x, p-1).
// Math is in float32 with CUDA's accurate functions (expf, erff, tanhf,
// logf, powf: a few ulp; sqrtf and the divisions are correctly rounded, so
// sqrt is exact and 1/sqrtf(x) within 1 ulp); the references compute in
// float64 and round once. Special values follow tensor's (Go's math.Log,
// Sqrt, Pow, and C99's logf/sqrtf/powf agree on them): log(0) = -Inf,
// log/sqrt of a negative = NaN, pow of a negative base to a non-integer
// exponent = NaN, pow(x, 0) = 1 for every x, pow(0, p<0) = +Inf (so the
// pow backward at x = 0 is Inf or, for p = 0, 0*Inf = NaN, as tensor's).
// Clamp is Go's min(max(x, lo), hi): NaN stays NaN, max(-0, +0) = +0; its
// gradient passes dy where lo <= x <= hi (bounds included) and is 0
// elsewhere and at NaN.
#include "common.cuh"

// Op codes; kernels/cuda/ops.go mirrors them.
#define U_EXP 0
#define U_GELU 1
#define U_GELU_TANH 2
#define U_SILU 3
#define U_RELU 4
#define U_TANH 5
#define U_SIGMOID 6
#define U_NEG 7
#define U_LOG 8
#define U_SQRT 9
#define U_RSQRT 10

// Two-scalar op codes (kiln_unary2, parameters a and b); ops.go mirrors them.
#define U2_POW 0   // x^a (b unused)
#define U2_CLAMP 1 // min(max(x, a), b)
#define U2_EQUAL 2 // 1 where x == a, else 0 (b unused); gradient 0

#define INV_SQRT2 0.70710678118654752440f
#define INV_SQRT2PI 0.39894228040143267794f
#define SQRT2_OVER_PI 0.79788456080286535588f
#define GELU_C 0.044715f

__device__ __forceinline__ float sigmoidf_(float x) {
	// Stable both ways, as kernels.sigmoid64.
	if (x >= 0.f) return 1.f / (1.f + expf(-x));
	float e = expf(x);
	return e / (1.f + e);
}

__device__ __forceinline__ float unary_fwd(int op, float x) {
	switch (op) {
	case U_EXP: return expf(x);
	case U_GELU: return 0.5f * x * (1.f + erff(x * INV_SQRT2));
	case U_GELU_TANH: return 0.5f * x * (1.f + tanhf(SQRT2_OVER_PI * (x + GELU_C * x * x * x)));
	case U_SILU: return x * sigmoidf_(x);
	case U_RELU: return (x > 0.f || x != x) ? x : 0.f; // max(x, 0): NaN stays NaN
	case U_TANH: return tanhf(x);
	case U_SIGMOID: return sigmoidf_(x);
	case U_LOG: return logf(x);
	case U_SQRT: return sqrtf(x);
	case U_RSQRT: return 1.f / sqrtf(x);
	default: return -x;
	}
}

__device__ __forceinline__ float unary_grad(int op, float x) {
	switch (op) {
	case U_EXP: return expf(x);
	case U_GELU: return 0.5f * (1.f + erff(x * INV_SQRT2)) + x * INV_SQRT2PI * expf(-0.5f * x * x);
	case U_GELU_TANH: {
		float t = tanhf(SQRT2_OVER_PI * (x + GELU_C * x * x * x));
		return 0.5f * (1.f + t) + 0.5f * x * (1.f - t * t) * SQRT2_OVER_PI * (1.f + 3.f * GELU_C * x * x);
	}
	case U_SILU: {
		float s = sigmoidf_(x);
		return s * (1.f + x * (1.f - s));
	}
	case U_RELU: return x > 0.f ? 1.f : 0.f;
	case U_TANH: {
		float t = tanhf(x);
		return 1.f - t * t;
	}
	case U_SIGMOID: {
		float s = sigmoidf_(x);
		return s * (1.f - s);
	}
	default: return -1.f;
	}
}

extern "C" __global__ void kiln_unary(int op, long long n, float *y, const float *x) {
	KILN_FOR(i, n) y[i] = unary_fwd(op, x[i]);
}

// unary_bwd is dx for one element: tensor's float32 operations in its order
// for log, sqrt and rsqrt, dy * f'(x) for the others.
__device__ __forceinline__ float unary_bwd(int op, float x, float dy) {
	switch (op) {
	case U_LOG: return dy / x;
	case U_SQRT: return dy * 0.5f / sqrtf(x);
	case U_RSQRT: {
		float r = 1.f / sqrtf(x);
		return dy * -0.5f * r / x;
	}
	default: return dy * unary_grad(op, x);
	}
}

extern "C" __global__ void kiln_unary_backward(int op, long long n, float *dx, const float *x, const float *dy) {
	// relu passes dy or 0 (not dy*0, which is NaN for an infinite dy), as tensor.Relu.
	if (op == U_RELU) {
		KILN_FOR(i, n) dx[i] = x[i] > 0.f ? dy[i] : 0.f;
		return;
	}
	KILN_FOR(i, n) dx[i] = unary_bwd(op, x[i], dy[i]);
}

// Go's max and min: NaN wins, and of two zeros max is +0 and min is -0.
__device__ __forceinline__ float go_max(float a, float b) {
	if (a != a || b != b) return a + b;
	if (a == b) return copysignf(1.f, a) < 0.f ? b : a;
	return a > b ? a : b;
}

__device__ __forceinline__ float go_min(float a, float b) {
	if (a != a || b != b) return a + b;
	if (a == b) return copysignf(1.f, a) < 0.f ? a : b;
	return a < b ? a : b;
}

__device__ __forceinline__ float unary2_fwd(int op, float a, float b, float x) {
	switch (op) {
	case U2_POW: return powf(x, a);
	case U2_CLAMP: return go_min(go_max(x, a), b);
	default: return x == a ? 1.f : 0.f;
	}
}

__device__ __forceinline__ float unary2_bwd(int op, float a, float b, float x, float dy) {
	switch (op) {
	case U2_POW: return dy * a * powf(x, a - 1.f);
	case U2_CLAMP: return (x >= a && x <= b) ? dy : 0.f;
	default: return 0.f;
	}
}

extern "C" __global__ void kiln_unary2(int op, long long n, float a, float b, float *y, const float *x) {
	KILN_FOR(i, n) y[i] = unary2_fwd(op, a, b, x[i]);
}

extern "C" __global__ void kiln_unary2_backward(int op, long long n, float a, float b, float *dx, const float *x, const float *dy) {
	KILN_FOR(i, n) dx[i] = unary2_bwd(op, a, b, x[i], dy[i]);
}
