"""Two quick interleaved ratios (a plain script, not a pytest-benchmark suite):

1. the symmetric Gram ``rbf_kernel(X)`` (upper block triangle, mirrored) against
   ``rbf_kernel(X, X.copy())`` and against NumPy's ``X @ X.T`` (SYRK), n = 6000, d = 768;
2. the narrow-embedding RBF kernel (as after projection), one thread, against one
   single-threaded GEMM of the same shape: n = m = 4000, d = 64 and n = m = 1257, d = 32.

    python benchmarks/quick_ratios.py

Each ratio is computed per round from calls made back to back (so machine noise hits both);
the median and the min-max over the rounds are printed.
"""
import time

import numpy as np
from threadpoolctl import threadpool_limits

import alignxpert_fast as axf


def _median_spread(r):
    return f"median {np.median(r):.2f} ({min(r):.2f}-{max(r):.2f})"


def symmetric(rounds=5):
    X = np.random.default_rng(0).standard_normal((6000, 768)).astype(np.float32)
    Xc = X.copy()
    axf.rbf_kernel(X), axf.rbf_kernel(X, Xc)
    full, syrk = [], []
    for _ in range(rounds):
        t0 = time.perf_counter()
        axf.rbf_kernel(X, backend="native")
        t1 = time.perf_counter()
        axf.rbf_kernel(X, Xc, backend="native")
        t2 = time.perf_counter()
        X @ X.T
        t3 = time.perf_counter()
        full.append((t1 - t0) / (t2 - t1))
        syrk.append((t1 - t0) / (t3 - t2))
    print(f"rbf_kernel(X) / rbf_kernel(X, X.copy()): {_median_spread(full)}; / X @ X.T: {_median_spread(syrk)}")


def narrow(rounds=9):
    rng = np.random.default_rng(0)
    for n, d in ((4000, 64), (1257, 32)):
        X, Y = (rng.standard_normal((n, d)).astype(np.float32) for _ in range(2))
        axf.rbf_kernel(X, Y, n_threads=1)
        r = []
        for _ in range(rounds):
            with threadpool_limits(1):
                t0 = time.perf_counter()
                X @ Y.T
                t1 = time.perf_counter()
            axf.rbf_kernel(X, Y, n_threads=1, backend="native")
            t2 = time.perf_counter()
            r.append((t2 - t1) / (t1 - t0))
        print(f"rbf_kernel n=m={n} d={d} float32, 1 thread / GEMM: {_median_spread(r)}")


if __name__ == "__main__":
    symmetric()
    narrow()
