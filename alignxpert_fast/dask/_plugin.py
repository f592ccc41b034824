"""The worker plugin that compiles the Numba kernels once per worker (imported only when
a ``dask.distributed`` client is in use)."""
from __future__ import annotations

from distributed.diagnostics.plugin import WorkerPlugin

from ._warm import warm_numba

__all__ = ["NumbaWarmup"]


class NumbaWarmup(WorkerPlugin):
    """Runs :func:`alignxpert_fast.dask._warm.warm_numba` in ``setup``: on every worker
    present when it is registered and on every worker that joins later."""

    name = "alignxpert_fast-numba-warmup"

    def setup(self, worker):
        warm_numba()
