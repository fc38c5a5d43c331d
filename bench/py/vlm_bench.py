#!/usr/bin/python3
"""PyTorch CPU eager timings of kiln's demo-size VLM, for vision/bench_test.go.

The model is vision.DemoConfig(512, 4), written out in torch (float32):

  ViT        32x32 RGB, patch 4 (64 patches), width 96, 3 pre-norm layers of
             LayerNorm + 4-head attention with bias + MLP 256 with tanh GELU,
             learned positions, final LayerNorm
  projector  pixel shuffle 2 (16 image tokens of 384), Linear 384 -> 96, no bias
  LM         vocab 512, width 96, 3 pre-norm layers of RMSNorm + causal
             attention (4 query heads, 2 KV heads, RoPE, no bias) + SwiGLU 256,
             final RMSNorm, head tied to the embedding

and the two workloads are the same as kiln's benchmarks:

  train  batch 16 x 128 tokens (BOS, 16 image tokens, 111 text tokens), loss
         = mean cross-entropy (image positions ignored), backward, AdamW
         (weight decay 0.01 on matrices, lr 1e-3, multi-tensor): one step
  gen    greedy generation of 64 tokens for 16 prompts of 64 tokens (image
         included) with a preallocated KV cache, log-probabilities of the
         chosen tokens kept (kiln's Generate returns them)

Attention is written out (q k^T, mask, softmax, v): torch 1.13 has no
scaled_dot_product_attention.

Threads. Debian's torch calls OpenBLAS's own pthread pool for matmuls, which
torch.set_num_threads does not limit, so the script sets both: --threads T
means torch T and OpenBLAS T; --threads T:B sets them apart (1:2, torch 1 and
OpenBLAS 2, is the fast 2-core setup on this machine, see
../shared/peers/RESULTS.md). OpenBLAS is found in /proc/self/maps and called
through ctypes.

Allocator. glibc's default mmap threshold makes every large activation a
fresh mapping that page-faults; unless --default-malloc is given, the script
re-executes itself with MALLOC_MMAP_THRESHOLD_, MALLOC_TRIM_THRESHOLD_ and
MALLOC_TOP_PAD_ raised (the strongest PyTorch setup measured here).

    /usr/bin/python3 bench/py/vlm_bench.py --threads 1
    /usr/bin/python3 bench/py/vlm_bench.py --threads 1:2 --what train --reps 5
    /usr/bin/python3 bench/py/vlm_bench.py --threads 1 --width 128 --hidden 384
    python3 bench/py/vlm_bench.py --device cuda    # on the GPU machine (tensor/gpurun.sh bench)

Prints one JSON line per workload: best and median seconds per step (train)
or per generate call (gen), and tokens/s at the best.
"""
import argparse
import ctypes
import json
import math
import os
import sys
import time

MALLOC_ENV = {
    "MALLOC_MMAP_THRESHOLD_": "4294967296",
    "MALLOC_TRIM_THRESHOLD_": "4294967296",
    "MALLOC_TOP_PAD_": "268435456",
}


def tune_malloc():
    """Re-executes this script with MALLOC_ENV set (glibc reads it at start)."""
    if all(os.environ.get(k) == v for k, v in MALLOC_ENV.items()):
        return
    env = dict(os.environ, **MALLOC_ENV)
    os.execve(sys.executable, [sys.executable] + sys.argv, env)


def openblas():
    """The OpenBLAS this process has loaded (through torch), via ctypes."""
    path = "libopenblas.so.0"
    with open("/proc/self/maps") as f:
        for line in f:
            p = line.split()[-1]
            if "openblas" in p and ".so" in p:
                path = p
                break
    lib = ctypes.CDLL(path)
    lib.openblas_set_num_threads.argtypes = [ctypes.c_int]
    lib.openblas_get_num_threads.restype = ctypes.c_int
    lib.openblas_get_corename.restype = ctypes.c_char_p
    return lib, os.path.realpath(path)


# The config: vision.DemoConfig(512, 4).
CFG = dict(
    image_size=32, patch_size=4, vit_dim=96, vit_layers=3, vit_heads=4, vit_mlp=256,
    pixel_shuffle=2, vocab=512, lm_dim=96, lm_layers=3, lm_heads=4, lm_kv_heads=2, lm_hidden=256,
    max_seq=192, rope_base=10000.0, norm_eps=1e-5, image_token=4,
)
BATCH, SEQ, PROMPT, NEW = 16, 128, 64, 64
DEVICE = "cpu"  # --device


