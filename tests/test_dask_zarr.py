"""Out of core, scaled down: two views stored as Zarr on disk, larger than the memory
limit of each worker of a 2-process LocalCluster, fitted from their chunks and
transformed back to Zarr; the peak memory of every worker is reported (and must stay
under its limit: the nanny would kill a worker above 95% of it)."""
from __future__ import annotations

import os

import numpy as np
import pytest

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")
pytest.importorskip("zarr")

import dask  # noqa: E402

import alignxpert_fast as axf  # noqa: E402
from alignxpert_fast.evaluation import metrics  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(axf.__file__)))
N, D1, D2, CHUNK = 250_000, 160, 96, 10_000  # 256 MB of float32 on disk (uncompressed)
LIMIT_MB = 220


def _peak_mb(dask_worker=None):
    """VmHWM (peak resident memory) of this worker process, in MiB."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")  # pragma: no cover - not Linux


def _uncompressed():
    import zarr

    return {"compressors": None} if int(zarr.__version__.split(".")[0]) >= 3 else {"compressor": None}


def _write_views(path):
    rng = da.random.default_rng(0)
    L = rng.standard_normal((N, 6), chunks=(CHUNK, 6))
    A = np.random.default_rng(1).standard_normal((6, D1 + D2))
    for name, cols in (("x1", slice(0, D1)), ("x2", slice(D1, D1 + D2))):
        X = L @ A[:, cols] + 0.3 * rng.standard_normal((N, cols.stop - cols.start), chunks=(CHUNK, -1))
        # uncompressed (random floats do not compress): the test times reading, not decoding
        X.astype(np.float32).to_zarr(os.path.join(path, f"{name}.zarr"), **_uncompressed())


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="peak memory is read from /proc")
def test_fit_and_transform_from_zarr_under_a_worker_memory_limit(tmp_path, record_property, capsys):
    with dask.config.set(scheduler="threads", num_workers=2):
        _write_views(str(tmp_path))  # written chunk by chunk, never whole
    env = {"PYTHONPATH": os.pathsep.join(p for p in (ROOT, os.environ.get("PYTHONPATH")) if p)}
    # no pause / spill thresholds: the only limit is the nanny's, which kills a worker at 95%
    cfg = {"distributed.worker.memory.pause": False, "distributed.worker.memory.spill": False,
           "distributed.worker.memory.target": False}
    with dask.config.set(cfg), distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, memory_limit=f"{LIMIT_MB}MiB",
            dashboard_address=None, env=env) as cluster, distributed.Client(cluster) as client:
        views = [da.from_zarr(str(tmp_path / f"{name}.zarr")) for name in ("x1", "x2")]
        data_mb = sum(v.nbytes for v in views) / 2**20
        assert data_mb > LIMIT_MB and views[0].chunks[0][0] == CHUNK
        # the linear map: the default residual Nystroem map adds chunk x n_landmarks per task,
        # more than this test's deliberately tight worker limit leaves
        est = axf.AlignXpert(n_components=4, max_iter=20, batch_size=512, random_state=0,
                             feature_map="linear").fit(views)
        Zs = est.transform(views)
        for m, Z in enumerate(Zs):  # out of core back to disk, one task per chunk
            Z.to_zarr(str(tmp_path / f"z{m}.zarr"))
        peaks = client.run(_peak_mb)
    Z = [da.from_zarr(str(tmp_path / f"z{m}.zarr"))[:2000].compute(scheduler="sync") for m in range(2)]
    mrr = metrics.mean_reciprocal_rank(Z[0], Z[1], metric="euclidean")
    with capsys.disabled():
        print(f"\n[out-of-core] data {data_mb:.0f} MiB in Zarr, worker limit {LIMIT_MB} MiB, peak RSS per worker "
              f"{', '.join(f'{p:.0f}' for p in peaks.values())} MiB; MRR on 2000 rows {mrr:.3f}")
    record_property("worker_peak_mb", sorted(peaks.values()))
    assert len(peaks) == 2 and all(p < LIMIT_MB for p in peaks.values())
    assert est.solver_ == "adam" and est.n_iter_ == 20 and np.isfinite(est.loss_)
    assert mrr > 20 * np.mean(1.0 / np.arange(1, 2001))
