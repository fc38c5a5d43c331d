//go:build cudaemu

// The crossentropy kernels, compiled for the CPU emulator (cudaemu.h).
#include "cudaemu.h"
#include "src/crossentropy.cu"

EMU_KERNEL(kiln_cross_entropy)
EMU_KERNEL(kiln_cross_entropy_backward)
