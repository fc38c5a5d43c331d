#!/usr/bin/python3
"""Generate tensor/testdata/golden.json: PyTorch reference values for every
differentiable op of kiln's tensor package, read by tensor/golden_test.go.

Run from the repository root with Debian's torch (apt-get install python3-torch):

    /usr/bin/python3 tensor/testdata/gen_golden.py

How the references are made. Every input is drawn in float32 (torch's CPU
generator, fixed seed) and stored exactly (9 significant digits round-trip a
float32). The reference is then computed in float64 from those float32
values, so it is the true answer for kiln's inputs, not torch's float32
rounding of it; the Go test's tolerances cover kiln's float32 arithmetic only.
The backward seed is a fixed random tensor R of the output's shape, stored in
the file: gradients are those of loss = (out * R).sum(), so they are not
trivial sums of ones. Scalar parameters (Pow exponents, Clamp bounds, eps,
attention scale) are float32-representable or rounded to float32 first, as
kiln receives them as float32.

A case may name views (transpose, permute, slice, expand) that both sides apply to
the stored leaf before the op, so the op sees a non-contiguous input while
the gradient is taken with respect to the stored leaf.

Dropout is not here: kiln draws its mask from its own RNG, which torch cannot
reproduce; golden_test.go checks it against its own mask instead.
"""

import json
import math
import os
import struct

import torch
import torch.nn.functional as F

torch.manual_seed(0)
GEN = torch.Generator().manual_seed(20261126)


def f32(v):
    """Round a Python float to the nearest float32."""
    return struct.unpack("f", struct.pack("f", v))[0]


def randn(*shape, lo=None, hi=None):
    if lo is not None:
        return torch.rand(shape, generator=GEN, dtype=torch.float32) * (hi - lo) + lo
    return torch.randn(shape, generator=GEN, dtype=torch.float32)


def away_from(x, points, gap=0.1, near=0.06):
    """Move values within `near` of any point to `gap` away from it (same side)."""
    x = x.clone()
    for p in points:
        d = x - p
        close = d.abs() < near
        x[close] = p + torch.where(d[close] >= 0, torch.tensor(gap), torch.tensor(-gap))
    return x.float()


def inp(name, x, grad=True, view=None):
    """An input: float32 leaf values, whether it gets a gradient, and views."""
    return {"name": name, "x": x.float(), "grad": grad, "view": view or []}


def apply_view(t, view):
    for v in view:
        op, a = v["op"], v["args"]
        if op == "transpose":
            t = t.transpose(a[0], a[1])
        elif op == "permute":
            t = t.permute(*a)
        elif op == "expand":
            t = t.expand(*a)
        elif op == "slice":
            dim, start, end = a
            t = t.narrow(dim, start, end - start)
        else:
            raise ValueError(op)
    return t


def T(d0, d1):
    return [{"op": "transpose", "args": [d0, d1]}]


def S(dim, start, end):
    return [{"op": "slice", "args": [dim, start, end]}]


def E(*shape):
    return [{"op": "expand", "args": list(shape)}]


def P(*perm):
    return [{"op": "permute", "args": list(perm)}]


# ---- the ops, in float64, with kiln's semantics ----


def sdpa(q, k, v, p):
    Tq, D = q.shape[-2], q.shape[-1]
    Sk = k.shape[-2]
    scale = p.get("scale", 0.0)
    scale = f32(scale) if scale else 1 / math.sqrt(D)
    scores = q @ k.transpose(-2, -1) * scale
    mask = torch.zeros(scores.shape, dtype=torch.bool)
    if p.get("causal"):
        i = torch.arange(Tq).view(-1, 1)
        j = torch.arange(Sk).view(1, -1)
        mask = mask | (j > i + (Sk - Tq))
    if p.get("key_padding") is not None:
        kp = torch.tensor(p["key_padding"]).view(q.shape[0], *([1] * (q.dim() - 3)), 1, Sk)
        mask = mask | kp
    assert not mask.all(-1).any(), "a query with every key masked"
    scores = scores.masked_fill(mask, float("-inf"))
    return scores.softmax(-1) @ v


