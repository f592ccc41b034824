"""Numba backend: the C++ core (csrc/axf/*.hpp) rewritten as ``@njit`` kernels.

Same structure as the C++: every tile is one BLAS gemm (``np.dot(A, B, out)`` inside
nopython code, which calls scipy's BLAS) followed by a fused element-wise epilogue.
Threads come from ``prange`` over static chunks of row blocks (one chunk per thread,
like OpenMP's schedule(static)); each thread owns whole output rows, so there are no
atomics, and per-row-block partial sums are added in a fixed order afterwards, so
results do not depend on the thread count.  Scratch is allocated once per thread.

* Gram / distances: a tile is a row panel of X against all of Y, written by gemm
  straight into ``out`` (``np.dot`` can only write a contiguous block, so unlike the
  C++ there are no column tiles: ``block_cols`` is not used) and finished in place.
* ``kernel_matvec`` / row sums: ``block_rows x block_cols`` tiles in per-thread
  scratch, folded into a float64 accumulator (second gemm against the V panel).
* stress (``stress``, and ``stress_pack`` / ``stress_cached`` with a distance cache):
  the upper-triangle row blocks and "snake" schedule of csrc/axf/stress.hpp, D from X's
  tiles or from the packed cache, E and W in cache, W @ Z_J and W^T @ Z_I; the
  gradient goes into per-thread float64 accumulators added in thread order, so it is
  reproducible for a given thread count (the value for any thread count).

Semantics follow ``reference.py`` (the spec): kernel values are computed in the input
dtype (float32 tiles stay float32), norms / row sums / matvec accumulators / stress
sums in float64, squared distances are clamped at 0 (NaN propagates, as with
``np.maximum``), and the diagonal is exactly 1 (rbf) or 0 (distances) when X is Y.

Floating-point flags: never ``fastmath=True`` (it assumes no NaN/inf), and no ``arcp``
(it lets LLVM use an approximate reciprocal square root).  Element-wise
epilogues get ``contract``; loops that reduce into float64 also get
``reassoc`` so LLVM can vectorize them (a fixed, thread-count independent order).  The
exponential is a branch-free Cephes-style ``_vexp`` (as csrc/axf/vexp.hpp, but with
gradual underflow) compiled with ``contract`` only, so LLVM vectorizes the RBF epilogue.

Layout: ``_numba_common.py`` (kind codes, flag sets, ``_vexp``, row norms),
``_numba_gram.py`` (Gram, K @ V), ``_numba_stress.py`` (stress, packed cache),
``_numba_contrastive.py`` (the contrastive similarity's two passes); this module
is the Python side.  Dtype and kernel dispatch happen in Python; kernel codes (from
``_spec.KIND_CODES``) are passed as ints.  Each call
sets Numba's thread count for its duration (restoring the previous value) and limits
BLAS to one thread, because every Numba thread makes its own gemm calls.  Compiled code
is cached on disk (``cache=True``); the first call per dtype compiles.
"""
from __future__ import annotations

import contextlib

import numpy as np

from ..._utils.threads import in_forked_child, single_threaded_blas
from .._spec import KIND_CODES
from ._layout import NONFINITE_LOGITS, NonFiniteLogits, noise_floor, packed_offsets, stress_finish

NAME = "numba"

try:
    import numba

    # np.dot in nopython mode calls scipy's BLAS; load it now so that threadpoolctl
    # sees (and can limit) that library, and so a missing scipy is reported here.
    import scipy.linalg.cython_blas  # noqa: F401

    from ._numba_common import _SQEUCLIDEAN, _row_aux
    from ._numba_contrastive import _finish_db, _merge_columns, _pass1, _pass2
    from ._numba_gram import _gram, _kernel_matvec
    from ._numba_stress import _stress_grad_finish, _stress_pack, _stress_sym, _sum_threads

    LOAD_ERROR = None
except Exception as exc:  # pragma: no cover - depends on the environment
    numba = None
    LOAD_ERROR = f"{type(exc).__name__}: {exc}"


def _require():
    if numba is None:
        raise ImportError(f"the numba backend is not available: {LOAD_ERROR}")


_serial_twins = {}


def _k(driver):
    """The parallel ``driver``, or in a forked child its serial twin (``prange`` runs as
    ``range``), compiled there on first use: Numba's thread pool does not survive fork
    (its OpenMP layer kills the child, the workqueue layer can hang)."""
    if not in_forked_child():
        return driver
    twin = _serial_twins.get(driver.__name__)
    if twin is None:
        twin = _serial_twins[driver.__name__] = numba.njit(nogil=True)(driver.py_func)
    return twin


