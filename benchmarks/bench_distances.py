"""Euclidean distances, n = m = 8000, d = 768, float32 and float64.

Each group times the GEMM ``X @ Y.T`` of the same shape, scikit-learn's
``euclidean_distances`` (which upcasts float32 in chunks), SciPy
``cdist(X, Y, "euclidean")`` (single-threaded, float64 output, ~20 s per call at full
size: marked heavy) and ours for backend in (native, numba) x n_threads in (1, 2).

    python -m pytest benchmarks/bench_distances.py --benchmark-enable --benchmark-only
"""

AXF_GROUPS = [
    dict(op="euclidean_distances", shape="gram", dtypes=("float32", "float64"),
         impls=("gemm", "sklearn", "scipy", "ours"), heavy_impls=("scipy",), impl_rounds={"scipy": (1, 0)},
         rounds=3),
]


def build(op, impl, data, *, backend=None, n_threads=None):
    X, Y = data["X"], data["Y"]
    if impl == "sklearn":
        from sklearn.metrics.pairwise import euclidean_distances

        return lambda: euclidean_distances(X, Y)
    if impl == "scipy":
        from scipy.spatial.distance import cdist

        fn = lambda: cdist(X, Y, "euclidean")  # noqa: E731
        fn.note = "cdist(X, Y, 'euclidean'), float64 output"
        return fn
    if impl == "ours":
        from alignxpert_fast import euclidean_distances

        return lambda: euclidean_distances(X, Y, backend=backend, n_threads=n_threads)
    raise ValueError(impl)


def test_distances(axf_case, axf_run, benchmark):
    axf_run(benchmark, axf_case)
