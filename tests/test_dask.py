"""alignxpert_fast.dask against the in-memory functions, on the threaded scheduler and on a
``LocalCluster(n_workers=2, threads_per_worker=1, processes=True)`` (one per module).

Workers import the package from the source tree (PYTHONPATH is set for them, so an
in-place build works as well as ``pip install -e .``).  The out-of-core fit (Zarr on
disk, workers with a memory limit below the data size) is in ``test_dask_zarr.py``.
"""
from __future__ import annotations

import os
import pickle
import subprocess
import sys

import numpy as np
import pytest

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")

import dask  # noqa: E402

import alignxpert_fast as axf  # noqa: E402
import alignxpert_fast.dask as axd  # noqa: E402
from alignxpert_fast.evaluation import metrics  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(axf.__file__)))
GRAMS = ("rbf_kernel", "polynomial_kernel", "linear_kernel", "cosine_similarity", "euclidean_distances")
TOL = {np.float32: dict(rtol=2e-4, atol=2e-5), np.float64: dict(rtol=1e-9, atol=1e-11)}


def _tol(dtype):
    return TOL[np.dtype(dtype).type]


@pytest.fixture(scope="module")
def cluster_client():
    env = {"PYTHONPATH": os.pathsep.join(p for p in (ROOT, os.environ.get("PYTHONPATH")) if p)}
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                  env=env) as cluster, distributed.Client(cluster) as client:
        yield client


@pytest.fixture(params=["threads", "cluster"])
def scheduler(request):
    """Run the test body on the threaded scheduler or on the 2-process cluster."""
    if request.param == "threads":
        with dask.config.set(scheduler="threads"):
            yield "threads"
    else:
        client = request.getfixturevalue("cluster_client")
        with client.as_current(), dask.config.set(scheduler=client):
            yield "cluster"


def _data(rng, dtype, n=100, m=61, d=7):
    X = rng.standard_normal((n, d)).astype(dtype)
    Y = rng.standard_normal((m, d)).astype(dtype)
    return X, Y


def _y_variants(Y):
    """Y=None, NumPy, a dask array of one chunk and of many (ragged) chunks."""
    return {"none": None, "numpy": Y, "dask1": da.from_array(Y, chunks=(-1, -1)),
            "daskN": da.from_array(Y, chunks=(17, 7))}


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
def test_gram_functions_match_in_memory(scheduler, dtype, rng):
    X, Y = _data(rng, dtype)
    Xd = da.from_array(X, chunks=(37, 7))  # ragged: 37, 37, 26
    cases = [(name, kind, y) for name in GRAMS for kind, y in _y_variants(Y).items()]
    lazies = [getattr(axd, name)(Xd, y) for name, kind, y in cases]
    assert all(isinstance(z, da.Array) and z.dtype == dtype for z in lazies)
    for (name, kind, y), got in zip(cases, dask.compute(*lazies)):  # one graph: one round trip
        want = getattr(axf, name)(X, None if y is None else Y)
        assert got.dtype == want.dtype, (name, kind)
        np.testing.assert_allclose(got, want, err_msg=f"{name} Y={kind}", **_tol(dtype))
        if y is None and name in ("rbf_kernel", "euclidean_distances"):
            # diagonal blocks take the symmetric path: exact 1 / 0 on the diagonal
            assert np.all(np.diag(got) == (1 if name == "rbf_kernel" else 0))


@pytest.fixture
def sync():
    with dask.config.set(scheduler="sync"):
        yield


