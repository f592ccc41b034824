"""alignxpert_fast.dask on a 2-worker cluster (``LocalCluster(n_workers=2,
threads_per_worker=1, processes=True)``), next to the in-memory calls.

* ``kernel_matvec``: RBF ``K(X, Y) @ V``, float32, d = 256, p = 16: the in-memory native
  call with 2 threads, and the cluster (X in 8 row chunks, Y one chunk replicated on
  both workers, V shared; 1 thread per task), both with X, Y, V already in place (the
  cluster's inputs are persisted on the workers).  ``ratio_to_in_memory`` (target <= 1.3)
  is stored on the cluster case.
* ``transform``: rows per second of ``transform`` from Zarr back to Zarr (d = 768, k = 128).
* ``fit``: ``AlignXpert.fit`` from Zarr (d = 768 / 384, k = 128, batch 1024, ``tol=0``,
  chunks of 8192 rows): seconds and the peak resident memory of every worker (VmHWM,
  reset before the fit).  Zarr stores are written uncompressed.

Sizes: "scaled" by default (matvec n = m = 20000; transform 50000 rows; fit 20000 pairs,
100 steps) so they run on a 2-core machine; "full" is marked heavy (matvec n = m =
200000; transform 10^7 rows; fit 10^7 pairs, 1000 steps: 46 GB of Zarr, not for a laptop).

    python -m pytest benchmarks/bench_dask.py --benchmark-enable --benchmark-only [--run-heavy]
"""
from __future__ import annotations

import os
import time

import numpy as np
import pytest

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")
pytest.importorskip("zarr")

import dask  # noqa: E402
from conftest import _reset_hwm, _status_kb, store_info  # noqa: E402

import alignxpert_fast as axf  # noqa: E402
import alignxpert_fast.dask as axd  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(axf.__file__)))
SIZES = {
    "scaled": dict(matvec=dict(n=20_000, m=20_000, d=256, p=16), transform=dict(rows=50_000, d=768, k=128),
                   fit=dict(n=20_000, dims=(768, 384), k=128, steps=100)),
    "full": dict(matvec=dict(n=200_000, m=200_000, d=256, p=16), transform=dict(rows=10_000_000, d=768, k=128),
                 fit=dict(n=10_000_000, dims=(768, 384), k=128, steps=1000)),
}
SCALES = [pytest.param("scaled", id="scaled"), pytest.param("full", id="full", marks=pytest.mark.heavy)]
CHUNK = 50_000
_in_memory_median = {}


@pytest.fixture(scope="module")
def client(axf_run):  # axf_run: the machine-wide benchmark lock
    env = {"PYTHONPATH": os.pathsep.join(p for p in (ROOT, os.environ.get("PYTHONPATH")) if p)}
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                  env=env) as cluster, distributed.Client(cluster) as c:
        axd.warm_up(c)
        with dask.config.set(scheduler=c):
            yield c


def _matvec_data(n, m, d, p):
    rng = np.random.default_rng(0)
    return (rng.standard_normal((n, d), dtype=np.float32), rng.standard_normal((m, d), dtype=np.float32),
            rng.standard_normal((m, p), dtype=np.float32))


def _rounds(scale):
    """Three timed rounds after a warm-up when scaled; one round at full size (a call
    takes minutes there: the warm-up is the cluster's ``warm_up`` and the first tiles)."""
    return dict(rounds=3, warmup_rounds=1, iterations=1) if scale == "scaled" else dict(rounds=1, iterations=1)


def _median(benchmark):
    return benchmark.stats.stats.median if getattr(benchmark, "stats", None) else None


@pytest.mark.parametrize("scale", SCALES)
def test_kernel_matvec_in_memory(benchmark, scale, axf_run):
    X, Y, V = _matvec_data(**SIZES[scale]["matvec"])
    benchmark.group = f"dask kernel_matvec {scale}"
    benchmark.pedantic(lambda: axf.kernel_matvec(X, Y, V, backend="native", n_threads=2), **_rounds(scale))
    _in_memory_median[scale] = _median(benchmark)
    store_info(benchmark, impl="in-memory native 2 threads", loadavg_1m=os.getloadavg()[0],
               **SIZES[scale]["matvec"])


