"""Kernel reductions that never form K: ``kernel_matvec`` and ``kernel_row_sums``.

RBF kernel, n = m = 50000, d = 256, V with 16 columns, float32 (heavy: run with
--run-heavy).  Each group times the n x d by d x m GEMM ``X @ Y.T`` (on row panels: the
full 50000 x 50000 product does not fit the 8 GiB limit, see conftest.gemm_baseline),
scikit-learn's ``rbf_kernel`` on row chunks within sklearn's ``working_memory`` followed
by the reduction (``@ V`` / ``.sum(1)``; one round without warm-up, it has no JIT and
takes minutes) and ours for backend in (native, numba) x
n_threads in (1, 2).

    python -m pytest benchmarks/bench_reductions.py --benchmark-enable --benchmark-only --run-heavy
"""
import numpy as np

AXF_GROUPS = [
    dict(op=op, shape="matvec", dtypes=("float32",), impls=("gemm", "sklearn", "ours"), heavy=True, rounds=3,
         impl_rounds={"sklearn": (1, 0)})
    for op in ("kernel_matvec", "kernel_row_sums")
]


def _sklearn_chunked(X, Y, reduce):
    """What a scikit-learn user writes to reduce K without holding it: rbf_kernel on
    row chunks of ``working_memory`` MiB (8 bytes per entry, as sklearn's own chunking)."""
    from sklearn import get_config
    from sklearn.metrics.pairwise import rbf_kernel
    from sklearn.utils import gen_batches

    rows = max(1, int(get_config()["working_memory"] * 2**20 // (8 * Y.shape[0])))
    return np.concatenate([reduce(rbf_kernel(X[s], Y)) for s in gen_batches(X.shape[0], rows)])


def build(op, impl, data, *, backend=None, n_threads=None):
    X, Y, V = data["X"], data["Y"], data["V"]
    if impl == "sklearn":
        if op == "kernel_matvec":
            fn = lambda: _sklearn_chunked(X, Y, lambda K: K @ V)  # noqa: E731
        else:
            fn = lambda: _sklearn_chunked(X, Y, lambda K: K.sum(axis=1))  # noqa: E731
        fn.note = "sklearn rbf_kernel on row chunks of working_memory, then reduced"
        return fn
    if impl == "ours":
        import alignxpert_fast

        if op == "kernel_matvec":
            return lambda: alignxpert_fast.kernel_matvec(X, Y, V, kernel="rbf", backend=backend, n_threads=n_threads)
        return lambda: alignxpert_fast.kernel_row_sums(X, Y, kernel="rbf", backend=backend, n_threads=n_threads)
    raise ValueError(impl)


def test_reductions(axf_case, axf_run, benchmark):
    axf_run(benchmark, axf_case)
