"""Argument checks shared by every public entry point.

Messages name the argument, what it got, the rule, and when possible the fix.
ValueError for values and shapes, TypeError for types.  Never ``assert``.
"""
from __future__ import annotations

import numbers

import numpy as np

FLOAT_DTYPES = (np.float32, np.float64)


def _describe(x):
    return type(x).__name__


def is_dask_array(x):
    """True for a ``dask.array.Array`` (checked without importing dask)."""
    t = type(x)
    return t.__name__ == "Array" and t.__module__.startswith("dask.array") and hasattr(x, "__dask_graph__")


def check_matrix(X, name="X", *, dtype=None, allow_empty=False, ensure_finite=True, min_rows=1):
    """Validate a 2-D float array and return it C-contiguous.

    Accepts NumPy arrays, anything exposing ``__array__`` (CPU torch / JAX arrays, without
    a copy where the layout allows) or only ``__dlpack__``.  Integer and bool arrays are
    converted to float64 (as scikit-learn does); float16 to float32.  Complex, object,
    string and datetime dtypes raise TypeError.  Fortran-ordered or strided arrays are
    copied to C order (one extra copy of X), and so are unaligned ones
    (``np.frombuffer(buf, offset=1)``, arrays unpickled by Dask workers).

    Parameters
    ----------
    dtype : numpy dtype, optional
        Target float dtype.  If None, float32 stays float32 and everything else becomes
        float64.
    """
    if X is None:
        raise TypeError(f"{name} must be an array of shape (n_samples, n_features), got None")
    if hasattr(X, "toarray") and hasattr(X, "nnz"):
        raise TypeError(f"{name} is a sparse matrix ({_describe(X)}); pass a dense array (X.toarray())")
    try:
        if not isinstance(X, np.ndarray) and not hasattr(X, "__array__") and hasattr(X, "__dlpack__"):
            arr = np.from_dlpack(X)  # a CPU tensor exposing only DLPack: no copy
        else:
            arr = np.asarray(X)
    except Exception as exc:  # ragged lists, non-CPU DLPack tensors and the like
        raise ValueError(f"{name} could not be converted to a numeric array: {exc}") from None
    kind = arr.dtype.kind
    if kind in "biu":
        src = np.float64
    elif kind == "f":
        src = np.float32 if arr.dtype.itemsize <= 4 else np.float64
        if arr.dtype.itemsize > 8:
            raise TypeError(f"{name} has dtype {arr.dtype}; only float32 and float64 are supported")
    else:
        raise TypeError(
            f"{name} must have a real numeric dtype (float32, float64, int or bool), got dtype {arr.dtype}"
        )
    if arr.ndim != 2:
        hint = ""
        if arr.ndim == 1:
            hint = (
                " Use X.reshape(-1, 1) if it holds a single feature or X.reshape(1, -1) if it holds a single sample."
            )
        raise ValueError(
            f"{name} must be 2-D (n_samples, n_features); got shape {arr.shape} (ndim={arr.ndim}).{hint}"
        )
    target = np.dtype(dtype) if dtype is not None else np.dtype(src)
    if not allow_empty and (arr.shape[0] < min_rows or arr.shape[1] == 0):
        raise ValueError(
            f"{name} must have at least {min_rows} sample(s) and 1 feature; got shape {arr.shape}"
        )
    arr = np.ascontiguousarray(arr, dtype=target)
    if not arr.flags.aligned:
        arr = arr.copy()
    if ensure_finite and arr.size:
        check_finite(arr, name)
    return arr


def check_finite(arr, name):
    # sum is a cheap, vectorized NaN/inf detector; only on failure do we count
    with np.errstate(over="ignore", invalid="ignore"):  # an overflowing sum is handled below
        s = np.sum(arr, dtype=np.float64) if arr.dtype == np.float32 else np.sum(arr)
    if not np.isfinite(s):
        bad = ~np.isfinite(arr)
        n_bad = int(bad.sum())
        if n_bad:
            n_nan = int(np.isnan(arr).sum())
            raise ValueError(
                f"{name} contains {n_bad} non-finite value(s) ({n_nan} NaN, {n_bad - n_nan} inf); "
                "remove or impute them first"
            )
        # the sum overflowed although every entry is finite: values too large
        raise ValueError(
            f"{name} has values so large that sums overflow {arr.dtype} (max |x| = {np.abs(arr).max():.3g}); "
            "rescale the data"
        )
    # squared norms and inner products must stay finite in the working dtype
    amax = float(max(abs(float(arr.max())), abs(float(arr.min()))))
    limit = float(np.sqrt(np.finfo(arr.dtype).max / (4.0 * max(arr.shape[1], 1))))
    if amax > limit:
        raise ValueError(
            f"{name} has values so large that squared norms overflow {arr.dtype} (max |x| = {amax:.3g} > "
            f"{limit:.3g} for {arr.shape[1]} features); rescale the data"
            + (" or pass float64" if arr.dtype == np.float32 else "")
        )