def rope(x, p):
    Tq, D = x.shape[-2], x.shape[-1]
    half = D // 2
    pos = torch.tensor(p["pos"], dtype=torch.float64)
    inv = torch.tensor([p["base"] ** (-2 * i / D) for i in range(half)], dtype=torch.float64)
    ang = pos.view(-1, 1) * inv.view(1, -1)  # [len(pos), half]
    ang = torch.cat([ang, ang], -1)
    if len(p["pos"]) == Tq:
        cos, sin = ang.cos(), ang.sin()
    else:  # one row of positions per item of the first dim
        shape = [x.shape[0]] + [1] * (x.dim() - 3) + [Tq, D]
        cos, sin = ang.cos().view(shape), ang.sin().view(shape)
    x1, x2 = x[..., :half], x[..., half:]
    return x * cos + torch.cat([-x2, x1], -1) * sin


def cross_entropy(x, p):
    C = x.shape[-1]
    red = p["reduction"]
    y = torch.tensor(p["targets"])
    out = F.cross_entropy(x.reshape(-1, C), y, ignore_index=p["ignore_index"], reduction=red)
    if red == "none":
        out = out.reshape(x.shape[:-1])
    return out


def all_axes(x, p):
    return p["axes"] if p["axes"] else list(range(x.dim()))


def layer_norm(x, p):
    rest = iter(x[1:])
    w = next(rest) if p["w"] else None
    b = next(rest) if p["b"] else None
    return F.layer_norm(x[0], (x[0].shape[-1],), w, b, f32(p["eps"]))


def rms_norm(x, w, eps):
    y = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps)
    return y * w if w is not None else y


OPS = {
    "add": lambda x, p: x[0] + x[1],
    "sub": lambda x, p: x[0] - x[1],
    "mul": lambda x, p: x[0] * x[1],
    "div": lambda x, p: x[0] / x[1],
    "neg": lambda x, p: -x[0],
    "add_scalar": lambda x, p: x[0] + f32(p["s"]),
    "sub_scalar": lambda x, p: x[0] - f32(p["s"]),
    "mul_scalar": lambda x, p: x[0] * f32(p["s"]),
    "div_scalar": lambda x, p: x[0] / f32(p["s"]),
    "rsub_scalar": lambda x, p: f32(p["s"]) - x[0],
    "pow": lambda x, p: x[0].pow(f32(p["p"])),
    "exp": lambda x, p: x[0].exp(),
    "log": lambda x, p: x[0].log(),
    "sqrt": lambda x, p: x[0].sqrt(),
    "rsqrt": lambda x, p: x[0].rsqrt(),
    "tanh": lambda x, p: x[0].tanh(),
    "sigmoid": lambda x, p: x[0].sigmoid(),
    "relu": lambda x, p: x[0].relu(),
    "gelu": lambda x, p: F.gelu(x[0]),
    "gelu_tanh": lambda x, p: F.gelu(x[0], approximate="tanh"),
    "silu": lambda x, p: F.silu(x[0]),
    "clamp": lambda x, p: x[0].clamp(f32(p["lo"]), f32(p["hi"])),
    "sum": lambda x, p: x[0].sum(dim=all_axes(x[0], p), keepdim=p["keepdim"]),
    "mean": lambda x, p: x[0].mean(dim=all_axes(x[0], p), keepdim=p["keepdim"]),
    "max": lambda x, p: x[0].amax(dim=all_axes(x[0], p), keepdim=p["keepdim"]),
    "softmax": lambda x, p: x[0].softmax(-1),
    "log_softmax": lambda x, p: x[0].log_softmax(-1),
    "matmul": lambda x, p: x[0] @ x[1],
    "reshape": lambda x, p: x[0].reshape(p["shape"]),
    "transpose": lambda x, p: x[0].transpose(p["d0"], p["d1"]),
    "permute": lambda x, p: x[0].permute(p["perm"]),
    "slice": lambda x, p: x[0][(slice(None),) * (p["dim"] % x[0].dim()) + (slice(p["start"], p["end"]),)],
    "narrow": lambda x, p: x[0].narrow(p["dim"], p["start"], p["length"]),
    "contiguous": lambda x, p: x[0].contiguous(),
    "clone": lambda x, p: x[0].clone(),
    "flatten": lambda x, p: x[0].flatten(),
    "t": lambda x, p: x[0].transpose(-2, -1),
    "mul_self": lambda x, p: x[0] * x[0],
    "concat": lambda x, p: torch.cat(x, p["dim"]),
    "stack": lambda x, p: torch.stack(x, p["dim"]),
    "expand": lambda x, p: x[0].expand(p["shape"]),
    "unsqueeze": lambda x, p: x[0].unsqueeze(p["dim"]),
    "squeeze": lambda x, p: x[0].squeeze(p["dim"]),
    "gather": lambda x, p: x[0].gather(p["dim"], torch.tensor(p["idx"]).view(p["idx_shape"])),
    "index_select": lambda x, p: x[0].index_select(p["dim"], torch.tensor(p["idx"])),
    "embedding": lambda x, p: F.embedding(torch.tensor(p["ids"]).view(p["ids_shape"]), x[0]),
    "where": lambda x, p: torch.where(x[0] != 0, x[1], x[2]),
    "masked_fill": lambda x, p: x[0].masked_fill(x[1] != 0, f32(p["value"])),
    "cross_entropy": lambda x, p: cross_entropy(x[0], p),
    "layer_norm": lambda x, p: layer_norm(x, p),
    "rms_norm": lambda x, p: rms_norm(x[0], x[1] if p.get("w") else None, f32(p["eps"])),
    "sdpa": lambda x, p: sdpa(x[0], x[1], x[2], p),
    "sdpa_self": lambda x, p: sdpa(x[0], x[0], x[0], p),
    "rope": lambda x, p: rope(x[0], p),
}

