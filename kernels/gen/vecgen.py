#!/usr/bin/env python3
"""Generates ../vec_amd64.s: the AVX-512 (zmm) and AVX2+FMA (ymm) vector
kernels. Each kernel processes n elements, n a multiple of the vector width
(16 or 8); the Go wrappers in vec_amd64.go run the scalar tail with the
reference code. Constants live in a read-only table of 64-byte rows (one
broadcast value each) used as memory operands. Run: python3 vecgen.py"""
import math, struct

CONSTS = []  # (name, float or int bits)
def const(name, val, isint=False):
    for i, (n, _, _) in enumerate(CONSTS):
        if n == name:
            return i
    CONSTS.append((name, val, isint))
    return len(CONSTS) - 1

def C(name):
    i = [n for n, _, _ in CONSTS].index(name)
    return "veccon<>+%d(SB)" % (64 * i)

const("log2e", 1.4426950408889634)
const("ln2hi", 0.693359375)
const("ln2lo", -2.12194440e-4)
const("explo", -104.0)
const("exphi", 89.0)
for k in range(8):
    const("c%d" % k, 1.0 / math.factorial(k))
const("bias", 127, True)
const("one", 1.0)
const("neginf", float("-inf"))
const("half", 0.5)
const("gelu_c", 0.044715)
const("sqrt2pi", 0.79788456080286535588)
const("gelu_c3", 3 * 0.044715)
const("two", 2.0)
const("m2sqrt2pi", -2 * 0.79788456080286535588)
const("absmask", 0x7fffffff, True)
const("invsqrt2", 0.70710678118654752440)
const("invsqrt2pi", 0.39894228040143267794)
const("zero", 0.0)
const("m20", -20.0)
const("p20", 20.0)
# erfc(z) ~ t*exp(-z*z + P(t)), t = 1/(1+z/2), z >= 0: the Chebyshev fit of
# Numerical Recipes (erfcc), fractional error < 1.2e-7 in exact arithmetic.
ERFC = [-1.26551223, 1.00002368, 0.37409196, 0.09678418, -0.18628806,
        0.27886807, -1.13520398, 1.48851587, -0.82215223, 0.17087277]
for i, c in enumerate(ERFC):
    const("erfc%d" % i, c)

out = []
def w(s=""):
    out.append(s)

class V:
    def __init__(self, wide):
        self.wide = wide
        self.r = "Z" if wide else "Y"
        self.W = 16 if wide else 8
        self.B = 64 if wide else 32
        self.sfx = "AVX512" if wide else "AVX2"
    def __call__(self, i):
        return "%s%d" % (self.r, i)
    def bcast(self, arg, reg):
        w("\tVBROADCASTSS %s, %s" % (arg, reg))
    def zero(self, reg):
        w("\tVXORPS %s, %s, %s" % (reg, reg, reg))

def exp_body(v, x, p, n, t):
    """p = exp(x); clobbers n, t. x kept."""
    w("\tVMAXPS %s, %s, %s" % (C("explo"), x, t))
    w("\tVMINPS %s, %s, %s" % (C("exphi"), t, t))
    w("\tVMULPS %s, %s, %s" % (C("log2e"), t, n))
    if v.wide:
        w("\tVRNDSCALEPS $0, %s, %s" % (n, n))
    else:
        w("\tVROUNDPS $0, %s, %s" % (n, n))
    w("\tVFNMADD231PS %s, %s, %s" % (C("ln2hi"), n, t))
    w("\tVFNMADD231PS %s, %s, %s" % (C("ln2lo"), n, t))
    w("\tVMOVUPS %s, %s" % (C("c7"), p))
    for k in range(6, -1, -1):
        w("\tVFMADD213PS %s, %s, %s" % (C("c%d" % k), t, p))
    if v.wide:
        w("\tVSCALEFPS %s, %s, %s" % (n, p, p))
        w("\tVCMPPS $3, %s, %s, K2" % (x, x))
        w("\tVMOVAPS %s, K2, %s" % (x, p))
    else:
        # 2^n as 2^(n>>1) * 2^(n-(n>>1)): both factors are normal floats for
        # n in [-150, 128], so denormal results round once.
        w("\tVCVTPS2DQ %s, %s" % (n, n))
        w("\tVPSRAD $1, %s, %s" % (n, t))
        w("\tVPSUBD %s, %s, %s" % (t, n, n))
        for r in (t, n):
            w("\tVPADDD %s, %s, %s" % (C("bias"), r, r))
            w("\tVPSLLD $23, %s, %s" % (r, r))
            w("\tVMULPS %s, %s, %s" % (r, p, p))
        w("\tVCMPPS $3, %s, %s, %s" % (x, x, t))
        w("\tVBLENDVPS %s, %s, %s, %s" % (t, x, p, p))

def loop(v, name, count, body, ptrs, unroll=1):
    """count register holds n; body(u) emits one vector's work for unroll slot u."""
    if unroll == 2:
        w("\tCMPQ %s, $%d" % (count, 2 * v.W))
        w("\tJLT %s_one" % name)
        w("%s_two:" % name)
        body(0, 0)
        body(1, v.B)
        for p in ptrs:
            w("\tADDQ $%d, %s" % (2 * v.B, p))
        w("\tSUBQ $%d, %s" % (2 * v.W, count))
        w("\tCMPQ %s, $%d" % (count, 2 * v.W))
        w("\tJGE %s_two" % name)
        w("%s_one:" % name)
    w("\tTESTQ %s, %s" % (count, count))
    w("\tJZ %s_done" % name)
    w("%s_loop:" % name)
    body(0, 0)
    for p in ptrs:
        w("\tADDQ $%d, %s" % (v.B, p))
    w("\tSUBQ $%d, %s" % (v.W, count))
    w("\tJNZ %s_loop" % name)
    w("%s_done:" % name)