def result_dtype(*arrays):
    """float32 only when every array is float32 (scikit-learn's rule), else float64."""
    kinds = []
    for a in arrays:
        if a is None:
            continue
        try:
            if hasattr(a, "dtype"):
                dt = a.dtype
            elif hasattr(a, "__dlpack__") and not hasattr(a, "__array__"):
                dt = np.from_dlpack(a).dtype
            else:
                dt = np.asarray(a).dtype
        except Exception:  # ragged lists and the like: check_matrix reports it by name
            kinds.append(False)
            continue
        kinds.append(dt.kind == "f" and dt.itemsize <= 4)
    return np.dtype(np.float32) if kinds and all(kinds) else np.dtype(np.float64)


def check_pair(X, Y, *, x_name="X", y_name="Y"):
    """Validate X and Y (Y may be None) and return (X, Y, dtype, symmetric).

    Both come back C-contiguous with the common result dtype; Y is X when None.
    """
    dtype = result_dtype(X, Y)
    Xc = check_matrix(X, x_name, dtype=dtype)
    if Y is None or Y is X:
        return Xc, Xc, dtype, True
    Yc = check_matrix(Y, y_name, dtype=dtype)
    if Xc.shape[1] != Yc.shape[1]:
        raise ValueError(
            f"Incompatible dimension for {x_name} and {y_name} matrices: {x_name}.shape[1] == {Xc.shape[1]} "
            f"while {y_name}.shape[1] == {Yc.shape[1]}"
        )
    return Xc, Yc, dtype, False


def check_scalar(x, name, *, lower=None, upper=None, include_lower=True, include_upper=True, integer=False):
    """Check a real (or integer) scalar against bounds; return it as float or int."""
    if isinstance(x, (bool, np.bool_)) or not isinstance(x, numbers.Real):
        what = "an integer" if integer else "a real number"
        raise TypeError(f"{name} must be {what}, got {x!r} of type {_describe(x)}")
    if integer and not isinstance(x, numbers.Integral):
        if float(x).is_integer():
            x = int(x)
        else:
            raise ValueError(f"{name} must be an integer, got {x!r}")
    if not integer and not np.isfinite(x):
        raise ValueError(f"{name} must be finite, got {x!r}")
    if lower is not None and (x < lower or (x == lower and not include_lower)):
        op = ">=" if include_lower else ">"
        raise ValueError(f"{name} must be {op} {lower}, got {x!r}")
    if upper is not None and (x > upper or (x == upper and not include_upper)):
        op = "<=" if include_upper else "<"
        raise ValueError(f"{name} must be {op} {upper}, got {x!r}")
    return int(x) if integer else float(x)


def check_n_threads(n_threads):
    """n_threads: a non-zero int (negative counts back from the maximum) or None."""
    if n_threads is None:
        return None
    if isinstance(n_threads, (bool, np.bool_)) or not isinstance(n_threads, numbers.Integral):
        raise TypeError(f"n_threads must be an int or None, got {n_threads!r} of type {_describe(n_threads)}")
    if n_threads == 0:
        raise ValueError("n_threads must be a non-zero int (or None for all cores; -1 = all, -2 = all but one), got 0")
    return int(n_threads)


def check_out(out, shape, dtype, name="out"):
    """Validate a caller-provided output buffer (exact dtype, shape, C-contiguous, writeable)."""
    if out is None:
        return np.empty(shape, dtype=dtype)
    if not isinstance(out, np.ndarray):
        raise TypeError(f"{name} must be a numpy.ndarray, got {_describe(out)}")
    if out.dtype != dtype:
        raise TypeError(f"{name} must have dtype {np.dtype(dtype).name} (the result dtype), got {out.dtype}")
    if out.shape != tuple(shape):
        raise ValueError(f"{name} must have shape {tuple(shape)}, got {out.shape}")
    if not out.flags.c_contiguous:
        raise ValueError(f"{name} must be C-contiguous; allocate it with np.empty({tuple(shape)}, dtype=...)")
    if not out.flags.writeable:
        raise ValueError(f"{name} must be writeable")
    return out


