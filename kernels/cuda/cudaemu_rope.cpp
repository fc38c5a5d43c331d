//go:build cudaemu

// The rope kernels, compiled for the CPU emulator (cudaemu.h).
#include "cudaemu.h"
#include "src/rope.cu"

EMU_KERNEL(kiln_rope)