CASES = []


def case(name, op, inputs, **params):
    assert op in OPS, op
    assert not any(c["name"] == name for c in CASES), name
    leaves, xs = [], []
    for i in inputs:
        leaf = i["x"].double().requires_grad_(i["grad"])
        leaves.append(leaf)
        xs.append(apply_view(leaf, i["view"]))
    out = OPS[op](xs, params)
    assert torch.isfinite(out).all(), name
    r = randn(*out.shape)
    (out * r).sum().backward()
    grads = {}
    for i, leaf in zip(inputs, leaves):
        if i["grad"]:
            grads[i["name"]] = enc64(leaf.grad)
    CASES.append(
        {
            "name": name,
            "op": op,
            "params": params,
            "inputs": [
                {"name": i["name"], "grad": i["grad"], "view": i["view"], **enc32(i["x"])} for i in inputs
            ],
            "output": enc64(out.detach()),
            "seed": enc32(r),
            "grads": grads,
        }
    )


def enc32(t):
    return {"shape": list(t.shape), "data": [float("%.9g" % v) for v in t.float().flatten().tolist()]}


def enc64(t):
    return {"shape": list(t.shape), "data": [float("%.10g" % v) for v in t.double().flatten().tolist()]}


# ---- the cases ----


def binary_cases():
    for op in ["add", "sub", "mul", "div"]:
        den = op == "div"

        def b(*shape):  # divisor values kept away from 0
            return randn(*shape, lo=0.5, hi=2.0) * (torch.randint(0, 2, shape, generator=GEN) * 2 - 1) if den else randn(*shape)

        case(f"{op}/same_3x5", op, [inp("a", randn(3, 5)), inp("b", b(3, 5))])
        case(f"{op}/bcast_2x1x5_3x1", op, [inp("a", randn(2, 1, 5)), inp("b", b(3, 1))])
        case(f"{op}/bcast_4x1_1x6", op, [inp("a", randn(4, 1)), inp("b", b(1, 6))])
        case(f"{op}/bcast_row_2x3x5_5", op, [inp("a", randn(2, 3, 5)), inp("b", b(5))])
        case(f"{op}/scalar_rhs_3x4", op, [inp("a", randn(3, 4)), inp("b", b())])
        case(f"{op}/scalar_lhs_7", op, [inp("a", randn() if not den else randn(lo=0.5, hi=2.0)), inp("b", b(7))])
        case(f"{op}/transposed_lhs_5x3T", op, [inp("a", randn(5, 3), view=T(0, 1)), inp("b", b(3, 5))])
        case(f"{op}/sliced_both", op, [inp("a", randn(4, 6), view=S(1, 1, 5)), inp("b", b(6, 4), view=T(0, 1) + S(1, 2, 6))])
        case(f"{op}/no_grad_rhs_2x3", op, [inp("a", randn(2, 3)), inp("b", b(2, 3), grad=False)])
    case("mul/expanded_operand", "mul", [inp("a", randn(1, 5), view=E(3, 5)), inp("b", randn(3, 5))])
    case("add/size1_1x4x1_3x1x1", "add", [inp("a", randn(1, 4, 1)), inp("b", randn(3, 1, 1))])