def fn(v, base, args, frame):
    name = base + v.sfx
    w()
    w("// func %s(%s)" % (name, args))
    w("TEXT ·%s(SB), NOSPLIT, $0-%d" % (name, frame))
    return name

def ret(v):
    w("\tVZEROUPPER")
    w("\tRET")

def gen(v):
    # axpy: y += alpha*x
    nm = fn(v, "axpy", "alpha float32, x, y *float32, n int", 32)
    v.bcast("alpha+0(FP)", v(15))
    w("\tMOVQ x+8(FP), SI"); w("\tMOVQ y+16(FP), DI"); w("\tMOVQ n+24(FP), CX")
    def b(u, off):
        w("\tVMOVUPS %d(DI), %s" % (off, v(u)))
        w("\tVFMADD231PS %d(SI), %s, %s" % (off, v(15), v(u)))
        w("\tVMOVUPS %s, %d(DI)" % (v(u), off))
    loop(v, nm, "CX", b, ["SI", "DI"], 2)
    ret(v)

    # dot: lanes of sum x*y into out[0:W]
    nm = fn(v, "dot", "x, y *float32, n int, out *float32", 32)
    w("\tMOVQ x+0(FP), SI"); w("\tMOVQ y+8(FP), DI"); w("\tMOVQ n+16(FP), CX")
    for i in range(4):
        v.zero(v(i))
    def b(u, off):
        w("\tVMOVUPS %d(SI), %s" % (off, v(4 + u)))
        w("\tVFMADD231PS %d(DI), %s, %s" % (off, v(4 + u), v(u)))
    loop(v, nm, "CX", b, ["SI", "DI"], 2)
    w("\tVADDPS %s, %s, %s" % (v(1), v(0), v(0)))
    w("\tMOVQ out+24(FP), DX"); w("\tVMOVUPS %s, (DX)" % v(0))
    ret(v)

    # sum: lanes into out
    nm = fn(v, "sum", "x *float32, n int, out *float32", 24)
    w("\tMOVQ x+0(FP), SI"); w("\tMOVQ n+8(FP), CX")
    for i in range(2):
        v.zero(v(i))
    def b(u, off):
        w("\tVADDPS %d(SI), %s, %s" % (off, v(u), v(u)))
    loop(v, nm, "CX", b, ["SI"], 2)
    w("\tVADDPS %s, %s, %s" % (v(1), v(0), v(0)))
    w("\tMOVQ out+16(FP), DX"); w("\tVMOVUPS %s, (DX)" % v(0))
    ret(v)

    # max: lanes into out; nan lanes all-ones (a NaN) where some x was NaN,
    # zero elsewhere. Infinities order like any value (a masked -Inf score
    # must not send the row to the scalar reference), so only NaN is flagged:
    # an unordered self-compare, ORed up (a mask register on AVX-512).
    nm = fn(v, "max", "x *float32, n int, out, nan *float32", 32)
    w("\tMOVQ x+0(FP), SI"); w("\tMOVQ n+8(FP), CX")
    w("\tVMOVUPS %s, %s" % (C("neginf"), v(0)))
    w("\tVMOVUPS %s, %s" % (C("neginf"), v(1)))
    if v.wide:
        w("\tKXORW K3, K3, K3")
    else:
        v.zero(v(2)); v.zero(v(3))
    def b(u, off):
        w("\tVMOVUPS %d(SI), %s" % (off, v(4 + u)))
        w("\tVMAXPS %s, %s, %s" % (v(4 + u), v(u), v(u)))
        if v.wide:
            w("\tVCMPPS $3, %s, %s, K%d" % (v(4 + u), v(4 + u), 1 + u))
            w("\tKORW K%d, K3, K3" % (1 + u))
        else:
            w("\tVCMPPS $3, %s, %s, %s" % (v(4 + u), v(4 + u), v(6 + u)))
            w("\tVORPS %s, %s, %s" % (v(6 + u), v(2 + u), v(2 + u)))
    loop(v, nm, "CX", b, ["SI"], 2)
    w("\tVMAXPS %s, %s, %s" % (v(1), v(0), v(0)))
    if v.wide:
        w("\tVPMOVM2D K3, %s" % v(2))
    else:
        w("\tVORPS %s, %s, %s" % (v(3), v(2), v(2)))
    w("\tMOVQ out+16(FP), DX"); w("\tVMOVUPS %s, (DX)" % v(0))
    w("\tMOVQ nan+24(FP), DX"); w("\tVMOVUPS %s, (DX)" % v(2))
    ret(v)

    # scal: dst = a*s ; adds: dst = a+s
    for base, op in (("scal", "VMULPS"), ("adds", "VADDPS")):
        nm = fn(v, base, "dst, a *float32, s float32, n int", 32)
        w("\tMOVQ dst+0(FP), DI"); w("\tMOVQ a+8(FP), SI"); v.bcast("s+16(FP)", v(15)); w("\tMOVQ n+24(FP), CX")
        def b(u, off, op=op):
            w("\t%s %d(SI), %s, %s" % (op, off, v(15), v(u)))
            w("\tVMOVUPS %s, %d(DI)" % (v(u), off))
        loop(v, nm, "CX", b, ["SI", "DI"], 2)
        ret(v)

    # binary: dst = a op b
    for base, op in (("add", "VADDPS"), ("sub", "VSUBPS"), ("mul", "VMULPS"), ("div", "VDIVPS")):
        nm = fn(v, base, "dst, a, b *float32, n int", 32)
        w("\tMOVQ dst+0(FP), DI"); w("\tMOVQ a+8(FP), SI"); w("\tMOVQ b+16(FP), DX"); w("\tMOVQ n+24(FP), CX")
        def b(u, off, op=op):
            w("\tVMOVUPS %d(SI), %s" % (off, v(u)))
            w("\t%s %d(DX), %s, %s" % (op, off, v(u), v(u)))
            w("\tVMOVUPS %s, %d(DI)" % (v(u), off))
        loop(v, nm, "CX", b, ["SI", "DX", "DI"], 2)
        ret(v)

    # smul: dst = (a + s) * b
    nm = fn(v, "smul", "dst, a, b *float32, s float32, n int", 40)
    w("\tMOVQ dst+0(FP), DI"); w("\tMOVQ a+8(FP), SI"); w("\tMOVQ b+16(FP), DX"); v.bcast("s+24(FP)", v(15)); w("\tMOVQ n+32(FP), CX")
    def b(u, off):
        w("\tVADDPS %d(SI), %s, %s" % (off, v(15), v(u)))
        w("\tVMULPS %d(DX), %s, %s" % (off, v(u), v(u)))
        w("\tVMOVUPS %s, %d(DI)" % (v(u), off))
    loop(v, nm, "CX", b, ["SI", "DX", "DI"], 2)
    ret(v)

    # exp: dst = exp(src)
    nm = fn(v, "exp", "dst, src *float32, n int", 24)
    w("\tMOVQ dst+0(FP), DI"); w("\tMOVQ src+8(FP), SI"); w("\tMOVQ n+16(FP), CX")
    def b(u, off):
        x, p, n_, t = v(4 * u), v(4 * u + 1), v(4 * u + 2), v(4 * u + 3)
        w("\tVMOVUPS %d(SI), %s" % (off, x))
        exp_body(v, x, p, n_, t)
        w("\tVMOVUPS %s, %d(DI)" % (p, off))
    loop(v, nm, "CX", b, ["SI", "DI"], 2)
    ret(v)

    # expsub: dst = exp(src - m), lanes of the sum into out
    nm = fn(v, "expsub", "dst, src *float32, m float32, n int, out *float32", 40)
    w("\tMOVQ dst+0(FP), DI"); w("\tMOVQ src+8(FP), SI"); v.bcast("m+16(FP)", v(15)); w("\tMOVQ n+24(FP), CX")
    v.zero(v(12)); v.zero(v(13))
    def b(u, off):
        x, p, n_, t = v(4 * u), v(4 * u + 1), v(4 * u + 2), v(4 * u + 3)
        w("\tVMOVUPS %d(SI), %s" % (off, x))
        w("\tVSUBPS %s, %s, %s" % (v(15), x, x))
        exp_body(v, x, p, n_, t)
        w("\tVMOVUPS %s, %d(DI)" % (p, off))
        w("\tVADDPS %s, %s, %s" % (p, v(12 + u), v(12 + u)))
    loop(v, nm, "CX", b, ["SI", "DI"], 2)
    w("\tVADDPS %s, %s, %s" % (v(13), v(12), v(12)))
    w("\tMOVQ out+32(FP), DX"); w("\tVMOVUPS %s, (DX)" % v(12))
    ret(v)

    # silu: dst = x / (1 + exp(-x))
    nm = fn(v, "silu", "dst, x *float32, n int", 24)
    w("\tMOVQ dst+0(FP), DI"); w("\tMOVQ x+8(FP), SI"); w("\tMOVQ n+16(FP), CX")
    v.zero(v(15))
    def b(u, off):
        x, p, n_, t, y = v(5 * u), v(5 * u + 1), v(5 * u + 2), v(5 * u + 3), v(5 * u + 4)
        w("\tVMOVUPS %d(SI), %s" % (off, y))
        w("\tVSUBPS %s, %s, %s" % (y, v(15), x))
        exp_body(v, x, p, n_, t)
        w("\tVADDPS %s, %s, %s" % (C("one"), p, p))
        w("\tVDIVPS %s, %s, %s" % (p, y, y))
        w("\tVMOVUPS %s, %d(DI)" % (y, off))
    loop(v, nm, "CX", b, ["SI", "DI"], 2)
    ret(v)

    # silub: dx = dy * s * (1 + x*(1-s)), s = 1/(1+exp(-x))
    nm = fn(v, "silub", "dx, x, dy *float32, n int", 32)
    w("\tMOVQ dx+0(FP), DI"); w("\tMOVQ x+8(FP), SI"); w("\tMOVQ dy+16(FP), DX"); w("\tMOVQ n+24(FP), CX")
    v.zero(v(15))
    def b(u, off):
        x, p, n_, t, y = v(5 * u), v(5 * u + 1), v(5 * u + 2), v(5 * u + 3), v(5 * u + 4)
        w("\tVMOVUPS %d(SI), %s" % (off, y))
        w("\tVSUBPS %s, %s, %s" % (y, v(15), x))
        exp_body(v, x, p, n_, t)
        w("\tVADDPS %s, %s, %s" % (C("one"), p, p))
        w("\tVMOVUPS %s, %s" % (C("one"), t))
        w("\tVDIVPS %s, %s, %s" % (p, t, p))          # p = s
        w("\tVSUBPS %s, %s, %s" % (p, t, t))          # t = 1-s
        w("\tVFMADD213PS %s, %s, %s" % (C("one"), y, t))  # t = x*(1-s) + 1
        w("\tVMULPS %s, %s, %s" % (p, t, t))
        w("\tVMULPS %d(DX), %s, %s" % (off, t, t))
        w("\tVMOVUPS %s, %d(DI)" % (t, off))
    loop(v, nm, "CX", b, ["SI", "DX", "DI"], 2)
    ret(v)

    # gelut: tanh-form gelu, 0.5*x*(1+tanh u) = x / (1 + exp(-2u)),
    # u = sqrt(2/pi)*(x + c*x^3): no cancellation for negative x.
    def minus2u(x, y):
        w("\tVMULPS %s, %s, %s" % (y, y, x))                 # x^2
        w("\tVMULPS %s, %s, %s" % (C("gelu_c"), x, x))       # c x^2
        w("\tVFMADD213PS %s, %s, %s" % (y, y, x))            # c x^3 + x
        w("\tVMULPS %s, %s, %s" % (C("m2sqrt2pi"), x, x))    # -2u
    nm = fn(v, "gelut", "dst, x *float32, n int", 24)
    w("\tMOVQ dst+0(FP), DI"); w("\tMOVQ x+8(FP), SI"); w("\tMOVQ n+16(FP), CX")
    def b(u, off):
        x, p, n_, t, y = v(5 * u), v(5 * u + 1), v(5 * u + 2), v(5 * u + 3), v(5 * u + 4)
        w("\tVMOVUPS %d(SI), %s" % (off, y))
        minus2u(x, y)
        exp_body(v, x, p, n_, t)
        w("\tVADDPS %s, %s, %s" % (C("one"), p, p))
        w("\tVDIVPS %s, %s, %s" % (p, y, y))
        w("\tVMOVUPS %s, %d(DI)" % (y, off))
    loop(v, nm, "CX", b, ["SI", "DI"], 2)
    ret(v)

    # gelutb: with s = 1/(1+exp(-2u)) = (1+tanh u)/2 and 1-tanh^2 = 4 s (1-s):
    # d = s + 2 x s (1-s) sqrt(2/pi) (1 + 3c x^2)
    nm = fn(v, "gelutb", "dx, x, dy *float32, n int", 32)
    w("\tMOVQ dx+0(FP), DI"); w("\tMOVQ x+8(FP), SI"); w("\tMOVQ dy+16(FP), DX"); w("\tMOVQ n+24(FP), CX")
    def b(u, off):
        x, p, n_, t, y = v(5 * u), v(5 * u + 1), v(5 * u + 2), v(5 * u + 3), v(5 * u + 4)
        w("\tVMOVUPS %d(SI), %s" % (off, y))
        minus2u(x, y)
        exp_body(v, x, p, n_, t)
        w("\tVADDPS %s, %s, %s" % (C("one"), p, p))
        w("\tVMOVUPS %s, %s" % (C("one"), t))
        w("\tVDIVPS %s, %s, %s" % (p, t, p))                 # s
        w("\tVSUBPS %s, %s, %s" % (p, t, t))                 # 1-s
        w("\tVMULPS %s, %s, %s" % (p, t, t))                 # s(1-s)
        # x clamped to [-20, 20] below: beyond, s(1-s) is 0 and x^2 must not
        # overflow into Inf*0.
        w("\tVMAXPS %s, %s, %s" % (C("m20"), y, n_))
        w("\tVMINPS %s, %s, %s" % (C("p20"), n_, n_))
        w("\tVMULPS %s, %s, %s" % (n_, n_, x))               # x^2
        w("\tVMULPS %s, %s, %s" % (C("gelu_c3"), x, x))
        w("\tVADDPS %s, %s, %s" % (C("one"), x, x))          # 1 + 3c x^2
        w("\tVMULPS %s, %s, %s" % (C("sqrt2pi"), x, x))
        w("\tVMULPS %s, %s, %s" % (n_, x, x))
        w("\tVMULPS %s, %s, %s" % (t, x, x))
        w("\tVADDPS %s, %s, %s" % (x, x, x))
        w("\tVADDPS %s, %s, %s" % (p, x, x))
        w("\tVSUBPS %s, %s, %s" % (y, y, n_))                # 0, or NaN for +-Inf (as the reference)
        w("\tVADDPS %s, %s, %s" % (n_, x, x))
        w("\tVMULPS %d(DX), %s, %s" % (off, x, x))
        w("\tVMOVUPS %s, %d(DI)" % (x, off))
    loop(v, nm, "CX", b, ["SI", "DX", "DI"], 2)
    ret(v)

    # adamw: c = [b1, 1-b1, b2, 1-b2, decay, -stepSize, 1/bc2s, eps]
    nm = fn(v, "adamw", "p, grad, m, v *float32, n int, c *[8]float32", 48)
    w("\tMOVQ p+0(FP), DI"); w("\tMOVQ grad+8(FP), SI"); w("\tMOVQ m+16(FP), R8"); w("\tMOVQ v+24(FP), R9")
    w("\tMOVQ n+32(FP), CX"); w("\tMOVQ c+40(FP), DX")
    for i in range(8):
        v.bcast("%d(DX)" % (4 * i), v(8 + i))
    def b(u, off):
        g, m, vv, t, p = v(5 * u), v(5 * u + 1), v(5 * u + 2), v(5 * u + 3), v(5 * u + 4)
        w("\tVMOVUPS %d(SI), %s" % (off, g))
        w("\tVMULPS %d(R8), %s, %s" % (off, v(8), m))         # b1*m
        w("\tVFMADD231PS %s, %s, %s" % (g, v(9), m))         # + (1-b1) g
        w("\tVMOVUPS %s, %d(R8)" % (m, off))
        w("\tVMULPS %s, %s, %s" % (g, g, t))                 # g^2
        w("\tVMULPS %d(R9), %s, %s" % (off, v(10), vv))       # b2*v
        w("\tVFMADD231PS %s, %s, %s" % (t, v(11), vv))       # + (1-b2) g^2
        w("\tVMOVUPS %s, %d(R9)" % (vv, off))
        w("\tVSQRTPS %s, %s" % (vv, t))
        w("\tVMOVUPS %s, %s" % (v(15), p))
        w("\tVFMADD231PS %s, %s, %s" % (t, v(14), p))        # sqrt(v)/bc2s + eps
        w("\tVMULPS %s, %s, %s" % (v(13), m, m))             # -stepSize*m
        w("\tVDIVPS %s, %s, %s" % (p, m, m))
        w("\tVMOVUPS %d(DI), %s" % (off, p))
        w("\tVFMADD132PS %s, %s, %s" % (v(12), m, p))        # p = p*decay + m
        w("\tVMOVUPS %s, %d(DI)" % (p, off))
    loop(v, nm, "CX", b, ["SI", "R8", "R9", "DI"], 1)
    ret(v)

    # ---- fused row kernels (no temporaries) ----
    # sqdev: lanes of sum (x-m)^2
    nm = fn(v, "sqdev", "x *float32, m float32, n int, out *float32", 32)
    w("\tMOVQ x+0(FP), SI"); v.bcast("m+8(FP)", v(15)); w("\tMOVQ n+16(FP), CX")
    v.zero(v(0)); v.zero(v(1))
    def b(u, off):
        w("\tVMOVUPS %d(SI), %s" % (off, v(4 + u)))
        w("\tVSUBPS %s, %s, %s" % (v(15), v(4 + u), v(4 + u)))
        w("\tVFMADD231PS %s, %s, %s" % (v(4 + u), v(4 + u), v(u)))
    loop(v, nm, "CX", b, ["SI"], 2)
    w("\tVADDPS %s, %s, %s" % (v(1), v(0), v(0)))
    w("\tMOVQ out+24(FP), DX"); w("\tVMOVUPS %s, (DX)" % v(0))
    ret(v)

    # normaff: y = ((x - m)*s)*w + b
    nm = fn(v, "normaff", "y, x, w, b *float32, m, s float32, n int", 48)
    w("\tMOVQ y+0(FP), DI"); w("\tMOVQ x+8(FP), SI"); w("\tMOVQ w+16(FP), R8"); w("\tMOVQ b+24(FP), R9")
    v.bcast("m+32(FP)", v(14)); v.bcast("s+36(FP)", v(15)); w("\tMOVQ n+40(FP), CX")
    def b(u, off):
        w("\tVMOVUPS %d(SI), %s" % (off, v(u)))
        w("\tVSUBPS %s, %s, %s" % (v(14), v(u), v(u)))
        w("\tVMULPS %s, %s, %s" % (v(15), v(u), v(u)))
        w("\tVMOVUPS %d(R9), %s" % (off, v(2 + u)))
        w("\tVFMADD231PS %d(R8), %s, %s" % (off, v(u), v(2 + u)))
        w("\tVMOVUPS %s, %d(DI)" % (v(2 + u), off))
    loop(v, nm, "CX", b, ["SI", "R8", "R9", "DI"], 2)
    ret(v)

    # mul3: dst = a*b*s
    nm = fn(v, "mul3", "dst, a, b *float32, s float32, n int", 40)
    w("\tMOVQ dst+0(FP), DI"); w("\tMOVQ a+8(FP), SI"); w("\tMOVQ b+16(FP), DX"); v.bcast("s+24(FP)", v(15)); w("\tMOVQ n+32(FP), CX")
    def b(u, off):
        w("\tVMULPS %d(SI), %s, %s" % (off, v(15), v(u)))
        w("\tVMULPS %d(DX), %s, %s" % (off, v(u), v(u)))
        w("\tVMOVUPS %s, %d(DI)" % (v(u), off))
    loop(v, nm, "CX", b, ["SI", "DX", "DI"], 2)
    ret(v)

    # nb1: norm backward statistics. xh = (x-mean)*xs, g = dy*w:
    # out[0:W] = lanes of sum g, out[W:2W] = lanes of sum g*xh; dw += dy*xh*ds; db += dy
    # (dw or db may be nil: then not touched).
    nm = fn(v, "nb1", "dy, x, w, dw, db *float32, mean, xs, ds float32, n int, out *float32", 72)
    w("\tMOVQ dy+0(FP), SI"); w("\tMOVQ x+8(FP), DX"); w("\tMOVQ w+16(FP), R8"); w("\tMOVQ dw+24(FP), DI"); w("\tMOVQ db+32(FP), R9")
    v.bcast("mean+40(FP)", v(13)); v.bcast("xs+44(FP)", v(14)); v.bcast("ds+48(FP)", v(15)); w("\tMOVQ n+56(FP), CX")
    v.zero(v(0)); v.zero(v(1))
    def b(u, off):
        dy, xh, g, t = v(2), v(3), v(4), v(5)
        w("\tVMOVUPS (SI), %s" % dy)
        w("\tVMOVUPS (DX), %s" % xh)
        w("\tVSUBPS %s, %s, %s" % (v(13), xh, xh))
        w("\tVMULPS %s, %s, %s" % (v(14), xh, xh))
        w("\tVMULPS (R8), %s, %s" % (dy, g))
        w("\tVADDPS %s, %s, %s" % (g, v(0), v(0)))
        w("\tVFMADD231PS %s, %s, %s" % (xh, g, v(1)))
        w("\tTESTQ DI, DI")
        w("\tJZ %s_nodw" % nm)
        w("\tVMULPS %s, %s, %s" % (v(15), dy, t))
        w("\tVMOVUPS (DI), %s" % g)
        w("\tVFMADD231PS %s, %s, %s" % (xh, t, g))
        w("\tVMOVUPS %s, (DI)" % g)
        w("\tADDQ $%d, DI" % v.B)
        w("%s_nodw:" % nm)
        w("\tTESTQ R9, R9")
        w("\tJZ %s_nodb" % nm)
        w("\tVADDPS (R9), %s, %s" % (dy, dy))
        w("\tVMOVUPS %s, (R9)" % dy)
        w("\tADDQ $%d, R9" % v.B)
        w("%s_nodb:" % nm)
    loop(v, nm, "CX", b, ["SI", "DX", "R8"], 1)
    w("\tMOVQ out+64(FP), DX"); w("\tVMOVUPS %s, (DX)" % v(0)); w("\tVMOVUPS %s, %d(DX)" % (v(1), v.B))
    ret(v)

    # norm: y = (x - m)*s
    nm = fn(v, "norm", "y, x *float32, m, s float32, n int", 32)
    w("\tMOVQ y+0(FP), DI"); w("\tMOVQ x+8(FP), SI"); v.bcast("m+16(FP)", v(14)); v.bcast("s+20(FP)", v(15)); w("\tMOVQ n+24(FP), CX")
    def b(u, off):
        w("\tVMOVUPS %d(SI), %s" % (off, v(u)))
        w("\tVSUBPS %s, %s, %s" % (v(14), v(u), v(u)))
        w("\tVMULPS %s, %s, %s" % (v(15), v(u), v(u)))
        w("\tVMOVUPS %s, %d(DI)" % (v(u), off))
    loop(v, nm, "CX", b, ["SI", "DI"], 2)
    ret(v)

    # nb2: dx = gs*dy*w + ((x-mean)*xs)*a + c
    nm = fn(v, "nb2", "dx, dy, x, w *float32, mean, xs, gs, a, c float32, n int", 64)
    w("\tMOVQ dx+0(FP), DI"); w("\tMOVQ dy+8(FP), SI"); w("\tMOVQ x+16(FP), DX"); w("\tMOVQ w+24(FP), R8")
    v.bcast("mean+32(FP)", v(11)); v.bcast("xs+36(FP)", v(12)); v.bcast("gs+40(FP)", v(13)); v.bcast("a+44(FP)", v(14)); v.bcast("c+48(FP)", v(15))
    w("\tMOVQ n+56(FP), CX")
    def b(u, off):
        xh, g = v(2 * u), v(2 * u + 1)
        w("\tVMOVUPS %d(DX), %s" % (off, xh))
        w("\tVSUBPS %s, %s, %s" % (v(11), xh, xh))
        w("\tVMULPS %s, %s, %s" % (v(12), xh, xh))
        w("\tVMULPS %d(SI), %s, %s" % (off, v(13), g))
        w("\tVMULPS %d(R8), %s, %s" % (off, g, g))
        w("\tVADDPS %s, %s, %s" % (v(15), g, g))
        w("\tVFMADD231PS %s, %s, %s" % (xh, v(14), g))
        w("\tVMOVUPS %s, %d(DI)" % (g, off))
    loop(v, nm, "CX", b, ["SI", "DX", "R8", "DI"], 2)
    ret(v)

    # expsum: lanes of sum exp(src - m), nothing stored
    nm = fn(v, "expsum", "src *float32, m float32, n int, out *float32", 32)
    w("\tMOVQ src+0(FP), SI"); v.bcast("m+8(FP)", v(15)); w("\tMOVQ n+16(FP), CX")
    v.zero(v(12)); v.zero(v(13))
    def b(u, off):
        x, p, n_, t = v(4 * u), v(4 * u + 1), v(4 * u + 2), v(4 * u + 3)
        w("\tVMOVUPS %d(SI), %s" % (off, x))
        w("\tVSUBPS %s, %s, %s" % (v(15), x, x))
        exp_body(v, x, p, n_, t)
        w("\tVADDPS %s, %s, %s" % (p, v(12 + u), v(12 + u)))
    loop(v, nm, "CX", b, ["SI"], 2)
    w("\tVADDPS %s, %s, %s" % (v(13), v(12), v(12)))
    w("\tMOVQ out+24(FP), DX"); w("\tVMOVUPS %s, (DX)" % v(12))
    ret(v)

    # lsmb: dx = dy - exp(y)*s
    nm = fn(v, "lsmb", "dx, y, dy *float32, s float32, n int", 40)
    w("\tMOVQ dx+0(FP), DI"); w("\tMOVQ y+8(FP), SI"); w("\tMOVQ dy+16(FP), DX"); v.bcast("s+24(FP)", v(15)); w("\tMOVQ n+32(FP), CX")
    def b(u, off):
        x, p, n_, t = v(4 * u), v(4 * u + 1), v(4 * u + 2), v(4 * u + 3)
        w("\tVMOVUPS %d(SI), %s" % (off, x))
        exp_body(v, x, p, n_, t)
        w("\tVMOVUPS %d(DX), %s" % (off, t))
        w("\tVFNMADD231PS %s, %s, %s" % (v(15), p, t))
        w("\tVMOVUPS %s, %d(DI)" % (t, off))
    loop(v, nm, "CX", b, ["SI", "DX", "DI"], 2)
    ret(v)

    # gelu (erf form): 0.5*x*E, E = 1+erf(x/sqrt2) = erfc(-x/sqrt2):
    # r = erfc(|x|/sqrt2) from the fit, E = r for x <= 0 and 2-r for x > 0.
    def gelu_e(y, z, t, q, e, n_, tt, s, m):
        """E into e; clobbers z, t, q, n_, tt, s, m (m: mask, AVX2)."""
        w("\tVANDPS %s, %s, %s" % (C("absmask"), y, z))
        w("\tVMULPS %s, %s, %s" % (C("invsqrt2"), z, z))      # z = |x|/sqrt2
        w("\tVMOVUPS %s, %s" % (C("half"), t))
        w("\tVFMADD213PS %s, %s, %s" % (C("one"), z, t))        # 1 + z/2
        w("\tVMOVUPS %s, %s" % (C("one"), q))
        w("\tVDIVPS %s, %s, %s" % (t, q, t))                    # t
        w("\tVMOVUPS %s, %s" % (C("erfc9"), q))
        for i in range(8, -1, -1):
            w("\tVFMADD213PS %s, %s, %s" % (C("erfc%d" % i), t, q))
        w("\tVFNMADD231PS %s, %s, %s" % (z, z, q))              # P(t) - z^2
        exp_body(v, q, e, n_, tt)
        w("\tVMULPS %s, %s, %s" % (t, e, e))                    # r
        w("\tVMOVUPS %s, %s" % (C("two"), s))
        w("\tVSUBPS %s, %s, %s" % (e, s, s))                    # 2 - r
        w("\tVXORPS %s, %s, %s" % (tt, tt, tt))
        if v.wide:
            w("\tVCMPPS $14, %s, %s, K3" % (tt, y))             # x > 0
            w("\tVMOVAPS %s, K3, %s" % (s, e))
        else:
            w("\tVCMPPS $14, %s, %s, %s" % (tt, y, m))
            w("\tVBLENDVPS %s, %s, %s, %s" % (m, s, e, e))

    nm = fn(v, "gelu", "dst, x *float32, n int", 24)
    w("\tMOVQ dst+0(FP), DI"); w("\tMOVQ x+8(FP), SI"); w("\tMOVQ n+16(FP), CX")
    def b(u, off):
        y, z, t, q, e, n_, tt, s, m = [v(i) for i in range(9)]
        w("\tVMOVUPS (SI), %s" % y)
        gelu_e(y, z, t, q, e, n_, tt, s, m)
        w("\tVMULPS %s, %s, %s" % (C("half"), y, y))
        w("\tVMULPS %s, %s, %s" % (e, y, y))
        w("\tVMOVUPS %s, (DI)" % y)
    loop(v, nm, "CX", b, ["SI", "DI"], 1)
    ret(v)

    # geluB: d = 0.5*E + x*exp(-x^2/2)/sqrt(2pi)
    nm = fn(v, "gelub", "dx, x, dy *float32, n int", 32)
    w("\tMOVQ dx+0(FP), DI"); w("\tMOVQ x+8(FP), SI"); w("\tMOVQ dy+16(FP), DX"); w("\tMOVQ n+24(FP), CX")
    def b(u, off):
        y, z, t, q, e, n_, tt, s, m, g = [v(i) for i in range(10)]
        w("\tVMOVUPS (SI), %s" % y)
        gelu_e(y, z, t, q, e, n_, tt, s, m)
        w("\tVMULPS %s, %s, %s" % (C("half"), e, e))            # 0.5 E
        w("\tVMULPS %s, %s, %s" % (y, y, q))
        w("\tVMULPS %s, %s, %s" % (C("half"), q, q))
        w("\tVXORPS %s, %s, %s" % (z, z, z))
        w("\tVSUBPS %s, %s, %s" % (q, z, q))                    # -x^2/2
        exp_body(v, q, g, n_, tt)
        w("\tVMULPS %s, %s, %s" % (C("invsqrt2pi"), g, g))
        w("\tVFMADD231PS %s, %s, %s" % (g, y, e))               # + x*phi
        w("\tVMULPS (DX), %s, %s" % (e, e))
        w("\tVMOVUPS %s, (DI)" % e)
    loop(v, nm, "CX", b, ["SI", "DX", "DI"], 1)
    ret(v)

