#!/usr/bin/python3
"""Writes the golden safetensors files that nn/safetensors tests against.

Run with Debian's python3-torch (torch 1.13 has no safetensors package, so
this script lays the bytes out itself, following the format specification):

    cd nn/safetensors/testdata && /usr/bin/python3 gen_golden.py

PyTorch's float32 -> bfloat16/float16 casts give the reference rounding and
its upcasts the reference decoding. Outputs (committed; go test never runs
Python):

  mixed.safetensors  tensors of all three dtypes: odd shapes, scalars,
                     zero-size tensors, special values, non-ASCII names
  mixed.json         for each tensor of mixed: name, dtype, shape, the
                     float32 bits it was made from ("source") and the float32
                     bits it decodes to ("decoded"); and the metadata
  convert.safetensors  conversion vectors: "input" (F32) edge values, ties
                     and random bit patterns; "bf16" and "f16" the same values
                     cast by torch; "bf16_f32" and "f16_f32" those casts
                     upcast back to float32 by torch
  empty.safetensors  no tensors, no metadata
"""

import json
import struct

import numpy as np
import torch

DTYPES = {torch.float32: "F32", torch.bfloat16: "BF16", torch.float16: "F16"}
# The reference implementation lays tensors out by descending dtype (its
# enum lists F16 < BF16 < F32), then by name.
RANK = {"F32": 0, "BF16": 1, "F16": 2}


def raw_bytes(t):
    """The little-endian bytes of t (x86 is little-endian)."""
    t = t.contiguous()
    if t.dtype == torch.float32:
        return t.view(torch.int32).numpy().astype("<i4").tobytes()
    return t.view(torch.int16).numpy().astype("<i2").tobytes()


def serialize(tensors, metadata=None):
    """tensors: dict name -> torch tensor (float32, bfloat16 or float16)."""
    names = sorted(tensors, key=lambda n: (RANK[DTYPES[tensors[n].dtype]], n))
    header = {}
    if metadata:
        header["__metadata__"] = {k: metadata[k] for k in sorted(metadata)}
    data = b""
    for n in names:
        t = tensors[n]
        b = raw_bytes(t)
        header[n] = {
            "dtype": DTYPES[t.dtype],
            "shape": list(t.shape),
            "data_offsets": [len(data), len(data) + len(b)],
        }
        data += b
    h = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    h += b" " * ((8 - len(h) % 8) % 8)
    return struct.pack("<Q", len(h)) + h + data


def f32(bits):
    """float32 tensor from a list of uint32 bit patterns."""
    return torch.from_numpy(np.array(bits, dtype=np.uint32).view(np.float32).copy())


def bits(t):
    """uint32 bit patterns of a float32 tensor, as Python ints."""
    return [int(x) for x in t.contiguous().view(-1).numpy().view(np.uint32)]


def mixed():
    g = torch.Generator().manual_seed(5)
    inf, nan = float("inf"), float("nan")
    special = torch.tensor([inf, -inf, nan, 65504.0, 2.0**-24, -0.0, 1e-8, 70000.0])
    special_bf16 = torch.tensor([inf, -inf, nan, 3.3895314e38, 9.2e-41, -0.0, 1.0 + 2.0**-8, 3.4e38])
    sources = {
        "lm.layers.0.attn.q_proj.weight": (torch.randn(3, 5, generator=g), torch.float32),
        "lm.layers.0.attn.q_proj.bias": (torch.randn(5, generator=g), torch.bfloat16),
        "lm.norm.weight": (1 + 0.1 * torch.randn(7, generator=g), torch.float16),
        "scalar.f32": (torch.tensor(3.25), torch.float32),
        "scalar.bf16": (torch.tensor(-1.0 / 3.0), torch.bfloat16),
        "scalar.f16": (torch.tensor(1.0 / 3.0), torch.float16),
        "empty.f32": (torch.zeros(2, 0, 3), torch.float32),
        "empty.bf16": (torch.zeros(0), torch.bfloat16),
        "empty.f16": (torch.zeros(4, 0), torch.float16),
        "odd.bf16": (torch.randn(1, 3, 1, generator=g), torch.bfloat16),
        "special.f16": (special.reshape(2, 4), torch.float16),
        "special.bf16": (special_bf16.reshape(2, 4), torch.bfloat16),
        "tok_emb.\u00e9": (torch.randn(2, 2, generator=g) * 1e3, torch.float32),
        "a<b>&c": (torch.tensor([-2.5e-6]), torch.float16),
    }
    metadata = {"format": "pt", "kiln": "golden", "note": "\u00fcn\u00efc\u00f6de"}
    tensors = {n: s.to(d) for n, (s, d) in sources.items()}
    with open("mixed.safetensors", "wb") as f:
        f.write(serialize(tensors, metadata))
    expect = {
        "metadata": metadata,
        "tensors": [
            {
                "name": n,
                "dtype": DTYPES[d],
                "shape": list(s.shape),
                "source": bits(s),
                "decoded": bits(tensors[n].to(torch.float32)),
            }
            for n, (s, d) in sorted(sources.items())
        ],
    }
    with open("mixed.json", "w") as f:
        json.dump(expect, f, indent=1, ensure_ascii=False)
        f.write("\n")


