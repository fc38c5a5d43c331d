// cuda_bf16.h for the CPU emulator (../cudaemu.h): a 16-bit bfloat16 with
// round-to-nearest-even conversion from float.
#pragma once
#include <cstdint>
#include <cstring>

struct __nv_bfloat16 {
	uint16_t bits;
	__nv_bfloat16() = default;
	__nv_bfloat16(float f) {
		uint32_t b;
		std::memcpy(&b, &f, 4);
		bits = static_cast<uint16_t>((b + 0x7fffu + ((b >> 16) & 1u)) >> 16);
	}
	operator float() const {
		uint32_t b = static_cast<uint32_t>(bits) << 16;
		float f;
		std::memcpy(&f, &b, 4);
		return f;
	}
};

inline __nv_bfloat16 __float2bfloat16_rn(float f) { return __nv_bfloat16(f); }
