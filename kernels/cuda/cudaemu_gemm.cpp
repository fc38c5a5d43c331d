//go:build cudaemu

// The gemm kernels, compiled for the CPU emulator (cudaemu.h).
#include "cudaemu.h"
#include "src/gemm.cu"

EMU_KERNEL(kiln_sgemm)