def unary_cases():
    case("neg/3x5", "neg", [inp("x", randn(3, 5))])
    case("neg/transposed", "neg", [inp("x", randn(4, 3), view=T(0, 1))])
    for op, s in [("add_scalar", 0.75), ("sub_scalar", -1.25), ("mul_scalar", -2.5), ("div_scalar", 0.3), ("rsub_scalar", 1.5)]:
        case(f"{op}/2x3x5", op, [inp("x", randn(2, 3, 5))], s=s)
        case(f"{op}/transposed", op, [inp("x", randn(5, 3), view=T(0, 1))], s=s)
    for pw in [2.0, 3.0, 0.5, -1.5, 2.7]:
        case(f"pow/p{pw}", "pow", [inp("x", randn(3, 5, lo=0.2, hi=2.5))], p=pw)
    case("pow/sliced", "pow", [inp("x", randn(4, 6, lo=0.2, hi=2.5), view=S(0, 1, 3))], p=1.5)
    pos = dict(lo=0.2, hi=3.0)
    for op, kw in [
        ("exp", {}), ("log", pos), ("sqrt", pos), ("rsqrt", pos), ("tanh", {}), ("sigmoid", {}),
        ("relu", {}), ("gelu", {}), ("gelu_tanh", {}), ("silu", {}),
    ]:
        wide = dict(kw) if kw else {}
        x = randn(3, 5, **wide)
        if not kw:
            x = x * 2.5  # reach the tails of the saturating functions
        if op == "relu":
            x = away_from(x, [0.0])
        case(f"{op}/3x5", op, [inp("x", x)])
        case(f"{op}/7", op, [inp("x", randn(7, **kw))])
        case(f"{op}/transposed_2x3x4", op, [inp("x", randn(2, 4, 3, **kw), view=T(1, 2))])
        case(f"{op}/scalar", op, [inp("x", randn(**kw) if kw else torch.tensor(0.8))])
    for lo, hi in [(-0.5, 0.75), (-1.0, 1.0)]:
        x = away_from(randn(4, 6) * 1.5, [lo, hi])
        case(f"clamp/{lo}_{hi}", "clamp", [inp("x", x)], lo=lo, hi=hi)
    x = away_from(randn(6, 4) * 1.5, [-0.5, 0.75])
    case("clamp/transposed", "clamp", [inp("x", x, view=T(0, 1))], lo=-0.5, hi=0.75)


def reduce_cases():
    ties = torch.tensor([[1.0, 3.0, 3.0, -2.0], [2.0, 2.0, 2.0, 2.0], [0.5, -1.0, 0.25, 0.5]])
    case("max/ties_axis1", "max", [inp("x", ties)], axes=[1], keepdim=False)
    case("max/ties_all", "max", [inp("x", ties * torch.tensor([1.0, 1.0, 0.0, 1.0]).view(1, 4) + 1)], axes=[], keepdim=True)
    for op in ["sum", "mean", "max"]:
        for axes, kd in [([], False), ([], True), ([1], False), ([1], True), ([0, 2], False), ([-1], True), ([2, 0], True)]:
            tag = "all" if not axes else "_".join(str(a) for a in axes)
            case(f"{op}/2x3x5_axes{tag}_keep{int(kd)}", op, [inp("x", randn(2, 3, 5))], axes=axes, keepdim=kd)
        case(f"{op}/7_axis0", op, [inp("x", randn(7))], axes=[0], keepdim=False)
        case(f"{op}/size1_4x1x3_axis1", op, [inp("x", randn(4, 1, 3))], axes=[1], keepdim=False)
        case(f"{op}/transposed_5x3T_axis1", op, [inp("x", randn(5, 3), view=T(0, 1))], axes=[1], keepdim=True)
        case(f"{op}/sliced_axis0", op, [inp("x", randn(6, 4), view=S(0, 1, 5))], axes=[0], keepdim=False)
        case(f"{op}/expanded_3x1_to_3x4_axis0", op, [inp("x", randn(3, 1), view=E(3, 4))], axes=[0], keepdim=False)
        case(f"{op}/long_row_3x40", op, [inp("x", randn(3, 40))], axes=[1], keepdim=False)


