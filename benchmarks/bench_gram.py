"""Gram matrices: rbf, polynomial, linear and cosine, n = m = 8000, d = 768.

Each group (kernel x shape x dtype) times the GEMM ``X @ Y.T`` of the same shape,
scikit-learn's function, SciPy ``cdist(X, Y, "cosine")`` for the cosine kernel (it
returns 1 - similarity; single-threaded and ~20 s per call at full size, so marked
heavy) and ours for backend in (native, numba) x n_threads in (1, 2).  X and Y are
distinct matrices (the cross-modal case); every call allocates its output.

    python -m pytest benchmarks/bench_gram.py --benchmark-enable --benchmark-only
"""

KERNELS = ("rbf_kernel", "polynomial_kernel", "linear_kernel", "cosine_similarity")

AXF_GROUPS = [
    dict(op=op, shape="gram", dtypes=("float32", "float64"),
         impls=("gemm", "sklearn", "scipy", "ours") if op == "cosine_similarity" else ("gemm", "sklearn", "ours"),
         heavy_impls=("scipy",), impl_rounds={"scipy": (1, 0)}, rounds=3)
    for op in KERNELS
]


def build(op, impl, data, *, backend=None, n_threads=None):
    X, Y = data["X"], data["Y"]
    if impl == "sklearn":
        from sklearn.metrics import pairwise

        f = getattr(pairwise, op)
        return lambda: f(X, Y)
    if impl == "scipy":
        from scipy.spatial.distance import cdist

        assert op == "cosine_similarity"
        fn = lambda: cdist(X, Y, "cosine")  # noqa: E731
        fn.note = "cdist(X, Y, 'cosine') = 1 - similarity, float64 output"
        return fn
    if impl == "ours":
        import alignxpert_fast

        f = getattr(alignxpert_fast, op)
        return lambda: f(X, Y, backend=backend, n_threads=n_threads)
    raise ValueError(impl)


def test_gram(axf_case, axf_run, benchmark):
    axf_run(benchmark, axf_case)


