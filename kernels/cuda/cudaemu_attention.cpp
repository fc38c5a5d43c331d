//go:build cudaemu

// The attention kernels, compiled for the CPU emulator (cudaemu.h).
#include "cudaemu.h"
#include "src/attention.cu"

EMU_KERNEL(kiln_attn_fwd_32)
EMU_KERNEL(kiln_attn_fwd_64)
EMU_KERNEL(kiln_attn_fwd_128)
EMU_KERNEL(kiln_attn_bwd_dq_32)
EMU_KERNEL(kiln_attn_bwd_dq_64)
EMU_KERNEL(kiln_attn_bwd_dq_128)
EMU_KERNEL(kiln_attn_bwd_dkv_32)
EMU_KERNEL(kiln_attn_bwd_dkv_64)
EMU_KERNEL(kiln_attn_bwd_dkv_128)
