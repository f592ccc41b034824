"""Normalized MDS stress between original and projected embeddings, and its gradient."""
from __future__ import annotations

import numpy as np

from .._utils.validation import check_matrix, check_no_alias, check_out, check_scalar, result_dtype
from ._backends._layout import packed_offsets, packed_total
from ._plan import STRESS_ROWS, cap_threads, resolve_run, stress_plan
from ._scaling import scale_back, stress_scale, tiny_bound

__all__ = ["stress", "stress_and_grad", "StressCache"]


def _center(A):
    # distances are translation invariant: center in float64 (no float32 cancellation)
    return A - A.mean(axis=0, dtype=np.float64).astype(A.dtype)


def _prepare(X, Z):
    dtype = result_dtype(X, Z)
    Xc = check_matrix(X, "X", dtype=dtype, min_rows=2)
    Zc = check_matrix(Z, "Z", dtype=dtype, min_rows=2)
    if Xc.shape[0] != Zc.shape[0]:
        raise ValueError(
            f"X and Z must have the same number of rows (row i of Z is the projection of row i of X); "
            f"got X.shape={Xc.shape}, Z.shape={Zc.shape}"
        )
    return _center(Xc), _center(Zc), dtype


def _run(X, Z, grad, backend, n_threads, block_rows, block_cols, relative=False):
    """Rescale (see ``_scaling.stress_scale``: float64 when the dtype cannot hold X's and
    Z's magnitudes together), run the backend, scale the gradient back."""
    mod, nt, br, bc = resolve_run(backend, n_threads, block_rows, block_cols)
    Xs, Zs, e = stress_scale(X, Z)
    g = grad
    if e is None and X.dtype == np.float32:
        Xs, Zs, e = stress_scale(X.astype(np.float64), Z.astype(np.float64))
        g = None if grad is None else np.empty(grad.shape, np.float64)
    if e is None:
        raise ValueError(
            f"X and Z differ in scale too much for float64 squared distances (max |X - mean| = {np.abs(X).max():.3g}, "
            f"max |Z - mean| = {np.abs(Z).max():.3g}); rescale Z"
        )
    n = Xs.shape[0]
    nt, br, bc = stress_plan(Zs, grad is not None, nt, n * n * (Xs.shape[1] + 2 * Zs.shape[1]), br, bc)
    value = float(mod.stress(Xs, Zs, g, n_threads=nt, block_rows=br, block_cols=bc, relative=bool(relative)))
    if grad is not None:
        if g is not grad:
            grad[...] = scale_back(g, -e)
        else:
            scale_back(grad, -e)
    return value


def stress(X, Z, *, relative=False, backend="auto", n_threads=None, block_rows=None, block_cols=None):
    """Normalized stress between X (original) and Z (projected).

    ``stress = sqrt( sum_{i<j} (D_ij - E_ij)^2 / sum_{i<j} D_ij^2 )`` with
    ``D_ij = ||x_i - x_j||`` and ``E_ij = ||z_i - z_j||`` (Kruskal's stress-1 form).
    With ``relative=True`` every pair is weighted by ``1 / D_ij^2`` (pairs with
    ``D_ij = 0`` left out): ``sqrt( mean_{i<j, D_ij > 0} ((D_ij - E_ij) / D_ij)^2 )``, the
    root-mean-square relative distortion, in which near pairs weigh as much as far ones
    (Kruskal's form is dominated by the far pairs).

    Parameters
    ----------
    X : array-like of shape (n, d), n >= 2, not all rows identical
    Z : array-like of shape (n, k); k may be larger than d
    relative : bool, default=False
    backend, n_threads, block_rows, block_cols : as in :func:`alignxpert_fast.rbf_kernel`

    Returns
    -------
    float
        Sums are accumulated in float64 (per row block, added in a fixed order).

    Memory: O(n * (d + k)) (centered copies of X and Z) plus
    O(threads * block_rows * block_cols) scratch; never an n x n array.
    """
    Xc, Zc, _ = _prepare(X, Z)
    return _run(Xc, Zc, None, backend, n_threads, block_rows, block_cols, relative)


