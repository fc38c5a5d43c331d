// Unary activations and their backwards, one kernel each way with an op code.
// reference: kernels.ExpRef, kernels.GeluRef / GeluBackwardRef,
// kernels.GeluTanhRef / GeluTanhBackwardRef, kernels.SiluRef /
// SiluBackwardRef; for relu, tanh, sigmoid and neg (which kernels has no
// slice kernel for) the references are in kernels/cuda/ref_test.go and
// follow tensor's ops.
//
// Forward: y = f(x). Backward: dx = dy * f'(x), from x (exp and sigmoid,
// tanh also from x, recomputing f).
// Math is in float32 with CUDA's accurate functions (expf, erff, tanhf: a
// few ulp); the references compute in float64 and round once.
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

extern "C" __global__ void kiln_unary_backward(int op, long long n, float *dx, const float *x, const float *dy) {
	// relu passes dy or 0 (not dy*0, which is NaN for an infinite dy), as tensor.Relu.
	if (op == U_RELU) {
		KILN_FOR(i, n) dx[i] = x[i] > 0.f ? dy[i] : 0.f;
		return;
	}
	KILN_FOR(i, n) dx[i] = dy[i] * unary_grad(op, x[i]);
}
