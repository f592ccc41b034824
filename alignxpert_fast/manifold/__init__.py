"""Manifold learning on the kernel library: metric MDS.

::

    mds.py              MDS: parameters, fit orchestration, transform
      _mds_init.py      classical-MDS and random starts, pair sums
      _mds_solvers.py   full-batch L-BFGS on a StressCache; sampled-batch Guttman steps
      _mds_transform.py out-of-sample placement (one-point Guttman transform)
"""
from .mds import MDS

__all__ = ["MDS"]
