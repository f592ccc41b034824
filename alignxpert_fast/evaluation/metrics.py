"""Cross-modal retrieval metrics, blockwise (no n x n array).  The transfer metric is in
:mod:`alignxpert_fast.evaluation.transfer`.

Retrieval: queries are the rows of ``Z_query`` (modality a), the gallery the rows of
``Z_gallery`` (modality b); for :func:`recall_at_k` and :func:`mean_reciprocal_rank`
query i's correct answer is gallery row i.  Scores are computed in float64 over row
blocks of the queries (``block_rows`` from ``working_memory`` unless given):

- ``metric="cosine"``: cosine similarity (zero rows score 0);
- ``metric="euclidean"``: minus the squared Euclidean distance;
- ``metric="dot"``: the inner product.

Ranks: the rank of query i's match is ``#{j : score_ij >= score_ii}`` (the match
included), so ties with the match count against it: a degenerate embedding (constant
rows, or k = 1 under cosine, where every score is +-1) ranks its matches last among the
ties instead of first, and cannot score a high recall or MRR (a model selection on these
metrics, e.g. ``n_components="auto"``, would otherwise prefer it).  Continuous
embeddings almost never tie.  :func:`label_precision_at_k` takes the top k per block
with ``np.argpartition`` (ties at the k-th place broken arbitrarily).

Memory: O(block_rows * n_gallery) float64 per block plus a float64 copy of both inputs;
n = 100000 queries against 100000 gallery rows never allocate n x n.

Dask: ``Z_query`` may be a dask array chunked by rows (one task per query chunk; the
gallery, in memory or computed from a dask array, is prepared once and shared with
every task).  :func:`match_ranks` and :func:`top_k_indices` then return lazy dask
arrays; the other functions compute their float.
"""
from __future__ import annotations

import numbers

import numpy as np

from .._config import get_config
from .._utils.threads import single_threaded_blas
from .._utils.validation import check_matrix, check_scalar, is_dask_array

__all__ = [
    "recall_at_k",
    "mean_reciprocal_rank",
    "cross_modal_mrr",
    "match_ranks",
    "label_precision_at_k",
    "top_k_indices",
]

METRICS = ("cosine", "euclidean", "dot")


def _check_metric(metric):
    if not isinstance(metric, str) or metric not in METRICS:
        raise ValueError(f"metric must be one of {list(METRICS)}, got {metric!r}")
    return metric


def _prepare(Zq, Zg, metric, *, paired):
    _check_metric(metric)
    Q = Zq if is_dask_array(Zq) else check_matrix(Zq, "Z_query", dtype=np.float64)
    G = check_matrix(Zg.compute() if is_dask_array(Zg) else Zg, "Z_gallery", dtype=np.float64)
    if Q.shape[1] != G.shape[1]:
        raise ValueError(
            f"Z_query and Z_gallery must live in the same space: Z_query.shape[1] == {Q.shape[1]} while "
            f"Z_gallery.shape[1] == {G.shape[1]}"
        )
    if paired and Q.shape[0] != G.shape[0]:
        raise ValueError(
            f"Z_query and Z_gallery must have the same number of rows (query i matches gallery row i); got "
            f"{Q.shape[0]} and {G.shape[0]}"
        )
    if metric == "cosine":
        Q = Q if is_dask_array(Q) else _normalize(Q)
        G = _normalize(G)
    gsq = np.einsum("ij,ij->i", G, G) if metric == "euclidean" else None
    return Q, G, gsq


def _normalize(A):
    nrm = np.sqrt(np.einsum("ij,ij->i", A, A))
    inv = np.zeros_like(nrm)
    np.divide(1.0, nrm, out=inv, where=nrm > 0)
    return A * inv[:, None]


