//go:build cudaemu

// The embedding kernels, compiled for the CPU emulator (cudaemu.h).
#include "cudaemu.h"
#include "src/embedding.cu"

EMU_KERNEL(kiln_embedding)
EMU_KERNEL(kiln_embedding_backward)
