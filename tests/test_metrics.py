"""Retrieval and transfer metrics vs brute-force n x n computations."""
from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

import alignxpert_fast as axf
from alignxpert_fast.metrics import (RidgeClassifierOVR, cross_modal_transfer, label_precision_at_k, match_ranks,
                                     mean_reciprocal_rank, recall_at_k, top_k_indices)


@pytest.fixture(autouse=True)
def _single_thread():
    """These tests use tiny inputs, where thread wake-ups dominate and a busy 2-core
    machine slows 2-thread runs by 3x; thread-count parity is tested with the kernels."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1), axf.config_context(n_threads=1):
        yield


METRICS = ("cosine", "euclidean", "dot")


def brute_scores(Q, G, metric):
    Q, G = np.asarray(Q, np.float64), np.asarray(G, np.float64)
    if metric == "cosine":
        return (Q / np.linalg.norm(Q, axis=1, keepdims=True)) @ (G / np.linalg.norm(G, axis=1, keepdims=True)).T
    if metric == "euclidean":
        return -((Q[:, None, :] - G[None, :, :]) ** 2).sum(-1)
    return Q @ G.T


def brute_ranks(Q, G, metric):
    """Pair-loop oracle: 1 + the gallery rows other than the match scoring at least as high."""
    S = brute_scores(Q, G, metric)
    n = S.shape[0]
    return np.array([1 + sum(S[i, j] >= S[i, i] for j in range(S.shape[1]) if j != i) for i in range(n)])


@pytest.fixture
def pair():
    rng = np.random.default_rng(0)
    A = rng.standard_normal((57, 5))
    B = A + 0.8 * rng.standard_normal((57, 5))
    return A, B


@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize("block_rows", [1, 7, None])
def test_ranks_recall_mrr_match_brute_force(pair, metric, block_rows):
    A, B = pair
    ranks = brute_ranks(A, B, metric)
    np.testing.assert_array_equal(match_ranks(A, B, metric=metric, block_rows=block_rows), ranks)
    assert recall_at_k(A, B, 5, metric=metric, block_rows=block_rows) == pytest.approx(np.mean(ranks <= 5))
    got = recall_at_k(A, B, (1, 10), metric=metric, block_rows=block_rows)
    assert got == pytest.approx({1: np.mean(ranks <= 1), 10: np.mean(ranks <= 10)})
    assert mean_reciprocal_rank(A, B, metric=metric, block_rows=block_rows) == pytest.approx(np.mean(1 / ranks))


def test_perfect_alignment_scores_one(pair):
    A, _ = pair
    assert recall_at_k(A, A, 1) == 1.0 and mean_reciprocal_rank(A, A, metric="euclidean") == 1.0


@pytest.mark.parametrize("block_rows", [1, 4, None])
def test_ties_count_against_the_match(block_rows):
    """A degenerate embedding must not score well: constant rows rank every match last,
    k = 1 under cosine (every score +-1) ranks each match after all rows on its side, and
    a duplicated gallery row shares the match's place (the later rank)."""
    n = 9
    const = np.ones((n, 3))
    np.testing.assert_array_equal(match_ranks(const, const, block_rows=block_rows), np.full(n, n))
    assert recall_at_k(const, const, 1, block_rows=block_rows) == 0.0
    assert mean_reciprocal_rank(const, const, metric="euclidean", block_rows=block_rows) == pytest.approx(1 / n)
    one_d = np.array([[1.0], [2.0], [-1.0], [3.0], [-0.5]])
    np.testing.assert_array_equal(match_ranks(one_d, one_d, block_rows=block_rows), [3, 3, 2, 3, 2])
    np.testing.assert_array_equal(match_ranks(one_d, one_d, block_rows=block_rows), brute_ranks(one_d, one_d, "cosine"))
    rng = np.random.default_rng(3)
    A = rng.standard_normal((6, 4))
    G = A.copy()
    G[4] = G[1]  # gallery row 4 duplicates row 1: each of the two ties with the other
    ranks = match_ranks(A, G, metric="euclidean", block_rows=block_rows)
    np.testing.assert_array_equal(ranks, brute_ranks(A, G, "euclidean"))
    assert ranks[1] == 2 and ranks[4] >= 2 and ranks[0] == 1


