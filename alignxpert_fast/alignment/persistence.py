"""Model files: one ``.npz`` with the arrays and a JSON header, loaded with
``allow_pickle=False`` (no pickle ever runs)."""
from __future__ import annotations

import json

import numpy as np

from .._version import __version__
from .feature_maps import map_from_state
from .optim import TERMS

__all__ = ["save", "load"]

_FORMAT = "alignxpert_fast.AlignXpert"
# 2: output_scale (version 1 files load with output_scale 1); 3: params may hold
# init_reg="auto" and "fitted" the ridge used (older files: the float init_reg of their
# params when init="cca", else None)
_FORMAT_VERSION = 3


def save(est, path):
    """Write the fitted estimator ``est`` to one ``.npz`` file (arrays + a JSON header;
    no pickle) and return the path written (``.npz`` is appended when missing).
    Parameters that are not JSON values (a Generator ``random_state``) are stored as None."""
    params = {}
    for name, value in est.get_params().items():
        if isinstance(value, tuple):
            value = list(value)
        try:
            json.dumps(value)
        except TypeError:
            value = None
        params[name] = value
    arrays = {}
    maps_meta = []
    for m in range(est.n_modalities_):
        arrays[f"W_{m}"] = est.components_[m]
        arrays[f"mean_{m}"] = est.means_[m]
        meta, arrs = est.feature_maps_[m].get_state()
        maps_meta.append(meta)
        for key, arr in arrs.items():
            arrays[f"map_{m}_{key}"] = arr
    arrays["loss_curve"] = np.asarray(est.loss_curve_, dtype=np.float64)
    for t in TERMS:
        arrays[f"history_{t}"] = np.asarray(est.history_.get(t, []), dtype=np.float64)
    meta = {
        "format": _FORMAT, "format_version": _FORMAT_VERSION, "library_version": __version__,
        "params": params,
        "fitted": {
            "n_modalities": est.n_modalities_, "n_features_in": est.n_features_in_,
            "n_features_mapped": est.n_features_mapped_, "n_components": est.n_components_,
            "scales": est.scales_, "output_scale": est.output_scale_, "gamma": est.gamma_,
            "init_reg": getattr(est, "init_reg_", None), "solver": est.solver_,
            "n_iter": est.n_iter_,
            "loss": est.loss_, "stop_reason": est.stop_reason_, "converged": est.converged_,
            "fit_time": est.fit_time_, "dimension_search": est.dimension_search_, "feature_maps": maps_meta,
            "dtype": np.dtype(est.components_[0].dtype).name,
        },
    }
    arrays["__meta__"] = np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8)
    path = str(path)
    if not path.endswith(".npz"):
        path += ".npz"
    np.savez(path, **arrays)
    return path


class _Bad(ValueError):
    pass


def _need(cond, what):
    if not cond:
        raise _Bad(what)


def _get(d, key, kind, where):
    _need(isinstance(d, dict) and key in d, f"missing {where}[{key!r}]")
    v = d[key]
    if kind is int:
        _need(isinstance(v, int) and not isinstance(v, bool) and v >= 1,
              f"{where}[{key!r}] must be an int >= 1, got {v!r}")
    elif kind is float:
        _need(isinstance(v, (int, float)) and not isinstance(v, bool) and np.isfinite(v),
              f"{where}[{key!r}] must be a finite number, got {v!r}")
    elif kind is not None:
        _need(isinstance(v, kind), f"{where}[{key!r}] must be a {kind.__name__}, got {type(v).__name__}")
    return v


def _int_list(f, key, M):
    v = _get(f, key, list, "fitted")
    _need(len(v) == M and all(isinstance(x, int) and not isinstance(x, bool) and x >= 1 for x in v),
          f"fitted[{key!r}] must be {M} ints >= 1, got {v!r}")
    return [int(x) for x in v]


def _array(arrays, key, shape, dtypes, *, finite=True, nonzero=False):
    _need(key in arrays, f"missing array {key!r}")
    a = arrays[key]
    _need(a.dtype in dtypes, f"array {key!r} must have dtype {' or '.join(np.dtype(d).name for d in dtypes)}, "
                             f"got {a.dtype}")
    _need(a.shape == tuple(shape), f"array {key!r} must have shape {tuple(shape)}, got {a.shape}")
    if finite:
        _need(bool(np.all(np.isfinite(a))), f"array {key!r} contains NaN or inf")
    if nonzero:
        _need(bool(np.any(a)), f"array {key!r} is all zero")
    return a


