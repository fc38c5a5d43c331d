//go:build cudaemu

// The unary kernels, compiled for the CPU emulator (cudaemu.h).
#include "cudaemu.h"
#include "src/unary.cu"

EMU_KERNEL(kiln_unary)
EMU_KERNEL(kiln_unary_backward)
EMU_KERNEL(kiln_unary2)
EMU_KERNEL(kiln_unary2_backward)