def softmax_cases():
    for op in ["softmax", "log_softmax"]:
        case(f"{op}/3x5", op, [inp("x", randn(3, 5) * 2)])
        case(f"{op}/7", op, [inp("x", randn(7) * 3)])
        case(f"{op}/2x3x6", op, [inp("x", randn(2, 3, 6))])
        case(f"{op}/size1_last_4x1", op, [inp("x", randn(4, 1))])
        case(f"{op}/large_offset", op, [inp("x", randn(2, 5) * 4 + 50)])
        case(f"{op}/transposed", op, [inp("x", randn(5, 3), view=T(0, 1))])


def matmul_cases():
    mm = "matmul"
    case("matmul/2d_3x4_4x5", mm, [inp("a", randn(3, 4)), inp("b", randn(4, 5))])
    case("matmul/2d_1x7_7x1", mm, [inp("a", randn(1, 7)), inp("b", randn(7, 1))])
    case("matmul/2d_k33", mm, [inp("a", randn(5, 33)), inp("b", randn(33, 6))])
    case("matmul/batched_2x3x4_2x4x5", mm, [inp("a", randn(2, 3, 4)), inp("b", randn(2, 4, 5))])
    case("matmul/bcast_2x1x3x4_5x4x2", mm, [inp("a", randn(2, 1, 3, 4)), inp("b", randn(5, 4, 2))])
    case("matmul/bcast_3d_2d", mm, [inp("a", randn(2, 3, 4)), inp("b", randn(4, 5))])
    case("matmul/bcast_2d_3d", mm, [inp("a", randn(3, 4)), inp("b", randn(2, 4, 5))])
    case("matmul/vec_mat_4_4x3", mm, [inp("a", randn(4)), inp("b", randn(4, 3))])
    case("matmul/mat_vec_2x3_3", mm, [inp("a", randn(2, 3)), inp("b", randn(3))])
    case("matmul/vec_batched_4_2x4x3", mm, [inp("a", randn(4)), inp("b", randn(2, 4, 3))])
    case("matmul/vec_vec_5_5", mm, [inp("a", randn(5)), inp("b", randn(5))])
    case("matmul/transposed_lhs", mm, [inp("a", randn(4, 3), view=T(0, 1)), inp("b", randn(4, 5))])
    case("matmul/transposed_rhs", mm, [inp("a", randn(3, 4)), inp("b", randn(5, 4), view=T(0, 1))])
    case("matmul/transposed_both_batched", mm, [inp("a", randn(2, 4, 3), view=T(1, 2)), inp("b", randn(2, 5, 4), view=T(1, 2))])
    case("matmul/sliced_lhs", mm, [inp("a", randn(3, 7), view=S(1, 2, 6)), inp("b", randn(4, 2))])
    case("matmul/permuted_batch", mm, [inp("a", randn(3, 2, 4), view=P(1, 0, 2)), inp("b", randn(2, 4, 3))])
    case("matmul/expanded_lhs_cols", mm, [inp("a", randn(3, 1), view=E(3, 4)), inp("b", randn(4, 2))])
    case("matmul/expanded_batch_rhs", mm, [inp("a", randn(2, 3, 4)), inp("b", randn(1, 4, 5), view=E(2, 4, 5))])
    case("matmul/no_grad_rhs", mm, [inp("a", randn(3, 4)), inp("b", randn(4, 2), grad=False)])


