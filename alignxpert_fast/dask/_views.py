"""``AlignXpert`` on dask arrays: views read by row chunks, minibatches sampled from chunks,
``transform`` as ``map_blocks`` of the fitted maps.

The fit (documented estimator)
------------------------------
Each view is wrapped in a :class:`DaskRows`, whose ``rows[idx]`` computes only those
rows (the chunks that hold them) and returns a NumPy array; the estimator's minibatch
path (``RowMap``, the Adam solver) then works as in memory.  What reads the whole data:

- the input scaling: one streaming pass per view (float64 sums of the rows and of their
  squared norms, shifted by the first row against cancellation);
- the feature maps, the initial projections and the gamma rule: up to ``INIT_SAMPLES``
  (10000) rows drawn uniformly from all rows, as in memory (one pass that keeps only
  those rows).

The Adam steps use :class:`ChunkSampler`: view 0's row chunks are grouped, in order,
into runs of at least ``batch_size`` rows (one chunk each when chunks hold a batch);
each step picks a run with probability proportional to its rows and draws the batch
uniformly, without replacement, from it.  Every row is drawn with probability
``batch_size / n`` per step, so the paired-similarity and penalty gradients stay
unbiased, as in memory; the stress and contrastive terms
then compare rows of the same chunk(s) only.  That equals the in-memory estimator when
the rows are stored in random order (shuffle once when writing the Zarr store) and
differs from it when the storage order carries structure (e.g. sorted by class).  A
step reads one run of chunks per view: choose chunks of a few batches (e.g. 10^4-10^5 rows), and memory stays at the
chunks in flight, whatever n is.

``solver="lbfgs"`` (full batch) and ``n_components="auto"`` need in-memory views and
raise ValueError here.
"""
from __future__ import annotations

import copy

import dask
import dask.array as da
import numpy as np

from .._utils.validation import check_finite, is_dask_array, result_dtype
from ._runtime import as_rows, blas_one_thread, block, ensure_warm, shared, task_threads

__all__ = ["ChunkSampler", "DaskRows", "dask_views", "transform_blocks"]


class ChunkSampler:
    """Minibatch rows from one group of consecutive chunks (see the module docstring).

    For a batch size b the chunks are grouped, in order, into runs of at least b rows (a
    short remainder joins the last run).  A call picks a run with probability
    proportional to its rows and draws b of them uniformly without replacement, so every
    row is drawn with probability b / n per step.  Called as ``sampler(rng, b)``;
    returns sorted int64 row indices.
    """

    def __init__(self, chunks):
        self.sizes = np.asarray(chunks, dtype=np.int64)
        self.starts = np.concatenate([[0], np.cumsum(self.sizes)])
        self.n = int(self.starts[-1])
        self._groups = {}

    def groups(self, b):
        """Row ranges ``[(start, stop), ...]`` of the runs of chunks for batch size b."""
        if b not in self._groups:
            bounds, rows = [0], 0
            for c, size in enumerate(self.sizes):
                rows += int(size)
                if rows >= b:
                    bounds.append(int(self.starts[c + 1]))
                    rows = 0
            if bounds[-1] != self.n:
                if len(bounds) > 1:
                    bounds[-1] = self.n
                else:
                    bounds.append(self.n)
            self._groups[b] = list(zip(bounds[:-1], bounds[1:]))
        return self._groups[b]

    def __call__(self, rng, batch_size):
        b = min(int(batch_size), self.n)
        runs = self.groups(b)
        sizes = np.array([e - s for s, e in runs], dtype=np.float64)
        s, e = runs[int(rng.choice(len(runs), p=sizes / sizes.sum()))]
        return s + np.sort(rng.choice(e - s, size=b, replace=False))


