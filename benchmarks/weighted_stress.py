"""Prototype: the quality harness with a stress weighted by D^-p in place of the Kruskal
stress, to measure whether emphasizing small distances helps.

    s = sqrt( sum_{i<j} w_ij (D_ij - E_ij)^2 / sum_{i<j} w_ij D_ij^2 ),   w_ij = D_ij^-p

p = 0 is the library's (Kruskal) stress; p = 2 is the relative distortion
sqrt(mean_{i<j} ((D_ij - E_ij) / D_ij)^2), which weighs near pairs (class neighbourhoods)
as much as far ones.  Gradient: dL/dz_i = sum_j c_ij (z_i - z_j) / (s sum w D^2) with
c_ij = w_ij (1 - D_ij / E_ij).  Dense NumPy in float64 (n x n arrays: a few seconds per
digits fit, fine for the harness's sizes, not for a library path); it replaces the full-batch
objective's stress caches, everything else as ``benchmarks/quality.py``.

    AXF_STRESS_P=2 PYTHONPATH=. python benchmarks/weighted_stress.py --no-baselines --seeds 0,1,2 \\
        --datasets digits_halves,synthetic,digits_views,breast_cancer,wine --configs '[{"label":"p=2"}]'

Results: ``benchmarks/results/defaults_experiments.md`` ("The relative stress").  p = 2 is in
the library since as ``AlignXpert(stress="relative")`` (``relative=True`` in the stress
kernels, all backends); this script stays for other p.
"""
import os
import runpy
import sys

import numpy as np

from alignxpert_fast.alignment import objective as objmod
from alignxpert_fast.alignment.rowmap import full_rows

P = float(os.environ.get("AXF_STRESS_P", "2"))


def _distances(A):
    A = A - A.mean(axis=0)
    sq = np.einsum("ij,ij->i", A, A)
    D2 = sq[:, None] + sq[None, :] - 2.0 * (A @ A.T)
    np.maximum(D2, 0.0, out=D2)
    np.fill_diagonal(D2, 0.0)
    return np.sqrt(D2)


class WeightedStressCache:
    """The objective's stress-cache interface (``stress_and_grad(Z) -> (s, grad)``)."""

    def __init__(self, X, p=P):
        D = _distances(np.asarray(X, np.float64))
        with np.errstate(divide="ignore"):
            self.W = np.where(D > 0, D ** (-p), 0.0) if p else (D > 0).astype(np.float64)
        self.D = D
        self.den = 0.5 * float(np.sum(self.W * D * D))

    def stress_and_grad(self, Z):
        Z64 = np.asarray(Z, np.float64)
        E = _distances(Z64)
        s = np.sqrt(0.5 * float(np.sum(self.W * (self.D - E) ** 2)) / self.den)
        with np.errstate(divide="ignore", invalid="ignore"):
            C = np.where(E > 0, self.W * (1.0 - self.D / E), 0.0)
        Zc = Z64 - Z64.mean(axis=0)
        G = (C.sum(axis=1)[:, None] * Zc - C @ Zc) / (s * self.den) if s > 0 else np.zeros_like(Zc)
        return s, G.astype(Z.dtype)


def _caches(self):
    if self._caches is None and self.stress_targets is not None:
        self._caches = [WeightedStressCache(full_rows(X)) for X in self.stress_targets]
    return self._caches


if __name__ == "__main__":
    objmod.AlignXpertObjective.stress_caches = _caches
    sys.argv[0] = os.path.join(os.path.dirname(os.path.abspath(__file__)), "quality.py")
    runpy.run_path(sys.argv[0], run_name="__main__")
