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
_FORMAT_VERSION = 2  # 2: output_scale; version 1 files load with output_scale 1


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
            "scales": est.scales_, "output_scale": est.output_scale_, "gamma": est.gamma_, "solver": est.solver_,
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


def load(cls, path):
    """Load a model written by :meth:`save` (``allow_pickle=False``)."""
    with np.load(str(path), allow_pickle=False) as data:
        if "__meta__" not in data.files:
            raise ValueError(f"{path!s} is not an AlignXpert model file (no '__meta__' entry)")
        meta = json.loads(bytes(data["__meta__"]).decode("utf-8"))
        if meta.get("format") != _FORMAT:
            raise ValueError(f"{path!s} is not an AlignXpert model file (format={meta.get('format')!r})")
        if meta.get("format_version", 0) > _FORMAT_VERSION:
            raise ValueError(f"{path!s} was written by a newer format version {meta['format_version']}")
        arrays = {key: data[key] for key in data.files if key != "__meta__"}
    f = meta["fitted"]
    est = cls(**meta["params"])
    M = int(f["n_modalities"])
    est.n_modalities_ = M
    est.n_features_in_ = [int(v) for v in f["n_features_in"]]
    est.n_features_mapped_ = [int(v) for v in f["n_features_mapped"]]
    est.n_components_ = int(f["n_components"])
    est.components_ = [np.ascontiguousarray(arrays[f"W_{m}"]) for m in range(M)]
    est.means_ = [arrays[f"mean_{m}"] for m in range(M)]
    est.scales_ = [float(s) for s in f["scales"]]
    est.output_scale_ = float(f.get("output_scale", 1.0))
    est.feature_maps_ = []
    for m in range(M):
        prefix = f"map_{m}_"
        arrs = {key[len(prefix):]: arr for key, arr in arrays.items() if key.startswith(prefix)}
        est.feature_maps_.append(map_from_state(f["feature_maps"][m], arrs))
    est.gamma_ = f["gamma"]
    est.solver_ = f["solver"]
    est.n_iter_ = int(f["n_iter"])
    est.loss_ = float(f["loss"])
    est.loss_curve_ = arrays["loss_curve"].tolist()
    est.history_ = {t: arrays[f"history_{t}"].tolist() for t in TERMS}
    est.stop_reason_ = f["stop_reason"]
    est.converged_ = bool(f["converged"])
    est.fit_time_ = float(f["fit_time"])
    est.dimension_search_ = f["dimension_search"]
    return est
