"""Small dense linear-algebra helpers shared by the initialization and the baselines."""
from __future__ import annotations

import numpy as np


def fix_signs(V):
    """Deterministic signs for the columns of V (axes of a decomposition): the entry of
    largest magnitude in each column is made positive.  Returns a new array."""
    V = np.asarray(V)
    if V.shape[1] == 0:
        return V.copy()
    sign = np.sign(V[np.argmax(np.abs(V), axis=0), np.arange(V.shape[1])])
    return V * np.where(sign == 0, 1.0, sign)
