"""Command line: ``python -m alignxpert_fast [demo|config] [options]``.

``demo`` (the default) runs the kernel core on built-in synthetic paired embeddings
(no download): every hot path, timed against one BLAS GEMM of the same shape and
against scikit-learn, with its agreement to the NumPy reference.
"""
from __future__ import annotations

import argparse
import sys
import time

import numpy as np


def synthetic_pairs(n=4000, d1=768, d2=384, latent=32, noise=0.1, dtype=np.float32, random_state=0):
    """Two modalities sharing a latent structure: X_m = tanh(L A_m) + noise, row i paired.

    Returns (X1 of shape (n, d1), X2 of shape (n, d2)), both ``dtype``.
    """
    rng = np.random.default_rng(random_state)
    L = rng.standard_normal((n, latent))
    out = []
    for d in (d1, d2):
        A = rng.standard_normal((latent, d)) / np.sqrt(latent)
        X = np.tanh(L @ A) + noise * rng.standard_normal((n, d))
        out.append(X.astype(dtype))
    return out[0], out[1]


def _time(fn, repeat=3):
    fn()  # warm-up (numba JIT, page faults)
    best = np.inf
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def demo(n=4000, dtype="float32", backends=("native", "numba"), n_threads=None, file=None):
    import alignxpert_fast as axf
    from alignxpert_fast._dispatch import backend_status

    out = file or sys.stdout
    dt = np.dtype(dtype)
    X1, X2 = synthetic_pairs(n=n, dtype=dt)
    Z = (X1[:, :128] + 0.05).astype(dt)
    avail = backend_status()
    backends = [b for b in backends if avail[b][0]]
    print(f"alignxpert_fast demo: synthetic paired embeddings X1 {X1.shape}, X2 {X2.shape}, {dt.name}", file=out)
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


def main(argv=None):
    parser = argparse.ArgumentParser(prog="alignxpert-fast", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command")
    p_demo = sub.add_parser("demo", help="time every hot path on built-in synthetic data (default)")
    p_demo.add_argument("--n", type=int, default=4000, help="number of paired rows (default 4000)")
    p_demo.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    p_demo.add_argument("--n-threads", type=int, default=None)
    p_demo.add_argument("--backends", default="native,numba", help="comma-separated (native,numba,reference)")
    sub.add_parser("config", help="print show_config()")
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or (argv[0].startswith("-") and argv[0] not in ("-h", "--help")):
        argv = ["demo"] + argv  # demo is the default command
    args = parser.parse_args(argv)
    if args.command == "config":
        import alignxpert_fast

        alignxpert_fast.show_config()
        return 0
    if args.n < 2:
        parser.error(f"--n must be >= 2, got {args.n}")
    if args.n_threads == 0:
        parser.error("--n-threads must be non-zero")
    demo(n=args.n, dtype=args.dtype, backends=tuple(args.backends.split(",")), n_threads=args.n_threads)
    return 0


if __name__ == "__main__":
    sys.exit(main())
