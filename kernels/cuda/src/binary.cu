// Elementwise binary ops with broadcasting, and the scalar forms.
// reference: kernels.AddRef, kernels.SubRef, kernels.MulRef, kernels.DivRef
// (contiguous operands); kernels.AddScalarRef, kernels.MulScalarRef.
// Broadcasting is the NumPy rule of tensor.Add: the host collapses shapes to
// at most 4 dims and passes each operand's element strides, 0 along a
// broadcast dim; the conformance test's reference expands the operands and
// calls the kernels.*Ref above.
#include "common.cuh"

// Op codes; kernels/cuda/ops.go mirrors them.
#define BIN_ADD 0
#define BIN_SUB 1
#define BIN_MUL 2
#define BIN_DIV 3

__device__ __forceinline__ float bin_apply(int op, float a, float b) {
	switch (op) {
	case BIN_ADD: return a + b;
	case BIN_SUB: return a - b;
	case BIN_MUL: return a * b;
	default: return a / b;
	}
}

// kiln_binary_flat: out[i] = a[i] op b[i], i < n (all contiguous).
extern "C" __global__ void kiln_binary_flat(int op, long long n, float *out, const float *a, const float *b) {
	KILN_FOR(i, n) out[i] = bin_apply(op, a[i], b[i]);
}

// kiln_binary_bcast: out is contiguous with shape d0 x d1 x d2 x d3; a and b
// are read with their own strides (0 along broadcast dims).
extern "C" __global__ void kiln_binary_bcast(int op, long long n, float *out,
	const float *a, const float *b,
	int d1, int d2, int d3,
	long long as0, long long as1, long long as2, long long as3,
	long long bs0, long long bs1, long long bs2, long long bs3) {
	KILN_FOR(i, n) {
		long long r = i;
		long long i3 = r % d3; r /= d3;
		long long i2 = r % d2; r /= d2;
		long long i1 = r % d1;
		long long i0 = r / d1;
		float x = a[i0 * as0 + i1 * as1 + i2 * as2 + i3 * as3];
		float y = b[i0 * bs0 + i1 * bs1 + i2 * bs2 + i3 * bs3];
		out[i] = bin_apply(op, x, y);
	}
}

// kiln_scalar: out[i] = a[i]*mul + add (AddScalar: mul 1; MulScalar: add 0).
// Written as two separate roundings so that each form is exactly its Ref.
extern "C" __global__ void kiln_scalar(long long n, float *out, const float *a, float mul, float add) {
	KILN_FOR(i, n) out[i] = __fadd_rn(__fmul_rn(a[i], mul), add);
}

// kiln_axpy: y[i] += alpha*x[i]. reference: kernels.AxpyRef
extern "C" __global__ void kiln_axpy(long long n, float alpha, const float *x, float *y) {
	KILN_FOR(i, n) y[i] = __fadd_rn(y[i], __fmul_rn(alpha, x[i]));
}