gen(V(True))
gen(V(False))

hdr = ["// Code generated by gen/vecgen.py. DO NOT EDIT.", "", "//go:build !noasm", "", '#include "textflag.h"', ""]
for i, (name, val, isint) in enumerate(CONSTS):
    bits = val if isint else struct.unpack("<I", struct.pack("<f", val))[0]
    for j in range(16):
        hdr.append("DATA veccon<>+%d(SB)/4, $0x%08x // %s" % (64 * i + 4 * j, bits, name) if j == 0 else "DATA veccon<>+%d(SB)/4, $0x%08x" % (64 * i + 4 * j, bits))
hdr.append("GLOBL veccon<>(SB), RODATA|NOPTR, $%d" % (64 * len(CONSTS)))
open(__file__.rsplit("/", 1)[0] + "/../vec_amd64.s" if "/" in __file__ else "../vec_amd64.s", "w").write("\n".join(hdr + out) + "\n")

# The Go declarations and dispatch methods (../vec_amd64.go).
DECLS = {
    'axpy': 'alpha float32, x, y *float32, n int',
    'dot': 'x, y *float32, n int, out *float32',
    'sum': 'x *float32, n int, out *float32',
    'max': 'x *float32, n int, out, nan *float32',
    'scal': 'dst, a *float32, s float32, n int',
    'adds': 'dst, a *float32, s float32, n int',
    'add': 'dst, a, b *float32, n int', 'sub': 'dst, a, b *float32, n int',
    'mul': 'dst, a, b *float32, n int', 'div': 'dst, a, b *float32, n int',
    'smul': 'dst, a, b *float32, s float32, n int',
    'exp': 'dst, src *float32, n int',
    'expsub': 'dst, src *float32, m float32, n int, out *float32',
    'silu': 'dst, x *float32, n int', 'silub': 'dx, x, dy *float32, n int',
    'gelut': 'dst, x *float32, n int', 'gelutb': 'dx, x, dy *float32, n int',
    'adamw': 'p, grad, m, v *float32, n int, c *[8]float32',
    'sqdev': 'x *float32, m float32, n int, out *float32',
    'normaff': 'y, x, w, b *float32, m, s float32, n int',
    'mul3': 'dst, a, b *float32, s float32, n int',
    'nb1': 'dy, x, w, dw, db *float32, mean, xs, ds float32, n int, out *float32',
    'nb2': 'dx, dy, x, w *float32, mean, xs, gs, a, c float32, n int',
    'norm': 'y, x *float32, m, s float32, n int',
    'gelu': 'dst, x *float32, n int', 'gelub': 'dx, x, dy *float32, n int',
    'expsum': 'src *float32, m float32, n int, out *float32',
    'lsmb': 'dx, y, dy *float32, s float32, n int',
}
def argnames(a):
    return [part.strip().split()[0] for part in a.split(',')]
