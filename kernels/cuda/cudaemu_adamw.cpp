//go:build cudaemu

// The adamw kernels, compiled for the CPU emulator (cudaemu.h).
#include "cudaemu.h"
#include "src/adamw.cu"

EMU_KERNEL(kiln_adamw)