def check_no_alias(out, name, *arrays):
    for arr_name, arr in arrays:
        if arr is not None and np.shares_memory(out, arr):
            raise ValueError(f"{name} must not share memory with {arr_name}")


def check_block(block, name):
    if block is None:
        return None
    return check_scalar(block, name, lower=1, integer=True)


def check_dissimilarities(D, name="X", *, dtype=None, block_rows=1024):
    """Validate precomputed dissimilarities: a dense (n, n) matrix or a condensed vector
    (``scipy.spatial.distance.pdist``'s form, ``n (n - 1) / 2`` entries, pairs i < j).

    Rules (each a ValueError naming ``name``): finite, non-negative, n >= 2; dense: square,
    symmetric (``|D - D.T| <= 1e-5 |D| + 1e-10 max|D|`` entrywise, checked in row blocks,
    no n x n temporary) with a zero diagonal; condensed: a triangular length.  dtype as
    :func:`check_matrix` (float32 stays float32).

    Returns ``(D, n, form)``: D C-contiguous in the target dtype (not copied when it
    already is), n the number of points, form ``"dense"`` or ``"condensed"``.
    """
    if D is None:
        raise TypeError(f"{name} must be dissimilarities (an (n, n) matrix or a condensed vector), got None")
    arr = np.asarray(D) if not (hasattr(D, "toarray") and hasattr(D, "nnz")) else D
    if hasattr(arr, "nnz"):
        raise TypeError(f"{name} is a sparse matrix; pass dense dissimilarities ({name}.toarray())")
    if arr.ndim == 1:
        m = arr.shape[0]
        n = int(round((1 + np.sqrt(1 + 8 * m)) / 2))
        if m == 0 or n * (n - 1) // 2 != m:
            raise ValueError(
                f"{name} as a condensed dissimilarity vector must have n (n - 1) / 2 entries for some n >= 2 "
                f"(scipy.spatial.distance.pdist's form); got {m} entries"
            )
        arr = check_matrix(arr.reshape(1, -1), name, dtype=dtype).reshape(-1)
        form = "condensed"
    elif arr.ndim == 2:
        if arr.shape[0] != arr.shape[1]:
            raise ValueError(
                f"{name} must be a square (n, n) dissimilarity matrix or a condensed vector with "
                f"metric='precomputed'; got shape {arr.shape} (for (n_samples, n_features) data use "
                "metric='euclidean')"
            )
        arr = check_matrix(arr, name, dtype=dtype, min_rows=2)
        n, form = arr.shape[0], "dense"
    else:
        raise ValueError(f"{name} must be an (n, n) matrix or a condensed 1-D vector; got shape {arr.shape}")
    if n < 2:
        raise ValueError(f"{name} must describe at least 2 points; got n={n}")
    vmin = float(arr.min())
    if vmin < 0:
        raise ValueError(
            f"{name} has {int((arr < 0).sum())} negative value(s) (min {vmin:.3g}); "
            "dissimilarities must be >= 0"
        )
    if form == "dense":
        diag = np.abs(np.diagonal(arr))
        if diag.max() > 0:
            raise ValueError(
                f"{name} must have a zero diagonal (a point's dissimilarity to itself); got "
                f"{int((diag > 0).sum())} non-zero diagonal entries (max {float(diag.max()):.3g})"
            )
        atol = 1e-10 * float(arr.max())
        for r0 in range(0, n, block_rows):
            r1 = min(n, r0 + block_rows)
            a, b = arr[r0:r1], arr[:, r0:r1].T
            bad = np.abs(a - b) > atol + 1e-5 * np.abs(b)
            if bad.any():
                i, j = np.argwhere(bad)[0]
                raise ValueError(
                    f"{name} must be symmetric: {name}[{r0 + i}, {j}] = {float(a[i, j]):.6g} but "
                    f"{name}[{j}, {r0 + i}] = {float(b[i, j]):.6g}"
                )
    return arr, n, form