G = ['// Code generated by gen/vecgen.py. DO NOT EDIT.', '', '//go:build !noasm', '', 'package kernels', '',
     '// Declarations of the vector kernels in vec_amd64.s. Each processes n',
     '// elements, n a multiple of the vector width (16 for AVX512, 8 for AVX2).', '']
for sfx in ('AVX512', 'AVX2'):
    for k, a in DECLS.items():
        G += ['//go:noescape', 'func %s%s(%s)' % (k, sfx, a), '']
G += ['// Methods of vecAsm call the kernel of its width directly (a call through a',
      '// func value would make every pointer argument escape).', '']
for k, a in DECLS.items():
    rv = 'vv' if 'v *float32' in a else 'v'
    args = ', '.join(argnames(a))
    G += ['func (%s *vecAsm) %s(%s) {' % (rv, k, a), '\tif %s.w == 16 {' % rv, '\t\t%sAVX512(%s)' % (k, args),
          '\t} else {', '\t\t%sAVX2(%s)' % (k, args), '\t}', '}', '']
# Elementwise kernels get flat wrappers per width (one call level between
# the public function and the assembly).
FLAT = [  # impl var, kernel, reference, kind
    ('addImpl', 'add', 'AddRef', 'bin'), ('subImpl', 'sub', 'SubRef', 'bin'),
    ('mulImpl', 'mul', 'MulRef', 'bin'), ('divImpl', 'div', 'DivRef', 'bin'),
    ('addScalarImpl', 'adds', 'AddScalarRef', 'sc'), ('mulScalarImpl', 'scal', 'MulScalarRef', 'sc'),
    ('expImpl', 'exp', 'ExpRef', 'un'), ('siluImpl', 'silu', 'SiluRef', 'un'),
    ('geluImpl', 'gelu', 'GeluRef', 'un'), ('geluTanhImpl', 'gelut', 'GeluTanhRef', 'un'),
    ('siluBackwardImpl', 'silub', 'SiluBackwardRef', 'bw'), ('geluBackwardImpl', 'gelub', 'GeluBackwardRef', 'bw'),
    ('geluTanhBackwardImpl', 'gelutb', 'GeluTanhBackwardRef', 'bw'),
]
for sfx, wd in (('AVX512', 16), ('AVX2', 8)):
    G += ['// setFlat%s installs the elementwise kernels of width %d.' % (sfx, wd), 'func setFlat%s() {' % sfx]
    for var, k, ref, kind in FLAT:
        if kind == 'bin':
            sig, call, tail = 'dst, a, b []float32', '&dst[0], &a[0], &b[0], nv', 'dst[nv:], a[nv:], b[nv:]'
        elif kind == 'sc':
            sig, call, tail = 'dst, a []float32, s float32', '&dst[0], &a[0], s, nv', 'dst[nv:], a[nv:], s'
        elif kind == 'un':
            sig, call, tail = 'dst, x []float32', '&dst[0], &x[0], nv', 'dst[nv:], x[nv:]'
        else:
            sig, call, tail = 'dx, x, dy []float32', '&dx[0], &x[0], &dy[0], nv', 'dx[nv:], x[nv:], dy[nv:]'
        first = sig.split(',')[0]
        G += ['\t%s = func(%s) {' % (var, sig),
              '\t\tnv := len(%s) &^ %d' % (first, wd - 1),
              '\t\tif nv > 0 {', '\t\t\t%s%s(%s)' % (k, sfx, call), '\t\t}',
              '\t\tif nv < len(%s) {' % first, '\t\t\t%s(%s)' % (ref, tail), '\t\t}', '\t}']
    # Axpy, Scale, Dot and Sum: the same flat shape; the reductions sum the
    # float32 lanes in float64 like the references.
    G += ['\taxpyImpl = func(alpha float32, x, y []float32) {',
          '\t\tnv := len(y) &^ %d' % (wd - 1),
          '\t\tif nv > 0 {', '\t\t\taxpy%s(alpha, &x[0], &y[0], nv)' % sfx, '\t\t}',
          '\t\tif nv < len(y) {', '\t\t\tAxpyRef(alpha, x[nv:], y[nv:])', '\t\t}', '\t}',
          '\tscaleImpl = func(alpha float32, x []float32) {',
          '\t\tnv := len(x) &^ %d' % (wd - 1),
          '\t\tif nv > 0 {', '\t\t\tscal%s(&x[0], &x[0], alpha, nv)' % sfx, '\t\t}',
          '\t\tif nv < len(x) {', '\t\t\tScaleRef(alpha, x[nv:])', '\t\t}', '\t}',
          '\tdotImpl = func(x, y []float32) float32 {',
          '\t\tnv := len(x) &^ %d' % (wd - 1),
          '\t\tvar s float64',
          '\t\tif nv > 0 {', '\t\t\tvar l [%d]float32' % wd, '\t\t\tdot%s(&x[0], &y[0], nv, &l[0])' % sfx,
          '\t\t\tfor _, e := range l {', '\t\t\t\ts += float64(e)', '\t\t\t}', '\t\t}',
          '\t\tfor i := nv; i < len(x); i++ {', '\t\t\ts += float64(x[i]) * float64(y[i])', '\t\t}',
          '\t\treturn float32(s)', '\t}',
          '\tsumImpl = func(x []float32) float32 {',
          '\t\tnv := len(x) &^ %d' % (wd - 1),
          '\t\tvar s float64',
          '\t\tif nv > 0 {', '\t\t\tvar l [%d]float32' % wd, '\t\t\tsum%s(&x[0], nv, &l[0])' % sfx,
          '\t\t\tfor _, e := range l {', '\t\t\t\ts += float64(e)', '\t\t\t}', '\t\t}',
          '\t\tfor _, e := range x[nv:] {', '\t\t\ts += float64(e)', '\t\t}',
          '\t\treturn float32(s)', '\t}']
    G += ['}', '']
G += ['var (', '\tvecAVX512 = &vecAsm{w: 16}', '\tvecAVX2   = &vecAsm{w: 8}', ')', '',
      'func setVecAVX512() { vecAVX512.install(); setFlatAVX512() }', 'func setVecAVX2()   { vecAVX2.install(); setFlatAVX2() }']
open(__file__.rsplit("/", 1)[0] + "/../vec_amd64.go" if "/" in __file__ else "../vec_amd64.go", "w").write("\n".join(G) + "\n")