def test_gram_chunks_and_parameters(rng, sync):
    X, Y = _data(rng, np.float64)
    K = axd.polynomial_kernel(da.from_array(X, chunks=(37, 7)), da.from_array(Y, chunks=(20, 7)), degree=2,
                              gamma=0.3, coef0=0.5)
    assert K.chunks == ((37, 37, 26), (20, 20, 20, 1))
    np.testing.assert_allclose(K.compute(scheduler="sync"), axf.polynomial_kernel(X, Y, 2, 0.3, 0.5), rtol=1e-12)
    np.testing.assert_allclose(axd.euclidean_distances(X, Y, squared=True).compute(scheduler="sync"),
                               axf.euclidean_distances(X, Y, squared=True), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
def test_kernel_matvec_and_row_sums(scheduler, dtype, rng):
    X, Y = _data(rng, dtype)
    Xd = da.from_array(X, chunks=(37, 7))
    V = rng.standard_normal((Y.shape[0], 3)).astype(dtype)
    VX = rng.standard_normal((X.shape[0], 3)).astype(dtype)
    cases, lazies = [], []
    # every kernel on the threaded scheduler; two on the cluster (its scatters cost round trips)
    for kernel in ("rbf", "cosine", "poly", "linear") if scheduler == "threads" else ("rbf", "poly"):
        for kind, y in _y_variants(Y).items():
            vsrc = VX if y is None else V
            yy = None if y is None else Y
            for vkind, v in (("numpy", vsrc), ("dask", da.from_array(vsrc, chunks=(23, 3))),
                             ("1-D", da.from_array(vsrc[:, 0], chunks=29))):
                lazies.append(axd.kernel_matvec(Xd, y, v, kernel=kernel))
                cases.append((f"{kernel} Y={kind} V={vkind}",
                              axf.kernel_matvec(X, yy, vsrc[:, 0] if vkind == "1-D" else vsrc, kernel=kernel)))
            lazies.append(axd.kernel_row_sums(Xd, y, kernel=kernel))
            cases.append((f"row sums {kernel} Y={kind}", axf.kernel_row_sums(X, yy, kernel=kernel)))
    assert all(z.chunks[0] == Xd.chunks[0] and z.dtype == dtype for z in lazies)
    for (what, want), got in zip(cases, dask.compute(*lazies)):
        np.testing.assert_allclose(got, want, err_msg=what, **_tol(dtype))


def test_matvec_many_chunks_is_a_tree_sum(rng, sync):
    X, Y = _data(rng, np.float32, n=50, m=200)
    V = rng.standard_normal((200, 2)).astype(np.float32)
    out = axd.kernel_matvec(da.from_array(X, chunks=(25, 7)), da.from_array(Y, chunks=(10, 7)), V, gamma=0.2,
                            split_every=3)
    names = {k[0] if isinstance(k, tuple) else k for k in dict(out.dask)}
    assert any("sum" in n for n in names)  # partials over the 20 Y chunks, summed by a tree of fan-in 3
    np.testing.assert_allclose(out.compute(), axf.kernel_matvec(X, Y, V, gamma=0.2),
                               rtol=2e-5, atol=2e-5)


def test_small_operands_are_shared_once(cluster_client, rng):
    X, Y = _data(rng, np.float64, m=3000, d=7)
    V = rng.standard_normal((3000, 4))
    with cluster_client.as_current(), dask.config.set(scheduler=cluster_client):
        out = axd.kernel_matvec(da.from_array(X, chunks=(10, 7)), Y, V)
    # Y and V enter the graph as two scattered futures, never inside the 10 tasks
    big = [k for k, t in dict(out.dask).items() if len(pickle.dumps(t, protocol=5)) > Y.nbytes // 2]
    assert not big
    np.testing.assert_allclose(cluster_client.compute(out).result(), axf.kernel_matvec(X, Y, V), rtol=1e-10)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
def test_stress_and_grad_match_in_memory(scheduler, dtype, rng):
    n = 120
    X = (rng.standard_normal((n, 9)) + 3.0).astype(dtype)
    Z = (X[:, :4] * 0.8 + 0.2 * rng.standard_normal((n, 4))).astype(dtype)
    want_v, want_g = axf.stress_and_grad(X, Z)
    for xc, zc in ((37, 37), (37, 50), (n, n)):
        v, g = axd.stress_and_grad(da.from_array(X, chunks=(xc, 9)), da.from_array(Z, chunks=(zc, 4)))
        assert g.chunks[0] == da.from_array(X, chunks=(xc, 9)).chunks[0]
        v, g = dask.compute(v, g)
        assert g.dtype == dtype
        rtol = 1e-5 if dtype == np.float32 else 1e-10
        assert float(v) == pytest.approx(want_v, rel=rtol)
        np.testing.assert_allclose(g, want_g, rtol=50 * rtol, atol=50 * rtol * np.abs(want_g).max())
        assert float(axd.stress(da.from_array(X, chunks=(xc, 9)), Z).compute()) == pytest.approx(want_v, rel=rtol)


def test_stress_pair_tasks_and_isometry(rng, sync):
    X = rng.standard_normal((90, 5))
    Q = np.linalg.qr(rng.standard_normal((5, 5)))[0]
    Xd = da.from_array(X, chunks=(30, 5))
    v, g = axd.stress_and_grad(Xd, Xd @ Q)  # an isometry: stress at rounding level, gradient 0
    v, g = dask.compute(v, g)
    assert float(v) < 1e-12 and not np.any(g)
    names = [k[0] if isinstance(k, tuple) else k for k in dict(axd.stress(Xd, X).dask)]
    assert sum(n.startswith("_pair_task") for n in names) == 6  # 3 chunks: the 6 pairs I <= J


def test_unaligned_chunks_are_accepted(scheduler, rng):
    """Chunks that arrive unaligned (as workers may unpickle them) are copied aligned."""
    X = rng.standard_normal((64, 8)).astype(np.float32)
    buf = np.empty(X.nbytes + 1, dtype=np.uint8)
    Xu = np.frombuffer(buf.data, dtype=np.float32, count=X.size, offset=1).reshape(X.shape)
    Xu[...] = X
    assert not Xu.flags.aligned
    Xd = da.from_array(Xu, chunks=(20, 8))
    V = rng.standard_normal((64, 2)).astype(np.float32)
    got = Xd.map_blocks(lambda b: b, dtype=np.float32)  # blocks reach the kernels as they are
    np.testing.assert_allclose(axd.kernel_matvec(got, got, V).compute(), axf.kernel_matvec(X, X, V), rtol=2e-5,
                               atol=2e-5)
    np.testing.assert_allclose(axd.rbf_kernel(got).compute(), axf.rbf_kernel(X), rtol=2e-5, atol=2e-6)


def test_task_threads(cluster_client):
    from alignxpert_fast._utils.threads import effective_n_threads

    # a worker with 1 thread and the nanny's OMP_NUM_THREADS=1: one thread per task
    assert set(cluster_client.run(lambda: axd.task_threads(None)).values()) == {1}
    assert cluster_client.submit(axd.task_threads, None, pure=False).result() == 1
    assert cluster_client.submit(axd.task_threads, 2, pure=False).result() == 2
    assert dask.delayed(axd.task_threads)(None).compute(scheduler="threads") == 1
    assert dask.delayed(axd.task_threads)(None).compute(scheduler="sync") == effective_n_threads(None)


def test_task_functions_pickle_by_reference():
    from alignxpert_fast.dask import _gram, _reductions, _stress, _views, _warm

    for fn in (_gram._gram_task, _reductions._matvec_task, _reductions._row_sums_task, _stress._pair_task,
               _stress._add, _stress._finish, _stress._scale_rows, _views._transform_task, _warm.warm_numba,
               metrics._ranks_task, metrics._top_k_task):
        data = pickle.dumps(fn)
        assert len(data) < 200 and pickle.loads(data) is fn


def test_numba_backend_on_the_cluster(cluster_client, rng):
    from alignxpert_fast.dask._plugin import NumbaWarmup

    pids = axd.warm_up(cluster_client)
    assert len(pids) == 2 and len(set(pids.values())) == 2
    # a worker plugin: every worker (also one that joins later) compiled the kernels once
    plugins = cluster_client.run(lambda dask_worker: sorted(dask_worker.plugins))
    assert all(NumbaWarmup.name in names for names in plugins.values())
    X = rng.standard_normal((70, 6)).astype(np.float32)
    V = rng.standard_normal((70, 2)).astype(np.float32)
    with dask.config.set(scheduler=cluster_client):
        out = axd.kernel_matvec(da.from_array(X, chunks=(37, 6)), None, V, backend="numba")
    np.testing.assert_allclose(cluster_client.compute(out).result(), axf.kernel_matvec(X, None, V), rtol=2e-5,
                               atol=2e-5)


def test_bad_inputs(sync):
    X = da.ones((10, 3), chunks=5)
    with pytest.raises(ValueError, match="X must be a 2-D dask array"):
        axd.rbf_kernel(da.ones(10, chunks=5))
    with pytest.raises(ValueError, match="Incompatible dimension"):
        axd.linear_kernel(X, np.ones((4, 2)))
    with pytest.raises(ValueError, match="gamma must be > 0"):
        axd.rbf_kernel(X, gamma=-1.0)
    with pytest.raises(ValueError, match="V must have one row per row of Y"):
        axd.kernel_matvec(X, X, np.ones(4))
    with pytest.raises(TypeError, match="use kernel_row_sums"):
        axd.kernel_matvec(X, X, None)
    with pytest.raises(ValueError, match="same number of rows"):
        axd.stress(X, da.ones((9, 2), chunks=5))
    with pytest.raises(TypeError, match="real numeric dtype"):
        axd.rbf_kernel(da.from_array(np.array([["a"]])))
    bad = da.from_array(np.array([[np.nan, 1.0], [0.0, 1.0]]), chunks=1)
    with pytest.raises(ValueError, match="non-finite"):  # values are checked in each task
        axd.rbf_kernel(bad).compute(scheduler="sync")


# ------------------------------------------------------------------- the estimator
def _paired(rng, n, dtype=np.float32):
    L = rng.standard_normal((n, 5))
    X1 = (L @ rng.standard_normal((5, 16)) + 0.2 * rng.standard_normal((n, 16))).astype(dtype)
    X2 = (L @ rng.standard_normal((5, 10)) + 0.2 * rng.standard_normal((n, 10))).astype(dtype)
    return X1, X2


def _mrr(est, views):
    Z = [np.asarray(z) for z in est.transform(views)]
    return metrics.mean_reciprocal_rank(Z[0], Z[1], metric="euclidean")


def test_fit_on_dask_views_reaches_in_memory_quality(rng, sync):
    X1, X2 = _paired(rng, 1600)
    kw = dict(n_components=4, solver="adam", max_iter=150, batch_size=200, random_state=0)
    mem = axf.AlignXpert(**kw).fit([X1, X2])
    with dask.config.set(scheduler="threads"):
        lazy = axf.AlignXpert(**kw).fit([da.from_array(X1, chunks=(400, 16)), da.from_array(X2, chunks=(400, 10))])
    assert lazy.solver_ == "adam" and lazy.n_iter_ == mem.n_iter_
    a, b = _mrr(mem, [X1, X2]), _mrr(lazy, [X1, X2])
    chance = np.mean(1.0 / np.arange(1, 1601))
    assert a > 20 * chance and b > 20 * chance
    assert abs(a - b) < 0.05, (a, b)  # same data and seed; only the minibatch draws differ
    np.testing.assert_allclose(lazy.means_[0], mem.means_[0], rtol=1e-5, atol=1e-6)
    assert lazy.scales_[1] == pytest.approx(mem.scales_[1], rel=1e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
def test_transform_of_dask_arrays_equals_in_memory(scheduler, dtype, rng):
    X1, X2 = _paired(rng, 300, dtype)
    est = axf.AlignXpert(n_components=3, max_iter=20, random_state=0).fit([X1, X2])
    Zd = est.transform([da.from_array(X1, chunks=(37, 16)), da.from_array(X2, chunks=(100, 10))])
    want = est.transform([X1, X2])
    # equal up to the last bit of BLAS products of different block shapes
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-13, atol=1e-14)
    for z, w in zip(Zd, want):
        assert isinstance(z, da.Array) and z.chunks[1] == (3,) and z.dtype == dtype
        np.testing.assert_allclose(z.compute(), w, **tol)
    one = est.transform(da.from_array(X2, chunks=(37, 10)), modality=1)
    np.testing.assert_allclose(one.compute(), want[1], **tol)
    want = [z.compute() for z in Zd]  # the metrics below compare the same numbers
    # the metrics take the dask query side
    assert metrics.mean_reciprocal_rank(Zd[0], want[1]) == metrics.mean_reciprocal_rank(want[0], want[1])
    assert metrics.recall_at_k(Zd[1], Zd[0], k=[1, 5], metric="dot") == metrics.recall_at_k(
        want[1], want[0], k=[1, 5], metric="dot")
    np.testing.assert_array_equal(metrics.top_k_indices(Zd[0], want[1], 4, metric="euclidean").compute(),
                                  metrics.top_k_indices(want[0], want[1], 4, metric="euclidean"))
    y = np.arange(300) % 4
    assert metrics.label_precision_at_k(Zd[0], y, want[1], y, 5) == metrics.label_precision_at_k(
        want[0], y, want[1], y, 5)


def test_fit_on_the_cluster(cluster_client, rng):
    X1, X2 = _paired(rng, 600, np.float64)
    with cluster_client.as_current(), dask.config.set(scheduler=cluster_client):
        est = axf.AlignXpert(n_components=3, max_iter=15, batch_size=128, random_state=1).fit(
            [da.from_array(X1, chunks=(150, 16)), da.from_array(X2, chunks=(150, 10))])
        Z = est.transform([da.from_array(X1, chunks=(150, 16)), X2])  # any dask view: all lazy
        assert isinstance(Z[0], da.Array) and isinstance(Z[1], da.Array)
        np.testing.assert_allclose(Z[0].compute(), est.transform([X1, X2])[0], rtol=1e-13, atol=1e-14)
    assert est.n_iter_ == 15 and np.isfinite(est.loss_)


def test_estimator_refuses_what_needs_memory(sync):
    X = da.ones((50, 3), chunks=10)
    with pytest.raises(ValueError, match="solver='lbfgs' is full batch"):
        axf.AlignXpert(solver="lbfgs").fit([X, X])
    with pytest.raises(ValueError, match="n_components='auto' needs in-memory views"):
        axf.AlignXpert(n_components="auto").fit([X, X])
    with pytest.raises(ValueError, match="same number of rows"):
        axf.AlignXpert().fit([X, X[:40]])


def test_chunk_sampler_draws_from_consecutive_chunks():
    from alignxpert_fast.dask._views import ChunkSampler

    s = ChunkSampler((40, 40, 20, 7, 5))
    assert s.groups(30) == [(0, 40), (40, 80), (80, 112)]  # 20 + 7 + 5 rows: one run
    assert s.groups(50) == [(0, 112)]  # the remainder (32 rows) joins the last run
    assert s.groups(10) == [(0, 40), (40, 80), (80, 100), (100, 112)]
    rng = np.random.default_rng(0)
    hits = np.zeros(112)
    for _ in range(2000):
        rows = s(rng, 30)
        assert rows.size == 30 and np.all(np.diff(rows) > 0)
        assert any(a <= rows[0] and rows[-1] < b for a, b in s.groups(30))  # one run per step
        hits[rows] += 1
    # every row is drawn with probability b / n per step
    np.testing.assert_allclose(hits / 2000, 30 / 112, rtol=0.25)


def test_core_package_imports_without_dask():
    code = ("import sys; sys.modules['dask'] = None; import alignxpert_fast, numpy as np; "
            "X = np.random.default_rng(0).standard_normal((30, 4)); "
            "alignxpert_fast.AlignXpert(n_components=2, max_iter=3).fit([X, X[:, :3]]); "
            "assert 'dask.array' not in sys.modules")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (ROOT, os.environ.get("PYTHONPATH")) if p))
    subprocess.run([sys.executable, "-c", code], check=True, env=env, cwd=ROOT)
