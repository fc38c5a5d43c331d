//go:build cudaemu

// The sample kernels, compiled for the CPU emulator (cudaemu.h).
#include "cudaemu.h"
#include "src/sample.cu"

EMU_KERNEL(kiln_sample)