def shape_cases():
    case("reshape/3x4_to_2x6", "reshape", [inp("x", randn(3, 4))], shape=[2, 6])
    case("reshape/infer_2x3x4_to_m1x4", "reshape", [inp("x", randn(2, 3, 4))], shape=[-1, 4])
    case("reshape/to_scalar", "reshape", [inp("x", randn(1, 1))], shape=[])
    case("reshape/transposed_copy", "reshape", [inp("x", randn(3, 5), view=T(0, 1))], shape=[15])
    case("transpose/2x3x5_0_2", "transpose", [inp("x", randn(2, 3, 5))], d0=0, d1=2)
    case("transpose/neg_axes", "transpose", [inp("x", randn(3, 4))], d0=-1, d1=-2)
    case("permute/2x3x4_201", "permute", [inp("x", randn(2, 3, 4))], perm=[2, 0, 1])
    case("permute/of_transposed", "permute", [inp("x", randn(4, 3, 2), view=T(0, 2))], perm=[1, 2, 0])
    case("slice/3x7_dim1", "slice", [inp("x", randn(3, 7))], dim=1, start=2, end=5)
    case("slice/negative", "slice", [inp("x", randn(6, 2))], dim=0, start=-4, end=-1)
    case("slice/end_clamped", "slice", [inp("x", randn(2, 5))], dim=-1, start=1, end=99)
    case("narrow/2x3x5_dim2", "narrow", [inp("x", randn(2, 3, 5))], dim=2, start=1, length=3)
    case("narrow/transposed", "narrow", [inp("x", randn(5, 4), view=T(0, 1))], dim=1, start=0, length=2)
    case("concat/dim0_3", "concat", [inp("a", randn(2, 3)), inp("b", randn(1, 3)), inp("c", randn(3, 3))], dim=0)
    case("concat/dim1_transposed", "concat", [inp("a", randn(2, 4)), inp("b", randn(3, 2), view=T(0, 1))], dim=1)
    case("concat/dim_neg1_3d_nograd", "concat", [inp("a", randn(2, 2, 3)), inp("b", randn(2, 2, 1), grad=False)], dim=-1)
    case("stack/dim0", "stack", [inp("a", randn(3, 4)), inp("b", randn(3, 4))], dim=0)
    case("stack/dim_last", "stack", [inp("a", randn(2, 3)), inp("b", randn(2, 3)), inp("c", randn(3, 2), view=T(0, 1))], dim=2)
    case("expand/4x1_to_4x6", "expand", [inp("x", randn(4, 1))], shape=[4, 6])
    case("expand/new_lead_dims", "expand", [inp("x", randn(3))], shape=[2, 4, 3])
    case("expand/2x1x5_to_2x3x5", "expand", [inp("x", randn(2, 1, 5))], shape=[2, 3, 5])
    case("expand/sliced", "expand", [inp("x", randn(1, 6), view=S(1, 1, 4))], shape=[5, 3])
    case("unsqueeze/dim0", "unsqueeze", [inp("x", randn(3, 4))], dim=0)
    case("unsqueeze/dim_end", "unsqueeze", [inp("x", randn(3, 4))], dim=2)
    case("unsqueeze/neg_transposed", "unsqueeze", [inp("x", randn(4, 3), view=T(0, 1))], dim=-2)
    case("squeeze/dim1", "squeeze", [inp("x", randn(3, 1, 4))], dim=1)
    case("contiguous/transposed", "contiguous", [inp("x", randn(3, 5), view=T(0, 1))])
    case("contiguous/already", "contiguous", [inp("x", randn(2, 3))])
    case("clone/sliced", "clone", [inp("x", randn(4, 5), view=S(1, 1, 4))])
    case("flatten/permuted", "flatten", [inp("x", randn(2, 3, 4), view=P(2, 0, 1))])
    case("t/2x3x4", "t", [inp("x", randn(2, 3, 4))])
    case("squeeze/neg", "squeeze", [inp("x", randn(2, 5, 1))], dim=-1)