def stress_and_grad(X, Z, *, relative=False, out=None, backend="auto", n_threads=None, block_rows=None,
                    block_cols=None):
    """Normalized stress and its analytic gradient with respect to Z.

    ``d stress / d z_i = 1 / (stress * B) * sum_j w_ij (z_i - z_j)`` with
    ``w_ij = v_ij (1 - D_ij / E_ij)`` and ``B = sum_{i<j} v_ij D_ij^2``, the pair weight
    ``v_ij`` being 1 or (``relative=True``) ``1 / D_ij^2`` (see :func:`stress`).  Pairs with ``E_ij = 0``
    (coincident projected points) contribute no gradient.  Where the stress is at
    rounding level (below ``64 * eps`` of the dtype: 7.6e-6 in float32, 1.4e-14 in
    float64), e.g. when Z is a rotation of X, the gradient is 0: there it would be
    rounding noise as large as a real gradient (the stress is a cone around its zero).

    Parameters
    ----------
    X, Z, relative, backend, n_threads, block_rows, block_cols : as in :func:`stress`
    out : ndarray of Z's shape and the result dtype, optional
        Buffer for the gradient.

    Returns
    -------
    value : float
    grad : ndarray of shape (n, k), float32 if X and Z are float32 else float64

    Memory: as :func:`stress`, plus the gradient and one (n, k) float64 accumulator per
    thread (gradient rows also collect the mirror tiles of other row blocks); the thread
    count is capped so these stay within ``16 * working_memory`` MiB (at least two
    threads).
    """
    Xc, Zc, dtype = _prepare(X, Z)
    grad = check_out(out, Zc.shape, dtype)
    check_no_alias(grad, "out", ("X", X), ("Z", Z))
    value = _run(Xc, Zc, grad, backend, n_threads, block_rows, block_cols, relative)
    return value, grad


def dissimilarity_rows(D, form, n, r0, r1, out=None):
    """``D[r0:r1, r0:]`` of validated dissimilarities, dense or condensed (``form``), with
    the square ``D[r0:r1, r0:r1]`` rebuilt from its upper triangle (exactly symmetric)."""
    if out is None:
        out = np.zeros((r1 - r0, n - r0), dtype=D.dtype)
    if form == "dense":
        out[:] = D[r0:r1, r0:]
    else:  # condensed row i holds D[i, i+1:], starting at n i - i (i + 1) / 2
        for i in range(r0, r1):
            s = n * i - i * (i + 1) // 2
            out[i - r0, i - r0 + 1:] = D[s:s + n - i - 1]
    sq = np.triu(out[:, :r1 - r0], 1)
    out[:, :r1 - r0] = sq + sq.T
    return out


