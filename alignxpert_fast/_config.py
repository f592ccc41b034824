"""Global configuration: default backend, working memory and thread count.

Mirrors scikit-learn's ``get_config`` / ``set_config`` / ``config_context``.
"""
from __future__ import annotations

import contextlib
import threading

from ._utils.validation import check_n_threads, check_scalar

# the backends, in the order backend="auto" tries them (see kernels/_dispatch.py)
BACKEND_NAMES = ("native", "numba", "reference")

_DEFAULTS = {
    # "auto" picks native, then numba, then reference (see kernels/_dispatch.py)
    "backend": "auto",
    # MiB of scratch a blockwise reduction may use (all threads together)
    "working_memory": 64,
    # default for n_threads=None; None means "all cores the process may use"
    "n_threads": None,
}

_local = threading.local()


def _get_state():
    if not hasattr(_local, "config"):
        _local.config = dict(_DEFAULTS)
    return _local.config


def get_config():
    """Return a copy of the current configuration (a dict with keys
    ``backend``, ``working_memory``, ``n_threads``)."""
    return dict(_get_state())


def set_config(backend=None, working_memory=None, n_threads=None):
    """Set global defaults.  Arguments left as ``None`` are not changed.

    Parameters
    ----------
    backend : {"auto", "native", "numba", "reference"}, optional
        Backend used by every public function called with ``backend="auto"``.
    working_memory : positive int, optional
        Scratch budget in MiB for blockwise reductions (kernel_matvec, stress).
    n_threads : int, optional
        Default thread count used when a function gets ``n_threads=None``.
    """
    # validate everything before changing anything, so a bad value leaves no partial update
    if backend is not None and backend not in ("auto",) + BACKEND_NAMES:
        raise ValueError(
            f"backend must be one of {('auto',) + BACKEND_NAMES}, got {backend!r}"
        )
    if working_memory is not None:
        check_scalar(working_memory, "working_memory", lower=1)
    if n_threads is not None:
        check_n_threads(n_threads)
    state = _get_state()
    if backend is not None:
        state["backend"] = backend
    if working_memory is not None:
        state["working_memory"] = working_memory
    if n_threads is not None:
        state["n_threads"] = n_threads


@contextlib.contextmanager
def config_context(**kwargs):
    """Temporarily change the configuration inside a ``with`` block."""
    old = get_config()
    set_config(**kwargs)
    try:
        yield
    finally:
        _get_state().clear()
        _get_state().update(old)
