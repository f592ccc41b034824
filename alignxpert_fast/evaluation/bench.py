"""The ``bench-kernels`` command: every kernel hot path timed against one GEMM and
scikit-learn, with its agreement to the NumPy reference."""
from __future__ import annotations

import sys
import time

import numpy as np

from .. import kernels as axf
from ..datasets import synthetic_pairs
from ..kernels._dispatch import backend_status

__all__ = ["bench_kernels"]


def _time(fn, repeat=3):
    fn()  # warm-up (numba JIT, page faults)
    best = np.inf
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def bench_kernels(n=4000, dtype="float32", backends=("native", "numba"), n_threads=None, file=None):
    """Time every hot path of the kernel core (the ``bench-kernels`` subcommand)."""
    out = file or sys.stdout
    dt = np.dtype(dtype)
    X1, X2 = synthetic_pairs(n=n, dtype=dt)
    Z = (X1[:, :128] + 0.05).astype(dt)
    avail = backend_status()
    backends = [b for b in backends if b in avail and avail[b][0]]
    print(f"alignxpert_fast bench-kernels: synthetic paired embeddings X1 {X1.shape}, X2 {X2.shape}, {dt.name}",
          file=out)
    print(f"backends: {', '.join(backends)}; n_threads={n_threads or 'all'}\n", file=out)
    t_gemm = _time(lambda: X1 @ X1.T)
    try:
        from sklearn.metrics import pairwise as skp
    except ImportError:  # scikit-learn is optional at run time
        skp = None
    rows = []
    cases = [
        ("rbf_kernel", lambda b: axf.rbf_kernel(X1, backend=b, n_threads=n_threads),
         (lambda: skp.rbf_kernel(X1)) if skp else None, t_gemm),
        ("euclidean_distances", lambda b: axf.euclidean_distances(X1, backend=b, n_threads=n_threads),
         (lambda: skp.euclidean_distances(X1)) if skp else None, t_gemm),
        ("cosine_similarity", lambda b: axf.cosine_similarity(X1, X1, backend=b, n_threads=n_threads),
         (lambda: skp.cosine_similarity(X1, X1)) if skp else None, t_gemm),
    ]
    V = np.ones((n, 16), dtype=dt)
    t_mv_gemm = _time(lambda: X2 @ X2.T)
    cases.append(("kernel_matvec(rbf, 16 cols)",
                  lambda b: axf.kernel_matvec(X2, X2, V, backend=b, n_threads=n_threads), None, t_mv_gemm))
    t_st_gemm = _time(lambda: (X1 @ X1.T, Z @ Z.T, (X1 @ X1.T) @ Z))
    cases.append(("stress_and_grad (k=128)",
                  lambda b: axf.stress_and_grad(X1, Z, backend=b, n_threads=n_threads), None, t_st_gemm))
    print(f"{'operation':<30}{'impl':<14}{'seconds':>9}{'x GEMM':>8}{'max err vs reference':>22}", file=out)
    small = slice(0, min(n, 600))
    for name, fn, sk, tg in cases:
        print(f"{name:<30}{'GEMM':<14}{tg:>9.3f}{1.0:>8.2f}", file=out)
        if sk is not None:
            ts = _time(sk, repeat=1)
            print(f"{'':<30}{'scikit-learn':<14}{ts:>9.3f}{ts / tg:>8.2f}", file=out)
        for b in backends:
            t = _time(lambda: fn(b))
            err = _agreement(name, b, X1[small], X2[small], Z[small], V[small], axf)
            print(f"{'':<30}{b:<14}{t:>9.3f}{t / tg:>8.2f}{err:>22.2e}", file=out)
        rows.append(name)
    return rows


def _agreement(name, backend, X1, X2, Z, V, axf):
    """Max abs difference between ``backend`` and the reference on a slice of the data."""
    if name.startswith("rbf"):
        f = lambda b: axf.rbf_kernel(X1, backend=b)  # noqa: E731
    elif name.startswith("euclid"):
        f = lambda b: axf.euclidean_distances(X1, backend=b)  # noqa: E731
    elif name.startswith("cosine"):
        f = lambda b: axf.cosine_similarity(X1, X1, backend=b)  # noqa: E731
    elif name.startswith("kernel_matvec"):
        f = lambda b: axf.kernel_matvec(X2, X2, V, backend=b) / X2.shape[0]  # noqa: E731
    else:
        f = lambda b: axf.stress_and_grad(X1, Z, backend=b)[1]  # noqa: E731
    return float(np.max(np.abs(f(backend).astype(np.float64) - f("reference").astype(np.float64))))
