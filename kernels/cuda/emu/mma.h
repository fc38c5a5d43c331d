// mma.h (nvcuda::wmma) for the CPU emulator (../cudaemu.h). Every lane of a
// warp holds the whole fragment and computes the whole product, so the
// results are the fragment-layout-independent ones the kernels rely on; the
// loads and stores check the pointer alignment (256 bits) and the leading
// dimension (a multiple of 16 bytes) that the hardware requires.
#pragma once
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <type_traits>

#include "cuda_bf16.h"

namespace nvcuda {
namespace wmma {

struct row_major {};
struct col_major {};
struct matrix_a {};
struct matrix_b {};
struct accumulator {};
namespace precision {
struct tf32 {};
} // namespace precision
enum layout_t { mem_row_major, mem_col_major };

template <typename T>
struct storage {
	using type = T;
};
template <>
struct storage<precision::tf32> {
	using type = float;
};

template <typename Use, int M, int N, int K, typename T, typename Layout = void>
struct fragment {
	using element_type = typename storage<T>::type;
	static constexpr int rows = std::is_same_v<Use, matrix_b> ? K : M;
	static constexpr int cols = std::is_same_v<Use, matrix_a> ? K : N;
	static constexpr int num_elements = rows * cols;
	element_type x[rows * cols];
};

inline void emu_check(const void *p, unsigned ldm, size_t elem, const char *what) {
	if (reinterpret_cast<uintptr_t>(p) % 32 != 0 || (ldm * elem) % 16 != 0) {
		std::fprintf(stderr, "cudaemu: wmma::%s: pointer %p not 256-bit aligned or ldm %u not a multiple of 16 bytes\n", what, p, ldm);
		std::abort();
	}
}

template <typename Use, int M, int N, int K, typename T, typename L>
inline void fill_fragment(fragment<Use, M, N, K, T, L> &f, float v) {
	for (int i = 0; i < f.num_elements; i++) f.x[i] = v;
}

// Row-major operands, and column-major ones (the element (r, c) of the
// operand at p[c*ldm + r]). A fragment holds its operand row-major whatever
// its layout, so mma_sync takes any layouts.
template <typename Use, int M, int N, int K, typename T>
inline void load_matrix_sync(fragment<Use, M, N, K, T, row_major> &f, const typename storage<T>::type *p, unsigned ldm) {
	emu_check(p, ldm, sizeof(*p), "load_matrix_sync");
	using F = fragment<Use, M, N, K, T, row_major>;
	for (int r = 0; r < F::rows; r++)
		for (int c = 0; c < F::cols; c++) f.x[r * F::cols + c] = p[(size_t)r * ldm + c];
}

template <typename Use, int M, int N, int K, typename T>
inline void load_matrix_sync(fragment<Use, M, N, K, T, col_major> &f, const typename storage<T>::type *p, unsigned ldm) {
	emu_check(p, ldm, sizeof(*p), "load_matrix_sync");
	using F = fragment<Use, M, N, K, T, col_major>;
	for (int r = 0; r < F::rows; r++)
		for (int c = 0; c < F::cols; c++) f.x[r * F::cols + c] = p[(size_t)c * ldm + r];
}

template <int M, int N, int K, typename TA, typename TB, typename LA, typename LB>
inline void mma_sync(fragment<accumulator, M, N, K, float> &d, const fragment<matrix_a, M, N, K, TA, LA> &a,
	const fragment<matrix_b, M, N, K, TB, LB> &b, const fragment<accumulator, M, N, K, float> &c) {
	float out[M * N];
	for (int i = 0; i < M; i++)
		for (int j = 0; j < N; j++) {
			float s = c.x[i * N + j];
			for (int k = 0; k < K; k++) s += float(a.x[i * K + k]) * float(b.x[k * N + j]);
			out[i * N + j] = s;
		}
	std::memcpy(d.x, out, sizeof(out));
}

template <int M, int N, int K>
inline void store_matrix_sync(float *p, const fragment<accumulator, M, N, K, float> &f, unsigned ldm, layout_t layout) {
	emu_check(p, ldm, sizeof(float), "store_matrix_sync");
	if (layout != mem_row_major) std::abort();
	for (int r = 0; r < M; r++)
		for (int c = 0; c < N; c++) p[(size_t)r * ldm + c] = f.x[r * N + c];
}

// TF32 rounding: 10 mantissa bits, to nearest, ties away from zero.
inline float __float_to_tf32(float f) {
	uint32_t b;
	std::memcpy(&b, &f, 4);
	b = (b + 0x1000u) & ~0x1fffu;
	std::memcpy(&f, &b, 4);
	return f;
}

} // namespace wmma
} // namespace nvcuda
