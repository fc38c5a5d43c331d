//go:build cudaemu

// The norm kernels, compiled for the CPU emulator (cudaemu.h).
#include "cudaemu.h"
#include "src/norm.cu"

EMU_KERNEL(kiln_layernorm)
EMU_KERNEL(kiln_layernorm_backward_dx)
EMU_KERNEL(kiln_layernorm_dwdb_partial)
EMU_KERNEL(kiln_rmsnorm)
EMU_KERNEL(kiln_rmsnorm_backward_dx)
EMU_KERNEL(kiln_rmsnorm_dw_partial)
EMU_KERNEL(kiln_colsum_acc)
