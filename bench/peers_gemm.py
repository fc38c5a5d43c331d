#!/usr/bin/python3
"""Times OpenBLAS SGEMM (through numpy.matmul and torch.mm, float32) on the
same shapes as `kiln bench kernels`, at 1 and 2 threads, interleaved per
shape (np-1T, np-2T, torch-1T, torch-2T, repeated) and best-of. Thread counts
are set in both torch and the OpenBLAS pool (see ../shared/peers/py/blasinfo.py).

  env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE /usr/bin/python3 bench/peers_gemm.py \
      --peers ../shared/peers/py > bench/results/peers.md

Shapes: square 64..2048 and the model's MLP shapes (tokens x 4w x w and
tokens x w x 4w), the list in bench/kernels.go.
"""
import argparse
import os
import sys
import time


def shapes():
    s = [("square %d" % n, n, n, n) for n in (64, 128, 256, 512, 1024, 2048)]
    for t, w in ((256, 128), (1024, 256), (4096, 256), (1024, 512), (4096, 512)):
        s.append(("up t=%d w=%d" % (t, w), t, 4 * w, w))
        s.append(("down t=%d w=%d" % (t, w), t, w, 4 * w))
    return s


def calibrate(f, mintime):
    f()
    n = 1
    while True:
        t = time.perf_counter()
        for _ in range(n):
            f()
        el = time.perf_counter() - t
        if el >= mintime / 4:
            return max(1, int(n * mintime / el))
        n *= 2


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--peers", default=os.path.join(os.path.dirname(__file__), "..", "..", "shared", "peers", "py"))
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--mintime", type=float, default=0.2)
    ap.add_argument("--threads", default="1,2")
    a = ap.parse_args()
    sys.path.insert(0, os.path.abspath(a.peers))
    from blasinfo import OpenBLAS  # noqa: E402
    import numpy as np  # noqa: E402
    import torch  # noqa: E402

    blas = OpenBLAS()
    threads = [int(x) for x in a.threads.split(",")]
    info = blas.info()
    print("OpenBLAS core `%s` (OPENBLAS_CORETYPE=%s), numpy %s, torch %s" % (
        info["openblas_corename"], info["OPENBLAS_CORETYPE"], np.__version__, torch.__version__))
    print()
    hdr = "| shape (m x n x k) | " + " | ".join("numpy %dT | torch %dT" % (t, t) for t in threads) + " |"
    print(hdr)
    print("|---|" + "---:|" * (2 * len(threads)))
    for name, m, n, k in shapes():
        g = np.random.default_rng(0)
        A = g.standard_normal((m, k)).astype(np.float32)
        B = g.standard_normal((k, n)).astype(np.float32)
        C = np.empty((m, n), dtype=np.float32)
        tA, tB, tC = torch.from_numpy(A), torch.from_numpy(B), torch.from_numpy(C)
        cands = []
        for t in threads:
            cands.append((t, lambda: np.matmul(A, B, out=C)))
            cands.append((t, lambda: torch.mm(tA, tB, out=tC)))
        iters = []
        for t, f in cands:
            torch.set_num_threads(t)
            blas.set_threads(t)
            iters.append(calibrate(f, a.mintime))
        best = [0.0] * len(cands)
        fl = 2.0 * m * n * k
        for _ in range(a.reps):
            for i, (t, f) in enumerate(cands):
                torch.set_num_threads(t)
                blas.set_threads(t)
                st = time.perf_counter()
                for _ in range(iters[i]):
                    f()
                best[i] = max(best[i], fl * iters[i] / (time.perf_counter() - st) / 1e9)
        print("| %s (%dx%dx%d) | " % (name, m, n, k) + " | ".join("%.1f" % b for b in best) + " |", flush=True)


if __name__ == "__main__":
    main()
