#!/usr/bin/python3
"""Writes the end-to-end golden files that vision/e2e_test.go checks kiln's VLM against.

Run with Debian's python3-torch (torch 1.13, no safetensors package: the file
bytes are laid out here from the format specification):

    cd vision/testdata && /usr/bin/python3 gen_e2e.py

The script builds the same tiny VLM as vision.New from a JSON-able config, in
plain tensor ops so that every step of kiln's definition is visible:

  ViT        patches flattened as (c, dy, dx), row-major over the grid, a Linear
             patch embedding, learned positions, pre-norm blocks of LayerNorm +
             bidirectional multi-head attention with bias (q/k/v/o_proj, scale
             1/sqrt(head_dim)) + GELU MLP fc1/fc2 (erf, or tanh when
             vit_gelu_tanh), a final LayerNorm
  projector  pixel shuffle Reshape(B,g,s,g,s,D).Permute(0,1,3,2,4,5).Reshape(B,g*g,s*s*D),
             then fc1 without bias, or fc1 -> GELU -> fc2 with biases when proj_hidden > 0
  LM         token embedding whose image_token rows in non-pad positions are
             replaced, in order, by the projected image tokens; pre-norm blocks of
             RMSNorm + causal attention without bias with RoPE (HF rotate_half,
             per-sequence positions: left pads get 0, real tokens count from 0),
             GQA (query head h reads kv head h // (heads/kv_heads)) and a key
             padding mask (a query with every key masked outputs 0) + SwiGLU; a
             final RMSNorm; a head tied to the embedding or separate
  loss       mean cross-entropy over targets != -100
  optimizer  torch.optim.AdamW, weight decay on parameters with >= 2 dims and
             none on the others (kiln's Params.DefaultGroups)

Weights are drawn in float32 with a large std (0.25, norms 1 +- 0.2, biases
+-0.2) so that every path matters; the reference then runs in float64 from
those float32 values. For each case NAME it writes

  e2e_NAME.json                 config (kiln's JSON names), the batch (ids, pad,
                                targets), the loss, the AdamW settings and the
                                11 losses of the AdamW run (before step 1 and
                                after each of the 10 steps)
  e2e_NAME.weights.safetensors  the parameters under kiln's names (Params.LoadWeights)
  e2e_NAME.golden.safetensors   images, logits, grad.<param> (the first
                                step's gradients) and final.<param> (after 10 steps)

Outputs are committed; go test never runs Python.
"""

import json
import math
import re
import struct

import torch
import torch.nn.functional as F

STD, NORM_STD, BIAS_STD = 0.25, 0.2, 0.2
LR, BETAS, EPS, WD, STEPS = 1e-2, (0.9, 0.999), 1e-8, 0.01, 10


def base_config():
    """vision_test.go's tinyConfig with 2 ViT layers (kiln JSON field names)."""
    return {
        "image_size": 16, "patch_size": 4,
        "vit_dim": 16, "vit_layers": 2, "vit_heads": 2, "vit_mlp": 32, "vit_gelu_tanh": False,
        "pixel_shuffle": 2, "proj_hidden": 0,
        "vocab": 40, "lm_dim": 16, "lm_layers": 2, "lm_heads": 4, "lm_kv_heads": 2, "lm_hidden": 32,
        "max_seq": 48, "rope_base": 10000.0, "tie_embeddings": True,
        "norm_eps": 1e-5, "dropout": 0.0, "init_std": 0.02, "image_token": 3,
    }


