"""The contrastive similarity and its gradient: ``contrastive_similarity_and_grad(A, B)``.

One value + gradient evaluation (rbf kernel, gamma = 1 / (2 k), temperature 0.1), float32,
2 threads, backends native and numba, next to the GEMM ``A @ B.T`` of the same shape
(n x k by k x n) measured in the same session:

* n = 10000, k = 128 (the GEMM forms the 400 MB product in one piece);
* n = 50000, k = 128, heavy (the GEMM runs on row panels: the full product would need
  10 GB); one timed round without warm-up (Numba still gets one: JIT is never timed).

The kernel does 4 n^2 k multiply-adds (the logits twice, then ``W B`` and ``W^T A``) plus
a few exponentials per logit, against the GEMM's n^2 k; peak memory is O(n k) plus per
thread one tile and one float64 (n, k) dB accumulator (extra_info ``peak_memory_mb``).

    python -m pytest benchmarks/bench_contrastive.py --benchmark-enable --benchmark-only [--run-heavy]
"""
AXF_GROUPS = [
    dict(op="contrastive_similarity_and_grad", shape="contrastive", dtypes=("float32",), impls=("gemm", "ours"),
         threads=(2,), rounds=3),
    dict(op="contrastive_similarity_and_grad", shape="contrastive_big", dtypes=("float32",), impls=("gemm", "ours"),
         threads=(2,), heavy=True, rounds=1, warmup_rounds=0),
]


def build(op, impl, data, *, backend=None, n_threads=None):
    A, B = data["X"], data["Y"]
    if impl == "ours":
        from alignxpert_fast.alignment.similarity import contrastive_similarity_and_grad

        gamma = 1.0 / (2 * A.shape[1])
        return lambda: contrastive_similarity_and_grad(A, B, kernel="rbf", gamma=gamma, temperature=0.1,
                                                       backend=backend, n_threads=n_threads)
    raise ValueError(impl)


def test_contrastive(axf_case, axf_run, benchmark):
    axf_run(benchmark, axf_case)