def build(torch):
    nn, F = torch.nn, torch.nn.functional
    c = CFG

    class RMSNorm(nn.Module):
        def __init__(self, d):
            super().__init__()
            self.weight = nn.Parameter(torch.ones(d))

        def forward(self, x):
            return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + c["norm_eps"]) * self.weight

    class Attention(nn.Module):
        def __init__(self, d, heads, kv, bias, rope, causal):
            super().__init__()
            self.h, self.kv, self.hd, self.rope, self.causal = heads, kv, d // heads, rope, causal
            self.q_proj = nn.Linear(d, d, bias=bias)
            self.k_proj = nn.Linear(d, kv * self.hd, bias=bias)
            self.v_proj = nn.Linear(d, kv * self.hd, bias=bias)
            self.o_proj = nn.Linear(d, d, bias=bias)

        def forward(self, x, cos=None, sin=None, cache=None, pos=0):
            B, T, _ = x.shape
            q = self.q_proj(x).view(B, T, self.h, self.hd).transpose(1, 2)
            k = self.k_proj(x).view(B, T, self.kv, self.hd).transpose(1, 2)
            v = self.v_proj(x).view(B, T, self.kv, self.hd).transpose(1, 2)
            if self.rope:
                q, k = rotate(q, cos, sin), rotate(k, cos, sin)
            if cache is not None:  # preallocated [B, kv, max_seq, hd]
                ck, cv = cache
                ck[:, :, pos:pos + T] = k
                cv[:, :, pos:pos + T] = v
                k, v = ck[:, :, :pos + T], cv[:, :, :pos + T]
            rep = self.h // self.kv
            if rep > 1:
                k, v = k.repeat_interleave(rep, dim=1), v.repeat_interleave(rep, dim=1)
            att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(self.hd))
            if self.causal and T > 1:
                S = k.shape[2]
                mask = torch.ones(T, S, dtype=torch.bool, device=att.device).tril(diagonal=S - T)
                att = att.masked_fill(~mask, float("-inf"))
            o = (att.softmax(-1) @ v).transpose(1, 2).reshape(B, T, self.h * self.hd)
            return self.o_proj(o)

    def rotate(x, cos, sin):  # HF rotate_half
        h = x.shape[-1] // 2
        return x * cos + torch.cat([-x[..., h:], x[..., :h]], -1) * sin

    class ViTBlock(nn.Module):
        def __init__(self):
            super().__init__()
            d = c["vit_dim"]
            self.norm1, self.norm2 = nn.LayerNorm(d, eps=c["norm_eps"]), nn.LayerNorm(d, eps=c["norm_eps"])
            self.attn = Attention(d, c["vit_heads"], c["vit_heads"], True, False, False)
            self.fc1, self.fc2 = nn.Linear(d, c["vit_mlp"]), nn.Linear(c["vit_mlp"], d)

        def forward(self, x):
            x = x + self.attn(self.norm1(x))
            return x + self.fc2(F.gelu(self.fc1(self.norm2(x)), approximate="tanh"))

    class LMBlock(nn.Module):
        def __init__(self):
            super().__init__()
            d = c["lm_dim"]
            self.norm1, self.norm2 = RMSNorm(d), RMSNorm(d)
            self.attn = Attention(d, c["lm_heads"], c["lm_kv_heads"], False, True, True)
            self.gate_proj = nn.Linear(d, c["lm_hidden"], bias=False)
            self.up_proj = nn.Linear(d, c["lm_hidden"], bias=False)
            self.down_proj = nn.Linear(c["lm_hidden"], d, bias=False)

        def forward(self, x, cos, sin, cache=None, pos=0):
            x = x + self.attn(self.norm1(x), cos, sin, cache, pos)
            h = self.norm2(x)
            return x + self.down_proj(F.silu(self.gate_proj(h)) * self.up_proj(h))

    class VLM(nn.Module):
        def __init__(self):
            super().__init__()
            p, d, D = c["patch_size"], c["vit_dim"], c["lm_dim"]
            n = (c["image_size"] // p) ** 2
            s = c["pixel_shuffle"]
            self.patch_embed = nn.Linear(3 * p * p, d)
            self.pos_embed = nn.Parameter(0.02 * torch.randn(n, d))
            self.vit = nn.ModuleList(ViTBlock() for _ in range(c["vit_layers"]))
            self.vit_norm = nn.LayerNorm(d, eps=c["norm_eps"])
            self.proj = nn.Linear(d * s * s, D, bias=False)
            self.embed = nn.Embedding(c["vocab"], D)
            self.lm = nn.ModuleList(LMBlock() for _ in range(c["lm_layers"]))
            self.norm = RMSNorm(D)
            hd = D // c["lm_heads"]
            inv = c["rope_base"] ** (-torch.arange(0, hd, 2, dtype=torch.float32) / hd)
            ang = torch.arange(c["max_seq"], dtype=torch.float32)[:, None] * inv
            self.cos, self.sin = torch.cat([ang.cos()] * 2, -1), torch.cat([ang.sin()] * 2, -1)
            for m in self.modules():
                if isinstance(m, (nn.Linear, nn.Embedding)):
                    nn.init.normal_(m.weight, std=0.02)

        def image_tokens(self, img):
            B, C, H, W = img.shape
            p, s = c["patch_size"], c["pixel_shuffle"]
            x = img.reshape(B, C, H // p, p, W // p, p).permute(0, 2, 4, 1, 3, 5).reshape(B, -1, C * p * p)
            x = self.patch_embed(x) + self.pos_embed
            for blk in self.vit:
                x = blk(x)
            x = self.vit_norm(x)
            N, D = x.shape[1], x.shape[2]
            g = int(round(math.sqrt(N))) // s
            x = x.reshape(B, g, s, g, s, D).permute(0, 1, 3, 2, 4, 5).reshape(B, g * g, s * s * D)
            return self.proj(x)

        def forward(self, ids, img=None, caches=None, pos=0):
            """Logits [B, T, vocab] for ids [B, T] at positions pos.. (the same
            for every sequence: no padding in these benchmarks)."""
            x = self.embed(ids)
            if img is not None:
                mask = (ids == c["image_token"]).unsqueeze(-1)
                x = x.masked_scatter(mask, self.image_tokens(img))
            T = ids.shape[1]
            cos, sin = self.cos[pos:pos + T], self.sin[pos:pos + T]
            for i, blk in enumerate(self.lm):
                x = blk(x, cos, sin, None if caches is None else caches[i], pos)
            return self.norm(x) @ self.embed.weight.T

    return VLM()


def sequence(n, g, torch):
    """BOS, the image placeholders, then random text tokens (never the placeholder)."""
    n_img = (CFG["image_size"] // CFG["patch_size"]) ** 2 // CFG["pixel_shuffle"] ** 2
    text = torch.randint(5, CFG["vocab"], (n - 1 - n_img,), generator=g)
    return torch.cat([torch.tensor([1]), torch.full((n_img,), CFG["image_token"]), text])


def sync(torch):
    """Waits for the GPU's queued work (a no-op on the CPU), so timings end there."""
    if DEVICE != "cpu":
        torch.cuda.synchronize()


def bench_train(torch, model, reps, steps):
    F = torch.nn.functional
    g = torch.Generator().manual_seed(2)
    ids = torch.stack([sequence(SEQ, g, torch) for _ in range(BATCH)])
    img = torch.randn(BATCH, 3, CFG["image_size"], CFG["image_size"], generator=g)
    ids, img = ids.to(DEVICE), img.to(DEVICE)
    targets = torch.full_like(ids, -100)
    nxt = ids[:, 1:]
    targets[:, :-1] = torch.where(nxt == CFG["image_token"], torch.full_like(nxt, -100), nxt)
    params = list(model.parameters())
    groups = [
        {"params": [p for p in params if p.dim() >= 2], "weight_decay": 0.01},
        {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
    ]
    # foreach: the multi-tensor AdamW, about 10% faster per step here than
    # 1.13's default per-parameter loop on CPU.
    opt = torch.optim.AdamW(groups, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, foreach=True)

    def step():
        opt.zero_grad(set_to_none=True)
        logits = model(ids, img)
        loss = F.cross_entropy(logits.reshape(-1, CFG["vocab"]), targets.reshape(-1), ignore_index=-100)
        loss.backward()
        opt.step()

    for _ in range(2):
        step()
    times = []
    for _ in range(reps):
        sync(torch)
        t0 = time.perf_counter()
        for _ in range(steps):
            step()
        sync(torch)
        times.append((time.perf_counter() - t0) / steps)
    return times, BATCH * SEQ


def bench_gen(torch, model, reps):
    g = torch.Generator().manual_seed(3)
    ids = torch.stack([sequence(PROMPT, g, torch) for _ in range(BATCH)])
    img = torch.randn(BATCH, 3, CFG["image_size"], CFG["image_size"], generator=g)
    ids, img = ids.to(DEVICE), img.to(DEVICE)
    kv, hd = CFG["lm_kv_heads"], CFG["lm_dim"] // CFG["lm_heads"]

    def generate():
        caches = [
            (torch.zeros(BATCH, kv, PROMPT + NEW, hd, device=DEVICE), torch.zeros(BATCH, kv, PROMPT + NEW, hd, device=DEVICE))
            for _ in range(CFG["lm_layers"])
        ]
        out, logps = [], []
        logits = model(ids, img, caches, 0)[:, -1]
        pos = PROMPT
        for step in range(NEW):
            logp = logits.log_softmax(-1)
            tok = logits.argmax(-1)
            out.append(tok)
            logps.append(logp.gather(1, tok[:, None]))
            if step == NEW - 1:
                break
            logits = model(tok[:, None], None, caches, pos)[:, -1]
            pos += 1
        return torch.stack(out, 1), torch.cat(logps, 1)

    with torch.no_grad():
        generate()
        times = []
        for _ in range(reps):
            sync(torch)
            t0 = time.perf_counter()
            generate()
            sync(torch)
            times.append(time.perf_counter() - t0)
    return times, BATCH * NEW


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--threads", default="1", help="T (torch and OpenBLAS) or T:B (torch T, OpenBLAS B)")
    ap.add_argument("--what", default="train,gen", help="train, gen or both (comma-separated)")
    ap.add_argument("--reps", type=int, default=5, help="timed repetitions (best and median reported)")
    ap.add_argument("--steps", type=int, default=2, help="train steps per repetition")
    ap.add_argument("--default-malloc", action="store_true", help="keep glibc's default malloc settings")
    ap.add_argument("--width", type=int, default=96, help="ViT and LM width (kiln: KILN_BENCH_WIDTH)")
    ap.add_argument("--device", default="cpu", help="cpu, or cuda (the GPU peer of vision's *Device benchmarks; threads and OpenBLAS then do not apply)")
    ap.add_argument("--hidden", type=int, default=256, help="ViT MLP and LM SwiGLU hidden size (kiln: KILN_BENCH_HIDDEN)")
    a = ap.parse_args()
    global DEVICE
    DEVICE = a.device
    CFG.update(vit_dim=a.width, lm_dim=a.width, vit_mlp=a.hidden, lm_hidden=a.hidden)
    if not a.default_malloc:
        tune_malloc()

    import torch

    torch.manual_seed(1)
    model = build(torch)
    info = {"torch": torch.__version__, "device": DEVICE, "params": sum(p.numel() for p in model.parameters())}
    if DEVICE == "cpu":
        tt, _, bt = a.threads.partition(":")
        tt, bt = int(tt), int(bt or tt)
        torch.set_num_threads(tt)
        blas, blas_path = openblas()
        blas.openblas_set_num_threads(bt)
        info.update({
            "torch_threads": torch.get_num_threads(),
            "openblas": blas_path, "openblas_threads": blas.openblas_get_num_threads(),
            "openblas_core": blas.openblas_get_corename().decode(),
            "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE", "<unset>"),
            "malloc_tuned": not a.default_malloc,
        })
    else:
        model = model.to(DEVICE)
        model.cos, model.sin = model.cos.to(DEVICE), model.sin.to(DEVICE)
        info.update({"gpu": torch.cuda.get_device_name(), "tf32_matmul": torch.backends.cuda.matmul.allow_tf32})
    for what in a.what.split(","):
        if what == "train":
            times, tokens = bench_train(torch, model, a.reps, a.steps)
        elif what == "gen":
            times, tokens = bench_gen(torch, model, a.reps)
        else:
            sys.exit(f"unknown workload {what!r}")
        s = sorted(times)
        print(json.dumps(dict(info, what=what, threads=a.threads, best_s=s[0], median_s=s[len(s) // 2],
                              tok_per_s=tokens / s[0], reps=len(s))), flush=True)


if __name__ == "__main__":
    main()