class DaskRows:
    """Rows of a 2-D dask array computed on demand: ``R[idx]`` is a C-contiguous NumPy
    array of the requested rows (checked finite); the last request is kept, since the
    solver asks for the same rows twice per step (features and stress targets)."""

    def __init__(self, X, name):
        self.X = X
        self.name = name
        self.shape = tuple(int(s) for s in X.shape)
        self.dtype = np.dtype(X.dtype)
        self.ndim = 2
        self.sampler = ChunkSampler(X.chunks[0])
        self._last = (None, None)

    def __len__(self):
        return self.shape[0]

    def __getitem__(self, rows):
        key = (rows.start, rows.stop, rows.step) if isinstance(rows, slice) else np.asarray(rows).tobytes()
        if self._last[0] == key:
            return self._last[1]
        out = block(self.X[rows].compute(), self.dtype)
        check_finite(out, self.name)
        self._last = (key, out)
        return out

    def mean_and_mean_sqnorm(self):
        """Column means (float64) and ``mean_i ||x_i - mean||^2`` in one streaming pass."""
        c = self[:1][0].astype(np.float64)
        S = self.X.astype(np.float64) - c
        s1, s2 = dask.compute(S.sum(axis=0), (S * S).sum())
        n = self.shape[0]
        m = s1 / n
        return c + m, max(float(s2) / n - float(m @ m), 0.0)

    def __repr__(self):
        return f"DaskRows(shape={self.shape}, dtype={self.dtype.name}, chunks={len(self.sampler.sizes)})"


def dask_views(est, views, *, fitting):
    """``AlignXpert._validate_views`` for views of which at least one is a dask array:
    (list of DaskRows when fitting, else of dask arrays; dtype)."""
    if fitting:
        if est.n_components == "auto":
            raise ValueError("n_components='auto' needs in-memory views (it refits on splits); pass an int "
                             "n_components with dask views")
        if est.solver == "lbfgs":
            raise ValueError("solver='lbfgs' is full batch and needs in-memory views; use solver='adam' (or "
                             "'auto') with dask views: minibatches are sampled from their chunks")
        if len(views) < 2:
            raise ValueError(f"views must hold at least two modalities (arrays with paired rows); got {len(views)}")
    elif len(views) != est.n_modalities_:
        raise ValueError(f"views must hold {est.n_modalities_} arrays (one per fitted modality), got {len(views)}")
    dtype = result_dtype(*[v if hasattr(v, "dtype") else np.asarray(v) for v in views])
    Xs = [as_rows(v if is_dask_array(v) else da.from_array(np.asarray(v), chunks=(-1, -1)), f"views[{m}]", dtype)
          for m, v in enumerate(views)]
    if fitting:
        n = Xs[0].shape[0]
        for m, X in enumerate(Xs):
            if X.shape[0] != n:
                raise ValueError(f"every view must have the same number of rows (row i of each view is the same "
                                 f"item); views[0] has {n} rows but views[{m}] has {X.shape[0]}")
        if n < 3:
            raise ValueError(f"views[0] must have at least 3 sample(s); got shape {Xs[0].shape}")
        return [DaskRows(X, f"views[{m}]") for m, X in enumerate(Xs)], dtype
    for m, X in enumerate(Xs):
        est._check_width(X, m, f"views[{m}]")
    return Xs, dtype


def _transform_task(X, model, m, dtype_, n_threads):
    est = copy.copy(model)  # shallow: the threaded scheduler shares one model between tasks
    est.n_threads = task_threads(n_threads)
    with blas_one_thread():  # the feature map and the projection products: the task's share only
        return est._transform_one(block(X, dtype_), m)


def transform_blocks(est, X, m):
    """``est.transform`` of modality m for a dask array X: one task per row chunk, the
    fitted model shared once (scattered to the workers under a distributed client)."""
    dtype = result_dtype(X)
    Xd = as_rows(X, "X", dtype)
    ensure_warm(est.backend)
    model = shared(est)
    k = int(est.n_components_)
    return da.blockwise(_transform_task, "ij", Xd, "ik", model, None, new_axes={"j": k}, concatenate=True,
                        dtype=dtype, m=int(m), dtype_=dtype, n_threads=est.n_threads)
