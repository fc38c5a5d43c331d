//go:build cudaemu

// The reduce kernels, compiled for the CPU emulator (cudaemu.h).
#include "cudaemu.h"
#include "src/reduce.cu"

EMU_KERNEL(kiln_reduce_rows)
EMU_KERNEL(kiln_reduce_axis)
EMU_KERNEL(kiln_reduce_axis_partial)
EMU_KERNEL(kiln_reduce_chunks)