@contextlib.contextmanager
def _numba_threads(n_threads):
    """Run Numba parallel regions with ``n_threads`` threads (capped by
    NUMBA_NUM_THREADS), restoring the caller's setting afterwards."""
    if in_forked_child():  # serial twins only (see _k); Numba's pool must not be touched
        yield 1
        return
    prev = numba.get_num_threads()
    nt = max(1, min(int(n_threads), numba.config.NUMBA_NUM_THREADS))
    try:
        numba.set_num_threads(nt)
        yield nt
    finally:
        numba.set_num_threads(prev)


def _aux_pair(code, X, Y, symmetric):
    ax = _row_aux(code, X)
    return ax, (ax if (symmetric and Y is X) else _row_aux(code, Y))


def _scalars(dtype, gamma, coef0, degree):
    dt = np.dtype(dtype).type
    return dt(gamma), dt(coef0), int(degree)


def _kind_code(kernel):
    try:
        return KIND_CODES[kernel]
    except KeyError:
        raise ValueError(f"unknown kernel {kernel!r}") from None


def gram(kernel, X, Y, out, *, gamma, coef0, degree, symmetric, n_threads, block_rows, block_cols):
    _require()
    code = _kind_code(kernel)
    n, m = X.shape[0], Y.shape[0]
    if n == 0 or m == 0:
        return
    g, c0v, deg = _scalars(X.dtype, gamma, coef0, degree)
    with single_threaded_blas(), _numba_threads(n_threads) as nt:
        # Row panels span all m columns (np.dot can only write a contiguous block, and
        # a full-width panel is one gemm straight into ``out``): block_cols is not used.
        # Panels are cut to at most ceil(n / threads) rows so every thread gets work.
        br = max(1, min(int(block_rows), n, -(-n // nt)))
        ax, ay = _aux_pair(code, X, Y, symmetric)
        _k(_gram)(code, X, Y, out, ax, ay, g, c0v, deg, bool(symmetric), nt, br)


def kernel_matvec(kernel, X, Y, V, out, *, gamma, coef0, degree, symmetric, n_threads, block_rows, block_cols):
    _require()
    code = _kind_code(kernel)
    n, m = X.shape[0], Y.shape[0]
    if n == 0:
        return
    if m == 0:
        out[...] = 0
        return
    br = max(1, min(int(block_rows), n))
    bc = max(1, min(int(block_cols), m))
    g, c0v, deg = _scalars(X.dtype, gamma, coef0, degree)
    has_v = V is not None
    Vb = V if has_v else np.zeros((0, 1), X.dtype)
    with single_threaded_blas(), _numba_threads(n_threads) as nt:
        ax, ay = _aux_pair(code, X, Y, symmetric)
        _k(_kernel_matvec)(code, X, Y, Vb, has_v, out, ax, ay, g, c0v, deg, bool(symmetric), nt, br, bc)


def stress(X, Z, grad, *, n_threads, block_rows, block_cols, relative=False):
    """Normalized stress of X (n, d) vs Z (n, k) over the upper triangle, distances formed
    tile by tile; fills grad (n, k) if given.  Returns the value.  ``relative``: pair
    weights 1 / D^2 (csrc/axf/stress.hpp)."""
    _require()
    return _stress_upper(None, X, Z, grad, n_threads, block_rows, block_cols, relative)


def _stress_upper(D, X, Z, grad, n_threads, block_rows, block_cols, relative):
    """The stress driver of :func:`stress` (D is None: X's tiles) and
    :func:`stress_cached` (X is None: the packed cache D).  The value does not depend on
    the thread count; the gradient is bit-for-bit reproducible for a given thread count
    (per-thread accumulators added in thread order)."""
    n, k = Z.shape
    if n < 2:
        raise ValueError(f"stress needs at least 2 samples, got n={n}")
    br = max(1, min(int(block_rows), n))
    bc = max(1, min(int(block_cols), n))
    off = packed_offsets(n, br)
    use_cache = D is not None
    if use_cache and D.shape[0] != off[-1]:
        raise ValueError(f"D must have {int(off[-1])} entries for n={n} and block_rows={block_rows}, "
                         f"got {D.shape[0]}")
    nbr = off.shape[0] - 1
    want_grad = grad is not None
    part_num = np.zeros(nbr, np.float64)
    part_den = np.zeros(nbr, np.float64)
    with single_threaded_blas(), _numba_threads(n_threads) as nt:
        nt = min(nt, nbr)
        gacc = np.zeros((nt, n * k if want_grad else 0), np.float64)
        wsum = np.zeros((nt, n if want_grad else 0), np.float64)
        zs = _row_aux(_SQEUCLIDEAN, Z)
        if use_cache:
            X, xs, tol_x = np.empty((0, 1), Z.dtype), np.empty(0, Z.dtype), Z.dtype.type(0)
        else:
            D, xs, tol_x = np.empty(0, Z.dtype), _row_aux(_SQEUCLIDEAN, X), noise_floor(X.dtype, X.shape[1])
        _k(_stress_sym)(D, X, xs, tol_x, use_cache, Z, zs, off, want_grad, gacc, wsum, part_num, part_den, br, bc,
                    noise_floor(Z.dtype, k), bool(relative), nt)
        if want_grad:
            wsum, gacc = _sum_threads(wsum), _sum_threads(gacc)
        return _stress_result(part_num, part_den, Z, grad, wsum, gacc)


def _stress_result(part_num, part_den, Z, grad, wsum, gacc):
    """The value from the per-row-block sums, added in block order (independent of the
    thread count), and the gradient from wsum and gacc when grad is given."""
    num = 0.0
    den = 0.0
    for b in range(part_num.shape[0]):
        num += float(part_num[b])
        den += float(part_den[b])
    value, scale = stress_finish(num, den, Z.dtype)
    if grad is not None:
        _stress_grad_finish(Z, wsum, gacc, scale, grad)
    return value


def stress_pack(X, out, *, n_threads, block_rows):
    """Fill ``out`` (1-D, ``_layout.packed_total(n, block_rows)`` entries) with
    the distances of X in packed upper row blocks (the diagonal is exactly 0)."""
    _require()
    n = X.shape[0]
    br = max(1, min(int(block_rows), n))
    off = packed_offsets(n, br)
    if out.shape[0] != off[-1]:
        raise ValueError(f"out must have {int(off[-1])} entries for n={n} and block_rows={block_rows}, "
                         f"got {out.shape[0]}")
    if n == 0:
        return
    with single_threaded_blas(), _numba_threads(n_threads) as nt:
        nt = min(nt, off.shape[0] - 1)
        xs = _row_aux(_SQEUCLIDEAN, X)
        _k(_stress_pack)(X, xs, out, off, br, noise_floor(X.dtype, X.shape[1]), nt)


def stress_cached(D, Z, grad, *, n_threads, block_rows, block_cols, relative=False):
    """Stress of the packed distances D (see :func:`stress_pack`, same block_rows)
    against Z (n, k); fills grad (n, k) if given.  Returns the value, as :func:`stress`."""
    _require()
    return _stress_upper(D, None, Z, grad, n_threads, block_rows, block_cols, relative)


# ---------------------------------------------------------------- contrastive similarity
def contrastive(kernel, A, B, dA, dB, *, gamma, coef0, degree, temperature, n_threads, block_rows, block_cols):
    """Value of the contrastive similarity of A, B (n, k); fills dA, dB when given (both or
    neither).  Same contract as ``reference.contrastive``."""
    _require()
    if kernel not in ("linear", "rbf", "poly", "cosine"):
        raise ValueError(f"unknown contrastive kernel {kernel!r}")
    code = KIND_CODES[kernel]
    n, k = A.shape
    if n == 0:
        raise ValueError("A and B need at least one row, got 0")
    br = max(1, min(int(block_rows), n))
    bc = max(1, min(int(block_cols), n))
    nb = -(-n // br)
    g, c0v, deg = _scalars(A.dtype, gamma, coef0, degree)
    inv_t = A.dtype.type(1.0 / temperature)
    with single_threaded_blas(), _numba_threads(n_threads) as nt:
        nt = min(nt, nb)
        ax, ay = _row_aux(code, A), _row_aux(code, B)
        row_lse = np.empty(n, np.float64)
        diag = np.empty(n, np.float64)
        cms = np.full((nt, n), -np.inf)
        css = np.zeros((nt, n))
        bad = np.zeros(nt, np.int64)
        _pass1(code, A, B, ax, ay, g, c0v, deg, inv_t, br, bc, nt, row_lse, diag, cms, css, bad)
        if bad.any():
            raise NonFiniteLogits(NONFINITE_LOGITS)
        col_lse = _merge_columns(cms, css)
        del cms, css
        value = -(float(np.sum(row_lse - diag)) + float(np.sum(col_lse - diag))) / (2.0 * n)
        if not np.isfinite(value):
            raise NonFiniteLogits(NONFINITE_LOGITS)
        if dA is None:
            return value
        dt = A.dtype
        scale = dt.type(-1.0 / (2.0 * n * temperature))
        dbacc = np.zeros((nt, n, k), np.float64)
        hcs = np.zeros((nt, n), np.float64)
        _pass2(code, A, B, ax, ay, row_lse.astype(dt), col_lse.astype(dt), g, c0v, deg, inv_t, scale, br, bc, nt,
               dA, dbacc, hcs)
        _finish_db(code, B, ay, g, dbacc, hcs, dB)
    return value