def param_shapes(c):
    """kiln's parameter names and shapes, in its registration order."""
    out = []

    def linear(name, fan_in, fan_out, bias):
        out.append((name + ".weight", [fan_out, fan_in]))
        if bias:
            out.append((name + ".bias", [fan_out]))

    def attention(name, dim, heads, kv, bias):
        hd = dim // heads
        linear(name + ".q_proj", dim, dim, bias)
        linear(name + ".k_proj", dim, kv * hd, bias)
        linear(name + ".v_proj", dim, kv * hd, bias)
        linear(name + ".o_proj", dim, dim, bias)

    d, p = c["vit_dim"], c["patch_size"]
    patches = (c["image_size"] // p) ** 2
    linear("vit.patch_embed", 3 * p * p, d, True)
    out.append(("vit.pos_embed", [patches, d]))
    for i in range(c["vit_layers"]):
        n = f"vit.layers.{i}"
        attention(n + ".attn", d, c["vit_heads"], c["vit_heads"], True)
        for k in ("norm1", "norm2"):
            out += [(f"{n}.{k}.weight", [d]), (f"{n}.{k}.bias", [d])]
        linear(n + ".mlp.fc1", d, c["vit_mlp"], True)
        linear(n + ".mlp.fc2", c["vit_mlp"], d, True)
    out += [("vit.norm.weight", [d]), ("vit.norm.bias", [d])]
    s = max(c["pixel_shuffle"], 1)
    if c["proj_hidden"] > 0:
        linear("proj.fc1", d * s * s, c["proj_hidden"], True)
        linear("proj.fc2", c["proj_hidden"], c["lm_dim"], True)
    else:
        linear("proj.fc1", d * s * s, c["lm_dim"], False)
    D, kv = c["lm_dim"], c["lm_kv_heads"] or c["lm_heads"]
    out.append(("lm.embed_tokens.weight", [c["vocab"], D]))
    for i in range(c["lm_layers"]):
        n = f"lm.layers.{i}"
        attention(n + ".attn", D, c["lm_heads"], kv, False)
        out += [(n + ".norm1.weight", [D]), (n + ".norm2.weight", [D])]
        linear(n + ".mlp.gate_proj", D, c["lm_hidden"], False)
        linear(n + ".mlp.up_proj", D, c["lm_hidden"], False)
        linear(n + ".mlp.down_proj", c["lm_hidden"], D, False)
    out.append(("lm.norm.weight", [D]))
    if not c["tie_embeddings"]:
        linear("lm.head", D, c["vocab"], False)
    return out


def init_params(c, g):
    """float32 weights: matrices N(0, STD), norm weights 1 + N(0, NORM_STD), biases N(0, BIAS_STD)."""
    ps = {}
    for name, shape in param_shapes(c):
        r = torch.randn(*shape, generator=g, dtype=torch.float32)
        if "norm" in name and name.endswith(".weight"):
            ps[name] = 1 + NORM_STD * r
        elif name.endswith(".bias"):
            ps[name] = BIAS_STD * r
        else:
            ps[name] = STD * r
    return ps


# ---- the model, in float64 -------------------------------------------------


def linear(P, name, x):
    y = x @ P[name + ".weight"].T
    if name + ".bias" in P:
        y = y + P[name + ".bias"]
    return y


def rms_norm(x, w, eps):
    return x * torch.rsqrt((x * x).mean(-1, keepdim=True) + eps) * w


def rope(x, pos, base):
    """x [B, H, T, hd]; pos [B, T]; HF rotate_half convention."""
    hd = x.shape[-1]
    inv = base ** (-torch.arange(0, hd, 2, dtype=torch.float64) / hd)  # [hd/2]
    ang = pos.to(torch.float64)[:, None, :, None] * inv  # [B, 1, T, hd/2]
    cos, sin = torch.cat([ang.cos()] * 2, -1), torch.cat([ang.sin()] * 2, -1)
    x1, x2 = x[..., : hd // 2], x[..., hd // 2 :]
    return x * cos + torch.cat([-x2, x1], -1) * sin


def attention(P, name, x, heads, kv_heads, causal=False, pos=None, base=None, pad=None):
    B, T, dim = x.shape
    hd = dim // heads
    q = linear(P, name + ".q_proj", x).view(B, T, heads, hd).transpose(1, 2)
    k = linear(P, name + ".k_proj", x).view(B, T, kv_heads, hd).transpose(1, 2)
    v = linear(P, name + ".v_proj", x).view(B, T, kv_heads, hd).transpose(1, 2)
    if pos is not None:
        q, k = rope(q, pos, base), rope(k, pos, base)
    rep = heads // kv_heads
    k, v = k.repeat_interleave(rep, dim=1), v.repeat_interleave(rep, dim=1)  # head h -> kv h//rep
    scores = q @ k.transpose(-1, -2) / math.sqrt(hd)  # [B, H, T, T]
    allowed = torch.ones(B, 1, T, T, dtype=torch.bool)
    if causal:
        allowed = allowed & torch.ones(T, T, dtype=torch.bool).tril()
    if pad is not None:
        allowed = allowed & ~pad[:, None, None, :]
    # A finite fill keeps fully masked rows finite (uniform); they are then
    # zeroed, which gives them zero output and zero gradients as in kiln.
    p = scores.masked_fill(~allowed, -1e300).softmax(-1) * allowed.any(-1, keepdim=True)
    o = (p @ v).transpose(1, 2).reshape(B, T, heads * hd)
    return linear(P, name + ".o_proj", o)


def vit(P, c, img):
    B, C, H, W = img.shape
    p = c["patch_size"]
    x = img.reshape(B, C, H // p, p, W // p, p).permute(0, 2, 4, 1, 3, 5).reshape(B, (H // p) * (W // p), C * p * p)
    x = linear(P, "vit.patch_embed", x) + P["vit.pos_embed"]
    d, eps = c["vit_dim"], c["norm_eps"]

    def ln(x, n):
        return F.layer_norm(x, (d,), P[n + ".weight"], P[n + ".bias"], eps)

    for i in range(c["vit_layers"]):
        n = f"vit.layers.{i}"
        x = x + attention(P, n + ".attn", ln(x, n + ".norm1"), c["vit_heads"], c["vit_heads"])
        h = linear(P, n + ".mlp.fc1", ln(x, n + ".norm2"))
        h = F.gelu(h, approximate="tanh") if c["vit_gelu_tanh"] else F.gelu(h)
        x = x + linear(P, n + ".mlp.fc2", h)
    return ln(x, "vit.norm")


def project(P, c, x):
    B, N, D = x.shape
    s = max(c["pixel_shuffle"], 1)
    g = int(round(math.sqrt(N))) // s
    x = x.reshape(B, g, s, g, s, D).permute(0, 1, 3, 2, 4, 5).reshape(B, g * g, s * s * D)
    x = linear(P, "proj.fc1", x)
    if c["proj_hidden"] > 0:
        x = linear(P, "proj.fc2", F.gelu(x))
    return x


def forward(P, c, img, ids, pad):
    """Logits [B, T, vocab]."""
    B, T = ids.shape
    x = P["lm.embed_tokens.weight"][ids]
    feats = project(P, c, vit(P, c, img))  # [B, N, D]
    rows = []
    for b in range(B):
        slots = [t for t in range(T) if ids[b, t] == c["image_token"] and not pad[b, t]]
        assert len(slots) == feats.shape[1], (b, slots)
        row = list(x[b].unbind(0))
        for k, t in enumerate(slots):
            row[t] = feats[b, k]
        rows.append(torch.stack(row))
    x = torch.stack(rows)
    pos = (~pad).long().cumsum(1) - 1
    pos = pos.clamp(min=0)  # left pads: 0; real tokens: 0, 1, 2, ...
    kv = c["lm_kv_heads"] or c["lm_heads"]
    eps = c["norm_eps"]
    for i in range(c["lm_layers"]):
        n = f"lm.layers.{i}"
        h = rms_norm(x, P[n + ".norm1.weight"], eps)
        x = x + attention(P, n + ".attn", h, c["lm_heads"], kv, causal=True, pos=pos, base=c["rope_base"], pad=pad)
        h = rms_norm(x, P[n + ".norm2.weight"], eps)
        gate, up = linear(P, n + ".mlp.gate_proj", h), linear(P, n + ".mlp.up_proj", h)
        x = x + linear(P, n + ".mlp.down_proj", F.silu(gate) * up)
    x = rms_norm(x, P["lm.norm.weight"], eps)
    if c["tie_embeddings"]:
        return x @ P["lm.embed_tokens.weight"].T
    return linear(P, "lm.head", x)


def loss_fn(P, c, img, ids, pad, targets):
    logits = forward(P, c, img, ids, pad)
    return F.cross_entropy(logits.reshape(-1, c["vocab"]), targets.reshape(-1), ignore_index=-100), logits


# ---- the batch ---------------------------------------------------------------


def batch(c, g):
    """3 left-padded sequences of 12 with 4 image placeholders each at
    different offsets; some pads hold the placeholder id (pads are never
    replaced). Targets are the next token, -100 on pads, before
    placeholders and at the end."""
    im = c["image_token"]
    seqs = [
        [1, 5, im, im, im, im, 7, 8, 9, 10, 11, 2],
        [1, im, im, im, im, 12, 13, 14, 2],
        [6, im, im, im, im, 15, 2],
    ]
    pad_ids = [im, 0, im, 17, im]
    T = max(len(s) for s in seqs)
    ids, pad, targets = [], [], []
    for s in seqs:
        n = T - len(s)
        ids.append(pad_ids[:n] + s)
        pad.append([True] * n + [False] * len(s))
        tg = [-100] * n + [t if t != im else -100 for t in s[1:]] + [-100]
        targets.append(tg)
    img = torch.randn(len(seqs), 3, c["image_size"], c["image_size"], generator=g, dtype=torch.float32)
    return img, torch.tensor(ids), torch.tensor(pad), torch.tensor(targets)


# ---- safetensors (F32 only), from the format specification -------------------


def safetensors_bytes(tensors, metadata=None):
    header, blobs, off = {}, [], 0
    if metadata:
        header["__metadata__"] = metadata
    for name in sorted(tensors):
        t = tensors[name].detach().to(torch.float32).contiguous()
        b = t.numpy().astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + b"".join(blobs)


def write(path, data):
    with open(path, "wb") as f:
        f.write(data)


# ---- one case -------------------------------------------------------------------


def run_case(name, c, seed):
    g = torch.Generator().manual_seed(seed)
    ps32 = init_params(c, g)
    img32, ids, pad, targets = batch(c, g)
    P = {n: t.to(torch.float64).requires_grad_() for n, t in ps32.items()}
    img = img32.to(torch.float64)

    loss, logits = loss_fn(P, c, img, ids, pad, targets)
    loss.backward()
    grads = {n: P[n].grad.clone() for n in P}

    # AdamW from the same weights: losses[k] is the loss after k steps.
    P = {n: t.to(torch.float64).requires_grad_() for n, t in ps32.items()}
    decay = [P[n] for n in P if P[n].dim() >= 2]
    plain = [P[n] for n in P if P[n].dim() < 2]
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": WD}, {"params": plain, "weight_decay": 0.0}], lr=LR, betas=BETAS, eps=EPS
    )
    losses = []
    for _ in range(STEPS):
        opt.zero_grad()
        l, _ = loss_fn(P, c, img, ids, pad, targets)
        losses.append(l.item())
        l.backward()
        opt.step()
    with torch.no_grad():
        losses.append(loss_fn(P, c, img, ids, pad, targets)[0].item())

    write(f"e2e_{name}.weights.safetensors", safetensors_bytes(ps32, {"source": "vision/testdata/gen_e2e.py"}))
    golden = {"images": img32, "logits": logits}
    golden.update({"grad." + n: t for n, t in grads.items()})
    golden.update({"final." + n: t for n, t in P.items()})
    write(f"e2e_{name}.golden.safetensors", safetensors_bytes(golden))
    B, T = ids.shape
    doc = {
        "config": c,
        "batch": {
            "b": B, "t": T,
            "ids": ids.reshape(-1).tolist(),
            "pad": pad.reshape(-1).tolist(),
            "targets": targets.reshape(-1).tolist(),
        },
        "loss": loss.item(),
        "adamw": {
            "lr": LR, "beta1": BETAS[0], "beta2": BETAS[1], "eps": EPS, "weight_decay": WD,
            "groups": "weight decay on parameters with >= 2 dims, none on the rest",
            "losses": losses,
        },
        "torch": torch.__version__,
    }
    text = json.dumps(doc, indent=1)
    # Lists of numbers on one line each.
    text = re.sub(r"\[\s+([^\[\]{}]*?)\s+\]", lambda m: "[" + " ".join(m.group(1).split()) + "]", text)
    with open(f"e2e_{name}.json", "w") as f:
        f.write(text + "\n")
    print(f"{name}: {len(P)} params, loss {loss.item():.6f}, after {STEPS} AdamW steps {losses[-1]:.6f}")


def main():
    torch.set_num_threads(1)
    # Case gqa: 4 query heads on 2 kv heads, linear projector, tied head.
    run_case("gqa", base_config(), seed=1)
    # Case mlp: MLP projector, separate head, one kv head (multi-query), 4 ViT
    # heads, tanh GELU in the ViT (as DemoConfig).
    c = base_config()
    c.update({"proj_hidden": 24, "tie_embeddings": False, "lm_kv_heads": 1, "vit_heads": 4, "norm_eps": 1e-6,
              "vit_gelu_tanh": True})
    run_case("mlp", c, seed=2)


if __name__ == "__main__":
    main()