class StressCache:
    """The pairwise distances of X, computed once, for many stress evaluations against
    changing projections Z (what a full-batch optimizer does).

    Stores ``D_ij = ||x_i - x_j||`` for i in a row block and j >= the block's first row
    ("packed upper row blocks", about ``n (n + block_rows) / 2`` entries in X's dtype;
    layout in ``kernels/_backends/_layout.py`` and ``csrc/axf/stress.hpp``).  An evaluation then costs about
    ``1.5 n^2 k`` multiply-adds (the upper half of Z's Gram matrix and the two gradient
    products), where :func:`stress_and_grad` costs ``n^2 (d / 2 + 1.5 k)``.

    Parameters
    ----------
    X : array-like of shape (n, d), n >= 2, float32 or float64 (others become float64)
        Centered in float64 before the distances are formed.
    backend, n_threads : as in :func:`stress` (for building the cache and default for
        the evaluations).
    block_rows : int, default=256
        Rows per packed block (fixed for the cache's lifetime).

    Attributes
    ----------
    n_samples, n_features : int
    dtype : numpy.dtype, the dtype of the cache and of every evaluation
    block_rows : int
    nbytes : int, size of the cache (the object also keeps X centered, n * d entries: a Z
        whose squared distances the cache's scale cannot hold -- far smaller or larger
        than X -- is evaluated uncached on it, exactly as :func:`stress_and_grad`)

    Examples
    --------
    >>> import numpy as np, alignxpert_fast as axf
    >>> X = np.random.default_rng(0).standard_normal((500, 20))
    >>> cache = axf.StressCache(X)
    >>> value, grad = cache.stress_and_grad(X[:, :5])
    >>> bool(np.isclose(value, axf.stress(X, X[:, :5])))
    True
    """

    DEFAULT_BLOCK_ROWS = STRESS_ROWS

    def __init__(self, X, *, backend="auto", n_threads=None, block_rows=None):
        dtype = result_dtype(X)
        Xc = _center(check_matrix(X, "X", dtype=dtype, min_rows=2))
        # tiny X (squares would underflow) scaled by an exact power of two; evaluations scale
        # Z alike, and a Z whose squares the cache's scale cannot hold runs uncached on the
        # kept (centered) X
        self._X_centered = Xc
        Xc, _, e = stress_scale(Xc, Xc)
        self._exp = int(e or 0)
        mod, nt, br, _ = resolve_run(backend, n_threads, block_rows, None)
        n, d = Xc.shape
        br = min(br or self.DEFAULT_BLOCK_ROWS, n)
        size = self.packed_size(n, br)
        data = np.empty(size, dtype=dtype)
        nt = min(cap_threads(nt, n * n * d // 2), -(-n // br))
        mod.stress_pack(Xc, data, n_threads=nt, block_rows=br)
        self._data = data
        self._backend = backend
        self._n_threads = n_threads
        self.n_samples, self.n_features = n, d
        self.dtype = np.dtype(dtype)
        self.block_rows = int(br)
        # all-identical rows make the stress undefined: say so now, not at the first evaluation
        if not np.any(data):
            raise ValueError("stress is undefined: all rows of X are identical (sum of D_ij^2 is 0)")

    @classmethod
    def from_dissimilarities(cls, D, *, backend="auto", n_threads=None, block_rows=None):
        """A cache of precomputed dissimilarities instead of the distances of features.

        Parameters
        ----------
        D : array-like, a dense (n, n) matrix or a condensed vector of ``n (n - 1) / 2``
            entries (``scipy.spatial.distance.pdist``'s form); finite, >= 0, symmetric,
            zero diagonal (checked, ValueError otherwise).  Only the upper triangle is
            read after the checks.  float32 stays float32, other dtypes become float64.
        backend, n_threads, block_rows : as the constructor.

        ``n_features`` is None.  Memory: the cache, about ``n (n + block_rows) / 2``
        entries; no other n x n array.
        """
        from .._utils.validation import check_dissimilarities

        D, n, form = check_dissimilarities(D, "D", dtype=result_dtype(D))
        br = min(check_scalar(block_rows, "block_rows", lower=1, integer=True) if block_rows is not None
                 else cls.DEFAULT_BLOCK_ROWS, n)
        data = np.zeros(cls.packed_size(n, br), dtype=D.dtype)
        off = packed_offsets(n, br)
        for b, r0 in enumerate(range(0, n, br)):
            r1 = min(n, r0 + br)
            dissimilarity_rows(D, form, n, r0, r1, out=data[off[b]:off[b + 1]].reshape(r1 - r0, n - r0))
        if not np.any(data):
            raise ValueError("stress is undefined: all dissimilarities in D are 0")
        self = cls.__new__(cls)
        self._exp, self._X_centered = 0, None  # no features to fall back on (see _fallback)
        self._data = data
        self._backend, self._n_threads = backend, n_threads
        self.n_samples, self.n_features = n, None
        self.dtype = np.dtype(D.dtype)
        self.block_rows = int(br)
        return self

    def row_blocks(self):
        """Yield ``(r0, r1, block)``: block is the read-only view ``D[r0:r1, r0:]`` of the
        cache (the layout of the class docstring), for reductions over all pairs."""
        off = packed_offsets(self.n_samples, self.block_rows)
        n = self.n_samples
        for b, r0 in enumerate(range(0, n, self.block_rows)):
            r1 = min(n, r0 + self.block_rows)
            blk = self._data[off[b]:off[b + 1]].reshape(r1 - r0, n - r0)
            blk.flags.writeable = False
            yield r0, r1, blk

    @staticmethod
    def packed_size(n, block_rows):
        """Entries of the cache of n rows in blocks of ``block_rows``."""
        n = check_scalar(n, "n", lower=0, integer=True)
        block_rows = check_scalar(block_rows, "block_rows", lower=1, integer=True)
        return packed_total(n, block_rows)

    @classmethod
    def estimate_nbytes(cls, n, dtype, block_rows=None):
        """Bytes a cache of n rows would take (to decide whether to build one)."""
        n = check_scalar(n, "n", lower=0, integer=True)
        br = cls.DEFAULT_BLOCK_ROWS if block_rows is None else block_rows
        br = min(check_scalar(br, "block_rows", lower=1, integer=True), max(n, 1))
        return cls.packed_size(n, br) * np.dtype(dtype).itemsize

    @property
    def nbytes(self):
        return int(self._data.nbytes)

    def __repr__(self):
        return (f"StressCache(n_samples={self.n_samples}, n_features={self.n_features}, dtype={self.dtype.name}, "
                f"block_rows={self.block_rows}, nbytes={self.nbytes})")

    def _run(self, Z, grad, backend, n_threads, block_cols, relative=False):
        mod, nt, _, bc = resolve_run(self._backend if backend is None else backend,
                                     self._n_threads if n_threads is None else n_threads, None, block_cols)
        n, k = Z.shape
        nt, br, bc = stress_plan(Z, grad is not None, nt, 3 * n * n * k // 2, self.block_rows, bc)
        return float(mod.stress_cached(self._data, Z, grad, n_threads=nt, block_rows=br, block_cols=bc,
                                       relative=bool(relative)))

    def _check_z(self, Z):
        """(centered Z, Z scaled like the cache or None when that scale cannot hold it)."""
        Zc = check_matrix(Z, "Z", dtype=self.dtype, min_rows=2)
        if Zc.shape[0] != self.n_samples:
            raise ValueError(f"Z must have {self.n_samples} rows (one per row of the cached X), got {Zc.shape[0]}")
        return self._scaled(_center(Zc))

    def _scaled(self, Zc):
        """(Zc, Zc scaled like the cache, or None when that scale cannot hold it)."""
        with np.errstate(over="ignore"):  # inf when Z is too large for the scale: detected below
            Zs = np.ldexp(Zc, -self._exp).astype(self.dtype, copy=False) if self._exp else Zc
        az = max(float(Zs.max()), -float(Zs.min())) if Zs.size else 0.0
        high = float(np.sqrt(np.finfo(self.dtype).max / (16.0 * max(Zs.shape[1], 1))))
        ok = az == 0.0 or tiny_bound(self.dtype) <= az <= high
        return Zc, (Zs if ok else None)

    def _fallback_possible(self):
        if self._X_centered is None:  # a cache of dissimilarities has no features to recompute
            raise ValueError("Z's values are too small or too large for squared distances in the cache's dtype "
                             f"({self.dtype.name}); rescale Z (and D) towards magnitude 1")

    def _evaluate(self, Zc, Zs, grad, backend, n_threads, block_cols, relative):
        """The value (and the gradient into grad): on the cache's scale, or, when Zs is None
        (that scale cannot hold Z), uncached on the kept X."""
        if Zs is None:
            self._fallback_possible()
            return _run(self._X_centered, Zc, grad, self._backend if backend is None else backend,
                        self._n_threads if n_threads is None else n_threads, None, block_cols, relative)
        value = self._run(Zs, grad, backend, n_threads, block_cols, relative)
        if grad is not None:
            scale_back(grad, -self._exp)
        return value

    def stress(self, Z, *, relative=False, backend=None, n_threads=None, block_cols=None):
        """Normalized stress of the cached X against Z, shape (n, k), as :func:`stress`
        (``relative`` too).

        Z is converted to the cache's dtype.  ``backend`` / ``n_threads`` default to the
        cache's.
        """
        Zc, Zs = self._check_z(Z)
        return self._evaluate(Zc, Zs, None, backend, n_threads, block_cols, relative)

    def stress_and_grad(self, Z, *, relative=False, out=None, backend=None, n_threads=None, block_cols=None):
        """Stress and its gradient with respect to Z, as :func:`stress_and_grad`
        (``relative`` too).

        Returns ``(value, grad)``, grad of shape (n, k) in the cache's dtype.
        """
        Zc, Zs = self._check_z(Z)
        grad = check_out(out, Zc.shape, self.dtype)
        check_no_alias(grad, "out", ("Z", Z), ("cache", self._data))
        return self._evaluate(Zc, Zs, grad, backend, n_threads, block_cols, relative), grad

    def stress_and_grad_checked(self, Z, relative=False):
        """:meth:`stress_and_grad` for a Z its caller formed and checked: C-contiguous, of
        the cache's dtype, ``n_samples`` rows, finite (the objective's own projections).
        Skips the input checks (a twentieth of a call at the digits fit's size), not the
        centering or the scale check."""
        Zc, Zs = self._scaled(_center(Z))
        grad = np.empty(Zc.shape, dtype=self.dtype)
        return self._evaluate(Zc, Zs, grad, None, None, None, relative), grad