def _block_rows(n_gallery, block_rows):
    if block_rows is not None:
        return check_scalar(block_rows, "block_rows", lower=1, integer=True)
    budget = get_config()["working_memory"] * 2**20
    return int(max(1, min(4096, budget // max(1, 3 * 8 * n_gallery))))


def _scores(Qb, G, gsq, metric):
    S = Qb @ G.T
    if metric == "euclidean":
        S *= 2.0
        S -= gsq[None, :]
        S -= np.einsum("ij,ij->i", Qb, Qb)[:, None]
    return S


def _on_chunks(task, Q, G, gsq, metric, block_rows, cols, dtype):
    """``task(Q_chunk, offset, (G, gsq), metric, block_rows)`` on every row chunk of a dask Q,
    the gallery shared once (alignxpert_fast.dask)."""
    from ..dask._runtime import as_rows, shared

    Qd = as_rows(Q, "Z_query", np.float64)
    if Qd.shape[1] != G.shape[1]:
        raise ValueError(f"Z_query and Z_gallery must live in the same space: Z_query.shape[1] == {Qd.shape[1]} "
                         f"while Z_gallery.shape[1] == {G.shape[1]}")
    kw = dict(gallery=shared((G, gsq)), metric=metric, block_rows=block_rows, dtype=dtype,
              chunks=(Qd.chunks[0],) if cols is None else (Qd.chunks[0], (cols,)))
    return Qd.map_blocks(task, drop_axis=1 if cols is None else None, **kw)


def _ranks(Q, s0, G, gsq, metric, br):
    n = Q.shape[0]
    ranks = np.empty(n, dtype=np.int64)
    for s in range(0, n, br):
        e = min(n, s + br)
        S = _scores(Q[s:e], G, gsq, metric)
        r = np.arange(e - s)
        true = S[r, s0 + s + r]
        # the match counts itself; a NaN score (a non-finite dask chunk) ranks last
        ranks[s:e] = np.where(np.isnan(true), G.shape[0], np.count_nonzero(S >= true[:, None], axis=1))
    return ranks


def _ranks_task(Qb, gallery, metric, block_rows, block_info=None):
    G, gsq = gallery
    Q = _normalize(Qb) if metric == "cosine" else np.ascontiguousarray(Qb, dtype=np.float64)
    with single_threaded_blas():  # one task per core: no BLAS threads on top
        return _ranks(Q, block_info[0]["array-location"][0][0], G, gsq, metric, block_rows)


def match_ranks(Z_query, Z_gallery, *, metric="cosine", block_rows=None):
    """Rank (1 = best) of gallery row i among all gallery rows for query row i.

    Returns an int64 array of shape (n,) (a lazy dask array for a dask ``Z_query``).
    Memory: see the module docstring.
    """
    Q, G, gsq = _prepare(Z_query, Z_gallery, metric, paired=True)
    br = _block_rows(G.shape[0], block_rows)
    if is_dask_array(Q):
        return _on_chunks(_ranks_task, Q, G, gsq, metric, br, None, np.int64)
    return _ranks(Q, 0, G, gsq, metric, br)


def recall_at_k(Z_query, Z_gallery, k=1, *, metric="cosine", block_rows=None):
    """Cross-modal Recall@k: the share of queries whose match is among the top k.

    Parameters
    ----------
    Z_query : array (n, k_dim), modality a
    Z_gallery : array (n, k_dim), modality b; row i is query i's match
    k : int >= 1 or sequence of int
    metric : {"cosine", "euclidean", "dot"}

    Returns
    -------
    float for an int k; dict {k: float} for a sequence.
    """
    ks = [k] if isinstance(k, numbers.Integral) else list(k)
    ks = [check_scalar(v, "k", lower=1, integer=True) for v in ks]
    ranks = np.asarray(match_ranks(Z_query, Z_gallery, metric=metric, block_rows=block_rows))
    out = {v: float(np.mean(ranks <= v)) for v in ks}
    return out[ks[0]] if isinstance(k, numbers.Integral) else out


def mean_reciprocal_rank(Z_query, Z_gallery, *, metric="cosine", block_rows=None):
    """Mean of 1 / rank of each query's match (see :func:`match_ranks`)."""
    ranks = np.asarray(match_ranks(Z_query, Z_gallery, metric=metric, block_rows=block_rows))
    return float(np.mean(1.0 / ranks))


def cross_modal_mrr(Zs, *, metric="cosine"):
    """Mean reciprocal rank of paired retrieval averaged over the ordered modality pairs
    (a, b), a != b, of the projections ``Zs`` (M arrays with paired rows)."""
    M = len(Zs)
    return float(np.mean([mean_reciprocal_rank(Zs[a], Zs[b], metric=metric)
                          for a in range(M) for b in range(M) if a != b]))


def top_k_indices(Z_query, Z_gallery, k=10, *, metric="cosine", block_rows=None):
    """Indices of the k best gallery rows for every query, best first: int64 (n_query, k).

    Per block: ``np.argpartition`` for the top k, then a sort of those k.  A dask
    ``Z_query`` gives a lazy dask array.
    """
    Q, G, gsq = _prepare(Z_query, Z_gallery, metric, paired=False)
    k = check_scalar(k, "k", lower=1, integer=True)
    if k > G.shape[0]:
        raise ValueError(f"k must be at most the gallery size {G.shape[0]}, got {k}")
    br = _block_rows(G.shape[0], block_rows)
    if is_dask_array(Q):
        return _on_chunks(_top_k_task, Q, G, gsq, metric, br, k, np.int64)
    return _top_k(Q, G, gsq, metric, br, k)


def _top_k_task(Qb, gallery, metric, block_rows, block_info=None):
    G, gsq = gallery
    Q = _normalize(Qb) if metric == "cosine" else np.ascontiguousarray(Qb, dtype=np.float64)
    with single_threaded_blas():
        return _top_k(Q, G, gsq, metric, block_rows, block_info[None]["chunk-shape"][1])


def _top_k(Q, G, gsq, metric, br, k):
    n = Q.shape[0]
    out = np.empty((n, k), dtype=np.int64)
    for s in range(0, n, br):
        e = min(n, s + br)
        S = _scores(Q[s:e], G, gsq, metric)
        if k < G.shape[0]:
            idx = np.argpartition(-S, k - 1, axis=1)[:, :k]
        else:
            idx = np.broadcast_to(np.arange(k), (e - s, k)).copy()
        top = np.take_along_axis(S, idx, axis=1)
        order = np.argsort(-top, axis=1, kind="stable")
        out[s:e] = np.take_along_axis(idx, order, axis=1)
    return out


def _check_labels(y, n, name):
    y = np.asarray(y)
    if y.ndim != 1 or y.shape[0] != n:
        raise ValueError(f"{name} must be a 1-D array with one label per row ({n}), got shape {y.shape}")
    return y


def label_precision_at_k(Z_query, y_query, Z_gallery, y_gallery, k=10, *, metric="cosine", block_rows=None):
    """Mean over queries of the share of the k retrieved gallery rows with the query's label.

    The query and gallery sets may differ in size.  Returns a float.
    """
    n_q = np.shape(Z_query)[0] if np.ndim(Z_query) == 2 else None
    n_g = np.shape(Z_gallery)[0] if np.ndim(Z_gallery) == 2 else None
    top = np.asarray(top_k_indices(Z_query, Z_gallery, k, metric=metric, block_rows=block_rows))
    yq = _check_labels(y_query, n_q, "y_query")
    yg = _check_labels(y_gallery, n_g, "y_gallery")
    return float(np.mean(yg[top] == yq[:, None]))
