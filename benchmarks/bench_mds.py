"""Metric MDS, d = 64 -> 2: scikit-learn's ``MDS(n_init=1)`` (SMACOF) against ours, same run.

* n = 2000 and n = 5000 (10 Gaussian blobs in 64 dimensions, float64):
  scikit-learn ``MDS(n_init=1, init="random")`` (1.9's default start) and
  ``init="classical_mds"`` (1.10's default), one timed round each (they take seconds to
  minutes); ours with its defaults (classical-MDS start, full-batch L-BFGS on the
  distance cache), n_threads 1 and 2, three rounds after one warm-up (Numba JIT and
  thread pools are not timed).
* n = 50000 (heavy, ``--run-heavy``): ours only, 2 threads, one round: the cache would
  take 10 GB, so ``solver="auto"`` runs the sampled solver in O(n d) memory.
  scikit-learn would need several 50000 x 50000 float64 matrices (20 GB each).

Every case stores in ``extra_info``: ``sigma`` (the normalized stress
``sqrt(sum (D - E)^2 / sum D^2)`` of the final embedding, exact, computed after timing
with :func:`alignxpert_fast.stress`), ``stress1`` (scikit-learn's normalized stress
``sqrt(sum (D - E)^2 / sum E^2)``, from the same sums), ``n_iter``, ``peak_rss_mb`` (peak
extra resident memory of the last timed call, VmHWM: meaningful for single-round cases,
whose call is the first; later rounds reuse freed heap), for ours with several rounds
``tracemalloc_peak_mb`` (peak of NumPy / Python allocations in one extra untimed call), and for ours
``time_ratio_to_sklearn`` (our median over the median of each scikit-learn start, same
session), ``solver``.

    python -m pytest benchmarks/bench_mds.py --benchmark-enable --benchmark-only \
        [--run-heavy] --benchmark-json=mds.json
"""
import os
import time

import numpy as np
import pytest

SIZES = (2000, 5000)
D_IN, K = 64, 2
SMALL = {2000: 300, 5000: 600, 50000: 3000}  # --bench-scale=small / AXF_BENCH_SMALL=1
_SKLEARN_MEDIANS = {}  # (n, init) -> seconds, filled by the scikit-learn cases of this session


def _cases():
    cases = []
    for n in SIZES:
        cases += [("sklearn", n, "random", 1), ("sklearn", n, "classical_mds", 1)]
        cases += [("ours", n, "classical_mds", t) for t in (1, 2)]
    cases.append(pytest.param(("ours", 50000, "classical_mds", 2), marks=pytest.mark.heavy))
    return cases


def _data(n):
    from sklearn.datasets import make_blobs

    X, _ = make_blobs(n_samples=n, n_features=D_IN, centers=10, cluster_std=3.0, random_state=0)
    return np.ascontiguousarray(X, dtype=np.float64)


_DATA = {}


def _get(n):
    if n not in _DATA:
        _DATA.clear()
        _DATA[n] = _data(n)
    return _DATA[n]


def _status_kb(key):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return None


class _Call:
    """Runs one fit, keeps its estimator, and the peak extra RSS of the last call."""

    def __init__(self, make):
        self.make, self.est, self.peak_mb = make, None, None

    def __call__(self):
        self.est = None
        try:
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")  # reset VmHWM to the current RSS
            rss0 = _status_kb("VmRSS")
        except OSError:
            rss0 = None
        est = self.make()
        hwm = _status_kb("VmHWM")
        self.peak_mb = (hwm - rss0) / 1024 if (rss0 is not None and hwm is not None) else None
        self.est = est


def _final_stress(X, Z, n_threads):
    from alignxpert_fast import stress
    from alignxpert_fast.manifold._mds_init import sum_sq_embedding, sum_sq_features

    sigma = stress(X, Z, n_threads=n_threads)
    raw = sigma**2 * sum_sq_features(X)
    return sigma, float(np.sqrt(raw / sum_sq_embedding(Z)))


@pytest.mark.parametrize("case", _cases(), ids=lambda c: f"{c[0]}-n{c[1]}-{c[2]}-{c[3]}t")
def test_mds(case, axf_run, benchmark, request):
    impl, n, init, n_threads = case
    opt = request.config.getoption("--bench-scale")
    if opt == "small" or (opt is None and os.environ.get("AXF_BENCH_SMALL", "") not in ("", "0")):
        n = SMALL[n]  # smoke run
    X = _get(n)
    benchmark.group = f"mds n={n} d={D_IN} k={K} float64"
    if impl == "sklearn":
        from sklearn.manifold import MDS as SkMDS
        from threadpoolctl import threadpool_limits

        def make():
            with threadpool_limits(limits=n_threads, user_api="blas"):
                return SkMDS(n_components=K, n_init=1, init=init, random_state=0, n_jobs=1).fit(X)

        rounds, warmup = int(os.environ.get("AXF_BENCH_ROUNDS", 1)), 0
    else:
        from alignxpert_fast import MDS

        def make():
            return MDS(n_components=K, init=init, random_state=0, n_threads=n_threads).fit(X)

        if n <= 5000 and n > 200:
            MDS(n_components=K, n_threads=n_threads).fit(X[:200])  # warm-up: JIT, thread pools
        rounds = int(os.environ.get("AXF_BENCH_ROUNDS", 3 if n <= 5000 else 1))
        warmup = 0
    call = _Call(make)
    load = os.getloadavg()[0]
    benchmark.pedantic(call, rounds=rounds, warmup_rounds=warmup, iterations=1)
    est = call.est
    t0 = time.perf_counter()
    sigma, s1 = _final_stress(X, est.embedding_, n_threads=2)
    info = dict(impl=impl, init=init, n=n, d=D_IN, k=K, n_threads=n_threads, n_iter=int(est.n_iter_),
                sigma=float(sigma), stress1=float(s1), peak_rss_mb=call.peak_mb, loadavg_1m=load,
                final_stress_eval_s=time.perf_counter() - t0)
    if impl == "ours" and rounds > 1:
        # the rounds reuse freed heap, so VmHWM stays flat: trace one more (untimed) call
        import tracemalloc

        tracemalloc.start()
        try:
            make()
            info["tracemalloc_peak_mb"] = tracemalloc.get_traced_memory()[1] / 2**20
        finally:
            tracemalloc.stop()
    median = benchmark.stats.stats.median if getattr(benchmark, "stats", None) else None
    if impl == "sklearn" and median is not None:
        _SKLEARN_MEDIANS[(n, init)] = median
    if impl == "ours":
        info["solver"] = est.solver_
        info["sigma_reported"] = float(est.sigma_)
        for sk_init in ("random", "classical_mds"):
            if median is not None and (n, sk_init) in _SKLEARN_MEDIANS:
                info[f"time_ratio_to_sklearn_{sk_init}"] = median / _SKLEARN_MEDIANS[(n, sk_init)]
    for key, value in info.items():
        benchmark.extra_info[key] = float(f"{value:.6g}") if isinstance(value, float) else value