def conversion_inputs():
    v = []
    # Zeros, infinities, NaNs (quiet, signalling, negative, with payloads).
    v += [0x00000000, 0x80000000, 0x7F800000, 0xFF800000]
    v += [0x7FC00000, 0xFFC00000, 0x7F800001, 0x7FA00000, 0x7FFFFFFF, 0xFF812345]
    # float32 extremes: max, min normal, min subnormal, max subnormal.
    v += [0x7F7FFFFF, 0x00800000, 0x00000001, 0x007FFFFF, 0x80000001]
    # 1 and its bf16 neighbours: ties round to even.
    one = 0x3F800000
    v += [one, one + 0x8000, one + 0x18000, one + 0x7FFF, one + 0x8001, one + 0x10000]
    # bf16 overflow: max bf16, the tie above it (rounds to Inf), just below.
    v += [0x7F7F0000, 0x7F7F8000, 0x7F7F7FFF, 0xFF7F8000]
    # f16 around 1: ties at half an ulp (2^-11).
    v += [one + 0x1000, one + 0x3000, one + 0x0FFF, one + 0x1001]
    ldexp = np.ldexp
    special = [
        65504.0, 65505.0, 65519.0, 65519.996, 65520.0, 65536.0, -65520.0, 1e10,
        ldexp(1.0, -14), ldexp(1.0, -14) - ldexp(1.0, -25), ldexp(1.0, -14) - ldexp(1.0, -24),
        ldexp(1.0, -24), ldexp(1.0, -25), ldexp(1.5, -25), ldexp(1.0, -25) * 1.0000001,
        ldexp(1.5, -24), ldexp(2.5, -24), ldexp(3.5, -24), ldexp(1023.5, -24),
        ldexp(1.0, -26), -ldexp(1.0, -25), -ldexp(1.5, -24), 6.1e-5, 5.96e-8, 1e-8,
        3.14159265, -2.71828, 0.1, 1.0 / 3.0,
    ]
    v += [int(x) for x in np.array(special, dtype=np.float32).view(np.uint32)]

    rng = np.random.default_rng(5)
    # Random bit patterns over the whole float32 range.
    v += [int(x) for x in rng.integers(0, 2**32, size=1500, dtype=np.uint64)]
    # Random values in and around the f16 range, exponents -27..16.
    exps = rng.integers(-27 + 127, 17 + 127, size=1500, dtype=np.uint64)
    mants = rng.integers(0, 2**23, size=1500, dtype=np.uint64)
    signs = rng.integers(0, 2, size=1500, dtype=np.uint64) << 31
    v += [int(x) for x in signs | exps << 23 | mants]
    # Exact midpoints between neighbouring 16-bit values (the ties).
    bf = rng.integers(0, 0x7F80, size=300, dtype=np.uint64)
    v += [int(x) << 16 | 0x8000 for x in bf]
    h = np.arange(0, 0x7C00, dtype=np.uint16)
    rng.shuffle(h)
    lo = torch.from_numpy(h[:300].astype(np.int16)).view(torch.float16).to(torch.float32)
    hi = torch.from_numpy((h[:300] + 1).astype(np.int16)).view(torch.float16).to(torch.float32)
    mid = ((lo.double() + hi.double()) / 2).float()  # exact in float32
    v += bits(mid)
    v += [x | 0x80000000 for x in bits(mid[:100])]
    return v


def convert():
    x = f32(conversion_inputs())
    b = x.to(torch.bfloat16)
    h = x.to(torch.float16)
    tensors = {
        "input": x,
        "bf16": b,
        "f16": h,
        "bf16_f32": b.to(torch.float32),
        "f16_f32": h.to(torch.float32),
    }
    with open("convert.safetensors", "wb") as f:
        f.write(serialize(tensors, {"generator": "gen_golden.py", "torch": torch.__version__}))


def empty():
    with open("empty.safetensors", "wb") as f:
        f.write(serialize({}))


if __name__ == "__main__":
    mixed()
    convert()
    empty()
