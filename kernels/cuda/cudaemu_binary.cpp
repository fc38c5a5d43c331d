//go:build cudaemu

// The binary kernels, compiled for the CPU emulator (cudaemu.h).
#include "cudaemu.h"
#include "src/binary.cu"

EMU_KERNEL(kiln_binary_flat)
EMU_KERNEL(kiln_binary_bcast)
EMU_KERNEL(kiln_scalar)
EMU_KERNEL(kiln_axpy)
