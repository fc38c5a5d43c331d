// cudaemu.h: just enough of CUDA to run kiln's kernels on the CPU, for the
// emulated backend (build tag cudaemu; device_emu.go). Each CUDA thread is
// a fiber (ucontext); a block's fibers run one at a time until they reach a
// barrier (__syncthreads, or a warp's shuffle, ballot or __syncwarp), so
// shared memory is plain static storage and data races cannot hide. A
// barrier that not every thread of its block (or warp) reaches is reported
// as a deadlock. It checks the kernels' logic, indexing and barriers, not
// their speed or the GPU's exact rounding (expf and friends are glibc's).
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <algorithm>
#include <type_traits>
#include <utility>

using std::max;
using std::min;

struct dim3 {
	unsigned x, y, z;
};
struct alignas(16) float4 {
	float x, y, z, w;
};
struct alignas(16) uint4 {
	unsigned x, y, z, w;
};

struct emu_fiber;
extern dim3 emu_blockIdx, emu_blockDim, emu_gridDim;
extern emu_fiber *emu_cur;
dim3 emu_thread_idx();
void emu_syncthreads();
void emu_syncwarp();
// emu_exchange publishes v for this lane and returns lane src's value; all
// lanes of the warp take part.
uint64_t emu_exchange(uint64_t v, int src);
unsigned emu_ballot(bool pred);

#define threadIdx (emu_thread_idx())
#define blockIdx emu_blockIdx
#define blockDim emu_blockDim
#define gridDim emu_gridDim

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __restrict__ __restrict
#define __shared__ static
#define __align__(n) __attribute__((aligned(n)))

inline void __syncthreads() { emu_syncthreads(); }
inline void __syncwarp(unsigned = 0xffffffffu) { emu_syncwarp(); }

template <typename T>
inline T __shfl_xor_sync(unsigned, T v, int o) {
	static_assert(sizeof(T) <= 8, "shuffle of at most 8 bytes");
	uint64_t b = 0;
	std::memcpy(&b, &v, sizeof(T));
	unsigned lane = emu_thread_idx().x % 32;
	b = emu_exchange(b, (int)(lane ^ (unsigned)o));
	T r;
	std::memcpy(&r, &b, sizeof(T));
	return r;
}

inline unsigned __ballot_sync(unsigned, bool pred) { return emu_ballot(pred); }
inline int __popc(unsigned x) { return __builtin_popcount(x); }

inline float __fadd_rn(float a, float b) { return a + b; }
inline float __fsub_rn(float a, float b) { return a - b; }
inline float __fmul_rn(float a, float b) { return a * b; }
inline float __fdiv_rn(float a, float b) { return a / b; }
inline float __fsqrt_rn(float a) { return std::sqrt(a); }
inline float rsqrtf(float a) { return 1.f / std::sqrt(a); }
inline float __uint_as_float(unsigned u) {
	float f;
	std::memcpy(&f, &u, 4);
	return f;
}

// Registration: every kernel of a module file is entered by name, with a
// trampoline that unpacks the 8-byte argument slots into its parameters.
typedef void (*emu_tramp)(const uint64_t *slots);
void emu_register(const char *name, emu_tramp t);

template <typename T>
inline T emu_from_slot(uint64_t s) {
	if constexpr (std::is_pointer_v<T>) {
		return reinterpret_cast<T>(static_cast<uintptr_t>(s));
	} else if constexpr (std::is_same_v<T, float>) {
		uint32_t b = static_cast<uint32_t>(s);
		float f;
		std::memcpy(&f, &b, 4);
		return f;
	} else if constexpr (sizeof(T) == 4) {
		return static_cast<T>(static_cast<int32_t>(static_cast<uint32_t>(s)));
	} else {
		return static_cast<T>(static_cast<int64_t>(s));
	}
}

template <typename... A, size_t... I>
inline void emu_call_seq(void (*f)(A...), const uint64_t *s, std::index_sequence<I...>) {
	f(emu_from_slot<A>(s[I])...);
}

template <typename... A>
inline void emu_call(void (*f)(A...), const uint64_t *s) {
	emu_call_seq(f, s, std::index_sequence_for<A...>{});
}

#define EMU_KERNEL(name) \
	static struct emu_reg_##name { \
		emu_reg_##name() { emu_register(#name, [](const uint64_t *s) { emu_call(name, s); }); } \
	} emu_reg_instance_##name;