_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def _read(path):
    """(meta, arrays) of the file; _Bad for anything that is not a readable .npz with a JSON object header."""
    with open(path, "rb") as fh:  # our handle: np.load leaks its own on some damaged files
        try:
            data = np.load(fh, allow_pickle=False)
        except Exception as exc:  # EOFError (empty), BadZipFile (truncated), bad .npy headers, ...
            raise _Bad(f"not a readable .npz archive ({type(exc).__name__}: {exc})") from None
        _need(isinstance(data, np.lib.npyio.NpzFile), "not an .npz archive (a single .npy array?)")
        try:
            with data:
                _need("__meta__" in data.files, "not an AlignXpert model file (no '__meta__' entry)")
                raw = data["__meta__"]
                arrays = {key: data[key] for key in data.files if key != "__meta__"}
        except _Bad:
            raise
        except Exception as exc:  # BadZipFile (bit-flipped: bad CRC), truncated members, bad headers, ...
            raise _Bad(f"damaged .npz archive ({type(exc).__name__}: {exc})") from None
    _need(raw.dtype == np.uint8 and raw.ndim == 1, "'__meta__' is not a byte string")
    try:
        meta = json.loads(bytes(raw).decode("utf-8"))
    except ValueError as exc:
        raise _Bad(f"the '__meta__' header is not valid JSON ({exc})") from None
    _need(isinstance(meta, dict), f"the '__meta__' header must be a JSON object, got a {type(meta).__name__}")
    _need(meta.get("format") == _FORMAT, f"not an AlignXpert model file (format={meta.get('format')!r})")
    version = meta.get("format_version")
    _need(isinstance(version, int) and not isinstance(version, bool) and 1 <= version,
          f"format_version must be an int >= 1, got {version!r}")
    _need(version <= _FORMAT_VERSION, f"written by a newer format version {version}")
    return meta, arrays