def test_float32_input(pair):
    A, B = (x.astype(np.float32) for x in pair)
    np.testing.assert_array_equal(match_ranks(A, B), brute_ranks(A.astype(np.float64), B.astype(np.float64), "cosine"))


@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize("block_rows", [3, None])
def test_top_k_and_label_precision_match_brute_force(metric, block_rows):
    rng = np.random.default_rng(1)
    Q, G = rng.standard_normal((31, 4)), rng.standard_normal((45, 4))  # different sizes
    yq, yg = rng.integers(0, 3, 31), rng.integers(0, 3, 45)
    order = np.argsort(-brute_scores(Q, G, metric), axis=1, kind="stable")
    for k in (1, 6, 45):
        np.testing.assert_array_equal(top_k_indices(Q, G, k, metric=metric, block_rows=block_rows), order[:, :k])
        expected = np.mean(yg[order[:, :k]] == yq[:, None])
        got = label_precision_at_k(Q, yq, G, yg, k, metric=metric, block_rows=block_rows)
        assert got == pytest.approx(expected)


def test_retrieval_memory_is_blockwise():
    rng = np.random.default_rng(2)
    n = 4000
    A = rng.standard_normal((n, 8))
    tracemalloc.start()
    try:
        match_ranks(A, A, metric="euclidean", block_rows=64)
        top_k_indices(A, A, 5, block_rows=64)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < n * n * 8 / 8, f"peak {peak / 2**20:.1f} MiB vs n x n float64 {n * n * 8 / 2**20:.0f} MiB"


def test_ridge_classifier_matches_scikit_learn():
    from sklearn.linear_model import RidgeClassifier

    rng = np.random.default_rng(3)
    X = rng.standard_normal((80, 6))
    y = np.argmax(X[:, :3] + 0.5 * rng.standard_normal((80, 3)), axis=1)
    Xt = rng.standard_normal((30, 6))
    ours = RidgeClassifierOVR(alpha=2.0).fit(X, y)
    ref = RidgeClassifier(alpha=2.0).fit(X, y)
    np.testing.assert_allclose(ours.decision_function(Xt), ref.decision_function(Xt), rtol=1e-9, atol=1e-12)
    np.testing.assert_array_equal(ours.predict(Xt), ref.predict(Xt))


def test_cross_modal_transfer():
    rng = np.random.default_rng(4)
    centers = 3 * rng.standard_normal((4, 5))
    y, yt = rng.integers(0, 4, 200), rng.integers(0, 4, 100)
    Za = centers[y] + rng.standard_normal((200, 5))
    Zb = centers[yt] + rng.standard_normal((100, 5))  # the "other modality", same space
    acc, clf = cross_modal_transfer(Za, y, Zb, yt, return_classifier=True)
    assert acc > 0.85 and acc == clf.score(Zb, yt)
    # a misaligned modality (rotated space) transfers badly
    Q, _ = np.linalg.qr(rng.standard_normal((5, 5)))
    assert cross_modal_transfer(Za, y, Zb @ Q, yt) < acc


@pytest.mark.parametrize("call, exc, match", [
    (lambda A, B: recall_at_k(A, B, 1, metric="l1"), ValueError, "metric must be one of"),
    (lambda A, B: recall_at_k(A, B[:, :3]), ValueError, "same space"),
    (lambda A, B: recall_at_k(A, B[:10]), ValueError, "same number of rows"),
    (lambda A, B: recall_at_k(A, B, 0), ValueError, "k must be >= 1"),
    (lambda A, B: top_k_indices(A, B, 100), ValueError, "k must be at most the gallery size 57"),
    (lambda A, B: label_precision_at_k(A, np.zeros(3), B, np.zeros(57)), ValueError, "y_query must be a 1-D"),
    (lambda A, B: cross_modal_transfer(A, np.zeros(57), B, np.zeros(57)), ValueError, "at least two classes"),
    (lambda A, B: cross_modal_transfer(A, np.arange(57) % 2, B[:, :2], np.zeros(57)), ValueError,
     "Z_test_b must have 5 columns"),
])
def test_metrics_bad_input(pair, call, exc, match):
    with pytest.raises(exc, match=match):
        call(*pair)
