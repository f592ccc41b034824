"""Random-state handling shared by the estimator, the feature maps, the optimizers and datasets."""
from __future__ import annotations

import numbers

import numpy as np


def check_random_state(random_state):
    """None, an int seed, a ``numpy.random.Generator`` (or legacy ``RandomState``) -> a Generator."""
    if random_state is None:
        return np.random.default_rng()
    if isinstance(random_state, np.random.Generator):
        return random_state
    if isinstance(random_state, numbers.Integral) and not isinstance(random_state, (bool, np.bool_)):
        if random_state < 0:
            raise ValueError(f"random_state must be a non-negative int, got {random_state}")
        return np.random.default_rng(int(random_state))
    if isinstance(random_state, np.random.RandomState):
        return np.random.default_rng(random_state.randint(0, 2**31 - 1))
    raise TypeError(
        f"random_state must be None, an int or a numpy.random.Generator, got {random_state!r} "
        f"of type {type(random_state).__name__}"
    )