def _restore(cls, meta, arrays):
    f = _get(meta, "fitted", dict, "header")
    params = _get(meta, "params", dict, "header")
    M = _get(f, "n_modalities", int, "fitted")
    _need(M >= 2, f"fitted['n_modalities'] must be >= 2, got {M}")
    d_in = _int_list(f, "n_features_in", M)
    p_map = _int_list(f, "n_features_mapped", M)
    k = _get(f, "n_components", int, "fitted")
    dtype_name = _get(f, "dtype", str, "fitted")
    _need(dtype_name in ("float32", "float64"), f"fitted['dtype'] must be float32 or float64, got {dtype_name!r}")
    scales = _get(f, "scales", list, "fitted")
    _need(len(scales) == M and all(isinstance(s, (int, float)) and not isinstance(s, bool) and np.isfinite(s)
                                   and s > 0 for s in scales),
          f"fitted['scales'] must be {M} finite numbers > 0, got {scales!r}")
    maps_meta = _get(f, "feature_maps", list, "fitted")
    _need(len(maps_meta) == M and all(isinstance(x, dict) for x in maps_meta),
          f"fitted['feature_maps'] must be {M} objects")
    try:
        est = cls(**params)
        est._check_params()
    except (TypeError, ValueError) as exc:
        raise _Bad(f"bad params: {exc}") from None
    W_dtype = (np.dtype(dtype_name),)
    est.n_modalities_, est.n_features_in_, est.n_features_mapped_, est.n_components_ = M, d_in, p_map, k
    est.components_ = [np.ascontiguousarray(_array(arrays, f"W_{m}", (p_map[m], k), W_dtype, nonzero=True))
                       for m in range(M)]
    est.means_ = [_array(arrays, f"mean_{m}", (d_in[m],), _FLOATS) for m in range(M)]
    est.scales_ = [float(s) for s in scales]
    out_scale = f.get("output_scale", 1.0)  # format 1 files have none: 1
    _need(isinstance(out_scale, (int, float)) and not isinstance(out_scale, bool) and np.isfinite(out_scale)
          and out_scale > 0, f"fitted['output_scale'] must be a finite number > 0, got {out_scale!r}")
    est.output_scale_ = float(out_scale)
    est.feature_maps_ = []
    for m in range(M):
        mm = maps_meta[m]
        kind = _get(mm, "kind", str, f"feature_maps[{m}]")
        _need(kind in ("linear", "rbf", "poly", "linear+rbf"),
              f"feature_maps[{m}]['kind'] must be linear, rbf, poly or linear+rbf, got {kind!r}")
        _need(_get(mm, "n_features_in", int, f"feature_maps[{m}]") == d_in[m],
              f"feature_maps[{m}]['n_features_in'] must be {d_in[m]}")
        prefix = f"map_{m}_"
        arrs = {key[len(prefix):]: arr for key, arr in arrays.items() if key.startswith(prefix)}
        if kind == "linear":
            _need(p_map[m] == d_in[m], f"fitted['n_features_mapped'][{m}] must be {d_in[m]} for a linear map")
        else:
            for key in ("gamma", "degree", "coef0"):
                _get(mm, key, float, f"feature_maps[{m}]")
            _need(mm["gamma"] > 0 and isinstance(mm["degree"], int) and mm["degree"] >= 1,
                  f"feature_maps[{m}] needs gamma > 0 and an int degree >= 1")
            L = _array(arrs, "landmarks", (arrs["landmarks"].shape[0] if "landmarks" in arrs else 0, d_in[m]),
                       _FLOATS)
            _need(L.shape[0] >= 1, f"array 'map_{m}_landmarks' is empty")
            p_nys = p_map[m] - (d_in[m] if kind == "linear+rbf" else 0)  # the residual map's Nystroem block
            _need(p_nys >= 1, f"fitted['n_features_mapped'][{m}] is too small for a {kind} map")
            _array(arrs, "normalization", (L.shape[0], p_nys), _FLOATS)
            _array(arrs, "mean", (p_nys,), _FLOATS)
        try:
            est.feature_maps_.append(map_from_state(mm, arrs))
        except (KeyError, TypeError, ValueError) as exc:
            raise _Bad(f"feature_maps[{m}] cannot be restored ({type(exc).__name__}: {exc})") from None
    gamma = f.get("gamma")
    _need(gamma is None or (isinstance(gamma, (int, float)) and np.isfinite(gamma) and gamma > 0),
          f"fitted['gamma'] must be a number > 0 or null, got {gamma!r}")
    est.gamma_ = gamma
    init_reg = f.get("init_reg")
    if init_reg is None and "init_reg" not in f and params.get("init", "cca") == "cca":
        # a file from before init_reg="auto": the CCA start used the float of its params
        init_reg = params.get("init_reg", 1e-2)
    _need(init_reg is None or (isinstance(init_reg, (int, float)) and not isinstance(init_reg, bool)
                               and np.isfinite(init_reg) and init_reg >= 0),
          f"fitted['init_reg'] must be a number >= 0 or null, got {init_reg!r}")
    est.init_reg_ = init_reg
    est.solver_ = _get(f, "solver", str, "fitted")
    est.n_iter_ = int(_get(f, "n_iter", float, "fitted"))
    est.loss_ = float(_get(f, "loss", float, "fitted"))
    est.loss_curve_ = _array(arrays, "loss_curve", (arrays["loss_curve"].size if "loss_curve" in arrays else 0,),
                             (np.dtype(np.float64),), finite=False).tolist()
    est.history_ = {t: _array(arrays, f"history_{t}", (arrays.get(f"history_{t}", np.empty(0)).size,),
                              (np.dtype(np.float64),), finite=False).tolist() for t in TERMS}
    est.stop_reason_ = _get(f, "stop_reason", str, "fitted")
    est.converged_ = bool(_get(f, "converged", bool, "fitted"))
    est.fit_time_ = float(_get(f, "fit_time", float, "fitted"))
    ds = f.get("dimension_search")
    _need(ds is None or isinstance(ds, list), "fitted['dimension_search'] must be a list or null")
    est.dimension_search_ = ds
    return est


def load(cls, path):
    """Load a model written by :meth:`save` (``allow_pickle=False``: no pickle ever runs).

    Every damaged or edited file (empty, truncated, bit-flipped, not an .npz, a header
    that is not a JSON object or lacks keys, weights / means / scales that are NaN,
    zero, complex or mis-shaped) raises a ValueError that names the file and what is
    wrong, so a file that loads is one that :func:`save` could have written.
    """
    try:
        meta, arrays = _read(str(path))
        return _restore(cls, meta, arrays)
    except _Bad as exc:
        raise ValueError(f"{path!s}: {exc}") from None
