"""Every AlignXpert parameter's constraint, stated once.

The estimator (``AlignXpert._check_params``), the objective and the CLI's argument types
all check through :func:`check_param`, so a rule and its message live here only.
"""
from __future__ import annotations

import numbers

import numpy as np

from .._utils.random import check_random_state
from .._utils.validation import check_scalar
from ..kernels._spec import ALIASES as KERNEL_ALIASES

SIMILARITIES = ("paired", "contrastive")
SIMILARITY_KERNELS = tuple(sorted(KERNEL_ALIASES))
FEATURE_MAP_ALIASES = {"linear": "linear", "identity": "linear", "rbf": "rbf", "poly": "poly", "polynomial": "poly",
                       "linear+rbf": "linear+rbf", "residual": "linear+rbf"}
FEATURE_MAPS = ("linear", "rbf", "poly", "linear+rbf")
SOLVERS = ("auto", "lbfgs", "adam")
INITS = ("cca", "pca", "random")
STRESS_KINDS = ("kruskal", "squared", "relative")

# numeric parameters: keyword arguments of check_scalar; "optional" ones also accept None
_SCALARS = {
    "gamma": dict(lower=0, include_lower=False, optional=True),
    "degree": dict(lower=1, integer=True),
    "coef0": dict(),
    "temperature": dict(lower=0, include_lower=False),
    "alpha": dict(lower=0),
    "lam": dict(lower=0),
    "n_landmarks": dict(lower=1, integer=True, optional=True),
    "map_gamma": dict(lower=0, include_lower=False, optional=True),
    "map_degree": dict(lower=1, integer=True),
    "map_coef0": dict(),
    "max_iter": dict(lower=1, integer=True, optional=True),
    "tol": dict(lower=0, optional=True),
    "batch_size": dict(lower=2, integer=True),
    "init_reg": dict(lower=0),
    "n_iter_no_change": dict(lower=1, integer=True),
    "learning_rate": dict(lower=0, include_lower=False),
    "validation_fraction": dict(lower=0, upper=1, include_lower=False, include_upper=False),
    "verbose": dict(lower=0, integer=True),
}
# string parameters: name -> {accepted value: canonical value}
_CHOICES = {
    "similarity": {s: s for s in SIMILARITIES},
    "kernel": dict(KERNEL_ALIASES),
    "feature_map": FEATURE_MAP_ALIASES,
    "solver": {s: s for s in SOLVERS},
    "init": {s: s for s in INITS},
    "stress": {s: s for s in STRESS_KINDS},
}
_BOOLS = ("early_stopping",)


def check_param(name, value):
    """Check one parameter by name and return its canonical value (ValueError / TypeError
    naming the parameter otherwise)."""
    if name in _CHOICES:
        choices = _CHOICES[name]
        if not isinstance(value, str) or value not in choices:
            raise ValueError(f"{name} must be one of {sorted(choices)}, got {value!r}")
        return choices[value]
    if name in _BOOLS:
        if not isinstance(value, (bool, np.bool_)):
            raise TypeError(f"{name} must be a bool, got {value!r} of type {type(value).__name__}")
        return bool(value)
    if name == "n_components":
        return check_n_components(value)
    if name == "random_state":
        check_random_state(value)
        return value
    if name == "dimension_grid":
        return check_dimension_grid(value)
    if name == "init_reg" and isinstance(value, str):
        if value != "auto":
            raise ValueError(f"init_reg must be a float >= 0 or 'auto', got {value!r}")
        return value
    rule = dict(_SCALARS[name])
    if rule.pop("optional", False) and value is None:
        return None
    return check_scalar(value, name, **rule)


def check_n_components(k):
    if isinstance(k, str):
        if k != "auto":
            raise ValueError(f"n_components must be a positive int or 'auto', got {k!r}")
        return k
    if isinstance(k, (bool, np.bool_)) or not isinstance(k, numbers.Integral):
        raise TypeError(f"n_components must be a positive int or 'auto', got {k!r} of type {type(k).__name__}")
    if k <= 0:
        raise ValueError(f"n_components must be a positive int or 'auto', got {k}")
    return int(k)


def check_dimension_grid(grid):
    if grid is None:
        return None
    values = list(grid) if not isinstance(grid, str) else None
    if not values:
        raise ValueError(f"dimension_grid must be a non-empty sequence of positive ints, got {grid!r}")
    return [check_scalar(v, "dimension_grid entries", lower=1, integer=True) for v in values]


def check_params(params):
    """Check a dict of parameters (as ``get_params()`` returns); unknown names pass through."""
    for name, value in params.items():
        if name in _SCALARS or name in _CHOICES or name in _BOOLS or name in (
                "n_components", "random_state", "dimension_grid"):
            check_param(name, value)