def index_cases():
    case("gather/dim1_3x5", "gather", [inp("x", randn(3, 5))], dim=1, idx=[0, 4, 4, 2, 1, 1, 3, 0, 2, 2, 2, 0], idx_shape=[3, 4])
    case("gather/dim0_smaller", "gather", [inp("x", randn(4, 3))], dim=0, idx=[3, 0, 1, 3, 3, 2], idx_shape=[2, 3])
    case("gather/dim2_2x3x4", "gather", [inp("x", randn(2, 3, 4))], dim=2,
         idx=[int(v) for v in torch.randint(0, 4, (2 * 2 * 5,), generator=GEN)], idx_shape=[2, 2, 5])
    case("gather/transposed", "gather", [inp("x", randn(5, 3), view=T(0, 1))], dim=-1, idx=[1, 1, 4, 0, 3, 3], idx_shape=[3, 2])
    case("index_select/dim0", "index_select", [inp("x", randn(5, 3))], dim=0, idx=[4, 0, 4, 2])
    case("index_select/dim1_3d", "index_select", [inp("x", randn(2, 4, 3))], dim=1, idx=[3, 3, 1])
    case("index_select/last_transposed", "index_select", [inp("x", randn(6, 2), view=T(0, 1))], dim=-1, idx=[5, 0, 2, 0, 0])
    case("embedding/ids_2x4", "embedding", [inp("w", randn(6, 5))], ids=[1, 3, 1, 0, 5, 3, 3, 1], ids_shape=[2, 4])
    case("embedding/ids_7", "embedding", [inp("w", randn(4, 3))], ids=[2, 2, 2, 0, 3, 2, 0], ids_shape=[7])
    case("embedding/ids_scalar_grid_1x1", "embedding", [inp("w", randn(3, 4))], ids=[1], ids_shape=[1, 1])
    m = lambda *s: (torch.rand(s, generator=GEN) < 0.5).float()
    case("where/same_3x4", "where", [inp("c", m(3, 4), grad=False), inp("a", randn(3, 4)), inp("b", randn(3, 4))])
    case("where/bcast_cond_4x1", "where", [inp("c", m(4, 1), grad=False), inp("a", randn(4, 5)), inp("b", randn(5))])
    case("where/bcast_all", "where", [inp("c", m(2, 1, 3), grad=False), inp("a", randn(4, 1)), inp("b", randn(1, 4, 3))])
    case("where/scalar_b", "where", [inp("c", m(3, 3), grad=False), inp("a", randn(3, 3), view=T(0, 1)), inp("b", randn())])
    case("masked_fill/same_3x5", "masked_fill", [inp("x", randn(3, 5)), inp("m", m(3, 5), grad=False)], value=-2.5)
    case("masked_fill/bcast_mask_1x5", "masked_fill", [inp("x", randn(4, 5)), inp("m", m(1, 5), grad=False)], value=0.0)
    case("masked_fill/transposed", "masked_fill", [inp("x", randn(5, 2, 3), view=T(0, 2)), inp("m", m(3, 1, 1), grad=False)], value=7.0)


def loss_cases():
    for red in ["mean", "sum", "none"]:
        case(f"cross_entropy/4x5_{red}", "cross_entropy", [inp("x", randn(4, 5) * 2)], targets=[1, 4, 0, 4], ignore_index=-100, reduction=red)
        case(f"cross_entropy/ignored_6x3_{red}", "cross_entropy", [inp("x", randn(6, 3))], targets=[2, -100, 0, -100, 1, 2], ignore_index=-100, reduction=red)
        case(f"cross_entropy/3d_ignore2_{red}", "cross_entropy", [inp("x", randn(2, 3, 7))], targets=[2, 6, 0, 2, 5, 2], ignore_index=2, reduction=red)
    case("cross_entropy/transposed_mean", "cross_entropy", [inp("x", randn(5, 3), view=T(0, 1))], targets=[4, 0, 2], ignore_index=-1, reduction="mean")
    case("cross_entropy/one_row_sum", "cross_entropy", [inp("x", randn(9) * 3)], targets=[8], ignore_index=-100, reduction="sum")


def norm_cases():
    eps = 1e-5
    for tag, x in [("3x8", randn(3, 8)), ("2x3x5", randn(2, 3, 5) * 3 + 1), ("7", randn(7))]:
        n = x.shape[-1]
        w, b = randn(n) + 1, randn(n) * 0.5
        case(f"layer_norm/affine_{tag}", "layer_norm", [inp("x", x), inp("w", w), inp("b", b)], w=True, b=True, eps=eps)
        case(f"layer_norm/plain_{tag}", "layer_norm", [inp("x", x)], w=False, b=False, eps=eps)
        case(f"rms_norm/affine_{tag}", "rms_norm", [inp("x", x), inp("w", w)], w=True, eps=eps)
        case(f"rms_norm/plain_{tag}", "rms_norm", [inp("x", x)], w=False, eps=eps)
    case("layer_norm/weight_only_big_eps", "layer_norm", [inp("x", randn(4, 6) * 0.1), inp("w", randn(6))], w=True, b=False, eps=0.01)
    case("layer_norm/transposed", "layer_norm", [inp("x", randn(6, 4), view=T(0, 1)), inp("w", randn(6)), inp("b", randn(6))], w=True, b=True, eps=eps)
    case("rms_norm/transposed_big_eps", "rms_norm", [inp("x", randn(6, 4), view=T(0, 1)), inp("w", randn(6))], w=True, eps=0.1)