@pytest.mark.parametrize("scale", SCALES)
def test_kernel_matvec_cluster(benchmark, scale, client):
    cfg = SIZES[scale]["matvec"]
    rng = da.random.default_rng(0)  # generated on the workers (same shapes and law as in memory)
    Xd = rng.standard_normal((cfg["n"], cfg["d"]), chunks=(-(-cfg["n"] // 8), -1), dtype=np.float32).persist()
    Yd = rng.standard_normal((cfg["m"], cfg["d"]), chunks=(-1, -1), dtype=np.float32).persist()
    Vd = rng.standard_normal((cfg["m"], cfg["p"]), chunks=(-1, -1), dtype=np.float32).persist()
    distributed.wait([Xd, Yd, Vd])
    client.replicate([k for a in (Yd, Vd) for k in a.__dask_keys__()[0]])  # Y and V on both workers
    benchmark.group = f"dask kernel_matvec {scale}"
    benchmark.pedantic(lambda: axd.kernel_matvec(Xd, Yd, Vd, n_threads=1).compute(), **_rounds(scale))
    mem = _in_memory_median.get(scale)
    med = _median(benchmark)
    store_info(benchmark, impl="cluster 2 workers x 1 thread", loadavg_1m=os.getloadavg()[0],
               ratio_to_in_memory=(med / mem) if (mem and med) else None, **SIZES[scale]["matvec"])


def _paired_zarr(path, n, dims, seed=0, chunk=CHUNK):
    """Views with a shared latent, written to uncompressed Zarr (random floats do not
    compress; the benchmark times reading and the kernels, not a codec)."""
    import zarr

    codec = {"compressors": None} if int(zarr.__version__.split(".")[0]) >= 3 else {"compressor": None}
    rng = da.random.default_rng(seed)
    L = rng.standard_normal((n, 32), chunks=(chunk, -1)).astype(np.float32)
    A = np.random.default_rng(seed + 1).standard_normal((32, sum(dims))).astype(np.float32) / np.float32(np.sqrt(32))
    out, c0 = [], 0
    for m, d in enumerate(dims):
        X = L @ A[:, c0:c0 + d] + np.float32(0.3) * rng.standard_normal((n, d), chunks=(chunk, -1),
                                                                        dtype=np.float32)
        X.to_zarr(os.path.join(path, f"x{m}.zarr"), **codec)
        out.append(da.from_zarr(os.path.join(path, f"x{m}.zarr")))
        c0 += d
    return out


def _peak_mb():
    """This worker's resident high-water mark in MiB (run on every worker by ``client.run``)."""
    hwm = _status_kb().get("VmHWM")
    return None if hwm is None else hwm / 1024


@pytest.mark.parametrize("scale", SCALES)
def test_transform_from_zarr(benchmark, scale, client, tmp_path):
    cfg = SIZES[scale]["transform"]
    (X,) = _paired_zarr(str(tmp_path), cfg["rows"], (cfg["d"],))
    small = X[:4000].compute()
    est = axf.AlignXpert(n_components=cfg["k"], max_iter=5, random_state=0).fit([small, small[:, :64]])
    runs = iter(range(100))

    def run():
        est.transform(X, modality=0).to_zarr(str(tmp_path / f"z{next(runs)}.zarr"))

    benchmark.group = f"dask transform {scale}"
    benchmark.pedantic(run, rounds=1, warmup_rounds=0, iterations=1)
    med = _median(benchmark)
    store_info(benchmark, rows=cfg["rows"], d=cfg["d"], k=cfg["k"], rows_per_s=cfg["rows"] / med if med else None,
               loadavg_1m=os.getloadavg()[0])


@pytest.mark.parametrize("scale", SCALES)
def test_fit_from_zarr(benchmark, scale, client, tmp_path):
    cfg = SIZES[scale]["fit"]
    # chunks of 8 batches: each Adam step reads one chunk per view
    views = _paired_zarr(str(tmp_path), cfg["n"], cfg["dims"], chunk=8192)
    client.run(_reset_hwm)
    t = {}

    def run():
        t0 = time.perf_counter()
        axf.AlignXpert(n_components=cfg["k"], solver="adam", max_iter=cfg["steps"], tol=0, batch_size=1024,
                       random_state=0).fit(views)
        t["fit_s"] = time.perf_counter() - t0

    benchmark.group = f"dask fit {scale}"
    benchmark.pedantic(run, rounds=1, warmup_rounds=0, iterations=1)
    peaks = client.run(_peak_mb)
    store_info(benchmark, n=cfg["n"], dims=list(cfg["dims"]), k=cfg["k"], steps=cfg["steps"], fit_s=t["fit_s"],
               s_per_step=t["fit_s"] / cfg["steps"], worker_peak_mb=sorted(peaks.values()),
               inputs_mb=sum(v.nbytes for v in views) / 2**20, loadavg_1m=os.getloadavg()[0])
