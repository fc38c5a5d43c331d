"""PyTorch baselines for kernels/cuda's benchmarks, on the same GPU in the same
script (gpurun.sh): cuBLAS FP32 SGEMM with TF32 off, BF16 GEMM, and
scaled_dot_product_attention forward+backward at batch 16, heads 8, seq 1024,
head dim 64 (the issue's targets). Prints one line per figure."""
import time

import torch


def timed(f, reps=20):
    f()
    torch.cuda.synchronize()
    t = time.perf_counter()
    for _ in range(reps):
        f()
    torch.cuda.synchronize()
    return (time.perf_counter() - t) / reps


def main():
    dev = torch.device("cuda")
    print("torch", torch.__version__, "cuda", torch.version.cuda, torch.cuda.get_device_name(0))
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    for m, n, k, ta, tb in [(1024, 1024, 1024, 0, 0), (2048, 2048, 2048, 0, 0), (4096, 4096, 4096, 0, 0),
                            (4096, 4096, 4096, 0, 1), (4096, 4096, 4096, 1, 0)]:
        a = torch.randn((k, m) if ta else (m, k), device=dev)
        b = torch.randn((n, k) if tb else (k, n), device=dev)
        s = timed(lambda: torch.mm(a.t() if ta else a, b.t() if tb else b))
        print(f"torch.mm fp32 (tf32 off) {m}x{n}x{k} tA={bool(ta)} tB={bool(tb)}: {2*m*n*k/s/1e12:.2f} TFLOP/s")
    for dt in (torch.bfloat16,):
        a = torch.randn(4096, 4096, device=dev, dtype=dt)
        b = torch.randn(4096, 4096, device=dev, dtype=dt)
        s = timed(lambda: torch.mm(a, b))
        print(f"torch.mm {dt} 4096^3: {2*4096**3/s/1e12:.2f} TFLOP/s")
    torch.backends.cuda.matmul.allow_tf32 = True
    a = torch.randn(4096, 4096, device=dev)
    b = torch.randn(4096, 4096, device=dev)
    s = timed(lambda: torch.mm(a, b))
    print(f"torch.mm fp32 (tf32 on) 4096^3: {2*4096**3/s/1e12:.2f} TFLOP/s")
    torch.backends.cuda.matmul.allow_tf32 = False
    B, H, T, D = 16, 8, 1024, 64
    for dt in (torch.float32, torch.bfloat16):
        q, k, v = (torch.randn(B, H, T, D, device=dev, dtype=dt, requires_grad=True) for _ in range(3))
        g = torch.randn(B, H, T, D, device=dev, dtype=dt)
        f = torch.nn.functional.scaled_dot_product_attention
        s_fwd = timed(lambda: f(q, k, v, is_causal=True))
        s_all = timed(lambda: f(q, k, v, is_causal=True).backward(g))
        print(f"sdpa causal {dt} B={B} H={H} T={T} D={D}: fwd {s_fwd*1e3:.3f} ms, fwd+bwd {s_all*1e3:.3f} ms")
    x = torch.randn(16 * 8 * 1024, 1024, device=dev)
    s = timed(lambda: torch.softmax(x, -1))
    print(f"torch.softmax 131072x1024: {2*x.numel()*4/s/1e9:.0f} GB/s")
    ln = torch.nn.LayerNorm(1024, device=dev)
    s = timed(lambda: ln(x))
    print(f"LayerNorm 131072x1024: {2*x.numel()*4/s/1e9:.0f} GB/s")


if __name__ == "__main__":
    main()