def attention_cases():
    a = "sdpa"
    case("sdpa/plain_2x2x3x4", a, [inp("q", randn(2, 2, 3, 4)), inp("k", randn(2, 2, 3, 4)), inp("v", randn(2, 2, 3, 4))])
    case("sdpa/causal_square", a, [inp("q", randn(1, 2, 5, 4)), inp("k", randn(1, 2, 5, 4)), inp("v", randn(1, 2, 5, 3))], causal=True)
    case("sdpa/T_ne_S_dv", a, [inp("q", randn(2, 1, 3, 4)), inp("k", randn(2, 1, 6, 4)), inp("v", randn(2, 1, 6, 5))])
    case("sdpa/causal_kvcache_T2_S5", a, [inp("q", randn(2, 2, 2, 4)), inp("k", randn(2, 2, 5, 4)), inp("v", randn(2, 2, 5, 4))], causal=True)
    kp = [False, False, False, True, True, False, False, False, False, True]
    case("sdpa/padding", a, [inp("q", randn(2, 2, 4, 3)), inp("k", randn(2, 2, 5, 3)), inp("v", randn(2, 2, 5, 3))], key_padding=kp)
    kp = [False, False, False, False, True, True, False, False, False, False, False, True]
    case("sdpa/causal_padding", a, [inp("q", randn(2, 3, 6, 4)), inp("k", randn(2, 3, 6, 4)), inp("v", randn(2, 3, 6, 4))], causal=True, key_padding=kp)
    case("sdpa/scale_3d", a, [inp("q", randn(3, 4, 5)), inp("k", randn(3, 2, 5)), inp("v", randn(3, 2, 2))], scale=0.3)
    case("sdpa/2d_causal", a, [inp("q", randn(4, 8)), inp("k", randn(4, 8)), inp("v", randn(4, 8))], causal=True)
    case("sdpa/transposed_heads", a, [inp("q", randn(2, 3, 2, 4), view=T(1, 2)), inp("k", randn(2, 3, 2, 4), view=T(1, 2)), inp("v", randn(2, 3, 2, 4), view=T(1, 2))], causal=True)
    case("sdpa/no_grad_k", a, [inp("q", randn(1, 3, 4)), inp("k", randn(1, 5, 4), grad=False), inp("v", randn(1, 5, 2))])


def self_cases():
    case("mul_self/3x4", "mul_self", [inp("x", randn(3, 4))])
    case("mul_self/transposed", "mul_self", [inp("x", randn(4, 3), view=T(0, 1))])
    case("sdpa_self/causal_2x5x4", "sdpa_self", [inp("x", randn(2, 5, 4))], causal=True)


def rope_cases():
    case("rope/2x3x5x8_pos_T", "rope", [inp("x", randn(2, 3, 5, 8))], pos=[0, 1, 2, 3, 4], base=10000.0)
    case("rope/per_batch_pos", "rope", [inp("x", randn(2, 2, 3, 4))], pos=[0, 1, 2, 7, 8, 9], base=10000.0)
    case("rope/2d_offset_pos", "rope", [inp("x", randn(4, 6))], pos=[5, 6, 7, 8], base=500.0)
    case("rope/3d_per_first_dim", "rope", [inp("x", randn(3, 2, 4))], pos=[0, 1, 3, 4, 100, 101], base=10000.0)
    case("rope/transposed", "rope", [inp("x", randn(2, 3, 2, 6), view=T(1, 2))], pos=[2, 3, 4], base=10000.0)


def main():
    binary_cases()
    unary_cases()
    reduce_cases()
    softmax_cases()
    matmul_cases()
    shape_cases()
    index_cases()
    loss_cases()
    norm_cases()
    attention_cases()
    rope_cases()
    self_cases()
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden.json")
    with open(path, "w") as f:
        f.write('{"generator":"tensor/testdata/gen_golden.py","torch":%s,"cases":[\n' % json.dumps(torch.__version__))
        f.write(",\n".join(json.dumps(c, separators=(",", ":")) for c in CASES))
        f.write("\n]}\n")
    print(f"wrote {len(CASES)} cases to {path} ({os.path.getsize(path)} bytes)")


if __name__ == "__main__":
    main()
