"""Normalized MDS stress and its gradient: ``stress_and_grad(X, Z)``, float32, heavy.

* n = 10000, d = 768, k = 256: the GEMM baseline (``X Xᵀ``, ``Z Zᵀ`` and the n x n by
  n x k product, on full matrices), a dense scikit-learn/NumPy implementation
  (``euclidean_distances`` of X and of Z, then the gradient formula on n x n arrays; one
  round without warm-up) and
  ours for backend in (native, numba) x n_threads in (1, 2).
* n = 50000, d = 768, k = 256: ours only, native backend, 2 threads, against the same
  three GEMMs run on row panels (the n x n matrices would need 20 GB); one timed round
  without warm-up (no JIT on the native backend, minutes per call).

    python -m pytest benchmarks/bench_stress.py --benchmark-enable --benchmark-only --run-heavy
"""
import numpy as np

AXF_GROUPS = [
    dict(op="stress_and_grad", shape="stress", dtypes=("float32",), impls=("gemm", "sklearn", "ours"),
         heavy=True, rounds=3, impl_rounds={"sklearn": (1, 0)}),
    dict(op="stress_and_grad", shape="stress_big", dtypes=("float32",), impls=("gemm", "ours"), heavy=True,
         backends=("native",), threads=(2,), rounds=1, warmup_rounds=0),
]


def _dense_stress_and_grad(X, Z):
    """The n x n formulation (reference for what the blockwise kernel avoids)."""
    from sklearn.metrics.pairwise import euclidean_distances

    X = X - X.mean(axis=0, dtype=np.float64).astype(X.dtype)
    Z = Z - Z.mean(axis=0, dtype=np.float64).astype(Z.dtype)
    D = euclidean_distances(X)
    E = euclidean_distances(Z)
    B = 0.5 * np.sum(np.square(D, dtype=np.float64))
    num = 0.5 * np.sum(np.square(D - E, dtype=np.float64))
    s = np.sqrt(num / B)
    W = np.divide(D, E, out=np.zeros_like(D), where=E > 0)
    np.subtract(1, W, out=W, where=E > 0)
    del D, E
    grad = (W.sum(axis=1, dtype=np.float64)[:, None] * Z - W @ Z) / (s * B)
    return float(s), grad.astype(Z.dtype)


def build(op, impl, data, *, backend=None, n_threads=None):
    X, Z = data["X"], data["Z"]
    if impl == "sklearn":
        fn = lambda: _dense_stress_and_grad(X, Z)  # noqa: E731
        fn.note = "dense: sklearn euclidean_distances of X and Z (n x n each), NumPy gradient"
        return fn
    if impl == "ours":
        from alignxpert_fast import stress_and_grad

        return lambda: stress_and_grad(X, Z, backend=backend, n_threads=n_threads)
    raise ValueError(impl)


def test_stress(axf_case, axf_run, benchmark):
    axf_run(benchmark, axf_case)
