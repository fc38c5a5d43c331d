//go:build cudaemu

// The softmax kernels, compiled for the CPU emulator (cudaemu.h).
#include "cudaemu.h"
#include "src/softmax.cu"

EMU_KERNEL(kiln_softmax)
EMU_KERNEL(kiln_softmax_backward)
