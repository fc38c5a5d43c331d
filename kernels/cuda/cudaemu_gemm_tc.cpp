//go:build cudaemu

// The tensor-core GEMM kernels, compiled for the CPU emulator (cudaemu.h,
// emu/mma.h: each lane computes the whole fragment).
#include "cudaemu.h"
#include "src/gemm_tc.cu"

EMU_KERNEL(kiln_gemm_tf32)
EMU_KERNEL(kiln_gemm_bf16)
EMU_KERNEL(kiln_f32_to_bf16)
